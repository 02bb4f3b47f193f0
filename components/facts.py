"""What follows from the settings about each server, computed once and handed to every builder.

Who each server is (its `App`: name, namespace, labels, port), where clients reach it,
which Secret holds its certificate and where clients find the CA that signed it. The
MCP server's builders, Llama Stack's (which trusts that CA), the NetworkPolicies, the
monitoring objects and the fleet all read these instead of working them out again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Optional

from . import meta
from .settings import StackSettings
from .workload import App

# OpenShift's service CA issues a serving certificate into these Secrets when the settings name none.
MCP_SERVING_CERT_SECRET = f"{meta.MCP_SERVER}-tls"
LLAMA_STACK_SERVING_CERT_SECRET = f"{meta.LLAMA_STACK}-tls"
# OpenShift's service CA operator writes its CA into a ConfigMap carrying the inject-cabundle annotation.
MCP_CA_CONFIG_MAP = f"{meta.MCP_SERVER}-ca"


@dataclass(frozen=True)
class CaSource:
    """Where clients find the CA of a server's certificate: a Secret's or a ConfigMap's key."""

    kind: Literal["secret", "configMap"]
    name: str
    key: str

    def volume(self) -> dict[str, Any]:
        """A volume source holding the CA as `ca.crt`."""
        items = [{"key": self.key, "path": "ca.crt"}]
        if self.kind == "secret":
            return {"secret": {"secretName": self.name, "items": items}}
        return {"configMap": {"name": self.name, "items": items}}


@dataclass(frozen=True)
class McpServerFacts:
    app: App
    url: str
    """Where in-cluster clients reach the Streamable HTTP endpoint (there is no /sse)."""
    tls_secret: Optional[str]
    """The Secret holding the server's own certificate (passthrough only)."""
    ca: Optional[CaSource]
    """Where clients find the CA of that certificate (passthrough only)."""
    openshift_serving_cert: bool
    """OpenShift's service CA issues the certificate (passthrough without a Secret of the user's)."""


@dataclass(frozen=True)
class LlamaStackFacts:
    app: App
    internal_url: str
    tls_secret: Optional[str]
    """The Secret holding the server's own certificate, when it serves TLS."""
    openshift_serving_cert: bool


@dataclass(frozen=True)
class StackFacts:
    settings: StackSettings
    mcp: McpServerFacts
    llama_stack: LlamaStackFacts

    @property
    def namespace(self) -> str:
        return self.settings.namespace.name


def mcp_server_facts(settings: StackSettings) -> McpServerFacts:
    mcp = settings.mcp_server
    app = App(meta.MCP_SERVER, settings.namespace.name, "mcp-server", meta.MCP_PORT,
              settings.migration.helm_releases.mcp_server)
    scheme = "https" if mcp.passthrough else "http"
    url = f"{scheme}://{app.service_host}:{meta.MCP_PORT}/mcp"
    if not mcp.passthrough:
        return McpServerFacts(app, url, None, None, False)
    if mcp.tls.secret_name:
        return McpServerFacts(app, url, mcp.tls.secret_name, CaSource("secret", mcp.tls.secret_name, "ca.crt"), False)
    return McpServerFacts(app, url, MCP_SERVING_CERT_SECRET, CaSource("configMap", MCP_CA_CONFIG_MAP,
                                                                      "service-ca.crt"),
                          settings.platform == "openshift")


def llama_stack_facts(settings: StackSettings) -> LlamaStackFacts:
    stack = settings.llama_stack
    app = App(meta.LLAMA_STACK, settings.namespace.name, "agent-api", meta.LLAMA_STACK_PORT,
              settings.migration.helm_releases.llama_stack)
    scheme = "https" if stack.serves_tls else "http"
    internal_url = f"{scheme}://{app.service_host}:{meta.LLAMA_STACK_PORT}"
    tls_secret = (stack.tls.secret_name or LLAMA_STACK_SERVING_CERT_SECRET) if stack.serves_tls else None
    serving_cert = settings.platform == "openshift" and stack.serves_tls and not stack.tls.secret_name
    return LlamaStackFacts(app, internal_url, tls_secret, serving_cert)


def derive(settings: StackSettings) -> StackFacts:
    return StackFacts(settings, mcp_server_facts(settings), llama_stack_facts(settings))
