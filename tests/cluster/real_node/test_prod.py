"""prod on a real node (as `platform: kubernetes`: a serving certificate the test issues, its PostgreSQL
as a pod under the host name the stack file uses): two Ready replicas of each server, its state in the
provided database and across destroy, TLS between the pods, tool calls as the caller through its Ingress on the
local edge (Traefik) over HTTPS, one trace across both servers, Secrets refused to the agent.
"""

from __future__ import annotations

import json

import pytest

from ops import reach, verify
from support import LLAMA, MCP, NS, TEST_SECRETS
from support import provided
from support.agent_clients import agent_turn, call
from support.real_node import (conversation, DATA_NS, KEEP, PROD_EDGE_CA, PROD_HOST, REAL_CLUSTER_DIR, REAL_NODE,
                               pods, port_forward, recalled, served_at_the_edge, token)
from testbed.localcluster.facts import EDGE_ADDRESS


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


@pytest.fixture
def at_prods_url(real, prod, monkeypatch):
    """prod's real URL, connected at the local edge (Traefik on loopback), its certificate's CA trusted."""
    served_at_the_edge(real, f"https://{PROD_HOST}", REAL_CLUSTER_DIR / PROD_EDGE_CA)
    monkeypatch.setenv("SSL_CERT_FILE", str(REAL_CLUSTER_DIR / PROD_EDGE_CA))
    with reach.connected_at(f"https://{PROD_HOST}", EDGE_ADDRESS) as url:
        yield url


def test_prod_tool_calls_run_with_the_callers_own_token_through_its_ingress(real, prod, at_prods_url):
    server = f"https://{MCP}.{NS}.svc.cluster.local:8080/mcp"
    prompt = call("pods_list_in_namespace", namespace=NS)
    assert real.get("ingress", LLAMA, "-n", NS)["status"]["loadBalancer"]["ingress"] == [{"ip": EDGE_ADDRESS}]
    alice = agent_turn(at_prods_url, token(real, "alice"), prompt, server_url=server)
    bob = agent_turn(at_prods_url, token(real, "bob"), prompt, server_url=server)
    status, _, _ = verify.http("GET", f"{at_prods_url}/v1/models")
    assert status == 401, "a caller without a token is refused by Llama Stack"
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


