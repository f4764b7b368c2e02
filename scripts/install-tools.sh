#!/usr/bin/env bash
# Installs, from Debian's packages, the command-line tools the tests use, when missing:
#   promtool (package prometheus: test/integration/monitoring.test.ts checks deploy/prometheus),
#   openssl (TLS test certificates), kcat (inspecting Kafka).
# Idempotent and quiet: a no-op when every tool is present; otherwise one `apt-get update` and one
# `apt-get install`, then one line saying what was installed. Installing prometheus starts no
# Prometheus server: services are kept from starting during the install, and on a machine run by
# systemd the unit the package enables is disabled (we want its promtool, not a server).
set -euo pipefail

declare -A PACKAGE_OF=([promtool]=prometheus [openssl]=openssl [kcat]=kcat)
missing=()
for tool in promtool openssl kcat; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${PACKAGE_OF[$tool]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo -n bash "$0" "$@"
  fi
  echo "install-tools: ${missing[*]} missing and not root (no sudo): apt-get install ${missing[*]} as root" >&2
  exit 1
fi

start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-qq -o DPkg::Lock::Timeout=600 -o Dpkg::Use-Pty=0)

# Keep maintainer scripts from starting services (invoke-rc.d and deb-systemd-invoke ask
# policy-rc.d; 101 = "not allowed"). An existing policy is left as it is.
policy=/usr/sbin/policy-rc.d
own_policy=""
cleanup() { [ -z "$own_policy" ] || rm -f "$policy"; }
trap cleanup EXIT
if [ ! -e "$policy" ]; then
  own_policy=1
  printf '#!/bin/sh\n# scripts/install-tools.sh: no service starts while it installs\nexit 101\n' >"$policy"
  chmod 755 "$policy"
fi

log=$(mktemp)
if ! { apt-get "${apt_opts[@]}" update && apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  echo "install-tools: apt-get failed installing ${missing[*]}" >&2
  exit 1
fi
rm -f "$log"

# Under systemd the package enables prometheus.service for the next boot: turn it off.
if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now --quiet prometheus.service >/dev/null 2>&1 || true
fi

for tool in promtool openssl kcat; do
  command -v "$tool" >/dev/null 2>&1 || { echo "install-tools: $tool still missing after installing ${missing[*]}" >&2; exit 1; }
done
echo "install-tools: installed ${missing[*]} in $(($(date +%s) - start)) s"
