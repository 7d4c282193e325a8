#!/usr/bin/env python3
"""A webhook receiver for the tests: records every POST (headers and body) as one JSON line,
verifies its signature with Python's own hmac, and answers the status written in STATUS_FILE
(200 when the file is absent).

usage: receiver.py PORT_FILE LOG_FILE SECRET [STATUS_FILE]
The port it listens on (loopback, chosen by the system) is written to PORT_FILE."""
import hashlib
import hmac
import http.server
import json
import os
import sys

port_file, log_file, secret = sys.argv[1], sys.argv[2], sys.argv[3].encode()
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


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
