"""Names, labels, security contexts and probes: the one place they are defined."""

from __future__ import annotations

from typing import Any, Optional

PART_OF = "llamastack-mcp"
# On an object that may hold user data (a namespace the stack creates, the SQLite volume's claim): `destroy`,
# a rename or a replacement leaves it in the cluster (the registrar marks it retainOnDelete).
KEEP_ON_DESTROY = "llamastack-mcp.io/keep-on-destroy"
MCP_SERVER = "kubernetes-mcp-server"
LLAMA_STACK = "llama-stack"

MCP_PORT = 8080
LLAMA_STACK_PORT = 8321
# The MCP image's own user (upstream's Containerfile: USER 65532; testbed/localcluster/images builds the same);
# the Llama Stack image sets none and runs as any UID (OpenShift's contract), so Kubernetes gets a high one,
# apart from host users (a low UID such as 1001 is a production review's critical finding: docs/review.md).
MCP_IMAGE_UID = 65532
LLAMA_STACK_UID = 10001

Manifest = dict[str, Any]


def selector(app: str, instance: str) -> dict[str, str]:
    """The immutable subset of labels that Deployments, Services and policies select on."""
    return {"app.kubernetes.io/name": app, "app.kubernetes.io/instance": instance}


def labels(app: str, instance: str, component: str) -> dict[str, str]:
    return {
        **selector(app, instance),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
    }


# The stack is the source of truth: a server-side apply takes back fields that
# someone changed out of band (kubectl scale/label/edit, another controller's
# first write, a Helm release being adopted) instead of failing on the
# field-manager conflict. Found on the local cluster: without it the `up` after
# a `kubectl scale` fails with "Server-Side Apply field conflict".
OWNERSHIP = {"pulumi.com/patchForce": "true"}


# How Pulumi deletes an object. The provider's default is a foreground deletion: the object disappears
# only once the control plane's garbage collector has cleared its dependents, a round trip through the
# collector even when there are none (a 1,022-object teardown took 84 s, ~13 objects a second:
# docs/performance.md). No controller gives an object of a kind below dependents, so a background
# deletion removes exactly the same, at once, and the provider still waits until it is gone (finalizers
# included). Every other kind keeps the provider's default, so `destroy` returns when what it owns is gone
# too: workloads (their pods), Services (EndpointSlices), Namespaces, and on OpenShift ServiceAccounts
# (their generated pull secrets) and Ingresses (the Routes made for them).
DELETION_PROPAGATION = "pulumi.com/deletionPropagationPolicy"
OWN_NOTHING = frozenset({
    "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "SecurityContextConstraints",
    "ConfigMap", "Secret", "PersistentVolumeClaim", "NetworkPolicy", "PodDisruptionBudget",
    "HorizontalPodAutoscaler", "Route", "HTTPRoute", "BackendTLSPolicy", "ServiceMonitor", "PrometheusRule",
})


def metadata(name: str, namespace: Optional[str], object_labels: dict[str, str],
             annotations: Optional[dict[str, str]] = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(object_labels),
                            "annotations": {**OWNERSHIP, **(annotations or {})}}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def cluster_scoped_name(namespace: str, name: str) -> str:
    """Cluster-scoped objects carry the namespace so two installs never collide."""
    return f"{namespace}-{name}"


def manifest(api_version: str, kind: str, meta: dict[str, Any], **body: Any) -> Manifest:
    if kind in OWN_NOTHING:
        meta = {**meta, "annotations": {**meta.get("annotations", {}), DELETION_PROPAGATION: "background"}}
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **body}


def container_security_context(run_as_user: Optional[int]) -> dict[str, Any]:
    """Restricted pod security standard, plus a read-only root filesystem."""
    context: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if run_as_user is not None:
        context["runAsUser"] = run_as_user
    return context


def pod_security_context(run_as_user: Optional[int], fs_group: Optional[int] = None) -> dict[str, Any]:
    """On OpenShift run_as_user is None: restricted-v2 assigns a UID from the namespace range."""
    context: dict[str, Any] = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    if run_as_user is not None:
        context["runAsUser"] = run_as_user
        context["runAsGroup"] = run_as_user
    if fs_group is not None:
        context["fsGroup"] = fs_group
    return context


def http_probes(path: str, port: str = "http", scheme: str = "HTTP",
                startup_seconds: int = 60) -> dict[str, Any]:
    """Startup, readiness and liveness probes on one health endpoint, each asking a different question.

    Startup allows `startup_seconds` for a cold start before the others begin. Readiness is about
    traffic: an answer slower than 3 s twice in a row takes the pod out of the Service until it
    recovers. Liveness is only about a wedged process: it waits 10 s for each answer and restarts
    the container after six misses in a row (two minutes), so a server slowed by load leaves the
    Service but is not killed, which would move its load onto fewer pods (a restart cascade).
    """
    get = {"path": path, "port": port, "scheme": scheme}
    period = 5
    return {
        "startupProbe": {"httpGet": get, "periodSeconds": period,
                         "failureThreshold": max(1, startup_seconds // period), "timeoutSeconds": 3},
        "readinessProbe": {"httpGet": get, "periodSeconds": 5, "failureThreshold": 2, "timeoutSeconds": 3},
        "livenessProbe": {"httpGet": get, "periodSeconds": 20, "failureThreshold": 6, "timeoutSeconds": 10},
    }


def empty_dir(name: str, mount_path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A scratch volume and its mount, for paths a read-only root filesystem cannot hold."""
    return {"name": name, "emptyDir": {}}, {"name": name, "mountPath": mount_path}
