#!/usr/bin/env bash
# A local Kubernetes control plane on loopback, for `pulumi up` and the tests:
# etcd, kube-apiserver (RBAC, TokenRequest, the usual admission plugins),
# kube-controller-manager, kube-scheduler, kwok with two simulated nodes, and (NODE=real,
# the default) a real node whose pods really run (testbed/localcluster/node/). With a real node the
# kwok nodes carry the taint kwok.x-k8s.io/node=fake:NoSchedule, so a pod lands on them only
# when it tolerates that (benchmarks and scale tests); NODE=kwok starts no real node.
#
#   bash testbed/localcluster/cluster.sh up      # idempotent; prints how to use it
#   bash testbed/localcluster/cluster.sh down    # stops every process it started, by pid
#   bash testbed/localcluster/cluster.sh status
#   bash testbed/localcluster/cluster.sh clean   # down, then forget the cluster's data and state
#
# CLUSTER_DIR (default .cluster) holds certificates, data, logs, pids, the
# kubeconfig and the env file; PORT_BASE (default 16400) spaces the ports, so
# a second cluster can run beside the first (CLUSTER_DIR=.cluster-b PORT_BASE=16500).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$(dirname "$here")")"
. "$here/versions.env"
E2E_CACHE="${E2E_CACHE:-$HOME/.cache/llamastack-mcp-e2e}"
TOOLCHAIN="${TOOLCHAIN:-$E2E_CACHE/toolchain}"
BIN="$TOOLCHAIN/bin"
DIR="${CLUSTER_DIR:-$root/.cluster}"
case "$DIR" in /*) ;; *) DIR="$root/$DIR" ;; esac
PORT_BASE="${PORT_BASE:-16400}"
# A cluster keeps the node mode it was first started with (make up restarts it without saying).
NODE="${NODE:-$(cat "$DIR/node-mode" 2>/dev/null || echo real)}"
[[ "$NODE" == real || "$NODE" == kwok ]] || { echo "NODE must be real or kwok, not $NODE" >&2; exit 2; }
NAME="$(basename "$DIR" | sed 's/^\.cluster$/local/; s/^\.//')"
export PATH="$BIN:$PATH"
T0=$SECONDS

LOG_TAG=cluster
# shellcheck source=lib.sh
. "$here/lib.sh"

# ------------------------------------------------------------------ certificates
pki() {
  local p="$DIR/pki"
  [[ -f "$p/.done" ]] && return 0
  mkdir -p "$p"
  log "certificates"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$NAME-ca" \
    -keyout "$p/ca.key" -out "$p/ca.crt" 2>/dev/null
  cert apiserver kube-apiserver "" \
    "IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert admin admin system:masters
  cert controller-manager system:kube-controller-manager ""
  cert scheduler system:kube-scheduler ""
  cert kwok kwok system:masters
  openssl genrsa -out "$p/sa.key" 2048 2>/dev/null
  openssl rsa -in "$p/sa.key" -pubout -out "$p/sa.pub" 2>/dev/null
  touch "$p/.done"
}

# The aggregation layer's client identity (metrics-server on the real node trusts it), apart
# from .done so a cluster made before it gets it too.
front_proxy_pki() {
  local p="$DIR/pki"
  [[ -f "$p/front-proxy-client.crt" ]] || cert front-proxy-client front-proxy-client ""
  # One person with a bearer token, as an OpenShift user has: `developer`, in dev's named group
  # llama-stack-developers (Pulumi.dev.yaml's llamaStack.auth.allowedGroups). `make ask` asks as them.
  [[ -f "$p/tokens.csv" ]] || (umask 077; printf '%s,developer,developer,"llama-stack-developers"\n' \
    "$(openssl rand -hex 24)" >"$p/tokens.csv")
}

# --------------------------------------------------------------------- up
# Every APIService Available, or fail naming those that are not: an unavailable aggregated API stops
# namespace deletion (NamespaceDeletionDiscoveryFailure) and every `destroy` that deletes a namespace.
apis_available() {
  local pending=""
  for _ in $(seq 1 120); do
    pending="$(kc get apiservices --no-headers | awk '$3 != "True" {print $1}' | paste -sd' ')"
    [[ -z "$pending" ]] && return 0
    sleep 1
  done
  die "APIService(s) not Available after 120 s: $pending (kubectl get apiservices; logs in $DIR/logs/)"
}

up() {
  for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
    [[ -x "$BIN/$b" ]] || die "$BIN/$b is missing: run 'make toolchain' first"
  done
  mkdir -p "$DIR"/{logs,pids,etcd,pulumi-state}
  echo "$NODE" >"$DIR/node-mode"
  pki
  front_proxy_pki
  CLUSTER_DIR="$DIR" PORT_BASE="$PORT_BASE" bash "$here/node/node.sh" pki
  kubeconfig "$DIR/kubeconfig" admin
  kubeconfig "$DIR/controller-manager.kubeconfig" controller-manager
  kubeconfig "$DIR/scheduler.kubeconfig" scheduler
  kubeconfig "$DIR/kwok.kubeconfig" kwok

  start etcd etcd --name "$NAME" --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "$NAME=http://127.0.0.1:$ETCD_PEER_PORT" \
    --listen-metrics-urls "" --quota-backend-bytes 4294967296 --unsafe-no-fsync
  wait_for etcd 30 curl -sf "http://127.0.0.1:$ETCD_PORT/health"
  log "etcd ready on 127.0.0.1:$ETCD_PORT"

  local p="$DIR/pki"
  # An audit trail of who touched a Secret (metadata only, never the data): the tests read it to show
  # what the MCP server refused never reached the API server.
  cat >"$DIR/audit-policy.yaml" <<'EOF_POLICY'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  resources: [{group: "", resources: [secrets]}]
- level: None
EOF_POLICY
  start kube-apiserver kube-apiserver \
    --audit-policy-file "$DIR/audit-policy.yaml" --audit-log-path "$DIR/logs/audit.log" \
    --audit-log-maxsize 50 --audit-log-maxbackup 1 \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
    --tls-cert-file "$p/apiserver.crt" --tls-private-key-file "$p/apiserver.key" \
    --client-ca-file "$p/ca.crt" --token-auth-file "$p/tokens.csv" \
    --authorization-mode Node,RBAC --authentication-config "$here/apiserver-authentication.yaml" \
    --kubelet-client-certificate "$p/apiserver-kubelet-client.crt" --kubelet-client-key "$p/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$p/ca.crt" --kubelet-preferred-address-types InternalIP \
    --service-account-issuer "https://kubernetes.default.svc.cluster.local" \
    --service-account-jwks-uri "https://kubernetes.default.svc.cluster.local/openid/v1/jwks" \
    --service-account-key-file "$p/sa.pub" --service-account-signing-key-file "$p/sa.key" \
    --api-audiences "https://kubernetes.default.svc.cluster.local" \
    --service-cluster-ip-range 10.96.0.0/16 \
    --endpoint-reconciler-type none \
    --enable-admission-plugins NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,DefaultTolerationSeconds,PodSecurity,Priority,ResourceQuota,StorageObjectInUseProtection,NodeRestriction,MutatingAdmissionPolicy,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy \
    --feature-gates MutatingAdmissionPolicy=true --runtime-config admissionregistration.k8s.io/v1beta1=true \
    --allow-privileged=true \
    --requestheader-client-ca-file "$p/ca.crt" --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "$p/front-proxy-client.crt" --proxy-client-key-file "$p/front-proxy-client.key" \
    --enable-aggregator-routing=true \
    --profiling=false
  wait_for kube-apiserver 60 kc get --raw /readyz
  log "kube-apiserver ready on https://127.0.0.1:$API_PORT"

  start kube-controller-manager kube-controller-manager \
    --kubeconfig "$DIR/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$DIR/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$DIR/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$CM_PORT" \
    --leader-elect=false --use-service-account-credentials \
    --service-account-private-key-file "$p/sa.key" --root-ca-file "$p/ca.crt" \
    --cluster-signing-cert-file "$p/ca.crt" --cluster-signing-key-file "$p/ca.key" \
    --enable-hostpath-provisioner \
    --horizontal-pod-autoscaler-sync-period 5s \
    --controllers '*'
  start kube-scheduler kube-scheduler \
    --kubeconfig "$DIR/scheduler.kubeconfig" \
    --authentication-kubeconfig "$DIR/scheduler.kubeconfig" \
    --authorization-kubeconfig "$DIR/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$SCHED_PORT" --leader-elect=false
  # kwok's own stages (from its module): nodes become Ready and keep a lease;
  # pods become Running/Ready, complete and go away as a kubelet would say.
  # testbed/localcluster/stages.yaml adds ours (pods that never become Ready).
  local stages k
  k="$(python3 "$here/crds.py" module sigs.k8s.io/kwok "$KWOK_VERSION")/kustomize/stage" \
    || die "could not fetch the kwok module"
  stages=(-c "$k/node/fast/node-initialize.yaml" -c "$k/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml"
          -c "$k/pod/fast/pod-complete.yaml" -c "$k/pod/fast/pod-delete.yaml" -c "$here/stages.yaml")
  start kwok kwok --kubeconfig "$DIR/kwok.kubeconfig" "${stages[@]}" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --server-address "127.0.0.1:$KWOK_PORT" --cidr 10.244.0.0/16 --node-ip 127.0.0.1 \
    --node-lease-duration-seconds 40

  cluster_objects
  write_env
  if [[ "$NODE" == real ]]; then
    CLUSTER_DIR="$DIR" PORT_BASE="$PORT_BASE" bash "$here/node/node.sh" up
  fi
  wait_for "nodes Ready" 60 kc wait --for=condition=Ready node --all --timeout=1s
  wait_for "default ServiceAccount" 60 kc get serviceaccount default -n default
  apis_available
  log "cluster $NAME ready ($(kc get nodes --no-headers | wc -l) nodes)"
  cat <<EOF
Local cluster '$NAME' is up.
  . $(rel "$DIR")/env            # kubectl, pulumi and the stack backend for this cluster
  kubectl get nodes
  make up STACK=dev ARGS=--yes
EOF
}

rel() { realpath --relative-to="$PWD" "$1" 2>/dev/null || echo "$1"; }

# Objects every test and deploy expect: nodes, a default StorageClass, CRDs.
cluster_objects() {
  local n zone taints='[]'
  # With a real node, pods stay off the simulated ones unless they tolerate them.
  [[ "$NODE" == real ]] && taints='[{key: kwok.x-k8s.io/node, value: fake, effect: NoSchedule}]'
  for n in 1 2; do
    zone=$([[ $n == 1 ]] && echo zone-a || echo zone-b)
    apply_manifest kwok-node.yaml
  done
  # PVCs bind and are deleted for real: with a real node by its own provisioner (volumes a pod's
  # arbitrary UID can write: testbed/localcluster/node/provisioner.py), else by the controller-manager's.
  local provisioner=kubernetes.io/host-path
  [[ "$NODE" == real ]] && provisioner=llamastack-mcp.local/hostpath
  if [[ "$(kc get storageclass standard -o jsonpath='{.provisioner}' 2>/dev/null)" != "$provisioner" ]]; then
    kc delete storageclass standard --ignore-not-found >/dev/null
  fi
  apply_manifest storageclass.yaml
  apply_manifest issuer-discovery.yaml
  crds
  restricted_uid
  if [[ "$NODE" == real ]]; then never_pull; fi
}

# With a real node nothing is ever pulled: containerd would fall back from the closed mirror to the
# registry itself for an image that is not imported. Every container's pull policy becomes Never,
# so a missing image is ErrImageNeverPull on the node, and no packet leaves for it.
never_pull() {
  local kind lower
  for kind in containers initContainers; do
    lower="$(tr '[:upper:]' '[:lower:]' <<<"$kind")"
    apply_manifest never-pull.yaml
  done
}

# OpenShift's restricted-v2 SCC gives a pod that chooses no UID one from its namespace's range, and
# the stacks on platform: openshift rely on it (the Llama Stack image, like upstream's, names no
# USER). This cluster has no SCC admission: this policy does that one part of it, with a fixed
# UID from OpenShift's default range. A pod that sets its UID (platform: kubernetes, an SCC's
# MustRunAs) is left as it is.
restricted_uid() {
  apply_manifest restricted-uid.yaml
}

crds() {
  local files=()
  mapfile -t files < <(python3 "$here/crds.py") || die "could not fetch the CRDs' modules"
  (( ${#files[@]} == 10 )) || die "could not fetch the CRDs' modules"
  kc apply --server-side --field-manager local-cluster --force-conflicts "${files[@]/#/-f}" >/dev/null
  kc wait --for=condition=Established crd --all --timeout=60s >/dev/null
  log "CRDs: Route, SecurityContextConstraints (openshift/api $OPENSHIFT_API_VERSION), ServiceMonitor, PrometheusRule (prometheus-operator $PROMETHEUS_OPERATOR_VERSION), Gateway API's standard channel (gateway-api $GATEWAY_API_VERSION)"
}

write_env() {
  cat >"$DIR/env" <<EOF
# Source this file: tools and Pulumi settings for the local cluster '$NAME'.
export PATH="$BIN:\$PATH"
export KUBECONFIG="$DIR/kubeconfig"
export PULUMI_BACKEND_URL="file://$DIR/pulumi-state"
export PULUMI_CONFIG_PASSPHRASE="\${PULUMI_CONFIG_PASSPHRASE-local-cluster-not-a-secret}"
export PULUMI_HOME="$E2E_CACHE/pulumi-home"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
export LOCAL_CLUSTER_DIR="$DIR"
# The real node's edge (Traefik): HTTPS on this loopback address for the cluster's Ingresses and Gateway routes.
export EDGE_ADDRESS=$EDGE_ADDRESS
EOF
}

down() {
  CLUSTER_DIR="$DIR" PORT_BASE="$PORT_BASE" bash "$here/node/node.sh" down
  local stopped
  stopped="$(stop kwok kube-scheduler kube-controller-manager kube-apiserver etcd)"
  log "stopped: ${stopped:-nothing was running}"
}

status() {
  local name rc=0
  for name in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
    if pid_alive "$name"; then echo "$name running (pid $(cat "$DIR/pids/$name"))"; else echo "$name stopped"; rc=1; fi
  done
  [[ "$NODE" == kwok ]] || CLUSTER_DIR="$DIR" PORT_BASE="$PORT_BASE" bash "$here/node/node.sh" status || rc=1
  return $rc
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  status) status ;;
  clean) down; rm -rf "$DIR"; log "removed $DIR" ;;
  *) echo "usage: $0 up|down|status|clean" >&2; exit 2 ;;
esac
