#!/bin/bash
# Installs everything stated needs to build and test on Debian 12 (run as root). Idempotent:
# packages already present are skipped by apt. About 45 s on a fresh machine.
set -euo pipefail
PKGS=(pkg-config libh2o-evloop-dev libjansson-dev libpq-dev libcurl4-openssl-dev libssl-dev
      postgresql radosgw ceph-mon ceph-osd awscli wrk postgresql-contrib curl openssl prometheus
      clang-format cppcheck jq python3 python3-cryptography python3-yaml dpkg-dev lintian systemd)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "install-deps: missing packages: ${missing[*]} (run as root: apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
