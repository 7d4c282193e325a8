#!/bin/bash
# tests/modules/schema-check.sh: checks every `resource "scaleway_*"` in .tf files against the
# reduced provider schema next to this script (scaleway-schema.tsv), with nothing but awk.
#
#   schema-check.sh [-q] PATH...     (.tf files or directories, searched recursively)
#
# Reported, one line each (file:line: TYPE.NAME: path: message):
#   unknown resource type; unsupported argument or nested block (including read-only
#   arguments, which are not settable); deprecated argument or block; missing required
#   argument or block; unknown key in a timeouts block.
# Meta-arguments (count, for_each, depends_on, provider, lifecycle) are skipped; `dynamic "x"`
# is checked as block x through its `content`. The parser expects `terraform fmt`-clean text
# (one block header or attribute per line), which the suite checks first.
# Exit status: 0 no finding, 1 findings, 2 usage error.
set -u
here=$(cd "$(dirname "$0")" && pwd)
quiet=0
[ "${1:-}" = "-q" ] && { quiet=1; shift; }
[ $# -gt 0 ] || { echo "usage: schema-check.sh [-q] PATH..." >&2; exit 2; }
files=$(find "$@" -name '*.tf' -type f | LC_ALL=C sort)
[ -n "$files" ] || { echo "schema-check: no .tf files under $*" >&2; exit 2; }
# shellcheck disable=SC2086
awk -v quiet="$quiet" -F'\t' '
FNR == NR {
    if ($0 ~ /^#/) next
    if ($1 == "R") res[$2] = 1
    else if ($1 == "A") arg[$2, $3] = 1
    else if ($1 == "B") blk[$2, $3] = 1
    else if ($1 == "Q") { req[$2, $3] = 1; nreq[$2]++; reqlist[$2, nreq[$2]] = $3 }
    else if ($1 == "D") dep[$2, $3] = 1
    else if ($1 == "T") tmo[$2, $3] = 1
    next
}
FNR == 1 { nfiles++; depth = 0; valdepth = 0 }
function finding(msg) {
    print FILENAME ":" FNR ": " rtype "." rname ": " msg
    nfind++
}
# Removes string literals (keeping the quotes) and comments, so brackets can be counted.
function clean(s,   out, i, c, instr) {
    out = ""; instr = 0
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (instr) {
            if (c == "\\") { i++; continue }
            if (c == "\"") { instr = 0; out = out c }
            continue
        }
        if (c == "\"") { instr = 1; out = out c; continue }
        if (c == "#" || (c == "/" && substr(s, i + 1, 1) == "/")) break
        out = out c
    }
    return out
}
function balance(s,   i, c, n) {
    n = 0
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "{" || c == "[" || c == "(") n++
        else if (c == "}" || c == "]" || c == ")") n--
    }
    return n
}
function parentpath(p) { return p == "" ? "" : p "." }
# Required children of block path p (direct children only) that were not seen.
function check_required(p,   i, q, pre) {
    pre = parentpath(p)
    for (i = 1; i <= nreq[rtype]; i++) {
        q = reqlist[rtype, i]
        if (substr(q, 1, length(pre)) != pre) continue
        if (index(substr(q, length(pre) + 1), ".") > 0) continue
        if (!((inst, q) in seen)) finding(q ": missing required argument or block")
    }
}
function push(kind, path) { depth++; kinds[depth] = kind; paths[depth] = path }
{
    raw = $0
    line = clean(raw)
    if (valdepth > 0) { valdepth += balance(line); next }
    if (line ~ /^[ \t]*$/) next
    kind = depth > 0 ? kinds[depth] : "top"
    path = depth > 0 ? paths[depth] : ""
    if (line ~ /^[ \t]*}[ \t]*$/) {
        if (kind == "res") check_required("")
        else if (kind == "blk" || kind == "content") check_required(path)
        depth--
        next
    }
    if (kind == "top" && line ~ /^resource "[^"]*" "[^"]*" *\{$/) {
        split(raw, f, "\"")
        if (f[2] ~ /^scaleway_/) {
            rtype = f[2]; rname = f[4]; inst++; nres++
            if (!(rtype in res)) { finding("unknown resource type (not in the provider schema)"); push("skip", ""); next }
            push("res", "")
        } else push("skip", "")
        next
    }
    if (line ~ /^[ \t]*dynamic "[a-z0-9_]*" *\{$/ && (kind == "res" || kind == "blk" || kind == "content")) {
        split(raw, f, "\""); p = parentpath(path) f[2]
        if (!((rtype, p) in blk)) finding(p ": unsupported block")
        else if ((rtype, p) in dep) finding(p ": deprecated block")
        seen[inst, p] = 1
        push("dyn", p)
        next
    }
    if (line ~ /^[ \t]*[a-z0-9_]+ *\{$/) {
        name = line; gsub(/[ \t{]/, "", name)
        if (kind == "dyn" && name == "content") { push("content", path); next }
        if (kind == "res" || kind == "blk" || kind == "content") {
            if (kind == "res" && name == "lifecycle") { push("skip", ""); next }
            if (kind == "res" && name == "timeouts") { push("timeouts", ""); next }
            p = parentpath(path) name
            if (!((rtype, p) in blk)) finding(p ": unsupported block")
            else if ((rtype, p) in dep) finding(p ": deprecated block")
            seen[inst, p] = 1
            push("blk", p)
            next
        }
        push("skip", "")
        next
    }
    if (line ~ /^[ \t]*[a-z0-9_]+ *=/) {
        name = line; sub(/^[ \t]*/, "", name); sub(/ *=.*/, "", name)
        rest = line; sub(/^[^=]*=/, "", rest)
        valdepth = balance(rest); if (valdepth < 0) valdepth = 0
        if (kind == "timeouts") {
            if (!((rtype, name) in tmo)) finding("timeouts." name ": unsupported timeout")
        } else if (kind == "res" || kind == "blk" || kind == "content") {
            if (kind == "res" && (name == "count" || name == "for_each" || name == "depends_on" || name == "provider")) next
            p = parentpath(path) name
            if ((rtype, p) in blk) finding(p ": is a block, not an argument")
            else if (!((rtype, p) in arg)) finding(p ": unsupported or read-only argument")
            else if ((rtype, p) in dep) finding(p ": deprecated argument")
            seen[inst, p] = 1
        }
        next
    }
    # Anything else that opens a bracket (a block with labels, a function call) is skipped.
    if (balance(line) > 0) { if (line ~ /\{$/) push("skip", ""); else valdepth = balance(line) }
}
END {
    if (!quiet) printf "schema-check: %d file(s), %d scaleway resource(s), %d finding(s)\n", nfiles, nres, nfind
    exit nfind > 0 ? 1 : 0
}
' "$here/scaleway-schema.tsv" $files
