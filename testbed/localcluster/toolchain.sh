#!/usr/bin/env bash
# Builds, once per version, every binary the local cluster and the real-engine
# tests need, from published Go modules (no release binaries can be had here).
#
#   bash testbed/localcluster/toolchain.sh            # build what is missing, print versions
#   bash testbed/localcluster/toolchain.sh --bench    # the same, with the benchmark's peer (Helm) too
#   bash testbed/localcluster/toolchain.sh --print    # only print (fails if something is missing)
#
# Binaries land in $TOOLCHAIN/<name>-<version>/ and are linked into
# $TOOLCHAIN/bin, which .cluster/env puts first on PATH.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
. "$here/versions.env"
E2E_CACHE="${E2E_CACHE:-$HOME/.cache/llamastack-mcp-e2e}"
TOOLCHAIN="${TOOLCHAIN:-$E2E_CACHE/toolchain}"
WORK="$TOOLCHAIN/work"
# Pulumi's home for the local cluster and the tests (plugins, credentials), not ~/.pulumi.
PULUMI_HOME="${PULUMI_HOME:-$E2E_CACHE/pulumi-home}"
mkdir -p "$TOOLCHAIN/bin" "$WORK"
command -v go >/dev/null 2>&1 || { echo "toolchain: Go >= 1.26 is needed (https://go.dev/dl/); nothing else can build these binaries here" >&2; exit 1; }
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
# A build cache of our own, removed once everything is built: it grows to ~10 GB
# and the finished binaries are what is kept (by version).
export GOCACHE="$WORK/gocache"
# Every run holds a shared lock on the build cache for its lifetime; only a run that
# is alone may remove it at the end (another run may be compiling into it).
exec {cachelock}>"$TOOLCHAIN/.gocache.lock"
flock -s "$cachelock"
PRINT_ONLY=0 BENCH=0
for arg in "$@"; do
  case "$arg" in
    --print) PRINT_ONLY=1 ;;
    --bench) BENCH=1 ;;
    *) echo "usage: toolchain.sh [--bench] [--print]" >&2; exit 2 ;;
  esac
done
T0=$SECONDS

log() { printf '[toolchain %4ds] %s\n' $((SECONDS - T0)) "$*" >&2; }

# Runs a long command with a heartbeat line every 30 s, its output in a log file
# that is shown when it fails.
run_step() {
  local name="$1"; shift
  local logf="$WORK/$name.log"
  local start=$SECONDS
  log "building $name ... (log: $logf)"
  ( "$@" ) >"$logf" 2>&1 &
  local pid=$! last=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    sleep 2
    if (( SECONDS - last >= 30 )) && kill -0 "$pid" 2>/dev/null; then
      last=$SECONDS
      log "  $name still building, $((SECONDS - start)) s so far ($(tail -n 1 "$logf" | cut -c1-80))"
    fi
  done
  if ! wait "$pid"; then
    tail -n 40 "$logf" >&2
    log "FAILED: $name (full log: $logf)"
    exit 1
  fi
  log "built $name in $((SECONDS - start)) s"
}

# A throwaway consumer module: several upstream modules carry replace
# directives that only work inside their own repositories.
new_module() {
  local dir="$1"
  rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
  go mod init local/build >/dev/null 2>&1
}

expose() {  # expose NAME VERSION-DIR: put a built binary where the tools look for it
  case "$1" in
    # The CLI uses the language host found next to its own executable without
    # warnings, so these are copies side by side rather than links.
    pulumi|pulumi-language-python|pulumi-language-python-exec)
      cmp -s "$2/$1" "$TOOLCHAIN/bin/$1" || cp -f "$2/$1" "$TOOLCHAIN/bin/$1" ;;
    # Providers go to Pulumi's plugin directory under their exact version, so the
    # engine loads the version the pip SDK asks for (no ambient-plugin warning).
    pulumi-resource-kubernetes)
      local plugin="$PULUMI_HOME/plugins/resource-kubernetes-v$PULUMI_KUBERNETES_VERSION"
      mkdir -p "$plugin" && ln -sfn "$2/$1" "$plugin/$1" && rm -f "$TOOLCHAIN/bin/$1" ;;
    *) ln -sfn "$2/$1" "$TOOLCHAIN/bin/$1" ;;
  esac
}

# --- Pulumi CLI -------------------------------------------------------------
build_pulumi() {
  local out="$1"
  new_module "$WORK/pulumi-$PULUMI_VERSION"
  go get "github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION"
  go build -tags osusergo,grpcnotrace -o "$out/pulumi" \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
}

# --- Python language host ---------------------------------------------------
# The proxy serves no version of the upstream language-host module, so this
# project carries its own small host (langhost/) built against the same sdk/v3;
# it runs the SDK's own exec script, which ships in the sdk/v3 module.
build_langhost() {
  local out="$1"
  new_module "$WORK/langhost-$PULUMI_SDK_VERSION"
  cp "$here"/langhost/*.go .
  # Built against the CLI's sdk/v3 and pkg/v3 (their dependency set is what the proxy serves; pkg/v3's
  # Python codegen generates a component package's SDK) ...
  go get "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" "github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION"
  go mod tidy
  go build -o "$out/pulumi-language-python" \
    -ldflags "-s -w -X main.version=${PULUMI_SDK_VERSION#v}" .
  # ... running the executor script of the sdk/v3 release that matches the pip `pulumi`.
  local sdkdir
  sdkdir="$(go mod download -json "github.com/pulumi/pulumi/sdk/v3@$PULUMI_SDK_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  install -m 0755 "$sdkdir/python/cmd/pulumi-language-python-exec" "$out/"
}

# --- Kubernetes provider ----------------------------------------------------
build_provider() {
  local out="$1"
  local mod="github.com/pulumi/pulumi-kubernetes/provider/v4"
  new_module "$WORK/provider-$PULUMI_KUBERNETES_VERSION"
  go get "$mod@$PULUMI_KUBERNETES_MODULE_VERSION"
  local src
  src="$(go list -m -f '{{.Dir}}' "$mod")/cmd/pulumi-resource-kubernetes"
  # The main package embeds generated files that the module zip lacks:
  # generate them here with the module's own generator.
  mkdir cmd && cp "$src"/main.go "$src"/generate.go "$src"/schema.json "$src"/terraform-mapping.json cmd/
  chmod u+w cmd/*
  go mod tidy
  (cd cmd && VERSION="$PULUMI_KUBERNETES_VERSION" go run generate.go)
  go build -o "$out/pulumi-resource-kubernetes" \
    -ldflags "-s -w -X $mod/pkg/version.Version=v$PULUMI_KUBERNETES_VERSION" ./cmd
}

# --- Kubernetes control plane -----------------------------------------------
build_kubernetes() {
  local out="$1"
  new_module "$WORK/kubernetes-$KUBERNETES_VERSION"
  local gomod minor patch
  gomod="$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')"
  IFS=. read -r _ minor patch <<<"${KUBERNETES_VERSION#v}"
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them
  # with ./staging paths; a consumer replaces each with its published v0.<minor>.<patch>.
  grep -E '=> \./staging/' "$gomod" | awk '{print $1}' | while read -r m; do
    go mod edit -replace "$m=$m@v0.$minor.$patch"
  done
  go get "k8s.io/kubernetes@$KUBERNETES_VERSION"
  local pkg=k8s.io/component-base/version
  local ld="-s -w -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ld="$ld -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  mkdir -p "$out"
  go build -o "$out/" -ldflags "$ld" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
}

build_etcd() {
  local out="$1"
  new_module "$WORK/etcd-$ETCD_VERSION"
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" "go.etcd.io/etcd/api/v3@$ETCD_VERSION" \
    "go.etcd.io/etcd/client/v3@$ETCD_VERSION" "go.etcd.io/etcd/client/pkg/v3@$ETCD_VERSION" \
    "go.etcd.io/etcd/pkg/v3@$ETCD_VERSION"
  go build -o "$out/etcd" -ldflags "-s -w" go.etcd.io/etcd/server/v3
}

# Cluster DNS for the real node's pods: CoreDNS's own server with only the plugins the node's
# Corefile uses (coredns/main.go), not upstream's main, which links every plugin and cloud SDK.
build_coredns() {
  local out="$1"
  new_module "$WORK/coredns-$COREDNS_VERSION"
  cp "$here"/coredns/main.go .
  go get "github.com/coredns/coredns@$COREDNS_VERSION"
  go mod tidy
  go build -o "$out/coredns" -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" .
}

build_kwok() {
  local out="$1"
  new_module "$WORK/kwok-$KWOK_VERSION"
  go get "sigs.k8s.io/kwok@$KWOK_VERSION"
  go build -o "$out/kwok" -ldflags "-s -w" sigs.k8s.io/kwok/cmd/kwok
}

# A production-review linter for the rendered objects (tests/unit/test_review.py); its main package is cmd/.
build_kube_score() {
  local out="$1"
  new_module "$WORK/kube-score-$KUBE_SCORE_VERSION"
  go get "github.com/zegl/kube-score@$KUBE_SCORE_VERSION"
  go build -o "$out/kube-score" -ldflags "-s -w" github.com/zegl/kube-score/cmd/kube-score
}

# Helm: the peer `make bench-deploy` measures against (the tool the stacks replace); its main package is cmd/helm.
build_helm() {
  local out="$1"
  new_module "$WORK/helm-$HELM_VERSION"
  go get "helm.sh/helm/v3@$HELM_VERSION"
  go build -o "$out/helm" -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" helm.sh/helm/v3/cmd/helm
}

# Pulumi YAML's language host: the YAML consumer of the component package (tests/cluster/test_cluster_component.py).
build_yaml_langhost() {
  local out="$1"
  new_module "$WORK/pulumi-yaml-$PULUMI_YAML_VERSION"
  go get "github.com/pulumi/pulumi-yaml@$PULUMI_YAML_VERSION"
  go build -o "$out/pulumi-language-yaml" \
    -ldflags "-s -w -X github.com/pulumi/pulumi-yaml/pkg/version.Version=${PULUMI_YAML_VERSION#v}" \
    github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml
}

# metrics-server: the resource metrics the HPA reads, scraped from the real node's kubelet
# (tests/cluster/real_node/); its main package is cmd/metrics-server.
build_metrics_server() {
  local out="$1"
  new_module "$WORK/metrics-server-$METRICS_SERVER_VERSION"
  go get "sigs.k8s.io/metrics-server@$METRICS_SERVER_VERSION"
  go build -o "$out/metrics-server" -ldflags "-s -w" sigs.k8s.io/metrics-server/cmd/metrics-server
}

# kube-router: only its network policy controller runs (iptables and ipsets), the agent that
# enforces the stacks' NetworkPolicies on the real node. kube-network-policies needs the kernel's
# nft queue expression, which this machine's kernel lacks (docs/development.md).
build_kube_router() {
  local out="$1"
  new_module "$WORK/kube-router-$KUBE_ROUTER_VERSION"
  go get "github.com/cloudnativelabs/kube-router/v2@$KUBE_ROUTER_VERSION"
  go build -o "$out/kube-router" -ldflags "-s -w" github.com/cloudnativelabs/kube-router/v2/cmd/kube-router
}

# actionlint: the workflow linter `make test` runs over .github/workflows (tests/unit/test_workflows.py);
# it runs shellcheck over each `run:` script when shellcheck is on PATH (make system-deps installs it).
build_actionlint() {
  local out="$1"
  new_module "$WORK/actionlint-$ACTIONLINT_VERSION"
  go get "github.com/rhysd/actionlint@$ACTIONLINT_VERSION"
  go build -o "$out/actionlint" -ldflags "-s -w -X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION" \
    github.com/rhysd/actionlint/cmd/actionlint
}

# Traefik: the local cluster's gateway (Ingress and Gateway API) on the real node. Built inside its own module:
# its go.mod's replace directives (forks of go-http-auth and mux, a local dynamic/ext) apply only there.
# v3.7's own dependencies are not all served here (lego v5's DNS providers' SDKs); v3.6 builds.
# Without ACME's DNS-01 providers: the edge serves certificates the tests issue and asks no ACME server, and
# lego's registry of ~150 DNS services' SDKs is a third of Traefik's packages (2,496 -> 1,649) and of its build.
build_traefik() {
  local out="$1" src="$WORK/traefik-$TRAEFIK_VERSION"
  local dir
  dir="$(go mod download -json "github.com/traefik/traefik/v3@$TRAEFIK_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  rm -rf "$src" && cp -r "$dir" "$src" && chmod -R u+w "$src" && cd "$src"
  local acme=pkg/provider/acme/provider.go
  sed -i -e '\#"github.com/go-acme/lego/v4/providers/dns"#d' \
    -e 's#provider, err = dns.NewDNSChallengeProviderByName(p.DNSChallenge.Provider)#err = errors.New("this build of Traefik has no DNS-01 providers")#' \
    "$acme"
  if grep -q 'providers/dns"\|NewDNSChallengeProviderByName' "$acme"; then
    echo "build_traefik: $acme no longer reads as expected; update the DNS-01 cut" >&2; return 1
  fi
  go build -o "$out/traefik" -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" ./cmd/traefik
  cd / && rm -rf "$src"
}

# name  version  builder  binaries...
STEPS=(
  "etcd|$ETCD_VERSION|build_etcd|etcd"
  "kwok|$KWOK_VERSION|build_kwok|kwok"
  # The node's kubelet and kube-proxy build in the same invocation (shared packages); "+node"
  # keys the entry apart from caches made before the node existed.
  "kubernetes|$KUBERNETES_VERSION+node|build_kubernetes|kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy"
  "coredns|$COREDNS_VERSION-$(sha256sum "$here"/coredns/main.go | cut -c1-12)|build_coredns|coredns"
  "pulumi|$PULUMI_VERSION|build_pulumi|pulumi"
  "langhost|$PULUMI_SDK_VERSION-$(cat "$here"/langhost/*.go | sha256sum | cut -c1-12)|build_langhost|pulumi-language-python pulumi-language-python-exec"
  "pulumi-kubernetes|$PULUMI_KUBERNETES_VERSION|build_provider|pulumi-resource-kubernetes"
  "kube-score|$KUBE_SCORE_VERSION|build_kube_score|kube-score"
  "pulumi-yaml|$PULUMI_YAML_VERSION|build_yaml_langhost|pulumi-language-yaml"
  "metrics-server|$METRICS_SERVER_VERSION|build_metrics_server|metrics-server"
  "kube-router|$KUBE_ROUTER_VERSION|build_kube_router|kube-router"
  "actionlint|$ACTIONLINT_VERSION|build_actionlint|actionlint"
  "traefik|$TRAEFIK_VERSION-no-dns01|build_traefik|traefik"
)
# Only `make bench-deploy` needs Helm: the tests, the cluster and `make up` do without its build.
(( BENCH )) && STEPS+=("helm|$HELM_VERSION|build_helm|helm")

# TOOLCHAIN_ONLY / TOOLCHAIN_SKIP: names of steps (space-separated) to build alone, or to leave out
# (`make prepare` builds Traefik in its other lane).
only="${TOOLCHAIN_ONLY:-}" skip="${TOOLCHAIN_SKIP:-}"
built=0
for step in "${STEPS[@]}"; do
  IFS='|' read -r name version builder bins <<<"$step"
  [[ -n "$only" && " $only " != *" $name "* ]] && continue
  [[ " $skip " == *" $name "* ]] && continue
  dir="$TOOLCHAIN/$name-$version"
  if [[ ! -f "$dir/.done" ]]; then
    if (( PRINT_ONLY )); then log "missing: $name $version (run make toolchain)"; exit 1; fi
    # One builder per entry: a second build of the same entry (make up in one terminal,
    # make test in another) waits here, then finds .done and reuses the result.
    exec {lock}>"$TOOLCHAIN/.$name-$version.lock"
    if ! flock -n "$lock"; then
      log "waiting for another build of $name $version to finish"
      flock "$lock"
    fi
    if [[ ! -f "$dir/.done" ]]; then
      rm -rf "$dir" && mkdir -p "$dir"
      run_step "$name-$version" "$builder" "$dir"
      touch "$dir/.done"
      built=1
    fi
    flock -u "$lock"; exec {lock}>&-
  fi
  for b in $bins; do expose "$b" "$dir"; done
  printf '%-28s %-40s %s\n' "$name" "$version" "$dir" 
done
# Whichever run ends last removes it: one still building in the other lane holds the lock shared.
if (( built )) && flock -x -n "$cachelock"; then
  rm -rf "$GOCACHE"
  log "removed the build cache ($GOCACHE); Go modules stay in $(go env GOMODCACHE)"
fi
log "toolchain ready in $TOOLCHAIN/bin"
