"""The local API server as the oracle: what it accepts and what it rejects.

Every variant of the validation matrix passes a server-side dry run, and the
API server rejects the objects our settings refuse up front (built here by
bypassing the settings), so the settings layer mirrors real limits.
"""

from __future__ import annotations

import json

import pytest

from ops import offline
from support import NS, ROOT, deep_merge, leftovers, namespace_gone
from support.variants import VARIANTS


# ----------------------------------------------- the API server as the oracle

@pytest.fixture(scope="module")
def dry_run_namespaces(cluster):
    """The namespaces the variants use. This module runs after test_cluster's stacks are
    destroyed: a dry-run apply onto live objects would merge with them."""
    assert leftovers(cluster) == [], "a stack is still deployed"
    # agents: the open-in-cluster variant's existing namespace; llama-stack-sandbox: the sandbox variant's
    names = (NS, "team-a", "team-b", "agents", "llama-stack-sandbox")
    for ns in names:
        namespace_gone(cluster, ns)
        cluster.kubectl("create", "namespace", ns)
    yield
    cluster.kubectl("delete", "namespace", *names, "--wait=false", check=False)
    for ns in names:
        namespace_gone(cluster, ns)


@pytest.mark.parametrize("variant", [v[0] for v in VARIANTS])
def test_every_variant_passes_a_server_side_dry_run(cluster, dry_run_namespaces, variant):
    _, base, overrides, secrets, _ = next(v for v in VARIANTS if v[0] == variant)
    values, _ = offline.stack_settings(base)
    result = offline.run(deep_merge(values, overrides), secrets, stack=base)
    assert result.error is None, result.error
    # A fleet member's objects too: the local API server stands in for every member.
    manifests = [r.manifest for r in result.all_objects if r.kind != "Namespace"]
    docs = "\n---\n".join(json.dumps(m) for m in manifests)
    out = cluster.kubectl("apply", "--server-side", "--dry-run=server", "--field-manager=pulumi-test",
                          "-f", "-", input=docs).stdout
    assert len(out.strip().splitlines()) == len(manifests), out


# ------------------- the API server agrees with what settings refuse up front

def _dev_object(kind: str, platform: str = "openshift") -> dict:
    overrides = {"platform": platform, "llamaStack": {"route": {"host": "ls.example.com"}}} \
        if platform == "kubernetes" else {}
    values, _ = offline.stack_settings("dev")
    result = offline.run(deep_merge(values, overrides), {})
    return json.loads(json.dumps(next(m for m in result.manifests() if m["kind"] == kind)))


def _deployment_with(path: list, value) -> dict:
    dep = _dev_object("Deployment")
    target = dep
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return dep


@pytest.mark.parametrize("case, manifest, settings_case", [
    ("replicas beyond int32", lambda: _deployment_with(["spec", "replicas"], 2 ** 31),
     "test_integers_beyond_int32_are_refused"),
    ("negative cpu", lambda: _deployment_with(
        ["spec", "template", "spec", "containers", 0, "resources", "requests", "cpu"], "-1"),
     "test_bad_cpu_quantities_are_refused"),
    ("request above limit", lambda: _deployment_with(
        ["spec", "template", "spec", "containers", 0, "resources", "requests", "cpu"], "4"),
     "test_contradictions_are_refused"),
    ("label value of 64", lambda: _deployment_with(["metadata", "labels", "team"], "a" * 64),
     "test_bad_label_values_are_refused"),
    ("namespace name of 64", lambda: {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a" * 64}},
     "test_bad_namespace_names_are_refused"),
    ("ingress host an IP", lambda: {**(i := _dev_object("Ingress", "kubernetes")),
                                    "spec": {**i["spec"], "rules": [{**i["spec"]["rules"][0], "host": "10.0.0.1"}]}},
     "test_bad_ingress_hosts_are_refused"),
    ("nonResourceURLs beside apiGroups", lambda: {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "oracle-x"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "nonResourceURLs": ["/x"], "verbs": ["get"]}]},
     "test_custom_rules_the_api_server_would_reject_are_refused"),
], ids=lambda v: v if isinstance(v, str) and " " in v else "")
def test_the_api_server_rejects_what_settings_refuse(cluster, dry_run_namespaces, case, manifest, settings_case):
    hostile = (ROOT / "tests" / "unit" / "test_hostile_settings.py").read_text()
    assert f"def {settings_case}(" in hostile, "the settings side of this case is tested there"
    result = cluster.kubectl("apply", "--server-side", "--dry-run=server", "--field-manager=oracle", "-f", "-",
                             input=json.dumps(manifest()), check=False)
    assert result.returncode != 0, f"{case}: the API server accepted it:\n{result.stdout}"
