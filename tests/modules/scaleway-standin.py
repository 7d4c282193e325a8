#!/usr/bin/env python3
"""A loopback stand-in for the parts of Scaleway that the state-backend scripts talk to.

  scaleway-standin.py --dir DIR --token-env NAME --api-port P --edge-port Q --upstream URL

API (port P), the two calls of scwapi.py, each requiring X-Auth-Token == $NAME (else 401):
  GET   /secret-manager/v1beta1/regions/R/secrets/ID/versions/REV/access
        payload from DIR/secrets.json ({"ID": {"1": "value", ...}}); REV may be latest[_enabled]
  PATCH /containers/v1/regions/R/containers/ID   the body is appended to DIR/patches.jsonl
  GET   /containers/v1/regions/R/containers/ID   status "ready" (a PATCH answers "updating")
Edge (port Q): Scaleway's front of a private container. Without X-Auth-Token == $NAME it answers
403 as Scaleway does; otherwise it drops that header and forwards to URL with edge-forward.py's
Forwarder. While DIR/tamper exists, every 200 answer to a GET of a state carries one output more
than stated stored (a copy in stated that does not match the one written).

Prints "standin: ready" on stderr once both ports accept connections.
"""
import argparse
import base64
import importlib.util
import json
import os
import re
import sys
import threading
from http.server import ThreadingHTTPServer

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "..", "..", "module", "scaleway", "state-backend", "scripts")
spec = importlib.util.spec_from_file_location("edge_forward", os.path.join(SCRIPTS, "edge-forward.py"))
edge_forward = importlib.util.module_from_spec(spec)
spec.loader.exec_module(edge_forward)

ACCESS = re.compile(r"^/secret-manager/v1beta1/regions/([a-z-]+)/secrets/([0-9a-f-]{36})/versions/([a-z_0-9]+)/access$")
CONTAINER = re.compile(r"^/containers/v1/regions/([a-z-]+)/containers/([0-9a-f-]{36})$")


class Api(edge_forward.Forwarder):
    """Answers the API calls itself (Forwarder only lends its reply())."""

    def answer(self, status, doc):
        self.reply(status, json.dumps(doc).encode(), [("Content-Type", "application/json")])

    def authorised(self):
        if self.headers.get("X-Auth-Token") == self.server.token:
            return True
        self.answer(401, {"message": "authentication is denied", "type": "denied_authentication"})
        return False

    def do_GET(self):
        if not self.authorised():
            return
        m = ACCESS.match(self.path)
        if m:
            secrets = json.load(open(os.path.join(self.server.dir, "secrets.json")))
            versions = secrets.get(m.group(2), {})
            rev = m.group(3)
            if rev.startswith("latest") and versions:
                rev = max(versions, key=int)
            if rev not in versions:
                return self.answer(404, {"message": "resource is not found", "type": "not_found"})
            return self.answer(200, {"secret_id": m.group(2), "revision": int(rev), "type": "opaque",
                                     "data": base64.b64encode(versions[rev].encode()).decode()})
        m = CONTAINER.match(self.path)
        if m:
            return self.answer(200, {"id": m.group(2), "status": "ready"})
        self.answer(404, {"message": "no such route", "type": "not_found"})

    def do_PATCH(self):
        if not self.authorised():
            return
        m = CONTAINER.match(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not m:
            return self.answer(404, {"message": "no such route", "type": "not_found"})
        with self.server.lock, open(os.path.join(self.server.dir, "patches.jsonl"), "a") as f:
            f.write(json.dumps({"container": m.group(2), "region": m.group(1),
                                "body": json.loads(body)}) + "\n")
        self.answer(200, {"id": m.group(2), "status": "updating"})

    def refuse(self):
        self.answer(405, {"message": "method not allowed", "type": "invalid_request"})

    do_HEAD = do_POST = do_PUT = do_DELETE = do_LOCK = do_UNLOCK = refuse

    def log_message(self, fmt, *args):
        pass


class Edge(edge_forward.Forwarder):
    def admit(self):
        if self.headers.get("X-Auth-Token") != self.server.token:
            return 403, '{"message":"Forbidden: X-Auth-Token is missing or invalid"}'
        del self.headers["X-Auth-Token"]
        return None

    def filter_response(self, status, body):
        if (os.path.exists(os.path.join(self.server.dir, "tamper")) and status == 200
                and self.command == "GET" and self.path.startswith("/v1/states/")):
            doc = json.loads(body)
            doc.setdefault("outputs", {})["tampered"] = {"value": "yes", "type": "string"}
            return json.dumps(doc, indent=2).encode()
        return body

    def log_message(self, fmt, *args):
        pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--token-env", required=True)
    p.add_argument("--api-port", type=int, required=True)
    p.add_argument("--edge-port", type=int, required=True)
    p.add_argument("--upstream", required=True)
    a = p.parse_args()
    token = os.environ[a.token_env]
    api = ThreadingHTTPServer(("127.0.0.1", a.api_port), Api)
    edge = edge_forward.Server(f"127.0.0.1:{a.edge_port}", Edge, edge_forward.parse_upstream(a.upstream), {})
    for srv in (api, edge):
        srv.token, srv.dir, srv.lock = token, a.dir, threading.Lock()
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("standin: ready", file=sys.stderr, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
