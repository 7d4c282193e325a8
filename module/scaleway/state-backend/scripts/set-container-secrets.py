#!/usr/bin/env python3
"""Sets a serverless container's secret environment from Secret Manager versions.

Run by modules/container-secrets (a local-exec provisioner), configured by the environment:

  STATED_CONTAINER_ID   the container (REGION/UUID or UUID)
  STATED_REGION         its region, also the secrets' region
  STATED_SECRET_ENV     JSON: {"NAME": [{"secret_id": "...", "revision": "3"}, ...], ...}
  STATED_WAIT_SECONDS   wait that long for the container to be ready again (0: do not wait)
  SCW_SECRET_KEY        an IAM secret key that may read the secrets and update the container
  SCW_API_URL           API endpoint (default https://api.scaleway.com)

Each variable's value is its versions' payloads joined with commas, in the order given (stated
reads STATED_ENCRYPTION_KEY that way: the first key encrypts, all decrypt). The whole map goes
in one PATCH, so variables that are not listed are removed from the container. Only variable
names, counts and statuses are printed; values never are, nor put on a command line.
"""
import json
import os
import re
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ next to the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scwapi  # noqa: E402

TRANSIENT = {"pending", "creating", "updating", "deleting", "locking", "upgrading"}
MAX_VALUE = 1000  # Scaleway's limit on one environment value


def env_refs():
    try:
        doc = json.loads(os.environ["STATED_SECRET_ENV"])
    except KeyError:
        raise ValueError("STATED_SECRET_ENV is not set") from None
    except ValueError:
        raise ValueError("STATED_SECRET_ENV is not JSON") from None
    if not isinstance(doc, dict) or not doc:
        raise ValueError("STATED_SECRET_ENV must be a non-empty object")
    for name, refs in doc.items():
        if not re.match(r"^[A-Z_][A-Z0-9_]{0,99}$", name):
            raise ValueError(f"bad variable name {name!r}")
        if not isinstance(refs, list) or not refs or not all(
                isinstance(r, dict) and {"secret_id", "revision"} <= r.keys() for r in refs):
            raise ValueError(f"{name}: expected a list of {{secret_id, revision}}")
    return doc


def values(client, region, refs):
    out = {}
    for name, versions in sorted(refs.items()):
        parts = [client.secret_value(region, r["secret_id"], r["revision"]) for r in versions]
        if len(parts) > 1 and any("," in p for p in parts):
            raise ValueError(f"{name}: a value joined with others contains a comma")
        value = ",".join(parts)
        if not value or len(value) > MAX_VALUE:
            raise ValueError(f"{name}: the value is empty or longer than {MAX_VALUE} characters")
        out[name] = value
    return out


def wait_ready(client, region, container_id, seconds, settle=30):
    """Polls until the container is ready. An error status right after the PATCH may still be
    the previous deployment's (a first deployment fails until its secrets arrive), so it only
    counts once a redeployment was seen or `settle` seconds have passed."""
    start = time.monotonic()
    redeploying = False
    while True:
        c = client.container(region, container_id)
        status = c.get("status", "")
        elapsed = time.monotonic() - start
        if status == "ready":
            return status
        if status in TRANSIENT:
            redeploying = True
        elif status == "error" and (redeploying or elapsed >= settle):
            raise RuntimeError(f"container is in error: {str(c.get('error_message') or '')[:300]}")
        elif status not in ("error", ""):
            raise RuntimeError(f"container is {status}")
        if elapsed >= seconds:
            raise TimeoutError(f"container still {status or 'unknown'} after {seconds} s")
        time.sleep(min(5.0, max(0.2, seconds - elapsed)))


def main():
    try:
        container_id = os.environ.get("STATED_CONTAINER_ID", "")
        region = scwapi.check_region(os.environ.get("STATED_REGION", ""))
        wait = int(os.environ.get("STATED_WAIT_SECONDS", "600"))
        refs = env_refs()
        client = scwapi.Client()
        env = values(client, region, refs)
        answer = client.container(region, container_id, {"secret_environment_variables": env})
        print(f"set-container-secrets: {len(env)} secret variable(s) set on container "
              f"{scwapi.bare_id(container_id)}: {', '.join(sorted(env))}", flush=True)
        status = answer.get("status", "")
        if wait > 0:
            status = wait_ready(client, region, container_id, wait)
        print(f"set-container-secrets: container status {status or 'unknown'}", flush=True)
        return 0
    except (ValueError, scwapi.ApiError, TimeoutError, RuntimeError) as e:
        print(f"set-container-secrets: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
