#!/usr/bin/python3
"""tests/load/check.py: the load run's independent checker.

It shares no code with stated: it reads what tests/load/loadgen.py recorded (every attempt,
every write, every lock hold), the fault windows tests/load/run.sh recorded, and then asks stated
over plain HTTP for each state's current bytes, its versions (GET /v1/snapshots/NAME) and the
audit trail (GET /v1/audit/export), and checks:

  lost      an acknowledged write (200 to a POST) that is neither current nor superseded by a
            later write, or whose bytes (sha256) are not among the state's versions; the last
            acknowledged one is also read back by its version id and hashed here;
  overlaps  two lock holders of one state at once: in the audit trail (lock, unlock,
            force-unlock, lock-expired and write events in seq order), and as the clients saw it
            (from a LOCK's 200 to its UNLOCK being sent, on one monotonic clock);
  errors    any status other than 200 and 423 (to LOCK) or 404 (GET of a state never written),
            except 503 with Retry-After or a connection error during a fault window.

Prints the `load:` line and the details, and exits 1 when lost, overlaps or errors is above 0.
"""
import argparse
import base64
import collections
import hashlib
import http.client
import json
import os
import sys
import time
import urllib.parse


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class Stated:
    """A minimal admin client over the instances; tries the next one on a connection error."""

    def __init__(self, instances, token):
        self.instances = [(u.split(":")[0], int(u.split(":")[1])) for u in instances.split(",")]
        self.auth = "Basic " + base64.b64encode(("checker:" + token).encode()).decode()

    def get(self, path):
        last = None
        for attempt in range(3 * len(self.instances)):
            host, port = self.instances[attempt % len(self.instances)]
            conn = http.client.HTTPConnection(host, port, timeout=60)
            try:
                conn.request("GET", path, headers={"Authorization": self.auth})
                resp = conn.getresponse()
                body = resp.read()
                if resp.status in (502, 503, 504):
                    last = "HTTP %d" % resp.status
                    time.sleep(1)
                    continue
                return resp.status, body
            except (OSError, http.client.HTTPException) as e:
                last = str(e)
                time.sleep(0.5)
            finally:
                conn.close()
        raise RuntimeError("GET %s failed on every instance: %s" % (path, last))


# ------------------------------------------------------------------ statuses

class FaultWindows:
    """Fault windows from run.sh (`KIND START END`, epoch seconds), widened by grace after the
    end: clients retry with backoff and stated reconnects to PostgreSQL on next use."""

    def __init__(self, path, grace):
        self.windows = []
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    kind, start, end = line.split()[:3]
                    self.windows.append((kind, float(start), float(end)))
        self.grace = grace

    def during(self, t0, t1):
        return any(t1 >= start - 0.5 and t0 <= end + self.grace for _, start, end in self.windows)


def first_write_acked(writes):
    """state -> time its first write was acknowledged (a 404 before it is expected)."""
    first = {}
    for w in writes:
        if w["acked"]:
            first[w["state"]] = min(first.get(w["state"], w["t_done"]), w["t_done"])
    return first


def unexpected_statuses(attempts, writes, faults):
    """Attempts whose outcome is not allowed, each as a one-line description."""
    first_ack = first_write_acked(writes)
    bad = []
    for a in attempts:
        status, kind = a.get("status"), a["kind"]
        if status == 200 or (status == 423 and kind == "LOCK"):
            continue
        if status == 404 and kind == "GET" and a["t0"] < first_ack.get(a["state"], float("inf")):
            continue
        in_fault = faults.during(a["t0"], a["t1"])
        if status == 503 and a.get("retry_after") and in_fault:
            continue
        if status is None and in_fault:
            continue
        what = "HTTP %s" % status if status is not None else a.get("error", "no answer")
        if status == 503 and not a.get("retry_after"):
            what += " without Retry-After"
        bad.append("%s %s %s on instance %d at %.3f: %s%s" % (
            a["unit"], kind, a["state"], a["inst"], a["t0"], what,
            "" if in_fault else " (outside any fault window)"))
    return bad


# ------------------------------------------------------------------ writes

def check_state(stated, state, writes):
    """Problems of one state: acknowledged writes lost or missing from its versions."""
    problems = []
    acked = sorted((w for w in writes if w["acked"]), key=lambda w: w["t_done"])
    if not acked:
        return problems, 0
    path = "/v1/states/" + state
    status, body = stated.get(path)
    current_sha = hashlib.sha256(body).hexdigest() if status == 200 else None
    last = acked[-1]
    later_attempts = {w["sha256"] for w in writes
                      if not w["acked"] and w["t_attempt"] > last["t_done"]}
    lost = 0
    if current_sha != last["sha256"] and current_sha not in later_attempts:
        lost += 1
        problems.append("%s: current is %s (HTTP %d, %d bytes), not the last acknowledged write "
                        "serial %d sha256 %s by %s at %.3f nor a later attempt" % (
                            state, current_sha, status, len(body), last["serial"],
                            last["sha256"], last["unit"], last["t_done"]))
    status, body = stated.get("/v1/snapshots/" + urllib.parse.quote(state))
    versions = {}
    if status == 200:
        for v in json.loads(body):
            versions[v["sha256"]] = v
    for w in acked:
        v = versions.get(w["sha256"])
        if v is None or int(v["serial"]) != w["serial"] or v["size"] != w["size"]:
            lost += 1
            problems.append("%s: acknowledged write serial %d sha256 %s (%d bytes, %s at %.3f) is "
                            "not among its %d versions%s" % (
                                state, w["serial"], w["sha256"], w["size"], w["unit"],
                                w["t_done"], len(versions),
                                "" if v is None else " with that serial and size"))
    lost += snapshot_bytes_differ(stated, state, versions.get(last["sha256"]), problems)
    return problems, lost


def snapshot_bytes_differ(stated, state, version, problems):
    """1 when the listed version of the last acknowledged write does not read back as the bytes
    the listing claims: the listing alone is stated's word for it."""
    if version is None:
        return 0  # already counted as missing
    status, body = stated.get("/v1/snapshots/%s?id=%s" % (urllib.parse.quote(state),
                                                          urllib.parse.quote(version["id"])))
    if status == 200 and hashlib.sha256(body).hexdigest() == version["sha256"]:
        return 0
    problems.append("%s: version %s reads back as HTTP %d, sha256 %s, not %s" % (
        state, version["id"], status, hashlib.sha256(body).hexdigest(), version["sha256"]))
    return 1


# ------------------------------------------------------------------ locks

def trail_overlaps(events):
    """Two holders at once, replaying the trail's lock events in seq order. A lock event with
    status 200 takes the state (a re-entered lease keeps it); unlock, force-unlock and
    lock-expired with status 200 free it when they name the holder; a 200 write must carry the
    holder's ID."""
    holder = {}
    problems = []
    for ev in sorted(events, key=lambda e: e["seq"]):
        state, action, lid = ev.get("state", ""), ev.get("action"), ev.get("lock_id", "")
        if ev.get("status") != 200:
            continue
        if action == "lock":
            held = holder.get(state)
            if held is not None and held[0] != lid:
                problems.append("%s: seq %d lock by ID %s (%s) while ID %s (seq %d) holds it" % (
                    state, ev["seq"], lid, ev.get("lock_who", ""), held[0], held[1]))
            holder[state] = (lid, ev["seq"])
        elif action in ("unlock", "force-unlock", "lock-expired"):
            held = holder.get(state)
            if held is not None and (held[0] == lid or action == "force-unlock" and lid == ""):
                del holder[state]
        elif action == "write" and lid:
            held = holder.get(state)
            if held is None or held[0] != lid:
                problems.append("%s: seq %d write with ID %s while %s holds it" % (
                    state, ev["seq"], lid, "nobody" if held is None else "ID " + held[0]))
    return problems


def client_overlaps(holds):
    """Holds of one state by different units that overlap in time. A hold is recorded from the
    LOCK's 200 to the UNLOCK being sent, inside the lease's real life, so any overlap here is a
    real one."""
    by_state = collections.defaultdict(list)
    for h in holds:
        by_state[h["state"]].append(h)
    problems = []
    for state, hs in by_state.items():
        hs.sort(key=lambda h: h["t_held"])
        for a, b in zip(hs, hs[1:]):
            if b["t_held"] < a["t_release"] and a["id"] != b["id"]:
                problems.append("%s: %s held ID %s from %.3f to %.3f, %s got ID %s at %.3f" % (
                    state, a["unit"], a["id"], a["t_held"], a["t_release"], b["unit"], b["id"],
                    b["t_held"]))
    return problems


# ------------------------------------------------------------------ figures

def percentile(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


def peak_rss(path):
    """instance -> largest VmHWM (kB) sampled over its lifetimes."""
    peaks = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                inst, _pid, kb = line.split()[:3]
                peaks[inst] = max(peaks.get(inst, 0), int(kb))
    return peaks


def print_report(args, attempts, writes, faults, lost, overlaps, errors):
    answered = [a["ms"] for a in attempts if a.get("status") is not None]
    print("load: units=%d instances=%d faults=%d requests=%d acked=%d lost=%d overlaps=%d "
          "errors=%d p50_ms=%.1f p99_ms=%.1f" % (
              args.units, len(args.instances.split(",")), len(faults.windows), len(attempts),
              sum(1 for w in writes if w["acked"]), len(lost), len(overlaps), len(errors),
              percentile(answered, 50), percentile(answered, 99)))
    kinds = []
    for kind in ("LOCK", "GET", "POST", "UNLOCK"):
        ms = [a["ms"] for a in attempts if a["kind"] == kind and a.get("status") is not None]
        kinds.append("%s=%d p50=%.1f p99=%.1f" % (kind, len(ms), percentile(ms, 50),
                                                  percentile(ms, 99)))
    print("load latency_ms: " + " ".join(kinds))
    peaks = peak_rss(args.rss)
    print("load peak_rss_mb: " + " ".join("i%s=%.1f" % (i, kb / 1024.0)
                                          for i, kb in sorted(peaks.items())))
    statuses = collections.Counter(str(a.get("status", "conn-error")) for a in attempts)
    print("load statuses: " + " ".join("%s=%d" % kv for kv in sorted(statuses.items())))
    print("load faults: " + " ".join("%s@%.1fs" % (k, e - s) for k, s, e in faults.windows))
    for title, items in (("lost", lost), ("overlap", overlaps), ("error", errors)):
        for line in items[:args.show]:
            print("  %s: %s" % (title, line))
        if len(items) > args.show:
            print("  %s: ... and %d more (%s)" % (title, len(items) - args.show, args.report))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--instances", required=True)
    p.add_argument("--token", default=os.environ.get("LOAD_TOKEN", ""))
    p.add_argument("--run-dir", required=True, help="loadgen.py's --out")
    p.add_argument("--faults", required=True)
    p.add_argument("--rss", required=True)
    p.add_argument("--units", type=int, required=True)
    p.add_argument("--prefix", default="load")
    p.add_argument("--grace", type=float, default=10, help="seconds after a fault still in it")
    p.add_argument("--show", type=int, default=20, help="details printed per kind")
    args = p.parse_args()
    args.report = os.path.join(args.run_dir, "report.txt")

    attempts = read_jsonl(os.path.join(args.run_dir, "attempts.jsonl"))
    writes = read_jsonl(os.path.join(args.run_dir, "writes.jsonl"))
    holds = read_jsonl(os.path.join(args.run_dir, "holds.jsonl"))
    faults = FaultWindows(args.faults, args.grace)
    stated = Stated(args.instances, args.token)

    errors = unexpected_statuses(attempts, writes, faults)
    lost = []
    by_state = collections.defaultdict(list)
    for w in writes:
        by_state[w["state"]].append(w)
    for state in sorted(by_state):
        problems, _ = check_state(stated, state, by_state[state])
        lost.extend(problems)

    status, body = stated.get("/v1/audit/export?format=jsonl&state=" +
                              urllib.parse.quote(args.prefix + "/**"))
    if status != 200:
        errors.append("audit export: HTTP %d %s" % (status, body[:200]))
        events = []
    else:
        events = [json.loads(l) for l in body.splitlines() if l.strip()]
    overlaps = ["trail: " + o for o in trail_overlaps(events)]
    overlaps += ["clients: " + o for o in client_overlaps(holds)]

    with open(args.report, "w") as f:
        for title, items in (("lost", lost), ("overlap", overlaps), ("error", errors)):
            for line in items:
                f.write("%s: %s\n" % (title, line))
    print_report(args, attempts, writes, faults, lost, overlaps, errors)
    print("load audit_events=%d states=%d" % (len(events), len(by_state)))
    sys.exit(1 if lost or overlaps or errors else 0)


if __name__ == "__main__":
    main()
