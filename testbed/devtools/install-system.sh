#!/usr/bin/env bash
# Debian packages the tests use: promtool (package prometheus), PostgreSQL
# (a real database for the prod e2e test), npm (the MCP server binary),
# openssl and curl (the local cluster). Installs only what is missing.
set -euo pipefail
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v openssl >/dev/null 2>&1 || need+=(openssl)   # the local cluster's certificates
command -v curl >/dev/null 2>&1 || need+=(curl)
# The local cluster's real node (testbed/localcluster/node/) and the images it runs (testbed/localcluster/images/).
command -v runc >/dev/null 2>&1 || need+=(runc)
command -v containerd >/dev/null 2>&1 || need+=(containerd)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v conntrack >/dev/null 2>&1 || need+=(conntrack)
# The node's containment (an nftables table of its own) and kube-router's network policy sets.
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v ipset >/dev/null 2>&1 || need+=(ipset)
command -v umoci >/dev/null 2>&1 || need+=(umoci)
command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v patchelf >/dev/null 2>&1 || need+=(patchelf)
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)   # the pause image, from pause.c
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)   # actionlint checks the workflows' run: scripts with it
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "install-system: missing ${need[*]}; install them (apt-get install ${need[*]}) or run as root" >&2
  exit 1
fi
echo "install-system: apt-get install ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d keeps these packages' services (containerd, PostgreSQL, Prometheus) from starting: the
# tests start their own. Only for this install: a file that was there before is put back, one we made
# is removed, so services of packages installed later on this machine start as usual.
policy=/usr/sbin/policy-rc.d
saved=""
if [ -e "$policy" ]; then saved="$(mktemp)"; cp -p "$policy" "$saved"; fi
restore_policy() { if [ -n "$saved" ]; then mv "$saved" "$policy"; else rm -f "$policy"; fi; }
trap restore_policy EXIT
printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy"
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "install-system: installed ${need[*]} (their services left stopped; /usr/sbin/policy-rc.d as it was)" >&2
