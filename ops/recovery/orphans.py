"""Objects on the cluster that this stack made and its state does not record: what an update killed midway
leaves behind when checkpoints are skipped. They are found by the labels every object carries
(components/meta.py: part-of, managed-by, instance = the stack's namespace) and compared with
`pulumi stack export`."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from components.meta import KEEP_ON_DESTROY

# Every kind the program can create in the stack's own cluster, as kubectl names them (cluster-scoped last).
NAMESPACED = ("deployments", "services", "serviceaccounts", "configmaps", "secrets", "persistentvolumeclaims",
              # roles: what stacks rendered before RBAC moved to one ClusterRole bound per namespace
              "roles", "rolebindings", "horizontalpodautoscalers", "poddisruptionbudgets", "networkpolicies",
              "ingresses", "routes", "httproutes", "backendtlspolicies", "servicemonitors", "prometheusrules")
CLUSTER_SCOPED = ("clusterroles", "clusterrolebindings", "securitycontextconstraints")
PART_OF, MANAGED_BY = "app.kubernetes.io/part-of=llamastack-mcp", "app.kubernetes.io/managed-by=pulumi"
# What may hold user data: kept by destroy, so never an orphan to delete.
KEEP = KEEP_ON_DESTROY


@dataclass(frozen=True, order=True)
class Obj:
    kind: str
    namespace: str  # "" for cluster-scoped
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"

    def kubectl_args(self) -> list[str]:
        return [self.kind.lower(), self.name, *(["-n", self.namespace] if self.namespace else [])]


def _served(kubectl: Sequence[str]) -> set[str]:
    out = subprocess.run([*kubectl, "api-resources", "-o", "name"], capture_output=True, text=True, check=True).stdout
    return {line.split(".")[0] for line in out.split()}


def on_cluster(kubectl: Sequence[str], namespace: str) -> set[Obj]:
    """This stack's objects on the cluster: everything labelled with its instance, and its namespace; not
    what destroy keeps (labelled keep-on-destroy: user data)."""
    served = _served(kubectl)
    kinds = [k for k in (*NAMESPACED, *CLUSTER_SCOPED) if k in served]
    selector = f"{PART_OF},{MANAGED_BY},app.kubernetes.io/instance={namespace},!{KEEP}"
    out = subprocess.run([*kubectl, "get", ",".join(kinds), "-A", "-l", selector, "-o", "json"],
                         capture_output=True, text=True, check=True).stdout
    found = {Obj(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in json.loads(out)["items"]}
    ns = subprocess.run([*kubectl, "get", "namespace", namespace, "-o", "json", "--ignore-not-found"],
                        capture_output=True, text=True, check=True).stdout
    labels = (json.loads(ns)["metadata"].get("labels") or {}) if ns.strip() else {}
    if all(labels.get(k) == v for k, v in (PART_OF.split("="), MANAGED_BY.split("="))) and KEEP not in labels:
        found.add(Obj("Namespace", "", namespace))
    return found


def kept(kubectl: Sequence[str], namespaces: Sequence[str]) -> list[Obj]:
    """What a destroy left on purpose: those namespaces if created (and kept) by the stack, the kept claims in them."""
    found = []
    for namespace in namespaces:
        out = subprocess.run([*kubectl, "get", "namespace", namespace, "-o", "json", "--ignore-not-found"],
                             capture_output=True, text=True, check=True).stdout
        if out.strip() and KEEP in (json.loads(out)["metadata"].get("labels") or {}):
            found.append(Obj("Namespace", "", namespace))
        claims = subprocess.run([*kubectl, "get", "persistentvolumeclaims", "-n", namespace, "-l", f"{PART_OF},{KEEP}",
                                 "-o", "json"], capture_output=True, text=True, check=True).stdout
        found += [Obj("PersistentVolumeClaim", namespace, c["metadata"]["name"]) for c in json.loads(claims)["items"]]
    return found


def in_state(deployment: dict[str, Any]) -> set[Obj]:
    """The Kubernetes objects a `pulumi stack export` records (ids are `namespace/name` or `name`)."""
    found = set()
    for r in (deployment.get("deployment") or {}).get("resources") or []:
        typ, rid = r.get("type", ""), r.get("id", "")
        if not typ.startswith("kubernetes:") or typ.startswith("kubernetes:yaml") or not rid or not r.get("custom"):
            continue
        namespace, _, name = rid.rpartition("/")
        found.add(Obj(typ.rsplit(":", 1)[-1], namespace, name))
    return found


def orphans(live: set[Obj], recorded: set[Obj]) -> list[Obj]:
    """Live and unrecorded; the namespace last, so deleting in order empties it first."""
    return sorted(live - recorded, key=lambda o: (o.kind == "Namespace", o))


def delete(kubectl: Sequence[str], objects: list[Obj], on_deleted: Callable[[Obj], None] = lambda _: None) -> list[str]:
    """Delete each, in order, telling `on_deleted` of each; the failures, as messages."""
    failed = []
    for obj in objects:
        proc = subprocess.run([*kubectl, "delete", *obj.kubectl_args(), "--ignore-not-found", "--wait=true",
                               "--timeout=120s"], capture_output=True, text=True)
        if proc.returncode != 0:
            failed.append(f"{obj}: {proc.stderr.strip()[-300:]}")
        else:
            on_deleted(obj)
    return failed
