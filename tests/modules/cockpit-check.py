#!/usr/bin/env python3
"""Checks of the Cockpit files module/scaleway/monitoring ships for stated (tests/suites/83-cockpit.sh).

  cockpit-check.py dashboard DASHBOARD.json
      every panel but rows has a Prometheus query on the $datasource variable, unique ids, and
      no two panels overlap in the grid
  cockpit-check.py coverage RULES.yml TESTS.yml
      each alert has labels.severity (critical|warning), annotations summary, description and
      runbook_url, and its promtool test both fires it (non-empty exp_alerts) and keeps it
      silent (an empty exp_alerts) somewhere
  cockpit-check.py runbooks RULES.yml DOC.md
      every runbook_url is DOC#anchor and DOC has a heading with that anchor
  cockpit-check.py names DASHBOARD.json RULES.yml (--exposition FILE | --doc FILE)
      every metric a query names is one stated exports: a metric family of the exposition
      (# TYPE lines; NAME_bucket/_sum/_count of a histogram) or a name docs/metrics.md lists;
      with --exposition, every label a query groups or matches on is a label of that family in
      the exposition (or, for a family with no series yet, named in the doc given with --doc)
  cockpit-check.py alloy CONFIG --job JOB --env NAME... [--private | --public HOST]
      the structure of a Grafana Alloy configuration, for want of an Alloy parser: balanced
      braces and quotes, the scrape and remote_write components, forward_to naming the
      remote_write receiver, the job name, a Bearer authorization, tokens only from sys.env
Prints one line per problem and exits 1 when there is any (0 otherwise, 2 on usage errors).
"""
import json
import re
import sys

try:
    import yaml
except ImportError:  # the suite skips what needs YAML when this fails
    yaml = None

PROBLEMS = []


def problem(msg):
    PROBLEMS.append(msg)
    print(msg)


def panels_of(dash):
    for p in dash.get("panels", []):
        yield p
        for q in p.get("panels", []) or []:
            yield q


def queries(dash):
    """(panel title, expr) of every target."""
    for p in panels_of(dash):
        for t in p.get("targets", []) or []:
            if "expr" in t:
                yield p.get("title", "?"), t["expr"]


def rule_exprs(rules):
    for g in rules.get("groups", []):
        for r in g.get("rules", []):
            yield r.get("alert") or r.get("record"), r["expr"]


def cmd_dashboard(path):
    dash = json.load(open(path))
    for key in ("title", "uid", "panels", "templating"):
        if key not in dash:
            problem(f"dashboard: no {key}")
    variables = {v.get("name") for v in dash.get("templating", {}).get("list", [])}
    if "datasource" not in variables:
        problem("dashboard: no datasource variable (the Cockpit data source is chosen on import)")
    ids, boxes = set(), []
    for p in panels_of(dash):
        pid = p.get("id")
        if pid in ids:
            problem(f"dashboard: panel id {pid} twice")
        ids.add(pid)
        g = p.get("gridPos", {})
        box = (g.get("x", 0), g.get("y", 0), g.get("w", 0), g.get("h", 0))
        for title, other in boxes:
            if box[0] < other[0] + other[2] and other[0] < box[0] + box[2] and \
               box[1] < other[1] + other[3] and other[1] < box[1] + box[3]:
                problem(f"dashboard: panel {p.get('title')!r} overlaps {title!r}")
        boxes.append((p.get("title"), box))
        if p.get("type") == "row":
            continue
        targets = p.get("targets") or []
        if not targets or not all(t.get("expr") for t in targets):
            problem(f"dashboard: panel {p.get('title')!r} has a target without a query")
        ds = p.get("datasource", {})
        if ds.get("uid") != "${datasource}":
            problem(f"dashboard: panel {p.get('title')!r} does not use the $datasource variable")


def load_yaml(path):
    return yaml.safe_load(open(path))


def cmd_coverage(rules_path, tests_path):
    rules, tests = load_yaml(rules_path), load_yaml(tests_path)
    alerts = {}
    for g in rules["groups"]:
        for r in g["rules"]:
            if "alert" not in r:
                continue
            name = r["alert"]
            alerts[name] = r
            if r.get("labels", {}).get("severity") not in ("critical", "warning"):
                problem(f"{name}: labels.severity is not critical or warning")
            for a in ("summary", "description", "runbook_url"):
                if not r.get("annotations", {}).get(a):
                    problem(f"{name}: no annotation {a}")
    fired, silent = set(), set()
    for t in tests.get("tests", []):
        for a in t.get("alert_rule_test", []):
            (fired if a.get("exp_alerts") else silent).add(a["alertname"])
    for name in sorted(alerts):
        if name not in fired:
            problem(f"{name}: no test makes it fire")
        if name not in silent:
            problem(f"{name}: no test shows it silent")
    for name in sorted((fired | silent) - set(alerts)):
        problem(f"{name}: tested but not a rule")


def anchor(heading):
    a = heading.strip().lower()
    a = re.sub(r"[^\w\- ]", "", a)
    return a.replace(" ", "-")


def cmd_runbooks(rules_path, doc_path):
    rules = load_yaml(rules_path)
    doc = open(doc_path).read()
    anchors = {anchor(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", doc, re.M)}
    for g in rules["groups"]:
        for r in g["rules"]:
            url = r.get("annotations", {}).get("runbook_url", "")
            m = re.fullmatch(r"docs/observability\.md#([\w-]+)", url)
            if not m:
                problem(f"{r.get('alert')}: runbook_url {url!r} is not docs/observability.md#ANCHOR")
            elif m.group(1) not in anchors:
                problem(f"{r.get('alert')}: {doc_path} has no heading for #{m.group(1)}")


PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "rate", "irate", "increase", "histogram_quantile", "by",
    "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset",
    "absent", "le", "bool", "topk", "bottomk", "delta", "deriv", "time", "vector", "scalar",
    "clamp_min", "clamp_max", "label_replace", "count_over_time", "max_over_time",
    "min_over_time", "avg_over_time", "changes", "resets", "inf", "nan",
}
INTERNAL = {"up"}  # written by the scraper, not by stated


def expr_parts(expr):
    """(metric names, label names) an expression uses."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)       # string literals
    e = re.sub(r"\[[^\]]*\]", "", e)                     # range selectors [5m], [$__rate_interval]
    labels = set()
    for m in re.finditer(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", e):
        labels |= {x.strip() for x in m.group(1).split(",") if x.strip()}
    for m in re.finditer(r"\{([^}]*)\}", e):
        labels |= {x.strip() for x in re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", m.group(1))}
    e2 = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", "", e)
    e2 = re.sub(r"\{[^}]*\}", "", e2)
    names = set()
    for m in re.finditer(r"(?<![\w$.])([a-zA-Z_:][\w:]*)\b(?!\s*\()", e2):
        w = m.group(1)
        if w in PROMQL_WORDS or re.fullmatch(r"\d+\w*", w):
            continue
        names.add(w)
    # functions are followed by "(": drop them explicitly too
    names -= {w for w in re.findall(r"([a-zA-Z_]\w*)\s*\(", e2)}
    return names, labels - {"le", "job", "instance", "__name__"}


def parse_exposition(text):
    types, labels = {}, {}
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            types[m.group(1)] = m.group(2)
            labels.setdefault(m.group(1), set())
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s", line)
        if not m:
            continue
        name = m.group(1)
        for suffix in ("_bucket", "_sum", "_count", "_created"):
            if name.endswith(suffix) and types.get(name[: -len(suffix)]) in ("histogram", "summary"):
                name = name[: -len(suffix)]
        labels.setdefault(name, set()).update(re.findall(r"([a-zA-Z_]\w*)=", m.group(3) or ""))
    return types, labels


def family(name, types):
    if name in types:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)] if name.endswith(suffix) else None
        if base and types.get(base) in ("histogram", "summary"):
            return base
    return None


def doc_families(doc):
    """Metric names in backticks or table cells of docs/metrics.md, with the labels named near them."""
    out = {}
    for line in doc.splitlines():
        for m in re.finditer(r"\b((?:stated|process)_[a-z0-9_]+)", line):
            out.setdefault(m.group(1), set()).update(re.findall(r"\b([a-z_][a-z0-9_]*)\b", line))
    return out


def cmd_names(dash_path, rules_path, exposition=None, doc=None):
    dash = json.load(open(dash_path))
    rules = load_yaml(rules_path) if yaml else {"groups": []}
    used = [(f"dashboard {t!r}", e) for t, e in queries(dash)]
    used += [(f"rule {n}", e) for n, e in rule_exprs(rules)]
    if exposition is not None:
        types, labels = parse_exposition(open(exposition).read())
        docf = doc_families(open(doc).read()) if doc else {}
        for where, e in used:
            names, lbls = expr_parts(e)
            fams = set()
            for n in sorted(names - INTERNAL):
                f = family(n, types)
                if not f:
                    problem(f"{where}: {n} is not in stated's /metrics")
                else:
                    fams.add(f)
            for lb in sorted(lbls):
                if fams and not any(lb in labels.get(f, set()) or
                                    (not labels.get(f) and lb in docf.get(f, set()))
                                    for f in fams):
                    problem(f"{where}: label {lb} is on none of {', '.join(sorted(fams))} in /metrics")
    else:
        docf = doc_families(open(doc).read())
        types = {n: "histogram" for n in docf}  # lets NAME_bucket match NAME in the doc
        for where, e in used:
            names, _ = expr_parts(e)
            for n in sorted(names - INTERNAL):
                if n not in docf and not family(n, types):
                    problem(f"{where}: {n} is not in {doc}")


def strip_comments(text):
    out = []
    for line in text.splitlines():
        s, instr, i = "", False, 0
        while i < len(line):
            c = line[i]
            if instr:
                if c == "\\":
                    s += line[i:i + 2]
                    i += 2
                    continue
                instr = c != '"'
            elif c == '"':
                instr = True
            elif line.startswith("//", i):
                break
            s += c
            i += 1
        if instr:
            problem(f"alloy: unterminated string: {line.strip()}")
        out.append(s)
    return "\n".join(out)


def cmd_alloy(path, job, envs, private, public_host):
    text = open(path).read()
    body = strip_comments(text)
    unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', '""', body)
    depth = 0
    for c in unquoted:
        depth += {"{": 1, "}": -1}.get(c, 0)
        if depth < 0:
            problem("alloy: a } closes nothing")
            break
    if depth > 0:
        problem("alloy: unbalanced braces")
    if "%{" in text or re.search(r"\$\{", body):
        problem("alloy: an unrendered template directive or interpolation is left")
    blocks = re.findall(r'^([a-z_][\w.]*)\s+"([^"]+)"\s*\{', body, re.M)
    kinds = {(k, label) for k, label in blocks}
    scrape = [label for k, label in kinds if k == "prometheus.scrape"]
    writes = [label for k, label in kinds if k == "prometheus.remote_write"]
    if len(scrape) != 1 or len(writes) != 1:
        problem(f"alloy: want one prometheus.scrape and one prometheus.remote_write, got {sorted(kinds)}")
        return
    m = re.search(r"forward_to\s*=\s*\[([^\]]*)\]", body)
    if not m or m.group(1).strip() != f"prometheus.remote_write.{writes[0]}.receiver":
        problem("alloy: forward_to does not name the remote_write receiver")
    if not re.search(rf'job_name\s*=\s*"{re.escape(job)}"', body):
        problem(f'alloy: job_name is not "{job}" (the job the alert rules and the dashboard select)')
    if not re.search(r'authorization\s*\{[^}]*type\s*=\s*"Bearer"[^}]*credentials\s*=\s*sys\.env\("STATED_METRICS_TOKEN"\)', body, re.S):
        problem("alloy: no Bearer authorization from sys.env(\"STATED_METRICS_TOKEN\")")
    if not re.search(r'headers\s*=\s*\{\s*"X-Token"\s*=\s*sys\.env\("COCKPIT_PUSH_TOKEN"\)\s*\}', body):
        problem("alloy: the remote_write endpoint does not send X-Token from sys.env(\"COCKPIT_PUSH_TOKEN\")")
    used_env = set(re.findall(r'sys\.env\("([^"]+)"\)', body))
    if used_env != set(envs):
        problem(f"alloy: reads {sorted(used_env)} from the environment, want {sorted(envs)}")
    m = re.search(r'url\s*=\s*"([^"]+)"', body)
    if not m or not m.group(1).startswith("https://"):
        problem("alloy: the remote_write url is not an https URL")
    target = re.search(r'"__address__"\s*=\s*"([^"]+)"', body)
    scheme = re.search(r'scheme\s*=\s*"([^"]+)"', body)
    if private:
        if not target or not target.group(1).startswith("127.0.0.1:") or not scheme or scheme.group(1) != "http":
            problem("alloy: a private stated must be scraped through the forwarder on 127.0.0.1 over http")
    else:
        if not target or target.group(1) != f"{public_host}:443" or not scheme or scheme.group(1) != "https":
            problem(f"alloy: a public stated must be scraped at https://{public_host}:443")
    for line in body.splitlines():
        if re.search(r'(credentials|"X-Token")\s*=\s*"', line):
            problem(f"alloy: a literal credential: {line.strip()}")


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd in ("coverage", "runbooks") and yaml is None:
        print("cockpit-check: python3-yaml is missing", file=sys.stderr)
        return 2
    if cmd == "dashboard" and len(args) == 1:
        cmd_dashboard(args[0])
    elif cmd == "coverage" and len(args) == 2:
        cmd_coverage(*args)
    elif cmd == "runbooks" and len(args) == 2:
        cmd_runbooks(*args)
    elif cmd == "names" and len(args) >= 4:
        opts = dict(zip(args[2::2], args[3::2]))
        cmd_names(args[0], args[1], opts.get("--exposition"), opts.get("--doc"))
    elif cmd == "alloy" and args:
        job, envs, private, host = "stated", [], False, None
        i = 1
        while i < len(args):
            a = args[i]
            if a == "--job":
                job, i = args[i + 1], i + 2
            elif a == "--env":
                envs.append(args[i + 1])
                i += 2
            elif a == "--private":
                private, i = True, i + 1
            elif a == "--public":
                host, i = args[i + 1], i + 2
            else:
                print(f"cockpit-check: unknown option {a}", file=sys.stderr)
                return 2
        cmd_alloy(args[0], job, envs, private, host)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
