"""RBAC: the ClusterRoles and bindings of a grant (preset and scope) for one ServiceAccount.

One builder for both grant kinds the settings hold (`RbacGrant`): the hub's own
(`mcpServer.rbac`, which may carry custom rules and the cluster-admin opt-in) and
each fleet member's (one of the reviewed presets).
"""

from __future__ import annotations

from typing import Any, Optional

from . import meta
from .meta import Manifest
from .settings import RbacGrant
from .workload import App

API = "rbac.authorization.k8s.io/v1"
CRUD = ["get", "list", "watch", "create", "update", "patch", "delete"]
READ = ["get", "list", "watch"]
# Marks RBAC objects that grant cluster-admin-equivalent rights by explicit opt-in
# (mcpServer.rbac.allowClusterAdminEquivalent); the policy pack refuses them otherwise.
ALLOW_CLUSTER_ADMIN_EQUIVALENT = "llamastack-mcp.io/allow-cluster-admin-equivalent"


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


def _rules(grant: RbacGrant) -> list[dict[str, Any]]:
    if grant.preset == "custom":
        return [r.manifest() for r in grant.custom_rules]
    full = grant.preset == "full"
    return _workload_rules(CRUD if full else READ, secrets=full) + _namespaced_reads()


def subject(account: App) -> dict[str, Any]:
    return {"kind": "ServiceAccount", "name": account.name, "namespace": account.namespace}


def role(account: App, kind: str, name: str, namespace: Optional[str], rules: list[dict[str, Any]],
         annotations: Optional[dict[str, str]] = None) -> Manifest:
    """A Role or ClusterRole labelled as `account`'s."""
    return meta.manifest(API, kind, meta.metadata(name, namespace, account.labels, annotations), rules=rules)


def binding(account: App, kind: str, name: str, namespace: Optional[str], role_kind: str, role_name: str,
            annotations: Optional[dict[str, str]] = None) -> Manifest:
    """A RoleBinding or ClusterRoleBinding of `role_name` to `account`'s ServiceAccount."""
    return meta.manifest(API, kind, meta.metadata(name, namespace, account.labels, annotations),
                         roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
                         subjects=[subject(account)])


def grants(account: App, grant: RbacGrant, platform: str) -> list[Manifest]:
    """The Roles, ClusterRoles and bindings of a preset and scope, for the ServiceAccount of `account`
    (the hub's own, or its counterpart on a fleet member)."""
    preset, scope = grant.preset, grant.scope
    cluster_name = meta.cluster_scoped_name(account.namespace, account.name)
    marker = {ALLOW_CLUSTER_ADMIN_EQUIVALENT: "true"} if grant.cluster_admin_equivalent else None
    out: list[Manifest] = []

    if scope == "cluster":
        if preset == "view":
            out.append(binding(account, "ClusterRoleBinding", cluster_name, None, "ClusterRole", "view", marker))
        else:
            rules = _rules(grant) + ([] if preset == "custom" else _cluster_reads(platform, True))
            out.append(role(account, "ClusterRole", cluster_name, None, rules, marker))
            out.append(binding(account, "ClusterRoleBinding", cluster_name, None, "ClusterRole", cluster_name,
                               marker))
        return out

    # Kubernetes' idiom for one grant in many namespaces: the rules once, in a ClusterRole that
    # only RoleBindings use (so it grants nothing outside them), bound in each namespace. Half the
    # objects of a Role per namespace, and a rule change is one update.
    rules_role = "view" if preset == "view" else f"{cluster_name}-namespaced"
    # Each binding is named after the role it binds: a binding's roleRef cannot change, so a stack that
    # had bound a Role per namespace gets new bindings (created before the old ones go, no gap).
    binding_name = account.name if preset == "view" else rules_role
    if preset != "view":
        out.append(role(account, "ClusterRole", rules_role, None, _rules(grant), marker))
    for namespace in grant.namespaces:
        out.append(binding(account, "RoleBinding", binding_name, namespace, "ClusterRole", rules_role, marker))
    if preset != "custom":
        # Listing namespaces is all the tools need beyond the granted namespaces.
        out.append(role(account, "ClusterRole", cluster_name, None, _cluster_reads(platform, False), marker))
        out.append(binding(account, "ClusterRoleBinding", cluster_name, None, "ClusterRole", cluster_name, marker))
    return out
