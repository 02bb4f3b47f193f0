"""The Kubernetes MCP server: RBAC, workload, exposure, optional SCC."""

from __future__ import annotations

from typing import Any, Optional

import pulumi

from . import meta, workload
from .meta import Manifest
from .registry import public_url, register_all
from .settings import McpServer, MemberRbac, Rbac, StackSettings
from .workload import App, PodTemplate

CRUD = ["get", "list", "watch", "create", "update", "patch", "delete"]
READ = ["get", "list", "watch"]
CONTAINER = meta.MCP_SERVER
ALLOW_UNAUTHENTICATED = "llamastack-mcp.io/allow-unauthenticated"
# Marks RBAC objects that grant cluster-admin-equivalent rights by explicit opt-in
# (mcpServer.rbac.allowClusterAdminEquivalent); the policy pack refuses them otherwise.
ALLOW_CLUSTER_ADMIN_EQUIVALENT = "llamastack-mcp.io/allow-cluster-admin-equivalent"


def app(settings: StackSettings) -> App:
    return App(meta.MCP_SERVER, settings.namespace.name, "mcp-server", meta.MCP_PORT,
               settings.migration.helm_releases.mcp_server)


def url(settings: StackSettings) -> str:
    """Where in-cluster clients reach the server's Streamable HTTP endpoint (there is no /sse)."""
    scheme = "https" if settings.mcp_server.passthrough else "http"
    return f"{scheme}://{app(settings).service_host}:{meta.MCP_PORT}/mcp"


# ------------------------------------------------------ identity passthrough

CONFIG_MAP_NAME = f"{meta.MCP_SERVER}-config"
CONFIG_DIR = "/etc/kubernetes-mcp-server"
TLS_DIR = f"{CONFIG_DIR}/tls"
SERVING_CERT_SECRET = f"{meta.MCP_SERVER}-tls"
# OpenShift's service CA operator writes its CA into a ConfigMap carrying this annotation.
CA_CONFIG_MAP = f"{meta.MCP_SERVER}-ca"
# Fleet: the hub's kubeconfig and the members' tokens, one Secret mounted here (components/fleet.py).
FLEET_SECRET = f"{meta.MCP_SERVER}-fleet"
FLEET_DIR = f"{CONFIG_DIR}-fleet"
FLEET_CHECKSUM = "checksum/fleet"
INJECT_CA = "service.beta.openshift.io/inject-cabundle"


def config_toml(mcp: McpServer) -> Optional[str]:
    """The server's TOML config: only passthrough needs keys that have no flag."""
    if not mcp.passthrough:
        return None
    lines = ["require_oauth = true", 'cluster_auth_mode = "passthrough"']
    if not mcp.oauth.enabled:
        # Nothing to verify a token against: the API server authenticates it on every call.
        # Safe only because the NetworkPolicy lets nothing but Llama Stack reach the server.
        lines.append("skip_jwt_verification = true")
    return "\n".join(lines) + "\n"


def tls_secret(settings: StackSettings) -> Optional[str]:
    mcp = settings.mcp_server
    if not mcp.passthrough:
        return None
    return mcp.tls.secret_name or SERVING_CERT_SECRET  # OpenShift's service CA fills the latter


def ca_source(settings: StackSettings) -> Optional[tuple[str, str, str]]:
    """Where clients find the CA of the server's certificate: ("secret" | "configMap", name, key)."""
    mcp = settings.mcp_server
    if not mcp.passthrough:
        return None
    if mcp.tls.secret_name:
        return "secret", mcp.tls.secret_name, "ca.crt"
    return "configMap", CA_CONFIG_MAP, "service-ca.crt"


def ca_volume_source(settings: StackSettings) -> Optional[dict[str, Any]]:
    """The CA as a volume holding `ca.crt`."""
    source = ca_source(settings)
    if source is None:
        return None
    kind, name, key = source
    items = [{"key": key, "path": "ca.crt"}]
    if kind == "secret":
        return {"secret": {"secretName": name, "items": items}}
    return {"configMap": {"name": name, "items": items}}


def ca_config_map(settings: StackSettings) -> Optional[Manifest]:
    """An empty ConfigMap OpenShift fills with its service CA (data left to the operator)."""
    if not settings.mcp_server.passthrough or settings.mcp_server.tls.secret_name:
        return None
    return meta.manifest("v1", "ConfigMap", app(settings).metadata(CA_CONFIG_MAP, annotations={INJECT_CA: "true"}))


# ------------------------------------------------------------------- RBAC

def _workload_rules(verbs: list[str], secrets: bool) -> list[dict[str, Any]]:
    core = ["pods", "services", "configmaps"] + (["secrets"] if secrets else [])
    return [
        {"apiGroups": [""], "resources": core, "verbs": list(verbs)},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": list(verbs)},
        {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": list(verbs)},
    ]


def _namespaced_reads() -> list[dict[str, Any]]:
    """What the core tools read inside a namespace: events, pod logs, pod metrics."""
    return [
        {"apiGroups": [""], "resources": ["events"], "verbs": list(READ)},
        {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": list(READ)},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
        {"apiGroups": ["metrics.k8s.io"], "resources": ["pods"], "verbs": ["get", "list"]},
    ]


def _cluster_reads(platform: str, with_nodes: bool) -> list[dict[str, Any]]:
    """Cluster-scoped reads: namespaces_list (projects_list on OpenShift), and nodes_top."""
    rules = [{"apiGroups": [""], "resources": ["namespaces"], "verbs": list(READ)}]
    if with_nodes:
        rules += [{"apiGroups": [""], "resources": ["nodes"], "verbs": list(READ)},
                  {"apiGroups": ["metrics.k8s.io"], "resources": ["nodes"], "verbs": ["get", "list"]}]
    if platform == "openshift":
        rules.append({"apiGroups": ["project.openshift.io"], "resources": ["projects"], "verbs": ["get", "list"]})
    return rules


def _rules(grant: Rbac | MemberRbac) -> list[dict[str, Any]]:
    if grant.preset == "custom":
        return [r.manifest() for r in getattr(grant, "rules", [])]
    full = grant.preset == "full"
    return _workload_rules(CRUD if full else READ, secrets=full) + _namespaced_reads()


def _subject(a: App) -> dict[str, Any]:
    return {"kind": "ServiceAccount", "name": a.name, "namespace": a.namespace}


def rbac(settings: StackSettings) -> list[Manifest]:
    mcp = settings.mcp_server
    if mcp.passthrough:
        return []  # each call runs with the caller's token; discovery is open to every identity
    return grants(app(settings), mcp.rbac, settings.platform)


def grants(a: App, grant: Rbac | MemberRbac, platform: str) -> list[Manifest]:
    """The Roles, ClusterRoles and bindings of a preset and scope, for the ServiceAccount of `a`
    (the hub's own, or its counterpart on a fleet member)."""
    preset, scope = grant.preset, grant.scope
    cluster_name = meta.cluster_scoped_name(a.namespace, a.name)
    out: list[Manifest] = []

    admin = getattr(grant, "cluster_admin_equivalent", False)
    marker = {ALLOW_CLUSTER_ADMIN_EQUIVALENT: "true"} if admin else None

    def role(kind: str, name: str, namespace: Optional[str], rules: list[dict[str, Any]]) -> Manifest:
        api = "rbac.authorization.k8s.io/v1"
        return meta.manifest(api, kind, meta.metadata(name, namespace, a.labels, marker), rules=rules)

    def binding(kind: str, name: str, namespace: Optional[str], role_kind: str, role_name: str) -> Manifest:
        return meta.manifest("rbac.authorization.k8s.io/v1", kind, meta.metadata(name, namespace, a.labels, marker),
                             roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind,
                                      "name": role_name},
                             subjects=[_subject(a)])

    if scope == "cluster":
        if preset == "view":
            out.append(binding("ClusterRoleBinding", cluster_name, None, "ClusterRole", "view"))
        else:
            rules = _rules(grant) + ([] if preset == "custom" else _cluster_reads(platform, True))
            out.append(role("ClusterRole", cluster_name, None, rules))
            out.append(binding("ClusterRoleBinding", cluster_name, None, "ClusterRole", cluster_name))
        return out

    for namespace in grant.namespaces:
        if preset == "view":
            out.append(binding("RoleBinding", a.name, namespace, "ClusterRole", "view"))
        else:
            out.append(role("Role", a.name, namespace, _rules(grant)))
            out.append(binding("RoleBinding", a.name, namespace, "Role", a.name))
    if preset != "custom":
        # Listing namespaces is all the tools need beyond the granted namespaces.
        out.append(role("ClusterRole", cluster_name, None, _cluster_reads(platform, False)))
        out.append(binding("ClusterRoleBinding", cluster_name, None, "ClusterRole", cluster_name))
    return out


def scc(settings: StackSettings) -> list[Manifest]:
    """A SecurityContextConstraints pinning the server to one UID, and the `use` grant for it."""
    a, uid = app(settings), settings.mcp_server.scc.uid
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
    use_role = meta.manifest("rbac.authorization.k8s.io/v1", "ClusterRole",
                             a.metadata(f"{name}-scc", namespaced=False),
                             rules=[{"apiGroups": ["security.openshift.io"],
                                     "resources": ["securitycontextconstraints"],
                                     "resourceNames": [name], "verbs": ["use"]}])
    use_binding = meta.manifest("rbac.authorization.k8s.io/v1", "RoleBinding", a.metadata(f"{a.name}-scc"),
                                roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                         "name": f"{name}-scc"},
                                subjects=[_subject(a)])
    return [constraints, use_role, use_binding]


# ---------------------------------------------------------------- workload

def container_args(mcp: McpServer) -> list[str]:
    # --stateless: no sticky MCP sessions behind a Service, and Llama Stack 0.7's
    # client fails against the stateful mode (FACTS).
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
    if mcp.passthrough:
        args += ["--config", f"{CONFIG_DIR}/config.toml",
                 "--tls-cert", f"{TLS_DIR}/tls.crt", "--tls-key", f"{TLS_DIR}/tls.key"]
    return args


def fleet_args(settings: StackSettings) -> list[str]:
    """With fleet members the server reads one kubeconfig: a context per member, and the hub's own."""
    if not settings.fleet.members:
        return []
    return ["--cluster-provider", "kubeconfig", "--kubeconfig", f"{FLEET_DIR}/kubeconfig"]


def run_as_user(settings: StackSettings) -> Optional[int]:
    if settings.platform == "kubernetes":
        return meta.MCP_IMAGE_UID
    return settings.mcp_server.scc.uid if settings.mcp_server.scc.create else None


def deployment(settings: StackSettings, fleet_checksum: Any = None) -> Manifest:
    """`fleet_checksum` (with fleet members) changes with the hub's kubeconfig and the members' token
    Secrets, so adding, removing or rotating a member rolls the pods."""
    a, mcp = app(settings), settings.mcp_server
    uid = run_as_user(settings)
    tmp_volume, tmp_mount = meta.empty_dir("tmp", "/tmp")
    volumes, mounts = [tmp_volume], [tmp_mount]
    annotations = {}
    toml = config_toml(mcp)
    if toml:
        volumes += [{"name": "config", "configMap": {"name": CONFIG_MAP_NAME}},
                    {"name": "tls", "secret": {"secretName": tls_secret(settings)}}]
        mounts += [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                   {"name": "tls", "mountPath": TLS_DIR, "readOnly": True}]
        annotations.update(workload.config_checksum(toml))
    if settings.fleet.members:
        volumes.append({"name": "fleet", "secret": {"secretName": FLEET_SECRET}})
        mounts.append({"name": "fleet", "mountPath": FLEET_DIR, "readOnly": True})
        annotations[FLEET_CHECKSUM] = fleet_checksum
    container = {
        "name": CONTAINER,
        "image": mcp.image,
        "args": container_args(mcp) + fleet_args(settings),
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


def namespace(settings: StackSettings) -> Optional[Manifest]:
    if not settings.namespace.create:
        return None
    a = app(settings)
    return meta.manifest("v1", "Namespace", meta.metadata(a.namespace, None, {
        "app.kubernetes.io/part-of": meta.PART_OF, "app.kubernetes.io/managed-by": "pulumi"}))


def manifests(settings: StackSettings, fleet_secret: Optional[Manifest] = None,
              fleet_checksum: Any = None) -> list[Manifest]:
    """Everything the MCP server needs, except the namespace; with fleet members, the hub's
    kubeconfig Secret (components/fleet.py builds it) and the checksum that rolls the pods."""
    a, mcp = app(settings), settings.mcp_server
    out = [workload.service_account(a, automount=True), *rbac(settings)]
    if fleet_secret is not None:
        out.append(fleet_secret)
    if settings.platform == "openshift" and mcp.scc.create:
        out += scc(settings)
    toml = config_toml(mcp)
    if toml:
        out.append(meta.manifest("v1", "ConfigMap", a.metadata(CONFIG_MAP_NAME), data={"config.toml": toml}))
    out += [m for m in (ca_config_map(settings),) if m]
    service_annotations = None
    if settings.platform == "openshift" and mcp.passthrough and not mcp.tls.secret_name:
        service_annotations = workload.serving_cert(SERVING_CERT_SECRET)
    out += [deployment(settings, fleet_checksum), workload.service(a, service_annotations),
            *workload.availability(a, mcp)]
    # The policy gate refuses an MCP route without OAuth unless this marks it deliberate.
    marker = {ALLOW_UNAUTHENTICATED: "true"} if mcp.route.allow_unauthenticated and not mcp.oauth.enabled else None
    out += workload.exposure(a, settings.platform, mcp.route, route_annotations=marker, ingress_annotations=marker)
    return out


class KubernetesMcpServer(pulumi.ComponentResource):
    """The MCP server and everything it runs with, in one namespace."""

    url: pulumi.Output[str]
    namespace: pulumi.Output[str]
    service_account: pulumi.Output[str]
    route_url: Optional[pulumi.Output[str]]

    def __init__(self, name: str, settings: StackSettings, fleet_secret: Optional[Manifest] = None,
                 fleet_checksum: Any = None, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("llamastack-mcp:index:KubernetesMcpServer", name, None, opts)
        # What everything namespaced waits for: the namespace, when this stack creates it.
        self.namespace_resources: list[pulumi.Resource] = []
        ns_manifest = namespace(settings)
        if ns_manifest:
            self.namespace_resources = list(register_all([ns_manifest], pulumi.ResourceOptions(parent=self)).values())
        created = register_all(manifests(settings, fleet_secret, fleet_checksum),
                               pulumi.ResourceOptions(parent=self, depends_on=self.namespace_resources))

        a = app(settings)
        self.url = pulumi.Output.from_input(url(settings))
        self.namespace = pulumi.Output.from_input(a.namespace)
        self.service_account = created[("ServiceAccount", a.namespace, a.name)].metadata.apply(
            lambda m: m["name"])
        self.route_url = public_url(created.get(("Route", a.namespace, a.name)),
                                     created.get(("Ingress", a.namespace, a.name)), "/mcp")
        outputs = {"url": self.url, "namespace": self.namespace, "serviceAccount": self.service_account}
        if self.route_url is not None:
            outputs["routeUrl"] = self.route_url
        self.register_outputs(outputs)
