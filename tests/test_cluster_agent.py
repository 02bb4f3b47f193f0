"""The agent's whole path on the local cluster, with the clients users use.

After `pulumi up`, the real MCP server binary runs outside the cluster with the
deployed Deployment's args and config (read back from the API server), and a
token for the deployed ServiceAccount from the TokenRequest API; Llama Stack
runs the deployed config.yaml. The official `mcp` SDK and `openai` clients
drive them: agent -> Llama Stack -> MCP server -> Kubernetes API, with the
RBAC (or, with passthrough, the caller's own rights) that decides.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path
from typing import Any, Optional

import httpx
import openai
import pytest
import yaml
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from conftest import TEST_SECRETS
from localcluster.harness import Project
from test_cluster import NS, leftovers, namespace_gone
from tools import verify
from tools.servers import (ClusterObjects, deps, mcp_ca_file, processes, start_llama_stack, start_mcp,
                           start_postgres, start_stub_model)

MCP = "kubernetes-mcp-server"
MODEL = "stub-model"
TEAMS = {"alice": "team-a", "bob": "team-b"}


# ------------------------------------------------------------------ helpers

def deployed(cluster) -> ClusterObjects:
    """The Deployments and ConfigMaps `pulumi up` left in the namespace, as the API server holds them."""
    return ClusterObjects(cluster.get("deployments,configmaps", "-n", NS)["items"])


def kubeconfig_for(cluster, directory: Path, namespace: str, account: str) -> Path:
    """A kubeconfig holding a bound token (TokenRequest API) for a ServiceAccount."""
    token = cluster.kubectl("create", "token", account, "-n", namespace, "--duration=1h").stdout.strip()
    path = directory / f"kubeconfig-{account}"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": account,
        "clusters": [{"name": "local", "cluster": {"server": cluster.api_url,
                                                   "certificate-authority": str(cluster.ca_file)}}],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": account, "context": {"cluster": "local", "user": account}}]}))
    return path


def mcp_calls(url: str, token: Optional[str], ca: Optional[Path], calls: list[tuple[str, dict]]) -> dict[str, Any]:
    """tools/list and some tools/call through the official MCP client: {"tools": names, call: (error, text)}."""
    async def run() -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        verify_tls = ssl.create_default_context(cafile=str(ca)) if ca else True
        async with httpx.AsyncClient(headers=headers, verify=verify_tls, timeout=60) as client, \
                streamable_http_client(url, http_client=client) as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                result: dict[str, Any] = {"tools": {t.name for t in (await session.list_tools()).tools}}
                for name, arguments in calls:
                    answer = await session.call_tool(name, arguments)
                    text = " ".join(getattr(part, "text", "") for part in answer.content)
                    result[f"{name} {json.dumps(arguments, sort_keys=True)}"] = (answer.isError, text)
                return result

    return asyncio.run(run())


def agent_turn(base: str, token: str, prompt: str, server_url: Optional[str] = None) -> dict[str, Any]:
    """One Responses API turn through the official OpenAI client.

    The caller's token goes to Llama Stack (Authorization) and, as the MCP tool's
    `authorization`, on to the MCP server. With a server that requires a token the tool
    names it by `server_url`: Llama Stack 0.7.3 and OGX 1.5.0 resolve a `connector_id` by
    asking the server for its info *without* the token, which fails with 401.
    """
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=token, max_retries=0, timeout=120)
    model = next(m.id for m in client.models.list() if m.id.endswith(MODEL))
    target = {"server_url": server_url} if server_url else {"connector_id": "kubernetes"}
    response = client.responses.create(model=model, input=prompt, tools=[{
        "type": "mcp", "server_label": "kubernetes", **target, "authorization": token}])
    (call,) = [item for item in response.output if item.type == "mcp_call"]
    # On a failed tool call Llama Stack 0.7.3 reports only "Error (code 1): None" in the call
    # item; the server's message (the API server's Forbidden) reaches the model, whose
    # scripted answer quotes it.
    return {"name": call.name, "error": call.error or "", "output": call.output or "",
            "answer": response.output_text}


def call(tool: str, **arguments: Any) -> str:
    """What the scripted model (tools/stub_model.py) turns into exactly this tool call."""
    return f"call {tool} {json.dumps(arguments)}"


# ------------------------------------------- prod: the caller's own identity

@pytest.fixture(scope="module")
def people(cluster):
    """alice may read team-a, bob team-b; bob may also read team-b's Secrets. Each team runs a pod."""
    for namespace in TEAMS.values():
        namespace_gone(cluster, namespace)
        cluster.kubectl("create", "namespace", namespace)
        cluster.kubectl("run", f"web-{namespace}", "-n", namespace, "--image=registry.example/web:1")
        cluster.kubectl("create", "secret", "generic", "db", "-n", namespace, "--from-literal=password=hunter2")
    for person, namespace in TEAMS.items():
        cluster.kubectl("create", "serviceaccount", person, "-n", "default")
        cluster.kubectl("create", "rolebinding", f"{person}-view", "-n", namespace, "--clusterrole=view",
                        f"--serviceaccount=default:{person}")
    cluster.kubectl("create", "role", "secret-reader", "-n", "team-b", "--verb=get,list", "--resource=secrets")
    cluster.kubectl("create", "rolebinding", "bob-secrets", "-n", "team-b", "--role=secret-reader",
                    "--serviceaccount=default:bob")
    yield {person: cluster.kubectl("create", "token", person, "-n", "default").stdout.strip() for person in TEAMS}
    cluster.kubectl("delete", "namespace", *TEAMS.values(), "--wait=false", check=False)
    cluster.kubectl("delete", "serviceaccount", *TEAMS, "-n", "default", check=False)


@pytest.fixture(scope="module")
def prod_stack(cluster, tmp_path_factory):
    """The prod stack (passthrough on) after `pulumi up`, naming the test's scripted model."""
    assert leftovers(cluster) == [], "an earlier module left objects behind"
    project = Project(cluster, tmp_path_factory.mktemp("agent-prod") / "project", "prod",
                      secrets={"postgresPassword": TEST_SECRETS["postgresPassword"]})
    stack = project.settings()["llamastack-mcp:llamaStack"]
    project.set_setting("llamaStack", {**stack, "inference": {**stack["inference"], "model": MODEL}})
    project.up()
    yield project
    project.destroy()
    namespace_gone(cluster)


@pytest.fixture(scope="module")
def passthrough(cluster, prod_stack, people):
    """The MCP server and Llama Stack from prod's deployed objects.

    The MCP ServiceAccount is given cluster-wide Secret reads here on purpose: with
    passthrough its own rights must not matter.
    """
    cluster.kubectl("create", "clusterrole", "agent-test-secret-reader", "--verb=get,list", "--resource=secrets")
    cluster.kubectl("create", "clusterrolebinding", "agent-test-secret-reader",
                    "--clusterrole=agent-test-secret-reader", f"--serviceaccount={NS}:{MCP}")
    objects = deployed(cluster)
    password = TEST_SECRETS["postgresPassword"]
    with processes() as procs:
        mcp_url = start_mcp(objects, procs, kubeconfig_for(cluster, procs.workdir, NS, MCP))
        model_url = start_stub_model(procs, MODEL, "namespaces_list")
        pg = yaml.safe_load(objects.one("ConfigMap", "llama-stack-config")["data"]["config.yaml"])
        pg = pg["storage"]["backends"]["kv_default"]
        port = start_postgres(procs, pg["db"], pg["user"], password)
        base = start_llama_stack(objects, mcp_url, procs, deps("llama-stack"), postgres_port=port,
                                 postgres_password=password, inference_url=model_url,
                                 kube_api=(cluster.api_url, str(cluster.ca_file)))
        yield {"mcp": mcp_url, "llama": base, "ca": mcp_ca_file(procs), **people}
    cluster.kubectl("delete", "clusterrolebinding,clusterrole", "agent-test-secret-reader", check=False)


def turn(passthrough: dict[str, Any], person: str, prompt: str) -> dict[str, Any]:
    return agent_turn(passthrough["llama"], passthrough[person], prompt, server_url=passthrough["mcp"])


def test_llama_stack_refuses_callers_without_a_valid_identity(passthrough):
    status, text, _ = verify.http("GET", f"{passthrough['llama']}/v1/models")
    assert status == 401, text
    with pytest.raises(openai.AuthenticationError):
        agent_turn(passthrough["llama"], "not-a-token", call("pods_list_in_namespace", namespace="team-a"),
                   server_url=passthrough["mcp"])


def test_upstream_connector_id_does_not_carry_the_token_yet(passthrough):
    """Why the README tells passthrough clients to use server_url: when this starts passing
    through, Llama Stack forwards the token for connector_id too; switch the README back."""
    with pytest.raises(openai.AuthenticationError, match="401 Unauthorized.*/mcp"):
        agent_turn(passthrough["llama"], passthrough["alice"], call("pods_list_in_namespace", namespace="team-a"))


def test_the_mcp_server_refuses_calls_without_a_token(passthrough):
    status, text, _ = verify.http("POST", passthrough["mcp"], {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                  {"Content-Type": "application/json",
                                   "Accept": "application/json, text/event-stream"}, insecure=True)
    assert status == 401, text


@pytest.mark.parametrize("person, own, other", [("alice", "team-a", "team-b"), ("bob", "team-b", "team-a")])
def test_each_person_lists_pods_only_where_their_own_rbac_allows(passthrough, person, own, other):
    mine = turn(passthrough, person, call("pods_list_in_namespace", namespace=own))
    assert not mine["error"] and f"web-{own}" in mine["output"], mine
    theirs = turn(passthrough, person, call("pods_list_in_namespace", namespace=other))
    assert theirs["error"] and not theirs["output"], theirs
    text = theirs["answer"]
    assert "forbidden" in text and f"system:serviceaccount:default:{person}" in text, theirs
    assert f"web-{other}" not in text


def test_nobody_reads_a_secret_their_own_rbac_does_not_allow(passthrough):
    """The MCP ServiceAccount may read every Secret (granted above): the agent still may not."""
    alice = turn(passthrough, "alice", call("resources_get", apiVersion="v1", kind="Secret", namespace="team-a", name="db"))
    assert alice["error"] and "forbidden" in alice["answer"] and "hunter2" not in json.dumps(alice), alice
    bob = turn(passthrough, "bob", call("resources_get", apiVersion="v1", kind="Secret", namespace="team-b", name="db"))
    assert not bob["error"] and "name: db" in bob["output"], bob


def test_the_mcp_client_sees_the_same_with_the_callers_token(passthrough):
    found = mcp_calls(passthrough["mcp"], passthrough["alice"], passthrough["ca"],
                      [("pods_list_in_namespace", {"namespace": "team-a"}),
                       ("pods_list_in_namespace", {"namespace": "team-b"})])
    assert "pods_delete" not in found["tools"], "prod's preset keeps the read-only tool surface"
    ok = found['pods_list_in_namespace {"namespace": "team-a"}']
    denied = found['pods_list_in_namespace {"namespace": "team-b"}']
    assert ok[0] is False and "web-team-a" in ok[1], ok
    assert denied[0] is True and "forbidden" in denied[1], denied
