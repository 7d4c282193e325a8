#!/usr/bin/env python3
"""edge-forward.py: lets terraform reach a private stated on Scaleway Serverless Containers.

A private container answers 403 to any request without an X-Auth-Token header holding an IAM
secret key (of a principal with ContainersPrivateAccess). Terraform's http backend cannot send
extra headers, so this forwarder listens on a loopback address, adds that header and forwards
everything else unchanged (stated's own Authorization included) to the container over HTTPS:

  export SCW_SECRET_KEY=...                 # or --token-env NAME
  edge-forward.py --upstream https://stated-xxxx.functions.fnc.fr-par.scw.cloud &
  # backend "http" { address = "http://127.0.0.1:8480/v1/states/NAME" ... }

It refuses to listen on anything but a loopback address, never logs headers or bodies, and
prints "edge-forward: listening on http://HOST:PORT" once it accepts connections.
"""
import argparse
import http.client
import http.server
import ipaddress
import os
import signal
import socket
import ssl
import sys
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ next to the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scwapi  # noqa: E402

# Hop-by-hop headers (RFC 9110 7.6.1) and those this forwarder sets itself.
HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
       "upgrade", "proxy-authorization", "proxy-authenticate", "host", "content-length"}
MAX_BODY = 256 * 1024 * 1024  # stated's default --max-state-bytes


class Forwarder(http.server.BaseHTTPRequestHandler):
    """Forwards each request to `upstream` (set on the server) with `add_headers` added."""

    protocol_version = "HTTP/1.1"
    server_version = "edge-forward"

    def admit(self):
        """Returns None to forward the request, or (status, message) to answer it here."""
        return None

    def filter_response(self, status, body):
        """The body to send back for an upstream answer (subclasses may rewrite it)."""
        return body

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def forward(self):
        try:
            body = self.read_body()
        except ValueError as e:
            self.close_connection = True
            return self.reply(400, f'{{"message":"edge-forward: {e}"}}'.encode(),
                              [("Content-Type", "application/json")])
        refused = self.admit()
        if refused is not None:
            return self.reply(refused[0], refused[1].encode(),
                              [("Content-Type", "application/json")])
        up = self.server.upstream
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        headers.update(self.server.add_headers)
        headers["Host"] = up.netloc
        if up.scheme == "https":
            conn = http.client.HTTPSConnection(up.netloc, timeout=self.server.timeout_s,
                                               context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(up.netloc, timeout=self.server.timeout_s)
        try:
            conn.request(self.command, up.path.rstrip("/") + self.path, body=body or None,
                         headers=headers)
            resp = conn.getresponse()
            answer = resp.read()
            out = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP]
            status = resp.status
        except (OSError, http.client.HTTPException) as e:
            self.log_message("%s %s: upstream failed: %s", self.command, self.path.split("?")[0], e)
            return self.reply(502, b'{"message":"edge-forward: the upstream did not answer"}',
                              [("Content-Type", "application/json")])
        finally:
            conn.close()
        filtered = self.filter_response(status, answer)
        if filtered is not answer:
            out = [(k, v) for k, v in out if k.lower() != "content-md5"]
        self.reply(status, filtered, out)
        self.log_message("%s %s %d", self.command, self.path.split("?")[0], status)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_LOCK = do_UNLOCK = forward

    def log_message(self, fmt, *args):  # method and path only, never headers
        sys.stderr.write("edge-forward: " + (fmt % args) + "\n")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, listen, handler, upstream, add_headers, timeout_s=120):
        host, _, port = listen.rpartition(":")
        host = host.strip("[]")
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"refusing to listen on {host}: loopback addresses only")
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.upstream = upstream
        self.add_headers = add_headers
        self.timeout_s = timeout_s
        super().__init__((host, int(port)), handler)


def parse_upstream(url):
    up = urllib.parse.urlsplit(url)
    if up.scheme != "https" and not (up.scheme == "http" and scwapi.is_loopback(up.hostname)):
        raise ValueError("--upstream must be https:// (http:// only for a loopback host)")
    if up.query or up.fragment or up.username:
        raise ValueError("--upstream must be a base URL without credentials, query or fragment")
    return up


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--upstream", required=True, help="stated's public endpoint (https://...)")
    p.add_argument("--listen", default="127.0.0.1:8480", help="loopback HOST:PORT (127.0.0.1:8480)")
    p.add_argument("--token-env", default="SCW_SECRET_KEY",
                   help="environment variable holding the IAM secret key (SCW_SECRET_KEY)")
    a = p.parse_args(argv)
    try:
        token = os.environ.get(a.token_env, "")
        if not token:
            raise ValueError(f"{a.token_env} is not set")
        srv = Server(a.listen, Forwarder, parse_upstream(a.upstream), {"X-Auth-Token": token})
    except (ValueError, OSError) as e:
        print(f"edge-forward: {e}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    host, port = srv.server_address[:2]
    print(f"edge-forward: listening on http://{'[' + host + ']' if ':' in host else host}:{port}",
          file=sys.stderr, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
