"""What a ServiceAccount may do, as settings: the hub's (`mcpServer.rbac`) and each fleet member's.

Both are a `RbacGrant`, the one interface `components/rbac.py` builds ClusterRoles and bindings from.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import Field

from .base import Settings
from .fields import DnsLabel

# Grants that let whoever holds them take over the cluster: grant themselves any
# role, act as anyone, run commands in any pod, mint tokens, reach kubelets.
ESCALATING_VERBS = ("escalate", "bind", "impersonate", "*")
ESCALATING_RESOURCES = ("pods/exec", "pods/attach", "pods/portforward", "nodes/proxy", "serviceaccounts/token",
                        "certificatesigningrequests/approval", "*")
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection", "*")
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "default")
Preset = Literal["full", "read-only", "view", "custom"]
Scope = Literal["cluster", "namespaces"]


def system_namespace(name: str) -> bool:
    return name in SYSTEM_NAMESPACES or name.startswith(("openshift-", "kube-"))


class PolicyRule(Settings):
    """A Kubernetes PolicyRule, as a ClusterRole holds it."""

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


class RbacGrant(Settings):
    """A preset and a scope: what the RBAC builders read, for the hub and for fleet members alike."""

    preset: Preset = "read-only"
    scope: Scope = "cluster"
    namespaces: list[DnsLabel] = []

    @property
    def custom_rules(self) -> list[PolicyRule]:
        """The rules of preset: custom (fleet members have none)."""
        return []

    @property
    def cluster_admin_equivalent(self) -> bool:
        """Opted in and actually granting what the opt-in allows (marks the objects for the policy pack)."""
        return False

    @property
    def read_only(self) -> bool:
        return self.preset in ("read-only", "view")


class RbacSettings(RbacGrant):
    """What the MCP server's ServiceAccount may do in its own cluster (`mcpServer.rbac`)."""

    preset: Preset = "read-only"
    """What the ServiceAccount may do: `full` (CRUD on pods, services, configmaps, secrets, deployments, jobs,
    cronjobs plus the reads the tools need), `read-only` (the same with get/list/watch, no secrets; the
    server runs `--read-only`), `view` (the built-in `view` ClusterRole; `--read-only`), `custom` (`rules`
    as given). With passthrough it only picks the tool surface."""
    scope: Scope = "cluster"
    """`cluster`: a ClusterRole and binding; `namespaces`: the rules in one ClusterRole, bound by a RoleBinding
    in each listed namespace (so they apply only there), plus cluster-wide listing of namespaces (projects on
    OpenShift)."""
    namespaces: list[DnsLabel] = []
    """The namespaces granted, with scope: namespaces."""
    rules: list[PolicyRule] = []
    """With preset: custom, Kubernetes PolicyRules (apiGroups, resources, verbs, resourceNames; or
    nonResourceURLs and verbs)."""
    allow_cluster_admin_equivalent: bool = False
    """Opt-in for rules that amount to cluster-admin (escalate, bind, impersonate, `*`, pods/exec, nodes/proxy,
    serviceaccounts/token, ...) and for writes in system namespaces; the policy pack refuses them otherwise."""

    create_namespaces: bool = False
    """With scope: namespaces, create the listed namespaces (kept on destroy, like the stack's own); false: they
    must exist before `up`."""
    allow_cluster_wide_write: bool = False
    """Opt-in for write rights in every namespace (preset: full, or custom rules with write verbs, at scope:
    cluster, without passthrough): the agent could then change kube-system and openshift-* too. Prefer
    scope: namespaces."""

    @property
    def custom_rules(self) -> list[PolicyRule]:
        return list(self.rules)

    @property
    def writes(self) -> bool:
        """The grant lets the ServiceAccount change objects (preset full, or a custom rule with a write verb)."""
        return self.preset == "full" or any(set(p.verbs) & set(WRITE_VERBS) for p in self.rules)

    @property
    def cluster_admin_equivalent(self) -> bool:
        return self.allow_cluster_admin_equivalent and (
            any(r.escalation() for r in self.rules)
            or (self.scope == "namespaces" and any(system_namespace(n) for n in self.namespaces)))


class MemberRbac(RbacGrant):
    """What the hub's MCP server may do on a member cluster (its ServiceAccount there)."""

    preset: Preset = "read-only"
    """`full`, `read-only` or `view`, as for mcpServer.rbac.preset. `custom` is not offered for members: a
    member's rights are one of the reviewed presets."""
    scope: Scope = "cluster"
    """`cluster`, or `namespaces` (the rules in one ClusterRole, bound by a RoleBinding in each listed namespace,
    plus listing namespaces)."""
    namespaces: list[DnsLabel] = []
    """The member's namespaces granted, with scope: namespaces."""
