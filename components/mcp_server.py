"""The Kubernetes MCP server: ServiceAccount and RBAC, config, workload, exposure, optional SCC."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi

from . import exposure, meta, rbac, telemetry, workload
from .facts import MCP_CA_CONFIG_MAP, MCP_SERVING_CERT_SECRET, CaSource, StackFacts
from .meta import Manifest
from .registry import public_url, register_all
from .settings import McpServerSettings
from .settings.telemetry import TelemetrySettings
from .workload import PodTemplate

CONTAINER = meta.MCP_SERVER
# Marks a route without OAuth as deliberate; the policy pack refuses one otherwise.
ALLOW_UNAUTHENTICATED = "llamastack-mcp.io/allow-unauthenticated"
CONFIG_MAP_NAME = f"{meta.MCP_SERVER}-config"
CONFIG_DIR = "/etc/kubernetes-mcp-server"
TLS_DIR = f"{CONFIG_DIR}/tls"
DROP_IN_DIR = f"{CONFIG_DIR}.d"  # beside the ConfigMap's mount, not inside it
KIALI_CA_DIR = f"{CONFIG_DIR}-kiali-ca"  # mcpServer.toolsetConfigs.kiali.caConfigMap
KIALI_CA_FILE = f"{KIALI_CA_DIR}/ca.crt"
OAUTH_CA_DIR = f"{CONFIG_DIR}-oauth-ca"  # mcpServer.oauth.caConfigMap: the issuer's CA
OAUTH_CA_FILE = f"{OAUTH_CA_DIR}/ca.crt"
INJECT_CA = "service.beta.openshift.io/inject-cabundle"


@dataclass(frozen=True)
class ClusterAccess:
    """Credentials for further clusters the server reaches, mounted into its pod (components/fleet.py builds
    them): the objects holding them, the volume, the server's arguments and the pod annotations that roll
    the pods when they change."""

    objects: list[Manifest]
    volume: dict[str, Any]
    mount: dict[str, Any]
    args: list[str]
    annotations: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------ server config

def _toml(value: Any) -> str:
    """A TOML value: strings and lists of them, numbers, booleans, inline tables (JSON's string escapes are TOML's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    return "[" + ", ".join(_toml(v) for v in value) + "]"


def config_toml(mcp: McpServerSettings, traces: TelemetrySettings) -> str:
    """The server's TOML config: what has no flag (its guardrails, passthrough), the listener's limits and
    where its traces go."""
    keys: dict[str, Any] = {
        "denied_resources": [{"group": r.group, "version": r.version, "kind": r.kind} for r in mcp.denied_resources]}
    if mcp.enabled_tools:
        keys["enabled_tools"] = mcp.enabled_tools
    if mcp.disabled_tools:
        keys["disabled_tools"] = mcp.disabled_tools
    if mcp.passthrough:
        keys.update(require_oauth=True, cluster_auth_mode="passthrough")
        if not mcp.oauth.enabled:
            # Nothing to verify a token against: the API server authenticates it on every call.
            # Safe only because the NetworkPolicy lets nothing but Llama Stack reach the server.
            keys["skip_jwt_verification"] = True
        keys["tls_min_version"] = mcp.tls.min_version
    keys.update(oauth_keys(mcp))
    http = {"max_body_bytes": mcp.http.max_body_bytes, "read_header_timeout": f"{mcp.http.read_header_timeout_seconds}s"}
    tables = {"http": http, "telemetry": telemetry.mcp_config(traces), **toolset_tables(mcp),
              **token_exchange_tables(mcp)}
    lines = [f"{k} = {_toml(v)}" for k, v in keys.items()]
    for table, values in tables.items():
        if values:
            lines += ["", f"[{table}]"] + [f"{k} = {_toml(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def oauth_keys(mcp: McpServerSettings) -> dict[str, Any]:
    """OAuth settings that have no flag (mcpServer.oauth: the flags carry enabled, authorizationUrl, audience)."""
    o = mcp.oauth
    if not o.enabled:
        return {}
    server_url = o.server_url or (f"https://{mcp.route.host}" if mcp.route.enabled and mcp.route.host else "")
    return {**({"server_url": server_url} if server_url else {}),
            **({"oauth_scopes": o.scopes} if o.scopes else {}),
            **({"certificate_authority": OAUTH_CA_FILE} if o.ca_config_map else {}),
            **({"disable_dynamic_client_registration": True} if o.disable_dynamic_client_registration else {})}


def token_exchange_tables(mcp: McpServerSettings) -> dict[str, dict[str, Any]]:
    """`[token_exchange]` and its client (the client secret comes from a drop-in of configSecretName)."""
    exchange = mcp.oauth.token_exchange
    if not mcp.oauth.enabled or not exchange.strategy:
        return {}
    return {"token_exchange": {"strategy": exchange.strategy, **({"audience": exchange.audience}
                                                                 if exchange.audience else {}),
                               **({"scopes": exchange.scopes} if exchange.scopes else {})},
            "token_exchange.client_auth": {"method": exchange.client_auth_method, "client_id": exchange.client_id}}


def toolset_tables(mcp: McpServerSettings) -> dict[str, dict[str, Any]]:
    """`[toolset_configs.NAME]` of the toolsets that take settings (mcpServer.toolsetConfigs)."""
    tables: dict[str, dict[str, Any]] = {}
    kiali, helm = mcp.toolset_configs.kiali, mcp.toolset_configs.helm
    if "kiali" in mcp.toolsets:
        tables["toolset_configs.kiali"] = {"url": kiali.url, **({"insecure": True} if kiali.insecure else {}),
                                           **({"certificate_authority": KIALI_CA_FILE} if kiali.ca_config_map else {})}
    if "helm" in mcp.toolsets and helm.allowed_registries:
        tables["toolset_configs.helm"] = {"allowed_registries": helm.allowed_registries}
    return tables


def ca_config_map(facts: StackFacts) -> Optional[Manifest]:
    """An empty ConfigMap OpenShift fills with its service CA (data left to the operator)."""
    ca = facts.mcp.ca
    if ca is None or ca.name != MCP_CA_CONFIG_MAP:
        return None
    return meta.manifest("v1", "ConfigMap", facts.mcp.app.metadata(MCP_CA_CONFIG_MAP,
                                                                    annotations={INJECT_CA: "true"}))


# ------------------------------------------------------------------- RBAC

def grants(facts: StackFacts) -> list[Manifest]:
    mcp = facts.settings.mcp_server
    if mcp.passthrough:
        return []  # each call runs with the caller's token; discovery is open to every identity
    return rbac.grants(facts.mcp.app, mcp.rbac, facts.settings.platform)


def scc(facts: StackFacts) -> list[Manifest]:
    """A SecurityContextConstraints pinning the server to one UID, and the `use` grant for it."""
    a, uid = facts.mcp.app, facts.settings.mcp_server.scc.uid
    name = meta.cluster_scoped_name(a.namespace, a.name)
    constraints = meta.manifest(
        "security.openshift.io/v1", "SecurityContextConstraints", a.metadata(name, namespaced=False),
        allowHostDirVolumePlugin=False, allowHostIPC=False, allowHostNetwork=False, allowHostPID=False,
        allowHostPorts=False, allowPrivilegeEscalation=False, allowPrivilegedContainer=False,
        allowedCapabilities=[], defaultAddCapabilities=[], requiredDropCapabilities=["ALL"],
        readOnlyRootFilesystem=True,
        runAsUser={"type": "MustRunAs", "uid": uid},
        seLinuxContext={"type": "MustRunAs"},
        fsGroup={"type": "MustRunAs", "ranges": [{"min": uid, "max": uid}]},
        supplementalGroups={"type": "RunAsAny"},
        seccompProfiles=["runtime/default"],
        volumes=["configMap", "downwardAPI", "emptyDir", "projected", "secret"],
        users=[], groups=[], priority=0,  # nil and 0 rank the same; Pulumi drops None
    )
    use_role = rbac.role(a, "ClusterRole", f"{name}-scc", None,
                         [{"apiGroups": ["security.openshift.io"], "resources": ["securitycontextconstraints"],
                           "resourceNames": [name], "verbs": ["use"]}])
    use_binding = rbac.binding(a, "RoleBinding", f"{a.name}-scc", a.namespace, "ClusterRole", f"{name}-scc")
    return [constraints, use_role, use_binding]


# ---------------------------------------------------------------- workload

def container_args(mcp: McpServerSettings) -> list[str]:
    # --stateless: no sticky MCP sessions behind a Service, and Llama Stack 0.7's client fails
    # against the stateful mode (tests/servers/test_e2e.py runs both servers that way).
    args = ["--port", str(meta.MCP_PORT), "--stateless",
            "--toolsets", ",".join(mcp.toolsets), "--log-level", str(mcp.log_level)]
    if mcp.rbac.read_only:
        args.append("--read-only")
    if mcp.disable_destructive:
        args.append("--disable-destructive")
    if mcp.oauth.enabled:
        args += ["--require-oauth", "--authorization-url", mcp.oauth.authorization_url]
        if mcp.oauth.audience:
            args += ["--oauth-audience", mcp.oauth.audience]
    args += ["--config", f"{CONFIG_DIR}/config.toml"]
    if mcp.config_secret_name:
        args += ["--config-dir", DROP_IN_DIR]
    if mcp.passthrough:
        args += ["--tls-cert", f"{TLS_DIR}/tls.crt", "--tls-key", f"{TLS_DIR}/tls.key"]
    return args


def run_as_user(facts: StackFacts) -> Optional[int]:
    settings = facts.settings
    if settings.platform == "kubernetes":
        return meta.MCP_IMAGE_UID
    return settings.mcp_server.scc.uid if settings.mcp_server.scc.create else None


def deployment(facts: StackFacts, config_text: str, access: Optional[ClusterAccess] = None) -> Manifest:
    settings, a, mcp = facts.settings, facts.mcp.app, facts.settings.mcp_server
    uid = run_as_user(facts)
    tmp_volume, tmp_mount = meta.empty_dir("tmp", "/tmp")
    volumes, mounts = [tmp_volume], [tmp_mount]
    annotations = {}
    volumes.append({"name": "config", "configMap": {"name": CONFIG_MAP_NAME}})
    mounts.append({"name": "config", "mountPath": CONFIG_DIR, "readOnly": True})
    annotations.update(workload.config_checksum(config_text))
    if mcp.config_secret_name:
        volumes.append({"name": "config-secret", "secret": {"secretName": mcp.config_secret_name}})
        mounts.append({"name": "config-secret", "mountPath": DROP_IN_DIR, "readOnly": True})
    if mcp.passthrough:
        volumes.append({"name": "tls", "secret": {"secretName": facts.mcp.tls_secret}})
        mounts.append({"name": "tls", "mountPath": TLS_DIR, "readOnly": True})
    if mcp.oauth.enabled and mcp.oauth.ca_config_map:  # the issuer's CA, read from a file
        volumes.append({"name": "oauth-ca", **CaSource("configMap", mcp.oauth.ca_config_map, mcp.oauth.ca_key).volume()})
        mounts.append({"name": "oauth-ca", "mountPath": OAUTH_CA_DIR, "readOnly": True})
    kiali = mcp.toolset_configs.kiali
    if "kiali" in mcp.toolsets and kiali.ca_config_map:  # the server reads the CA from a file
        volumes.append({"name": "kiali-ca", **CaSource("configMap", kiali.ca_config_map, kiali.ca_key).volume()})
        mounts.append({"name": "kiali-ca", "mountPath": KIALI_CA_DIR, "readOnly": True})
    if access is not None:
        volumes.append(access.volume)
        mounts.append(access.mount)
        annotations.update(access.annotations)
    extra = workload.extras(mcp)
    volumes += extra.volumes
    mounts += extra.mounts
    container = {
        "name": CONTAINER,
        "image": mcp.image,
        "args": container_args(mcp) + (access.args if access else []),
        **({"env": env} if (env := telemetry.mcp_env(settings.telemetry) + extra.env) else {}),
        "ports": [{"name": "http", "containerPort": meta.MCP_PORT, "protocol": "TCP"}],
        **meta.http_probes("/healthz", scheme="HTTPS" if mcp.passthrough else "HTTP", startup_seconds=30),
        "resources": workload.container_resources(mcp),
        "securityContext": meta.container_security_context(uid),
        "volumeMounts": mounts,
    }
    if settings.platform == "openshift" and mcp.scc.create:
        annotations["openshift.io/required-scc"] = meta.cluster_scoped_name(a.namespace, a.name)
    pod = PodTemplate(containers=[container], service_account=a.name, volumes=volumes,
                      security_context=meta.pod_security_context(uid, uid), annotations=annotations,
                      automount_token=True)  # the server talks to the Kubernetes API
    return workload.deployment(a, mcp, pod)


def namespaces(facts: StackFacts) -> list[Manifest]:
    """The namespaces this stack creates: its own (namespace.create) and, with
    mcpServer.rbac.createNamespaces, those the agent may change; kept on destroy unless
    namespace.keepOnDestroy is false."""
    settings, rbac_settings = facts.settings, facts.settings.mcp_server.rbac
    names = [facts.namespace] if settings.namespace.create else []
    if rbac_settings.create_namespaces and rbac_settings.scope == "namespaces":
        names += [n for n in rbac_settings.namespaces if n not in names]
    return [namespace(name, keep=settings.namespace.keep_on_destroy) for name in names]


def namespace(name: str, keep: bool) -> Manifest:
    """A namespace of the stack's; `keep`: left by destroy, with whatever it holds."""
    labels = {"app.kubernetes.io/part-of": meta.PART_OF, "app.kubernetes.io/managed-by": "pulumi"}
    if keep:
        labels[meta.KEEP_ON_DESTROY] = "true"
    return meta.manifest("v1", "Namespace", meta.metadata(name, None, labels))


def manifests(facts: StackFacts, access: Optional[ClusterAccess] = None) -> list[Manifest]:
    """Everything the MCP server needs, except the namespace; with `access` (fleet members), the
    objects holding the other clusters' credentials too."""
    settings, a, mcp = facts.settings, facts.mcp.app, facts.settings.mcp_server
    out = [workload.service_account(a, automount=True), *grants(facts)]
    if access is not None:
        out += access.objects
    if settings.platform == "openshift" and mcp.scc.create:
        out += scc(facts)
    config_text = config_toml(mcp, settings.telemetry)
    out.append(meta.manifest("v1", "ConfigMap", a.metadata(CONFIG_MAP_NAME), data={"config.toml": config_text}))
    out += [m for m in (ca_config_map(facts),) if m]
    service_annotations = workload.serving_cert(MCP_SERVING_CERT_SECRET) if facts.mcp.openshift_serving_cert else None
    out += [deployment(facts, config_text, access), workload.service(a, service_annotations), *workload.availability(a, mcp)]
    # The policy gate refuses an MCP route without OAuth unless this marks it deliberate.
    marker = {ALLOW_UNAUTHENTICATED: "true"} if mcp.route.allow_unauthenticated and not mcp.oauth.enabled else {}
    out += exposure.objects(a, settings.platform, mcp.route, exposure.Backend(marker=marker))
    return out


class KubernetesMcpServer(pulumi.ComponentResource):
    """The MCP server and everything it runs with, in one namespace."""

    url: pulumi.Output[str]
    namespace: pulumi.Output[str]
    service_account: pulumi.Output[str]
    route_url: Optional[pulumi.Output[str]]

    def __init__(self, name: str, facts: StackFacts, access: Optional[ClusterAccess] = None,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("llamastack-mcp:index:KubernetesMcpServer", name, None, opts)
        # What everything namespaced waits for: the namespace, when this stack creates it.
        self.namespace_resources: list[pulumi.Resource] = []
        self.namespace_resources = list(register_all(namespaces(facts), pulumi.ResourceOptions(parent=self)).values())
        created = register_all(manifests(facts, access),
                               pulumi.ResourceOptions(parent=self, depends_on=self.namespace_resources))

        a = facts.mcp.app
        self.url = pulumi.Output.from_input(facts.mcp.url)
        self.namespace = pulumi.Output.from_input(a.namespace)
        self.service_account = created[("ServiceAccount", a.namespace, a.name)].metadata.apply(
            lambda m: m["name"])
        self.route_url = public_url(created, a.namespace, a.name, "/mcp")
        outputs = {"url": self.url, "namespace": self.namespace, "serviceAccount": self.service_account}
        if self.route_url is not None:
            outputs["routeUrl"] = self.route_url
        self.register_outputs(outputs)
