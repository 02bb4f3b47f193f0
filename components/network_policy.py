"""NetworkPolicies: the MCP server is reachable only from Llama Stack (and what the settings add)."""

from __future__ import annotations

from typing import Any, Optional

import pulumi

from . import meta
from .facts import StackFacts
from .meta import Manifest
from .registry import register_all
from .settings import StackSettings
from .workload import App

# OpenShift labels its router and monitoring namespaces with policy groups.
_OPENSHIFT_GROUP = "network.openshift.io/policy-group"


def _namespace_peer(settings: StackSettings, role: str) -> dict[str, Any]:
    """role: 'ingress' (router / ingress controller) or 'monitoring' (Prometheus)."""
    if settings.platform == "openshift":
        return {"namespaceSelector": {"matchLabels": {_OPENSHIFT_GROUP: role}}}
    np = settings.network_policy
    name = np.ingress_namespace if role == "ingress" else np.monitoring_namespace
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def _policy(app: App, peers: list[dict[str, Any]]) -> Manifest:
    return meta.manifest("networking.k8s.io/v1", "NetworkPolicy", app.metadata(), spec={
        "podSelector": {"matchLabels": app.selector},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": peers, "ports": [{"protocol": "TCP", "port": app.port}]}],
    })


def manifests(facts: StackFacts) -> list[Manifest]:
    settings = facts.settings
    if not settings.network_policy.enabled:
        return []
    mcp, stack = facts.mcp.app, facts.llama_stack.app
    mcp_peers = [{"podSelector": {"matchLabels": stack.selector}}]
    if settings.mcp_server.route.enabled:
        mcp_peers.append(_namespace_peer(settings, "ingress"))
    if settings.monitoring.service_monitor:
        mcp_peers.append(_namespace_peer(settings, "monitoring"))
    stack_peers = [{"podSelector": {}}]  # clients in the same namespace
    if settings.llama_stack.route.enabled:
        stack_peers.append(_namespace_peer(settings, "ingress"))
    return [_policy(mcp, mcp_peers), _policy(stack, stack_peers)]


class NetworkPolicies(pulumi.ComponentResource):
    def __init__(self, name: str, facts: StackFacts, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("llamastack-mcp:index:NetworkPolicies", name, None, opts)
        register_all(manifests(facts), pulumi.ResourceOptions(parent=self))
        self.register_outputs({})
