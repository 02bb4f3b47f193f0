"""Stack settings: the one place where configuration is typed, defaulted and validated.

Everything a stack file may say is declared here. `load_settings` turns the raw
stack configuration into a frozen `StackSettings` or raises `SettingsError`
listing every problem at once, each naming the key path as written in the
stack file (`mcpServer.autoscaling.maxReplicas`), the bad value and what is
allowed. Nothing here imports Pulumi: it is tested and reused without it.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Annotated, Any, Literal, Optional

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from .kubeconfig import FleetSources, KubeconfigError
from .meta import LLAMA_STACK, MCP_SERVER
from .quantity import parse_quantity

PROJECT = "llamastack-mcp"

# Top-level stack keys (`llamastack-mcp:<key>`). Secrets are read separately
# and never enter the settings objects: only whether they are set does.
SECRET_KEYS = ("inferenceApiKey", "postgresPassword", "fleetKubeconfigs")
SECRET_DESCRIPTIONS = {
    "inferenceApiKey": "The model endpoint's API key (`pulumi config set --secret inferenceApiKey ...`); reaches the "
                       "server only through a Secret and `${env.INFERENCE_API_KEY}`. Required with provider: openai.",
    "postgresPassword": "The database password (`pulumi config set --secret postgresPassword ...`); required with "
                        "storage.backend: postgres.",
    "fleetKubeconfigs": "Fleet members' kubeconfigs, by member name, for members Pulumi does not reach through a "
                        "context of its own kubeconfig (`pulumi config set --secret --path fleetKubeconfigs.NAME "
                        "\"$(cat NAME.kubeconfig)\"`). Only Pulumi's provider for that member uses it; the hub "
                        "never sees it.",
}

# Every pattern is used with fullmatch and ASCII classes: `$` also matches before a
# trailing newline and `\d` matches non-ASCII digits, both of which the API server rejects.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_IPV4 = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}")
# registry/path[:tag][@sha256:digest]; tag and digest are checked separately.
_IMAGE = re.compile(
    r"(?P<name>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+|[a-z0-9]+(?:[._-][a-z0-9]+)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?"
)
_VERSION = re.compile(r"([0-9]+)\.([0-9]+)\.([0-9]+)")
_LABEL_KEY = re.compile(r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
INT32_MAX = 2147483647

MCP_TOOLSETS = ("config", "core", "helm", "kcp", "kiali", "kubevirt", "netobserv", "tekton")
# What each distribution's server versions this program can write a config for.
SUPPORTED_VERSIONS = {
    "llama-stack": ((0, 6, 0), (0, 8, 0)),  # 0.6.x: tool_groups dialect; 0.7.x: connectors
    "ogx": ((1, 0, 0), (2, 0, 0)),
}


# ---------------------------------------------------------------- field types

def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(str(p) for p in version)


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.fullmatch(value):
        raise PydanticCustomError(
            "dns_label", "must be a DNS-1123 label: at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit")
    return value


def _hostname(value: str) -> str:
    if value and (len(value) > 253 or not _DNS_SUBDOMAIN.fullmatch(value)
                  or any(len(part) > 63 for part in value.split("."))):
        raise PydanticCustomError("hostname", "must be empty or a DNS name such as mcp.apps.example.com "
                                              "(labels of at most 63 characters)")
    if _IPV4.fullmatch(value):
        raise PydanticCustomError("hostname", "must be a DNS name, not an IP address (an Ingress or Route "
                                              "host cannot be an IP address)")
    return value


def _dns_subdomain_name(value: str, optional: bool = False) -> str:
    if (value or not optional) and (len(value) > 253 or not _DNS_SUBDOMAIN.fullmatch(value)):
        raise PydanticCustomError("object_name", "must be {empty}a Kubernetes object name: lowercase letters, "
                                                 "digits, '-' and '.', starting and ending with a letter or digit",
                                  {"empty": "empty or " if optional else ""})
    return value


def _object_name(value: str) -> str:
    return _dns_subdomain_name(value, optional=True)


def _quantity(value: str) -> str:
    try:
        amount = parse_quantity(value)
    except ValueError:
        raise PydanticCustomError("quantity", "must be a Kubernetes quantity such as 500m, 1, 256Mi or 1Gi "
                                              "(suffixes n u m k M G T P E Ki Mi Gi Ti Pi Ei)") from None
    if amount <= 0:
        raise PydanticCustomError("quantity", "must be more than zero (a zero limit means no limit at all)")
    return value


def _memory(value: str) -> str:
    if parse_quantity(value) % 1:
        raise PydanticCustomError("quantity", "must be a whole number of bytes: use Mi or Gi (256Mi); "
                                              "'m' means thousandths of a byte")
    return value


def _image(value: str) -> str:
    if not _IMAGE.fullmatch(value):
        raise PydanticCustomError("image", "must be an image reference such as "
                                           "quay.io/org/name:v1.2.3 or quay.io/org/name@sha256:<digest>")
    return value


def _http_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
        raise PydanticCustomError("url", "must be an http:// or https:// URL")
    if "@" in value.split("/")[2]:
        raise PydanticCustomError("url_credentials", "must not hold credentials (user:password@): the URL is "
                                  "written in clear into the server's ConfigMap; put the key in the secret "
                                  "inferenceApiKey (pulumi config set --secret inferenceApiKey ...)")
    return value


def _is_label_key(key: str) -> bool:
    """An optional DNS prefix and '/', then a name of at most 63 characters (labels and annotations)."""
    return bool(_LABEL_KEY.fullmatch(key)) and len(key.split("/")[-1]) <= 63


def _label_map(value: dict[str, str]) -> dict[str, str]:
    for key, val in value.items():
        if not isinstance(val, str) or not _is_label_key(key) or not _LABEL_VALUE.fullmatch(val) \
                or len(val) > 63:
            raise PydanticCustomError("label", "{key}: {val!r} is not a valid Kubernetes label",
                                      {"key": key, "val": val})
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
Hostname = Annotated[str, AfterValidator(_hostname)]
ObjectName = Annotated[str, AfterValidator(_object_name)]  # a Secret, IngressClass or StorageClass
Quantity = Annotated[str, AfterValidator(_quantity)]
Memory = Annotated[str, AfterValidator(_quantity), AfterValidator(_memory)]
Image = Annotated[str, AfterValidator(_image)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
Labels = Annotated[dict[str, str], AfterValidator(_label_map)]
Count = Annotated[int, Field(ge=1, le=INT32_MAX)]


def image_tag(image: str) -> tuple[Optional[str], Optional[str]]:
    """(tag, digest) of an image reference; either may be None."""
    match = _IMAGE.fullmatch(image)
    return (match["tag"], match["digest"]) if match else (None, None)


class _Problems:
    """Cross-field problems found by one model, raised as one pydantic error.

    Each problem names its field relative to the model (or, with a leading
    '/', from the top of the stack config), so the report points at the key
    the user has to change.
    """

    def __init__(self, sibling: bool = False) -> None:
        # sibling: raised by a field validator, so paths are relative to the
        # model holding the field rather than to the field itself.
        self.items: list[dict[str, Any]] = []
        self.sibling = sibling

    def add(self, field: str, value: Any, message: str) -> None:
        self.items.append({"field": field, "value": value, "message": message})

    def raise_any(self) -> None:
        if self.items:
            raise PydanticCustomError("settings", "{count} problem(s)",
                                      {"count": len(self.items), "problems": self.items,
                                       "sibling": self.sibling})


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True,
                              frozen=True, strict=False,
                              # cross-field rules live on field validators; they must also see defaults
                              validate_default=True,
                              # the docstring under a field is its description (docs, schema)
                              use_attribute_docstrings=True)


# --------------------------------------------------------------- shared parts

class ResourceAmounts(Settings):
    cpu: Quantity
    """CPU as a Kubernetes quantity (500m, 1, 2)."""
    memory: Memory
    """Memory in whole bytes (256Mi, 1Gi)."""


class Resources(Settings):
    requests: ResourceAmounts = ResourceAmounts(cpu="100m", memory="128Mi")
    """What the scheduler reserves; may not exceed the limits."""
    limits: ResourceAmounts = ResourceAmounts(cpu="500m", memory="256Mi")
    """The most the container may use."""

    @field_validator("limits")
    @classmethod
    def _requests_within_limits(cls, limits: ResourceAmounts, info: ValidationInfo) -> ResourceAmounts:
        problems = _Problems(sibling=True)
        requests = info.data.get("requests")
        for kind in ("cpu", "memory") if requests else ():
            request, limit = getattr(requests, kind), getattr(limits, kind)
            if parse_quantity(request) > parse_quantity(limit):
                problems.add(f"requests.{kind}", request,
                             f"must not exceed limits.{kind} ({limit}); Kubernetes rejects a request above its limit")
        problems.raise_any()
        return limits


class Autoscaling(Settings):
    enabled: bool = False
    """A HorizontalPodAutoscaler (autoscaling/v2) on CPU; the Deployment then has no `replicas`."""
    min_replicas: Count = 2
    """The HPA's lower bound; two or more also get a PodDisruptionBudget."""
    max_replicas: Count = 5
    """The HPA's upper bound, at least minReplicas."""
    target_cpu_utilization_percentage: Annotated[int, Field(ge=1, le=100)] = Field(
        70, alias="targetCPUUtilizationPercentage")
    """Average CPU use (% of the request) the HPA aims for, 1-100."""

    @field_validator("max_replicas")
    @classmethod
    def _min_below_max(cls, max_replicas: int, info: ValidationInfo) -> int:
        problems = _Problems(sibling=True)
        min_replicas = info.data.get("min_replicas")
        if min_replicas is not None and min_replicas > max_replicas:
            problems.add("minReplicas", min_replicas,
                         f"must be less than or equal to maxReplicas ({max_replicas})")
        problems.raise_any()
        return max_replicas


# ------------------------------------------------------- scheduling controls
# Kubernetes' own field shapes (core/v1 Toleration, Affinity, TopologySpreadConstraint),
# checked as the API server checks them so a bad value fails before `pulumi up` starts.

def _label_key(value: str) -> str:
    if not _is_label_key(value):
        raise PydanticCustomError("label_key", "must be a label key such as topology.kubernetes.io/zone "
                                               "(an optional DNS prefix and '/', then at most 63 characters)")
    return value


def _label_value(value: str) -> str:
    if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
        raise PydanticCustomError("label_value", "must be a label value: at most 63 letters, digits, '-', '_' "
                                                 "and '.', starting and ending with a letter or digit")
    return value


LabelKey = Annotated[str, AfterValidator(_label_key)]
LabelValue = Annotated[str, AfterValidator(_label_value)]
Weight = Annotated[int, Field(ge=1, le=100)]


class LabelSelectorRequirement(Settings):
    key: LabelKey
    """The label the requirement looks at."""
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    """How the label's value is compared with `values`."""
    values: list[LabelValue] = []
    """At least one with In and NotIn; none with Exists and DoesNotExist."""

    @field_validator("values")
    @classmethod
    def _values_fit(cls, values: list[str], info: ValidationInfo) -> list[str]:
        _check_values(info.data.get("operator"), values)
        return values


def _check_values(operator: Optional[str], values: list[str]) -> None:
    if operator in ("In", "NotIn") and not values:
        raise PydanticCustomError("values", "operator {op} needs at least one value", {"op": operator})
    if operator in ("Exists", "DoesNotExist") and values:
        raise PydanticCustomError("values", "must be empty with operator {op}", {"op": operator})
    if operator in ("Gt", "Lt") and (len(values) != 1 or not re.fullmatch(r"-?[0-9]+", values[0])):
        raise PydanticCustomError("values", "operator {op} needs exactly one integer value", {"op": operator})


class LabelSelector(Settings):
    match_labels: Labels = {}
    """Labels the pods must carry, exactly."""
    match_expressions: list[LabelSelectorRequirement] = []
    """Further requirements, all of which must hold."""


class NodeSelectorRequirement(LabelSelectorRequirement):
    key: LabelKey
    """The node label the requirement looks at."""
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]  # type: ignore[assignment]
    """How the node label's value is compared with `values` (Gt and Lt compare integers)."""
    values: list[LabelValue] = []
    """At least one with In and NotIn; none with Exists and DoesNotExist; exactly one integer with Gt and Lt."""


class NodeSelectorTerm(Settings):
    match_expressions: Annotated[list[NodeSelectorRequirement], Field(min_length=1)]
    """Node label requirements, all of which must hold."""


class NodeSelector(Settings):
    node_selector_terms: Annotated[list[NodeSelectorTerm], Field(min_length=1)]
    """Terms of which at least one must hold."""


class PreferredSchedulingTerm(Settings):
    weight: Weight
    """1-100: how much the scheduler prefers nodes matching `preference`."""
    preference: NodeSelectorTerm
    """The node label requirements preferred."""


class NodeAffinity(Settings):
    required_during_scheduling_ignored_during_execution: Optional[NodeSelector] = None
    """Nodes the pods may only run on."""
    preferred_during_scheduling_ignored_during_execution: list[PreferredSchedulingTerm] = []
    """Nodes the pods prefer, weighted."""


class PodAffinityTerm(Settings):
    topology_key: LabelKey
    """The node label whose value defines "the same place" (kubernetes.io/hostname, topology.kubernetes.io/zone)."""
    label_selector: Optional[LabelSelector] = None
    """The pods this term is about."""
    namespaces: list[DnsLabel] = []
    """Where those pods are; empty: this namespace."""


class WeightedPodAffinityTerm(Settings):
    weight: Weight
    """1-100: how much the scheduler prefers this term."""
    pod_affinity_term: PodAffinityTerm
    """The pods to be near (affinity) or away from (anti-affinity)."""


class PodAffinity(Settings):
    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] = []
    """Terms that must hold for the pods to be scheduled."""
    preferred_during_scheduling_ignored_during_execution: list[WeightedPodAffinityTerm] = []
    """Terms the scheduler prefers, weighted."""


class Affinity(Settings):
    node_affinity: Optional[NodeAffinity] = None
    """Which nodes the pods run on, by node labels."""
    pod_affinity: Optional[PodAffinity] = None
    """Pods to run near."""
    pod_anti_affinity: Optional[PodAffinity] = None
    """Pods to run away from."""


class Toleration(Settings):
    key: Annotated[str, AfterValidator(lambda v: _label_key(v) if v else v)] = ""
    """The taint key tolerated; empty (with operator Exists) tolerates every taint."""
    operator: Literal["Exists", "Equal"] = "Equal"
    """Equal: the taint's value must be `value`; Exists: any value."""
    value: LabelValue = ""
    """The taint value, with operator Equal."""
    effect: Literal["", "NoSchedule", "PreferNoSchedule", "NoExecute"] = ""
    """The taint effect tolerated; empty: every effect."""
    toleration_seconds: Optional[Annotated[int, Field(ge=0)]] = None
    """With effect NoExecute: how long the pod stays on a node after the taint appears."""

    @field_validator("toleration_seconds")
    @classmethod
    def _consistent(cls, seconds: Optional[int], info: ValidationInfo) -> Optional[int]:
        problems = _Problems(sibling=True)
        key, operator, value = info.data.get("key"), info.data.get("operator"), info.data.get("value")
        if operator == "Exists" and value:
            problems.add("value", value, "must be empty with operator: Exists")
        if key == "" and operator == "Equal":
            problems.add("operator", operator, "an empty key needs operator: Exists (it tolerates every taint)")
        if seconds is not None and info.data.get("effect") != "NoExecute":
            problems.add("tolerationSeconds", seconds, "only applies with effect: NoExecute")
        problems.raise_any()
        return seconds


class TopologySpreadConstraint(Settings):
    max_skew: Count
    """How many more of this server's pods one domain may hold than the emptiest."""
    topology_key: LabelKey
    """The node label whose values are the domains (kubernetes.io/hostname, topology.kubernetes.io/zone)."""
    when_unsatisfiable: Literal["DoNotSchedule", "ScheduleAnyway"] = "ScheduleAnyway"
    """DoNotSchedule keeps a pod pending rather than skew more; ScheduleAnyway only prefers."""
    min_domains: Optional[Count] = None
    """With DoNotSchedule: how many domains count as the minimum."""

    @field_validator("min_domains")
    @classmethod
    def _with_do_not_schedule(cls, min_domains: Optional[int], info: ValidationInfo) -> Optional[int]:
        problems = _Problems(sibling=True)
        if min_domains is not None and info.data.get("when_unsatisfiable") != "DoNotSchedule":
            problems.add("minDomains", min_domains, "only applies with whenUnsatisfiable: DoNotSchedule")
        problems.raise_any()
        return min_domains


def _annotations(value: dict[str, str]) -> dict[str, str]:
    for key in value:
        if not _is_label_key(key):
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
    return _object_name(value)


class Workload(Settings):
    """What every deployed server has: an image, a size, a replica policy and where its pods run."""

    replicas: Count = 1
    """Replicas when not autoscaling."""
    resources: Resources = Resources()
    """Requests and limits of the server's container."""
    autoscaling: Autoscaling = Autoscaling()
    """Scale on CPU between minReplicas and maxReplicas instead of a fixed count."""
    rollout_timeout_seconds: Annotated[int, Field(ge=30, le=3600)] = 300
    """How long `pulumi up` waits for a rollout to become Available before it fails, naming the
    Deployment and its status (`pulumi.com/timeoutSeconds`; the provider's own default is 10 min)."""
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
    image_pull_secrets: list[Annotated[str, AfterValidator(_dns_subdomain_name)]] = []
    """Secrets (kubernetes.io/dockerconfigjson) for pulling the image from a private registry."""
    image_pull_policy: Literal["IfNotPresent", "Always", "Never"] = "IfNotPresent"
    """When the kubelet pulls the image."""

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


# ------------------------------------------------------------- the MCP server

# Grants that let whoever holds them take over the cluster: grant themselves any
# role, act as anyone, run commands in any pod, mint tokens, reach kubelets.
ESCALATING_VERBS = ("escalate", "bind", "impersonate", "*")
ESCALATING_RESOURCES = ("pods/exec", "pods/attach", "pods/portforward", "nodes/proxy", "serviceaccounts/token",
                        "certificatesigningrequests/approval", "*")
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection", "*")
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "default")


def system_namespace(name: str) -> bool:
    return name in SYSTEM_NAMESPACES or name.startswith(("openshift-", "kube-"))


class PolicyRule(Settings):
    api_groups: Optional[list[str]] = None
    """API groups of the resources; default `[""]` (the core group)."""
    resources: list[str] = []
    """Resources such as pods or pods/log; or use nonResourceURLs instead."""
    verbs: Annotated[list[str], Field(min_length=1)]
    """What the rule allows: get, list, watch, create, update, patch, delete, ..."""
    resource_names: list[str] = []
    """Only these objects, by name."""
    non_resource_urls: list[str] = Field([], alias="nonResourceURLs")
    """Non-resource paths such as /metrics (needs scope: cluster)."""

    @field_validator("non_resource_urls")
    @classmethod
    def _targets_one_kind(cls, urls: list[str], info: ValidationInfo) -> list[str]:
        problems = _Problems(sibling=True)
        resources = info.data.get("resources")
        if resources is not None and not resources and not urls:
            problems.add("resources", [], "a rule needs resources (or nonResourceURLs)")
        if resources and urls:
            problems.add("nonResourceURLs", urls, "a rule holds either resources or nonResourceURLs, not both "
                                                  "(the API server rejects the mix)")
        if urls and info.data.get("api_groups"):
            problems.add("apiGroups", info.data["api_groups"], "must be left out beside nonResourceURLs")
        if urls and info.data.get("resource_names"):
            problems.add("resourceNames", info.data["resource_names"], "must be left out beside nonResourceURLs")
        problems.raise_any()
        return urls

    def manifest(self) -> dict[str, Any]:
        """The rule as Kubernetes takes it: resource rules name their API groups (core by default)."""
        if self.non_resource_urls:
            return {"nonResourceURLs": list(self.non_resource_urls), "verbs": list(self.verbs)}
        rule: dict[str, Any] = {"apiGroups": list(self.api_groups if self.api_groups is not None else [""]),
                                "resources": list(self.resources), "verbs": list(self.verbs)}
        if self.resource_names:
            rule["resourceNames"] = list(self.resource_names)
        return rule

    def escalation(self) -> Optional[str]:
        """Why this rule amounts to cluster-admin, or None."""
        verbs = sorted(set(self.verbs) & set(ESCALATING_VERBS))
        if verbs:
            return f"verbs {verbs}"
        resources = sorted(set(self.resources) & set(ESCALATING_RESOURCES))
        if resources:
            return f"resources {resources}"
        if "*" in (self.api_groups or []):
            return "apiGroups ['*']"
        return None


def _scope_fits(scope: Optional[str], namespaces: list[str], problems: _Problems) -> None:
    if scope == "namespaces" and not namespaces:
        problems.add("namespaces", [], "must list at least one namespace with scope: namespaces")
    if scope == "cluster" and namespaces:
        problems.add("namespaces", namespaces, "is only used with scope: namespaces; set scope: namespaces "
                                               "or remove it")
    if len(set(namespaces)) != len(namespaces):
        problems.add("namespaces", namespaces, "lists a namespace twice")


class Rbac(Settings):
    preset: Literal["full", "read-only", "view", "custom"] = "read-only"
    """What the ServiceAccount may do: `full` (CRUD on pods, services, configmaps, secrets, deployments, jobs,
    cronjobs plus the reads the tools need), `read-only` (the same with get/list/watch, no secrets; the
    server runs `--read-only`), `view` (the built-in `view` ClusterRole; `--read-only`), `custom` (`rules`
    as given). With passthrough it only picks the tool surface."""
    scope: Literal["cluster", "namespaces"] = "cluster"
    """`cluster`: a ClusterRole and binding; `namespaces`: a Role and RoleBinding per listed namespace, plus
    cluster-wide listing of namespaces (projects on OpenShift)."""
    namespaces: list[DnsLabel] = []
    """The namespaces granted, with scope: namespaces."""
    rules: list[PolicyRule] = []
    """With preset: custom, Kubernetes PolicyRules (apiGroups, resources, verbs, resourceNames; or
    nonResourceURLs and verbs)."""
    allow_cluster_admin_equivalent: bool = False
    """Opt-in for rules that amount to cluster-admin (escalate, bind, impersonate, `*`, pods/exec, nodes/proxy,
    serviceaccounts/token, ...) and for writes in system namespaces; the policy pack refuses them otherwise."""

    @field_validator("allow_cluster_admin_equivalent")
    @classmethod
    def _consistent(cls, allowed: bool, info: ValidationInfo) -> bool:
        # A field validator on the last field: runs even when a sibling is invalid,
        # so every problem in this section is reported at once.
        problems = _Problems(sibling=True)
        preset, scope = info.data.get("preset"), info.data.get("scope")
        namespaces, rules = info.data.get("namespaces"), info.data.get("rules")
        if namespaces is not None:
            _scope_fits(scope, namespaces, problems)
        if rules is not None and preset is not None:
            if preset == "custom" and not rules:
                problems.add("rules", [], "must hold at least one PolicyRule with preset: custom")
            if preset != "custom" and rules:
                problems.add("rules", "[...]", f"is only used with preset: custom (preset is {preset})")
            if scope == "namespaces" and any(r.non_resource_urls for r in rules):
                problems.add("rules", "[...]", "nonResourceURLs need scope: cluster")
        if not allowed:
            opt_in = ("amounts to cluster-admin: an agent holding it can take over the cluster. "
                      "Set mcpServer.rbac.allowClusterAdminEquivalent: true if that is really meant")
            for i, rule in enumerate(rules or []):
                why = rule.escalation()
                if why:
                    problems.add(f"rules[{i}]", why, f"grants {why}, which {opt_in}")
            writes = preset == "full" or any(set(r.verbs) & set(WRITE_VERBS) for r in rules or [])
            for namespace in namespaces or []:
                if writes and scope == "namespaces" and system_namespace(namespace):
                    problems.add("namespaces", namespace, f"is a system namespace: writing in it {opt_in}")
        problems.raise_any()
        return allowed

    @property
    def read_only(self) -> bool:
        return self.preset in ("read-only", "view")

    @property
    def cluster_admin_equivalent(self) -> bool:
        """Opted in and actually granting what the opt-in allows (marks the objects for the policy pack)."""
        return self.allow_cluster_admin_equivalent and (
            any(r.escalation() for r in self.rules)
            or (self.scope == "namespaces" and any(system_namespace(n) for n in self.namespaces)))


class Exposure(Settings):
    """A Route (OpenShift) or Ingress (Kubernetes) in front of a Service."""

    enabled: bool = False
    """Expose the server: a Route on OpenShift, an Ingress on Kubernetes."""
    host: Hostname = ""
    """The public host name; required on Kubernetes, generated by OpenShift when empty."""
    ingress_class_name: ObjectName = ""
    """Kubernetes only: the Ingress class."""
    tls_secret_name: ObjectName = ""
    """Kubernetes only: the Ingress's TLS Secret (default `<name>-ingress-tls`)."""


class McpRoute(Exposure):
    allow_unauthenticated: bool = False
    """Expose the MCP server, which has no authentication of its own, without oauth: an explicit opt-in."""


class OAuth(Settings):
    enabled: bool = False
    """The server requires an OAuth/OIDC bearer token (`--require-oauth`)."""
    authorization_url: str = ""
    """The https:// URL of the OAuth/OIDC issuer (`--authorization-url`)."""
    audience: str = ""
    """The audience tokens must carry (`--oauth-audience`); empty: not checked."""

    @field_validator("audience")
    @classmethod
    def _complete(cls, audience: str, info: ValidationInfo) -> str:
        problems = _Problems(sibling=True)
        url = info.data.get("authorization_url")
        if info.data.get("enabled") and url is not None and not re.fullmatch(r"https://\S+", url):
            problems.add("authorizationUrl", url, "must be the https:// URL of the OAuth/OIDC issuer when "
                                                  "oauth.enabled")
        problems.raise_any()
        return audience


class Scc(Settings):
    create: bool = False
    """OpenShift only: a SecurityContextConstraints pinning the pods to `uid` (MustRunAs, no privilege
    escalation, drop ALL) and its `use` grant; off: restricted-v2 suffices."""
    uid: Annotated[int, Field(ge=1, le=INT32_MAX)] = 1001
    """The one UID the SCC allows (and the pods run as)."""


class McpTls(Settings):
    """The MCP server's own certificate, served when it forwards callers' tokens (passthrough)."""

    secret_name: ObjectName = ""
    """With passthrough: a kubernetes.io/tls Secret that also holds `ca.crt` (cert-manager writes all three);
    Llama Stack trusts that CA. Required on Kubernetes; on OpenShift leave it empty and the service CA issues
    a service-serving certificate."""


class McpServer(Workload):
    image: Image = "quay.io/containers/kubernetes_mcp_server:v0.0.67"
    """The server image (release-defining: promoted from dev to prod); pin a tag or a digest."""
    passthrough: bool = False
    """Every tool call runs with the caller's own token, forwarded by Llama Stack, so the API server
    authorizes the person asking; the ServiceAccount is granted nothing and rbac.preset only picks the
    tool surface. Needs llamaStack.auth; the server then serves TLS."""
    tls: McpTls = McpTls()
    rbac: Rbac = Rbac()
    toolsets: Annotated[list[Literal[MCP_TOOLSETS]], Field(min_length=1)] = ["core", "config"]  # type: ignore[valid-type]
    """Toolsets the server offers: config, core, helm, kcp, kiali, kubevirt, netobserv, tekton."""
    disable_destructive: bool = False
    """`--disable-destructive`: hide the tools that delete or update."""
    log_level: Annotated[int, Field(ge=0, le=9)] = 2
    """The server's log verbosity, 0-9."""
    oauth: OAuth = OAuth()
    route: McpRoute = McpRoute()
    scc: Scc = Scc()

    @field_validator("route")
    @classmethod
    def _not_open_to_the_internet(cls, route: McpRoute, info: ValidationInfo) -> McpRoute:
        problems = _Problems()
        oauth = info.data.get("oauth")
        if route.enabled and oauth is not None and not oauth.enabled and not route.allow_unauthenticated:
            problems.add("enabled", True,
                         "the MCP server has no authentication of its own: set mcpServer.oauth.enabled: true, "
                         "or route.allowUnauthenticated: true to expose it anyway")
        problems.raise_any()
        return route

    @field_validator("toolsets")
    @classmethod
    def _unique_toolsets(cls, toolsets: list[str]) -> list[str]:
        if len(set(toolsets)) != len(toolsets):
            raise PydanticCustomError("unique", "lists a toolset twice")
        return toolsets


# -------------------------------------------------------------- Llama Stack

class Inference(Settings):
    provider: Literal["vllm", "ollama", "openai"] = "vllm"
    """The model endpoint's kind: vllm, ollama or openai (any OpenAI-compatible endpoint)."""
    url: HttpUrl = "http://vllm.models.svc.cluster.local:8000/v1"
    """The endpoint's base URL (no credentials in it: use the secret inferenceApiKey)."""
    model: str = ""
    """Registered as the default LLM when set."""


class Postgres(Settings):
    host: Hostname = ""
    """The database host; required with backend: postgres."""
    port: Annotated[int, Field(ge=1, le=65535)] = 5432
    """The database port."""
    database: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")] = "llamastack"
    """The database name."""
    user: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")] = "llamastack"
    """The database user; its password is the secret postgresPassword."""


class Storage(Settings):
    backend: Literal["sqlite", "postgres"] = "sqlite"
    """sqlite (on a PVC, one replica) or postgres (any number of replicas)."""
    size: Quantity = "10Gi"
    """The SQLite volume's size."""
    storage_class_name: ObjectName = ""
    """The SQLite volume's StorageClass; empty: the cluster's default."""
    postgres: Postgres = Postgres()


class LlamaStackRoute(Exposure):
    enabled: bool = True
    """Expose the agent API: a Route on OpenShift, an Ingress on Kubernetes."""
    timeout_seconds: Annotated[int, Field(ge=1, le=86400)] = 300
    """How long the router waits for a (streamed) answer: haproxy.router.openshift.io/timeout, or nginx's proxy
    timeouts."""
    allow_unauthenticated: bool = False
    """Expose the agent API with auth.provider: none anyway: an explicit opt-in."""


_GROUP = re.compile(r"[A-Za-z0-9:._@/-]{1,253}")


class Oidc(Settings):
    issuer: str = ""
    """With provider: oidc, the https:// issuer tokens must come from."""
    audience: str = "llama-stack"
    """The audience tokens must carry."""
    jwks_url: str = ""
    """The https:// URL of the issuer's signing keys."""


class LlamaStackAuth(Settings):
    """Who may call Llama Stack: every request carries a bearer token the server checks."""

    provider: Literal["kubernetes", "oidc", "none"] = "kubernetes"
    """Who may call Llama Stack: `kubernetes` (the caller's cluster token, checked with the API server's
    SelfSubjectReview; the CA comes from the namespace's kube-root-ca.crt, no token is mounted), `oidc` (a
    JWT checked against jwksUrl), or `none`."""
    allowed_groups: list[str] = []
    """Only members of one of these groups (Kubernetes groups, or the token's groups claim); empty: any
    authenticated caller."""
    oidc: Oidc = Oidc()

    @field_validator("oidc")
    @classmethod
    def _complete(cls, oidc: Oidc, info: ValidationInfo) -> Oidc:
        problems = _Problems(sibling=True)
        provider, groups = info.data.get("provider"), info.data.get("allowed_groups")
        if provider == "oidc":
            for field, value in (("oidc.issuer", oidc.issuer), ("oidc.jwksUrl", oidc.jwks_url)):
                if not re.fullmatch(r"https://[^\s/]+(/\S*)?", value):
                    problems.add(field, value, "must be an https:// URL with provider: oidc")
        for i, group in enumerate(groups or []):
            if not _GROUP.fullmatch(group):
                problems.add(f"allowedGroups[{i}]", group, "must be a group name: letters, digits and : . _ @ / -")
        if provider == "none" and groups:
            problems.add("allowedGroups", groups, "needs a provider (kubernetes or oidc): with none nobody "
                                                  "has an identity to check")
        problems.raise_any()
        return oidc


class Tls(Settings):
    secret_name: ObjectName = ""
    """A TLS Secret the server serves from; OGX requires TLS (on OpenShift a service-serving certificate is
    used when this is empty)."""
    insecure: bool = False
    """OGX only: serve plain HTTP (`--insecure`) instead."""


class ExtraMcpServer(Settings):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
    """The connector id agents name (not `kubernetes`)."""
    url: HttpUrl
    """The MCP server's Streamable HTTP URL."""


MAIN_CONNECTOR_ID = "kubernetes"


class LlamaStack(Workload):
    distribution: Literal["llama-stack", "ogx"] = "llama-stack"
    """llama-stack or ogx (release-defining)."""
    version: str = "0.7.3"
    """llama-stack 0.6.x (tool_groups dialect) or 0.7.x (connectors); ogx 1.x (release-defining)."""
    image: str = ""
    """Default docker.io/llamastack/distribution-starter:<version>; required for ogx, whose image name is not
    fixed upstream (release-defining)."""
    inference: Inference = Inference()
    storage: Storage = Storage()
    auth: LlamaStackAuth = LlamaStackAuth()
    route: LlamaStackRoute = LlamaStackRoute()
    tls: Tls = Tls()
    extra_mcp_servers: list[ExtraMcpServer] = []
    """More MCP connectors: a list of {id, url}."""

    @field_validator("route")
    @classmethod
    def _not_open_to_the_internet(cls, route: LlamaStackRoute, info: ValidationInfo) -> LlamaStackRoute:
        problems = _Problems()
        auth = info.data.get("auth")
        if route.enabled and auth is not None and auth.provider == "none" and not route.allow_unauthenticated:
            problems.add("enabled", True, "exposes the agent API with llamaStack.auth.provider: none: whoever "
                                          "reaches the route runs agent turns with the MCP server's rights. Set "
                                          "auth.provider: kubernetes or oidc, or route.allowUnauthenticated: true "
                                          "to expose it anyway")
        problems.raise_any()
        return route

    @field_validator("version")
    @classmethod
    def _supported_version(cls, version: str, info: ValidationInfo) -> str:
        distribution = info.data.get("distribution")
        if distribution is None:
            return version
        low, high = SUPPORTED_VERSIONS[distribution]
        allowed = f"{_dotted(low)} <= version < {_dotted(high)}"
        match = _VERSION.fullmatch(version)
        if not match:
            raise PydanticCustomError("version", "must be a release version X.Y.Z ({allowed} for {distribution})",
                                      {"allowed": allowed, "distribution": distribution})
        if not low <= tuple(int(p) for p in match.groups()) < high:
            raise PydanticCustomError("version", "is not supported for distribution {distribution}; "
                                                 "supported: {allowed}",
                                      {"allowed": allowed, "distribution": distribution})
        return version

    @field_validator("image")
    @classmethod
    def _image_known(cls, image: str, info: ValidationInfo) -> str:
        if image:
            return _image(image)
        if info.data.get("distribution") == "ogx":
            raise PydanticCustomError("image", "is required with distribution: ogx (the OGX image is not "
                                               "published under a name this program can rely on); set the "
                                               "image you run")
        return image

    @field_validator("storage")
    @classmethod
    def _storage_fits(cls, storage: Storage, info: ValidationInfo) -> Storage:
        problems = _Problems(sibling=True)
        replicas, autoscaling = info.data.get("replicas", 1), info.data.get("autoscaling")
        if storage.backend == "sqlite" and (replicas > 1 or (autoscaling and autoscaling.enabled)):
            field, value = (("autoscaling.enabled", True) if autoscaling and autoscaling.enabled
                            else ("replicas", replicas))
            problems.add(field, value, "needs storage.backend: postgres: SQLite lives on a ReadWriteOnce "
                                       "volume that only one replica can use")
        if storage.backend == "postgres":
            if not storage.postgres.host:
                problems.add("storage.postgres.host", "", "is required with storage.backend: postgres")
            if "postgresPassword" not in (info.context or {}).get("secrets", set()):
                problems.add("/postgresPassword", None,
                             "is required with llamaStack.storage.backend: postgres; set it with "
                             "`pulumi config set --secret postgresPassword <password>`")
        problems.raise_any()
        return storage

    @field_validator("inference")
    @classmethod
    def _key_when_needed(cls, inference: Inference, info: ValidationInfo) -> Inference:
        problems = _Problems()
        if inference.provider == "openai" and "inferenceApiKey" not in (info.context or {}).get("secrets", set()):
            problems.add("/inferenceApiKey", None, "is required with llamaStack.inference.provider: openai; set "
                                                   "it with `pulumi config set --secret inferenceApiKey <key>`")
        problems.raise_any()
        return inference

    @field_validator("extra_mcp_servers")
    @classmethod
    def _unique_ids(cls, servers: list[ExtraMcpServer]) -> list[ExtraMcpServer]:
        ids = [s.id for s in servers]
        bad = sorted({i for i in ids if ids.count(i) > 1 or i == MAIN_CONNECTOR_ID})
        if bad:
            raise PydanticCustomError("unique", "ids must be unique and not '{main}' (the in-cluster MCP "
                                                "server's connector); repeated or reserved: {bad}",
                                      {"main": MAIN_CONNECTOR_ID, "bad": ", ".join(bad)})
        return servers

    @property
    def version_tuple(self) -> tuple[int, int, int]:
        return tuple(int(p) for p in self.version.split("."))  # type: ignore[return-value]

    @property
    def dialect(self) -> Literal["tool_groups", "connectors"]:
        """How the server's config registers MCP servers (see FACTS: 0.7 silently drops tool_groups)."""
        if self.distribution == "llama-stack" and self.version_tuple < (0, 7, 0):
            return "tool_groups"
        return "connectors"

    @property
    def image_ref(self) -> str:
        return self.image or f"docker.io/llamastack/distribution-starter:{self.version}"

    @property
    def serves_tls(self) -> bool:
        """Whether the server itself terminates TLS (OGX refuses plain HTTP unless --insecure)."""
        return bool(self.tls.secret_name) or (self.distribution == "ogx" and not self.tls.insecure)


# ---------------------------------------------------------------- the rest

class NamespaceSettings(Settings):
    name: DnsLabel = "llama-stack"
    """The namespace of everything namespaced (a DNS-1123 label)."""
    create: bool = True
    """false: use an existing namespace."""


class NetworkPolicy(Settings):
    enabled: bool = True
    """NetworkPolicies: the MCP server only from Llama Stack (and the router, Prometheus when used); Llama
    Stack from its namespace and the router."""
    ingress_namespace: DnsLabel = "ingress-nginx"
    """Plain Kubernetes: where the ingress controller runs (OpenShift's router is found by its policy-group
    label)."""
    monitoring_namespace: DnsLabel = "monitoring"
    """Plain Kubernetes: where Prometheus runs (OpenShift's monitoring is found by its policy-group label)."""
    allow_unauthenticated_mcp: bool = False
    """With enabled: false and no OAuth, every pod in the cluster can call the MCP server's tools: this opt-in
    accepts that."""


class Monitoring(Settings):
    service_monitor: bool = False
    """A ServiceMonitor scraping the MCP server's /metrics (needs the Prometheus Operator)."""
    prometheus_rule: bool = False
    """A PrometheusRule with MCPServerDown, MCPHighMemoryUsage, MCPToolErrorRate and LlamaStackDown; needs
    serviceMonitor."""
    memory_warning_ratio: Annotated[float, Field(gt=0, le=1)] = 0.8
    """MCPHighMemoryUsage fires above this share of the memory limit (0-1)."""
    tool_error_ratio: Annotated[float, Field(gt=0, le=1)] = 0.1
    """MCPToolErrorRate fires above this share of failed tool calls (0-1)."""
    labels: Labels = {}
    """Extra labels on the ServiceMonitor and PrometheusRule (for your Prometheus' selectors)."""

    @field_validator("labels")
    @classmethod
    def _rules_need_a_scrape(cls, labels: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        problems = _Problems(sibling=True)
        if info.data.get("prometheus_rule") and info.data.get("service_monitor") is False:
            problems.add("prometheusRule", True, "needs monitoring.serviceMonitor: true: without a scrape the "
                                                 "MCPServerDown alert fires forever")
        problems.raise_any()
        return labels


class HelmReleases(Settings):
    """The old Helm releases this stack takes over in place (`make adopt`)."""

    mcp_server: Annotated[str, AfterValidator(lambda v: _dns_label(v) if v else v)] = ""
    """The old MCP server release (e.g. kubernetes-mcp-server). Helm named the pods' instance label after it
    and a Deployment's selector never changes, so naming it keeps the Deployment updated in place. Keep it
    set after `make adopt`."""
    llama_stack: Annotated[str, AfterValidator(lambda v: _dns_label(v) if v else v)] = ""
    """The old Llama Stack release (e.g. llama-stack); as for mcpServer."""


class Migration(Settings):
    helm_releases: HelmReleases = HelmReleases()


# ---------------------------------------------------------------- the fleet

class MemberRbac(Settings):
    """What the hub's MCP server may do on a member cluster (its ServiceAccount there)."""

    preset: Literal["full", "read-only", "view", "custom"] = "read-only"
    """`full`, `read-only` or `view`, as for mcpServer.rbac.preset. `custom` is not offered for members: a
    member's rights are one of the reviewed presets."""
    scope: Literal["cluster", "namespaces"] = "cluster"
    """`cluster`, or `namespaces` (a Role and RoleBinding per listed namespace, plus listing namespaces)."""
    namespaces: list[DnsLabel] = []
    """The member's namespaces granted, with scope: namespaces."""

    @field_validator("namespaces")
    @classmethod
    def _consistent(cls, namespaces: list[str], info: ValidationInfo) -> list[str]:
        problems = _Problems(sibling=True)
        preset, scope = info.data.get("preset"), info.data.get("scope")
        if preset == "custom":
            problems.add("preset", "custom", "is not allowed for fleet members: use full, read-only or view")
        _scope_fits(scope, namespaces, problems)
        if preset == "full" and scope == "namespaces":
            for namespace in namespaces:
                if system_namespace(namespace):
                    problems.add("namespaces", namespace, "is a system namespace: writing in it amounts to "
                                                          "cluster-admin on the member; use read-only or view there")
        problems.raise_any()
        return namespaces


def _https_url(value: str) -> str:
    if value and not re.fullmatch(r"https://[^\s/@]+(/\S*)?", value):
        raise PydanticCustomError("url", "must be empty or an https:// URL without credentials "
                                         "(an API server such as https://api.staging.example.com:6443)")
    return value


class FleetMember(Settings):
    name: DnsLabel
    """The member's name: its context in the hub's kubeconfig, what the agent passes as a tool's `context`."""
    context: str = ""
    """How Pulumi reaches the member: a context of the kubeconfig Pulumi uses (`kubernetes:kubeconfig`,
    $KUBECONFIG or ~/.kube/config). With the secret `fleetKubeconfigs.<name>`, a context inside that kubeconfig
    (default: its current context)."""
    server: Annotated[str, AfterValidator(_https_url)] = ""
    """The API server URL the hub's MCP server uses (default: the one Pulumi reaches the member by). Set it when
    the hub reaches the member by another address; the CA is then the member's own (`ca.crt` of its token)."""
    platform: Optional[Literal["openshift", "kubernetes"]] = None
    """openshift or kubernetes (default: the stack's platform); OpenShift members also grant listing projects."""
    rbac: MemberRbac = MemberRbac()
    """The member's RBAC preset and scope: read-only by default; full only where the agent may change things."""
    token_generation: Count = 1
    """Raise it to rotate the member's token: `up` creates a new token Secret on the member, rolls the MCP pods
    onto it, then deletes the old Secret, which revokes the old token."""


class Fleet(Settings):
    hub_name: DnsLabel = "hub"
    """The hub's context name: the stack's own cluster, reached in-cluster with the MCP server's own
    ServiceAccount and mcpServer.rbac. It is the default context of every tool."""
    members: list[FleetMember] = []
    """Member clusters by name: each gets a ServiceAccount with its RBAC and a token, and becomes a context of
    the hub's MCP server (`--cluster-provider kubeconfig`)."""


def _fleet_problems(fleet: Any, sources: Optional[FleetSources]) -> list[str]:
    """Member names and how each member is reached: checked on the raw settings, so they are
    reported together with a member's own invalid fields (a model validator would not run then).
    Without `sources` (a caller that reads no kubeconfig, such as `make promote`) only names."""
    if not isinstance(fleet, dict) or not isinstance(fleet.get("members", []), list):
        return []
    hub = fleet.get("hubName", "hub")
    problems: list[str] = []
    seen: dict[str, int] = {}
    servers: dict[str, str] = {}
    for i, member in enumerate(fleet.get("members", [])):
        if not isinstance(member, dict) or not isinstance(member.get("name"), str):
            continue
        name, context, where = member["name"], str(member.get("context") or ""), f"fleet.members[{i}]"
        if name == hub:
            problems.append(f"{where}.name = {_show(name)}: is the hub's context name (fleet.hubName): the hub is "
                            "always a context; name the member otherwise")
        if name in seen:
            problems.append(f"{where}.name = {_show(name)}: names members[{seen[name]}] too: each member needs its "
                            "own name")
        seen.setdefault(name, i)
        if sources is None:
            continue
        at = f"{where}.context = {_show(context)}" if context else f"{where} = {_show(name)}"
        try:
            endpoint = sources.endpoint(name, context)
        except KubeconfigError as err:
            problems.append(f"{at}: {err}")
            continue
        server = str(member.get("server") or endpoint.server)
        if sources.hub_server and server == sources.hub_server:
            problems.append(f"{at}: reaches {server}, the hub's own cluster, which is already the context {hub!r}: "
                            "a member must be another cluster")
        elif server in servers:
            problems.append(f"{at}: reaches {server} like member {servers[server]!r}: each cluster is one member")
        servers.setdefault(server, name)
    if sources is None:
        return problems
    for name in sorted(set(sources.secret) - set(seen)):
        problems.append(f"fleetKubeconfigs.{name} (secret, not shown): names no fleet member (members: "
                        f"{', '.join(seen) or 'none'}): remove it (pulumi config rm --path fleetKubeconfigs.{name}) "
                        "or add the member")
    if sources.secret_error:
        problems.append(f"fleetKubeconfigs (secret, not shown): {sources.secret_error}")
    return problems


def _exposure_fits_platform(platform: Optional[str], namespace: Any, name: str, route: Exposure,
                            problems: _Problems) -> None:
    if platform == "kubernetes":
        if route.enabled and not route.host:
            problems.add("route.host", "", "is required on platform: kubernetes (an Ingress needs a host)")
        return
    for field, value in (("ingressClassName", route.ingress_class_name), ("tlsSecretName", route.tls_secret_name)):
        if value:
            problems.add(f"route.{field}", value, "applies to an Ingress (platform: kubernetes); OpenShift's "
                                                  "Route ignores it: remove it")
    if route.enabled and not route.host and namespace is not None:
        generated = f"{name}-{namespace.name}"
        if len(generated) > 63:
            problems.add("route.host", "", f"OpenShift would generate a host starting with {generated!r} "
                                           f"({len(generated)} characters; a DNS label holds 63): set route.host "
                                           "or use a shorter namespace")


def _passthrough_fits(platform: Optional[str], mcp: McpServer, stack: LlamaStack, problems: _Problems) -> None:
    if not mcp.passthrough:
        if mcp.tls.secret_name:
            problems.add("/mcpServer.tls.secretName", mcp.tls.secret_name,
                         "is only used with mcpServer.passthrough: true (the server serves TLS then): remove it")
        return
    if stack.auth.provider == "none":
        problems.add("/mcpServer.passthrough", True,
                     "forwards the caller's token, but llamaStack.auth.provider is none: nobody's identity is "
                     "checked in front of it. Set llamaStack.auth.provider: kubernetes (or oidc when the "
                     "cluster accepts your identity provider's tokens)")
    if mcp.route.enabled:
        problems.add("/mcpServer.route.enabled", True,
                     "with mcpServer.passthrough the MCP server is reachable only from Llama Stack: disable the "
                     "route (clients reach tools through Llama Stack)")
    if platform == "kubernetes" and not mcp.tls.secret_name:
        problems.add("/mcpServer.tls.secretName", "",
                     "is required with mcpServer.passthrough on platform: kubernetes: name a kubernetes.io/tls "
                     "Secret holding tls.crt, tls.key and ca.crt (cert-manager writes all three), so tokens "
                     "never cross the network in clear")
    if mcp.rbac.preset == "custom":
        problems.add("/mcpServer.rbac.preset", "custom",
                     "grants nothing with mcpServer.passthrough (each call runs with the caller's own RBAC): "
                     "use full, read-only or view to choose the tool surface")
    if mcp.rbac.scope == "namespaces":
        problems.add("/mcpServer.rbac.scope", "namespaces",
                     "grants nothing with mcpServer.passthrough (each call runs with the caller's own RBAC): "
                     "remove scope and namespaces")


class StackSettings(Settings):
    platform: Literal["openshift", "kubernetes"] = "openshift"
    """openshift (Routes, SCC, service-serving certificates) or kubernetes (Ingress)."""
    namespace: NamespaceSettings = NamespaceSettings()
    """Where everything namespaced goes: name and create."""
    mcp_server: McpServer = McpServer()
    """The Kubernetes MCP server: image, replicas, resources, autoscaling, rbac, passthrough, tls, toolsets,
    route, oauth, scc, scheduling."""
    llama_stack: LlamaStack = LlamaStack()
    """Llama Stack or OGX: distribution, version, image, inference, storage, auth, route, tls, extra MCP
    servers, scheduling."""
    network_policy: NetworkPolicy = NetworkPolicy()
    """NetworkPolicies and the namespaces they let in."""
    monitoring: Monitoring = Monitoring()
    """ServiceMonitor and PrometheusRule (Prometheus Operator), alert thresholds and labels."""
    migration: Migration = Migration()
    """Taking over the old Helm releases in place (`make adopt`)."""
    fleet: Fleet = Fleet()
    """Member clusters the one MCP server reaches besides its own: per member how Pulumi reaches it, its RBAC
    preset and scope, token rotation."""

    @field_validator("mcp_server")
    @classmethod
    def _mcp_fits_platform(cls, mcp: McpServer, info: ValidationInfo) -> McpServer:
        problems = _Problems()
        platform = info.data.get("platform")
        _exposure_fits_platform(platform, info.data.get("namespace"), MCP_SERVER, mcp.route, problems)
        if platform == "kubernetes" and mcp.scc.create:
            problems.add("scc.create", True, "SecurityContextConstraints exist only on platform: openshift")
        problems.raise_any()
        return mcp

    @field_validator("llama_stack")
    @classmethod
    def _llama_stack_fits_platform(cls, stack: LlamaStack, info: ValidationInfo) -> LlamaStack:
        problems = _Problems()
        platform = info.data.get("platform")
        _exposure_fits_platform(platform, info.data.get("namespace"), LLAMA_STACK, stack.route, problems)
        if stack.distribution == "ogx":
            if platform == "kubernetes" and not stack.tls.secret_name and not stack.tls.insecure:
                problems.add("tls.secretName", "", "OGX serves only TLS: on platform: kubernetes name a TLS "
                                                   "Secret (tls.secretName), or set tls.insecure: true")
            if stack.tls.secret_name and stack.tls.insecure:
                problems.add("tls.insecure", True, "contradicts tls.secretName: serve TLS from the Secret, or "
                                                   "plain HTTP, not both")
        elif stack.tls.insecure:
            problems.add("tls.insecure", True, "only applies to distribution: ogx (llama-stack serves plain "
                                               "HTTP unless tls.secretName is set): remove it")
        mcp = info.data.get("mcp_server")
        if mcp is not None:
            _passthrough_fits(platform, mcp, stack, problems)
        problems.raise_any()
        return stack

    @field_validator("network_policy")
    @classmethod
    def _mcp_not_open_in_cluster(cls, np: NetworkPolicy, info: ValidationInfo) -> NetworkPolicy:
        problems = _Problems()
        mcp = info.data.get("mcp_server")
        if (not np.enabled and mcp is not None and not (mcp.oauth.enabled or mcp.passthrough)
                and not np.allow_unauthenticated_mcp):
            problems.add("enabled", False, "leaves the MCP server, which has no authentication of its own, open "
                                           "to every pod in the cluster: set mcpServer.oauth.enabled: true, or "
                                           "networkPolicy.allowUnauthenticatedMcp: true to accept that")
        problems.raise_any()
        return np


    @field_validator("fleet")
    @classmethod
    def _fleet_fits(cls, fleet: Fleet, info: ValidationInfo) -> Fleet:
        problems = _Problems()
        mcp = info.data.get("mcp_server")
        if fleet.members and mcp is not None:
            if mcp.passthrough:
                problems.add("members", "[...]", "cannot be used with mcpServer.passthrough: the caller's token is "
                                                 "only valid on the hub's API server, members would receive a "
                                                 "token they do not trust. Turn passthrough off for a fleet hub")
            if "config" not in mcp.toolsets:
                problems.add("/mcpServer.toolsets", mcp.toolsets, "must include config with fleet members: without "
                                                                  "configuration_contexts_list the agent cannot "
                                                                  "learn the fleet's cluster names")
        problems.raise_any()
        return fleet


TOP_LEVEL_KEYS = tuple(StackSettings.model_fields[f].alias for f in StackSettings.model_fields)


# ---------------------------------------------------------------- loading

class SettingsError(Exception):
    """Invalid stack settings; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(self.report())

    def report(self) -> str:
        lines = "\n".join(f"  - {p}" for p in self.problems)
        return f"invalid stack settings ({len(self.problems)} problem(s)):\n{lines}"


def parse_value(text: Optional[str]) -> Any:
    """A config value as the stack file wrote it: structured values arrive as JSON text."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def load_settings(raw: dict[str, Any], secrets: frozenset[str] | set[str] = frozenset(), *,
                  held_as_secret: frozenset[str] | set[str] = frozenset(),
                  plain_secrets: frozenset[str] | set[str] = frozenset(),
                  empty_secrets: frozenset[str] | set[str] = frozenset(),
                  fleet: Optional[FleetSources] = None) -> StackSettings:
    """Validate raw stack config (top-level key -> parsed value) into StackSettings.

    `secrets` names the secret keys that are set; their values stay out of here.
    What is wrong with how config is held is reported with the rest, values never shown:
    `held_as_secret`, settings keys Pulumi holds as secret (their values would be written
    in clear); `plain_secrets`, secret keys written in clear in the stack file;
    `empty_secrets`, secret keys set to "". `fleet`: the kubeconfigs Pulumi reaches members by
    (endpoints only), for checking each member is reachable.
    """
    problems: list[str] = []
    known = set(TOP_LEVEL_KEYS) | set(SECRET_KEYS)
    for key in sorted(set(raw) - known):
        problems.append(f"{key}: unknown setting{_did_you_mean(key, known)}")
    for key in sorted(set(held_as_secret) & set(TOP_LEVEL_KEYS)):
        problems.append(f"{key}: is held as a secret (pulumi config set --secret [--path]), but it is not a secret "
                        f"setting: its values are written in clear into ConfigMaps and Deployments. Only "
                        f"{', '.join(SECRET_KEYS[:-1])} and {SECRET_KEYS[-1]} may be secret: put credentials there (value not shown)")
    for key in sorted(set(plain_secrets) & set(SECRET_KEYS)):
        problems.append(f"{key}: is in the stack file in clear text (value not shown): remove it and set it with "
                        f"`pulumi config set --secret {key} <value>`")
    for key in sorted(set(empty_secrets) & set(SECRET_KEYS)):
        problems.append(f"{key}: is empty: set a value with `pulumi config set --secret {key} <value>`")
    data = {k: v for k, v in raw.items() if k in TOP_LEVEL_KEYS and v is not None and k not in held_as_secret}
    problems.extend(_env_references(data))
    problems.extend(_fleet_problems(data.get("fleet"), fleet))
    try:
        settings = StackSettings.model_validate(data, context={"secrets": set(secrets), "fleet": fleet})
    except ValidationError as err:
        problems.extend(_describe(e) for e in _expand(err.errors(include_url=False)))
        settings = None
    if problems:
        raise SettingsError(problems)
    return settings  # type: ignore[return-value]


def _env_references(data: Any, path: str = "") -> list[str]:
    """Llama Stack expands `${env.NAME}` anywhere in its config: a setting holding one
    could read the server's secrets (the database password, the API key) into a URL or a
    model name. Only the program writes such references."""
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in _env_references(v, f"{path}.{k}" if path else str(k))]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in _env_references(v, f"{path}[{i}]")]
    if isinstance(data, str) and "${" in data:
        return [f"{path} = {_show(data)}: must not contain '${{': the server expands ${{env.…}} references, "
                "so a setting could read the secrets it holds"]
    return []


def required_secrets(settings: StackSettings) -> set[str]:
    return {"postgresPassword"} if settings.llama_stack.storage.backend == "postgres" else set()


def _expand(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Split our cross-field errors into one entry per problem, with full paths."""
    out = []
    for error in errors:
        if error["type"] != "settings":
            out.append(error)
            continue
        for item in error["ctx"]["problems"]:
            field = item["field"]
            base = tuple(error["loc"])[:-1] if error["ctx"].get("sibling") else tuple(error["loc"])
            loc = tuple(field[1:].split(".")) if field.startswith("/") else base + tuple(field.split("."))
            out.append({"type": "settings", "loc": loc, "input": item["value"], "msg": item["message"],
                        "unset": item["value"] is None})
    return out


def _path(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _describe(error: dict[str, Any]) -> str:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-after")))
    path = _path(loc)
    if error["type"] == "extra_forbidden":
        return f"{path}: unknown setting{_did_you_mean(str(loc[-1]), _siblings(loc))}"
    if error.get("unset"):
        return f"{path}: {error['msg']}"
    message = error["msg"]
    shown = error["input"]
    if error["type"] == "url_credentials" and isinstance(shown, str):
        shown = re.sub(r"//[^/@]*@", "//***@", shown)  # never echo the credentials
    if error["type"] == "literal_error":
        message = "must be " + message.removeprefix("Input should be ")
    elif message.startswith("Input should be"):
        message = "must be" + message.removeprefix("Input should be")
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    return f"{path} = {_show(shown)}: {message}"


def _show(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _did_you_mean(key: str, candidates: set[str]) -> str:
    close = difflib.get_close_matches(key, sorted(candidates), n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f"; allowed: {', '.join(sorted(candidates))}" if candidates else ""


def _siblings(loc: tuple) -> set[str]:
    """The keys allowed beside loc[-1], found by walking the models along loc."""
    model: Any = StackSettings
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = next((f for f in model.model_fields.values() if f.alias == part), None)
        if field is None:
            return set()
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        model = next((a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return set()
    return {f.alias for f in model.model_fields.values() if f.alias}



def defaults() -> dict[str, Any]:
    """Each top-level key's default, as a stack file would write it (Pulumi.yaml mirrors these)."""
    dumped = StackSettings().model_dump(by_alias=True, mode="json", exclude_none=True)
    return {key: dumped[key] for key in TOP_LEVEL_KEYS}
