"""No one in without an identity, and the agent never does more than the person asking.

On the local cluster, after `pulumi up` of prod (passthrough on): the real MCP
server binary runs outside the cluster with the deployed Deployment's args and
config.toml (read back from the API server), a token for the deployed
ServiceAccount (TokenRequest) and a stand-in for its service certificate;
Llama Stack runs the deployed config.yaml with its `kubernetes` auth provider
pointed at the local API server. alice and bob drive agent turns with the
official `openai` client: each sees exactly what their own RBAC allows.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
import yaml

from support.agent_clients import MODEL, NS, agent_turn, call, deployed, kubeconfig_for, mcp_calls, team_namespaces
from support import TEST_SECRETS
from testbed.localcluster.harness import Project
from support import leftovers, namespace_gone
from ops import verify
from testbed.e2e.servers import deps, mcp_ca_file, processes, start_llama_stack, start_mcp, start_postgres, start_stub_model

MCP = "kubernetes-mcp-server"
TEAMS = {"alice": "team-a", "bob": "team-b"}


# ------------------------------------------- prod: the caller's own identity

@pytest.fixture(scope="module")
def teams(cluster):
    with team_namespaces(cluster) as namespaces:
        yield namespaces


@pytest.fixture(scope="module")
def people(cluster, teams):
    """alice may read team-a, bob team-b; bob may also read team-b's Secrets. Each team runs a pod."""
    for person, namespace in TEAMS.items():
        cluster.kubectl("create", "serviceaccount", person, "-n", "default")
        cluster.kubectl("create", "rolebinding", f"{person}-view", "-n", namespace, "--clusterrole=view",
                        f"--serviceaccount=default:{person}")
    cluster.kubectl("create", "role", "secret-reader", "-n", "team-b", "--verb=get,list", "--resource=secrets")
    cluster.kubectl("create", "rolebinding", "bob-secrets", "-n", "team-b", "--role=secret-reader",
                    "--serviceaccount=default:bob")
    yield {person: cluster.kubectl("create", "token", person, "-n", "default").stdout.strip() for person in TEAMS}
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
    """Why docs/security.md tells passthrough clients to use server_url: when this starts passing
    through, Llama Stack forwards the token for connector_id too; switch those pages back."""
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


def test_prod_denies_secrets_to_the_agent_even_where_the_callers_rbac_allows_them(cluster, passthrough):
    """The MCP ServiceAccount may read every Secret (granted above) and bob may read team-b's: prod's
    server refuses the kind itself (mcpServer.deniedResources), before the API server is asked."""
    for person, namespace in (("alice", "team-a"), ("bob", "team-b")):
        answer = turn(passthrough, person, call("resources_get", apiVersion="v1", kind="Secret", namespace=namespace,
                                                name="db"))
        assert answer["error"] and "hunter2" not in json.dumps(answer), answer
        assert cluster.audit_events(f"system:serviceaccount:default:{person}") == [], "never reached the API server"


def test_the_mcp_client_sees_the_same_with_the_callers_token(passthrough):
    found = mcp_calls(passthrough["mcp"], passthrough["alice"], passthrough["ca"],
                      [("pods_list_in_namespace", {"namespace": "team-a"}),
                       ("pods_list_in_namespace", {"namespace": "team-b"})])
    assert "pods_delete" not in found["tools"], "prod's preset keeps the read-only tool surface"
    ok = found['pods_list_in_namespace {"namespace": "team-a"}']
    denied = found['pods_list_in_namespace {"namespace": "team-b"}']
    assert ok[0] is False and "web-team-a" in ok[1], ok
    assert denied[0] is True and "forbidden" in denied[1], denied
