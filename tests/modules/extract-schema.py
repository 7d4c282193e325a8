#!/usr/bin/env python3
"""Writes the reduced Scaleway provider schema that tests/modules/schema-check.sh reads.

Usage: extract-schema.py PROVIDER_SCHEMA.json RESOURCE... > scaleway-schema.tsv

Input: a JSON description of the provider's resources ({"resources": {TYPE: {"arguments":
{NAME: {optional, required, computed, deprecated}}, "blocks": {NAME: {required, max_items,
arguments, blocks}}, "timeouts": [...]}}}), e.g. extracted from the provider's Go schema.
Output, one fact per line, tab-separated:
  R  TYPE                     the resource type exists
  A  TYPE  PATH               PATH (block.block.arg) is a settable argument
  B  TYPE  PATH               PATH is a nested block
  Q  TYPE  PATH               PATH (argument or block) is required
  D  TYPE  PATH               PATH is deprecated
  T  TYPE  KEY                KEY is allowed in a timeouts block
"""
import json
import sys


def walk(out, rtype, node, prefix):
    for name, a in sorted(node.get("arguments", {}).items()):
        if name == "id" or not (a.get("optional") or a.get("required")):
            continue
        path = prefix + name
        out.append(("A", rtype, path))
        if a.get("required"):
            out.append(("Q", rtype, path))
        if a.get("deprecated"):
            out.append(("D", rtype, path))
    for name, b in sorted(node.get("blocks", {}).items()):
        path = prefix + name
        out.append(("B", rtype, path))
        if b.get("required"):
            out.append(("Q", rtype, path))
        if b.get("deprecated"):
            out.append(("D", rtype, path))
        walk(out, rtype, b, path + ".")


def main():
    schema = json.load(open(sys.argv[1]))
    out = []
    for rtype in sorted(set(sys.argv[2:])):
        r = schema["resources"][rtype]
        out.append(("R", rtype))
        walk(out, rtype, r, "")
        for t in r.get("timeouts") or []:
            out.append(("T", rtype, t))
    print("# Reduced Scaleway provider schema (terraform-provider-scaleway v2.81.0-10-gb2d45ed4b):")
    print("# only the resources the bundled modules use. Regenerate with extract-schema.py.")
    for row in out:
        print("\t".join(row))


main()
