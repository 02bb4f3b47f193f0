#!/usr/bin/env bash
# A real node for the local cluster: containerd + runc, Debian's CNI plugins, the kubelet,
# kube-proxy (iptables) and CoreDNS, all as processes of this machine with their state under
# $CLUSTER_DIR/node. Called by localcluster/cluster.sh (NODE=real); by hand:
#
#   bash localcluster/node/node.sh up|down|status|containment
#
# Containment comes first, before any pod or Service exists: the pod range and the Service
# range are routed to the node's own bridge, forwarding from them to any other interface is
# dropped, every registry containerd knows points at a closed loopback port, and every image a
# pod needs is imported beforehand. Nothing here sends a packet beyond this machine, and the
# checks (`containment`) read rules and routes; they never send one.
#
# One real node per machine: its iptables rules, bridge and cgroups are the machine's.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
localcluster="$(dirname "$here")"
root="$(dirname "$localcluster")"
. "$localcluster/versions.env"
E2E_CACHE="${E2E_CACHE:-$HOME/.cache/llamastack-mcp-e2e}"
TOOLCHAIN="${TOOLCHAIN:-$E2E_CACHE/toolchain}"
BIN="$TOOLCHAIN/bin"
DIR="${CLUSTER_DIR:-$root/.cluster}"
case "$DIR" in /*) ;; *) DIR="$root/$DIR" ;; esac
PORT_BASE="${PORT_BASE:-16400}"
API_PORT=$((PORT_BASE + 3))
KUBELET_PORT=$((PORT_BASE + 10))
KUBELET_HEALTHZ_PORT=$((PORT_BASE + 11))
PROXY_METRICS_PORT=$((PORT_BASE + 12))
PROXY_HEALTHZ_PORT=$((PORT_BASE + 13))
DNS_PORT=$((PORT_BASE + 14))
DNS_HEALTH_PORT=$((PORT_BASE + 15))
NODE_DIR="$DIR/node"
NODE_NAME="${NODE_NAME:-real-node}"
# The node's address ranges: only this machine has them. The node's own address is the bridge's
# gateway: the API server reaches the kubelet there (logs, exec, port-forward), and so do pods.
POD_CIDR=10.88.0.0/16
GATEWAY=10.88.0.1
NODE_IP=$GATEWAY
SERVICE_CIDR=10.96.0.0/16
API_SERVICE_IP=10.96.0.1
DNS_SERVICE_IP=10.96.0.10
BRIDGE=llmcp0
CHAIN=LLMCP-CONTAIN
# Where every registry points: the discard port on loopback, where nothing listens.
NO_REGISTRY=http://127.0.0.1:9
OWNER=/run/llamastack-mcp-node
export PATH="$BIN:$PATH:/usr/sbin:/sbin"
T0=$SECONDS

LOG_TAG=node
# shellcheck source=../lib.sh
. "$localcluster/lib.sh"

# -------------------------------------------------------------- certificates
node_pki() {
  local p="$DIR/pki"
  [[ -f "$p/.node-done" ]] && return 0
  [[ -f "$p/ca.key" ]] || die "the cluster's CA is missing: run localcluster/cluster.sh up"
  # The API server's own identity towards the kubelet (logs, exec, port-forward).
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  cert kubelet "system:node:$NODE_NAME" system:nodes
  cert kubelet-serving "system:node:$NODE_NAME" system:nodes "IP:$NODE_IP,IP:127.0.0.1,DNS:$NODE_NAME"
  cert kube-proxy system:kube-proxy ""
  cert coredns system:coredns ""
  touch "$p/.node-done"
}

kubeconfig() {  # kubeconfig FILE CERT-NAME
  local p="$DIR/pki"
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://127.0.0.1:$API_PORT", certificate-authority: "$p/ca.crt"}
users:
- name: $2
  user: {client-certificate: "$p/$2.crt", client-key: "$p/$2.key"}
contexts:
- name: local
  context: {cluster: local, user: $2}
current-context: local
EOF
}

# ---------------------------------------------------------------- containment
# Before any pod: the bridge exists with the gateway address, both ranges route to it, and a chain
# of ours drops whatever the pod or Service ranges would forward to another interface.
contain() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  ip addr replace "$GATEWAY/16" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  ip route replace "$SERVICE_CIDR" dev "$BRIDGE"
  # ip_forward as it was, restored by `down` (the bridge plugin turns it on).
  [[ -f "$NODE_DIR/ip_forward.before" ]] || cat /proc/sys/net/ipv4/ip_forward >"$NODE_DIR/ip_forward.before"
  iptables -N "$CHAIN" 2>/dev/null || iptables -F "$CHAIN"
  iptables -A "$CHAIN" -s "$POD_CIDR" ! -o "$BRIDGE" -j DROP
  iptables -A "$CHAIN" -s "$SERVICE_CIDR" ! -o "$BRIDGE" -j DROP
  iptables -A "$CHAIN" -d "$SERVICE_CIDR" ! -o "$BRIDGE" -j DROP
  first_in FORWARD "$CHAIN"
  # Host-originated traffic to a Service address leaves only by the bridge or loopback, whatever
  # address kube-proxy translates it to.
  iptables -N "$CHAIN-OUT" 2>/dev/null || iptables -F "$CHAIN-OUT"
  iptables -A "$CHAIN-OUT" -o lo -j RETURN
  iptables -A "$CHAIN-OUT" -o "$BRIDGE" -j RETURN
  iptables -A "$CHAIN-OUT" -m conntrack --ctorigdst "$SERVICE_CIDR" -j DROP
  iptables -A "$CHAIN-OUT" -d "$POD_CIDR" -j DROP
  first_in OUTPUT "$CHAIN-OUT"
  # Pods reach the API server and cluster DNS, which listen on loopback only, through their
  # Service addresses: DNAT to 127.0.0.1 (route_localnet lets the bridge deliver there).
  sysctl -qw "net.ipv4.conf.$BRIDGE.route_localnet=1"
  iptables -t nat -N "$CHAIN" 2>/dev/null || iptables -t nat -F "$CHAIN"
  iptables -t nat -A "$CHAIN" -d "$API_SERVICE_IP/32" -p tcp --dport 443 -j DNAT --to-destination "127.0.0.1:$API_PORT"
  iptables -t nat -A "$CHAIN" -d "$DNS_SERVICE_IP/32" -p udp --dport 53 -j DNAT --to-destination "127.0.0.1:$DNS_PORT"
  iptables -t nat -A "$CHAIN" -d "$DNS_SERVICE_IP/32" -p tcp --dport 53 -j DNAT --to-destination "127.0.0.1:$DNS_PORT"
  iptables -t nat -C PREROUTING -i "$BRIDGE" -j "$CHAIN" 2>/dev/null || iptables -t nat -I PREROUTING 1 -i "$BRIDGE" -j "$CHAIN"
  # Replies from loopback to pods leave by the bridge with the Service address restored (conntrack).
  log "contained: $POD_CIDR and $SERVICE_CIDR route to $BRIDGE; forwarding elsewhere dropped ($CHAIN)"
}

first_in() {  # first_in BUILTIN CHAIN: our jump as the builtin chain's first rule
  iptables -D "$1" -j "$2" 2>/dev/null || true
  iptables -I "$1" 1 -j "$2"
}

uncontain() {
  iptables -t nat -D PREROUTING -i "$BRIDGE" -j "$CHAIN" 2>/dev/null || true
  iptables -t nat -F "$CHAIN" 2>/dev/null && iptables -t nat -X "$CHAIN" 2>/dev/null || true
  iptables -D FORWARD -j "$CHAIN" 2>/dev/null || true
  iptables -F "$CHAIN" 2>/dev/null && iptables -X "$CHAIN" 2>/dev/null || true
  iptables -D OUTPUT -j "$CHAIN-OUT" 2>/dev/null || true
  iptables -F "$CHAIN-OUT" 2>/dev/null && iptables -X "$CHAIN-OUT" 2>/dev/null || true
  ip route del "$SERVICE_CIDR" dev "$BRIDGE" 2>/dev/null || true
  ip link del "$BRIDGE" 2>/dev/null || true
  if [[ -f "$NODE_DIR/ip_forward.before" ]]; then
    sysctl -qw "net.ipv4.ip_forward=$(cat "$NODE_DIR/ip_forward.before")"
    rm -f "$NODE_DIR/ip_forward.before"
  fi
}

# kube-proxy's own chains (KUBE-*), flushed when its node goes: they name this cluster's Services.
unproxy() {
  local table chain
  for table in filter nat mangle; do
    for chain in $(iptables -t "$table" -S 2>/dev/null | awk '/^-N KUBE-/ {print $2}'); do
      iptables -t "$table" -F "$chain" 2>/dev/null || true
    done
    iptables -t "$table" -S 2>/dev/null | awk '/^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j KUBE-/' \
      | sed 's/^-A/-D/' | while read -r rule; do eval iptables -t "$table" "$rule" 2>/dev/null || true; done
    for chain in $(iptables -t "$table" -S 2>/dev/null | awk '/^-N KUBE-/ {print $2}'); do
      iptables -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
}

# ------------------------------------------------------------------ containerd
containerd_config() {
  local cd="$NODE_DIR/containerd" registries=""
  mkdir -p "$cd" "$NODE_DIR/cni/net.d"
  for registry in docker.io quay.io registry.k8s.io ghcr.io gcr.io localhost "*"; do
    registries+="    [plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"$registry\"]
      endpoint = [\"$NO_REGISTRY\"]
"
  done
  cat >"$cd/config.toml" <<EOF
version = 2
root = "$cd/root"
state = "$cd/state"
disabled_plugins = ["io.containerd.internal.v1.tracing", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$cd/containerd.sock"
[ttrpc]
  address = "$cd/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  # Without CAP_SYS_RESOURCE the runtime cannot lower oom_score_adj (REAL-NODE.md).
  restrict_oom_score_adj = true
  enable_unprivileged_ports = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_DIR/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    [plugins."io.containerd.grpc.v1.cri".registry.mirrors]
$registries
EOF
  # The bridge plugin: pods on $BRIDGE, the gateway as their default route, no masquerade (nothing
  # is translated to leave the machine); portmap for hostPort.
  cat >"$NODE_DIR/cni/net.d/10-llmcp.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "llmcp",
  "plugins": [
    {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "isDefaultGateway": true, "ipMasq": false,
     "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$GATEWAY"}]],
              "dataDir": "$NODE_DIR/cni/ipam"}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
EOF
}

import_images() {
  local archive imported="$NODE_DIR/containerd/imported.list"
  touch "$imported"
  while read -r _ archive; do
    [[ -n "$archive" ]] || continue
    # An archive's path names its version and recipe: once imported, containerd keeps it.
    grep -qxF "$archive" "$imported" && continue
    ctr --address "$NODE_DIR/containerd/containerd.sock" -n k8s.io images import --no-unpack=false \
      --digests=false "$archive" >/dev/null
    echo "$archive" >>"$imported"
  done < <(bash "$localcluster/images/build.sh" ${IMAGES:-} || echo "FAILED -")
  [[ "$archive" != - ]] || die "building the images failed (see above)"
  log "images imported: $(ctr --address "$NODE_DIR/containerd/containerd.sock" -n k8s.io images ls -q \
    | grep -v '^sha256:' | tr '\n' ' ')"
}

# --------------------------------------------------------------------- kubelet
kubelet_config() {
  local p="$DIR/pki"
  # Pods resolve through cluster DNS only: no resolver of the machine's is ever handed to a pod.
  printf 'nameserver %s\noptions ndots:5\n' "$DNS_SERVICE_IP" >"$NODE_DIR/resolv.conf"
  cat >"$NODE_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
tlsCertFile: $p/kubelet-serving.crt
tlsPrivateKeyFile: $p/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $p/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$NODE_DIR/containerd/containerd.sock
cgroupDriver: cgroupfs
# This machine has cgroup v1 (hybrid); kubelet 1.35 refuses it unless told.
failCgroupV1: false
failSwapOn: false
oomScoreAdj: 0
clusterDNS: [$DNS_SERVICE_IP]
clusterDomain: cluster.local
resolvConf: $NODE_DIR/resolv.conf
hairpinMode: hairpin-veth
maxPods: 60
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "200Mi", nodefs.available: "2%", imagefs.available: "2%"}
protectKernelDefaults: false
makeIPTablesUtilChains: false
registerNode: true
nodeStatusReportFrequency: 10s
EOF
}

# --------------------------------------------------------------------- CoreDNS
coredns_config() {
  kubeconfig "$NODE_DIR/coredns.kubeconfig" coredns
  cat >"$NODE_DIR/Corefile" <<EOF
cluster.local:$DNS_PORT in-addr.arpa:$DNS_PORT ip6.arpa:$DNS_PORT {
    bind 127.0.0.1
    errors
    health 127.0.0.1:$DNS_HEALTH_PORT
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $NODE_DIR/coredns.kubeconfig local
        pods insecure
        ttl 5
    }
    cache 5
}
# Every other name: not found. There is no forward plugin: nothing is asked of a resolver outside.
.:$DNS_PORT {
    bind 127.0.0.1
    errors
    template ANY ANY {
        rcode NXDOMAIN
    }
}
EOF
  # CoreDNS reads Services, EndpointSlices, Pods and Namespaces (upstream's system:coredns role).
  kc apply --server-side --field-manager local-cluster -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects: [{kind: User, name: "system:coredns", apiGroup: rbac.authorization.k8s.io}]
EOF
}

# ------------------------------------------------------------------------- up
claim_machine() {
  if [[ -f "$OWNER" ]] && [[ "$(cat "$OWNER")" != "$DIR" ]]; then
    local other; other="$(cat "$OWNER")"
    if [[ -f "$other/pids/kubelet" ]] && kill -0 "$(cat "$other/pids/kubelet")" 2>/dev/null; then
      die "the local cluster in $other runs this machine's real node: stop it first (CLUSTER_DIR=$other make cluster-down)"
    fi
  fi
  echo "$DIR" >"$OWNER"
}

up() {
  for b in kubelet kube-proxy coredns kubectl; do
    [[ -x "$BIN/$b" ]] || die "$BIN/$b is missing: run 'make toolchain' first"
  done
  for b in containerd runc ctr iptables; do
    command -v "$b" >/dev/null || die "$b is missing: run 'make system-deps' first"
  done
  [[ -x /usr/lib/cni/bridge ]] || die "the CNI plugins are missing: run 'make system-deps' first"
  mkdir -p "$NODE_DIR" "$DIR/logs" "$DIR/pids"
  claim_machine
  node_pki
  kubeconfig "$NODE_DIR/kubelet.kubeconfig" kubelet
  kubeconfig "$NODE_DIR/kube-proxy.kubeconfig" kube-proxy
  contain
  containerd_config
  start containerd containerd --config "$NODE_DIR/containerd/config.toml"
  wait_for containerd 30 ctr --address "$NODE_DIR/containerd/containerd.sock" version
  import_images
  coredns_config
  start coredns coredns -conf "$NODE_DIR/Corefile"
  wait_for CoreDNS 30 curl -sf "http://127.0.0.1:$DNS_HEALTH_PORT/health"
  start provisioner python3 "$here/provisioner.py" "$DIR/kubeconfig" "$NODE_DIR/volumes"
  kubelet_config
  start kubelet kubelet --config "$NODE_DIR/kubelet.yaml" --kubeconfig "$NODE_DIR/kubelet.kubeconfig" \
    --root-dir "$NODE_DIR/kubelet" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" \
    --node-labels "type=real,topology.kubernetes.io/zone=zone-a"
  start kube-proxy kube-proxy --kubeconfig "$NODE_DIR/kube-proxy.kubeconfig" --proxy-mode iptables \
    --hostname-override "$NODE_NAME" --cluster-cidr "$POD_CIDR" --nodeport-addresses 127.0.0.1/32 \
    --metrics-bind-address "127.0.0.1:$PROXY_METRICS_PORT" --healthz-bind-address "127.0.0.1:$PROXY_HEALTHZ_PORT" \
    --conntrack-max-per-core 0 --conntrack-tcp-timeout-established 0 --conntrack-tcp-timeout-close-wait 0
  wait_for "node $NODE_NAME Ready" 90 kc wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s
  # kube-proxy prepends its jumps, and KUBE-FORWARD accepts some traffic: our drops go first again.
  wait_for "kube-proxy's rules" 60 iptables -S KUBE-FORWARD
  first_in FORWARD "$CHAIN"
  first_in OUTPUT "$CHAIN-OUT"
  log "node $NODE_NAME Ready (kubelet on $NODE_IP:$KUBELET_PORT, pods in $POD_CIDR on $BRIDGE, DNS $DNS_SERVICE_IP)"
}

down() {
  local stopped
  # The containers die with containerd's shims, which are ended below.
  stopped="$(stop kube-proxy kubelet provisioner coredns containerd)"
  # The shims (and the containers under them) outlive containerd: end the ones of this node.
  pkill -f "containerd-shim-runc-v2 .*-address $NODE_DIR/containerd/containerd.sock" 2>/dev/null || true
  for _ in $(seq 1 20); do pgrep -f "containerd-shim-runc-v2 .*$NODE_DIR" >/dev/null || break; sleep 0.25; done
  pkill -9 -f "containerd-shim-runc-v2 .*$NODE_DIR" 2>/dev/null || true
  # Mounts the kubelet and containerd left (pod volumes, rootfs overlays, netns).
  { grep -o " $NODE_DIR[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  if [[ "$(cat "$OWNER" 2>/dev/null)" == "$DIR" ]]; then
    unproxy
    uncontain
    rm -f "$OWNER"
  fi
  log "stopped: ${stopped:-nothing was running}"
}

status() {
  local name rc=0
  for name in containerd coredns provisioner kubelet kube-proxy; do
    if pid_alive "$name"; then echo "$name running (pid $(cat "$DIR/pids/$name"))"; else echo "$name stopped"; rc=1; fi
  done
  return $rc
}

case "${1:-up}" in
  pki) mkdir -p "$NODE_DIR"; node_pki ;;
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
