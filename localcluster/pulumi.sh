#!/usr/bin/env bash
# `make up/preview/destroy/refresh`: decide which cluster and which state
# backend a Pulumi command uses, say so, then run it.
#
#   bash localcluster/pulumi.sh STACK COMMAND [ARGS...]
#   bash localcluster/pulumi.sh STACK exec PROGRAM [ARGS...]   # another program, same cluster and backend
#
# Cluster: a kubeconfig in $KUBECONFIG or ~/.kube/config, or `kubernetes:kubeconfig`
# / `kubernetes:context` in the stack file, is used as given. With none of
# these, the local cluster ($CLUSTER_DIR, default .cluster/) is the target: it is built and started
# when needed, and its own file backend holds the state.
#
# Backend (for a given cluster): $PULUMI_BACKEND_URL if set, else the backend
# you are logged in to (`pulumi login`), else a file backend in ./.pulumi-state.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
stack="$1"; cmd="$2"; shift 2
# PROJECT_DIR: the Pulumi project (default: this checkout); CLUSTER_DIR: the local cluster.
project="${PROJECT_DIR:-$root}"
cluster_dir="${CLUSTER_DIR:-$root/.cluster}"
export CLUSTER_DIR="$cluster_dir"
cd "$project"

say() { printf '==> %s\n' "$*" >&2; }

stack_names_a_cluster() {
  [[ -f "Pulumi.$stack.yaml" ]] && grep -Eq '^\s+kubernetes:(kubeconfig|context):' "Pulumi.$stack.yaml"
}

if [[ -n "${KUBECONFIG:-}" || -f "$HOME/.kube/config" ]] || stack_names_a_cluster; then
  target="given"
else
  target="local"
fi

if [[ "$target" == "local" ]]; then
  say "no kubeconfig given (KUBECONFIG, ~/.kube/config, kubernetes:kubeconfig/context): using the local cluster"
  bash "$here/toolchain.sh" >/dev/null
  # The real node's packages and images (built once, cached by version; the first time takes minutes).
  bash "$here/../devtools/install-system.sh"
  bash "$here/cluster.sh" up >/dev/null
  # shellcheck disable=SC1091
  . "$cluster_dir/env"
  say "cluster: local ($KUBECONFIG)"
  say "backend: $PULUMI_BACKEND_URL (the local cluster's own state)"
  if [[ "$(cat "$cluster_dir/node-mode" 2>/dev/null)" == real && "$cmd" == up ]]; then
    # The stacks' model endpoint (vllm.models.svc): no model runs here, a scripted stand-in does.
    "${PYTHON:-$root/venv/bin/python}" -m localcluster.model apply "$KUBECONFIG"
    say "model: a scripted stand-in at vllm.models.svc (localcluster/model.py), not a language model"
  fi
  # Its Routes have no router: make verify/ask reach the servers through their Services.
  export LLAMASTACK_MCP_PORT_FORWARD=1
  if [[ "$cmd" == exec && -z "${LLAMA_STACK_TOKEN:-}" ]]; then
    # The local cluster's users hold certificates, not tokens: ask as a ServiceAccount.
    LLAMA_STACK_TOKEN="$(kubectl create token default -n default --duration=1h)"
    export LLAMA_STACK_TOKEN
    say "caller: ServiceAccount default/default (a 1-hour token; LLAMA_STACK_TOKEN to be someone else)"
  fi
else
  say "cluster: ${KUBECONFIG:-$HOME/.kube/config}$(stack_names_a_cluster && echo ' (and the stack file'"'"'s kubernetes: settings)')"
  . "$here/versions.env"
  toolchain="${TOOLCHAIN:-${E2E_CACHE:-$HOME/.cache/llamastack-mcp-e2e}/toolchain}"
  if ! command -v pulumi >/dev/null 2>&1; then
    say "no pulumi CLI on PATH: using the one built by 'make toolchain'"
    bash "$here/toolchain.sh" >/dev/null
    export PATH="$toolchain/bin:$PATH"
  fi
  if [[ "$(command -v pulumi)" == "$toolchain/bin/pulumi" ]]; then
    # Our CLI downloads no plugins: give your Pulumi home the provider we built (same release).
    provider="$toolchain/pulumi-kubernetes-$PULUMI_KUBERNETES_VERSION/pulumi-resource-kubernetes"
    if ! pulumi plugin ls 2>/dev/null | grep -Eq "^kubernetes +resource +$PULUMI_KUBERNETES_VERSION "; then
      pulumi plugin install resource kubernetes "v$PULUMI_KUBERNETES_VERSION" --file "$provider" >/dev/null
      say "installed the Kubernetes provider v$PULUMI_KUBERNETES_VERSION (built by make toolchain) into ${PULUMI_HOME:-~/.pulumi}"
    fi
  fi
  if [[ -n "${PULUMI_BACKEND_URL:-}" ]]; then
    say "backend: $PULUMI_BACKEND_URL (PULUMI_BACKEND_URL)"
  elif who="$(pulumi whoami --verbose 2>/dev/null | sed -n 's/^Backend URL: //p')" && [[ -n "$who" ]]; then
    say "backend: $who (from pulumi login)"
  else
    export PULUMI_BACKEND_URL="file://$project/.pulumi-state"
    mkdir -p "$project/.pulumi-state"
    say "backend: $PULUMI_BACKEND_URL (not logged in anywhere; 'pulumi login' to use another)"
  fi
fi

export LLAMASTACK_MCP_BACKEND="${PULUMI_BACKEND_URL:-${who:-}}"
# A file (or bucket) backend rewrites the whole state after every resource step: quadratic in the
# stack's size (`make bench-deploy`: a 1,000-object create took 200 s with it, 58 s without), so
# there the per-step checkpoints are skipped and recovery/guard.py repairs what an update killed
# midway leaves (a stale lock, objects the state never recorded). Pulumi Cloud journals each step
# instead (cheap): its checkpoints stay. PULUMI_SKIP_CHECKPOINTS=false keeps Pulumi's default anywhere.
if [[ "$LLAMASTACK_MCP_BACKEND" != https://* ]]; then
  export PULUMI_SKIP_CHECKPOINTS="${PULUMI_SKIP_CHECKPOINTS:-true}"
fi

if [[ "$cmd" == exec ]]; then
  exec "$@"
fi
pulumi stack select --create "$stack" >/dev/null
python="${PYTHON:-$root/venv/bin/python}"
case "$cmd" in
  up|update|preview|destroy|refresh)
    [[ "$cmd" == update ]] && cmd=up
    guard() { PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" "$python" -m recovery.guard "$@"; }
    guard before "$stack" "$cmd" "$@"
    rc=0
    pulumi "$cmd" --stack "$stack" "$@" || rc=$?
    guard after "$stack" "$cmd" "$rc" || rc=$?
    exit "$rc" ;;
esac
exec pulumi "$cmd" --stack "$stack" "$@"
