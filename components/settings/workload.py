"""What every deployed server has: an image, a size, a replica policy, where its pods run, and how it is
exposed (a Route or an Ingress)."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, Field, field_validator
from pydantic_core import PydanticCustomError

from .base import Settings
from .fields import Count, DeferredHostname, Labels, ObjectName, dns_subdomain_name, is_label_key, object_name
from .extras import ExtraEnv, ExtraVolume
from .kubernetes import Affinity, Autoscaling, DisruptionBudget, Resources, Toleration, TopologySpreadConstraint


def _annotations(value: dict[str, str]) -> dict[str, str]:
    for key in value:
        if not is_label_key(key):
            raise PydanticCustomError("annotation", "{key} is not a valid annotation key", {"key": key})
        if key.startswith("checksum/") or key in RESERVED_POD_ANNOTATIONS:
            raise PydanticCustomError("annotation", "{key} is set by the program: choose another key",
                                      {"key": key})
    return value


RESERVED_POD_ANNOTATIONS = ("openshift.io/required-scc",)
SYSTEM_PRIORITY_CLASSES = ("system-cluster-critical", "system-node-critical")


def _priority_class(value: str) -> str:
    if value in SYSTEM_PRIORITY_CLASSES:
        raise PydanticCustomError("priority_class", "is reserved for the cluster's own components (the API "
                                                    "server admits it only in kube-system)")
    return object_name(value)


class WorkloadSettings(Settings):
    """What every deployed server has: an image, a size, a replica policy and where its pods run."""

    replicas: Count = 1
    """Replicas when not autoscaling."""
    resources: Resources = Resources()
    """Requests and limits of the server's container."""
    autoscaling: Autoscaling = Autoscaling()
    """Scale on CPU (and memory) between minReplicas and maxReplicas instead of a fixed count."""
    disruption_budget: DisruptionBudget = DisruptionBudget()
    """The PodDisruptionBudget made with two or more replicas: minAvailable or maxUnavailable (default:
    minAvailable 1)."""
    rollout_timeout_seconds: Annotated[int, Field(ge=30, le=3600)] = 300
    """How long `pulumi up` waits for a rollout to become Available before it fails, naming the
    Deployment and its status (`pulumi.com/timeoutSeconds`; the provider's own default is 10 min)."""
    shutdown_delay_seconds: Annotated[int, Field(ge=0, le=20)] = 0
    """How long a pod that is being stopped (a rollout, a scale-down, a drain) goes on serving before
    its server is told to stop (a preStop `sleep`; Kubernetes 1.30+, OpenShift 4.17+): the time every
    node's proxy and router needs to take it out of the Service, so no new request reaches a closed
    port. `0`: none (the server stops at once and requests in that window fail). At most 20 s, inside
    the pod's 30 s grace period."""
    node_selector: Labels = {}
    """Node labels the pods must run on (`nodeSelector`)."""
    tolerations: list[Toleration] = []
    """Taints the pods tolerate (core/v1 Toleration: key, operator, value, effect, tolerationSeconds)."""
    affinity: Affinity = Affinity()
    """Node affinity, pod affinity and anti-affinity (core/v1 Affinity, required and preferred terms)."""
    topology_spread_constraints: Optional[list[TopologySpreadConstraint]] = None
    """How replicas spread over domains (maxSkew, topologyKey, whenUnsatisfiable, minDomains; the
    selector is always this server's pods). Unset: when autoscaled, spread softly (ScheduleAnyway,
    maxSkew 1) across nodes and zones, as llama-stack-k8s-operator does; `[]`: no spreading."""
    priority_class_name: Annotated[str, AfterValidator(lambda v: _priority_class(v) if v else v)] = ""
    """A PriorityClass for the pods (not the system-* ones)."""
    pod_labels: Labels = {}
    """Extra labels on the pods (never in the Deployment's selector)."""
    pod_annotations: Annotated[dict[str, str], AfterValidator(_annotations)] = {}
    """Extra annotations on the pods (not checksum/* nor the SCC one, which the program sets)."""
    image_pull_secrets: list[Annotated[str, AfterValidator(dns_subdomain_name)]] = []
    """Secrets (kubernetes.io/dockerconfigjson) for pulling the image from a private registry."""
    image_pull_policy: Literal["IfNotPresent", "Always", "Never"] = "IfNotPresent"
    """When the kubelet pulls the image."""
    extra_env: list[ExtraEnv] = []
    """More environment variables of the server's container: {name, value | secretKeyRef | configMapKeyRef};
    secret values only by reference, and none the program sets."""
    extra_volumes: list[ExtraVolume] = []
    """More volumes in the server's container: {name, mountPath, configMap | secret | emptyDir}; none where the
    program mounts something."""

    @field_validator("pod_labels")
    @classmethod
    def _not_the_selector(cls, labels: dict[str, str]) -> dict[str, str]:
        owned = sorted(set(labels) & {"app.kubernetes.io/name", "app.kubernetes.io/instance",
                                      "app.kubernetes.io/component", "app.kubernetes.io/part-of",
                                      "app.kubernetes.io/managed-by"})
        if owned:
            raise PydanticCustomError("pod_labels", "must not set the labels the program selects and owns: "
                                                    "{owned}", {"owned": ", ".join(owned)})
        return labels

    @property
    def min_replicas(self) -> int:
        return self.autoscaling.min_replicas if self.autoscaling.enabled else self.replicas


class Exposure(Settings):
    """A Route (OpenShift) or Ingress (Kubernetes) in front of a Service."""

    enabled: bool = False
    """Expose the server: a Route on OpenShift, an Ingress on Kubernetes."""
    host: DeferredHostname = ""
    """The public host name; required on Kubernetes, generated by OpenShift when empty."""
    ingress_class_name: ObjectName = ""
    """Kubernetes only: the Ingress class."""
    tls_secret_name: ObjectName = ""
    """Kubernetes only: the Ingress's TLS Secret (default `<name>-ingress-tls`)."""
