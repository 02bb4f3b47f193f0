#!/usr/bin/env bash
# A real node for the local cluster: containerd + runc, Debian's CNI plugins, the kubelet,
# kube-proxy (iptables), CoreDNS, a NetworkPolicy agent (kube-router's policy controller),
# metrics-server and an edge (Traefik: Ingress and Gateway API on loopback), all as processes of
# this machine with their state under $CLUSTER_DIR/node. Called by testbed/localcluster/cluster.sh
# (NODE=real); by hand:
#
#   bash testbed/localcluster/node/node.sh up|down|status|add-node|remove-node
#
# `add-node` starts a second kubelet on this machine (its own containerd, root directory, ports,
# cgroup root and half of the pod range) for what needs two nodes, such as a drain; the
# machine-wide pieces (bridge, containment, kube-proxy, CoreDNS, the policy agent, metrics-server)
# stay the first node's. `remove-node` stops it and deletes its Node.
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
root="$(dirname "$(dirname "$localcluster")")"
. "$localcluster/versions.env"
E2E_CACHE="${E2E_CACHE:-$HOME/.cache/llamastack-mcp-e2e}"
TOOLCHAIN="${TOOLCHAIN:-$E2E_CACHE/toolchain}"
BIN="$TOOLCHAIN/bin"
DIR="${CLUSTER_DIR:-$root/.cluster}"
case "$DIR" in /*) ;; *) DIR="$root/$DIR" ;; esac
PORT_BASE="${PORT_BASE:-16400}"
NODE_DIR="$DIR/node"
NODE_NAME="${NODE_NAME:-real-node}"
SECOND_NODE="$NODE_NAME-2"
# Per node: the suffix of its process names and certificates, its zone, its share of the pod
# range and its cgroup root (the first node's is the machine's; second_node() sets the second's).
SUFFIX=""
ZONE=zone-a
POD_RANGE_START=10.88.0.2
POD_RANGE_END=10.88.127.254
CGROUP_ROOT=""
OWNER=/run/llamastack-mcp-node
export PATH="$BIN:$PATH:/usr/sbin:/sbin"
T0=$SECONDS

LOG_TAG=node
# shellcheck source=../lib.sh
. "$localcluster/lib.sh"
# The node's own address is the bridge's gateway (cluster.env): the API server reaches the kubelet
# there (logs, exec, port-forward), and so do pods.
NODE_IP=$GATEWAY

# -------------------------------------------------------------- certificates
node_pki() {
  local p="$DIR/pki"
  [[ -f "$p/.node-done" ]] && return 0
  [[ -f "$p/ca.key" ]] || die "the cluster's CA is missing: run testbed/localcluster/cluster.sh up"
  # The API server's own identity towards the kubelet (logs, exec, port-forward).
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  cert kubelet "system:node:$NODE_NAME" system:nodes
  cert kubelet-serving "system:node:$NODE_NAME" system:nodes "IP:$NODE_IP,IP:127.0.0.1,DNS:$NODE_NAME"
  cert kube-proxy system:kube-proxy ""
  cert coredns system:coredns ""
  touch "$p/.node-done"
}

addon_pki() {
  local p="$DIR/pki"
  [[ -f "$p/.addons-done" ]] && return 0
  cert metrics-server system:metrics-server ""
  cert metrics-server-serving metrics-server "" "IP:$NODE_IP,DNS:metrics-server.kube-system.svc"
  cert kube-router system:kube-router ""
  touch "$p/.addons-done"
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
  save_sysctls
  # The drops are an nftables table of our own, not iptables rules: a drop in any base chain is
  # final, so no other agent's rules (kube-proxy's, the policy agent's, which insert their jumps
  # first and accept some traffic) can let a packet past them, whatever order they are in.
  # forward: before iptables' filter chains (priority 0). output: after kube-proxy's DNAT (-100)
  # and its re-route, so the interface is the one the translated packet really leaves by.
  nft -f - <<EOF
table inet $TABLE
delete table inet $TABLE
table inet $TABLE {
  chain forward {
    type filter hook forward priority -10; policy accept;
    ip saddr $POD_CIDR oifname != "$BRIDGE" drop
    ip saddr $SERVICE_CIDR oifname != "$BRIDGE" drop
    ip daddr $SERVICE_CIDR oifname != "$BRIDGE" drop
  }
  # Host-originated traffic to a Service or pod address leaves only by the bridge or loopback,
  # whatever address kube-proxy translates it to.
  chain output {
    type filter hook output priority -10; policy accept;
    oifname { "lo", "$BRIDGE" } return
    ct original ip daddr $SERVICE_CIDR drop
    ip daddr $POD_CIDR drop
  }
}
EOF
  # Pods reach the API server and cluster DNS, which listen on loopback only, through their
  # Service addresses: DNAT to 127.0.0.1 (route_localnet lets the bridge deliver there).
  sysctl -qw "net.ipv4.conf.$BRIDGE.route_localnet=1"
  iptables -t nat -N "$CHAIN" 2>/dev/null || iptables -t nat -F "$CHAIN"
  iptables -t nat -A "$CHAIN" -d "$API_SERVICE_IP/32" -p tcp --dport 443 -j DNAT --to-destination "127.0.0.1:$API_PORT"
  iptables -t nat -A "$CHAIN" -d "$DNS_SERVICE_IP/32" -p udp --dport 53 -j DNAT --to-destination "127.0.0.1:$DNS_PORT"
  iptables -t nat -A "$CHAIN" -d "$DNS_SERVICE_IP/32" -p tcp --dport 53 -j DNAT --to-destination "127.0.0.1:$DNS_PORT"
  iptables -t nat -C PREROUTING -i "$BRIDGE" -j "$CHAIN" 2>/dev/null || iptables -t nat -I PREROUTING 1 -i "$BRIDGE" -j "$CHAIN"
  # Replies from loopback to pods leave by the bridge with the Service address restored (conntrack).
  log "contained: $POD_CIDR and $SERVICE_CIDR route to $BRIDGE; forwarding elsewhere dropped (nft table inet $TABLE)"
}

uncontain() {
  iptables -t nat -D PREROUTING -i "$BRIDGE" -j "$CHAIN" 2>/dev/null || true
  iptables -t nat -F "$CHAIN" 2>/dev/null && iptables -t nat -X "$CHAIN" 2>/dev/null || true
  nft delete table inet "$TABLE" 2>/dev/null || true
  ip route del "$SERVICE_CIDR" dev "$BRIDGE" 2>/dev/null || true
  ip link del "$BRIDGE" 2>/dev/null || true
  restore_sysctls
}

# The machine's sysctls that the node's processes change (machine-sysctls), as they were before it.
save_sysctls() {
  [[ -f "$NODE_DIR/sysctls.before" ]] && return 0
  local key value
  while read -r key; do
    [[ -z "$key" || "$key" == \#* ]] && continue
    value="$(sysctl -n "$key" 2>/dev/null)" && printf '%s=%s\n' "$key" "$value"
  done <"$here/machine-sysctls" >"$NODE_DIR/sysctls.before"
}

restore_sysctls() {
  local line
  if [[ -f "$NODE_DIR/ip_forward.before" ]]; then  # a node started before machine-sysctls existed
    sysctl -qw "net.ipv4.ip_forward=$(cat "$NODE_DIR/ip_forward.before")"
    rm -f "$NODE_DIR/ip_forward.before"
  fi
  [[ -f "$NODE_DIR/sysctls.before" ]] || return 0
  while read -r line; do sysctl -qw "$line" 2>/dev/null || true; done <"$NODE_DIR/sysctls.before"
  rm -f "$NODE_DIR/sysctls.before"
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
  # Without CAP_SYS_RESOURCE the runtime cannot lower oom_score_adj (docs/development.md).
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
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$GATEWAY",
                                     "rangeStart": "$POD_RANGE_START", "rangeEnd": "$POD_RANGE_END"}]],
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
  # Each image also by its digest (repo@sha256:...), as a pull from a registry records it: a stack
  # may pin an image immutably, and promoting a tag to its digest rolls real pods (tests/cluster/real_node/).
  local ref kind digest
  while read -r ref kind digest _; do
    [[ "$ref" == *@* || "$ref" == sha256:* ]] && continue
    ctr --address "$NODE_DIR/containerd/containerd.sock" -n k8s.io images tag --force "$ref" "${ref%:*}@$digest" >/dev/null
  done < <(ctr --address "$NODE_DIR/containerd/containerd.sock" -n k8s.io images ls | tail -n +2)
  log "images imported: $(ctr --address "$NODE_DIR/containerd/containerd.sock" -n k8s.io images ls -q \
    | grep -v -e '^sha256:' -e '@' | tr '\n' ' ')(each also by its digest)"
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
tlsCertFile: $p/kubelet-serving$SUFFIX.crt
tlsPrivateKeyFile: $p/kubelet-serving$SUFFIX.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $p/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$NODE_DIR/containerd/containerd.sock
cgroupDriver: cgroupfs
${CGROUP_ROOT:+cgroupRoot: $CGROUP_ROOT
}# This machine has cgroup v1 (hybrid); kubelet 1.35 refuses it unless told.
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
  apply_manifest coredns-rbac.yaml
}


# ------------------------------------------------------------------ add-ons
# metrics-server: the resource metrics API the HPA reads, from the kubelet's /metrics/resource.
# A process of this machine on the node's address; the API server reaches it through the
# APIService's Service, whose only endpoint is that address (aggregator routing: cluster.sh).
metrics_server() {
  local p="$DIR/pki"
  kubeconfig "$NODE_DIR/metrics-server.kubeconfig" metrics-server
  local ca; ca="$(base64 -w0 <"$p/ca.crt")"
  apply_manifest metrics-server.yaml
  # Started only once its RBAC exists: it reads extension-apiserver-authentication at start, and a
  # refusal there ends it for good, leaving the metrics API (and namespace deletion) unavailable.
  start_supervised metrics-server metrics-server --kubeconfig "$NODE_DIR/metrics-server.kubeconfig" \
    --authentication-kubeconfig "$NODE_DIR/metrics-server.kubeconfig" \
    --authorization-kubeconfig "$NODE_DIR/metrics-server.kubeconfig" \
    --bind-address "$NODE_IP" --secure-port "$METRICS_SERVER_PORT" \
    --tls-cert-file "$p/metrics-server-serving.crt" --tls-private-key-file "$p/metrics-server-serving.key" \
    --kubelet-certificate-authority "$p/ca.crt" --kubelet-preferred-address-types InternalIP \
    --kubelet-use-node-status-port --metric-resolution 15s --node-selector type=real
  wait_for "the metrics API (APIService v1beta1.metrics.k8s.io Available; $DIR/logs/metrics-server.log)" 120 \
    kc wait --for=condition=Available apiservice/v1beta1.metrics.k8s.io --timeout=5s
}

# kube-router's network policy controller (only: no router, no service proxy) enforces the
# NetworkPolicies on this node with iptables and ipsets. kube-network-policies, the first choice,
# needs the kernel's nft queue expression, which this kernel lacks (CONFIG_NFT_QUEUE).
policy_agent() {
  kubeconfig "$NODE_DIR/kube-router.kubeconfig" kube-router
  apply_manifest kube-router-rbac.yaml
  start_supervised kube-router kube-router --kubeconfig "$NODE_DIR/kube-router.kubeconfig" --hostname-override "$NODE_NAME" \
    --run-firewall=true --run-router=false --run-service-proxy=false --run-loadbalancer=false \
    --enable-ipv4=true --enable-ipv6=false --service-cluster-ip-range "$SERVICE_CIDR" \
    --health-port "$ROUTER_HEALTH_PORT" --metrics-port 0 --iptables-sync-period 30s
  wait_for "the policy agent" 60 curl -sf "http://127.0.0.1:$ROUTER_HEALTH_PORT/healthz"
}

# The edge: Traefik serves the cluster's Ingresses and Gateway API routes on loopback only, reaching pods
# over the bridge: one HTTPS entry point, $EDGE_ADDRESS:443 (a loopback address of its own), with Traefik's own
# timeouts (a stock Traefik), where an Ingress is served with its TLS Secret and a Gateway's listener on port 443
# with its certificate. Its Ingresses' address is $EDGE_ADDRESS, so `pulumi up` sees them admitted.
edge() {
  [[ -f "$DIR/pki/traefik.crt" ]] || cert traefik system:traefik ""
  kubeconfig "$NODE_DIR/traefik.kubeconfig" traefik
  apply_manifest edge.yaml
  # Traefik's Kubernetes providers read KUBECONFIG when they run outside a cluster.
  start_supervised traefik env KUBECONFIG="$NODE_DIR/traefik.kubeconfig" traefik \
    --global.checkNewVersion=false --global.sendAnonymousUsage=false --log.level=INFO --accessLog=true \
    --entryPoints.websecure.address="$EDGE_ADDRESS:443" --entryPoints.websecure.http.tls=true \
    --entryPoints.ping.address="127.0.0.1:$EDGE_PING_PORT" --ping=true --ping.entryPoint=ping \
    --providers.kubernetesIngress=true --providers.kubernetesIngress.ingressEndpoint.ip="$EDGE_ADDRESS" \
    --providers.kubernetesGateway=true
  wait_for "the edge (Traefik; $DIR/logs/traefik.log)" 60 curl -sf "http://127.0.0.1:$EDGE_PING_PORT/ping"
}

# kube-router's chains and ipsets, removed when its node goes (it knows them: --cleanup-config).
unpolicy() {
  [[ -x "$BIN/kube-router" ]] && "$BIN/kube-router" --cleanup-config >/dev/null 2>&1 || true
}

# ------------------------------------------------------------------------- up
# The pieces every node has of its own: containerd with the images imported, and the kubelet.
node_runtime() {
  containerd_config
  start "containerd$SUFFIX" containerd --config "$NODE_DIR/containerd/config.toml"
  wait_for "containerd$SUFFIX" 30 ctr --address "$NODE_DIR/containerd/containerd.sock" version
  import_images
}

node_kubelet() {
  kubelet_config
  start "kubelet$SUFFIX" kubelet --config "$NODE_DIR/kubelet.yaml" --kubeconfig "$NODE_DIR/kubelet.kubeconfig" \
    --root-dir "$NODE_DIR/kubelet" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" \
    --node-labels "type=real,topology.kubernetes.io/zone=$ZONE"
}

# The node's containers, their shims and the mounts its kubelet and containerd left (pod volumes,
# rootfs overlays, netns). The shims (and the containers under them) outlive containerd.
end_node_processes() {
  local stopped
  stopped="$(stop "kubelet$SUFFIX" "containerd$SUFFIX")"
  pkill -f "containerd-shim-runc-v2 .*-address $NODE_DIR/containerd/containerd.sock" 2>/dev/null || true
  for _ in $(seq 1 20); do pgrep -f "containerd-shim-runc-v2 .*-address $NODE_DIR/containerd/" >/dev/null || break; sleep 0.25; done
  pkill -9 -f "containerd-shim-runc-v2 .*-address $NODE_DIR/containerd/" 2>/dev/null || true
  { grep -o " $NODE_DIR/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  printf '%s' "$stopped"
}

# ---------------------------------------------------------------- second node
second_node() {
  NODE_NAME="$SECOND_NODE"
  NODE_DIR="$DIR/node-2"
  SUFFIX=-2
  ZONE=zone-b
  KUBELET_PORT=$SECOND_KUBELET_PORT
  KUBELET_HEALTHZ_PORT=$SECOND_KUBELET_HEALTHZ_PORT
  POD_RANGE_START=10.88.128.1
  POD_RANGE_END=10.88.255.254
  CGROUP_ROOT="/$SECOND_NODE"
  IMAGES="pause mcp llama-stack"  # what the servers' pods run; their dependencies stay on the first
}

# The kubelet wants its cgroup root to exist in every controller; cpuset's needs its CPUs and memory
# nodes (a new cpuset cgroup has none).
cgroup_roots() {  # cgroup_roots create|remove
  local controller dir
  for controller in /sys/fs/cgroup/*/; do
    dir="$controller${CGROUP_ROOT#/}"
    [[ -f "$controller/cgroup.procs" ]] || continue
    if [[ "$1" == create ]]; then
      mkdir -p "$dir"
      if [[ -f "$controller/cpuset.cpus" ]]; then
        cat "$controller/cpuset.cpus" >"$dir/cpuset.cpus"
        cat "$controller/cpuset.mems" >"$dir/cpuset.mems"
      fi
    elif [[ -d "$dir" ]]; then
      find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
    fi
  done
}

add_node() {
  pid_alive kubelet || die "the first node is not running: start the cluster (NODE=real) first"
  second_node
  mkdir -p "$NODE_DIR"
  local p="$DIR/pki"
  if [[ ! -f "$p/.node$SUFFIX-done" ]]; then
    cert "kubelet$SUFFIX" "system:node:$NODE_NAME" system:nodes
    cert "kubelet-serving$SUFFIX" "system:node:$NODE_NAME" system:nodes "IP:$NODE_IP,IP:127.0.0.1,DNS:$NODE_NAME"
    touch "$p/.node$SUFFIX-done"
  fi
  kubeconfig "$NODE_DIR/kubelet.kubeconfig" "kubelet$SUFFIX"
  cgroup_roots create
  node_runtime
  node_kubelet
  wait_for "node $NODE_NAME Ready" 90 kc wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s
  log "node $NODE_NAME Ready (kubelet on $NODE_IP:$KUBELET_PORT, pods in $POD_RANGE_START-$POD_RANGE_END, cgroups under $CGROUP_ROOT)"
  echo "$NODE_NAME"  # the one line on stdout: the new node's name, for the caller (harness.add_node)
}

remove_node() {
  second_node
  [[ -d "$NODE_DIR" ]] || return 0
  local stopped; stopped="$(end_node_processes)"
  kc delete node "$NODE_NAME" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  cgroup_roots remove
  rm -rf "$NODE_DIR"
  log "node $NODE_NAME removed: ${stopped:-nothing was running}"
}

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
  for b in kubelet kube-proxy coredns kubectl metrics-server kube-router traefik; do
    [[ -x "$BIN/$b" ]] || die "$BIN/$b is missing: run 'make toolchain' first"
  done
  for b in containerd runc ctr iptables nft ipset; do
    command -v "$b" >/dev/null || die "$b is missing: run 'make system-deps' first"
  done
  [[ -x /usr/lib/cni/bridge ]] || die "the CNI plugins are missing: run 'make system-deps' first"
  mkdir -p "$NODE_DIR" "$DIR/logs" "$DIR/pids"
  claim_machine
  node_pki
  addon_pki
  kubeconfig "$NODE_DIR/kubelet.kubeconfig" kubelet
  kubeconfig "$NODE_DIR/kube-proxy.kubeconfig" kube-proxy
  contain
  containerd_config
  node_runtime
  coredns_config
  start_supervised coredns coredns -conf "$NODE_DIR/Corefile"
  wait_for CoreDNS 30 curl -sf "http://127.0.0.1:$DNS_HEALTH_PORT/health"
  start_supervised provisioner python3 "$here/provisioner.py" "$DIR/kubeconfig" "$NODE_DIR/volumes"
  node_kubelet
  start_supervised kube-proxy kube-proxy --kubeconfig "$NODE_DIR/kube-proxy.kubeconfig" --proxy-mode iptables \
    --hostname-override "$NODE_NAME" --cluster-cidr "$POD_CIDR" --nodeport-addresses 127.0.0.1/32 \
    --metrics-bind-address "127.0.0.1:$PROXY_METRICS_PORT" --healthz-bind-address "127.0.0.1:$PROXY_HEALTHZ_PORT" \
    --conntrack-max-per-core 0 --conntrack-tcp-timeout-established 0 --conntrack-tcp-timeout-close-wait 0
  wait_for "node $NODE_NAME Ready" 90 kc wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s
  wait_for "kube-proxy's rules" 60 iptables -S KUBE-FORWARD
  policy_agent
  metrics_server
  edge
  log "node $NODE_NAME Ready (kubelet on $NODE_IP:$KUBELET_PORT, pods in $POD_CIDR on $BRIDGE, DNS $DNS_SERVICE_IP)"
}

down() {
  local stopped
  ( remove_node )
  stopped="$(stop traefik metrics-server kube-router kube-proxy provisioner coredns)$(end_node_processes)"
  if [[ "$(cat "$OWNER" 2>/dev/null)" == "$DIR" ]]; then
    unpolicy
    unproxy
    uncontain
    rm -f "$OWNER"
  fi
  log "stopped: ${stopped:-nothing was running}"
}

status() {
  local name rc=0
  for name in containerd coredns provisioner kubelet kube-proxy kube-router metrics-server traefik; do
    if pid_alive "$name"; then echo "$name running (pid $(cat "$DIR/pids/$name"))"; else echo "$name stopped"; rc=1; fi
  done
  for name in containerd-2 kubelet-2; do  # the second node's, when there is one
    if pid_alive "$name"; then echo "$name running (pid $(cat "$DIR/pids/$name"))"; fi
  done
  return $rc
}

case "${1:-up}" in
  pki) mkdir -p "$NODE_DIR"; node_pki ;;
  up) up ;;
  down) down ;;
  status) status ;;
  add-node) add_node ;;
  remove-node) remove_node ;;
  *) echo "usage: $0 up|down|status|add-node|remove-node" >&2; exit 2 ;;
esac
