#!/usr/bin/env python3
"""helper.py: the JSON and HTTP steps of bootstrap.sh (standard library only).

  helper.py outputs FILE            terraform output -json -> shell assignments (non-secret)
  helper.py facts FILE              bootstrap.json -> shell assignments
  helper.py facts-write FILE K=V... writes bootstrap.json
  helper.py admin-token REGION SECRET_ID REVISION
                                    prints the Secret Manager payload (captured by the caller)
  helper.py get URL OUT             GET with TF_HTTP_USERNAME/TF_HTTP_PASSWORD; exit 3 on 404
  helper.py compare LOCAL REMOTE PULLED
                                    may the local copy go? (see compare())

Secrets are only ever read from the environment or Secret Manager and written to stdout for a
command substitution; nothing here prints one in a message.
"""
import base64
import json
import os
import re
import shlex
import sys
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ next to the scripts
sys.path.insert(0, os.path.join(HERE, "..", "..", "module", "scaleway", "state-backend", "scripts"))
import scwapi  # noqa: E402

# Output name -> shell variable, and the shape its value must have.
OUTPUTS = {
    "backend_url": ("URL", r"^https?://[A-Za-z0-9.-]+(:[0-9]+)?$"),
    "privacy": ("PRIVACY", r"^(private|public)$"),
    "region": ("REGION", r"^(fr-par|nl-ams|pl-waw)$"),
    "admin_token_secret_id": ("SECRET_ID", r"^([a-z]{2}-[a-z]{3}/)?[0-9a-f-]{36}$"),
    "admin_token_revision": ("SECRET_REVISION", r"^[0-9]+$"),
}
FACTS = {"state": "STATE", "backend_url": "URL", "privacy": "PRIVACY", "region": "REGION",
         "admin_token_secret_id": "SECRET_ID", "forward_port": "FORWARD_PORT"}


def die(msg, code=1):
    print(f"helper: {msg}", file=sys.stderr)
    sys.exit(code)


def assignments(pairs):
    for var, value in pairs:
        print(f"{var}={shlex.quote(str(value))}")


def cmd_outputs(path):
    try:
        doc = json.load(open(path))
    except (OSError, ValueError) as e:
        die(f"cannot read the outputs: {e}")
    pairs = []
    for name, (var, shape) in OUTPUTS.items():
        out = doc.get(name)
        if not isinstance(out, dict) or out.get("sensitive") or "value" not in out:
            die(f"output {name} is missing (or sensitive) in this configuration")
        value = str(out["value"])
        if not re.match(shape, value):
            die(f"output {name} has an unexpected value: {value[:80]!r}")
        pairs.append((var, value))
    assignments(pairs)


def cmd_facts(path):
    try:
        doc = json.load(open(path))
    except (OSError, ValueError) as e:
        die(f"cannot read {path}: {e}")
    missing = [k for k in FACTS if k not in doc]
    if missing:
        die(f"{path} lacks {', '.join(missing)}")
    assignments((var, doc[k]) for k, var in FACTS.items())


def cmd_facts_write(path, kvs):
    doc = dict(kv.split("=", 1) for kv in kvs)
    if set(doc) != set(FACTS):
        die("facts-write needs exactly " + ", ".join(FACTS))
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(path + ".tmp", path)


def cmd_admin_token(region, secret_id, revision):
    try:
        value = scwapi.Client().secret_value(region, secret_id, revision)
    except (ValueError, scwapi.ApiError) as e:
        die(f"cannot read the admin token from Secret Manager: {e}")
    if not value or any(c.isspace() for c in value):
        die("the admin token in Secret Manager is empty or has white space")
    sys.stdout.write(value)


def cmd_get(url, out):
    user = os.environ.get("TF_HTTP_USERNAME", "")
    password = os.environ.get("TF_HTTP_PASSWORD", "")
    req = urllib.request.Request(url, method="GET")
    if user:
        req.add_header("Authorization", "Basic " + base64.b64encode(
            f"{user}:{password}".encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            body = resp.read()
    except urllib.error.HTTPError as e:
        if e.code == 404:
            sys.exit(3)
        die(f"GET {url.split('?')[0]}: HTTP {e.code}: {scwapi.api_message(e.read())}")
    except (urllib.error.URLError, OSError) as e:
        die(f"GET {url.split('?')[0]}: {getattr(e, 'reason', e)}")
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(body)


def load_state(path, what):
    try:
        raw = open(path, "rb").read()
        doc = json.loads(raw)
    except (OSError, ValueError) as e:
        die(f"{what} is not a readable JSON state: {e}")
    if not isinstance(doc, dict) or not isinstance(doc.get("serial"), int) or not isinstance(
            doc.get("lineage"), str):
        die(f"{what} has no numeric serial and string lineage")
    return raw, doc


def comparable(state):
    """A state without serial and lineage, and with check_results in a fixed order: Terraform
    writes those results in no particular order (they come from a map), so two writes of the
    same state may list them differently."""
    out = {k: v for k, v in state.items() if k not in ("lineage", "serial", "check_results")}
    checks = []
    for c in state.get("check_results") or []:
        c = dict(c)
        if isinstance(c.get("objects"), list):
            c["objects"] = sorted(c["objects"], key=lambda o: json.dumps(o, sort_keys=True))
        checks.append(json.dumps(c, sort_keys=True))
    out["check_results"] = sorted(checks)
    return out


def cmd_compare(local_path, remote_path, pulled_path):
    """The local copy may be deleted only when (1) what terraform reads back through the backend
    (state pull) has stated's serial and lineage, and (2) stated's copy is the local one: the
    same bytes, or every key equal but the two that Terraform's -migrate-state rewrites (it
    copies a local state into an empty http backend as a new lineage starting again at serial
    1, Terraform 1.11 observed): the resources, outputs, check results and versions."""
    local_raw, local = load_state(local_path, "the local state")
    remote_raw, remote = load_state(remote_path, "the state in stated")
    _, pulled = load_state(pulled_path, "terraform state pull")
    if (pulled["serial"], pulled["lineage"]) != (remote["serial"], remote["lineage"]):
        die(f"terraform reads serial {pulled['serial']} lineage {pulled['lineage']} through the "
            f"backend, stated has serial {remote['serial']} lineage {remote['lineage']}")
    if local_raw == remote_raw:
        print(f"identical bytes (serial {remote['serial']}, lineage {remote['lineage']})")
        return
    mine, theirs = comparable(local), comparable(remote)
    if mine != theirs:
        keys = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
        die(f"the state in stated differs from the local one in: {', '.join(keys)}")
    moved = [f"{k} {local[k]} -> {remote[k]}" for k in ("serial", "lineage") if local[k] != remote[k]]
    print(f"same resources, outputs and versions ({len(local.get('resources', []))} resource "
          f"block(s)){'; ' + ', '.join(moved) if moved else ''}; terraform reads serial "
          f"{pulled['serial']} lineage {pulled['lineage']} through the backend")


def main(argv):
    cmds = {"outputs": (cmd_outputs, 1), "facts": (cmd_facts, 1),
            "admin-token": (cmd_admin_token, 3), "get": (cmd_get, 2), "compare": (cmd_compare, 3)}
    if len(argv) >= 2 and argv[0] == "facts-write":
        return cmd_facts_write(argv[1], argv[2:])
    if not argv or argv[0] not in cmds or len(argv) - 1 != cmds[argv[0]][1]:
        die("usage: see the top of helper.py", 2)
    cmds[argv[0]][0](*argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
