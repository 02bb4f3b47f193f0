"""How Llama Stack reaches what is outside its pod (`llamaStack.trust`, `llamaStack.proxy`): the CAs it trusts
beyond its image's public ones, and the proxy it goes through."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from .base import Settings
from .fields import ObjectName

ConfigMapKey = Annotated[str, Field(pattern=r"^[-._a-zA-Z0-9]{1,253}$")]


class CaBundle(Settings):
    """PEM certificates in a ConfigMap of the stack's namespace (`llamaStack.trust.caBundles[]`)."""

    config_map: ObjectName
    """The ConfigMap's name (you create it; its content is public: CA certificates)."""
    key: ConfigMapKey = "ca-bundle.crt"
    """The key holding the PEM certificates."""


class Trust(Settings):
    """CAs Llama Stack trusts besides its image's public ones (`llamaStack.trust`): for a model endpoint, a trace
    collector or an MCP server whose certificate a private CA signed."""

    ca_bundles: list[CaBundle] = []
    """ConfigMaps of PEM CAs, added to the bundle the server's HTTP clients read (SSL_CERT_FILE and
    REQUESTS_CA_BUNDLE); the pods read them at start: restart them after changing one."""
    openshift_trusted_ca_bundle: bool = False
    """OpenShift only: also trust the cluster's trusted CA bundle (the proxy's trustedCA and the system's): the
    program creates a ConfigMap labelled `config.openshift.io/inject-trusted-cabundle`, which OpenShift fills."""


def _proxy_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/@]+(:[0-9]{1,5})?/?", value):
        raise PydanticCustomError("proxy_url", "must be http(s)://host[:port], without credentials (they would be "
                                               "in clear in the Deployment): for a proxy that needs them, leave "
                                               "proxy unset and set HTTPS_PROXY and NO_PROXY through extraEnv, "
                                               "the URL from a Secret (secretKeyRef)")
    return value


def _no_proxy_entry(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9.*:/\[\]-]{1,253}", value):
        raise PydanticCustomError("no_proxy", "must be a host, a domain (.example.com), an IP address or a CIDR")
    return value


ProxyUrl = Annotated[str, AfterValidator(lambda v: v and _proxy_url(v))]  # "": none


class Proxy(Settings):
    """The proxy Llama Stack reaches the outside through (`llamaStack.proxy`): HTTP_PROXY, HTTPS_PROXY, NO_PROXY."""

    http_proxy: ProxyUrl = ""
    """For http:// URLs: `http://proxy.example.com:3128`; empty: none."""
    https_proxy: ProxyUrl = ""
    """For https:// URLs (a model endpoint, a trace collector); empty: none."""
    no_proxy: list[Annotated[str, AfterValidator(_no_proxy_entry)]] = []
    """Hosts reached directly, besides those always added: the cluster's own names (`.svc`, `.cluster.local`,
    the MCP server's Service), `localhost`, `127.0.0.1`."""

    @property
    def enabled(self) -> bool:
        return bool(self.http_proxy or self.https_proxy)
