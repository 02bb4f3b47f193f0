"""The Kubernetes MCP server's settings (`mcpServer`): image, RBAC, passthrough, tools and the server's own
guardrails (denied kinds, tool filters, request limits, TLS), exposure, OAuth, SCC."""

from __future__ import annotations

import re
import typing
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator
from pydantic_core import PydanticCustomError

from .base import Settings
from .fields import INT32_MAX, ApiVersion, DeferredImage, Kind, ObjectName, OptionalHttpUrl, ToolName, dns_subdomain_name
from .rbac import RbacSettings
from .workload import Exposure, WorkloadSettings

Toolset = Literal["config", "core", "helm", "kcp", "kiali", "kubevirt", "netobserv", "tekton"]
MCP_TOOLSETS: tuple[str, ...] = typing.get_args(Toolset)
TlsVersion = Literal["1.2", "1.3"]


def _api_group(value: str) -> str:
    return dns_subdomain_name(value, optional=True)  # empty: the core group


def _unique(values: list, what: str) -> list:
    if len({repr(v) for v in values}) != len(values):
        raise PydanticCustomError("unique", "lists {what} twice", {"what": what})
    return values


class DeniedResource(Settings):
    """A kind the MCP server refuses to read or change, whatever RBAC allows (`mcpServer.deniedResources[]`)."""

    group: Annotated[str, AfterValidator(_api_group)] = ""
    """The API group: empty for the core group (Secret, ConfigMap), `rbac.authorization.k8s.io`, ..."""
    version: ApiVersion
    """The API version: v1, v1beta1, ..."""
    kind: Kind
    """The kind: Secret, ClusterRoleBinding, ..."""


def _registry_url(value: str) -> str:
    # The server's own check (v0.0.67): "must be a valid URL with scheme and host".
    if not re.fullmatch(r"[a-z][a-z0-9+.-]*://[^\s/@]+(/\S*)?", value):
        raise PydanticCustomError("registry_url", "must be a URL with a scheme and a host, e.g. "
                                  "oci://registry.example.com or https://charts.example.com")
    return value


class KialiToolset(Settings):
    """The Kiali the `kiali` toolset's tools query (`mcpServer.toolsetConfigs.kiali`: the server's
    `[toolset_configs.kiali]`). Required with the kiali toolset, refused without it."""

    url: OptionalHttpUrl = ""
    """Kiali's URL as the MCP server's pods reach it, e.g. `https://kiali.istio-system.svc:20001`."""
    ca_config_map: ObjectName = ""
    """A ConfigMap in the stack's namespace holding the CA that signed Kiali's certificate, under `caKey`:
    required for an https:// url unless `insecure` (the server refuses to start otherwise). On OpenShift a
    ConfigMap annotated `service.beta.openshift.io/inject-cabundle: "true"` gets the service CA (key
    `service-ca.crt`)."""
    ca_key: Annotated[str, Field(pattern=r"^[-._a-zA-Z0-9]{1,253}$")] = "ca.crt"
    """The key of caConfigMap that holds the CA (PEM)."""
    insecure: bool = False
    """Do not verify Kiali's certificate: for a test installation only; refused beside caConfigMap."""


class HelmToolset(Settings):
    """Guardrails of the `helm` toolset (`mcpServer.toolsetConfigs.helm`: the server's `[toolset_configs.helm]`)."""

    allowed_registries: list[Annotated[str, AfterValidator(_registry_url)]] = []
    """Only charts from these registries or repositories may be installed (each a URL with a scheme and a host:
    `oci://registry.example.com`, `https://charts.example.com`); empty: any."""


class ToolsetConfigs(Settings):
    """Settings of the toolsets that take some (`mcpServer.toolsetConfigs`)."""

    kiali: KialiToolset = KialiToolset()
    """The Kiali the kiali toolset queries: url, caConfigMap, caKey, insecure."""
    helm: HelmToolset = HelmToolset()
    """The helm toolset's guardrails: allowedRegistries."""


class McpHttp(Settings):
    """Limits of the server's HTTP listener (`mcpServer.http`: the `[http]` table of its config)."""

    max_body_bytes: Annotated[int, Field(ge=1024, le=INT32_MAX)] = 1048576
    """The largest request body the server reads; a bigger one gets `413 Request Entity Too Large` before any
    tool runs. 1 MiB holds any tool call's arguments (a resource to create included)."""
    read_header_timeout_seconds: Annotated[int, Field(ge=1, le=300)] = 10
    """How long a client may take to send its request headers: a slow client cannot hold connections open."""


class McpRoute(Exposure):
    """A Route, Ingress or HTTPRoute in front of the MCP server (`mcpServer.route`); needs OAuth or an explicit
    opt-in."""

    allow_unauthenticated: bool = False
    """Expose the MCP server, which has no authentication of its own, without oauth: an explicit opt-in."""


class TokenExchange(Settings):
    """The token the server exchanges a caller's for before calling the cluster (`mcpServer.oauth.tokenExchange`:
    the server's `[token_exchange]`). Its client secret never appears here: a drop-in of mcpServer.configSecretName
    holds it (`[token_exchange.client_auth]` / `client_secret = "..."`)."""

    strategy: Literal["", "rfc8693", "keycloak-v1", "entra-obo"] = ""
    """How the issuer exchanges tokens: rfc8693 (RFC 8693), keycloak-v1, entra-obo (Entra ID on-behalf-of);
    empty: no exchange, the caller's token is used as it is."""
    audience: str = ""
    """The audience of the exchanged token (the cluster's, e.g. `kubernetes` or your OIDC client for it)."""
    scopes: list[Annotated[str, Field(pattern=r"^\S+$")]] = []
    """Scopes asked for the exchanged token."""
    client_id: str = ""
    """The OAuth client the server authenticates as to exchange tokens (required with a strategy)."""
    client_auth_method: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"
    """How it sends its client secret: HTTP Basic (the old built-in STS's way) or in the form."""


class OAuth(Settings):
    """OAuth/OIDC bearer tokens the MCP server requires of its callers (`mcpServer.oauth`): for clients that call it
    directly (its route), not through Llama Stack."""

    enabled: bool = False
    """The server requires an OAuth/OIDC bearer token (`--require-oauth`)."""
    authorization_url: str = ""
    """The https:// URL of the OAuth/OIDC issuer (`--authorization-url`); the server reads its discovery document
    and keys when it starts and refuses to start without them."""
    audience: str = ""
    """The audience tokens must carry (`--oauth-audience`); empty: not checked."""
    server_url: OptionalHttpUrl = ""
    """The server's public https:// URL as OAuth clients reach it (`server_url`, in its OAuth metadata). Default:
    `https://<route.host>` when the route has a host; required for a route whose host OpenShift generates."""
    scopes: list[Annotated[str, Field(pattern=r"^\S+$")]] = []
    """The scopes clients ask for in their OAuth flow (`oauth_scopes`)."""
    ca_config_map: ObjectName = ""
    """A ConfigMap of the stack's namespace holding the CA of the issuer's certificate, under caKey
    (`certificate_authority`); for the cluster's own ServiceAccount issuer, `kube-root-ca.crt`. Empty: the
    image's public CAs."""
    ca_key: Annotated[str, Field(pattern=r"^[-._a-zA-Z0-9]{1,253}$")] = "ca.crt"
    """The key of caConfigMap holding the CA (PEM)."""
    disable_dynamic_client_registration: bool = False
    """Publish no registration endpoint in the server's OAuth metadata: clients are registered with the issuer
    beforehand."""
    token_exchange: TokenExchange = TokenExchange()
    """Exchange the caller's token for one the cluster accepts: strategy, audience, scopes, clientId,
    clientAuthMethod (the secret from configSecretName)."""


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
    min_version: TlsVersion = "1.2"
    """The oldest TLS version the server accepts (1.2 or 1.3): an older client's handshake is refused."""


class McpServerSettings(WorkloadSettings):
    """The Kubernetes MCP server: image, replicas, resources, autoscaling, rbac, passthrough, tls, toolsets,
    route, oauth, scc, scheduling."""

    image: DeferredImage = "quay.io/containers/kubernetes_mcp_server:v0.0.67"
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
    """Toolsets the server offers: config, core, helm, kcp, kiali, kubevirt, netobserv, tekton (kiali needs
    toolsetConfigs.kiali.url)."""
    toolset_configs: ToolsetConfigs = ToolsetConfigs()
    """Settings of the toolsets that take some: kiali (its URL and CA), helm (allowedRegistries)."""
    disable_destructive: bool = False
    """`--disable-destructive`: hide the tools that delete or update."""
    denied_resources: list[DeniedResource] = [DeniedResource(version="v1", kind="Secret")]
    """Kinds the server refuses to touch whatever RBAC allows, the caller's own included: an agent can be talked
    into reading what it should not and repeating it. Default: Secrets; `[]` allows every kind RBAC allows."""
    enabled_tools: list[ToolName] = []
    """Only these tools of the toolsets are offered (empty: all of them)."""
    disabled_tools: list[ToolName] = []
    """These tools are never offered, even when a toolset or enabledTools names them."""
    http: McpHttp = McpHttp()
    """Limits of the server's HTTP listener: maxBodyBytes, readHeaderTimeoutSeconds."""
    config_secret_name: ObjectName = ""
    """A Secret you create whose keys are TOML drop-ins (`50-oauth.toml`), read after the rendered config
    (`--config-dir`, in key order; a key there replaces the rendered one): for secret-valued server settings
    such as an OAuth client secret or token-exchange credentials, which never belong in the ConfigMap.
    The pods read it at start: restart them after changing it."""
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
        return _unique(toolsets, "a toolset")

    @field_validator("enabled_tools", "disabled_tools")
    @classmethod
    def _unique_tools(cls, tools: list[str]) -> list[str]:
        return _unique(tools, "a tool")

    @field_validator("denied_resources")
    @classmethod
    def _unique_kinds(cls, kinds: list[DeniedResource]) -> list[DeniedResource]:
        _unique([(k.group, k.version, k.kind) for k in kinds], "a kind")
        return kinds
