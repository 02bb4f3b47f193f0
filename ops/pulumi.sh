#!/usr/bin/env bash
# `make up/preview/destroy/refresh`: decide which cluster and which state
# backend a Pulumi command uses, say so, then run it.
#
#   bash ops/pulumi.sh STACK COMMAND [ARGS...]
#   bash ops/pulumi.sh STACK exec PROGRAM [ARGS...]   # another program, same cluster and backend
#
# Stack: only one with a stack file (Pulumi.STACK.yaml); a mistyped name is refused, not created.
#
# Cluster: a kubeconfig in $KUBECONFIG or ~/.kube/config, or `kubernetes:kubeconfig`
# / `kubernetes:context` in the stack file, is used as given. With none of
# these, or with LOCAL=1 whatever kubeconfig exists, the local cluster ($CLUSTER_DIR, default .cluster/)
# is the target: testbed/localcluster/target.sh builds and starts it when needed, and its own file backend
# holds the state. A given cluster runs nothing of testbed/.
# Either way the context and API server URL are named first, and a stack pinned elsewhere
# (`target.context`, `target.apiServer`) or a server too old for the stack is refused (ops/target.py).
#
# Backend (for a given cluster): $PULUMI_BACKEND_URL if set, else the backend
# you are logged in to (`pulumi login`), else a file backend in ./.pulumi-state.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
# The operator commands and the local cluster's helpers run from this checkout, whatever the project directory.
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
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
elif [[ -n "${LOCAL_CLUSTER_DIR:-}" && "${KUBECONFIG:-}" == "$LOCAL_CLUSTER_DIR/kubeconfig" ]] && ! stack_names_a_cluster; then
  # `. .cluster/env` names the local cluster itself: it stays the local cluster (its model, its own state
  # and salt, its way in), not a given cluster whose stack file would take the local salt.
  target="local"
  cluster_dir="$LOCAL_CLUSTER_DIR"
  export CLUSTER_DIR="$cluster_dir"
elif [[ -n "${KUBECONFIG:-}" || -f "$HOME/.kube/config" ]] || stack_names_a_cluster; then
  target="given"
else
  target="local"
fi

if [[ "$target" == "local" ]]; then
  # shellcheck source=../testbed/localcluster/target.sh
  . "$root/testbed/localcluster/target.sh"
else
  say "cluster: ${KUBECONFIG:-$HOME/.kube/config}$(stack_names_a_cluster && echo ' (and the stack file'"'"'s kubernetes: settings)')"
  toolchain="${TOOLCHAIN:-${E2E_CACHE:-$HOME/.cache/llamastack-mcp-e2e}/toolchain}"
  if ! command -v pulumi >/dev/null 2>&1; then
    if [[ ! -x "$toolchain/bin/pulumi" ]]; then
      say "refused: no pulumi CLI on PATH: install it (https://www.pulumi.com/docs/install/), or build this"
      say "repository's with 'make toolchain' (minutes; cached); nothing was changed"
      exit 2
    fi
    say "no pulumi CLI on PATH: using the one 'make toolchain' built ($toolchain/bin)"
    export PATH="$toolchain/bin:$PATH"
  fi
  if [[ "$(command -v pulumi)" == "$toolchain/bin/pulumi" ]]; then
    # shellcheck source=../testbed/localcluster/versions.env
    . "$root/testbed/localcluster/versions.env"  # the provider release it built
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

# shellcheck source=pulumi.env
. "$here/pulumi.env"
if [[ "$cmd" == destroy ]]; then
  if [[ " $* " =~ [[:space:]](--parallel|-p)[=[:space:][:digit:]] ]]; then
    say "parallel: as given in ARGS"
  elif [[ -n "${PULUMI_PARALLEL:-}" ]]; then
    say "parallel: $PULUMI_PARALLEL deletions in flight (PULUMI_PARALLEL)"
  else
    export PULUMI_PARALLEL="$DESTROY_PARALLEL"
    say "parallel: $DESTROY_PARALLEL deletions in flight (ops/pulumi.env; PULUMI_PARALLEL=N to change)"
  fi
fi

# The cluster named, and refused if the stack is pinned elsewhere or needs a newer server.
kubectl_bin="$(command -v kubectl || echo "${E2E_CACHE:-$HOME/.cache/llamastack-mcp-e2e}/toolchain/bin/kubectl")"
export KUBECTL="$kubectl_bin"  # the guard's kubectl too
"${PYTHON:-$root/venv/bin/python}" -m ops.target \
  --stack-file "$project/Pulumi.$stack.yaml" --command "$cmd" --kubectl "$kubectl_bin" || exit $?

if [[ "$cmd" == exec ]]; then
  exec "$@"
fi
pulumi stack select --create "$stack" >/dev/null
python="${PYTHON:-$root/venv/bin/python}"
case "$cmd" in
  up|update|preview|destroy|refresh)
    [[ "$cmd" == update ]] && cmd=up
    guard() { "$python" -m ops.recovery.guard "$@"; }
    guard before "$stack" "$cmd" "$@"
    rc=0
    pulumi "$cmd" --stack "$stack" ${config_file[@]+"${config_file[@]}"} "$@" || rc=$?
    guard after "$stack" "$cmd" "$rc" || rc=$?
    exit "$rc" ;;
esac
exec pulumi "$cmd" --stack "$stack" "$@"
