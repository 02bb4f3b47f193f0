"""ops/migrate/helm.py's decisions, offline: what it takes over, retires, refuses, and how it hands over fields."""

from __future__ import annotations

import json

import pytest

from components.settings import load_settings
from support import run_variant
from ops.migrate.helm import MANAGER, MigrationError, ownership_patch, plan

RELEASES = {"mcpServer": "kubernetes-mcp-server", "llamaStack": "llama-stack"}


def helm(kind: str, name: str, release: str, namespace: str | None = "llama-stack", **body) -> dict:
    meta = {"name": name, "annotations": {"meta.helm.sh/release-name": release,
                                          "meta.helm.sh/release-namespace": "llama-stack"}, "uid": f"uid-{name}"}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "v1", "kind": kind, "metadata": meta, **body}


def selector(instance: str) -> dict:
    return {"selector": {"matchLabels": {"app.kubernetes.io/name": "kubernetes-mcp-server",
                                         "app.kubernetes.io/instance": instance}}}


@pytest.fixture
def stack():
    run = run_variant("dev", migration={"helmReleases": RELEASES})
    assert run.error is None, run.error
    return load_settings({"migration": {"helmReleases": RELEASES}}), run.manifests()


def test_takes_over_what_the_stack_renders_and_retires_the_rest(stack):
    settings, rendered = stack
    live = [helm("Deployment", "kubernetes-mcp-server", "kubernetes-mcp-server",
                 spec=selector("kubernetes-mcp-server")),
            helm("ClusterRole", "kubernetes-mcp-server", "kubernetes-mcp-server", namespace=None),
            helm("Deployment", "postgres", "postgres")]
    adopted, retired = plan(settings, rendered, live)
    assert [o["metadata"]["name"] for o in adopted] == ["kubernetes-mcp-server"]
    assert [(o["kind"], o["metadata"]["name"]) for o in retired] == [("ClusterRole", "kubernetes-mcp-server")]


def test_refuses_a_deployment_whose_selector_would_change(stack):
    settings, rendered = stack
    live = [helm("Deployment", "kubernetes-mcp-server", "kubernetes-mcp-server", spec={"selector": {
        "matchLabels": {"app": "kubernetes-mcp-server"}}})]
    with pytest.raises(MigrationError, match="selects pods by .*a selector never changes"):
        plan(settings, rendered, live)


def test_needs_the_releases_named_and_lists_those_it_found():
    live = [helm("Deployment", "kubernetes-mcp-server", "old-mcp", spec=selector("old-mcp"))]
    with pytest.raises(MigrationError, match="releases in namespace llama-stack: old-mcp"):
        plan(load_settings({}), run_variant("dev").manifests(), live)


def test_hands_helms_fields_to_our_manager_without_the_replica_count_an_hpa_owns():
    fields = {"f:metadata": {"f:labels": {}}, "f:spec": {"f:replicas": {}, "f:template": {}}}
    obj = helm("Deployment", "kubernetes-mcp-server", "kubernetes-mcp-server")
    obj["metadata"]["managedFields"] = [
        {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status"},
        {"manager": "helm", "operation": "Update", "fieldsV1": fields}]
    patch = ownership_patch(obj, {"spec": {"template": {}}})  # rendered without replicas: autoscaled
    assert {"op": "test", "path": "/metadata/managedFields/1/manager", "value": "helm"} in patch
    assert {"op": "replace", "path": "/metadata/managedFields/1/manager", "value": MANAGER} in patch
    assert {"op": "replace", "path": "/metadata/managedFields/1/operation", "value": "Apply"} in patch
    handed = next(p["value"] for p in patch if p["path"].endswith("fieldsV1"))
    assert handed == {"f:metadata": {"f:labels": {}}, "f:spec": {"f:template": {}}}
    assert "f:replicas" in json.dumps(fields), "the object's own entry is not modified in place"
    kept = ownership_patch(obj, {"spec": {"replicas": 1}})
    assert "f:replicas" in json.dumps(next(p["value"] for p in kept if p["path"].endswith("fieldsV1")))
