"""Pods that really run: the dev stack file, unchanged, on a real node (kubelet, containerd, runc, CNI,
kube-proxy, CoreDNS: localcluster/node/) with the images built here (localcluster/images/).

What kwok cannot show is judged here by asking the API server, the kubelet and the running pods:
readiness by the kubelet's own probes, the MCP server listing objects with its mounted token, Llama
Stack reaching the MCP server through its Service by DNS name, logs, exec and port-forward. The
containment is proved by reading routes and rules, never by sending a packet off the machine; and
`cluster down` leaves no process, bridge, rule or route behind.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from localcluster.harness import TOOLCHAIN_BIN, LocalCluster, Project
from support import LLAMA, MCP, NS, ROOT, leftovers, namespace_gone
from support.agent_clients import MODEL, agent_turn, call, mcp_calls

# Its own control plane and ports: the kwok cluster of the other cluster tests runs beside it.
REAL_CLUSTER_DIR = ROOT / "build" / "test-real-node"
REAL_PORT_BASE = 16700
BRIDGE, CHAIN, POD_CIDR, SERVICE_CIDR = "llmcp0", "LLMCP-CONTAIN", "10.88.0.0/16", "10.96.0.0/16"


@pytest.fixture(scope="module")
def real():
    cluster = LocalCluster(REAL_CLUSTER_DIR, REAL_PORT_BASE, node="real").up(fresh=True)
    yield cluster
    cluster.down()


# dev's model endpoint, http://vllm.models.svc.cluster.local:8000/v1, served by the scripted model
# (e2e/stub_model.py) as a pod of the Llama Stack image, before dev starts (it lists the models then).
STUB_MODEL = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: models}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: stub-model, namespace: models}}
data: {{stub_model.py: {json.dumps((ROOT / "e2e" / "stub_model.py").read_text())}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: vllm, namespace: models}}
spec:
  selector: {{matchLabels: {{app: vllm}}}}
  template:
    metadata: {{labels: {{app: vllm}}}}
    spec:
      enableServiceLinks: false
      containers:
      - name: model
        image: docker.io/llamastack/distribution-starter:0.7.3
        command: [python3, /stub/stub_model.py, --port, "8000", --bind, 0.0.0.0, --model, {MODEL},
                  --tool, pods_list_in_namespace]
        ports: [{{containerPort: 8000, name: http}}]
        readinessProbe: {{httpGet: {{path: /v1/models, port: http}}, periodSeconds: 2}}
        securityContext: {{allowPrivilegeEscalation: false, capabilities: {{drop: [ALL]}}, runAsNonRoot: true,
                          readOnlyRootFilesystem: true, seccompProfile: {{type: RuntimeDefault}}}}
        volumeMounts: [{{name: stub, mountPath: /stub}}]
      volumes: [{{name: stub, configMap: {{name: stub-model}}}}]
---
apiVersion: v1
kind: Service
metadata: {{name: vllm, namespace: models}}
spec:
  selector: {{app: vllm}}
  ports: [{{port: 8000, targetPort: http}}]
"""


@pytest.fixture(scope="module")
def dev(real, tmp_path_factory):
    real.kubectl("apply", "-f", "-", input=STUB_MODEL)
    real.kubectl("rollout", "status", "-n", "models", "deployment/vllm", "--timeout=120s")
    project = Project(real, tmp_path_factory.mktemp("real-dev") / "project", "dev")
    project.up()
    return project


def pods(cluster: LocalCluster, app: str) -> list[dict]:
    return cluster.get("pods", "-n", NS, "-l", f"app.kubernetes.io/name={app}")["items"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def port_forward(cluster: LocalCluster, target: str, port: int) -> Iterator[str]:
    """kubectl port-forward to a Service: through the API server and the kubelet, on loopback."""
    local = free_port()
    proc = subprocess.Popen([str(TOOLCHAIN_BIN / "kubectl"), "--kubeconfig", str(cluster.kubeconfig), "-n", NS,
                             "port-forward", target, f"{local}:{port}", "--address", "127.0.0.1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", local), timeout=1):
                break
            time.sleep(0.3)
        else:
            raise AssertionError(f"port-forward {target} did not listen")
        yield f"http://127.0.0.1:{local}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_every_pod_runs_on_the_real_node_and_is_ready_by_its_probes(real, dev):
    for app in (MCP, LLAMA):
        (pod,) = pods(real, app)
        assert pod["spec"]["nodeName"] == "real-node", "kwok nodes are tainted: pods land on the real node"
        (status,) = pod["status"]["containerStatuses"]
        assert status["ready"] and status["started"] and "running" in status["state"], status
        assert status["containerID"].startswith("containerd://"), "run by containerd, not simulated by kwok"
        assert status["restartCount"] == 0, f"{app} restarted: {status.get('lastState')}"
        assert pod["status"]["podIP"].startswith("10.88."), "a pod address from the node's own range"


def test_the_llama_stack_pod_runs_as_an_arbitrary_uid_on_a_read_only_root(real, dev):
    # platform: openshift sets no UID; the local cluster assigns one as restricted-v2 would.
    out = real.kubectl("exec", "-n", NS, f"deploy/{LLAMA}", "--", "sh", "-c",
                       "id -u; touch /x 2>&1 || true; touch /.llama/probe && echo writable").stdout.split("\n")
    assert out[0] == "1000680000", out
    assert "Read-only file system" in out[1], out
    assert "writable" in out, "the data volume is writable by the pod's UID"


def test_the_mcp_server_lists_objects_with_its_mounted_token(real, dev):
    (llama_pod,) = pods(real, LLAMA)
    with port_forward(real, f"svc/{MCP}", 8080) as url:
        found = mcp_calls(f"{url}/mcp", None, None, [("pods_list_in_namespace", {"namespace": NS})])
    failed, listing = found[f"pods_list_in_namespace {json.dumps({'namespace': NS})}"]
    assert not failed and llama_pod["metadata"]["name"] in listing, listing


def test_llama_stack_reaches_the_mcp_server_through_its_service_by_dns_name(real, dev):
    token = real.kubectl("create", "token", "default", "-n", "default").stdout.strip()
    with port_forward(real, f"svc/{LLAMA}", 8321) as url:
        response = httpx.get(f"{url}/v1beta/connectors/kubernetes/tools",
                             headers={"Authorization": f"Bearer {token}"}, timeout=60)
        unauthenticated = httpx.get(f"{url}/v1beta/connectors/kubernetes/tools", timeout=30)
    assert response.status_code == 200, response.text
    names = {t["name"] for t in response.json()["data"]}
    assert {"pods_list", "resources_get", "namespaces_list"} <= names, names
    assert unauthenticated.status_code == 401, "the caller's token is checked with the API server"
    resolved = real.kubectl("exec", "-n", NS, f"deploy/{LLAMA}", "--", "python3", "-c",
                            f"import socket; print(socket.gethostbyname('{MCP}.{NS}.svc.cluster.local'))").stdout
    service_ip = real.get("service", MCP, "-n", NS)["spec"]["clusterIP"]
    assert resolved.strip() == service_ip


def test_an_agent_turn_runs_through_the_pods_with_the_official_client(real, dev):
    # The Responses API on the Llama Stack pod, its model the stub pod (by DNS), its tool call the MCP
    # pod (by DNS), which lists the namespace with its own mounted token.
    user = real.kubectl("create", "token", "default", "-n", "default").stdout.strip()
    with port_forward(real, f"svc/{LLAMA}", 8321) as url:
        turn = agent_turn(url, user, call("pods_list_in_namespace", namespace=NS), forward=False)
    running = {p["metadata"]["name"] for p in real.get("pods", "-n", NS)["items"]}
    assert not turn["error"] and running <= set(turn["output"].split()), turn
    assert turn["name"] == "pods_list_in_namespace"


def test_logs_come_from_the_running_containers(real, dev):
    assert "HTTP server starting" in real.kubectl("logs", "-n", NS, f"deploy/{MCP}").stdout
    assert "Uvicorn running" in real.kubectl("logs", "-n", NS, f"deploy/{LLAMA}").stdout or \
        "Listening on" in real.kubectl("logs", "-n", NS, f"deploy/{LLAMA}").stdout


def nothing_accepts_before(builtin: str, ours: str) -> bool:
    """Our jump is in `builtin`, and no rule before it accepts (itself or in the chain it jumps to)."""
    def rules(chain: str) -> list[str]:
        out = subprocess.run(["iptables", "-S", chain], capture_output=True, text=True, check=True).stdout
        return [line for line in out.splitlines() if line.startswith("-A ")]

    before = []
    for rule in rules(builtin):
        if rule == f"-A {builtin} -j {ours}":
            break
        before.append(rule)
    else:
        return False
    for rule in before:
        target = rule.split(" -j ")[-1].split()[0] if " -j " in rule else ""
        if target == "ACCEPT" or (target.startswith("KUBE-") and any(" -j ACCEPT" in r for r in rules(target))):
            return False
    return True


def test_containment_holds_by_the_rules_and_routes(real):
    # Read, never probed: nothing is sent to an address outside this machine to see it blocked.
    routes = subprocess.run(["ip", "route", "show", SERVICE_CIDR], capture_output=True, text=True).stdout
    assert f"dev {BRIDGE}" in routes, routes
    pod_routes = subprocess.run(["ip", "route", "show", POD_CIDR], capture_output=True, text=True).stdout
    assert f"dev {BRIDGE}" in pod_routes, pod_routes
    chain = subprocess.run(["iptables", "-S", CHAIN], capture_output=True, text=True, check=True).stdout
    for rule in (f"-A {CHAIN} -s {POD_CIDR} ! -o {BRIDGE} -j DROP", f"-A {CHAIN} -s {SERVICE_CIDR} ! -o {BRIDGE} -j DROP",
                 f"-A {CHAIN} -d {SERVICE_CIDR} ! -o {BRIDGE} -j DROP"):
        assert rule in chain, chain
    output = subprocess.run(["iptables", "-S", f"{CHAIN}-OUT"], capture_output=True, text=True, check=True).stdout
    assert f"-A {CHAIN}-OUT -m conntrack --ctorigdst {SERVICE_CIDR} -j DROP" in output, output
    for builtin, ours in (("FORWARD", CHAIN), ("OUTPUT", f"{CHAIN}-OUT")):
        assert nothing_accepts_before(builtin, ours), f"a rule before {ours} in {builtin} may accept"
    nat = subprocess.run(["iptables", "-t", "nat", "-S", "POSTROUTING"], capture_output=True, text=True).stdout
    assert "MASQUERADE" not in "\n".join(l for l in nat.splitlines() if POD_CIDR in l), "pods are never masqueraded"
    config = (REAL_CLUSTER_DIR / "node" / "containerd" / "config.toml").read_text()
    endpoints = [line.split("=", 1)[1].strip() for line in config.splitlines() if line.strip().startswith("endpoint")]
    assert endpoints and set(endpoints) == {'["http://127.0.0.1:9"]'}, endpoints
    conflist = json.loads((REAL_CLUSTER_DIR / "node" / "cni" / "net.d" / "10-llmcp.conflist").read_text())
    assert conflist["plugins"][0]["ipMasq"] is False
    resolv = (REAL_CLUSTER_DIR / "node" / "resolv.conf").read_text()
    assert resolv.split()[:2] == ["nameserver", "10.96.0.10"] and resolv.count("nameserver") == 1
    corefile = (REAL_CLUSTER_DIR / "node" / "Corefile").read_text()
    directives = [line.split()[0] for line in corefile.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert "forward" not in directives and "proxy" not in directives, "cluster DNS asks no resolver outside"


def test_every_image_a_pod_runs_was_imported_beforehand(real, dev):
    imported = subprocess.run(["ctr", "--address", str(REAL_CLUSTER_DIR / "node" / "containerd" / "containerd.sock"),
                               "-n", "k8s.io", "images", "ls", "-q"], capture_output=True, text=True, check=True).stdout
    for pod in pods(real, MCP) + pods(real, LLAMA):
        for container in pod["spec"]["containers"]:
            assert container["image"] in imported.split(), container["image"]


def test_an_image_that_was_not_imported_is_never_pulled(real):
    # The local cluster makes every pull policy Never: a missing image stays missing on the node, and
    # containerd never falls back from its closed mirror to a registry outside (nothing is sent).
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "not-imported", "namespace": "default"},
           "spec": {"enableServiceLinks": False, "containers": [{
               "name": "c", "image": "registry.example.invalid/not-imported:1", "imagePullPolicy": "Always",
               "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                   "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}}]}}
    real.kubectl("apply", "-f", "-", input=json.dumps(pod))
    try:
        created = real.get("pod", "not-imported", "-n", "default")
        assert created["spec"]["containers"][0]["imagePullPolicy"] == "Never"
        waiting = real.wait_until("the kubelet refuses to pull", lambda: next(
            (s["state"].get("waiting", {}).get("reason") for s in
             real.get("pod", "not-imported", "-n", "default")["status"].get("containerStatuses", [])
             if s["state"].get("waiting", {}).get("reason") == "ErrImageNeverPull"), None), timeout=60)
        assert waiting == "ErrImageNeverPull"
    finally:
        real.kubectl("delete", "pod", "not-imported", "-n", "default", "--wait=false")


def test_destroy_then_down_leave_nothing_behind(real, dev):
    dev.destroy()
    namespace_gone(real)
    real.kubectl("delete", "namespace", "models", "--wait=true", "--timeout=120s")
    assert leftovers(real) == []
    real.down()
    shims = subprocess.run(["pgrep", "-f", f"containerd-shim-runc-v2 .*{REAL_CLUSTER_DIR}"], capture_output=True)
    assert shims.returncode == 1, "no container of the node outlives it"
    for process in ("kubelet", "kube-proxy", "coredns", "containerd"):
        pid_file = REAL_CLUSTER_DIR / "pids" / process
        assert not pid_file.exists(), process
    assert subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True).returncode != 0, "the bridge is gone"
    assert subprocess.run(["iptables", "-S", CHAIN], capture_output=True).returncode != 0, "our chain is gone"
    assert CHAIN not in subprocess.run(["iptables", "-t", "nat", "-S"], capture_output=True, text=True).stdout
    assert CHAIN not in subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout
    assert "KUBE-" not in subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout, \
        "kube-proxy's rules go with its node"
    assert not Path("/run/llamastack-mcp-node").exists()
