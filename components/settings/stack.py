"""The whole stack's settings: one `StackSettings` per stack file, a field per top-level key."""

from __future__ import annotations

from typing import Literal

from .base import Settings
from .cluster import MigrationSettings, MonitoringSettings, NamespaceSettings, NetworkPolicySettings, TargetSettings
from .fleet import FleetSettings
from .llama_stack import LlamaStackSettings
from .mcp_server import McpServerSettings
from .telemetry import TelemetrySettings

PROJECT = "llamastack-mcp"

# Pulumi's own Kubernetes provider, for every stack of the project (Pulumi.yaml, written by `make docs`; a stack file
# may set its own). Its client's default rate, 50 requests/s (burst 120), made a create of 1,022 objects wait
# 67 s for work that takes 22 s (`make bench-levers`, docs/performance.md); `--parallel` (8) still bounds how
# many requests are in flight, and the API server's priority and fairness still governs them.
PROVIDER_CONFIG = {"kubernetes:kubeClientSettings": {
    "description": "The Kubernetes provider's client rate limits (requests per second and burst): faster creates "
                   "at scale (docs/performance.md). A stack file may set lower ones for a busy API server.",
    "value": {"qps": 500, "burst": 1000}}}


# Top-level stack keys (`llamastack-mcp:<key>`). Secrets are read separately
# and never enter the settings objects: only whether they are set does.
SECRET_KEYS = ("inferenceApiKey", "postgresPassword", "fleetKubeconfigs")
SECRET_DESCRIPTIONS = {
    "inferenceApiKey": "The model endpoint's API key (`pulumi config set --secret inferenceApiKey ...`); reaches the "
                       "server only through a Secret and `${env.INFERENCE_API_KEY}`. Required with provider: openai.",
    "postgresPassword": "The database password (`pulumi config set --secret postgresPassword ...`); required with "
                        "storage.backend: postgres.",
    "fleetKubeconfigs": "Fleet members' kubeconfigs, by member name, for members Pulumi does not reach through a "
                        "context of its own kubeconfig (`pulumi config set --secret --path fleetKubeconfigs.NAME "
                        "\"$(cat NAME.kubeconfig)\"`). Only Pulumi's provider for that member uses it; the hub "
                        "never sees it.",
}


class StackSettings(Settings):
    """Everything a stack file may say under `llamastack-mcp:`."""

    platform: Literal["openshift", "kubernetes"] = "openshift"
    """openshift (Routes, SCC, service-serving certificates) or kubernetes (Ingress)."""
    target: TargetSettings = TargetSettings()
    """The cluster this stack may change: context and apiServer, checked by `make` before any change."""
    namespace: NamespaceSettings = NamespaceSettings()
    """Where everything namespaced goes: name and create."""
    mcp_server: McpServerSettings = McpServerSettings()
    """The Kubernetes MCP server: image, replicas, resources, autoscaling, rbac, passthrough, tls, toolsets,
    route, oauth, scc, scheduling."""
    llama_stack: LlamaStackSettings = LlamaStackSettings()
    """Llama Stack or OGX: distribution, version, image, inference, storage, auth, route, tls, extra MCP
    servers, scheduling."""
    network_policy: NetworkPolicySettings = NetworkPolicySettings()
    """NetworkPolicies and the namespaces they let in."""
    monitoring: MonitoringSettings = MonitoringSettings()
    """ServiceMonitor and PrometheusRule (Prometheus Operator), alert thresholds and labels."""
    telemetry: TelemetrySettings = TelemetrySettings()
    """Traces of both servers to an OTLP/HTTP collector: otlpEndpoint, samplingRatio."""
    migration: MigrationSettings = MigrationSettings()
    """Taking over the old Helm releases in place (`make adopt`)."""
    fleet: FleetSettings = FleetSettings()
    """Member clusters the one MCP server reaches besides its own: per member how Pulumi reaches it, its RBAC
    preset and scope, token rotation."""


TOP_LEVEL_KEYS = tuple(f.alias or name for name, f in StackSettings.model_fields.items())
