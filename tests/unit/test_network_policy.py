"""NetworkPolicies (components/network_policy.py): who may reach each server."""

from __future__ import annotations

import pytest

from support import run_variant
from support import refused

MCP, LS = "kubernetes-mcp-server", "llama-stack"
OPENSHIFT_INGRESS = {"namespaceSelector": {"matchLabels": {"network.openshift.io/policy-group": "ingress"}}}
OPENSHIFT_MONITORING = {"namespaceSelector": {"matchLabels": {"network.openshift.io/policy-group": "monitoring"}}}


def peers(run, name: str) -> list[dict]:
    return run.one("NetworkPolicy", name)["spec"]["ingress"][0]["from"]


def test_the_mcp_server_admits_llama_stack_and_prometheus_only(prod):
    policy = prod.one("NetworkPolicy", MCP)["spec"]
    assert policy["podSelector"]["matchLabels"] == prod.one("Deployment", MCP)["spec"]["selector"]["matchLabels"]
    llama = {"podSelector": {"matchLabels": prod.one("Deployment", LS)["spec"]["selector"]["matchLabels"]}}
    assert peers(prod, MCP) == [llama, OPENSHIFT_MONITORING], "prod: no MCP route, monitoring on"
    assert policy["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8080}]


def test_llama_stack_admits_its_namespace_and_the_router(prod):
    assert peers(prod, LS) == [{"podSelector": {}}, OPENSHIFT_INGRESS]


def test_monitoring_is_admitted_only_when_scraped(dev, prod):
    assert OPENSHIFT_MONITORING in peers(prod, MCP) and OPENSHIFT_MONITORING not in peers(dev, MCP)


def test_the_router_reaches_the_mcp_server_only_when_it_is_exposed(preview):
    exposed = run_variant(preview=preview, mcpServer={"route": {"enabled": True, "allowUnauthenticated": True}})
    assert OPENSHIFT_INGRESS in peers(exposed, MCP)
    assert OPENSHIFT_INGRESS not in peers(run_variant(preview=preview), MCP)


def test_on_kubernetes_the_named_namespaces_are_admitted(preview):
    run = run_variant(preview=preview, platform="kubernetes", llamaStack={"route": {"host": "ls.example.com"}},
                      monitoring={"serviceMonitor": True}, mcpServer={"rbac": {"preset": "read-only"}},
                      networkPolicy={"ingressNamespace": "traefik", "monitoringNamespace": "prometheus"})
    assert run.error is None, run.error
    by_name = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "prometheus"}}}
    assert by_name in peers(run, MCP)
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}}} in peers(run, LS)


def test_turning_them_off_needs_the_opt_in(preview):
    refused(run_variant(preview=preview, networkPolicy={"enabled": False}),
            "networkPolicy.enabled = false", "allowUnauthenticatedMcp: true")
    off = run_variant(preview=preview, networkPolicy={"enabled": False, "allowUnauthenticatedMcp": True})
    assert off.error is None, off.error
    assert off.find("NetworkPolicy") == [] and off.find("Deployment")


@pytest.mark.parametrize("mcp", [{"oauth": {"enabled": True, "authorizationUrl": "https://sso.example.com"}},
                                 {"passthrough": True, "rbac": {"scope": "cluster", "namespaces": [],
                                                                "createNamespaces": False}}],
                         ids=["oauth", "passthrough"])
def test_an_authenticated_mcp_server_may_run_without_them(mcp, preview):
    run = run_variant(preview=preview, networkPolicy={"enabled": False}, mcpServer=mcp)
    assert run.error is None, run.error
    assert run.find("NetworkPolicy") == []
