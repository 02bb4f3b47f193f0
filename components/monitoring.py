"""ServiceMonitor and PrometheusRule for the MCP server and Llama Stack.

The alert rules are a pure function of the settings; tests run them through
`promtool check rules` and `promtool test rules`.
"""

from __future__ import annotations

from typing import Any, Optional

import pulumi

from . import meta
from .facts import StackFacts
from .mcp_server import CONTAINER as MCP_CONTAINER
from .meta import Manifest
from .registry import register_all

RULE_GROUP = "llamastack-mcp"
PROTOCOL_METHODS = "initialize|ping|.*/.*"


def _percent(ratio: float) -> str:
    return f"{ratio * 100:g}%"


def rule_groups(facts: StackFacts) -> list[dict[str, Any]]:
    ns = facts.namespace
    mcp, stack = facts.mcp.app, facts.llama_stack.app
    mon = facts.settings.monitoring
    # The ServiceMonitor's job label is the Service name.
    up = f'up{{namespace="{ns}", job="{mcp.name}"}}'
    container = f'namespace="{ns}", container="{MCP_CONTAINER}"'
    # tool_name also counts protocol methods (initialize, tools/list, notifications/...):
    # every stateless request initializes, which would dilute the ratio.
    tool = f'namespace="{ns}", job="{mcp.name}", tool_name!~"{PROTOCOL_METHODS}"'
    available = f'kube_deployment_status_replicas_available{{namespace="{ns}", deployment="{stack.name}"}}'
    return [{"name": RULE_GROUP, "rules": [
        {"alert": "MCPServerDown",
         # `or vector(0)` also fires when every target vanished (no `up` series at all).
         "expr": f"(sum({up}) or vector(0)) < 1",
         "for": "5m",
         "labels": {"severity": "critical"},
         "annotations": {
             "summary": "No Kubernetes MCP server pod has been scrapable for 5 minutes",
             "description": (f"Prometheus cannot scrape any {mcp.name} pod in namespace {ns}. Check first: "
                             f"`kubectl -n {ns} get pods -l app.kubernetes.io/name={mcp.name}` "
                             "(CrashLoopBackOff, ImagePullBackOff, Pending), then the pod logs, then that the "
                             "ServiceMonitor still selects the Service and the NetworkPolicy admits "
                             "the monitoring namespace.")}},
        {"alert": "MCPHighMemoryUsage",
         "expr": (f"max by (namespace, pod, container) (container_memory_working_set_bytes{{{container}}})"
                  f" / on (namespace, pod, container) max by (namespace, pod, container) "
                  f'(kube_pod_container_resource_limits{{{container}, resource="memory"}})'
                  f" > {mon.memory_warning_ratio:g}"),
         "for": "10m",
         "labels": {"severity": "warning"},
         "annotations": {
             "summary": "MCP server pod {{ $labels.pod }} uses over "
                        f"{_percent(mon.memory_warning_ratio)} of its memory limit",
             "description": ("Working set of {{ $labels.pod }} has been above "
                             f"{_percent(mon.memory_warning_ratio)} of the container's memory limit for "
                             "10 minutes; it will be OOM-killed at the limit. Check first: which tool calls "
                             "run (large list/log results use memory; see k8s_mcp_tool_calls_total by tool_name), "
                             "then raise mcpServer.resources.limits.memory or scale out.")}},
        {"alert": "MCPToolErrorRate",
         "expr": (f"sum(rate(k8s_mcp_tool_errors_total{{{tool}}}[5m]))"
                  f" / sum(rate(k8s_mcp_tool_calls_total{{{tool}}}[5m])) > {mon.tool_error_ratio:g}"),
         "for": "10m",
         "labels": {"severity": "warning"},
         "annotations": {
             "summary": f"Over {_percent(mon.tool_error_ratio)} of MCP tool calls fail",
             "description": (f"More than {_percent(mon.tool_error_ratio)} of tool calls on {mcp.name} in {ns} "
                             "have failed for 10 minutes. Check first: the server log for `forbidden` "
                             "(RBAC preset too narrow for the tools in use) or connection errors to the "
                             "Kubernetes API; `sum by (tool_name) (rate(k8s_mcp_tool_errors_total[5m]))` "
                             "names the failing tools.")}},
        {"alert": "LlamaStackDown",
         "expr": f"(max({available}) or vector(0)) < 1",
         "for": "5m",
         "labels": {"severity": "critical"},
         "annotations": {
             "summary": "No Llama Stack replica has been available for 5 minutes",
             "description": (f"Deployment {stack.name} in {ns} has no available replica (or is gone). "
                             f"Check first: `kubectl -n {ns} describe deployment {stack.name}` and the pod "
                             "events (probe failures on /v1/health, PVC not bound, database unreachable), "
                             "then the server log for config errors.")}},
    ]}]


def service_monitor(facts: StackFacts) -> Manifest:
    mcp = facts.mcp.app
    endpoint: dict = {"port": "http", "path": "/metrics", "interval": "30s", "scheme": "http"}
    ca = facts.mcp.ca
    if ca:  # passthrough: the server serves TLS only; Prometheus checks its certificate
        endpoint.update(scheme="https", tlsConfig={
            "serverName": mcp.service_host.removesuffix(".cluster.local"),
            "ca": {ca.kind: {"name": ca.name, "key": ca.key}}})
    return meta.manifest("monitoring.coreos.com/v1", "ServiceMonitor",
                         meta.metadata(mcp.name, mcp.namespace, {**mcp.labels, **facts.settings.monitoring.labels}),
                         spec={"selector": {"matchLabels": mcp.selector},
                               "namespaceSelector": {"matchNames": [mcp.namespace]},
                               "endpoints": [endpoint]})


def prometheus_rule(facts: StackFacts) -> Manifest:
    ns = facts.namespace
    return meta.manifest("monitoring.coreos.com/v1", "PrometheusRule",
                         meta.metadata(RULE_GROUP, ns, {**meta.labels(RULE_GROUP, ns, "monitoring"),
                                                        **facts.settings.monitoring.labels}),
                         spec={"groups": rule_groups(facts)})


def manifests(facts: StackFacts) -> list[Manifest]:
    out = []
    if facts.settings.monitoring.service_monitor:
        out.append(service_monitor(facts))
    if facts.settings.monitoring.prometheus_rule:
        out.append(prometheus_rule(facts))
    return out


class Monitoring(pulumi.ComponentResource):
    """The ServiceMonitor and PrometheusRule, when the settings ask for them."""

    def __init__(self, name: str, facts: StackFacts, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("llamastack-mcp:index:Monitoring", name, None, opts)
        register_all(manifests(facts), pulumi.ResourceOptions(parent=self))
        self.register_outputs({})
