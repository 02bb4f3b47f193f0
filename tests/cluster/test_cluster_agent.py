"""The agent's whole path on the local cluster, with the clients users use.

After `pulumi up` of dev, the real MCP server binary runs outside the cluster
with the deployed Deployment's args (read back from the API server) and a
kubeconfig holding a token for the deployed ServiceAccount (TokenRequest API).
The official MCP SDK calls its tools; Llama Stack 0.7.3 (the deployed
config.yaml) and OGX 1.5.0 (its rendered config) run one agent turn each
through the official OpenAI client's Responses API: agent -> Llama Stack -> MCP
server -> Kubernetes API, with the RBAC `pulumi up` created deciding. Each RBAC
stage is a settings change and one `pulumi up`, as a user would make it.
"""

from __future__ import annotations

import subprocess

import pytest

from support.agent_clients import MODEL, NS, agent_turn, call, deployed, kubeconfig_for, mcp_calls, team_namespaces
from support import ROOT, deep_merge, run_variant
from testbed.localcluster.harness import Project
from support import leftovers, namespace_gone
from testbed.e2e.servers import DESTRUCTIVE, OGX, deps, processes, start_llama_stack, start_mcp, start_stub_model

MCP = "kubernetes-mcp-server"
CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "written-by-the-agent",
                                                                   "namespace": "team-a"}, "data": {"a": "b"}}


@pytest.fixture(scope="module")
def teams(cluster):
    with team_namespaces(cluster) as namespaces:
        yield namespaces


@pytest.fixture(scope="module")
def dev(cluster, tmp_path_factory, teams):
    """The dev stack (preset full, cluster-wide) after `pulumi up`, naming the test's scripted model."""
    assert leftovers(cluster) == [], "an earlier module left objects behind"
    project = Project(cluster, tmp_path_factory.mktemp("agent-dev") / "project", "dev")
    stack = project.settings()["llamastack-mcp:llamaStack"]
    project.set_setting("llamaStack", deep_merge(stack, {"inference": {"model": MODEL}}))
    project.up()
    yield project
    project.destroy()
    namespace_gone(cluster)


def rbac_stage(cluster, project: Project, **rbac) -> object:
    """Change mcpServer.rbac with one `pulumi up`; the deployed objects afterwards."""
    mcp = project.settings()["llamastack-mcp:mcpServer"]
    project.set_setting("mcpServer", {**mcp, "rbac": rbac})
    project.up()
    return deployed(cluster)


@pytest.fixture(scope="module")
def full(cluster, dev):
    return deployed(cluster)


@pytest.fixture
def servers():
    with processes() as procs:
        yield procs


def mcp_for(cluster, objects, procs) -> str:
    """The MCP server as deployed, authenticated as its ServiceAccount with a fresh bound token."""
    return start_mcp(objects, procs, kubeconfig_for(cluster, procs.workdir, NS, MCP))


# ---------------------------------------------------------------- full (dev)

def test_pods_list_names_the_pods_pulumi_up_created(cluster, full, servers):
    created = {p["metadata"]["name"] for p in cluster.get("pods", "-n", NS)["items"]}
    assert len(created) >= 2, created
    found = mcp_calls(mcp_for(cluster, full, servers), None, None, [("pods_list", {})])
    error, text = found["pods_list {}"]
    assert not error and created <= set(text.split()), text


SECRET_GET = ("resources_get", {"apiVersion": "v1", "kind": "Secret", "namespace": "team-a", "name": "db"})
MCP_USER = f"system:serviceaccount:{NS}:{MCP}"


def secret_reads(cluster) -> list[dict]:
    return [e for e in cluster.audit_events(MCP_USER)
            if e["objectRef"].get("namespace") == "team-a" and e["objectRef"].get("name") == "db"]


def test_full_writes_but_the_server_itself_refuses_secrets(cluster, full, servers):
    # preset full lets the ServiceAccount read Secrets; mcpServer.deniedResources (default: Secrets) does not.
    found = mcp_calls(mcp_for(cluster, full, servers), None, None, [SECRET_GET,
                      ("resources_create_or_update", {"resource": _configmap_yaml()})])
    assert DESTRUCTIVE <= found["tools"]
    secret, written = list(found.values())[1:]
    assert secret[0] is True and "hunter2" not in secret[1] and "name: db" not in secret[1], secret
    assert "resource not allowed: /v1, Kind=Secret" in secret[1], "the server's own refusal"
    assert secret_reads(cluster) == [], "the refused read never reached the API server"
    assert written[0] is False, written
    cluster.get("configmap", "written-by-the-agent", "-n", "team-a")
    cluster.kubectl("delete", "configmap", "written-by-the-agent", "-n", "team-a")


def test_with_no_denied_kinds_rbac_alone_decides(cluster, full, servers):
    opted_out = run_variant("dev", mcpServer={"deniedResources": []})
    url = start_mcp(opted_out, servers, kubeconfig_for(cluster, servers.workdir, NS, MCP))
    (secret,) = [v for k, v in mcp_calls(url, None, None, [SECRET_GET]).items() if k != "tools"]
    assert secret[0] is False and "name: db" in secret[1], secret
    assert [e["verb"] for e in secret_reads(cluster)] == ["get"], "this time the API server saw it"


@pytest.mark.parametrize("distribution", ["llama-stack", "ogx"])
def test_an_agent_turn_lists_pods_that_exist(cluster, full, servers, distribution):
    """The whole mission: agent -> Llama Stack -> MCP server -> Kubernetes API, with dev's RBAC."""
    mcp_url = mcp_for(cluster, full, servers)
    model_url = start_stub_model(servers, MODEL, "pods_list")
    if distribution == "ogx":  # OGX from its rendered config: the deployed stack runs Llama Stack
        run = run_variant("dev", llamaStack={**OGX, "inference": {"model": MODEL}})
        base = start_llama_stack(run, mcp_url, servers, deps("ogx"), inference_url=model_url,
                                 kube_api=(cluster.api_url, str(cluster.ca_file)))
    else:
        base = start_llama_stack(full, mcp_url, servers, deps("llama-stack"), inference_url=model_url,
                                 kube_api=(cluster.api_url, str(cluster.ca_file)))
    user = cluster.developer_token()  # dev hands the agent's rights to llama-stack-developers only
    tls = base.startswith("https")
    turn = agent_turn(base, user, call("pods_list_in_namespace", namespace=NS), insecure=tls, forward=False)
    created = {p["metadata"]["name"] for p in cluster.get("pods", "-n", NS)["items"]}
    assert not turn["error"] and created <= set(turn["output"].split()), turn
    # Found on the cluster: even without passthrough, v0.0.67 calls the API server with a bearer
    # token the request carries. A client that forwards its own token acts as itself.
    own = agent_turn(base, user, call("pods_list_in_namespace", namespace=NS), insecure=tls, forward=True)
    assert own["error"] and 'User "developer"' in own["answer"], own


# ------------------------------------------------------------------ read-only

@pytest.fixture(scope="module")
def read_only(cluster, dev, full):
    return rbac_stage(cluster, dev, preset="read-only", scope="cluster")


def test_read_only_hides_every_write_tool(cluster, read_only, servers):
    found = mcp_calls(mcp_for(cluster, read_only, servers), None, None, [])
    assert found["tools"] and not (found["tools"] & DESTRUCTIVE), sorted(found["tools"])


def test_read_only_rbac_refuses_a_write_even_with_the_write_tools(cluster, full, read_only, servers):
    """full's args (write tools shown), read-only's token: the API server, not the flag, says no."""
    found = mcp_calls(mcp_for(cluster, full, servers), None, None, [
        ("resources_create_or_update", {"resource": _configmap_yaml()}),
        ("resources_get", {"apiVersion": "v1", "kind": "Secret", "namespace": "team-a", "name": "db"})])
    assert "resources_create_or_update" in found["tools"]
    write, secret = list(found.values())[1:]
    assert write[0] is True and "forbidden" in write[1] and f"system:serviceaccount:{NS}:{MCP}" in write[1], write
    # The server's own denial (mcpServer.deniedResources) answers before RBAC is asked.
    assert secret[0] is True and "resource not allowed: /v1, Kind=Secret" in secret[1], secret
    assert cluster.kubectl("get", "configmap", "written-by-the-agent", "-n", "team-a", check=False).returncode != 0


# ----------------------------------------------------------- namespaces scope

@pytest.fixture(scope="module")
def team_a_only(cluster, dev, read_only):
    return rbac_stage(cluster, dev, preset="read-only", scope="namespaces", namespaces=["team-a"])


def test_namespace_scope_reads_inside_and_is_forbidden_outside(cluster, team_a_only, servers):
    found = mcp_calls(mcp_for(cluster, team_a_only, servers), None, None, [
        ("pods_list_in_namespace", {"namespace": "team-a"}), ("pods_list_in_namespace", {"namespace": "team-b"})])
    inside, outside = list(found.values())[1:]
    assert inside[0] is False and "web-team-a" in inside[1], inside
    assert outside[0] is True and "forbidden" in outside[1] and "web-team-b" not in outside[1], outside


# --------------------------------------------------------------- make verify

def test_make_verify_passes_against_this_deployment(cluster, dev, team_a_only, servers):
    """ops/verify.py with URLs from `pulumi stack output`, reached through --resolve (our
    port-forward: the pods are kwok's, so the servers run here from the deployed objects)."""
    mcp_url = mcp_for(cluster, team_a_only, servers)
    base = start_llama_stack(team_a_only, mcp_url, servers, deps("llama-stack"),
                             kube_api=(cluster.api_url, str(cluster.ca_file)))
    local_mcp, local_ls = mcp_url.split("/")[2], base.split("/")[2]
    user = cluster.developer_token()
    result = subprocess.run(
        [str(ROOT / "venv" / "bin" / "python"), "-m", "ops.verify", "--stack", "dev", "--token", user,
         "--resolve", f"{MCP}.{NS}.svc.cluster.local:8080={local_mcp}",
         "--resolve", f"llama-stack.{NS}.svc.cluster.local:8321={local_ls}"],
        cwd=dev.workdir, env={**dev.env(), "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("Llama Stack health", "MCP connector 'kubernetes' lists tools through Llama Stack",
                  "MCP server health", "MCP server lists tools"):
        assert f"PASS  {check}" in result.stdout, result.stdout


def _configmap_yaml() -> str:
    import yaml
    return yaml.safe_dump(CONFIGMAP)
