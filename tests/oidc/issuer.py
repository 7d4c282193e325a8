#!/usr/bin/python3
"""tests/oidc/issuer.py: a small local OIDC issuer for the integration tests.

Everything lives in one directory DIR: the private keys (DIR/keys/KID.pem, RSA 2048 or EC
P-256), the URL it serves (DIR/url, written once it listens) and its pid (DIR/pid).

  issuer.py keygen DIR KID [--alg RS256|ES256]
        adds a signing key; a running server publishes it at once (key rotation)
  issuer.py serve DIR [--host 127.0.0.1] [--port N]
        serves /.well-known/openid-configuration and /jwks on http://HOST:PORT (port 0 or
        absent: one the system picks); prints the issuer URL and writes DIR/url and DIR/pid
  issuer.py sign DIR KID [options]
        prints a JWT signed with KID's key; the options make good and bad ones:
          --alg RS256|ES256|none|HS256   none: no signature; HS256: HMAC keyed with KID's
                                         public key PEM (the algorithm-confusion forgery)
          --header-alg NAME              the alg written in the header, whatever signed it
          --no-kid                       no kid in the header
          --iss URL                      default: DIR/url
          --aud A (repeatable)           default: stated; twice or more: an array
          --sub S --jti J
          --exp-in S --iat-in S --nbf-in S   seconds from now (negative: in the past)
          --no-exp --no-iat
          --claim NAME=VALUE (string)  --claim-json NAME=JSON (repeatable)
  issuer.py down DIR | up DIR
        the server answers 503 to everything (the issuer failing) / answers again
  issuer.py stop DIR
        stops the server (the issuer unreachable)

Only the Python standard library and python3-cryptography (Debian packages) are used.
"""
import argparse
import base64
import hashlib
import hmac
import http.server
import json
import os
import signal
import sys
import time
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def int_b64url(n, length=None):
    length = length or (n.bit_length() + 7) // 8
    return b64url(n.to_bytes(length, "big"))


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def key_path(d, kid):
    return os.path.join(d, "keys", kid + ".pem")


def load_key(d, kid):
    with open(key_path(d, kid), "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def kids(d):
    try:
        names = sorted(os.listdir(os.path.join(d, "keys")))
    except FileNotFoundError:
        return []
    return [n[:-4] for n in names if n.endswith(".pem")]


def jwk(key, kid):
    pub = key.public_key().public_numbers()
    if isinstance(key, rsa.RSAPrivateKey):
        return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                "n": int_b64url(pub.n), "e": int_b64url(pub.e)}
    return {"kty": "EC", "kid": kid, "use": "sig", "alg": "ES256", "crv": "P-256",
            "x": int_b64url(pub.x, 32), "y": int_b64url(pub.y, 32)}


def cmd_keygen(a):
    os.makedirs(os.path.join(a.dir, "keys"), exist_ok=True)
    if a.alg == "RS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    write_atomic(key_path(a.dir, a.kid), pem.decode())


class Handler(http.server.BaseHTTPRequestHandler):
    issuer_dir = ""
    issuer_url = ""

    def log_message(self, fmt, *args):  # quiet: the tests print what matters
        pass

    def answer(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        d, url = self.issuer_dir, self.issuer_url
        if os.path.exists(os.path.join(d, "down")):
            self.answer(503, {"error": "down"})
        elif self.path == "/.well-known/openid-configuration":
            self.answer(200, {"issuer": url, "jwks_uri": url + "/jwks",
                              "id_token_signing_alg_values_supported": ["RS256", "ES256"]})
        elif self.path == "/jwks":
            self.answer(200, {"keys": [jwk(load_key(d, k), k) for k in kids(d)]})
        else:
            self.answer(404, {"error": "not found"})


def cmd_serve(a):
    os.makedirs(a.dir, exist_ok=True)
    server = http.server.ThreadingHTTPServer((a.host, a.port), Handler)
    host = "[%s]" % a.host if ":" in a.host else a.host
    Handler.issuer_dir = a.dir
    Handler.issuer_url = "http://%s:%d" % (host, server.server_address[1])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    write_atomic(os.path.join(a.dir, "pid"), str(os.getpid()))
    write_atomic(os.path.join(a.dir, "url"), Handler.issuer_url)
    print(Handler.issuer_url, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def claims_of(a):
    now = int(time.time())
    iss = a.iss
    if iss is None:
        with open(os.path.join(a.dir, "url")) as f:
            iss = f.read().strip()
    c = {"iss": iss, "sub": a.sub, "jti": a.jti or str(uuid.uuid4()), "nbf": now + a.nbf_in}
    auds = a.aud or ["stated"]
    c["aud"] = auds[0] if len(auds) == 1 else auds
    if not a.no_iat:
        c["iat"] = now + a.iat_in
    if not a.no_exp:
        c["exp"] = now + a.exp_in
    for kv in a.claim:
        k, _, v = kv.partition("=")
        c[k] = v
    for kv in a.claim_json:
        k, _, v = kv.partition("=")
        c[k] = json.loads(v)
    return c


def signature(key, alg, data):
    if alg == "none":
        return b""
    if alg == "HS256":
        secret = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        return hmac.new(secret, data, hashlib.sha256).digest()
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def cmd_sign(a):
    key = load_key(a.dir, a.kid)
    alg = a.alg or ("RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256")
    header = {"alg": a.header_alg or alg, "typ": "JWT"}
    if not a.no_kid:
        header["kid"] = a.kid
    part = lambda o: b64url(json.dumps(o, separators=(",", ":")).encode())
    signed = part(header) + "." + part(claims_of(a))
    print(signed + "." + b64url(signature(key, alg, signed.encode())))


def cmd_stop(a):
    with open(os.path.join(a.dir, "pid")) as f:
        pid = int(f.read())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(100):  # until it no longer listens
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def cmd_down(a):
    write_atomic(os.path.join(a.dir, "down"), "")


def cmd_up(a):
    try:
        os.remove(os.path.join(a.dir, "down"))
    except FileNotFoundError:
        pass


def main():
    p = argparse.ArgumentParser(description="a local OIDC issuer for tests")
    sub = p.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("keygen")
    k.add_argument("dir")
    k.add_argument("kid")
    k.add_argument("--alg", choices=["RS256", "ES256"], default="RS256")
    s = sub.add_parser("serve")
    s.add_argument("dir")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=0)
    g = sub.add_parser("sign")
    g.add_argument("dir")
    g.add_argument("kid")
    g.add_argument("--alg", choices=["RS256", "ES256", "none", "HS256"])
    g.add_argument("--header-alg")
    g.add_argument("--no-kid", action="store_true")
    g.add_argument("--iss")
    g.add_argument("--aud", action="append")
    g.add_argument("--sub", default="test-subject")
    g.add_argument("--jti")
    g.add_argument("--exp-in", type=int, default=300)
    g.add_argument("--iat-in", type=int, default=0)
    g.add_argument("--nbf-in", type=int, default=0)
    g.add_argument("--no-exp", action="store_true")
    g.add_argument("--no-iat", action="store_true")
    g.add_argument("--claim", action="append", default=[])
    g.add_argument("--claim-json", action="append", default=[])
    for name in ("stop", "down", "up"):
        sub.add_parser(name).add_argument("dir")
    a = p.parse_args()
    {"keygen": cmd_keygen, "serve": cmd_serve, "sign": cmd_sign, "stop": cmd_stop,
     "down": cmd_down, "up": cmd_up}[a.cmd](a)


if __name__ == "__main__":
    main()
