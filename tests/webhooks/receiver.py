#!/usr/bin/env python3
"""A webhook receiver for the tests: records every POST (headers and body) as one JSON line,
verifies its signature with Python's own hmac, and answers the status written in STATUS_FILE
(200 when the file is absent).

usage: receiver.py PORT LOG_FILE SECRET [STATUS_FILE]
Listens on 127.0.0.1:PORT (the same port after a restart, so stated's URL stays valid)."""
import hashlib
import hmac
import http.server
import json
import os
import sys

port, log_file, secret = sys.argv[1], sys.argv[2], sys.argv[3].encode()
status_file = sys.argv[4] if len(sys.argv) > 4 else None


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ts = self.headers.get("X-Stated-Timestamp", "")
        want = "sha256=" + hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        got = self.headers.get("X-Stated-Signature-256", "")
        status = 200
        if status_file and os.path.exists(status_file):
            status = int(open(status_file).read().strip() or "200")
        rec = {"event": self.headers.get("X-Stated-Event"),
               "delivery": self.headers.get("X-Stated-Delivery"),
               "timestamp": ts,
               "signature_ok": hmac.compare_digest(want, got),
               "answered": status,
               "body": json.loads(body or b"null")}
        with open(log_file, "a") as f:
            f.write(json.dumps(rec) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.HTTPServer.allow_reuse_address = True
srv = http.server.HTTPServer(("127.0.0.1", int(port)), Handler)
srv.serve_forever()
