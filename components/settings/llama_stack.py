"""Llama Stack's (or OGX's) settings (`llamaStack`): release, inference, storage, auth, exposure, TLS, connectors."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, Field, field_validator
from pydantic_core import PydanticCustomError

from .base import Settings
from ..deferred import Deferrable
from .fields import DeferredHostname, DeferredHttpUrl, HttpUrl, ObjectName, Quantity, image_reference
from .outbound import Proxy, Trust
from .workload import Exposure, WorkloadSettings

Distribution = Literal["llama-stack", "ogx"]
# What each distribution's server versions this program can write a config for.
SUPPORTED_VERSIONS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "llama-stack": ((0, 6, 0), (0, 8, 0)),  # 0.6.x: tool_groups dialect; 0.7.x: connectors
    "ogx": ((1, 0, 0), (2, 0, 0)),
}
MAIN_CONNECTOR_ID = "kubernetes"
GROUP_NAME = re.compile(r"[A-Za-z0-9:._@/-]{1,253}")


class Inference(Settings):
    """The model endpoint Llama Stack sends inference to (`llamaStack.inference`)."""

    provider: Literal["vllm", "ollama", "openai"] = "vllm"
    """The model endpoint's kind: vllm, ollama or openai (any OpenAI-compatible endpoint)."""
    url: DeferredHttpUrl = "http://vllm.models.svc.cluster.local:8000/v1"
    """The endpoint's base URL (no credentials in it: use the secret inferenceApiKey)."""
    model: str = ""
    """Registered as the default LLM when set."""


class SecretKeyRef(Settings):
    """A key of a Secret you create in the stack's namespace."""

    name: ObjectName
    """The Secret's name."""
    key: Annotated[str, Field(pattern=r"^[-._a-zA-Z0-9]{1,253}$")]
    """The key holding the value."""


class ExtraInference(Settings):
    """One more model endpoint with its own models and key (`llamaStack.extraInference[]`), beside `inference`."""

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")]
    """The provider's id in Llama Stack (lower case, digits, -): a model is served as `<id>/<model>`."""
    provider: Literal["vllm", "ollama", "openai"] = "openai"
    """The endpoint's kind: vllm, ollama or openai (any OpenAI-compatible endpoint)."""
    url: HttpUrl
    """The endpoint's base URL (no credentials in it)."""
    models: Annotated[list[Annotated[str, Field(min_length=1, max_length=253)]], Field(min_length=1)]
    """The models to register from it (at least one)."""
    api_key_secret: Optional[SecretKeyRef] = None
    """Its API key, only by reference: a Secret you create ({name, key}); none: no key is sent."""


class Postgres(Settings):
    """The PostgreSQL database of storage.backend: postgres (the user provides it)."""

    host: DeferredHostname = ""
    """The database host; required with backend: postgres."""
    port: Annotated[int, Field(ge=1, le=65535)] = 5432
    """The database port."""
    database: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")] = "llamastack"
    """The database name."""
    user: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")] = "llamastack"
    """The database user; its password is the secret postgresPassword."""


class Storage(Settings):
    """Where Llama Stack keeps its state (`llamaStack.storage`): SQLite on a volume, or PostgreSQL."""

    backend: Literal["sqlite", "postgres"] = "sqlite"
    """sqlite (on a PVC, one replica) or postgres (any number of replicas)."""
    size: Quantity = "10Gi"
    """The SQLite volume's size."""
    storage_class_name: ObjectName = ""
    """The SQLite volume's StorageClass; empty: the cluster's default."""
    keep_on_destroy: bool = True
    """`destroy` (or a replacement) leaves the SQLite volume's claim, and so the agents' conversations, files
    and vector stores; the next `up` takes it over again. false: the stack deletes the claim with the rest."""
    postgres: Postgres = Postgres()
    """The database with backend: postgres: host, port, database, user."""


class LlamaStackRoute(Exposure):
    """A Route, Ingress or HTTPRoute in front of the agent API (`llamaStack.route`)."""

    enabled: bool = True
    """Expose the agent API: by default a Route on OpenShift, an Ingress on Kubernetes (see kind)."""
    timeout_seconds: Annotated[int, Field(ge=1, le=86400)] = 300
    """How long the way in waits for a (streamed) answer: the Route's haproxy.router.openshift.io/timeout, the
    HTTPRoute's timeouts.request and backendRequest, ingress-nginx's proxy timeouts. Traefik has no per-route timeout
    to set (docs/operations.md)."""
    allow_unauthenticated: bool = False
    """Expose the agent API with auth.provider: none anyway: an explicit opt-in."""
    backend_ca_config_map: ObjectName = ""
    """HTTPRoute only, and then required when the server serves TLS: a ConfigMap in the stack's namespace whose
    `ca.crt` holds the CA of its certificate; a BackendTLSPolicy has the Gateway verify the server by the name
    in-cluster clients use (`<service>.<namespace>.svc.cluster.local`)."""


class Oidc(Settings):
    """The OIDC issuer whose JWTs Llama Stack accepts, with auth.provider: oidc."""

    issuer: str = ""
    """With provider: oidc, the https:// issuer tokens must come from."""
    audience: str = "llama-stack"
    """The audience tokens must carry."""
    jwks_url: str = ""
    """The https:// URL of the issuer's signing keys."""


class LlamaStackAuth(Settings):
    """Who may call Llama Stack: every request carries a bearer token the server checks."""

    provider: Literal["kubernetes", "oidc", "none"] = "kubernetes"
    """Who may call Llama Stack: `kubernetes` (the caller's cluster token, checked with the API server's
    SelfSubjectReview; the CA comes from the namespace's kube-root-ca.crt, no token is mounted), `oidc` (a
    JWT checked against jwksUrl), or `none`."""
    allowed_groups: list[str] = []
    """Only members of one of these groups (Kubernetes groups, or the token's groups claim) may call; empty with
    allowedUsers empty: any authenticated caller. Required when the agent acts with its own rights
    (mcpServer.passthrough: false): `[system:authenticated]` says "everyone" by name."""
    allowed_users: list[str] = []
    """These users may call too, by name (`alice`, `system:serviceaccount:<namespace>:<name>`, or the token's
    sub)."""
    oidc: Oidc = Oidc()
    """With provider: oidc, the issuer, audience and jwksUrl."""


class Tls(Settings):
    """The certificate Llama Stack serves (`llamaStack.tls`)."""

    secret_name: ObjectName = ""
    """A TLS Secret the server serves from; OGX requires TLS (on OpenShift a service-serving certificate is
    used when this is empty)."""
    insecure: bool = False
    """OGX only: serve plain HTTP (`--insecure`) instead."""


class ExtraMcpServer(Settings):
    """Another MCP server Llama Stack offers agents as a connector."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
    """The connector id agents name (not `kubernetes`)."""
    url: HttpUrl
    """The MCP server's Streamable HTTP URL."""


class LlamaStackSettings(WorkloadSettings):
    """Llama Stack or OGX: distribution, version, image, inference, storage, auth, route, tls, extra MCP
    servers, scheduling."""

    distribution: Distribution = "llama-stack"
    """llama-stack or ogx (release-defining)."""
    version: str = "0.7.3"
    """llama-stack 0.6.x (tool_groups dialect) or 0.7.x (connectors); ogx 1.x (release-defining)."""
    image: Annotated[str, AfterValidator(lambda v: image_reference(v) if v else v),
                     Deferrable("deferred.invalid/{}:deferred")] = ""
    """Default docker.io/llamastack/distribution-starter:<version>; required for ogx, whose image name is not
    fixed upstream (release-defining)."""
    inference: Inference = Inference()
    """The model endpoint: provider, url, model."""
    storage: Storage = Storage()
    """Where state lives: backend (sqlite or postgres), the volume's size and class, the database."""
    auth: LlamaStackAuth = LlamaStackAuth()
    """Who may call the agent API: provider (kubernetes, oidc, none), allowedGroups, oidc."""
    route: LlamaStackRoute = LlamaStackRoute()
    """A Route (OpenShift) or Ingress (Kubernetes) in front of the agent API."""
    tls: Tls = Tls()
    """The certificate the server serves: secretName, or OGX's insecure opt-out."""
    extra_mcp_servers: list[ExtraMcpServer] = []
    """More MCP connectors: a list of {id, url}."""
    extra_inference: list[ExtraInference] = []
    """More model endpoints, each with its models and its own key Secret: {id, provider, url, models,
    apiKeySecret}."""
    trust: Trust = Trust()
    """CAs trusted besides the image's public ones: caBundles (ConfigMaps), openshiftTrustedCaBundle."""
    proxy: Proxy = Proxy()
    """The proxy to the outside: httpProxy, httpsProxy, noProxy (the cluster's own names always go direct)."""

    @field_validator("extra_mcp_servers")
    @classmethod
    def _unique_ids(cls, servers: list[ExtraMcpServer]) -> list[ExtraMcpServer]:
        ids = [s.id for s in servers]
        bad = sorted({i for i in ids if ids.count(i) > 1 or i == MAIN_CONNECTOR_ID})
        if bad:
            raise PydanticCustomError("unique", "ids must be unique and not '{main}' (the in-cluster MCP "
                                                "server's connector); repeated or reserved: {bad}",
                                      {"main": MAIN_CONNECTOR_ID, "bad": ", ".join(bad)})
        return servers

    @property
    def version_tuple(self) -> tuple[int, int, int]:
        major, minor, patch = (int(p) for p in self.version.split("."))
        return major, minor, patch

    @property
    def dialect(self) -> Literal["tool_groups", "connectors"]:
        """How the server's config registers MCP servers (0.7 silently empties tool_groups: tests/servers/test_e2e.py
        shows the connector listing on each version)."""
        if self.distribution == "llama-stack" and self.version_tuple < (0, 7, 0):
            return "tool_groups"
        return "connectors"

    @property
    def image_ref(self) -> str:
        return self.image or f"docker.io/llamastack/distribution-starter:{self.version}"

    @property
    def serves_tls(self) -> bool:
        """Whether the server itself terminates TLS (OGX refuses plain HTTP unless --insecure)."""
        return bool(self.tls.secret_name) or (self.distribution == "ogx" and not self.tls.insecure)
