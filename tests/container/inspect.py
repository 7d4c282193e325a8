#!/usr/bin/env python3
"""tests/container/inspect.py: reads the Dockerfile, .dockerignore and docker-compose.yml the
way Docker and Compose do, for tests/suites/63-container.sh (no Docker engine needed).

  inspect.py dockerfile FILE            the instructions of every stage, as JSON
  inspect.py dockerfile-secrets FILE    what looks like a secret in it, one finding per line
  inspect.py context DIR [IGNOREFILE]   the files `COPY . .` sends from DIR, one per line
  inspect.py compose-check FILE DOC     checks of the compose file (results, see below)
  inspect.py compose-env FILE SERVICE   the service's environment after interpolation from
                                        this process's environment: NAME=VALUE, NUL-ended
  inspect.py compose-get FILE SERVICE KEY...
                                        one value of a service after interpolation (a list
                                        is printed one item per line)

compose-check prints one line per check, "ok<TAB>name" or "fail<TAB>name<TAB>why", for the
suite to turn into PASS/FAIL lines.

The matching rules implemented here, as documented for .dockerignore: a line starting with
'#' is a comment; lines are trimmed; '!' makes an exception; a pattern is cleaned like a
path (duplicate and trailing slashes, '.' and '..') and a leading '/' is dropped; '*' is any
run of characters other than '/', '?' one such character, '[...]' a class, '\\' escapes, and
'**' any number of directories (zero included). A path is excluded when the last pattern that
matches it or one of its parent directories is not an exception.
"""
import json
import os
import posixpath
import re
import shlex
import sys

# ------------------------------------------------------------------ .dockerignore


def ignore_patterns(path):
    pats = []
    if path is None or not os.path.exists(path):
        return pats
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f.read().split("\n")):
            if n == 0:
                line = line.lstrip("\ufeff")
            if line.startswith("#"):
                continue
            line = line.strip()
            if not line:
                continue
            neg = line.startswith("!")
            if neg:
                line = line[1:].strip()
                if not line:
                    raise ValueError('illegal exclusion pattern "!"')
            line = posixpath.normpath(line)
            if line.startswith("//"):
                line = "/" + line.lstrip("/")
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
            pats.append((neg, line, pattern_regex(line)))
    return pats


def pattern_regex(pat):
    out, i, n = "", 0, len(pat)
    while i < n:
        c = pat[i]
        if c == "*" and i + 1 < n and pat[i + 1] == "*":
            i += 2
            if i < n and pat[i] == "/":
                i += 1
            out += ".*" if i >= n else "(?:.*/)?"
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            j = pat.find("]", i + 2 if i + 1 < n and pat[i + 1] in "^!" else i + 1)
            if j < 0:
                raise ValueError("unterminated class in %r" % pat)
            body = pat[i + 1 : j]
            neg = body[:1] in ("^", "!")
            if neg:
                body = body[1:]
            body = re.sub(r"\\(.)", lambda m: re.escape(m.group(1)), body)
            out += "[" + ("^" if neg else "") + body.replace("[", "\\[") + "]"
            i = j
        elif c == "\\" and i + 1 < n:
            i += 1
            out += re.escape(pat[i])
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out + r"\Z")


def excluded(pats, rel):
    parts = rel.split("/")
    candidates = ["/".join(parts[: k + 1]) for k in range(len(parts))]
    matched = False
    for neg, _, rx in pats:
        if neg != matched:
            continue
        if any(rx.match(c) for c in candidates):
            matched = not neg
    return matched


def context_files(top, ignorefile):
    pats = ignore_patterns(ignorefile)
    prune = not any(neg for neg, _, _ in pats)  # no exception can bring a child back
    files = []
    for root, dirs, names in os.walk(top):
        if prune:
            dirs[:] = [d for d in dirs if not excluded(
                pats, os.path.relpath(os.path.join(root, d), top).replace(os.sep, "/"))]
        dirs.sort()
        for name in sorted(names) + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            rel = os.path.relpath(os.path.join(root, name), top).replace(os.sep, "/")
            if not excluded(pats, rel):
                files.append(rel)
    return sorted(files)


# ------------------------------------------------------------------ Dockerfile


def logical_lines(text):
    """Instruction lines: comments and blank lines dropped, continuations joined."""
    lines, buf = [], None
    for raw in text.split("\n"):
        s = raw.strip()
        if s.startswith("#") or (s == "" and buf is None):
            continue
        if s == "":
            continue
        m = re.search(r"\\[ \t]*$", raw)
        if m:
            buf = (buf or "") + raw[: m.start()]
            continue
        lines.append(((buf or "") + raw).strip())
        buf = None
    if buf is not None:
        lines.append(buf.strip())
    return lines


def split_flags(args):
    flags = {}
    while True:
        m = re.match(r"--([a-z-]+)(?:=(\S*))?\s*", args)
        if not m:
            return flags, args
        flags[m.group(1)] = m.group(2) if m.group(2) is not None else ""
        args = args[m.end() :]


def exec_form(args):
    if args.startswith("["):
        try:
            v = json.loads(args)
            if isinstance(v, list) and all(isinstance(x, str) for x in v):
                return v
        except ValueError:
            pass
    return None


def pairs(args):
    words = shlex.split(args, posix=True)
    if words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    out = {}
    for w in words:
        k, _, v = w.partition("=")
        out[k] = v
    return out


def dockerfile(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if re.search(r"^\s*#\s*escape\s*=", text, re.M | re.I):
        raise ValueError("escape directive not supported")
    stages = []
    for line in logical_lines(text):
        word, _, args = line.partition(" ")
        cmd = word.upper()
        args = args.strip()
        ins = {"cmd": cmd, "raw": args}
        if cmd in ("FROM", "COPY", "ADD", "RUN", "HEALTHCHECK"):
            ins["flags"], args = split_flags(args)
        if "<<" in args and cmd in ("RUN", "COPY", "ADD"):
            raise ValueError("heredocs are not supported: %s" % line)
        ins["args"] = args
        if cmd == "FROM":
            w = args.split()
            stages.append({"image": w[0], "name": w[2] if len(w) >= 3 and w[1].lower() == "as"
                           else None, "ins": []})
            continue
        if not stages:
            stages.append({"image": None, "name": None, "ins": []})  # global ARGs
        if cmd in ("ENV", "LABEL"):
            ins["pairs"] = pairs(args)
        elif cmd == "ARG":
            k, eq, v = args.partition("=")
            ins["name"], ins["default"] = k.strip(), (v.strip().strip("\"'") if eq else None)
        elif cmd in ("COPY", "ADD"):
            w = exec_form(args) or shlex.split(args)
            ins["src"], ins["dest"] = w[:-1], w[-1]
        elif cmd in ("RUN", "CMD", "ENTRYPOINT"):
            ins["exec"] = exec_form(args)
        elif cmd == "HEALTHCHECK":
            kind, _, rest = args.partition(" ")
            ins["kind"] = kind.upper()
            ins["exec"] = exec_form(rest.strip())
            ins["shell"] = None if ins["exec"] is not None else rest.strip()
        stages[-1]["ins"].append(ins)
    return stages


# ------------------------------------------------------------------ docker-compose.yml

VAR = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|"
                 r"([A-Za-z_][A-Za-z0-9_]*))")


def interpolate(s, env):
    """Compose's interpolation: $$ is '$'; ${V}, $V, ${V:-d}, ${V-d}, ${V:?e}, ${V?e},
    ${V:+r}, ${V+r}. A missing required variable raises ValueError with its message."""
    def one(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, arg = m.group(2), m.group(3) or ""
        val = env.get(name)
        unset_or_empty = val is None or (op is not None and op.startswith(":") and val == "")
        if op in ("-", ":-"):
            return interpolate(arg, env) if unset_or_empty else val
        if op in ("?", ":?"):
            if unset_or_empty:
                raise ValueError("required variable %s is missing: %s" % (name, arg))
            return val
        if op in ("+", ":+"):
            return "" if unset_or_empty else interpolate(arg, env)
        return val or ""
    return VAR.sub(one, s)


def walk_strings(v, path=""):
    if isinstance(v, dict):
        for k, x in v.items():
            yield from walk_strings(x, "%s.%s" % (path, k) if path else str(k))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from walk_strings(x, "%s[%d]" % (path, i))
    elif isinstance(v, str):
        yield path, v


def env_dict(svc):
    e = svc.get("environment") or {}
    if isinstance(e, list):
        return dict((x.split("=", 1) + [None])[:2] for x in e)
    return {k: (None if v is None else str(v)) for k, v in e.items()}


SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|ACCESS_KEY|PRIVATE|CREDENTIAL|_KEY$", re.I)
ONLY_REFS = re.compile(r"^(?:\$\{[A-Za-z_][A-Za-z0-9_]*(?::?\?[^{}]*)?\})+$")
RUN_OF_TOKEN_CHARS = re.compile(r"[A-Za-z0-9+/=_.-]{16,}")


def token_like(s):
    """Runs of characters that look like a generated secret rather than words, paths or
    identifiers. Of KEY=VALUE only the value is judged. A secret is a piece of 16 or more
    letters and digits mixed (openssl rand -hex, an S3 access key id), or a base64 run of 20 or
    more characters with a piece of mixed case inside, digits unless 32 or more long, and at
    least 4 bits of entropy per character (openssl rand -base64). S3_SECRET_KEY,
    x-amz-content-sha256, /var/lib/stated/data or AllProductsFullAccess are not."""
    import math
    found = []
    for m in RUN_OF_TOKEN_CHARS.finditer(s):
        t = re.sub(r"^[A-Za-z_][A-Za-z0-9_]*=", "", m.group(0))
        if any(len(p) >= 16 and re.search(r"[0-9]", p) and re.search(r"[A-Za-z]", p)
               for p in re.split(r"[/_.=+-]", t)):
            found.append(t)
            continue
        if not re.fullmatch(r"[A-Za-z0-9+/_-]{20,}={0,2}", t):
            continue
        if not any(re.search(r"[a-z][A-Z]|[A-Z]{2}[a-z]", p) for p in re.split(r"[/_+-]", t)):
            continue
        if not re.search("[0-9]", t) and len(t) < 32:
            continue
        bits = -sum(t.count(c) / len(t) * math.log2(t.count(c) / len(t)) for c in set(t))
        if bits >= 4.0:
            found.append(t)
    return found


def compose_check(path, docpath):
    import yaml  # python3-yaml; the suite checks it is there first
    res = []

    def check(name, ok, why=""):
        res.append(("ok", name) if ok else ("fail", name, why))

    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    with open(docpath, encoding="utf-8") as f:
        docs = f.read()
    services = doc.get("services") or {}
    want = {"postgres", "s3", "s3-init", "stated"}
    check("compose/services postgres, s3, s3-init, stated", want <= set(services),
          "missing: %s" % ", ".join(sorted(want - set(services))))

    bad_ports = []
    for name, svc in services.items():
        for p in svc.get("ports") or []:
            if isinstance(p, dict):
                ok = p.get("host_ip") == "127.0.0.1"
            else:
                ok = str(p).startswith("127.0.0.1:") and str(p).count(":") == 2
            if not ok:
                bad_ports.append("%s: %s" % (name, p))
        if svc.get("network_mode") == "host":
            bad_ports.append("%s: network_mode host" % name)
    published = [n for n, s in services.items() if s.get("ports")]
    check("compose/ports published on 127.0.0.1 only (%s)" % ", ".join(published),
          not bad_ports and "stated" in published, "; ".join(bad_ports) or "stated not published")

    inline = []
    for name, svc in services.items():
        for k, v in env_dict(svc).items():
            if SECRET_NAME.search(k) and (v is None or not ONLY_REFS.match(v)):
                inline.append("%s: %s is not only a required ${VAR} reference" % (name, k))
    for where, s in walk_strings(doc):
        if re.search(r"://[^/\s:@]+:(?!\$\{)[^@/\s]+@", s):
            inline.append("%s: a URL with a literal password" % where)
        for t in token_like(VAR.sub(" ", s)):
            inline.append("%s: token-like literal %s..." % (where, t[:6]))
    check("compose/no inline secrets: secret-named variables are only required ${VAR} references",
          not inline, "; ".join(inline))

    refs = set()
    for _, s in walk_strings(doc):
        refs.update(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?\?", s))
    undocumented = sorted(r for r in refs if not re.search(r"^\s*%s=" % r, docs, re.M))
    check("compose/every required variable (%s) is in docs/container.md's .env recipe"
          % ", ".join(sorted(refs)), refs and not undocumented,
          "not documented: %s" % ", ".join(undocumented))

    images = {n: s.get("image") for n, s in services.items()}
    unpinned = [n for n, i in images.items() if i and (":" not in i.split("/")[-1]
                                                      or i.endswith(":latest"))]
    check("compose/images pinned to a tag", not unpinned, "unpinned: %s" % ", ".join(unpinned))

    no_hc = [n for n in ("postgres", "s3", "stated")
             if n in services and not (services[n].get("healthcheck") or {}).get("test")]
    check("compose/healthchecks on postgres, s3 and stated", not no_hc,
          "without: %s" % ", ".join(no_hc))
    st = services.get("stated", {})
    test = (st.get("healthcheck") or {}).get("test") or []
    line = " ".join(test) if isinstance(test, list) else str(test)
    check("compose/stated's healthcheck runs statectl health --deep",
          "statectl health" in line and "--deep" in line, "test: %s" % line)

    def cond(svc, dep):
        d = (services.get(svc) or {}).get("depends_on") or {}
        return d.get(dep, {}).get("condition") if isinstance(d, dict) else None
    order = {("stated", "postgres"): "service_healthy",
             ("stated", "s3-init"): "service_completed_successfully",
             ("s3-init", "s3"): "service_healthy"}
    wrong = ["%s on %s: %s" % (a, b, cond(a, b)) for (a, b), c in order.items() if cond(a, b) != c]
    check("compose/start order: s3-init after s3 is healthy, stated after postgres and s3-init",
          not wrong, "; ".join(wrong))

    env = env_dict(st)
    storage = env.get("STATED_STORAGE") or ""
    check("compose/stated stores in S3 (%s) at http://s3:PORT with path-style addressing"
          % storage, storage.startswith("s3://") and
          (env.get("STATED_S3_ENDPOINT") or "").startswith("http://s3:") and
          str(env.get("STATED_S3_VIRTUAL_HOST")).lower() == "false",
          "STATED_STORAGE=%s STATED_S3_ENDPOINT=%s STATED_S3_VIRTUAL_HOST=%s" %
          (storage, env.get("STATED_S3_ENDPOINT"), env.get("STATED_S3_VIRTUAL_HOST")))
    locks = env.get("STATED_LOCKS") or env.get("DATABASE_URL") or ""
    check("compose/stated keeps locks, audit and tokens in the postgres service",
          "host=postgres" in locks or "@postgres" in locks, "STATED_LOCKS=%s" % locks)

    vols = set((doc.get("volumes") or {}).keys())
    unnamed = []
    for n in ("postgres", "s3", "stated"):
        mounts = [str(m).split(":")[0] for m in (services.get(n) or {}).get("volumes") or []]
        if not any(m in vols for m in mounts):
            unnamed.append(n)
    check("compose/postgres, s3 and stated keep their data in named volumes", not unnamed,
          "without a named volume: %s" % ", ".join(unnamed))

    for r in res:
        print("\t".join(r))


def dockerfile_secrets(path):
    """What in a Dockerfile looks like a secret: an ARG default, ENV or LABEL value under a
    secret-sounding name, or a token-like literal in any instruction."""
    found = []
    for st in dockerfile(path):
        for ins in st["ins"]:
            items = []
            if ins["cmd"] == "ARG" and ins.get("default"):
                items = [(ins["name"], ins["default"])]
            elif ins["cmd"] in ("ENV", "LABEL"):
                items = list(ins["pairs"].items())
            for k, v in items:
                if SECRET_NAME.search(k) and v:
                    found.append("%s %s has a value" % (ins["cmd"], k))
            for t in token_like(VAR.sub(" ", ins["raw"])):
                found.append("%s: token-like literal %s..." % (ins["cmd"], t[:6]))
    return found


def compose_service(path, service):
    import yaml
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    return (doc.get("services") or {})[service]


def main(argv):
    if len(argv) >= 3 and argv[1] == "dockerfile":
        print(json.dumps(dockerfile(argv[2]), indent=1))
    elif len(argv) == 3 and argv[1] == "dockerfile-secrets":
        for f in dockerfile_secrets(argv[2]):
            print(f)
    elif len(argv) >= 3 and argv[1] == "context":
        for f in context_files(argv[2], argv[3] if len(argv) > 3 else
                               os.path.join(argv[2], ".dockerignore")):
            print(f)
    elif len(argv) == 4 and argv[1] == "compose-check":
        compose_check(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "compose-env":
        for k, v in env_dict(compose_service(argv[2], argv[3])).items():
            sys.stdout.write("%s=%s\0" % (k, interpolate(v or "", os.environ)))
    elif len(argv) >= 5 and argv[1] == "compose-get":
        v = compose_service(argv[2], argv[3])
        for k in argv[4:]:
            v = v[k]
        for x in (v if isinstance(v, list) else [v]):
            print(interpolate(str(x), os.environ))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (ValueError, KeyError, OSError) as e:
        sys.stderr.write("inspect.py: %s\n" % e)
        sys.exit(1)
