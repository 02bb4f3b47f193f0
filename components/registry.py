"""Registers manifests as Pulumi Kubernetes resources.

Components build plain manifests (pure, testable without Pulumi); this is the
one place that turns them into resources, so every object gets the same
naming and options.

Every kind registers through one generic resource with its type token
(`kubernetes:apps/v1:Deployment`): the same URN, inputs and provider version
as pulumi_kubernetes' typed classes, without importing them. Their modules
cost about 0.25 s of every program start, and every `pulumi up` starts the
program twice (docs/performance.md).
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
from typing import Any, Mapping, Optional

import pulumi

from . import deferred
from .meta import KEEP_ON_DESTROY, Manifest

# What the typed Secret class does, kept: its values are secret inputs and secret outputs.
_SECRET_FIELDS = ("data", "stringData")

Key = tuple[str, Optional[str], str]


def key(manifest: Manifest) -> Key:
    m = manifest["metadata"]
    return manifest["kind"], m.get("namespace"), m["name"]


def logical_name(manifest: Manifest) -> str:
    kind, namespace, name = key(manifest)
    return f"{kind.lower()}:{namespace}/{name}" if namespace else f"{kind.lower()}:{name}"


def type_token(manifest: Manifest) -> str:
    """The provider's token for a kind: the core group is `core/v1` there (`v1` in the object), and a URN
    holds the token, so a different spelling would replace the object in existing stacks."""
    api_version = manifest["apiVersion"]
    return f"kubernetes:{'core/v1' if api_version == 'v1' else api_version}:{manifest['kind']}"


class KubernetesObject(pulumi.CustomResource):
    """Any Kubernetes kind, fields as written, each top-level field an output of the same name.

    The whole object passes through (a SecurityContextConstraints has its fields
    at the top level); `spec` (and a Secret's `data`) are outputs even when not
    given, as the typed classes declare them.
    """

    def __init__(self, resource_name: str, manifest: Manifest, opts: pulumi.ResourceOptions) -> None:
        # An arg given as an Output: its value goes where its stand-in is, once known (deferred.py).
        props: dict[str, Any] = deferred.resolved({"spec": None, **manifest})
        extra = pulumi.ResourceOptions(version=_k8s_version())
        if manifest["metadata"].get("labels", {}).get(KEEP_ON_DESTROY) == "true":
            # Kept by destroy and replacements; the provider (4.25, server-side apply) takes it over
            # again on the next create.
            extra.retain_on_delete = True
        if manifest["apiVersion"] == "v1" and manifest["kind"] == "Secret":
            props.pop("spec")
            props.setdefault("data", None)
            props.update({f: pulumi.Output.secret(manifest[f]) for f in _SECRET_FIELDS if manifest.get(f) is not None})
            extra.additional_secret_outputs = list(_SECRET_FIELDS)
        super().__init__(type_token(manifest), resource_name, props, pulumi.ResourceOptions.merge(opts, extra))


class KubernetesProvider(pulumi.ProviderResource):
    """An explicit Kubernetes provider (a fleet member's cluster), as pulumi_kubernetes' Provider registers it."""

    def __init__(self, resource_name: str, kubeconfig: Optional[pulumi.Input[str]], context: Optional[str],
                 opts: pulumi.ResourceOptions) -> None:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(version=_k8s_version()))
        # The typed Provider's defaults from the environment, as inputs: a provider whose inputs
        # changed would be replaced, and every object through it with it.
        props: dict[str, Any] = {"kubeconfig": kubeconfig if kubeconfig is not None else os.environ.get("KUBECONFIG"),
                                 "context": context}
        for prop, variable in _PROVIDER_FLAGS.items():
            value = _env_bool(variable)
            if value is not None:
                props[prop] = "true" if value else "false"  # the provider takes these as JSON
        super().__init__("kubernetes", resource_name, props, opts)


_PROVIDER_FLAGS = {
    "deleteUnreachable": "PULUMI_K8S_DELETE_UNREACHABLE",
    "enableConfigMapMutable": "PULUMI_K8S_ENABLE_CONFIGMAP_MUTABLE",
    "enableSecretMutable": "PULUMI_K8S_ENABLE_SECRET_MUTABLE",
    "enableServerSideApply": "PULUMI_K8S_ENABLE_SERVER_SIDE_APPLY",
    "skipUpdateUnreachable": "PULUMI_K8S_SKIP_UPDATE_UNREACHABLE",
    "suppressDeprecationWarnings": "PULUMI_K8S_SUPPRESS_DEPRECATION_WARNINGS",
    "suppressHelmHookWarnings": "PULUMI_K8S_SUPPRESS_HELM_HOOK_WARNINGS",
}


def _env_bool(variable: str) -> Optional[bool]:
    """Go's strconv.ParseBool, as the typed Provider reads these; anything else is unset."""
    value = os.environ.get(variable)
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


@functools.lru_cache(maxsize=None)
def _k8s_version() -> str:
    """The provider version the typed classes would ask for: the installed SDK's own (4.25.0)."""
    return importlib.metadata.version("pulumi_kubernetes")


def register(manifest: Manifest, opts: pulumi.ResourceOptions, cluster: str = "") -> pulumi.CustomResource:
    """`cluster` (a fleet member's name) prefixes the logical name: a URN carries no parent's
    name, so the same object on two members needs two names."""
    name = f"{cluster}:{logical_name(manifest)}" if cluster else logical_name(manifest)
    return KubernetesObject(name, manifest, opts)


def register_all(manifests: list[Manifest], opts: pulumi.ResourceOptions,
                 cluster: str = "") -> dict[Key, pulumi.CustomResource]:
    created: dict[Key, pulumi.CustomResource] = {}
    for manifest in manifests:
        k = key(manifest)
        if k in created:  # Pulumi's mocks do not catch duplicate URNs; we do, always
            raise ValueError(f"two objects named {k}")
        created[k] = register(manifest, opts, cluster)
    return created


def public_url(created: Mapping[tuple[str, Optional[str], str], Any], namespace: str, name: str,
               path: str = "") -> Optional[pulumi.Output[str]]:
    """https URL of the server's way in: a Route (host as admitted, possibly generated), an Ingress or an HTTPRoute."""
    if (route := created.get(("Route", namespace, name))) is not None:
        return route.spec.apply(lambda spec: f"https://{(spec or {}).get('host') or '<generated>'}{path}")
    if (ingress := created.get(("Ingress", namespace, name))) is not None:
        return ingress.spec.apply(lambda spec: f"https://{spec['rules'][0]['host']}{path}")
    if (http_route := created.get(("HTTPRoute", namespace, name))) is not None:
        return http_route.spec.apply(lambda spec: f"https://{spec['hostnames'][0]}{path}")
    return None
