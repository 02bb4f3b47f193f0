"""Settings of what surrounds the two servers: the namespace, NetworkPolicies, monitoring, the Helm migration."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from .base import Settings
from .fields import DnsLabel, Labels, dns_label


class NamespaceSettings(Settings):
    """Where everything namespaced goes (`namespace`)."""

    name: DnsLabel = "llama-stack"
    """The namespace of everything namespaced (a DNS-1123 label)."""
    create: bool = True
    """false: use an existing namespace."""
    keep_on_destroy: bool = True
    """With create: true, `destroy` (or a rename, or a replacement) leaves the namespace and all it holds, your
    data included; `kubectl delete namespace <name>` removes it. false: the stack deletes it, and everything in
    it."""


class TargetSettings(Settings):
    """The one cluster this stack may change (`target`): `make up/preview/destroy/refresh` name the cluster they
    are about to change and refuse any other before changing anything."""

    context: str = ""
    """The kubeconfig context the stack is deployed with (the current one, or `kubernetes:context`); empty: any."""
    api_server: Annotated[str, Field(pattern=r"^(https://[^\s/]+/?)?$")] = ""
    """The API server URL that context must point at (`https://api.prod.example.com:6443`); empty: any."""


class NetworkPolicySettings(Settings):
    """Which pods may reach the two servers (`networkPolicy`)."""

    enabled: bool = True
    """NetworkPolicies: the MCP server only from Llama Stack (and the router, Prometheus when used); Llama
    Stack from its namespace and the router."""
    ingress_namespace: DnsLabel = "ingress-nginx"
    """Plain Kubernetes: where the Ingress controller's or the Gateway's pods run (on OpenShift the router's and its
    Gateway's namespaces are found by their policy-group label)."""
    monitoring_namespace: DnsLabel = "monitoring"
    """Plain Kubernetes: where Prometheus runs (OpenShift's monitoring is found by its policy-group label)."""
    allow_unauthenticated_mcp: bool = False
    """With enabled: false and no OAuth, every pod in the cluster can call the MCP server's tools: this opt-in
    accepts that."""


class MonitoringSettings(Settings):
    """What Prometheus (through the Prometheus Operator) scrapes and alerts on (`monitoring`)."""

    service_monitor: bool = False
    """A ServiceMonitor scraping the MCP server's /metrics (needs the Prometheus Operator)."""
    prometheus_rule: bool = False
    """A PrometheusRule with MCPServerDown, MCPHighMemoryUsage, MCPToolErrorRate and LlamaStackDown; needs
    serviceMonitor."""
    memory_warning_ratio: Annotated[float, Field(gt=0, le=1)] = 0.8
    """MCPHighMemoryUsage fires above this share of the memory limit (0-1)."""
    tool_error_ratio: Annotated[float, Field(gt=0, le=1)] = 0.1
    """MCPToolErrorRate fires above this share of failed tool calls (0-1)."""
    labels: Labels = {}
    """Extra labels on the ServiceMonitor and PrometheusRule (for your Prometheus' selectors)."""


ReleaseName = Annotated[str, AfterValidator(lambda v: dns_label(v) if v else v)]


class HelmReleases(Settings):
    """The old Helm releases this stack takes over in place (`make adopt`)."""

    mcp_server: ReleaseName = ""
    """The old MCP server release (e.g. kubernetes-mcp-server). Helm named the pods' instance label after it
    and a Deployment's selector never changes, so naming it keeps the Deployment updated in place. Keep it
    set after `make adopt`."""
    llama_stack: ReleaseName = ""
    """The old Llama Stack release (e.g. llama-stack); as for mcpServer."""


class MigrationSettings(Settings):
    """Taking over the old Helm releases in place (`migration`)."""

    helm_releases: HelmReleases = HelmReleases()
    """The release names Helm installed under: mcpServer, llamaStack."""
