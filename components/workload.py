"""The objects every served workload has: Deployment, Service, HPA, PDB (the way in: exposure.py).

Pure functions from settings to manifests; both components call them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from . import deferred, meta
from .meta import Manifest
from .settings import WorkloadSettings


@dataclass(frozen=True)
class App:
    """Who a set of objects belongs to: name, namespace, labels."""

    name: str
    namespace: str
    component: str
    port: int
    instance: str = ""  # the selector's instance label: the namespace, or an adopted Helm release's name

    @property
    def selector(self) -> dict[str, str]:
        return meta.selector(self.name, self.instance or self.namespace)

    @property
    def labels(self) -> dict[str, str]:
        return meta.labels(self.name, self.instance or self.namespace, self.component)

    def metadata(self, name: Optional[str] = None, annotations: Optional[dict[str, str]] = None,
                 namespaced: bool = True) -> dict[str, Any]:
        return meta.metadata(name or self.name, self.namespace if namespaced else None, self.labels,
                             annotations)

    @property
    def service_host(self) -> str:
        return f"{self.name}.{self.namespace}.svc.cluster.local"


@dataclass(frozen=True)
class PodTemplate:
    containers: list[dict[str, Any]]
    service_account: str
    volumes: list[dict[str, Any]] = field(default_factory=list)
    init_containers: list[dict[str, Any]] = field(default_factory=list)
    security_context: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    automount_token: bool = False


# Spread autoscaled replicas over nodes and zones unless the settings say otherwise: soft
# (ScheduleAnyway), so a single-zone cluster still schedules every replica.
DEFAULT_SPREAD_KEYS = ("kubernetes.io/hostname", "topology.kubernetes.io/zone")


def _dump(model: Any) -> Any:
    return model.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True, mode="json")


def topology_spread(app: App, workload: WorkloadSettings) -> list[dict[str, Any]]:
    constraints = workload.topology_spread_constraints
    if constraints is None:
        if not workload.autoscaling.enabled:
            return []
        constraints = [{"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway"}
                       for key in DEFAULT_SPREAD_KEYS]
    else:
        constraints = [{**_dump(c), "maxSkew": c.max_skew, "whenUnsatisfiable": c.when_unsatisfiable}
                       for c in constraints]
    return [{**c, "labelSelector": {"matchLabels": app.selector}} for c in constraints]


def scheduling(app: App, workload: WorkloadSettings) -> dict[str, Any]:
    """The pod spec's placement fields, only those the settings use (defaults change nothing)."""
    spec: dict[str, Any] = {}
    if workload.node_selector:
        spec["nodeSelector"] = dict(workload.node_selector)
    if workload.tolerations:
        spec["tolerations"] = [{**_dump(t), "operator": t.operator} for t in workload.tolerations]
    affinity = _dump(workload.affinity)
    if affinity:
        spec["affinity"] = affinity
    spread = topology_spread(app, workload)
    if spread:
        spec["topologySpreadConstraints"] = spread
    if workload.priority_class_name:
        spec["priorityClassName"] = workload.priority_class_name
    if workload.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": name} for name in workload.image_pull_secrets]
    return spec


def deployment(app: App, workload: WorkloadSettings, pod: PodTemplate, recreate: bool = False) -> Manifest:
    # A stopping pod serves on until the proxies have dropped it from the Service (measured on the
    # real node: without it a rollout under load failed 5 of 314 tool calls).
    stopping = ({"lifecycle": {"preStop": {"sleep": {"seconds": workload.shutdown_delay_seconds}}}}
                if workload.shutdown_delay_seconds else {})
    containers = [{**c, "imagePullPolicy": workload.image_pull_policy, **stopping} for c in pod.containers]
    init_containers = [{**c, "imagePullPolicy": workload.image_pull_policy} for c in pod.init_containers]
    annotations = {**workload.pod_annotations, **pod.annotations}
    spec: dict[str, Any] = {
        "selector": {"matchLabels": app.selector},
        "strategy": {"type": "Recreate"} if recreate else
        {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {
            "metadata": {"labels": {**workload.pod_labels, **app.labels},
                         **({"annotations": annotations} if annotations else {})},
            "spec": {
                "serviceAccountName": pod.service_account,
                "automountServiceAccountToken": pod.automount_token,
                # No Docker-link variables: the Service llama-stack would set LLAMA_STACK_PORT=tcp://...,
                # which the server reads as its port and dies on (seen on the real node).
                "enableServiceLinks": False,
                "securityContext": pod.security_context,
                **({"initContainers": init_containers} if init_containers else {}),
                "containers": containers,
                "volumes": pod.volumes,
                **scheduling(app, workload),
            },
        },
    }
    if not workload.autoscaling.enabled:
        # With an HPA, a replicas field would fight it on every `pulumi up`.
        spec["replicas"] = workload.replicas
    # The provider's await gives up after this and fails the update with the Deployment's status.
    timeout = {"pulumi.com/timeoutSeconds": str(workload.rollout_timeout_seconds)}
    return meta.manifest("apps/v1", "Deployment", app.metadata(annotations=timeout), spec=spec)


# The provider waits on a Service until its endpoints have been still for 10 s after every change
# (measured: 10 s per Service, `make bench-deploy`). A ClusterIP Service has nothing else to wait
# for, and the Deployment's own await already proves the pods behind it Ready.
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}


def service(app: App, annotations: Optional[dict[str, str]] = None) -> Manifest:
    return meta.manifest("v1", "Service", app.metadata(annotations={**SKIP_AWAIT, **(annotations or {})}), spec={
        "type": "ClusterIP",
        "selector": app.selector,
        "ports": [{"name": "http", "port": app.port, "targetPort": "http", "protocol": "TCP"}],
    })


def config_checksum(text: str) -> dict[str, str]:
    """A pod annotation that changes with a config file, so a config change rolls the pods."""
    return {"checksum/config": deferred.digest(text)}


def serving_cert(secret: str) -> dict[str, str]:
    """The Service annotation that makes OpenShift's service CA issue a certificate into `secret`."""
    return {"service.beta.openshift.io/serving-cert-secret-name": secret}


def service_account(app: App, automount: bool) -> Manifest:
    return meta.manifest("v1", "ServiceAccount", app.metadata(), automountServiceAccountToken=automount)


def container_resources(workload: WorkloadSettings) -> dict[str, Any]:
    r = workload.resources

    def amounts(a: Any) -> dict[str, str]:
        out = {"cpu": a.cpu, "memory": a.memory}
        if a.ephemeral_storage is not None:
            out["ephemeral-storage"] = a.ephemeral_storage
        return out

    return {"requests": amounts(r.requests), "limits": amounts(r.limits)}


@dataclass
class Extras:
    """What `<server>.extraEnv` and `extraVolumes` add to the server's container and pod."""

    env: list[dict[str, Any]]
    volumes: list[dict[str, Any]]
    mounts: list[dict[str, Any]]


def extras(workload: WorkloadSettings) -> Extras:
    env = []
    for e in workload.extra_env:
        if e.value is not None:
            env.append({"name": e.name, "value": e.value})
        else:
            kind, ref = (("secretKeyRef", e.secret_key_ref) if e.secret_key_ref is not None
                         else ("configMapKeyRef", e.config_map_key_ref))
            env.append({"name": e.name, "valueFrom": {kind: {"name": ref.name, "key": ref.key}}})
    volumes, mounts = [], []
    for v in workload.extra_volumes:
        source = ({"configMap": {"name": v.config_map}} if v.config_map else
                  {"secret": {"secretName": v.secret}} if v.secret else {"emptyDir": {}})
        volumes.append({"name": v.name, **source})
        mounts.append({"name": v.name, "mountPath": v.mount_path, **({} if v.empty_dir else {"readOnly": True})})
    return Extras(env, volumes, mounts)


def availability(app: App, workload: WorkloadSettings) -> list[Manifest]:
    """HPA when autoscaling; a PDB whenever at least two replicas are meant to run."""
    out = []
    scaling = workload.autoscaling
    if scaling.enabled:
        out.append(meta.manifest("autoscaling/v2", "HorizontalPodAutoscaler", app.metadata(), spec={
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app.name},
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": [{"type": "Resource", "resource": {"name": resource, "target": {
                "type": "Utilization", "averageUtilization": target}}}
                for resource, target in (("cpu", scaling.target_cpu_utilization_percentage),
                                         ("memory", scaling.target_memory_utilization_percentage))
                if target is not None],
            # Only when set: an HPA without `behavior` keeps Kubernetes' defaults (and existing stacks no diff).
            **({"behavior": {"scaleDown": {"stabilizationWindowSeconds": scaling.scale_down_stabilization_seconds}}}
               if scaling.scale_down_stabilization_seconds is not None else {}),
        }))
    if workload.min_replicas >= 2:
        budget = workload.disruption_budget
        allowed = ({"maxUnavailable": budget.max_unavailable} if budget.max_unavailable is not None
                   else {"minAvailable": budget.min_available if budget.min_available is not None else 1})
        out.append(meta.manifest("policy/v1", "PodDisruptionBudget", app.metadata(), spec={
            **allowed, "selector": {"matchLabels": app.selector}}))
    return out
