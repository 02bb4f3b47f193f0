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
import subprocess
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from localcluster import model as model_endpoint
from localcluster.harness import TOOLCHAIN_BIN, LocalCluster, Project
from ops import reach
from support import LLAMA, MCP, NS, ROOT, TEST_SECRETS, leftovers, namespace_gone, pulumi_sh
from support import provided
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


@pytest.fixture(scope="module")
def newcomer(real, tmp_path_factory):
    """A newcomer's `make up`: no kubeconfig anywhere, so localcluster/pulumi.sh targets the local
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
    with port_forward(real, MCP, 8080) as url:
        found = mcp_calls(f"{url}/mcp", None, None, [("pods_list_in_namespace", {"namespace": NS})])
    failed, listing = found[f"pods_list_in_namespace {json.dumps({'namespace': NS})}"]
    assert not failed and llama_pod["metadata"]["name"] in listing, listing


def test_llama_stack_reaches_the_mcp_server_through_its_service_by_dns_name(real, dev):
    with port_forward(real, LLAMA, 8321) as url:
        response = httpx.get(f"{url}/v1beta/connectors/kubernetes/tools",
                             headers={"Authorization": f"Bearer {token(real)}"}, timeout=60)
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
    with port_forward(real, LLAMA, 8321) as url:
        turn = agent_turn(url, token(real), call("pods_list_in_namespace", namespace=NS), forward=False)
    running = {p["metadata"]["name"] for p in real.get("pods", "-n", NS)["items"]}
    assert not turn["error"] and running <= set(turn["output"].split()), turn
    assert turn["name"] == "pods_list_in_namespace"


def test_make_up_with_no_kubeconfig_says_where_it_deploys_and_what_the_model_is(real, dev):
    assert "no kubeconfig given" in dev.stderr and "using the local cluster" in dev.stderr, dev.stderr
    assert "model: a scripted stand-in at vllm.models.svc" in dev.stderr, dev.stderr
    (model,) = real.get("pods", "-n", model_endpoint.NAMESPACE, "-l", f"app.kubernetes.io/name={model_endpoint.NAME}")["items"]
    assert model["spec"]["nodeName"] == "real-node" and model["status"]["containerStatuses"][0]["ready"]


def test_make_verify_passes_against_the_deployed_stack(real, dev, newcomer):
    result = newcomer("exec", str(ROOT / "venv" / "bin" / "python"), "-m", "ops.verify", "--stack", "dev")
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("Llama Stack health", "models through Llama Stack", "MCP connector 'kubernetes' lists tools",
                  "MCP server health", "MCP server lists tools"):
        assert f"PASS  {check}" in result.stdout, result.stdout
    assert "caller: ServiceAccount default/default" in result.stderr


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
    real.kubectl("create", "namespace", NS)  # the database before the stack (Llama Stack needs it to start)
    real.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                      "items": provided.postgres(NS, password)}))
    real.kubectl("rollout", "status", "-n", NS, "deployment/postgres", "--timeout=120s")
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
            assert pod["spec"]["nodeName"] == "real-node" and status["ready"], status
            assert status["restartCount"] == 0, f"{app} restarted: {status.get('lastState')}"


def test_prod_keeps_llama_stacks_state_in_the_provided_postgres(real, prod):
    tables = real.kubectl("exec", "-n", NS, "deploy/postgres", "--", "psql", "-h", "/var/run/postgresql",
                          "-U", "llamastack", "-d", "llamastack", "-Atc",
                          "select count(*) from information_schema.tables where table_schema = 'public'").stdout
    assert int(tables.strip()) > 0, "Llama Stack created its tables in the database prod's file names"


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


def test_make_verify_passes_against_prod(real, prod):
    python = str(ROOT / "venv" / "bin" / "python")
    result = real.run([python, "-m", "ops.verify", "--stack", "prod", "--port-forward", "--token", token(real, "alice")],
                      cwd=prod.workdir, env=prod.env(), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("Llama Stack health", "models through Llama Stack", "MCP server health", "MCP server lists tools"):
        assert f"PASS  {check}" in result.stdout, result.stdout


def test_destroy_then_down_leave_nothing_behind(real, prod):
    prod.destroy()
    namespace_gone(real)  # with the database in it: the stack created the namespace (server-side apply took it over)
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
    assert subprocess.run(["iptables", "-S", CHAIN], capture_output=True).returncode != 0, "our chain is gone"
    assert CHAIN not in subprocess.run(["iptables", "-t", "nat", "-S"], capture_output=True, text=True).stdout
    assert CHAIN not in subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout
    assert "KUBE-" not in subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout, \
        "kube-proxy's rules go with its node"
    assert not Path("/run/llamastack-mcp-node").exists()
