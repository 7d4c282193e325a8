#!/bin/bash
# tests/suites/83-cockpit.sh: what module/scaleway/monitoring ships to monitor stated on Scaleway
# Cockpit (docs/observability.md).
#
#   - the alert rules (stated.rules.yml): `promtool check rules`, and `promtool test rules` on
#     stated.rules.test.yml, where every alert fires on a synthetic series and stays silent on a
#     healthy one (each alert is checked to be in both); severity, summary, description and a
#     runbook_url whose heading exists in docs/observability.md; the timing that keeps critical
#     alerts under 30 s (scrape interval + evaluation interval + remote-write flush);
#   - the dashboard (stated.dashboard.json) parses (jq), every panel has a query on the
#     $datasource variable, and every metric a panel or a rule names is one stated exports:
#     against docs/metrics.md and against a live stated's /metrics scraped with a token of role
#     metrics after some traffic, the labels the queries use included;
#   - a real Prometheus (Debian's prometheus) scrapes that stated the way the Alloy
#     configuration does (Bearer token of role metrics, job "stated") with the rules loaded:
#     the target is up, every rule evaluates without error and none fires on a healthy stated;
#   - the Grafana Alloy configuration the module renders (stated.alloy.tftpl through terraform's
#     templatefile, private and public stated): `alloy fmt` when Alloy is installed, and a
#     structural check (tests/modules/cockpit-check.py) in every case, as no Alloy parser is
#     packaged for Debian;
#   - the HCL: terraform fmt, the provider schema check, the Cockpit tokens' least scopes, the
#     stated_metrics variable's validations, state-backend passing stated_metrics;
#   - the checkers bite: a dashboard naming a metric stated does not export and an Alloy
#     configuration with a literal token are refused.
# A missing tool (promtool, prometheus, terraform, python3-yaml) is SKIPPED with the reason.
# Run alone: TOP=... BIN=.../build/bin tests/suites/83-cockpit.sh (after make all).
set -u
. "$(dirname "$0")/../lib/testlib.sh"
. "$TOP/tests/lib/stated.sh"
MON=$TOP/module/scaleway/monitoring
RULES=$MON/stated.rules.yml RTEST=$MON/stated.rules.test.yml DASH=$MON/stated.dashboard.json
TPL=$MON/stated.alloy.tftpl
CC=$TOP/tests/modules/cockpit-check.py
DOC_OBS=$TOP/docs/observability.md DOC_METRICS=$TOP/docs/metrics.md
PROMTOOL=${PROMTOOL:-$(command -v promtool 2>/dev/null || true)}
PROMETHEUS=${PROMETHEUS:-$(command -v prometheus 2>/dev/null || true)}
ALLOY=${ALLOY:-$(command -v alloy 2>/dev/null || true)}
TF=${TERRAFORM:-/usr/local/bin/terraform}
[ -x "$TF" ] || TF=$(command -v terraform 2>/dev/null || true)
WORK=$(mktemp -d /tmp/stated-cockpit.XXXXXX)
PROM_PID=
cleanup() {
  [ -n "$PROM_PID" ] && kill "$PROM_PID" 2>/dev/null && wait "$PROM_PID" 2>/dev/null
  stated_cleanup
  rm -rf "$WORK"
}
trap cleanup EXIT
export TF_CLI_CONFIG_FILE=/dev/null TF_IN_AUTOMATION=1
HAVE_YAML=0
python3 -c 'import yaml' 2>/dev/null && HAVE_YAML=1

# --- alert rules ----------------------------------------------------------------------------
if [ -z "$PROMTOOL" ]; then
  skip cockpit/rules-check "promtool not installed (Debian package prometheus, tests/env/install-deps.sh): the alert rules were NOT checked"
  skip cockpit/rules-test "promtool not installed: the alert rule unit tests were NOT run"
else
  check cockpit/rules-check "$PROMTOOL" check rules "$RULES"
  # promtool resolves rule_files relative to the test file.
  check cockpit/rules-test "$PROMTOOL" test rules "$RTEST"
fi
if [ $HAVE_YAML -eq 0 ]; then
  skip cockpit/rules-coverage "python3-yaml not installed"
  skip cockpit/rules-runbooks "python3-yaml not installed"
else
  check cockpit/rules-coverage python3 "$CC" coverage "$RULES" "$RTEST"
  if [ -f "$DOC_OBS" ]; then
    check cockpit/rules-runbooks python3 "$CC" runbooks "$RULES" "$DOC_OBS"
  else
    fail cockpit/rules-runbooks "docs/observability.md is missing"
  fi
  # Critical alerts within 30 s: the agent's scrape interval (the module's default), the
  # group's evaluation interval and the remote-write flush add up to at most 30 s.
  scrape=$(sed -n 's/.*scrape_interval = optional(string, "\([0-9]*\)s").*/\1/p' "$MON/variables.tf")
  flush=$(sed -n 's/.*batch_send_deadline = "\([0-9]*\)s".*/\1/p' "$TPL")
  eval_s=$(python3 -c 'import sys, yaml; g = yaml.safe_load(open(sys.argv[1]))["groups"]; print(max(int(x["interval"].rstrip("s")) for x in g))' "$RULES" 2>/dev/null)
  if [ -n "$scrape" ] && [ -n "$flush" ] && [ -n "$eval_s" ] && [ $((scrape + flush + eval_s)) -lt 30 ]; then
    pass "cockpit/critical-under-30s (scrape ${scrape}s + flush ${flush}s + evaluation ${eval_s}s)"
  else
    fail cockpit/critical-under-30s "scrape '${scrape}' + flush '${flush}' + evaluation '${eval_s}' is not under 30 s"
  fi
fi

# --- dashboard ------------------------------------------------------------------------------
if jq -e '.panels | length > 0' "$DASH" >/dev/null 2>&1; then pass cockpit/dashboard-json
else fail cockpit/dashboard-json "$(jq . "$DASH" 2>&1 >/dev/null | head -n 2)"; fi
check cockpit/dashboard-panels python3 "$CC" dashboard "$DASH"
if [ -f "$DOC_METRICS" ]; then
  check cockpit/names-in-docs-metrics python3 "$CC" names "$DASH" "$RULES" --doc "$DOC_METRICS"
else
  fail cockpit/names-in-docs-metrics "docs/metrics.md is missing (it comes with /metrics on branch obs-server)"
fi
# The checker bites: a panel on a metric nobody exports.
jq '.panels[1].targets[0].expr = "sum(rate(stated_no_such_metric_total[5m]))"' "$DASH" >"$WORK/bad-dash.json"
if [ -f "$DOC_METRICS" ] && ! python3 "$CC" names "$WORK/bad-dash.json" "$RULES" --doc "$DOC_METRICS" >/dev/null; then
  pass cockpit/names-checker-bites
elif [ -f "$DOC_METRICS" ]; then
  fail cockpit/names-checker-bites "stated_no_such_metric_total was not reported"
else
  fail cockpit/names-checker-bites "docs/metrics.md is missing"
fi

# --- a live stated, and a real Prometheus scraping it with the rules --------------------------
if ! "$BIN/stated" --help >/dev/null 2>&1; then
  fail cockpit/live "build/bin/stated is not built (make all)"
elif ! stated_start embedded; then
  fail cockpit/live "stated did not start"
else
  A=(-H "Authorization: Bearer $ADMIN_TOKEN")
  u=$STATED_URL/v1/states/cockpit/probe
  lock() { printf '{"ID":"%s","Operation":"OperationTypeApply","Info":"","Who":"suite@cockpit","Version":"1.6.0","Created":"%s","Path":""}' "$1" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"; }
  # Traffic that makes labelled series appear: a write, reads, a 404, a lock and a conflict,
  # an authentication failure.
  curl -s -o /dev/null "${A[@]}" -X POST --data '{"version":4,"serial":1,"lineage":"c","outputs":{},"resources":[]}' "$u"
  curl -s -o /dev/null "${A[@]}" "$u"
  curl -s -o /dev/null "${A[@]}" "$STATED_URL/v1/states/cockpit/absent"
  curl -s -o /dev/null "${A[@]}" -X LOCK --data "$(lock AAA)" "$u"
  curl -s -o /dev/null "${A[@]}" -X LOCK --data "$(lock BBB)" "$u"
  curl -s -o /dev/null -H "Authorization: Bearer wrong-$RANDOM" "$u"
  metrics_token=$(STATECTL_URL=$STATED_URL STATECTL_TOKEN=$ADMIN_TOKEN "$BIN/statectl" tokens create cockpit-scraper --role metrics --states '**' 2>"$WORK/token.err")
  if [ -z "$metrics_token" ]; then
    fail cockpit/metrics-token "statectl tokens create --role metrics: $(head -n 2 "$WORK/token.err" | tr '\n' ' ')"
    metrics_token=$ADMIN_TOKEN
  else
    pass cockpit/metrics-token
  fi
  code=$(curl -s -o "$WORK/metrics.txt" -w '%{http_code}' -H "Authorization: Bearer $metrics_token" "$STATED_URL/metrics")
  if [ "$code" = 200 ] && grep -q '^# TYPE stated_' "$WORK/metrics.txt"; then
    pass cockpit/live-metrics
    check cockpit/names-in-live-metrics python3 "$CC" names "$DASH" "$RULES" --exposition "$WORK/metrics.txt" --doc "$DOC_METRICS"
    # ... and bites: an unknown metric, and a label the metric does not have.
    jq '.panels[1].targets[0].expr = "sum by (state) (rate(stated_http_requests_total[5m]))"' "$DASH" >"$WORK/bad-label.json"
    n=$( { python3 "$CC" names "$WORK/bad-dash.json" "$RULES" --exposition "$WORK/metrics.txt" --doc "$DOC_METRICS"
           python3 "$CC" names "$WORK/bad-label.json" "$RULES" --exposition "$WORK/metrics.txt" --doc "$DOC_METRICS"; } |
         grep -cE 'stated_no_such_metric_total is not in|label state is on none')
    expect_eq cockpit/live-names-checker-bites "$n" 2
  else
    fail cockpit/live-metrics "GET /metrics with a metrics token: HTTP $code (stated has no /metrics before branch obs-server is merged)"
    fail cockpit/names-in-live-metrics "no exposition to check against"
  fi

  if [ -z "$PROMETHEUS" ] || [ -z "$PROMTOOL" ]; then
    skip cockpit/prometheus "prometheus not installed (Debian package prometheus): the rules were NOT evaluated against a live stated"
  elif [ "$code" != 200 ]; then
    fail cockpit/prometheus "stated serves no /metrics"
  else
    P=$WORK/prom && mkdir -p "$P/data"
    printf '%s' "$metrics_token" >"$P/token" && chmod 600 "$P/token"
    PPORT=$(free_port)
    cat >"$P/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $RULES
scrape_configs:
  - job_name: stated
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: $P/token
    static_configs:
      - targets: ["127.0.0.1:$STATED_PORT"]
EOF
    "$PROMETHEUS" --config.file="$P/prometheus.yml" --storage.tsdb.path="$P/data" \
      --web.listen-address="127.0.0.1:$PPORT" >"$P/log" 2>&1 &
    PROM_PID=$!
    PU=http://127.0.0.1:$PPORT
    # The group evaluates every 10 s: wait for every rule to have been evaluated once.
    ok=
    for _ in $(seq 1 60); do
      sleep 1
      r=$(curl -s "$PU/api/v1/rules" 2>/dev/null) || continue
      n=$(jq '[.data.groups[].rules[] | select(.lastEvaluation != "0001-01-01T00:00:00Z")] | length' <<<"$r" 2>/dev/null)
      up=$(curl -s "$PU/api/v1/query" --data-urlencode 'query=up{job="stated"}' | jq -r '.data.result[0].value[1]' 2>/dev/null)
      [ "${n:-0}" -ge 7 ] && [ "$up" = 1 ] && { ok=1; break; }
    done
    if [ -n "$ok" ]; then
      pass cockpit/prometheus-scrapes-with-metrics-token
      bad=$(jq -r '.data.groups[].rules[] | select(.health != "ok") | "\(.name): \(.lastError)"' <<<"$r")
      expect_eq cockpit/prometheus-rules-evaluate "$bad" ""
      firing=$(curl -s "$PU/api/v1/alerts" | jq -r '.data.alerts[] | select(.state == "firing") | .labels.alertname')
      expect_eq cockpit/prometheus-healthy-stated-no-alert "$firing" ""
    else
      fail cockpit/prometheus-scrapes-with-metrics-token "up=${up:-none}, rules evaluated: ${n:-0}; $(tail -n 3 "$P/log" | tr '\n' ' ')"
    fi
    kill "$PROM_PID" 2>/dev/null; wait "$PROM_PID" 2>/dev/null; PROM_PID=
  fi
  stated_stop
fi

# --- the Alloy configuration ----------------------------------------------------------------
ENVS=(--env STATED_METRICS_TOKEN --env COCKPIT_PUSH_TOKEN)
if [ -z "$TF" ] || [ ! -x "$TF" ]; then
  skip cockpit/alloy "terraform not installed: the Alloy configuration was NOT rendered"
else
  render_tpl() { # OUT PRIVATE ADDRESS SCHEME
    mkdir -p "$WORK/tpl"
    (cd "$WORK/tpl" && echo "templatefile(\"$TPL\", {address = \"$3\", private = $2, push_url = \"https://0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d.metrics.cockpit.fr-par.scw.cloud/api/v1/push\", scheme = \"$4\", scrape_interval = \"10s\"})" |
      "$TF" console 2>"$WORK/tpl.err" | sed '1{/^<<EOT$/d};${/^EOT$/d}' >"$1")
  }
  render_tpl "$WORK/private.alloy" true 127.0.0.1:8481 http
  render_tpl "$WORK/public.alloy" false stated-x.functions.fnc.fr-par.scw.cloud:443 https
  if [ -s "$WORK/private.alloy" ] && [ -s "$WORK/public.alloy" ]; then
    pass cockpit/alloy-renders
    check cockpit/alloy-structure-private python3 "$CC" alloy "$WORK/private.alloy" --job stated "${ENVS[@]}" --private
    check cockpit/alloy-structure-public python3 "$CC" alloy "$WORK/public.alloy" --job stated "${ENVS[@]}" --public stated-x.functions.fnc.fr-par.scw.cloud
    sed 's|credentials = sys.env("STATED_METRICS_TOKEN")|credentials = "s3cr3t"|' "$WORK/private.alloy" >"$WORK/bad.alloy"
    if python3 "$CC" alloy "$WORK/bad.alloy" --job stated "${ENVS[@]}" --private >/dev/null; then
      fail cockpit/alloy-checker-bites "a literal credential was not reported"
    else
      pass cockpit/alloy-checker-bites
    fi
    if [ -n "$ALLOY" ]; then
      check cockpit/alloy-fmt "$ALLOY" fmt "$WORK/private.alloy"
    else
      skip cockpit/alloy-fmt "Grafana Alloy is not installed (no Debian package): only the structural check ran"
    fi
  else
    fail cockpit/alloy-renders "$(tail -n 3 "$WORK/tpl.err" | tr '\n' ' ')"
  fi
  # The module's job name is the one the rules and the dashboard select.
  jobs=$(grep -ohE 'job="[a-z]+"' "$RULES" | sort -u | tr '\n' ' ')
  expect_eq cockpit/job-name-consistent "$jobs/$(jq -r '.templating.list[] | select(.name == "job") | .query' "$DASH")" 'job="stated" /stated'
fi

# --- HCL --------------------------------------------------------------------------------------
if [ -z "$TF" ] || [ ! -x "$TF" ]; then
  skip cockpit/fmt "terraform not installed"
  skip cockpit/variables "terraform not installed"
else
  check cockpit/fmt "$TF" fmt -check -recursive "$MON" "$TOP/module/scaleway/state-backend"
  V=$WORK/vars && mkdir -p "$V" && cp "$MON/variables.tf" "$V/"
  cv() { (cd "$V" && echo "$1" | "$TF" console -var name=stated -var project_id=6f1f4b2e-8d3a-4c55-9b1e-2a7c0d9e4f10 "${@:2}" 2>&1); }
  expect_eq cockpit/stated-metrics-default-off "$(cv var.stated_metrics)" "null /* object */"
  expect_eq cockpit/stated-metrics-private-by-default "$(cv var.stated_metrics.private -var 'stated_metrics={}')" "true"
  for bad in '{private=false}' '{scrape_interval="10"}' '{forwarder_port=70000}'; do
    out=$(cv var.stated_metrics -var "stated_metrics=$bad")
    if grep -q 'Invalid value for variable' <<<"$out"; then pass "cockpit/stated-metrics-refused $bad"
    else fail "cockpit/stated-metrics-refused $bad" "$(head -n 3 <<<"$out" | tr '\n' ' ')"; fi
  done
fi
if command -v awk >/dev/null; then
  check cockpit/schema "$TOP/tests/modules/schema-check.sh" "$MON" "$TOP/module/scaleway/state-backend"
else
  skip cockpit/schema "awk not installed"
fi
# Least privilege: each token has exactly one scope.
scopes() { # RESOURCE: the scopes set to true
  awk -v r="resource \"scaleway_cockpit_token\" \"$1\"" 'index($0, r) == 1 { on = 1 } on && /^}/ { on = 0 }
    on && / = true$/ { print $1 }' "$MON/main.tf" | tr '\n' ' '
}
expect_eq cockpit/push-token-only-writes-metrics "$(scopes stated_push)" "write_metrics "
expect_eq cockpit/rules-token-only-writes-rules "$(scopes stated_rules)" "setup_metrics_rules "
# The stack hosting stated gets it: state-backend passes stated_metrics and its privacy.
if grep -q '^  stated_metrics = {' "$TOP/module/scaleway/state-backend/main.tf" &&
   grep -q 'private  = var.privacy == "private"' "$TOP/module/scaleway/state-backend/main.tf"; then
  pass cockpit/state-backend-wires-stated-metrics
else
  fail cockpit/state-backend-wires-stated-metrics "module.monitoring in state-backend/main.tf has no stated_metrics"
fi

t_done
