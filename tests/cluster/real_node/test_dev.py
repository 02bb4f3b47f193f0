"""dev on a real node, as a newcomer's `make up` puts it there (no kubeconfig: the local cluster, the
scripted model where dev expects vLLM): pods that really run (kubelet, containerd, runc, CNI, kube-proxy,
CoreDNS; the images built here), judged by asking the API server, the kubelet and the pods. The node's
containment, read from its rules and routes, never by sending a packet off the machine; its add-ons back
after they die; who may use dev's rights; dev's conversations across `make destroy`.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Iterator, Optional

import httpx
import openai
import pytest

from testbed.localcluster import model as model_endpoint
# The containment's bridge, nftables table (inet), nat chain and ranges, as node.sh sets them up.
from testbed.localcluster.facts import BRIDGE, DNS_SERVICE_IP, POD_CIDR, RESTRICTED_UID, SERVICE_CIDR, TABLE
from testbed.localcluster.harness import Project
from support import LLAMA, MCP, NS, ROOT, namespace_gone, pulumi_sh
from support.agent_clients import agent_turn, call, mcp_calls
from support.real_node import conversation, KEEP, pods, port_forward, REAL_CLUSTER_DIR, REAL_NODE, recalled, token


@pytest.fixture(scope="module")
def newcomer(real, tmp_path_factory):
    """A newcomer's `make up`: no kubeconfig anywhere, so ops/pulumi.sh targets the local
    cluster (here the test's own), puts the scripted model where dev expects vLLM, and deploys dev."""
    project = Project(real, tmp_path_factory.mktemp("real-dev") / "project", "dev")
    home = tmp_path_factory.mktemp("home")

    def make(command: str, *args: str):
        return pulumi_sh(real, project, "dev", command, *args, home=home, kubeconfig=False)

    make.project = project
    return make


@pytest.fixture(scope="module")
def dev(real, newcomer):
    up = newcomer("up", "--yes")
    assert up.returncode == 0, up.stdout + up.stderr
    yield up
    assert newcomer("destroy", "--yes").returncode == 0
    namespace_gone(real)  # destroy keeps it: the command it names



def test_every_pod_runs_on_the_real_node_and_is_ready_by_its_probes(real, dev):
    for app in (MCP, LLAMA):
        (pod,) = pods(real, app)
        assert pod["spec"]["nodeName"] == REAL_NODE, "kwok nodes are tainted: pods land on the real node"
        (status,) = pod["status"]["containerStatuses"]
        assert status["ready"] and status["started"] and "running" in status["state"], status
        assert status["containerID"].startswith("containerd://"), "run by containerd, not simulated by kwok"
        assert status["restartCount"] == 0, f"{app} restarted: {status.get('lastState')}"
        assert pod["status"]["podIP"].startswith("10.88."), "a pod address from the node's own range"


def test_the_llama_stack_pod_runs_as_an_arbitrary_uid_on_a_read_only_root(real, dev):
    # platform: openshift sets no UID; the local cluster assigns one as restricted-v2 would.
    out = real.kubectl("exec", "-n", NS, f"deploy/{LLAMA}", "--", "sh", "-c",
                       "id -u; touch /x 2>&1 || true; touch /.llama/probe && echo writable").stdout.split("\n")
    assert out[0] == str(RESTRICTED_UID), out
    assert "Read-only file system" in out[1], out
    assert "writable" in out, "the data volume is writable by the pod's UID"


def test_the_mcp_server_lists_objects_with_its_mounted_token(real, dev):
    (llama_pod,) = pods(real, LLAMA)
    with port_forward(real, MCP, 8080) as url:
        found = mcp_calls(f"{url}/mcp", None, None, [("pods_list_in_namespace", {"namespace": NS})])
    failed, listing = found[f"pods_list_in_namespace {json.dumps({'namespace': NS})}"]
    assert not failed and llama_pod["metadata"]["name"] in listing, listing


def test_llama_stack_reaches_the_mcp_server_through_its_service_by_dns_name(real, dev):
    with port_forward(real, LLAMA, 8321) as url:
        response = httpx.get(f"{url}/v1beta/connectors/kubernetes/tools",
                             headers={"Authorization": f"Bearer {real.developer_token()}"}, timeout=60)
        unnamed = httpx.get(f"{url}/v1beta/connectors/kubernetes/tools",
                            headers={"Authorization": f"Bearer {token(real)}"}, timeout=30)
        unauthenticated = httpx.get(f"{url}/v1beta/connectors/kubernetes/tools", timeout=30)
    assert response.status_code == 200, response.text
    assert unnamed.status_code == 403, "a valid identity dev does not name (default/default) is refused"
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
    with port_forward(real, LLAMA, 8321) as url:
        turn = agent_turn(url, real.developer_token(), call("pods_list_in_namespace", namespace=NS), forward=False)
    running = {p["metadata"]["name"] for p in real.get("pods", "-n", NS)["items"]}
    assert not turn["error"] and running <= set(turn["output"].split()), turn
    assert turn["name"] == "pods_list_in_namespace"


def test_make_up_with_no_kubeconfig_says_where_it_deploys_and_what_the_model_is(real, dev):
    assert "no kubeconfig given" in dev.stderr and "using the local cluster" in dev.stderr, dev.stderr
    assert "model: a scripted stand-in at vllm.models.svc" in dev.stderr, dev.stderr
    (model,) = real.get("pods", "-n", model_endpoint.NAMESPACE, "-l", f"app.kubernetes.io/name={model_endpoint.NAME}")["items"]
    assert model["spec"]["nodeName"] == REAL_NODE and model["status"]["containerStatuses"][0]["ready"]


def test_make_verify_passes_against_the_deployed_stack(real, dev, newcomer):
    result = newcomer("exec", str(ROOT / "venv" / "bin" / "python"), "-m", "ops.verify", "--stack", "dev")
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("Llama Stack health", "models through Llama Stack", "MCP connector 'kubernetes' lists tools",
                  "MCP server health", "MCP server lists tools"):
        assert f"PASS  {check}" in result.stdout, result.stdout
    assert "caller: developer (group llama-stack-developers" in result.stderr


def test_make_ask_gets_an_answer_through_the_pods(real, dev, newcomer):
    # What the README's second command runs: one agent turn, the tool call made by the MCP pod.
    result = newcomer("exec", str(ROOT / "venv" / "bin" / "python"), "-m", "ops.ask", "--stack", "dev",
                      call("pods_list_in_namespace", namespace=NS))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "\ntool:   pods_list_in_namespace\n" in out, out
    tool_result = out.split("\nresult: ", 1)[1].split("\nanswer: ", 1)[0]
    for pod in pods(real, MCP) + pods(real, LLAMA):
        assert pod["metadata"]["name"] in tool_result, out
    assert "\nanswer: The pods_list_in_namespace tool answered" in out, out


def test_logs_come_from_the_running_containers(real, dev):
    assert "HTTP server starting" in real.kubectl("logs", "-n", NS, f"deploy/{MCP}").stdout
    assert "Uvicorn running" in real.kubectl("logs", "-n", NS, f"deploy/{LLAMA}").stdout or \
        "Listening on" in real.kubectl("logs", "-n", NS, f"deploy/{LLAMA}").stdout


def containment_table() -> dict[str, dict]:
    """Our nftables table's base chains: {name: {"hook", "prio", "policy", "rules": [text]}}."""
    listing = json.loads(subprocess.run(["nft", "-j", "list", "table", "inet", TABLE], capture_output=True,
                                        text=True, check=True).stdout)["nftables"]
    chains = {e["chain"]["name"]: {**e["chain"], "rules": []} for e in listing if "chain" in e}
    text = subprocess.run(["nft", "list", "table", "inet", TABLE], capture_output=True, text=True, check=True).stdout
    current = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("chain "):
            current = line.split()[1]
        elif current and line and not line.startswith(("type ", "}")):
            chains[current]["rules"].append(line)
    return chains


def test_containment_holds_by_the_rules_and_routes(real):
    # Read, never probed: nothing is sent to an address outside this machine to see it blocked.
    routes = subprocess.run(["ip", "route", "show", SERVICE_CIDR], capture_output=True, text=True).stdout
    assert f"dev {BRIDGE}" in routes, routes
    pod_routes = subprocess.run(["ip", "route", "show", POD_CIDR], capture_output=True, text=True).stdout
    assert f"dev {BRIDGE}" in pod_routes, pod_routes
    chains = containment_table()
    forward, output = chains["forward"], chains["output"]
    # A drop in any base chain is final: the policy agent's and kube-proxy's accepts cannot undo it.
    assert forward["hook"] == "forward" and forward["policy"] == "accept" and forward["prio"] < 0, forward
    for rule in (f'ip saddr {POD_CIDR} oifname != "{BRIDGE}" drop', f'ip saddr {SERVICE_CIDR} oifname != "{BRIDGE}" drop',
                 f'ip daddr {SERVICE_CIDR} oifname != "{BRIDGE}" drop'):
        assert rule in forward["rules"], forward["rules"]
    # After kube-proxy's DNAT (priority -100) and its re-route: the interface the packet really leaves by.
    assert output["hook"] == "output" and -100 < output["prio"] < 0, output
    assert output["rules"] == [f'oifname {{ "lo", "{BRIDGE}" }} return', f"ct original ip daddr {SERVICE_CIDR} drop",
                               f"ip daddr {POD_CIDR} drop"], output["rules"]
    # The policy agent does accept early in FORWARD, which is why the drops are not iptables rules.
    assert "-j ACCEPT" in subprocess.run(["iptables", "-S", "KUBE-ROUTER-FORWARD"], capture_output=True,
                                         text=True).stdout
    nat = subprocess.run(["iptables", "-t", "nat", "-S", "POSTROUTING"], capture_output=True, text=True).stdout
    assert "MASQUERADE" not in "\n".join(l for l in nat.splitlines() if POD_CIDR in l), "pods are never masqueraded"
    config = (REAL_CLUSTER_DIR / "node" / "containerd" / "config.toml").read_text()
    endpoints = [line.split("=", 1)[1].strip() for line in config.splitlines() if line.strip().startswith("endpoint")]
    assert endpoints and set(endpoints) == {'["http://127.0.0.1:9"]'}, endpoints
    conflist = json.loads((REAL_CLUSTER_DIR / "node" / "cni" / "net.d" / "10-llmcp.conflist").read_text())
    assert conflist["plugins"][0]["ipMasq"] is False
    resolv = (REAL_CLUSTER_DIR / "node" / "resolv.conf").read_text()
    assert resolv.split()[:2] == ["nameserver", DNS_SERVICE_IP] and resolv.count("nameserver") == 1
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


# ------------------------------------------------------------------ a local cluster that cannot wedge
ADD_ONS = ("metrics-server", "kube-router", "coredns", "kube-proxy", "provisioner")


def supervised(add_on: str) -> Optional[int]:
    """The pid of the add-on's process under its supervisor (testbed/localcluster/supervise.sh), or None between runs."""
    supervisor = (REAL_CLUSTER_DIR / "pids" / add_on).read_text().strip()
    children = subprocess.run(["pgrep", "-P", supervisor], capture_output=True, text=True).stdout.split()
    running = [int(c) for c in children if command_name(c) not in ("sleep", "")]
    return running[0] if running else None


def command_name(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""  # gone meanwhile


def test_each_add_on_comes_back_after_it_dies(real, dev):
    # All that a dead add-on used to stop: the metrics API (and so namespace deletion), DNS, Services.
    for add_on in ADD_ONS:
        before = supervised(add_on)
        assert before, f"{add_on} runs under its supervisor"
        os.kill(before, 9)
        real.wait_until(f"{add_on} started again", lambda: supervised(add_on) not in (None, before), timeout=60)
        assert f"supervise: {add_on} exited with status 137; starting it again" in \
            (REAL_CLUSTER_DIR / "logs" / f"{add_on}.log").read_text()
    real.kubectl("wait", "--for=condition=Available", "apiservice/v1beta1.metrics.k8s.io", "--timeout=120s")
    resolved = real.kubectl("exec", "-n", NS, f"deploy/{LLAMA}", "--", "python3", "-c",
                            f"import socket; print(socket.gethostbyname('{MCP}.{NS}.svc.cluster.local'))").stdout
    assert resolved.strip() == real.get("service", MCP, "-n", NS)["spec"]["clusterIP"], "DNS answers again"


# ------------------------------------------------- who may use dev's rights; dev's data across destroy
# Dev hands the agent's rights (CRUD in every namespace, acknowledged) to one group, by name.

VICTIM, ELSEWHERE = "victim", "elsewhere"


@pytest.fixture
def intruder(real) -> Iterator[str]:
    """A ConfigMap in `victim`, and the token of a ServiceAccount of another namespace bound to nothing."""
    for namespace in (VICTIM, ELSEWHERE):
        real.kubectl("create", "namespace", namespace)
    real.kubectl("create", "configmap", "precious", "-n", VICTIM, "--from-literal=keep=me")
    real.kubectl("create", "serviceaccount", "intruder", "-n", ELSEWHERE)
    yield real.kubectl("create", "token", "intruder", "-n", ELSEWHERE).stdout.strip()
    real.kubectl("delete", "namespace", VICTIM, ELSEWHERE, "--wait=false", check=False)


def precious_exists(real) -> bool:
    return real.kubectl("get", "configmap", "precious", "-n", VICTIM, check=False).returncode == 0


def test_a_caller_dev_does_not_name_gains_no_right_through_the_agent(real, dev, intruder):
    can_i = real.kubectl("auth", "can-i", "delete", "configmaps", "-n", VICTIM,
                         f"--as=system:serviceaccount:{ELSEWHERE}:intruder", check=False)
    assert can_i.stdout.strip() == "no", "the intruder has no right of its own"
    delete = call("resources_delete", apiVersion="v1", kind="ConfigMap", name="precious", namespace=VICTIM)
    with port_forward(real, LLAMA, 8321) as url:
        with pytest.raises(openai.PermissionDeniedError, match="403"):
            agent_turn(url, intruder, delete, forward=False)
        assert precious_exists(real), "refused before any tool ran: the object is intact"
        turn = agent_turn(url, real.developer_token(), delete, forward=False)
    assert turn["name"] == "resources_delete" and not turn["error"], turn
    assert not precious_exists(real), "a caller of the group dev names (llama-stack-developers) may"


def test_devs_conversations_in_sqlite_survive_make_destroy_and_come_back_with_make_up(real, dev, newcomer):
    with port_forward(real, LLAMA, 8321) as url:
        made = conversation(url, real.developer_token(), "dev")
    claim = real.get("pvc", "llama-stack-data", "-n", NS)["metadata"]["uid"]
    destroyed = newcomer("destroy", "--yes")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert "kept, as it may hold your data: Namespace llama-stack, PersistentVolumeClaim llama-stack/llama-stack-data" \
        in destroyed.stderr, destroyed.stderr
    assert f"kubectl --kubeconfig {real.kubeconfig} --context" in destroyed.stderr  # the cluster it kept them on
    assert "delete namespace llama-stack" in destroyed.stderr
    # The API server: no workload left, the namespace and the very same claim kept.
    assert real.get("deployments", "-n", NS)["items"] == []
    assert real.get("namespace", NS)["metadata"]["labels"][KEEP] == "true"
    assert real.get("pvc", "llama-stack-data", "-n", NS)["metadata"]["uid"] == claim
    up = newcomer("up", "--yes")
    assert up.returncode == 0, up.stdout + up.stderr
    assert real.get("pvc", "llama-stack-data", "-n", NS)["metadata"]["uid"] == claim, "taken over, not replaced"
    with port_forward(real, LLAMA, 8321) as url:
        assert recalled(url, real.developer_token(), made) == "dev"


