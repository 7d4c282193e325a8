#!/bin/bash
# Installs everything stated needs to build and test on Debian 12 (run as root). Idempotent:
# packages already present are skipped by apt. About 45 s on a fresh machine (plus ~20 s for
# chromium). Then the browser suite's npm packages (tests/ui, puppeteer-core pinned by its
# package-lock.json) with `npm ci`, when npm is there and they are not installed yet.
set -euo pipefail
PKGS=(pkg-config libh2o-evloop-dev libjansson-dev libpq-dev libcurl4-openssl-dev libssl-dev
      postgresql nginx-light radosgw ceph-mon ceph-osd awscli wrk postgresql-contrib curl openssl prometheus
      clang-format cppcheck jq python3 python3-cryptography python3-yaml dpkg-dev lintian systemd
      chromium)
# node and npm for the browser suite, from Debian (18.x) unless a node is already installed.
command -v npm >/dev/null || PKGS+=(nodejs npm)
TOP=$(cd "$(dirname "$0")/../.." && pwd)

# The browser suite (80-console) drives chromium with puppeteer-core from tests/ui/node_modules.
npm_ui() {
  [ -f "$TOP/tests/ui/node_modules/puppeteer-core/package.json" ] && return 0
  if ! command -v npm >/dev/null; then
    echo "install-deps: npm not found: the console suite will be SKIPPED (apt-get install nodejs npm)" >&2
    return 0
  fi
  echo "install-deps: npm ci --prefix tests/ui"
  npm ci --prefix "$TOP/tests/ui" --no-audit --no-fund --loglevel=error >/dev/null ||
    echo "install-deps: npm ci --prefix tests/ui failed: the console suite will be SKIPPED" >&2
}
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  npm_ui
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-deps: missing packages: ${missing[*]} (run as root: apt-get install ${missing[*]})" >&2
  npm_ui
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
npm_ui
