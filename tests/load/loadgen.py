#!/usr/bin/python3
"""tests/load/loadgen.py: Terragrunt-like units driving stated's HTTP backend protocol.

Each unit loops over `plan` (LOCK, GET, UNLOCK) and `apply` (LOCK, GET, 1-3 POSTs ?ID=, UNLOCK)
on its state, the way terraform's http backend does it: every request retried on a connection
error, a 5xx (not 501) or a 429, honouring Retry-After (go-retryablehttp); a 423 to LOCK retried
with a backoff from 1 s doubling to 16 s (-lock-timeout). Clients spread over the instances and
move to the next one on a connection error, as behind a load balancer.

Nothing is judged here: every attempt, every write and every lock hold is recorded in OUT/ for
tests/load/check.py, which compares them with what stated kept.
"""
import argparse
import base64
import collections
import hashlib
import http.client
import json
import os
import random
import socket
import sys
import threading
import time
import uuid

KINDS = ("LOCK", "GET", "POST", "UNLOCK")
RETRY_MAX = 4          # terraform's retry_max is 2; a little more rides through 5 s faults
RETRY_WAIT_MIN = 1.0   # seconds, as retry_wait_min
RETRY_WAIT_MAX = 8.0
LOCK_WAIT_MAX = 16.0   # statemgr.LockWithContext's ceiling
IDLE_REUSE_MAX = 20.0  # reconnect before stated's --idle-timeout (60 s) closes a kept-alive socket
MIN_BYTES, MAX_BYTES = 5 * 1024, 2 * 1024 * 1024


class Recorder:
    """Everything the checker needs, appended from many threads (list.append is atomic)."""

    def __init__(self):
        self.attempts = []  # one per HTTP attempt
        self.writes = []    # one per terraform Put (all its attempts)
        self.holds = []     # one per lock held: from its 200 to its UNLOCK being sent
        self.cycles = collections.Counter()

    def dump(self, out_dir):
        for name in ("attempts", "writes", "holds"):
            with open(os.path.join(out_dir, name + ".jsonl"), "w") as f:
                for rec in getattr(self, name):
                    f.write(json.dumps(rec, separators=(",", ":")) + "\n")
        with open(os.path.join(out_dir, "cycles.json"), "w") as f:
            json.dump(dict(self.cycles), f)


class TransportError(Exception):
    pass


class Client:
    """One unit's HTTP client: keep-alive on one instance, the next instance on a connection
    error. Never shared between threads."""

    def __init__(self, instances, auth, first, timeout):
        self.instances = instances
        self.index = first % len(instances)
        self.auth = auth
        self.timeout = timeout
        self.conn = None
        self.last_used = 0.0

    def _connection(self):
        if self.conn is not None and time.monotonic() - self.last_used > IDLE_REUSE_MAX:
            self.close()
        if self.conn is None:
            host, port = self.instances[self.index]
            self.conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        return self.conn

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def move_on(self):
        self.close()
        self.index = (self.index + 1) % len(self.instances)

    def send(self, method, path, body=None):
        """One attempt: (status, headers, body), or TransportError after moving on."""
        headers = {"Authorization": self.auth}
        if body is not None:
            headers["Content-Type"] = "application/json"
            headers["Content-MD5"] = base64.b64encode(hashlib.md5(body).digest()).decode()
        conn = self._connection()
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as e:
            self.move_on()
            raise TransportError(type(e).__name__ + ": " + str(e)) from None
        self.last_used = time.monotonic()
        if resp.getheader("Connection", "").lower() == "close":
            self.close()
        return resp.status, resp, data


def retry_wait(attempt, resp):
    """go-retryablehttp's DefaultBackoff: Retry-After on 429/503, else min * 2^attempt."""
    if resp is not None and resp.status in (429, 503):
        ra = resp.getheader("Retry-After")
        if ra is not None and ra.isdigit():
            return float(ra)
    return min(RETRY_WAIT_MAX, RETRY_WAIT_MIN * (2 ** attempt))


def retryable(status):
    return status == 429 or (status >= 500 and status != 501)


class Unit:
    def __init__(self, number, state, size, lineage, gen):
        self.number = number
        self.name = "unit-%04d" % number
        self.state = state
        self.size = size
        self.lineage = lineage
        self.gen = gen
        self.rng = random.Random(gen.seed * 100003 + number)
        self.client = Client(gen.instances, gen.auth, number, gen.timeout)
        self.stuck_lock = None  # lock info whose UNLOCK never got a 200: released next cycle

    # -------------------------------------------------------------- requests
    def request(self, kind, method, path, body=None):
        """A terraform request with its retries: (status, resp, data), or (None, None, None)
        when every attempt failed. Every attempt is recorded."""
        for attempt in range(RETRY_MAX + 1):
            rec = {"unit": self.name, "state": self.state, "kind": kind,
                   "inst": self.client.index, "t0": time.time()}
            resp = None
            try:
                status, resp, data = self.client.send(method, path, body)
                rec["status"] = status
                rec["retry_after"] = resp.getheader("Retry-After")
            except TransportError as e:
                status, data = None, None
                rec["error"] = str(e)[:200]
            rec["t1"] = time.time()
            rec["ms"] = (rec["t1"] - rec["t0"]) * 1000.0
            self.gen.rec.attempts.append(rec)
            if status is not None and not retryable(status):
                return status, resp, data
            if self.gen.stopping_hard():
                break  # the run is over: give up as a cancelled CI job would
            if attempt < RETRY_MAX:
                time.sleep(retry_wait(attempt, resp))
        return None, None, None

    def think(self):
        time.sleep(self.rng.uniform(*self.gen.think))

    # -------------------------------------------------------------- lock
    def lock_info(self, operation):
        return json.dumps({"ID": str(uuid.UUID(int=self.rng.getrandbits(128))),
                           "Operation": operation, "Info": "", "Who": self.name + "@loadgen",
                           "Version": "1.10.6",
                           "Created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           "Path": ""}, separators=(",", ":")).encode()

    def lock(self, info):
        """LOCK until it is ours (423: wait and retry, as -lock-timeout); True when held."""
        wait = 1.0
        deadline = time.monotonic() + self.gen.lock_timeout
        while True:
            status, _, _ = self.request("LOCK", "LOCK", self.gen.path(self.state), info)
            if status == 200:
                return True
            if status != 423 or time.monotonic() + wait > deadline or self.gen.stopping_hard():
                return False
            time.sleep(wait * self.rng.uniform(0.8, 1.2))
            wait = min(LOCK_WAIT_MAX, wait * 2)

    def unlock(self, info):
        status, _, _ = self.request("UNLOCK", "UNLOCK", self.gen.path(self.state), info)
        self.stuck_lock = None if status == 200 else info
        return status == 200

    # -------------------------------------------------------------- state
    def read_serial(self):
        """GET the state: its serial (0 when there is none yet), or None when the GET failed."""
        status, _, data = self.request("GET", "GET", self.gen.path(self.state))
        if status == 404:
            return 0
        if status != 200:
            return None
        try:
            return int(json.loads(data)["serial"])
        except (ValueError, KeyError, TypeError):
            return None

    def state_body(self, serial):
        """Valid terraform state JSON of about self.size bytes."""
        filler_len = max(0, self.size - 600)
        filler = base64.b64encode(self.rng.randbytes(filler_len * 3 // 4 + 3)).decode()[:filler_len]
        doc = {"version": 4, "terraform_version": "1.10.6", "serial": serial,
               "lineage": self.lineage,
               "outputs": {"unit": {"value": self.name, "type": "string"}},
               "resources": [{"mode": "managed", "type": "terraform_data", "name": "blob",
                              "provider": "provider[\"terraform.io/builtin/terraform\"]",
                              "instances": [{"schema_version": 0,
                                             "attributes": {"id": "%s-%d" % (self.name, serial),
                                                            "input": filler},
                                             "sensitive_attributes": []}]}],
               "check_results": None}
        return json.dumps(doc, indent=2).encode()

    def put(self, lock_id, serial):
        body = self.state_body(serial)
        w = {"unit": self.name, "state": self.state, "serial": serial,
             "sha256": hashlib.sha256(body).hexdigest(), "size": len(body),
             "t_attempt": time.time()}
        status, _, _ = self.request("POST", "POST", self.gen.path(self.state) + "?ID=" + lock_id,
                                    body)
        w["status"] = status
        w["acked"] = status == 200
        w["t_done"] = time.time()
        self.gen.rec.writes.append(w)
        return status == 200

    # -------------------------------------------------------------- cycles
    def cycle(self):
        # A new connection per cycle lands on any instance, as a load balancer would place it.
        self.client.index = self.rng.randrange(len(self.gen.instances))
        if self.stuck_lock is not None and not self.unlock(self.stuck_lock):
            return  # an operator's force-unlock would come next; try again next cycle
        apply = self.rng.random() < self.gen.apply_share
        info = self.lock_info("OperationTypeApply" if apply else "OperationTypePlan")
        lock_id = json.loads(info)["ID"]
        if not self.lock(info):
            return
        hold = {"unit": self.name, "state": self.state, "id": lock_id, "t_held": time.time()}
        serial = self.read_serial()
        self.think()
        if apply and serial is not None:
            for _ in range(self.rng.randint(1, 3)):
                serial += 1
                if not self.put(lock_id, serial):
                    break
                self.think()
        hold["t_release"] = time.time()
        self.gen.rec.holds.append(hold)
        self.unlock(info)
        self.gen.rec.cycles[self.name] += 1


class Generator:
    def __init__(self, args):
        self.instances = [(u.split(":")[0], int(u.split(":")[1])) for u in args.instances.split(",")]
        self.auth = "Basic " + base64.b64encode(("loadgen:" + args.token).encode()).decode()
        self.seed = args.seed
        self.timeout = args.timeout
        self.think = (args.think_min, args.think_max)
        self.apply_share = args.apply_share
        self.lock_timeout = args.lock_timeout
        self.prefix = args.prefix
        self.rec = Recorder()
        self.deadline = time.monotonic() + args.duration
        self.hard_deadline = self.deadline + args.grace
        self.cycles = args.cycles
        self.queue = collections.deque(self.make_units(args.units, args.shared))
        self.queue_lock = threading.Lock()

    def path(self, state):
        return "/v1/states/" + state

    def stopping_hard(self):
        return time.monotonic() > self.hard_deadline

    def make_units(self, n, shared_share):
        """Units in queue order; a shared state's two units side by side, so they run together
        and contend. State sizes are log-skewed: most small, a few near 2 MB."""
        rng = random.Random(self.seed)
        pairs = int(n * shared_share / 2)
        units, number, state_no = [], 0, 0
        while number < n:
            members = 2 if state_no < pairs and number + 1 < n else 1
            state = "%s/s%04d" % (self.prefix, state_no)
            size = int(MIN_BYTES * (MAX_BYTES / MIN_BYTES) ** (rng.random() ** 4))
            lineage = str(uuid.UUID(int=rng.getrandbits(128)))
            for _ in range(members):
                units.append(Unit(number, state, size, lineage, self))
                number += 1
            state_no += 1
        # Keep pairs adjacent but mix the order of everything else.
        groups = collections.OrderedDict()
        for u in units:
            groups.setdefault(u.state, []).append(u)
        order = list(groups.values())
        rng.shuffle(order)
        return [u for g in order for u in g]

    def next_unit(self):
        with self.queue_lock:
            while self.queue:
                u = self.queue.popleft()
                if self.cycles == 0 or self.rec.cycles[u.name] < self.cycles:
                    return u
            return None

    def give_back(self, unit):
        with self.queue_lock:
            self.queue.append(unit)

    def worker(self):
        while time.monotonic() < self.deadline:
            unit = self.next_unit()
            if unit is None:
                return
            try:
                unit.cycle()
            finally:
                unit.client.close()  # the unit's next cycle may run much later
                self.give_back(unit)

    def run(self, parallel):
        threads = [threading.Thread(target=self.worker, daemon=True) for _ in range(parallel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--instances", required=True, help="host:port,host:port,...")
    p.add_argument("--token", default=os.environ.get("LOAD_TOKEN", ""))
    p.add_argument("--units", type=int, default=100)
    p.add_argument("--parallel", type=int, default=16, help="units running at once")
    p.add_argument("--duration", type=float, default=60, help="seconds to start new cycles")
    p.add_argument("--grace", type=float, default=60, help="seconds more for cycles in flight")
    p.add_argument("--cycles", type=int, default=0, help="cycles per unit (0: until --duration)")
    p.add_argument("--shared", type=float, default=0.10, help="share of units sharing a state")
    p.add_argument("--apply-share", type=float, default=0.5)
    p.add_argument("--think-min", type=float, default=0.05)
    p.add_argument("--think-max", type=float, default=0.25)
    p.add_argument("--lock-timeout", type=float, default=60)
    p.add_argument("--timeout", type=float, default=30, help="socket timeout per attempt")
    p.add_argument("--prefix", default="load")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    if not args.token:
        sys.exit("loadgen: no token (--token or LOAD_TOKEN)")
    gen = Generator(args)
    gen.run(args.parallel)
    gen.rec.dump(args.out)
    print("loadgen: %d attempts, %d writes, %d cycles" %
          (len(gen.rec.attempts), len(gen.rec.writes), sum(gen.rec.cycles.values())))


if __name__ == "__main__":
    main()
