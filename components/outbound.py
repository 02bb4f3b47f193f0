"""How Llama Stack reaches what is outside its pod (llamaStack.trust, llamaStack.proxy): one CA bundle its HTTP
clients read, and the proxy variables. Pure functions from settings to pod parts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from . import meta
from .facts import StackFacts

# Python's HTTP clients read one bundle (SSL_CERT_FILE for httpx and the OpenAI client, REQUESTS_CA_BUNDLE for
# requests, which the trace exporter uses), so an init container writes the image's own public CAs plus every
# configured CA into it: public endpoints (a hosted model) stay trusted.
TRUST_DIR = "/etc/llama-stack/trust"
TRUST_BUNDLE = f"{TRUST_DIR}/ca-bundle.crt"
MCP_CA_DIR = "/etc/llama-stack/mcp-ca"
EXTRA_CA_DIR = "/etc/llama-stack/extra-ca"
TRUST_SCRIPT = ("import sys, certifi; out, *extra = sys.argv[1:]; "
                "open(out, 'w').write('\\n'.join(open(f).read() for f in [certifi.where(), *extra]))")
# OpenShift's Cluster Network Operator fills a ConfigMap so labelled with the cluster's trusted bundle.
INJECT_LABEL = "config.openshift.io/inject-trusted-cabundle"
TRUSTED_CA_CONFIG_MAP = "llama-stack-trusted-ca"
TRUSTED_CA_KEY = "ca-bundle.crt"
# In-cluster names never go through the proxy.
DIRECT = (".svc", ".cluster.local", "localhost", "127.0.0.1")


@dataclass
class PodParts:
    """What outbound trust and the proxy add to the Llama Stack pod."""

    env: list[dict[str, Any]] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    init_containers: list[dict[str, Any]] = field(default_factory=list)


def trusted_ca_config_map(facts: StackFacts) -> Optional[dict[str, Any]]:
    """OpenShift: the empty ConfigMap the platform fills with its trusted bundle (llamaStack.trust)."""
    if not facts.settings.llama_stack.trust.openshift_trusted_ca_bundle:
        return None
    config_map = meta.manifest("v1", "ConfigMap", facts.llama_stack.app.metadata(TRUSTED_CA_CONFIG_MAP))
    config_map["metadata"]["labels"][INJECT_LABEL] = "true"
    return config_map


def _extra_ca_sources(facts: StackFacts) -> list[tuple[dict[str, Any], str]]:
    """(projected source, file) of each CA beyond the MCP server's."""
    trust = facts.settings.llama_stack.trust
    sources = []
    for i, bundle in enumerate(trust.ca_bundles):
        path = f"{i}-{bundle.config_map}.crt"
        sources.append(({"configMap": {"name": bundle.config_map, "items": [{"key": bundle.key, "path": path}]}},
                        path))
    if trust.openshift_trusted_ca_bundle:
        path = "openshift-trusted.crt"
        sources.append(({"configMap": {"name": TRUSTED_CA_CONFIG_MAP,
                                       "items": [{"key": TRUSTED_CA_KEY, "path": path}]}}, path))
    return sources


def pod_parts(facts: StackFacts, image: str, security_context: dict[str, Any]) -> PodParts:
    parts = PodParts()
    stack = facts.settings.llama_stack
    files, sources, init_mounts = [], [], []
    if facts.mcp.ca:
        sources.append({"name": "mcp-ca", **facts.mcp.ca.volume()})
        init_mounts.append({"name": "mcp-ca", "mountPath": MCP_CA_DIR, "readOnly": True})
        files.append(f"{MCP_CA_DIR}/ca.crt")
    extra = _extra_ca_sources(facts)
    if extra:
        sources.append({"name": "extra-ca", "projected": {"sources": [source for source, _ in extra]}})
        init_mounts.append({"name": "extra-ca", "mountPath": EXTRA_CA_DIR, "readOnly": True})
        files += [f"{EXTRA_CA_DIR}/{path}" for _, path in extra]
    if files:
        trust_volume, trust_mount = meta.empty_dir("trust", TRUST_DIR)
        parts.volumes += [trust_volume, *sources]
        parts.mounts.append({**trust_mount, "readOnly": True})
        parts.init_containers.append({
            "name": "trust-bundle",
            "image": image,
            "command": ["python3", "-c", TRUST_SCRIPT, TRUST_BUNDLE, *files],
            # It writes one bundle of ~250 KB into an emptyDir.
            "resources": {"requests": {"cpu": "10m", "memory": "32Mi", "ephemeral-storage": "16Mi"},
                          "limits": {"cpu": "100m", "memory": "64Mi", "ephemeral-storage": "64Mi"}},
            "securityContext": security_context,
            "volumeMounts": [trust_mount, *init_mounts],
        })
        parts.env.append({"name": "SSL_CERT_FILE", "value": TRUST_BUNDLE})
        if extra:  # requests (the trace exporter) keeps certifi's bundle unless told
            parts.env.append({"name": "REQUESTS_CA_BUNDLE", "value": TRUST_BUNDLE})
    if stack.proxy.enabled:
        direct = ",".join(dict.fromkeys([*DIRECT, facts.mcp.app.service_host, *stack.proxy.no_proxy]))
        for name, value in (("HTTP_PROXY", stack.proxy.http_proxy), ("HTTPS_PROXY", stack.proxy.https_proxy),
                            ("NO_PROXY", direct)):
            if value:  # both spellings: Python's libraries read either
                parts.env += [{"name": name, "value": value}, {"name": name.lower(), "value": value}]
    return parts
