"""What every deployed server has: an image, a size, a replica policy, where its pods run, and how it is
exposed (a Route, an Ingress or an HTTPRoute)."""

from __future__ import annotations

from typing import Annotated, Callable, Literal, Optional

from pydantic import AfterValidator, Field, field_validator
from pydantic_core import PydanticCustomError

from ..meta import DELETION_PROPAGATION, OWNERSHIP
from .base import Settings
from .fields import (Count, DeferredHostname, Labels, ObjectName, dns_label, dns_subdomain_name, is_label_key,
                     object_name)
from .extras import ExtraEnv, ExtraVolume
from .kubernetes import Affinity, Autoscaling, DisruptionBudget, Resources, Toleration, TopologySpreadConstraint


def _annotation_keys(owned: tuple[str, ...], advice: str) -> Callable[[dict[str, str]], dict[str, str]]:
    """A validator of annotation keys: each a valid key, none starting as one the program sets (`owned`)."""
    def check(value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not is_label_key(key):
                raise PydanticCustomError("annotation", "{key} is not a valid annotation key", {"key": key})
            if key.startswith(owned):
                raise PydanticCustomError("annotation", "{key} is set by the program" + advice, {"key": key})
        return value
    return check


# Set on the pods by the program: the config checksums, the SCC it asks for.
POD_ANNOTATION_PREFIXES = ("checksum/", "openshift.io/required-scc")
# Set on a Route, Ingress or HTTPRoute by the program (components/exposure.py; test_exposure.py keeps the two in
# step): Pulumi's ownership of every object and how it deletes them, the router's timeouts, the backend's scheme,
# the policy gate's marker.
ROUTE_ANNOTATION_PREFIXES = (*OWNERSHIP, DELETION_PROPAGATION, "haproxy.router.openshift.io/timeout",
                             "nginx.ingress.kubernetes.io/proxy-read-timeout",
                             "nginx.ingress.kubernetes.io/proxy-send-timeout", "nginx.ingress.kubernetes.io/backend-protocol",
                             "traefik.ingress.kubernetes.io/service.serversscheme", "llamastack-mcp.io/")
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
    pod_annotations: Annotated[dict[str, str], AfterValidator(_annotation_keys(POD_ANNOTATION_PREFIXES,
                                                                               ": choose another key"))] = {}
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


class GatewayParent(Settings):
    """The Gateway an HTTPRoute attaches to (`route.gateway`): its parentRef."""

    name: Annotated[str, AfterValidator(lambda v: v and object_name(v))] = ""
    """The Gateway's name; required with kind: HTTPRoute."""
    namespace: Annotated[str, AfterValidator(lambda v: v and dns_label(v))] = ""
    """The Gateway's namespace; empty: the stack's. A Gateway elsewhere must admit routes from the stack's
    namespace (its listener's `allowedRoutes.namespaces`)."""
    section_name: Annotated[str, AfterValidator(lambda v: v and dns_label(v))] = ""
    """The Gateway listener to attach to, by name (an HTTPS one: TLS is the listener's); empty: every listener
    that admits the route."""


IngressController = Literal["ingress-nginx", "traefik", "other"]


class Exposure(Settings):
    """A Route, an Ingress or a Gateway API HTTPRoute in front of a Service."""

    enabled: bool = False
    """Expose the server: by default a Route on OpenShift, an Ingress on Kubernetes (see kind)."""
    kind: Literal["", "Route", "Ingress", "HTTPRoute"] = ""
    """What exposes it: Route (OpenShift's router), Ingress, or HTTPRoute (Gateway API, attached to gateway); empty:
    the platform's own (Route on openshift, Ingress on kubernetes)."""
    host: DeferredHostname = ""
    """The public host name; required for an Ingress or HTTPRoute, generated by OpenShift for a Route when empty."""
    ingress_class_name: ObjectName = ""
    """Ingress only: the Ingress class."""
    tls_secret_name: ObjectName = ""
    """Ingress only: the Ingress's TLS Secret (default `<name>-ingress-tls`)."""
    ingress_controller: IngressController = "ingress-nginx"
    """Ingress only: which controller serves it, so its own annotations carry the agent API's timeout and its TLS to
    the server: ingress-nginx (`nginx.ingress.kubernetes.io/*`), traefik (`traefik.ingress.kubernetes.io/*`; it has
    no per-route timeout, and by default cuts no streamed answer: docs/operations.md), or other (nothing
    controller-specific: set the timeouts in annotations yourself). The MCP server's way in has no timeout or TLS
    of its own to carry."""
    gateway: GatewayParent = GatewayParent()
    """HTTPRoute only: the Gateway (name, namespace, sectionName) it attaches to; TLS is that listener's."""
    annotations: Annotated[dict[str, str], AfterValidator(_annotation_keys(
        ROUTE_ANNOTATION_PREFIXES, " (from timeoutSeconds, the backend's TLS or allowUnauthenticated): remove it"))] = {}
    """Extra annotations on the Route, Ingress or HTTPRoute (not a BackendTLSPolicy; e.g.
    `cert-manager.io/cluster-issuer`); not the ones the program sets."""

    def object_kind(self, platform: str) -> str:
        """The object that exposes the server on this platform (kind, or the platform's own)."""
        return self.kind or ("Route" if platform == "openshift" else "Ingress")
