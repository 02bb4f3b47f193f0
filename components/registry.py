"""Registers manifests as typed Pulumi Kubernetes resources.

Components build plain manifests (pure, testable without Pulumi); this is the
one place that turns them into resources, so every object gets the same
naming and options.
"""

from __future__ import annotations

import functools
import importlib.metadata
import re
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from .meta import Manifest

_TYPED: dict[tuple[str, str], Any] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): k8s.autoscaling.v2.HorizontalPodAutoscaler,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("networking.k8s.io/v1", "Ingress"): k8s.networking.v1.Ingress,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): k8s.rbac.v1.ClusterRole,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): k8s.rbac.v1.ClusterRoleBinding,
    ("rbac.authorization.k8s.io/v1", "Role"): k8s.rbac.v1.Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
}

Key = tuple[str, Optional[str], str]


def key(manifest: Manifest) -> Key:
    m = manifest["metadata"]
    return manifest["kind"], m.get("namespace"), m["name"]


def logical_name(manifest: Manifest) -> str:
    kind, namespace, name = key(manifest)
    return f"{kind.lower()}:{namespace}/{name}" if namespace else f"{kind.lower()}:{name}"


class KubernetesObject(pulumi.CustomResource):
    """Any Kubernetes kind, fields as written (OpenShift and Prometheus Operator kinds).

    `apiextensions.CustomResource` takes only `spec`; a SecurityContextConstraints
    has its fields at the top level, so this passes the whole object through.
    """

    def __init__(self, resource_name: str, manifest: Manifest, opts: pulumi.ResourceOptions) -> None:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(version=_k8s_version()))
        super().__init__(f"kubernetes:{manifest['apiVersion']}:{manifest['kind']}", resource_name,
                         {"spec": None, **manifest}, opts)


@functools.lru_cache(maxsize=None)
def _k8s_version() -> str:
    """The provider version the typed classes ask for: the installed SDK's own (4.25.0)."""
    return importlib.metadata.version("pulumi_kubernetes")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def register(manifest: Manifest, opts: pulumi.ResourceOptions, cluster: str = "") -> pulumi.CustomResource:
    """`cluster` (a fleet member's name) prefixes the logical name: a URN carries no parent's
    name, so the same object on two members needs two names."""
    name = f"{cluster}:{logical_name(manifest)}" if cluster else logical_name(manifest)
    cls = _TYPED.get((manifest["apiVersion"], manifest["kind"]))
    if cls is None:
        return KubernetesObject(name, manifest, opts)
    # Typed classes take snake_case arguments; nested dicts keep Kubernetes' camelCase.
    body = {_snake(k): v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
    return cls(name, opts=opts, **body)


def register_all(manifests: list[Manifest], opts: pulumi.ResourceOptions,
                 cluster: str = "") -> dict[Key, pulumi.CustomResource]:
    created: dict[Key, pulumi.CustomResource] = {}
    for manifest in manifests:
        k = key(manifest)
        if k in created:  # Pulumi's mocks do not catch duplicate URNs; we do, always
            raise ValueError(f"two objects named {k}")
        created[k] = register(manifest, opts, cluster)
    return created


def public_url(route: Any, ingress: Any, path: str = "") -> Optional[pulumi.Output[str]]:
    """https URL of a Route (host as admitted, possibly generated) or an Ingress."""
    if route is not None:
        return route.spec.apply(lambda spec: f"https://{(spec or {}).get('host') or '<generated>'}{path}")
    if ingress is not None:
        return ingress.spec.apply(lambda spec: f"https://{spec.rules[0].host}{path}")
    return None
