"""Pods that really run: the dev stack file, unchanged, on a real node (kubelet, containerd, runc, CNI,
kube-proxy, CoreDNS: testbed/localcluster/node/) with the images built here (testbed/localcluster/images/).

What kwok cannot show is judged here by asking the API server, the kubelet and the running pods:
readiness by the kubelet's own probes, the MCP server listing objects with its mounted token, Llama
Stack reaching the MCP server through its Service by DNS name, logs, exec and port-forward. The
containment is proved by reading routes and rules, never by sending a packet off the machine; and
`cluster down` leaves no process, bridge, rule or route behind.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator, Optional

import httpx
import openai
import pytest

from components import meta
from testbed.localcluster import model as model_endpoint
# The containment's bridge, nftables table (inet), nat chain and ranges, as node.sh sets them up.
from testbed.localcluster.facts import BRIDGE, CHAIN, DNS_SERVICE_IP, POD_CIDR, RESTRICTED_UID, SERVICE_CIDR, TABLE
from testbed.localcluster.harness import TOOLCHAIN_BIN, LocalCluster, Project
from ops import reach
from support import LLAMA, MCP, NS, ROOT, TEST_SECRETS, leftovers, namespace_gone, pulumi_sh
from support import provided
from support.agent_clients import MODEL, agent_turn, call, mcp_calls
from testbed.traffic import resources
from testbed.traffic.load import AgentLoad, McpLoad, Result
from testbed.traffic.probes import Probes, probe_pod
from testbed.traffic.prometheus import NAMESPACE as MONITORING, Prometheus

# Its own control plane and ports: the kwok cluster of the other cluster tests runs beside it.
REAL_CLUSTER_DIR = ROOT / "build" / "test-real-node"
REAL_PORT_BASE = 16700
REAL_NODE = "real-node"  # the first real node's name (node.sh); add_node() gives a second
DATA_NS = "llama-stack-data"  # where prod's stack file puts its PostgreSQL: no stack creates it
# `make soak` sets SOAK=1: the long versions (alerts held past their `for`, the HPA back at its minimum).
SOAK = os.environ.get("SOAK") == "1"
FIGURES = REAL_CLUSTER_DIR / "figures.json"  # what the traffic tests measured (docs/performance.md#on-running-pods)


MACHINE_SYSCTLS = [line for line in (ROOT / "testbed" / "localcluster" / "node" / "machine-sysctls").read_text().splitlines()
                   if line and not line.startswith("#")]


def machine_sysctls() -> dict[str, str]:
    return {key: subprocess.run(["sysctl", "-n", key], capture_output=True, text=True).stdout.strip()
            for key in MACHINE_SYSCTLS}


@pytest.fixture(scope="module")
def sysctls_before() -> dict[str, str]:
    return machine_sysctls()


@pytest.fixture(scope="module")
def real(sysctls_before):
    cluster = LocalCluster(REAL_CLUSTER_DIR, REAL_PORT_BASE, node="real").up(fresh=True)
    yield cluster
    cluster.down()


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
def dev(newcomer):
    up = newcomer("up", "--yes")
    assert up.returncode == 0, up.stdout + up.stderr
    return up


def pods(cluster: LocalCluster, app: str) -> list[dict]:
    return cluster.get("pods", "-n", NS, "-l", f"app.kubernetes.io/name={app}")["items"]


@contextlib.contextmanager
def port_forward(cluster: LocalCluster, service: str, port: int, scheme: str = "http") -> Iterator[str]:
    """kubectl port-forward to a Service: through the API server and the kubelet, on loopback."""
    with reach.port_forward(NS, service, port, scheme, kubectl=str(TOOLCHAIN_BIN / "kubectl"),
                            env=cluster.env()) as url:
        yield url


def token(cluster: LocalCluster, account: str = "default") -> str:
    return cluster.kubectl("create", "token", account, "-n", "default").stdout.strip()


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
KEEP = meta.KEEP_ON_DESTROY


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


def conversation(url: str, token: str, topic: str) -> str:
    """A conversation stored by Llama Stack (SQLite in dev, PostgreSQL in prod); its id."""
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=token, max_retries=0, timeout=60)
    made = client.conversations.create(metadata={"topic": topic}, items=[
        {"type": "message", "role": "user", "content": f"remember the {topic} stack"}])
    return made.id


def recalled(url: str, token: str, conversation_id: str) -> str:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=token, max_retries=0, timeout=60)
    return (client.conversations.retrieve(conversation_id).metadata or {}).get("topic", "")


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


# ------------------------------------------------------------------------------------------ prod
# Prod's stack file with only what plain Kubernetes needs instead of OpenShift's (no service CA, no
# router): the serving certificate comes from a Secret the test issues and the Route becomes an
# Ingress. Its PostgreSQL, which a user provides, runs as a pod under the host name the file uses.

MCP_SERVING_SECRET = "mcp-serving"
PEOPLE = {"alice": "view", "bob": None}  # alice may read the namespace; bob may read nothing


@pytest.fixture(scope="module")
def prod(real, newcomer, tmp_path_factory):
    if leftovers(real):
        assert newcomer("destroy", "--yes").returncode == 0  # dev goes first: the same names
        namespace_gone(real)
    password = TEST_SECRETS["postgresPassword"]
    # The scripted model where prod expects vLLM, as `make up` puts it for dev (already there when dev ran).
    real.kubectl("apply", "--server-side", "--field-manager", "local-cluster", "-f", "-",
                 input=json.dumps({"apiVersion": "v1", "kind": "List", "items": model_endpoint.manifest()}))
    real.kubectl("rollout", "status", "-n", model_endpoint.NAMESPACE, f"deployment/{model_endpoint.NAME}", "--timeout=180s")
    # The database before the stack (Llama Stack needs it to start), where prod's file puts it: a namespace
    # no stack creates, so no destroy takes it.
    real.kubectl("create", "namespace", DATA_NS)
    real.kubectl("create", "namespace", NS)  # for the serving certificate the user provides (the stack takes it over)
    real.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                      "items": provided.postgres(DATA_NS, password)}))
    real.kubectl("rollout", "status", "-n", DATA_NS, "deployment/postgres", "--timeout=120s")
    real.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": provided.collector()}))
    files = provided.serving_certificate(tmp_path_factory.mktemp("tls"), MCP, NS)
    real.kubectl("apply", "-f", "-", input=provided.tls_secret(MCP_SERVING_SECRET, NS, files))
    for person, role in PEOPLE.items():
        real.kubectl("create", "serviceaccount", person, "-n", "default")
        if role:
            real.kubectl("create", "rolebinding", f"{person}-{role}", "-n", NS, f"--clusterrole={role}",
                         f"--serviceaccount=default:{person}")
    project = Project(real, tmp_path_factory.mktemp("real-prod") / "project", "prod",
                      secrets={"postgresPassword": password})
    settings = project.settings()
    project.set_setting("platform", "kubernetes")
    project.set_setting("mcpServer", {**settings["llamastack-mcp:mcpServer"],
                                      "tls": {"secretName": MCP_SERVING_SECRET}})
    stack = settings["llamastack-mcp:llamaStack"]
    # No Ingress controller here: an Ingress would never get an address, and `up` awaits one.
    project.set_setting("llamaStack", {**stack, "route": {"enabled": False}})
    # Every trace kept (prod keeps a tenth of new ones), so one agent turn is enough to see.
    project.set_setting("telemetry", {"otlpEndpoint": provided.COLLECTOR_URL, "samplingRatio": 1})
    up = project.up(check=False)
    assert up.returncode == 0, up.stdout[-3000:] + "".join(
        real.kubectl("logs", "-n", NS, p["metadata"]["name"], "--all-containers", "--tail=40", check=False).stdout
        for p in pods(real, LLAMA))
    yield project
    real.kubectl("delete", "serviceaccount", *PEOPLE, "-n", "default", check=False)


def test_prod_runs_two_ready_replicas_of_each_server_on_real_pods(real, prod):
    for app in (MCP, LLAMA):
        real.wait_until(f"{app} at the HPA's minimum", lambda: real.get("deployment", app, "-n", NS)["status"]
                        .get("readyReplicas") == 2, timeout=180)
        running = pods(real, app)
        assert len(running) == 2, f"{app}: the HPA's minimum"
        for pod in running:
            (status,) = pod["status"]["containerStatuses"]
            assert pod["spec"]["nodeName"] == REAL_NODE and status["ready"], status
            assert status["restartCount"] == 0, f"{app} restarted: {status.get('lastState')}"


def sql(real, query: str) -> str:
    """A query in prod's provided database, as its own server answers it."""
    return real.kubectl("exec", "-n", DATA_NS, "deploy/postgres", "--", "psql", "-h", "/var/run/postgresql",
                        "-U", "llamastack", "-d", "llamastack", "-Atc", query).stdout.strip()


def test_prod_keeps_llama_stacks_state_in_the_provided_postgres(real, prod):
    tables = sql(real, "select count(*) from information_schema.tables where table_schema = 'public'")
    assert int(tables) > 0, "Llama Stack created its tables in the database prod's file names"


def test_prod_conversations_in_the_provided_postgres_survive_destroy_and_come_back_with_up(real, prod):
    with port_forward(real, LLAMA, 8321) as url:
        made = conversation(url, token(real, "alice"), "prod")
    rows = int(sql(real, "select count(*) from openai_conversations"))
    prod.destroy()
    # The API server: none of the stack's workloads left; its namespace kept (the stack created it).
    assert real.get("deployments", "-n", NS)["items"] == []
    assert real.get("namespace", NS)["metadata"]["labels"][KEEP] == "true"
    assert int(sql(real, "select count(*) from openai_conversations")) == rows >= 1, "the rows stayed"
    assert prod.up(check=False).returncode == 0
    with port_forward(real, LLAMA, 8321) as url:
        assert recalled(url, token(real, "alice"), made) == "prod"


def test_prod_llama_stack_reaches_the_mcp_server_over_tls_with_the_issued_certificate(real, prod):
    # From the Llama Stack pod, with its own trust bundle (the init container's SSL_CERT_FILE), by DNS name.
    probe = ("import socket, ssl; c = ssl.create_default_context(); "
             f"s = c.wrap_socket(socket.create_connection(('{MCP}.{NS}.svc.cluster.local', 8080)), "
             f"server_hostname='{MCP}.{NS}.svc.cluster.local'); print(s.version(), s.getpeercert()['issuer'])")
    out = real.kubectl("exec", "-n", NS, f"deploy/{LLAMA}", "--", "python3", "-c", probe).stdout
    assert out.startswith("TLSv1.3") and "test-issuer" in out, out


def test_prod_tool_calls_run_with_the_callers_own_token(real, prod):
    server = f"https://{MCP}.{NS}.svc.cluster.local:8080/mcp"
    prompt = call("pods_list_in_namespace", namespace=NS)
    with port_forward(real, LLAMA, 8321) as url:
        alice = agent_turn(url, token(real, "alice"), prompt, server_url=server)
        bob = agent_turn(url, token(real, "bob"), prompt, server_url=server)
    for pod in pods(real, MCP) + pods(real, LLAMA):
        assert pod["metadata"]["name"] in alice["output"], alice
    assert not alice["error"]
    assert bob["error"] and "forbidden" in bob["answer"].lower(), bob


def test_prod_traces_follow_an_agents_tool_call_from_the_llama_stack_pod_into_the_mcp_pod(real, prod):
    server = f"https://{MCP}.{NS}.svc.cluster.local:8080/mcp"
    with port_forward(real, LLAMA, 8321) as url:
        turn = agent_turn(url, token(real, "alice"), call("events_list", namespace=NS), server_url=server)
    assert not turn["error"], turn

    def tool_trace() -> list[dict]:
        logs = real.kubectl("logs", "-n", provided.COLLECTOR_NAMESPACE, f"deploy/{provided.COLLECTOR}",
                            check=False).stdout
        spans = provided.received_spans(logs)
        tool = [s for s in spans if s["service"] == MCP and s["name"] == "tools/call events_list"]
        return [s for s in spans if tool and s["trace_id"] == tool[-1]["trace_id"]]

    real.wait_until("the tool call's trace at the collector", lambda: any(
        s["name"] == "invoke_mcp_tool" for s in tool_trace()), timeout=60)
    trace = tool_trace()
    by_id = {s["span_id"]: s for s in trace}
    tool = next(s for s in trace if s["name"] == "tools/call events_list")
    assert tool["attributes"]["gen_ai.tool.name"] == "events_list"
    chain, span = [], tool
    while span["parent_id"] in by_id:  # up from the tool span to the trace's root
        span = by_id[span["parent_id"]]
        chain.append((span["service"], span["name"]))
    # The MCP server's span hangs under Llama Stack's HTTP call; Llama Stack's own tool span is in the trace.
    assert chain[:2] == [(MCP, "POST /mcp"), ("llama-stack", "POST")], chain
    assert chain[-1][0] == "llama-stack" and chain[-1][1].startswith("POST /v1/responses"), chain
    assert any(s["service"] == "llama-stack" and s["name"] == "invoke_mcp_tool" for s in trace)


def test_prod_refuses_secrets_to_the_agent_even_where_rbac_allows_them(real, prod):
    """prod's default deniedResources, on the running MCP pods: carol may read Secrets, the agent may not."""
    real.kubectl("create", "serviceaccount", "carol", "-n", "default")
    real.kubectl("create", "rolebinding", "carol-edit", "-n", NS, "--clusterrole=edit", "--serviceaccount=default:carol")
    carol = token(real, "carol")
    assert real.kubectl("auth", "can-i", "list", "secrets", "-n", NS, "--as=system:serviceaccount:default:carol",
                        check=False).stdout.strip() == "yes", "carol's own RBAC allows Secrets"
    server = f"https://{MCP}.{NS}.svc.cluster.local:8080/mcp"
    with port_forward(real, LLAMA, 8321) as url:
        secrets = agent_turn(url, carol, call("resources_list", apiVersion="v1", kind="Secret", namespace=NS),
                             server_url=server)
        config_maps = agent_turn(url, carol, call("resources_list", apiVersion="v1", kind="ConfigMap",
                                                  namespace=NS), server_url=server)
    real.kubectl("delete", "serviceaccount", "carol", "-n", "default", check=False)
    assert not config_maps["error"] and "llama-stack-config" in config_maps["output"], "carol's own rights work"
    # Llama Stack 0.7.3 passes on only "Error (code 1)"; the server's message is checked at the cluster layer.
    assert secrets["error"] and not secrets["output"], secrets
    assert TEST_SECRETS["postgresPassword"] not in json.dumps(secrets)
    asked = [e for e in real.audit_events("system:serviceaccount:default:carol")
             if e["objectRef"].get("resource") == "secrets"]
    assert asked == [], "the MCP server refused before asking the API server"


# ------------------------------------------------------ what only running pods can show (prod)
# The NetworkPolicy agent (kube-router's policy controller) and metrics-server run on the node
# (testbed/localcluster/node/); the load and the probes go only to the node's own addresses.

def record(key: str, value) -> None:
    figures = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    figures[key] = value
    FIGURES.write_text(json.dumps(figures, indent=2, sort_keys=True))


def mcp_target(real) -> dict:
    """Where and how a client of prod's MCP Service connects: its address, certificate and name."""
    ca = REAL_CLUSTER_DIR / "mcp-ca.crt"
    secret = real.get("secret", MCP_SERVING_SECRET, "-n", NS)
    ca.write_text(base64.b64decode(secret["data"]["ca.crt"]).decode())
    ip = real.get("service", MCP, "-n", NS)["spec"]["clusterIP"]
    return {"url": f"https://{ip}:8080/mcp", "ca": ca, "server_name": f"{MCP}.{NS}.svc"}


def tool_load(real, who: str = "alice", tool: str = "pods_list_in_namespace", **bounds) -> McpLoad:
    return McpLoad(**mcp_target(real), token=token(real, who), tool=tool, arguments={"namespace": NS}, **bounds)


@pytest.fixture(scope="module")
def probes(real, prod):
    # Another namespace, an unlabelled pod in the stack's own, and the monitoring namespace (prod on
    # plain Kubernetes admits it by name; OpenShift's by its policy-group label, set as OpenShift does).
    # The ingress controller's namespace (plain Kubernetes' default name; OpenShift's label on it too).
    pods = [probe_pod("probe", "elsewhere"), probe_pod("probe", NS), probe_pod("probe", MONITORING),
            probe_pod("probe", INGRESS)]
    with Probes(real, pods) as found:
        real.kubectl("label", "namespace", MONITORING, "network.openshift.io/policy-group=monitoring", "--overwrite")
        real.kubectl("label", "namespace", INGRESS, "network.openshift.io/policy-group=ingress", "--overwrite")
        yield found
    real.kubectl("delete", "namespace", "elsewhere", INGRESS, "--wait=false", check=False)


def verdicts(real, probes) -> dict[str, bool]:
    """Who can open a connection to the MCP server (its Service and one pod) and to Llama Stack."""
    mcp_service = real.get("service", MCP, "-n", NS)["spec"]["clusterIP"]
    mcp_pod = pods(real, MCP)[0]["status"]["podIP"]
    stack_service = real.get("service", LLAMA, "-n", NS)["spec"]["clusterIP"]
    llama_pod = pods(real, LLAMA)[0]["metadata"]["name"]
    sources = {"elsewhere": ("elsewhere", "probe"), "same-namespace": (NS, "probe"),
               "monitoring": (MONITORING, "probe"), "ingress": (INGRESS, "probe"), "llama-stack": (NS, llama_pod)}
    tries = {f"{label} -> mcp": [(namespace, pod, mcp_service, 8080), (namespace, pod, mcp_pod, 8080)]
             for label, (namespace, pod) in sources.items()}
    tries.update({f"{label} -> llama-stack": [(*sources[label], stack_service, 8321)]
                  for label in ("elsewhere", "same-namespace", "ingress")})
    # In parallel: a dropped connection answers nothing and costs the probe's whole timeout.
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        answers = {key: [pool.submit(probes.reaches, *t, timeout=2.0) for t in attempts]
                   for key, attempts in tries.items()}
        out = {}
        for key, futures in answers.items():
            results = {f.result() for f in futures}
            assert len(results) == 1, f"{key}: the Service and the pod disagree"
            out[key] = results.pop()
    return out


INGRESS = "ingress-nginx"  # networkPolicy.ingressNamespace's default
PROD_AS_RENDERED = {"elsewhere -> mcp": False, "same-namespace -> mcp": False, "monitoring -> mcp": True,
                    "ingress -> mcp": False, "llama-stack -> mcp": True, "elsewhere -> llama-stack": False,
                    "same-namespace -> llama-stack": True, "ingress -> llama-stack": False}


def test_prod_network_policies_are_enforced_on_the_node(real, prod, probes):
    assert verdicts(real, probes) == PROD_AS_RENDERED


def rendered_policies(prod, **overrides) -> list[dict]:
    """The NetworkPolicies `pulumi up` would make of this stack's settings with some keys changed."""
    from ops import offline
    from support import deep_merge
    values = {k.removeprefix("llamastack-mcp:"): v for k, v in prod.settings().items()
              if k.startswith("llamastack-mcp:") and not (isinstance(v, dict) and "secure" in v)}
    run = offline.run(deep_merge(values, overrides), {"postgresPassword": TEST_SECRETS["postgresPassword"]},
                      stack="prod")
    assert run.error is None, run.error
    return run.find("NetworkPolicy")


def apply_policies(real, policies: list[dict]) -> None:
    real.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager", "test-variant", "-f", "-",
                 input=json.dumps({"apiVersion": "v1", "kind": "List", "items": policies}))


@pytest.mark.parametrize("variant, overrides, changed", [
    # OpenShift finds its monitoring namespace by the policy-group label, not by name.
    ("openshift", {"platform": "openshift"}, {}),
    # No ServiceMonitor: nothing from monitoring may reach the MCP server any more.
    ("no-monitoring", {"monitoring": {"serviceMonitor": False, "prometheusRule": False}}, {"monitoring -> mcp": False}),
    # Llama Stack exposed through an Ingress: the ingress controller's namespace may reach it, not the MCP server.
    ("llama-stack-ingress", {"llamaStack": {"route": {"enabled": True, "host": "llama.apps.example.test"}}},
     {"ingress -> llama-stack": True}),
])
def test_every_variants_rendered_policies_hold_the_same_way(real, prod, probes, variant, overrides, changed):
    policies = rendered_policies(prod, **overrides)
    assert {p["metadata"]["name"] for p in policies} == {MCP, LLAMA}
    try:
        apply_policies(real, policies)
        time.sleep(3)  # the agent syncs on the policy's watch event
        assert verdicts(real, probes) == {**PROD_AS_RENDERED, **changed}, variant
    finally:
        apply_policies(real, rendered_policies(prod))
    assert verdicts(real, probes) == PROD_AS_RENDERED


def test_turning_the_policies_off_opens_the_path_and_on_closes_it(real, prod, probes):
    stack_file = prod.stack_file.read_text()
    prod.set_setting("networkPolicy", {"enabled": False})  # prod requires the caller's token: no opt-in needed
    try:
        assert prod.up(check=False).returncode == 0
        assert real.get("networkpolicies", "-n", NS)["items"] == []
        time.sleep(3)
        assert all(verdicts(real, probes).values()), "with no policy every pod reaches both servers"
    finally:
        prod.stack_file.write_text(stack_file)
        assert prod.up(check=False).returncode == 0
    time.sleep(3)
    assert verdicts(real, probes) == PROD_AS_RENDERED


@pytest.fixture(scope="module")
def second_node(real, prod):
    """A second real node: room for a rolling update's surge pods. On one 2-core node prod's requests
    (2 x 250m + 2 x 500m, with the database, model and probe pods 1,610m of 2,000m) leave none for
    a new Llama Stack pod (500m), so a rollout would wait for CPU forever; a real cluster has spare
    capacity. The drain test moves the servers back and removes it."""
    name = real.add_node()
    yield name
    real.remove_node()


class Serving(threading.Thread):
    """The fewest available replicas each Deployment had while a command ran (sampled every second)."""

    def __init__(self, real) -> None:
        super().__init__(daemon=True)
        self.real, self.fewest, self.done = real, {MCP: 99, LLAMA: 99}, threading.Event()

    def run(self) -> None:
        while not self.done.wait(1):
            for app in self.fewest:
                status = self.real.get("deployment", app, "-n", NS)["status"]
                self.fewest[app] = min(self.fewest[app], status.get("availableReplicas", 0))

    def __enter__(self) -> "Serving":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.join(5)


def agent_load(real, **bounds) -> AgentLoad:
    stack = real.get("service", LLAMA, "-n", NS)["spec"]["clusterIP"]
    return AgentLoad(f"http://{stack}:8321", token=token(real, "alice"), model=MODEL,
                     prompt=call("pods_list_in_namespace", namespace=NS),
                     server_url=f"https://{MCP}.{NS}.svc.cluster.local:8080/mcp", **bounds)


def image_id(pod: dict, container: str) -> str:
    return next(s for s in pod["status"]["containerStatuses"] if s["name"] == container)["imageID"]


def test_a_promotion_rolls_prod_under_agent_traffic_without_a_failed_request(real, prod, second_node):
    """make promote FROM=dev TO=prod, then make up STACK=prod, while agents and tool callers loop."""
    from ops.promote import promote
    # dev was tested with both images pinned by digest (the same builds): the promotion carries them.
    pinned = {MCP: image_id(pods(real, MCP)[0], MCP), LLAMA: image_id(pods(real, LLAMA)[0], LLAMA)}
    dev = (ROOT / "Pulumi.dev.yaml").read_text()
    for tagged, digest in (("quay.io/containers/kubernetes_mcp_server:v0.0.67", pinned[MCP]),
                           ("docker.io/llamastack/distribution-starter:0.7.3", pinned[LLAMA])):
        assert f"image: {tagged}" in dev and "@sha256:" in digest
        dev = dev.replace(f"image: {tagged}", f"image: {digest}")
    prod.stack_file.write_text(promote(dev, prod.stack_file.read_text(), "prod"))
    old = {app: {p["metadata"]["name"] for p in pods(real, app)} for app in (MCP, LLAMA)}
    tools = tool_load(real, workers=2, pace=0.25, seconds=420, max_calls=5000)
    agents = agent_load(real, workers=1, pace=1.0, seconds=420, max_calls=500, timeout=120)
    with tools, agents, Serving(real) as serving:
        started = time.monotonic()
        up = prod.up(check=False)
        up_seconds = time.monotonic() - started
        time.sleep(10)  # and the new pods serve a while
    assert up.returncode == 0, up.stdout[-2000:]
    tool_calls, turns = tools.stop(), agents.stop()
    for app in (MCP, LLAMA):
        # The old pods serve out their preStop delay (shutdownDelaySeconds) and in-flight calls as Terminating.
        real.wait_until(f"{app}'s old pods gone", lambda: not {
            p["metadata"]["name"] for p in pods(real, app)} & old[app], timeout=120)
        running = pods(real, app)
        assert not {p["metadata"]["name"] for p in running} & old[app], f"{app}: every pod was replaced"
        assert {p["spec"]["containers"][0]["image"] for p in running} == {pinned[app]}
        assert serving.fewest[app] >= 2, f"{app}: the old pods served until the new were Ready ({serving.fewest})"
    record("promotion", {"tool_calls": tool_calls.summary(), "agent_turns": turns.summary(),
                         "fewest_available": serving.fewest, "up_seconds": round(up_seconds),
                         "failures": [c.detail for c in (tool_calls.failed + turns.failed)[:5]]})
    assert len(turns.calls) >= 10 and not turns.failed, f"{turns.summary()}: {turns.failed[:3]}"
    assert tool_calls.calls and not tool_calls.failed, f"{tool_calls.summary()}: {tool_calls.failed[:3]}"


NEVER_READY = "quay.io/containers/kubernetes_mcp_server:v0.0.0-never-ready"  # never imported: never pulled


def test_a_release_that_never_gets_ready_keeps_prod_serving_and_one_up_rolls_back(real, prod, second_node):
    good = prod.stack_file.read_text()
    mcp = prod.settings()["llamastack-mcp:mcpServer"]
    prod.set_setting("mcpServer", {**mcp, "image": NEVER_READY, "rolloutTimeoutSeconds": 30})
    tools = tool_load(real, workers=2, pace=0.25, seconds=300, max_calls=5000)
    with tools, Serving(real) as serving:
        started = time.monotonic()
        bad = prod.up(check=False)
        failed_in = time.monotonic() - started
        stuck = [p for p in pods(real, MCP) if p["spec"]["containers"][0]["image"] == NEVER_READY]
        prod.stack_file.write_text(good)  # the rollback: the previous release, promoted back
        rollback = prod.up(check=False)
    result = tools.stop()
    assert bad.returncode != 0 and MCP in bad.stdout + bad.stderr, bad.stdout[-2000:]
    assert failed_in < 30 + 120, f"the failed rollout was reported in {failed_in:.0f} s"
    assert stuck and all(s["state"].get("waiting", {}).get("reason") == "ErrImageNeverPull"
                         for p in stuck for s in p["status"]["containerStatuses"]), stuck
    assert rollback.returncode == 0, rollback.stdout[-2000:]
    real.wait_until("the stuck pods gone after the rollback", lambda: not [
        p for p in pods(real, MCP) if p["spec"]["containers"][0]["image"] == NEVER_READY], timeout=60)
    assert serving.fewest[MCP] >= 2, serving.fewest
    record("failed_rollout", {"tool_calls": result.summary(), "failed_in_seconds": round(failed_in),
                              "fewest_available": serving.fewest, "failures": [c.detail for c in result.failed[:5]]})
    assert result.calls and not result.failed, f"{result.summary()}: {result.failed[:3]}"


SERVERS = f"app.kubernetes.io/name in ({MCP},{LLAMA})"  # what a drain moves: the database and model stay


def drain(real, node: str) -> subprocess.CompletedProcess:
    return real.kubectl("drain", node, "--pod-selector", SERVERS, "--ignore-daemonsets", "--delete-emptydir-data",
                        "--timeout=300s", check=False)


def seconds_to_ready(pod: dict) -> float:
    """From the pod's creation to its Ready condition: what one replica without a PDB is down for."""
    stamp = lambda text: time.mktime(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))  # noqa: E731
    ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready" and c["status"] == "True")
    return stamp(ready["lastTransitionTime"]) - stamp(pod["metadata"]["creationTimestamp"])


def on_nodes(real) -> set[str]:
    return {p["spec"]["nodeName"] for app in (MCP, LLAMA) for p in pods(real, app)}


def test_a_drain_moves_prods_servers_to_another_node_without_a_failed_request(real, prod, second_node):
    """kubectl drain under steady agent traffic: the PDBs keep each server serving while its pods move.
    Both servers are gathered on the first node, which is then drained onto the second and back."""
    first, second = REAL_NODE, second_node
    tools = tool_load(real, workers=2, pace=0.25, seconds=600, max_calls=5000)
    agents = agent_load(real, workers=1, pace=1.0, seconds=600, max_calls=600, timeout=120)
    steps: dict[str, float] = {}

    def drained(node: str, onto: str) -> None:
        started = time.monotonic()
        result = drain(real, node)
        assert result.returncode == 0, result.stdout + result.stderr
        for app in (MCP, LLAMA):
            real.kubectl("rollout", "status", "-n", NS, f"deployment/{app}", "--timeout=180s")
        steps[f"{node} -> {onto}"] = round(time.monotonic() - started)
        assert on_nodes(real) == {onto}, f"every server pod left {node}"
        real.kubectl("uncordon", node)

    try:
        with tools, agents, Serving(real) as serving:
            drained(second, onto=first)  # where the rollouts left some: gathered on the first
            drained(first, onto=second)  # the drain measured
            moved = {app: pods(real, app) for app in (MCP, LLAMA)}
            time.sleep(10)  # the moved pods serve a while
            drained(second, onto=first)  # back, before the second node goes
        tool_calls, turns = tools.stop(), agents.stop()
    finally:
        real.kubectl("uncordon", first, check=False)
        real.remove_node()
    assert second not in {n["metadata"]["name"] for n in real.get("nodes")["items"]}
    for app in (MCP, LLAMA):
        assert serving.fewest[app] >= 1, f"{app}: its PDB kept one serving ({serving.fewest})"
    record("drain", {"drains_seconds": steps, "fewest_available": serving.fewest,
                     "tool_calls": tool_calls.summary(), "agent_turns": turns.summary(),
                     "failures": [c.detail for c in (tool_calls.failed + turns.failed)[:5]],
                     # dev has one replica and no PDB: a drain evicts it at once, and it is down this long.
                     "single_replica_outage_seconds": {app: max(seconds_to_ready(p) for p in running)
                                                       for app, running in moved.items()}})
    assert len(turns.calls) >= 5 and not turns.failed, f"{turns.summary()}: {turns.failed[:3]}"
    assert tool_calls.calls and not tool_calls.failed, f"{tool_calls.summary()}: {tool_calls.failed[:3]}"


def test_prod_alerts_fire_on_live_series_and_resolve(real, prod):
    holding = 330 if SOAK else 0  # past MCPServerDown's `for: 5m`
    took: dict[str, float] = {}

    def until(what: str, alert: str, states: tuple[str, ...], timeout: float, since: float) -> None:
        real.wait_until(what, lambda: prometheus.alert(alert) in states, timeout=timeout, interval=5)
        took[what] = round(time.monotonic() - since)

    with Prometheus(real, REAL_CLUSTER_DIR / "prometheus", REAL_PORT_BASE + 30) as prometheus:
        up = 'up{namespace="llama-stack", job="kubernetes-mcp-server"}'
        # Every Ready MCP pod (the HPA may still hold more than two after the load) is scraped over TLS.
        real.wait_until("Prometheus scrapes every Ready MCP pod over TLS", lambda: len(
            [s for s in prometheus.query(up) if s["value"][1] == "1"]) == len(
            [p for p in pods(real, MCP) if resources.placement(p) == "ready"]) >= 2, timeout=120, interval=5)
        assert prometheus.alert("MCPServerDown") == "inactive"
        gone = time.monotonic()
        real.kubectl("scale", "deployment", MCP, "-n", NS, "--replicas=0")
        try:
            until("MCPServerDown pending", "MCPServerDown", ("pending", "firing"), 120, gone)
            if SOAK:
                until("MCPServerDown firing", "MCPServerDown", ("firing",), holding + 60, gone)
        finally:
            back = time.monotonic()
            real.kubectl("scale", "deployment", MCP, "-n", NS, "--replicas=2")
        real.kubectl("rollout", "status", "-n", NS, f"deployment/{MCP}", "--timeout=180s")
        until("MCPServerDown resolved", "MCPServerDown", ("inactive",), 120, back)
        # Tool calls that fail as the server counts them (k8s_mcp_tool_errors_total): an agent calling a
        # tool prod does not serve (read-only, no destructive tools). A tool that runs and reports a
        # failure (RBAC forbids it, the object is missing) returns isError and is not counted.
        assert prometheus.alert("MCPToolErrorRate") == "inactive"
        failing = tool_load(real, tool="pods_delete", workers=1, pace=0.5, seconds=(780 if SOAK else 150),
                            max_calls=2000)
        began = time.monotonic()
        with failing:
            until("MCPToolErrorRate pending", "MCPToolErrorRate", ("pending", "firing"), 150, began)
            if SOAK:  # `for: 10m`
                until("MCPToolErrorRate firing", "MCPToolErrorRate", ("firing",), 780, began)
        stopped = time.monotonic()
        assert failing.result.failed and not [c for c in failing.result.calls if c.ok], \
            "every call of a tool prod does not serve failed, as the alert saw"
        if SOAK:  # its rate window (5m) empties of errors
            until("MCPToolErrorRate resolved", "MCPToolErrorRate", ("inactive",), 420, stopped)
    record("alerts" + ("_soak" if SOAK else ""), {"seconds_after_the_cause": took})


def hpa_replicas(real) -> int:
    return real.get("deployment", MCP, "-n", NS)["spec"]["replicas"]


# How long the HPA keeps its highest recommendation before scaling down. `make soak` proves prod as shipped
# (no `behavior`: Kubernetes' 300 s); `make test` sets mcpServer.autoscaling.scaleDownStabilizationSeconds
# so the way back fits its time, and a window of 60 s still tells the setting from the default.
SCALE_DOWN_WINDOW = None if SOAK else 60


@contextlib.contextmanager
def scale_down_window(real, prod, seconds: Optional[int]) -> Iterator[int]:
    """prod with its MCP HPA's scale-down window set (None: as shipped), restored afterwards."""
    shipped = prod.stack_file.read_text()
    if seconds is not None:
        mcp = prod.settings()["llamastack-mcp:mcpServer"]
        prod.set_setting("mcpServer", {**mcp, "autoscaling": {**mcp["autoscaling"],
                                                              "scaleDownStabilizationSeconds": seconds}})
        assert prod.up(check=False).returncode == 0
    # As the API server holds it; an HPA without `behavior` has the controller's default window, 300 s.
    spec = real.get("hpa", MCP, "-n", NS)["spec"]
    window = spec.get("behavior", {}).get("scaleDown", {}).get("stabilizationWindowSeconds", 300)
    assert window == (300 if seconds is None else seconds), spec
    try:
        yield window
    finally:
        if seconds is not None:
            prod.stack_file.write_text(shipped)
            assert prod.up(check=False).returncode == 0


def within_limits(limits: dict, counters: dict, disk: dict) -> None:
    """A server's containers under load, against their rendered limits: memory below the limit (the cgroup's
    own limit is the rendered one), no OOM kill, the node disk they write below ephemeral-storage's limit."""
    memory_limit = int(resources.parse_quantity(limits["limits"]["memory"]))
    for name, found in counters.items():
        assert found["memory_limit"] == memory_limit and found["peak_memory"] < memory_limit, (name, found)
        assert found["oom_events"] == 0, (name, found)
    disk_limit = resources.parse_quantity(limits["limits"]["ephemeral-storage"])
    assert disk and all(used < disk_limit for used in disk.values()), (disk, disk_limit)


def mcp_pods_placed(real) -> dict[str, str]:
    """Every replica the HPA asked for either serves, never restarted, or waits for CPU the node does not have
    (on a 2-core node prod's requests, 250m per MCP replica and 500m per Llama Stack one, fit fewer than five)."""
    placed = real.wait_until("each new MCP pod Ready or unschedulable for want of CPU", lambda: (
        lambda found: found if all(state for state in found.values()) else None)(
        {p["metadata"]["name"]: resources.placement(p) for p in pods(real, MCP)}), timeout=180, interval=5)
    assert set(placed.values()) <= {"ready", "insufficient cpu"}, placed
    for pod in pods(real, MCP):
        if resources.running(pod, MCP):
            assert resources.restarts(pod) == {MCP: (0, "")}, pod["status"]["containerStatuses"]
    return placed


def back_at_minimum(real, ended: float, window: int) -> tuple[float, list[tuple[int, int]]]:
    """Seconds from the load's end until the HPA is at its minimum and the pods it removed are gone,
    with the replica counts seen on the way."""
    trace: list[tuple[int, int]] = []

    def at_minimum() -> bool:
        trace.append((round(time.monotonic() - ended), hpa_replicas(real)))
        return trace[-1][1] == 2
    real.wait_until("the HPA back at its minimum", at_minimum, timeout=window + 300, interval=5)
    took = time.monotonic() - ended
    real.wait_until("only the minimum's pods left", lambda: len(pods(real, MCP)) == 2, timeout=120)
    return took, trace


def test_prod_mcp_server_scales_out_on_real_cpu_and_back_without_a_failed_tool_call(real, prod):
    real.wait_until("the HPA reads real CPU from metrics-server", lambda: next(
        (m for m in real.get("hpa", MCP, "-n", NS)["status"].get("currentMetrics", [])
         if m.get("resource", {}).get("current", {}).get("averageUtilization") is not None), None), timeout=120)
    assert hpa_replicas(real) == 2, "at the minimum before the load"
    limits = next(c for c in pods(real, MCP)[0]["spec"]["containers"] if c["name"] == MCP)["resources"]
    samples, peak = [], 2
    with scale_down_window(real, prod, SCALE_DOWN_WINDOW) as window:
        load = tool_load(real, workers=6, seconds=240, max_calls=200_000)  # the HPA reaches its peak in ~90 s
        with load:
            deadline = time.monotonic() + load.seconds - 20
            while time.monotonic() < deadline:
                time.sleep(15)
                samples.append([u.cpu_millicores for u in resources.usage(real, NS, f"app.kubernetes.io/name={MCP}")])
                peak = max(peak, hpa_replicas(real))
                ready = real.get("deployment", MCP, "-n", NS)["status"].get("readyReplicas", 0)
                if not SOAK and ready > 2 and len(samples) >= 4:
                    time.sleep(20)  # the new pods serve a while under the load
                    break
            # The pods running now (one the HPA just added may still be starting): their cgroups under the load.
            counters = {p["metadata"]["name"]: resources.cgroup_counters(p, MCP) for p in pods(real, MCP)
                        if resources.running(p, MCP)}
            disk = resources.ephemeral_storage(real, REAL_NODE, NS, MCP)
            # Light traffic goes on while the HPA removes the pods it added (~60m of CPU in all: below the target).
            light = tool_load(real, workers=2, pace=0.5, seconds=window + 360, max_calls=5000).start()
        result: Result = load.stop()
        ended = time.monotonic()
        try:
            assert result.calls and not result.failed, f"{result.summary()}; first failures: {result.failed[:3]}"
            assert 2 < peak <= 5, f"the HPA stayed at {peak}: CPU samples {samples}"
            placed = mcp_pods_placed(real)
            within_limits(limits, counters, disk)
            record("hpa", {"summary": result.summary(), "calls": len(result.calls), "seconds": round(result.seconds),
                           "rate_per_second": round(result.rate, 1), "peak_replicas": peak,
                           "pod_cpu_millicores_samples": [[round(x) for x in s] for s in samples],
                           "busiest_pod_millicores": round(max(max(s) for s in samples if s)), "cgroups": counters,
                           "placement": placed, "ephemeral_storage_bytes": disk,
                           "node_allocatable_cpu": real.get("node", REAL_NODE)["status"]["allocatable"]["cpu"],
                           "cpu_request": limits["requests"]["cpu"], "cpu_limit": limits["limits"]["cpu"]})
            took, trace = back_at_minimum(real, ended, window)
            time.sleep(10)  # the two left serve on
        finally:
            during = light.stop()
    record("hpa_down" + ("_soak" if SOAK else ""), {
        "window_seconds": window, "seconds_to_minimum_after_the_load": round(took), "replicas_trace": trace,
        "tool_calls_while_scaling_down": during.summary(), "failures": [c.detail for c in during.failed[:5]]})
    # The HPA keeps its highest recommendation of the window; metrics lag the load by up to a sync (15 s)
    # and a scrape (15 s): not back before window - 30 s, and well before the next window would pass.
    assert window - 30 <= took <= window + 180, f"back at 2 after {took:.0f} s with a {window} s window: {trace}"
    assert during.calls and not during.failed, f"{during.summary()}: {during.failed[:3]}"


def test_llama_stack_stays_within_its_limits_under_agent_turns(real, prod):
    """The MCP server's limits are judged under the HPA test's load; Llama Stack's here, under unpaced agent
    turns (each one Responses call, one model call and one MCP tool call made from the Llama Stack pod)."""
    server = pods(real, LLAMA)[0]["spec"]["containers"][0]
    name, limits = server["name"], server["resources"]
    samples: list[list[int]] = []
    agents = agent_load(real, workers=3, seconds=60, max_calls=3000, timeout=60)  # sampled for 45 s, then stopped
    with agents:
        for _ in range(3):
            time.sleep(15)
            usage = resources.usage(real, NS, f"app.kubernetes.io/name={LLAMA}")
            samples.append([round(u.cpu_millicores) for u in usage])
        serving = [p for p in pods(real, LLAMA) if resources.running(p, name)]
        counters = {p["metadata"]["name"]: resources.cgroup_counters(p, name) for p in serving}
        disk = resources.ephemeral_storage(real, REAL_NODE, NS, name)
    turns = agents.stop()
    record("llama_stack_limits", {"agent_turns": turns.summary(), "pod_cpu_millicores_samples": samples,
                                  "cgroups": counters, "ephemeral_storage_bytes": disk,
                                  "limits": limits["limits"], "requests": limits["requests"]})
    assert len(turns.calls) >= 30 and not turns.failed, f"{turns.summary()}: {turns.failed[:3]}"
    within_limits(limits, counters, disk)
    for pod in pods(real, LLAMA):
        if pod["metadata"]["name"] in counters:  # throttled or not, its probes held: Ready, never restarted
            assert resources.placement(pod) == "ready" and resources.restarts(pod)[name] == (0, ""), pod["status"]


def test_make_verify_passes_against_prod(real, prod):
    python = str(ROOT / "venv" / "bin" / "python")
    result = real.run([python, "-m", "ops.verify", "--stack", "prod", "--port-forward", "--token", token(real, "alice")],
                      cwd=prod.workdir, env=prod.env(), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("Llama Stack health", "models through Llama Stack", "MCP server health", "MCP server lists tools"):
        assert f"PASS  {check}" in result.stdout, result.stdout


def test_destroy_then_down_leave_nothing_behind(real, prod, sysctls_before):
    prod.destroy()
    assert real.get("namespace", NS)["metadata"]["labels"][KEEP] == "true", "destroy keeps the namespace it created"
    namespace_gone(real)  # the command destroy names: kubectl delete namespace llama-stack
    real.kubectl("delete", "namespace", DATA_NS, "--wait=true", "--timeout=120s")  # the user's own database
    model_endpoint.delete(str(real.kubeconfig))
    real.kubectl("delete", "namespace", provided.COLLECTOR_NAMESPACE, "--wait=true", "--timeout=120s", check=False)
    assert leftovers(real) == []
    real.down()
    shims = subprocess.run(["pgrep", "-f", f"containerd-shim-runc-v2 .*{REAL_CLUSTER_DIR}"], capture_output=True)
    assert shims.returncode == 1, "no container of the node outlives it"
    for process in ("kubelet", "kube-proxy", "coredns", "containerd"):
        pid_file = REAL_CLUSTER_DIR / "pids" / process
        assert not pid_file.exists(), process
    assert subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True).returncode != 0, "the bridge is gone"
    assert subprocess.run(["nft", "list", "table", "inet", TABLE], capture_output=True).returncode != 0, \
        "our containment table is gone"
    assert subprocess.run(["iptables", "-S", CHAIN], capture_output=True).returncode != 0, "our chain is gone"
    assert CHAIN not in subprocess.run(["iptables", "-t", "nat", "-S"], capture_output=True, text=True).stdout
    assert CHAIN not in subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout
    assert "KUBE-" not in subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout, \
        "kube-proxy's and the policy agent's rules go with their node"
    sets = subprocess.run(["ipset", "list", "-n"], capture_output=True, text=True, check=True).stdout.split()
    assert not [s for s in sets if s.startswith(("KUBE-", "kube-router"))], sets
    for process in ("kube-router", "metrics-server"):
        assert not (REAL_CLUSTER_DIR / "pids" / process).exists(), process
    assert not Path("/run/llamastack-mcp-node").exists()
    assert machine_sysctls() == sysctls_before, "every sysctl the node changed is back as it was"
