"""The few Scaleway API calls the state-backend scripts make, with the standard library only.

Credentials come from the environment as the scw CLI reads them: SCW_SECRET_KEY is sent as
X-Auth-Token, SCW_API_URL (default https://api.scaleway.com) is the endpoint. No function here
prints, logs or puts into an exception message a secret value or the key: errors carry the
HTTP status and Scaleway's own message only.
"""
import base64
import ipaddress
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
REGIONS = ("fr-par", "nl-ams", "pl-waw")


class ApiError(Exception):
    """A failed call: what was attempted, the HTTP status (0: no answer) and why."""

    def __init__(self, what, status, why):
        super().__init__(f"{what}: {'HTTP ' + str(status) if status else 'no answer'}: {why}")
        self.status = status


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def bare_id(regional_id):
    """fr-par/UUID (as the provider writes IDs) or UUID -> UUID; anything else is refused."""
    uuid = regional_id.rsplit("/", 1)[-1]
    if not UUID.match(uuid):
        raise ValueError(f"not a Scaleway ID: {regional_id!r}")
    return uuid


def check_region(region):
    if region not in REGIONS:
        raise ValueError(f"unknown region {region!r} (expected one of {', '.join(REGIONS)})")
    return region


class Client:
    def __init__(self, secret_key=None, api_url=None, timeout=30):
        self.key = secret_key if secret_key is not None else os.environ.get("SCW_SECRET_KEY", "")
        if not self.key:
            raise ValueError("SCW_SECRET_KEY is not set")
        self.base = (api_url or os.environ.get("SCW_API_URL")
                     or "https://api.scaleway.com").rstrip("/")
        url = urllib.parse.urlsplit(self.base)
        if url.scheme != "https" and not (url.scheme == "http" and is_loopback(url.hostname)):
            raise ValueError(f"SCW_API_URL must be https (http only on loopback): {self.base}")
        self.timeout = timeout

    def call(self, method, path, what, body=None):
        """Returns the decoded JSON answer of METHOD PATH, or raises ApiError."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("X-Auth-Token", self.key)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raise ApiError(what, e.code, api_message(e.read())) from None
        except (urllib.error.URLError, OSError) as e:
            raise ApiError(what, 0, str(getattr(e, "reason", e))) from None
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            raise ApiError(what, 200, "the answer is not JSON") from None

    def secret_value(self, region, secret_id, revision):
        """The payload of one Secret Manager version, as text."""
        rev = str(revision)
        if not re.match(r"^([0-9]+|latest|latest_enabled)$", rev):
            raise ValueError(f"bad secret revision {rev!r}")
        uuid = bare_id(secret_id)
        what = f"read secret {uuid} revision {rev}"
        path = (f"/secret-manager/v1beta1/regions/{check_region(region)}/secrets/{uuid}"
                f"/versions/{urllib.parse.quote(rev)}/access")
        answer = self.call("GET", path, what)
        try:
            return base64.b64decode(answer["data"], validate=True).decode("utf-8")
        except (KeyError, TypeError, ValueError):
            raise ApiError(what, 200, "the answer has no valid base64 data") from None

    def container(self, region, container_id, patch=None):
        """GET the container, or PATCH it with the given fields; returns the container."""
        uuid = bare_id(container_id)
        path = f"/containers/v1/regions/{check_region(region)}/containers/{uuid}"
        if patch is None:
            return self.call("GET", path, f"read container {uuid}")
        return self.call("PATCH", path, f"update container {uuid}", patch)


def api_message(raw):
    """Scaleway's error text from an error body, shortened; never the request."""
    try:
        doc = json.loads(raw)
        msg = doc.get("message") or doc.get("type") or ""
    except (ValueError, AttributeError):
        msg = ""
    return (msg or "no message")[:200]
