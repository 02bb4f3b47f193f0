"""The way in to a server: an OpenShift Route, an Ingress, or a Gateway API HTTPRoute (with a BackendTLSPolicy
when the server serves TLS).

Pure functions from settings to manifests; both components call `objects`. What each way in must know of
the server behind it (how long an answer may stream, whether the server speaks TLS, the policy gate's marker)
comes in one `Backend`, computed by the component once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from . import meta
from .meta import Manifest
from .settings import Exposure
from .workload import App

GATEWAY_API = "gateway.networking.k8s.io/v1"


@dataclass(frozen=True)
class Backend:
    """What the way in must know of the server behind it."""

    timeout_seconds: Optional[int] = None
    """How long an answer may stream; None: the way in's own default."""
    tls: bool = False
    """The server serves TLS: the way in re-encrypts (and, through a BackendTLSPolicy, verifies it)."""
    marker: dict[str, str] = field(default_factory=dict)
    """Annotations the policy gate reads (the MCP server's deliberate exposure without OAuth)."""
    ca_config_map: str = ""
    """HTTPRoute: the ConfigMap whose ca.crt the Gateway verifies a TLS server with."""


def _annotations(exposure: Exposure, backend: Backend, own: dict[str, str]) -> Optional[dict[str, str]]:
    merged = {**own, **backend.marker, **exposure.annotations}
    return merged or None


def route(app: App, exposure: Exposure, backend: Backend) -> Manifest:
    spec: dict[str, Any] = {
        "to": {"kind": "Service", "name": app.name, "weight": 100},
        "port": {"targetPort": "http"},
        "tls": {"termination": "reencrypt" if backend.tls else "edge", "insecureEdgeTerminationPolicy": "Redirect"},
        "wildcardPolicy": "None",
    }
    if exposure.host:
        spec["host"] = exposure.host
    # Streamed answers outlast the router's 30 s default.
    own = {"haproxy.router.openshift.io/timeout": f"{backend.timeout_seconds}s"} if backend.timeout_seconds else {}
    return meta.manifest("route.openshift.io/v1", "Route", app.metadata(annotations=_annotations(exposure, backend, own)),
                         spec=spec)


def _ingress_annotations(exposure: Exposure, backend: Backend) -> dict[str, str]:
    """The controller's own words for the timeouts and the backend's scheme: another controller ignores them."""
    timeout = backend.timeout_seconds
    if exposure.ingress_controller == "ingress-nginx":
        own = ({"nginx.ingress.kubernetes.io/proxy-read-timeout": str(timeout),
                "nginx.ingress.kubernetes.io/proxy-send-timeout": str(timeout)} if timeout else {})
        return {**own, **({"nginx.ingress.kubernetes.io/backend-protocol": "HTTPS"} if backend.tls else {})}
    if exposure.ingress_controller == "traefik":  # timeouts: the entry point's (static config), not the Ingress's
        return {"traefik.ingress.kubernetes.io/service.serversscheme": "https"} if backend.tls else {}
    return {}


def ingress(app: App, exposure: Exposure, backend: Backend) -> Manifest:
    spec: dict[str, Any] = {
        "tls": [{"hosts": [exposure.host], "secretName": exposure.tls_secret_name or f"{app.name}-ingress-tls"}],
        "rules": [{"host": exposure.host, "http": {"paths": [{
            "path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": app.name, "port": {"name": "http"}}}}]}}],
    }
    if exposure.ingress_class_name:
        spec["ingressClassName"] = exposure.ingress_class_name
    annotations = _annotations(exposure, backend, _ingress_annotations(exposure, backend))
    return meta.manifest("networking.k8s.io/v1", "Ingress", app.metadata(annotations=annotations), spec=spec)


def http_route(app: App, exposure: Exposure, backend: Backend) -> Manifest:
    gateway = exposure.gateway
    parent: dict[str, Any] = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gateway.name}
    if gateway.namespace:
        parent["namespace"] = gateway.namespace
    if gateway.section_name:
        parent["sectionName"] = gateway.section_name
    rule: dict[str, Any] = {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                            "backendRefs": [{"name": app.name, "port": app.port}]}
    if backend.timeout_seconds:  # Extended support: a Gateway without it keeps its own (docs/operations.md)
        rule["timeouts"] = {"request": f"{backend.timeout_seconds}s", "backendRequest": f"{backend.timeout_seconds}s"}
    spec = {"parentRefs": [parent], "hostnames": [exposure.host], "rules": [rule]}
    return meta.manifest(GATEWAY_API, "HTTPRoute", app.metadata(annotations=_annotations(exposure, backend, {})),
                         spec=spec)


def backend_tls_policy(app: App, backend: Backend) -> Manifest:
    """Has the Gateway verify the server's certificate, as its Service's name, with the CA the settings name."""
    return meta.manifest(GATEWAY_API, "BackendTLSPolicy", app.metadata(), spec={
        "targetRefs": [{"group": "", "kind": "Service", "name": app.name}],
        "validation": {"caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": backend.ca_config_map}],
                       "hostname": app.service_host},
    })


def objects(app: App, platform: str, exposure: Exposure, backend: Backend) -> list[Manifest]:
    """The way in the settings ask for on this platform; nothing when not enabled."""
    if not exposure.enabled:
        return []
    kind = exposure.object_kind(platform)
    if kind == "Route":
        return [route(app, exposure, backend)]
    if kind == "Ingress":
        return [ingress(app, exposure, backend)]
    out = [http_route(app, exposure, backend)]
    if backend.tls:
        out.append(backend_tls_policy(app, backend))
    return out
