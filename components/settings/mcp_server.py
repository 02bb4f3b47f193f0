"""The Kubernetes MCP server's settings (`mcpServer`): image, RBAC, passthrough, tools, exposure, OAuth, SCC."""

from __future__ import annotations

import typing
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from .base import Settings
from .fields import INT32_MAX, Image, ObjectName
from .rbac import RbacSettings
from .workload import Exposure, WorkloadSettings

Toolset = Literal["config", "core", "helm", "kcp", "kiali", "kubevirt", "netobserv", "tekton"]
MCP_TOOLSETS: tuple[str, ...] = typing.get_args(Toolset)


class McpRoute(Exposure):
    """A Route or Ingress in front of the MCP server (`mcpServer.route`); needs OAuth or an explicit opt-in."""

    allow_unauthenticated: bool = False
    """Expose the MCP server, which has no authentication of its own, without oauth: an explicit opt-in."""


class OAuth(Settings):
    """OAuth/OIDC bearer tokens the MCP server requires of its callers (`mcpServer.oauth`)."""

    enabled: bool = False
    """The server requires an OAuth/OIDC bearer token (`--require-oauth`)."""
    authorization_url: str = ""
    """The https:// URL of the OAuth/OIDC issuer (`--authorization-url`)."""
    audience: str = ""
    """The audience tokens must carry (`--oauth-audience`); empty: not checked."""


class Scc(Settings):
    """An OpenShift SecurityContextConstraints for the MCP server's pods (`mcpServer.scc`)."""

    create: bool = False
    """OpenShift only: a SecurityContextConstraints pinning the pods to `uid` (MustRunAs, no privilege
    escalation, drop ALL) and its `use` grant; off: restricted-v2 suffices."""
    uid: Annotated[int, Field(ge=1, le=INT32_MAX)] = 1001
    """The one UID the SCC allows (and the pods run as)."""


class McpTls(Settings):
    """The MCP server's own certificate, served when it forwards callers' tokens (passthrough)."""

    secret_name: ObjectName = ""
    """With passthrough: a kubernetes.io/tls Secret that also holds `ca.crt` (cert-manager writes all three);
    Llama Stack trusts that CA. Required on Kubernetes; on OpenShift leave it empty and the service CA issues
    a service-serving certificate."""


class McpServerSettings(WorkloadSettings):
    """The Kubernetes MCP server: image, replicas, resources, autoscaling, rbac, passthrough, tls, toolsets,
    route, oauth, scc, scheduling."""

    image: Image = "quay.io/containers/kubernetes_mcp_server:v0.0.67"
    """The server image (release-defining: promoted from dev to prod); pin a tag or a digest."""
    passthrough: bool = False
    """Every tool call runs with the caller's own token, forwarded by Llama Stack, so the API server
    authorizes the person asking; the ServiceAccount is granted nothing and rbac.preset only picks the
    tool surface. Needs llamaStack.auth; the server then serves TLS."""
    tls: McpTls = McpTls()
    """The server's own certificate with passthrough (secretName)."""
    rbac: RbacSettings = RbacSettings()
    """What the ServiceAccount may do: preset, scope, namespaces, custom rules, the cluster-admin opt-in."""
    toolsets: Annotated[list[Toolset], Field(min_length=1)] = ["core", "config"]
    """Toolsets the server offers: config, core, helm, kcp, kiali, kubevirt, netobserv, tekton."""
    disable_destructive: bool = False
    """`--disable-destructive`: hide the tools that delete or update."""
    log_level: Annotated[int, Field(ge=0, le=9)] = 2
    """The server's log verbosity, 0-9."""
    oauth: OAuth = OAuth()
    """OAuth/OIDC bearer tokens required of callers: enabled, authorizationUrl, audience."""
    route: McpRoute = McpRoute()
    """A Route (OpenShift) or Ingress (Kubernetes) in front of the server: needs oauth or allowUnauthenticated."""
    scc: Scc = Scc()
    """OpenShift only: a SecurityContextConstraints pinning the pods to one UID."""

    @field_validator("toolsets")
    @classmethod
    def _unique_toolsets(cls, toolsets: list[str]) -> list[str]:
        if len(set(toolsets)) != len(toolsets):
            raise PydanticCustomError("unique", "lists a toolset twice")
        return toolsets
