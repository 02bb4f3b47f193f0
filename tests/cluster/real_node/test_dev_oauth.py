"""OAuth for clients that call the MCP server directly, against a real issuer: the local API server's own
ServiceAccount issuer (https://kubernetes.default.svc.cluster.local: its discovery document and keys, which the
pod reads at start through the cluster's Service, trusting kube-root-ca.crt as mcpServer.oauth.caConfigMap says).
A token of the right audience lists the tools; one for another audience, or none, is refused with 401. (The API server
publishes no OAuth authorization-server metadata, so the MCP server's own well-known metadata, which it builds from
the issuer's, answers 500 here: a login flow needs a full OIDC provider, which no Go module served here builds.)"""

from __future__ import annotations

import httpx
import pytest

from support import MCP, namespace_gone
from support.real_node import dev_with, pods, port_forward

ISSUER = "https://kubernetes.default.svc.cluster.local"
AUDIENCE = "kubernetes-mcp-server"
LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


@pytest.fixture(scope="module")
def oauth_dev(real, tmp_path_factory):
    namespace_gone(real)
    yield from dev_with(real, tmp_path_factory, "real-oauth", mcpServer={"oauth": {
        "enabled": True, "authorizationUrl": ISSUER, "audience": AUDIENCE, "caConfigMap": "kube-root-ca.crt"}})


def tools_list(url: str, token: str | None) -> httpx.Response:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json",
               **({"Authorization": f"Bearer {token}"} if token else {})}
    return httpx.post(f"{url}/mcp", json=LIST, headers=headers, timeout=30)


def test_the_issuers_token_of_the_right_audience_is_accepted_and_others_refused(real, oauth_dev):
    (pod,) = pods(real, MCP)
    assert pod["status"]["containerStatuses"][0]["ready"], "it read the issuer's discovery and keys at start"
    right = real.kubectl("create", "token", "default", "-n", "default", f"--audience={AUDIENCE}").stdout.strip()
    other = real.kubectl("create", "token", "default", "-n", "default").stdout.strip()  # the API server's audience
    with port_forward(real, MCP, 8080) as url:
        accepted = tools_list(url, right)
        wrong_audience = tools_list(url, other)
        anonymous = tools_list(url, None)
    assert accepted.status_code == 200 and "pods_list" in accepted.text, accepted.text[:500]
    assert wrong_audience.status_code == 401, wrong_audience.text[:500]
    assert anonymous.status_code == 401, anonymous.text[:500]
