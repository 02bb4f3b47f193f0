"""Kubernetes' own field shapes, checked as the API server checks them: resources, autoscaling,
label selectors, affinity, tolerations, topology spread (core/v1, autoscaling/v2)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from .base import Settings
from .fields import Count, DnsLabel, LabelKey, LabelValue, Labels, Memory, Quantity, Weight, label_key


class ResourceAmounts(Settings):
    """CPU, memory and ephemeral storage, as a container's requests or limits hold them."""

    cpu: Quantity
    """CPU as a Kubernetes quantity (500m, 1, 2)."""
    memory: Memory
    """Memory in whole bytes (256Mi, 1Gi)."""
    ephemeral_storage: Optional[Memory] = None
    """Node disk in whole bytes (64Mi, 1Gi): the container's logs, its emptyDirs and writable layer. Past
    the limit the kubelet evicts the pod, before a runaway log or cache fills the node."""


class Resources(Settings):
    """A container's requests and limits (core/v1 ResourceRequirements)."""

    requests: ResourceAmounts = ResourceAmounts(cpu="100m", memory="128Mi", ephemeral_storage="64Mi")
    """What the scheduler reserves; may not exceed the limits."""
    limits: ResourceAmounts = ResourceAmounts(cpu="500m", memory="256Mi", ephemeral_storage="256Mi")
    """The most the container may use."""


class Autoscaling(Settings):
    """A HorizontalPodAutoscaler on CPU (autoscaling/v2)."""

    enabled: bool = False
    """A HorizontalPodAutoscaler (autoscaling/v2) on CPU; the Deployment then has no `replicas`."""
    min_replicas: Count = 2
    """The HPA's lower bound; two or more also get a PodDisruptionBudget."""
    max_replicas: Count = 5
    """The HPA's upper bound, at least minReplicas."""
    target_cpu_utilization_percentage: Annotated[int, Field(ge=1, le=100)] = Field(
        70, alias="targetCPUUtilizationPercentage")
    """Average CPU use (% of the request) the HPA aims for, 1-100."""
    target_memory_utilization_percentage: Optional[Annotated[int, Field(ge=1, le=100)]] = Field(
        None, alias="targetMemoryUtilizationPercentage")
    """Average memory use (% of the request) the HPA also aims for, 1-100; the HPA follows whichever of CPU and
    memory asks for more replicas. Unset: CPU only."""
    scale_down_stabilization_seconds: Optional[Annotated[int, Field(ge=0, le=3600)]] = None
    """How long, 0-3600 s, the HPA keeps the highest replica count it recommended before it scales down
    (behavior.scaleDown.stabilizationWindowSeconds): it rides out a lull in the load instead of removing
    pods it will need again. Unset: Kubernetes' default, 300 s."""


def _int_or_percent(value: Any) -> Any:
    if isinstance(value, int):
        if value < 0:
            raise PydanticCustomError("int_or_percent", "must be a count (0 or more) or a percentage such as 50%")
        return value
    if not re.fullmatch(r"(100|[1-9]?[0-9])%", value):
        raise PydanticCustomError("int_or_percent", "must be a count (0 or more) or a percentage such as 50%")
    return value


def _count_or_text(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise PydanticCustomError("int_or_percent", "must be a count (0 or more) or a percentage such as 50%")
    return value


# Kubernetes' IntOrString: Any for the package schema, which has no union of int and string.
IntOrPercent = Annotated[Any, BeforeValidator(_count_or_text), AfterValidator(_int_or_percent),
                         WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 0},
                                                   {"type": "string", "pattern": "^(100|[1-9]?[0-9])%$"}]})]


class DisruptionBudget(Settings):
    """The PodDisruptionBudget (policy/v1) made whenever two or more replicas are meant to run: how many pods a
    voluntary disruption (a node drain) must leave, or may take. One of the two; neither: minAvailable 1."""

    min_available: Optional[IntOrPercent] = None
    """Pods that must stay up during a drain: a count below the replicas, or a percentage (`50%`)."""
    max_unavailable: Optional[IntOrPercent] = None
    """Pods a drain may take down at once: a count of at least 1, or a percentage (`25%`); instead of
    minAvailable, it keeps pace with the HPA (with minAvailable 1 and 5 replicas, a drain may take 4)."""


class LabelSelectorRequirement(Settings):
    """One requirement on a label's value (meta/v1 LabelSelectorRequirement)."""

    key: LabelKey
    """The label the requirement looks at."""
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    """How the label's value is compared with `values`."""
    values: list[LabelValue] = []
    """At least one with In and NotIn; none with Exists and DoesNotExist."""


class LabelSelector(Settings):
    """Which pods a term is about (meta/v1 LabelSelector)."""

    match_labels: Labels = {}
    """Labels the pods must carry, exactly."""
    match_expressions: list[LabelSelectorRequirement] = []
    """Further requirements, all of which must hold."""


class NodeSelectorRequirement(Settings):
    """One requirement on a node label's value (core/v1 NodeSelectorRequirement)."""

    key: LabelKey
    """The node label the requirement looks at."""
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]
    """How the node label's value is compared with `values` (Gt and Lt compare integers)."""
    values: list[LabelValue] = []
    """At least one with In and NotIn; none with Exists and DoesNotExist; exactly one integer with Gt and Lt."""


class NodeSelectorTerm(Settings):
    """Node label requirements that must all hold (core/v1 NodeSelectorTerm)."""

    match_expressions: Annotated[list[NodeSelectorRequirement], Field(min_length=1)]
    """Node label requirements, all of which must hold."""


class NodeSelector(Settings):
    """Nodes the pods may only run on: terms of which one must hold (core/v1 NodeSelector)."""

    node_selector_terms: Annotated[list[NodeSelectorTerm], Field(min_length=1)]
    """Terms of which at least one must hold."""


class PreferredSchedulingTerm(Settings):
    """Nodes the pods prefer, with a weight (core/v1 PreferredSchedulingTerm)."""

    weight: Weight
    """1-100: how much the scheduler prefers nodes matching `preference`."""
    preference: NodeSelectorTerm
    """The node label requirements preferred."""


class NodeAffinity(Settings):
    """Which nodes the pods run on, by node labels (core/v1 NodeAffinity)."""

    required_during_scheduling_ignored_during_execution: Optional[NodeSelector] = None
    """Nodes the pods may only run on."""
    preferred_during_scheduling_ignored_during_execution: list[PreferredSchedulingTerm] = []
    """Nodes the pods prefer, weighted."""


class PodAffinityTerm(Settings):
    """Pods to run near or away from, within a topology domain (core/v1 PodAffinityTerm)."""

    topology_key: LabelKey
    """The node label whose value defines "the same place" (kubernetes.io/hostname, topology.kubernetes.io/zone)."""
    label_selector: Optional[LabelSelector] = None
    """The pods this term is about."""
    namespaces: list[DnsLabel] = []
    """Where those pods are; empty: this namespace."""


class WeightedPodAffinityTerm(Settings):
    """A preferred pod affinity term with its weight (core/v1 WeightedPodAffinityTerm)."""

    weight: Weight
    """1-100: how much the scheduler prefers this term."""
    pod_affinity_term: PodAffinityTerm
    """The pods to be near (affinity) or away from (anti-affinity)."""


class PodAffinity(Settings):
    """Pod affinity or anti-affinity terms, required and preferred (core/v1 PodAffinity)."""

    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] = []
    """Terms that must hold for the pods to be scheduled."""
    preferred_during_scheduling_ignored_during_execution: list[WeightedPodAffinityTerm] = []
    """Terms the scheduler prefers, weighted."""


class Affinity(Settings):
    """Node affinity, pod affinity and anti-affinity (core/v1 Affinity)."""

    node_affinity: Optional[NodeAffinity] = None
    """Which nodes the pods run on, by node labels."""
    pod_affinity: Optional[PodAffinity] = None
    """Pods to run near."""
    pod_anti_affinity: Optional[PodAffinity] = None
    """Pods to run away from."""


class Toleration(Settings):
    """A taint the pods tolerate (core/v1 Toleration)."""

    key: Annotated[str, AfterValidator(lambda v: label_key(v) if v else v)] = ""
    """The taint key tolerated; empty (with operator Exists) tolerates every taint."""
    operator: Literal["Exists", "Equal"] = "Equal"
    """Equal: the taint's value must be `value`; Exists: any value."""
    value: LabelValue = ""
    """The taint value, with operator Equal."""
    effect: Literal["", "NoSchedule", "PreferNoSchedule", "NoExecute"] = ""
    """The taint effect tolerated; empty: every effect."""
    toleration_seconds: Optional[Annotated[int, Field(ge=0)]] = None
    """With effect NoExecute: how long the pod stays on a node after the taint appears."""


class TopologySpreadConstraint(Settings):
    """How replicas spread over domains; the selector is always this server's pods (core/v1 TopologySpreadConstraint)."""

    max_skew: Count
    """How many more of this server's pods one domain may hold than the emptiest."""
    topology_key: LabelKey
    """The node label whose values are the domains (kubernetes.io/hostname, topology.kubernetes.io/zone)."""
    when_unsatisfiable: Literal["DoNotSchedule", "ScheduleAnyway"] = "ScheduleAnyway"
    """DoNotSchedule keeps a pod pending rather than skew more; ScheduleAnyway only prefers."""
    min_domains: Optional[Count] = None
    """With DoNotSchedule: how many domains count as the minimum."""


