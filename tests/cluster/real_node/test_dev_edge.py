"""dev on plain Kubernetes behind the local cluster's edge (Traefik, built from its Go module, on loopback): Llama Stack,
serving TLS itself, through a Gateway API HTTPRoute on a Gateway the test makes (a BackendTLSPolicy has the edge
verify it by its own CA), the MCP server through an Ingress for Traefik, both over
HTTPS with a certificate the test's own CA issued. Judged by what answers at the real URLs (connected at the edge,
never looked up): an agent turn, an MCP tools/list (`make verify`'s), a caller without a token refused by Llama Stack, a streamed answer
longer than the usual 60 s defaults arriving whole, and `make verify` / `make ask` at the real URL, not through a
port-forward. (prod's Ingress: test_prod.py.)"""

from __future__ import annotations

import concurrent.futures
import json
import re
import ssl
import time

import httpx
import openai
import pytest

from ops import reach
from support import LLAMA, NS, ROOT
from support.agent_clients import MODEL, agent_turn
from support.provided import edge_certificate, gateway, serving_certificate, tls_secret
from support.real_node import EDGE_DOMAIN, REAL_CLUSTER_DIR, dev_with, served_at_the_edge
from testbed.localcluster.facts import EDGE_ADDRESS

DOMAIN = EDGE_DOMAIN
AGENTS, TOOLS = f"agents.{DOMAIN}", f"mcp.{DOMAIN}"
GATEWAY_NS, GATEWAY = "edge-gateway", "edge"
SERVING_SECRET, SERVING_CA = "llama-stack-serving", "llama-stack-serving-ca"  # Llama Stack's own TLS, and its CA
EDGE = EDGE_ADDRESS  # the edge's HTTPS entry point (port 443), Traefik's own timeouts
STREAM_SECONDS = 65  # longer than the usual 60 s defaults (ingress-nginx's proxy timeouts, Traefik's readTimeout)
PYTHON = str(ROOT / "venv" / "bin" / "python")


@pytest.fixture(scope="module")
def ca(real, tmp_path_factory):
    """The test's CA; its wildcard certificate serves the Gateway's listeners and the MCP server's Ingress."""
    work = tmp_path_factory.mktemp("edge-tls")
    files = edge_certificate(work, DOMAIN)
    real.kubectl("create", "namespace", GATEWAY_NS)
    real.kubectl("create", "namespace", NS)  # for the Ingress's certificate (the stack takes the namespace over)
    real.kubectl("apply", "-f", "-", input=tls_secret("edge-tls", GATEWAY_NS, files))
    real.kubectl("apply", "-f", "-", input=tls_secret("mcp-edge-tls", NS, files))
    # Llama Stack serves TLS itself, from a certificate of another CA: the Gateway verifies it by that CA.
    serving = serving_certificate(tmp_path_factory.mktemp("serving-tls"), LLAMA, NS)
    real.kubectl("apply", "-f", "-", input=tls_secret(SERVING_SECRET, NS, serving))
    real.kubectl("create", "configmap", SERVING_CA, "-n", NS, f"--from-literal=ca.crt={serving['ca.crt']}")
    real.kubectl("apply", "-f", "-", input=json.dumps(gateway(GATEWAY, GATEWAY_NS, DOMAIN, "edge-tls", {"https": 443})))
    real.wait_until("the Gateway is programmed", lambda: any(
        c["type"] == "Programmed" and c["status"] == "True"
        for c in (real.get("gateway", GATEWAY, "-n", GATEWAY_NS).get("status") or {}).get("conditions", [])),
        timeout=60)
    yield work / "ca.crt"
    real.kubectl("delete", "namespace", GATEWAY_NS, "--wait=true", "--timeout=120s", check=False)


@pytest.fixture(scope="module")
def make(real, ca, tmp_path_factory):
    for run in dev_with(
        real, tmp_path_factory, "real-edge", platform="kubernetes",
        llamaStack={"tls": {"secretName": SERVING_SECRET},
                    "route": {"enabled": True, "kind": "HTTPRoute", "host": AGENTS, "timeoutSeconds": 600,
                              "gateway": {"name": GATEWAY, "namespace": GATEWAY_NS, "sectionName": "https"},
                              "backendCaConfigMap": SERVING_CA}},
        mcpServer={"rbac": {"preset": "read-only"},
                   "route": {"enabled": True, "host": TOOLS, "allowUnauthenticated": True,
                             "ingressController": "traefik", "tlsSecretName": "mcp-edge-tls"}}):
        served_at_the_edge(real, f"https://{AGENTS}", ca)
        yield run


@pytest.fixture(scope="module")
def at_edge():
    """Connections to the real URLs' hosts go to the edge on loopback (curl's --connect-to)."""
    with reach.connected_at(f"https://{AGENTS}", EDGE), reach.connected_at(f"https://{TOOLS}", EDGE):
        yield


@pytest.fixture
def trusted(ca, monkeypatch):
    """The test's CA is the one clients verify with (what `SSL_CERT_FILE=ca.pem make verify` does)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    return ca


def client(ca, caller: str, base: str = f"https://{AGENTS}", timeout: float = 120) -> openai.OpenAI:
    """The official client at Llama Stack's real URL."""
    return openai.OpenAI(base_url=f"{base}/v1", api_key=caller, max_retries=0, timeout=timeout,
                         http_client=httpx.Client(verify=ssl.create_default_context(cafile=str(ca))))


@pytest.fixture(scope="module")
def long_stream(real, make, ca, at_edge):
    """A streamed answer of STREAM_SECONDS through the HTTPRoute, started by the module's first test and judged by
    its last, so the checks between run while it streams: (how it ended, words received, seconds)."""
    agent = client(ca, real.developer_token(), timeout=STREAM_SECONDS + 60)
    model = next(m.id for m in agent.models.list() if m.id.split("/")[-1] == MODEL)

    def stream() -> tuple[str, int, float]:
        started, words, ended = time.monotonic(), 0, "ended without response.completed"
        with agent.responses.create(model=model, input=f"stream slowly for {STREAM_SECONDS} seconds",
                                    stream=True) as events:
            for event in events:
                if event.type == "response.output_text.delta":
                    words += len(event.delta.split())
                if event.type == "response.completed":
                    ended = "completed"
        return ended, words, time.monotonic() - started

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        yield pool.submit(stream)


def test_the_routes_are_accepted_by_the_edge_and_the_ingress_has_its_address(real, make, long_stream):
    route = real.get("httproute", LLAMA, "-n", NS)
    parents = route["status"]["parents"]
    assert [p["parentRef"]["name"] for p in parents] == [GATEWAY]
    conditions = {c["type"]: c["status"] for c in parents[0]["conditions"]}
    assert conditions["Accepted"] == conditions["ResolvedRefs"] == "True", parents
    policy = real.get("backendtlspolicy", LLAMA, "-n", NS)
    assert policy["spec"]["validation"]["caCertificateRefs"][0]["name"] == SERVING_CA
    ingress = real.get("ingress", "kubernetes-mcp-server", "-n", NS)
    assert ingress["status"]["loadBalancer"]["ingress"] == [{"ip": EDGE}]


def test_an_agent_turn_runs_through_the_httproute_over_https(real, make, trusted, at_edge):
    # dev's tools run as the server's own ServiceAccount: the caller's token stays with Llama Stack (as `make ask`).
    turn = agent_turn(f"https://{AGENTS}", real.developer_token(), "which namespaces are there?", forward=False)
    assert turn["name"] == "namespaces_list" and not turn["error"], turn
    assert NS in turn["output"]


def test_a_caller_without_a_token_is_refused_by_llama_stack_at_the_edge(make, ca, at_edge):
    with httpx.Client(verify=ssl.create_default_context(cafile=str(ca))) as http:
        response = http.get(f"https://{AGENTS}/v1/models")
    assert response.status_code == 401, response.text
    assert "traefik" not in response.text.lower()  # Llama Stack's refusal, not the edge's 404


def test_make_verify_lists_mcp_tools_through_the_ingress_and_ask_goes_to_the_real_url(make, ca):
    """`make verify`'s MCP tools/list (the official MCP client) at the Ingress's real URL over HTTPS, and each
    command's own requests in the edge's access log (a port-forward would bypass it): verify's health check, ask's
    model listing (nothing else here asks either meanwhile)."""
    log = REAL_CLUSTER_DIR / "logs" / "traefik.log"

    def seen(request: str) -> int:
        return log.read_text().count(f'"{request} HTTP/1.1"')

    env = {"SSL_CERT_FILE": str(ca)}
    health = seen("GET /v1/health")
    verified = make("exec", PYTHON, "-m", "ops.verify", "--stack", "dev", extra_env=env)
    assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr[-2000:]
    assert seen("GET /v1/health") > health
    assert re.search(rf"PASS  MCP server lists tools: [1-9]\d* tools at https://{re.escape(TOOLS)}/mcp\n",
                     verified.stdout), verified.stdout
    models = seen("GET /v1/models")
    ask = make("exec", PYTHON, "-m", "ops.ask", "--stack", "dev", "which namespaces are there?", extra_env=env)
    assert ask.returncode == 0, ask.stdout[-3000:] + ask.stderr[-2000:]
    assert "tool:   namespaces_list" in ask.stdout
    assert seen("GET /v1/models") > models


def test_a_streamed_answer_longer_than_the_usual_60_s_defaults_arrives_whole_through_the_edge(long_stream):
    """ingress-nginx's proxy timeouts and Traefik's entry point readTimeout are both 60 s by default; a stock
    Traefik's does not cut a response it is streaming (and it implements no HTTPRoute timeouts to set)."""
    ended, words, seconds = long_stream.result(timeout=STREAM_SECONDS + 120)
    assert (ended, words) == ("completed", STREAM_SECONDS)
    assert seconds >= STREAM_SECONDS - 2
