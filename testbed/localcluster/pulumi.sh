#!/usr/bin/env bash
# `make up/preview/destroy/refresh`: decide which cluster and which state
# backend a Pulumi command uses, say so, then run it.
#
#   bash testbed/localcluster/pulumi.sh STACK COMMAND [ARGS...]
#   bash testbed/localcluster/pulumi.sh STACK exec PROGRAM [ARGS...]   # another program, same cluster and backend
#
# Stack: only one with a stack file (Pulumi.STACK.yaml); a mistyped name is refused, not created.
#
# Cluster: a kubeconfig in $KUBECONFIG or ~/.kube/config, or `kubernetes:kubeconfig`
# / `kubernetes:context` in the stack file, is used as given. With none of
# these, or with LOCAL=1 whatever kubeconfig exists, the local cluster ($CLUSTER_DIR, default .cluster/)
# is the target: it is built and started when needed, and its own file backend holds the state.
# Either way the context and API server URL are named first, and a stack pinned elsewhere
# (`target.context`, `target.apiServer`) or a server too old for the stack is refused (ops/target.py).
#
# Backend (for a given cluster): $PULUMI_BACKEND_URL if set, else the backend
# you are logged in to (`pulumi login`), else a file backend in ./.pulumi-state.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$(dirname "$here")")"
stack="$1"; cmd="$2"; shift 2
config_file=()
# PROJECT_DIR: the Pulumi project (default: this checkout); CLUSTER_DIR: the local cluster.
project="${PROJECT_DIR:-$root}"
cluster_dir="${CLUSTER_DIR:-$root/.cluster}"
export CLUSTER_DIR="$cluster_dir"
cd "$project"

say() { printf '==> %s\n' "$*" >&2; }

if [[ ! -f "Pulumi.$stack.yaml" ]]; then
  say "refused: no stack file Pulumi.$stack.yaml in $project (stacks here: $(ls Pulumi.*.yaml 2>/dev/null \
    | sed 's/^Pulumi\.//; s/\.yaml$//' | grep -v '^yaml$' | paste -sd' ')); nothing was created"
  exit 2
fi

stack_names_a_cluster() {
  [[ -f "Pulumi.$stack.yaml" ]] && grep -Eq '^\s+kubernetes:(kubeconfig|context):' "Pulumi.$stack.yaml"
}

if [[ "${LOCAL:-}" == 1 ]]; then
  if stack_names_a_cluster; then  # Pulumi's provider would follow the stack file, not LOCAL
    say "refused: LOCAL=1, but Pulumi.$stack.yaml names a cluster (kubernetes:kubeconfig/context); nothing was changed"
    exit 3
  fi
  target="local"
elif [[ -n "${KUBECONFIG:-}" || -f "$HOME/.kube/config" ]] || stack_names_a_cluster; then
  target="given"
else
  target="local"
fi

if [[ "$target" == "local" ]]; then
  if [[ "${LOCAL:-}" == 1 ]]; then
    say "LOCAL=1: using the local cluster, whatever kubeconfig exists"
  else
    say "no kubeconfig given (KUBECONFIG, ~/.kube/config, kubernetes:kubeconfig/context): using the local cluster"
  fi
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
    "${PYTHON:-$root/venv/bin/python}" -m testbed.localcluster.model apply "$KUBECONFIG"
    say "model: a scripted stand-in at vllm.models.svc (testbed/localcluster/model.py), not a language model"
  fi
  # Its Routes have no router: make verify/ask reach the servers through their Services.
  export LLAMASTACK_MCP_PORT_FORWARD=1
  if [[ "$cmd" == exec && -z "${LLAMA_STACK_TOKEN:-}" ]]; then
    # Its one person with a token: developer, of the group dev names (llama-stack-developers).
    LLAMA_STACK_TOKEN="$(cut -d, -f1 "$cluster_dir/pki/tokens.csv")"
    export LLAMA_STACK_TOKEN
    say "caller: developer (group llama-stack-developers; the local cluster's token; LLAMA_STACK_TOKEN to be someone else)"
  fi
  # Its state is encrypted with the local cluster's published passphrase. Pulumi writes the salt that
  # makes into the stack file: into a copy under the cluster's directory, never into yours (a stack file
  # that has its own salt is used as it is).
  if ! grep -q '^encryptionsalt:' "Pulumi.$stack.yaml"; then
    copy="$cluster_dir/stack-config/Pulumi.$stack.yaml"
    mkdir -p "$(dirname "$copy")"
    salt="$(grep -h '^encryptionsalt:' "$copy" 2>/dev/null || true)"
    if [[ -z "$salt" ]] || ! grep -Eq "^$stack\*? " <<<"$(pulumi stack ls 2>/dev/null)"; then
      scratch="$(mktemp -d)"; cp Pulumi.yaml "$scratch/"
      (cd "$scratch" && pulumi stack select --create "$stack" >/dev/null)
      salt="$(grep -h '^encryptionsalt:' "$scratch/Pulumi.$stack.yaml" || true)"; rm -rf "$scratch"
    fi
    { cat "Pulumi.$stack.yaml"; printf '%s\n' "$salt"; } >"$copy"
    config_file=(--config-file "$copy")
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
# Checkpoints: Pulumi writes the state after every resource step, so an interrupted update loses no
# record. On your backends that default stays. A file backend rewrites the whole state each time
# (`make bench-deploy`: a 1,000-object create took 200 s with it, 58 s without), so the local
# cluster's own state skips them and ops/recovery/guard.py repairs what an interrupted update leaves.
# PULUMI_SKIP_CHECKPOINTS=true is your opt-in anywhere (docs/operations.md#checkpoints).
if [[ "$target" == local ]]; then
  export PULUMI_SKIP_CHECKPOINTS="${PULUMI_SKIP_CHECKPOINTS:-true}"
fi
if [[ "${PULUMI_SKIP_CHECKPOINTS:-false}" == true ]]; then
  say "checkpoints: skipped (PULUMI_SKIP_CHECKPOINTS=true$([[ "$target" == local ]] && echo ', the local cluster'"'"'s own state'))"
else
  say "checkpoints: on (Pulumi's default)"
fi

# The cluster named, and refused if the stack is pinned elsewhere or needs a newer server.
kubectl_bin="$(command -v kubectl || echo "${E2E_CACHE:-$HOME/.cache/llamastack-mcp-e2e}/toolchain/bin/kubectl")"
export KUBECTL="$kubectl_bin"  # the guard's kubectl too
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" "${PYTHON:-$root/venv/bin/python}" -m ops.target \
  --stack-file "$project/Pulumi.$stack.yaml" --command "$cmd" --kubectl "$kubectl_bin" || exit $?

if [[ "$cmd" == exec ]]; then
  exec "$@"
fi
pulumi stack select --create "$stack" >/dev/null
python="${PYTHON:-$root/venv/bin/python}"
case "$cmd" in
  up|update|preview|destroy|refresh)
    [[ "$cmd" == update ]] && cmd=up
    guard() { PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" "$python" -m ops.recovery.guard "$@"; }
    guard before "$stack" "$cmd" "$@"
    rc=0
    pulumi "$cmd" --stack "$stack" ${config_file[@]+"${config_file[@]}"} "$@" || rc=$?
    guard after "$stack" "$cmd" "$rc" || rc=$?
    exit "$rc" ;;
esac
exec pulumi "$cmd" --stack "$stack" "$@"
