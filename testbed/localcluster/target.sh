#!/usr/bin/env bash
# Sourced by ops/pulumi.sh when the target is the local cluster (no kubeconfig given, or LOCAL=1):
# builds and starts it when needed, then sets what the Pulumi command runs with there: its kubeconfig,
# its own file backend, a copy of the stack file holding the local salt, the scripted model, the
# port-forwarded way in and its one person's token. Reads: stack, cmd, cluster_dir, root, say;
# sets: config_file. A given cluster never comes here.
here_local="$root/testbed/localcluster"
if [[ "${LOCAL:-}" == 1 ]]; then
  say "LOCAL=1: using the local cluster, whatever kubeconfig exists"
elif [[ -n "${KUBECONFIG:-}" ]]; then
  say "KUBECONFIG is the local cluster's ($cluster_dir/env): using the local cluster"
else
  say "no kubeconfig given (KUBECONFIG, ~/.kube/config, kubernetes:kubeconfig/context): using the local cluster"
fi
bash "$here_local/toolchain.sh" >/dev/null
# The real node's packages and images (built once, cached by version; the first time takes minutes).
bash "$here_local/../devtools/install-system.sh"
bash "$here_local/cluster.sh" up >/dev/null
# shellcheck disable=SC1091
. "$cluster_dir/env"
say "cluster: local ($KUBECONFIG)"
say "backend: $PULUMI_BACKEND_URL (the local cluster's own state)"
if [[ "$(cat "$cluster_dir/node-mode" 2>/dev/null)" == real && "$cmd" == up ]]; then
  # The stacks' model endpoint (vllm.models.svc): no model runs here, a scripted stand-in does.
  "${PYTHON:-$root/venv/bin/python}" -m testbed.localcluster.model apply "$KUBECONFIG"
  say "model: a scripted stand-in at vllm.models.svc (testbed/localcluster/model.py), not a language model"
fi
# Its Routes have no router: make verify/ask reach the servers through their Services, except what the real
# node's edge (Traefik on loopback, node/node.sh) serves: an Ingress or HTTPRoute, at its real URL.
export LLAMASTACK_MCP_PORT_FORWARD=1
if [[ "$(cat "$cluster_dir/node-mode" 2>/dev/null)" == real && -n "${EDGE_ADDRESS:-}" ]]; then
  export LLAMASTACK_MCP_EDGE="$EDGE_ADDRESS"
fi
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
