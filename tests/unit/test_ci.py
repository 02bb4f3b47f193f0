"""ops/ci/: what CI decides from a preview, and the read-only identity it previews with (ops/ci/reader.yaml).
Run end to end on the local cluster by tests/cluster/test_cluster_ci.py."""

from __future__ import annotations

import yaml

from ops.ci.plan import Change, changes
from support import ROOT, run_variant
from support.variants import VARIANTS

STACK = "urn:pulumi:prod::llamastack-mcp::pulumi:pulumi:Stack::llamastack-mcp-prod"
DEPLOYMENT = ("urn:pulumi:prod::llamastack-mcp::llamastack-mcp:index:LlamaStackMcp$llamastack-mcp:index:LlamaStack"
              "$kubernetes:apps/v1:Deployment::deployment:llama-stack/llama-stack")


def test_only_steps_that_change_the_cluster_count_named_with_their_fields():
    preview = {"steps": [
        {"op": "same", "urn": STACK, "type": "pulumi:pulumi:Stack"},
        {"op": "refresh", "urn": DEPLOYMENT, "type": "kubernetes:apps/v1:Deployment"},
        {"op": "update", "urn": DEPLOYMENT, "type": "kubernetes:apps/v1:Deployment",
         "detailedDiff": {"spec.replicas": {"kind": "update"}, "metadata.annotations": {"kind": "add"}}},
        {"op": "create", "urn": DEPLOYMENT.replace("deployment:llama-stack/llama-stack", "deployment:x/y"),
         "type": "kubernetes:apps/v1:Deployment"},
    ]}
    found = changes(preview)
    assert found == [Change("update", "Deployment", "deployment:llama-stack/llama-stack",
                            ("metadata.annotations", "spec.replicas")),
                     Change("create", "Deployment", "deployment:x/y", ())]
    assert found[0].line() == ("update Deployment deployment:llama-stack/llama-stack "
                               "(metadata.annotations, spec.replicas)")
    assert changes({"steps": [{"op": "same", "urn": STACK, "type": "pulumi:pulumi:Stack"}]}) == []


def reader_rules() -> list[dict]:
    docs = list(yaml.safe_load_all((ROOT / "ops" / "ci" / "reader.yaml").read_text()))
    return next(d for d in docs if d["kind"] == "ClusterRole")["rules"]


def plural(kind: str) -> str:
    lower = kind.lower()
    if lower.endswith("constraints"):
        return lower
    return lower[:-1] + "ies" if lower.endswith("y") else lower + ("es" if lower.endswith("s") else "s")


def test_the_reader_can_read_every_kind_any_variant_creates_and_change_nothing():
    readable = {(group, resource) for rule in reader_rules() if {"get", "list"} <= set(rule["verbs"])
                for group in rule["apiGroups"] for resource in rule["resources"]}
    kinds = set()
    for variant in VARIANTS:
        result = run_variant(variant.base, secrets=variant.secrets, **variant.overrides)
        assert result.error is None, (variant.id, result.error)
        kinds |= {(m["apiVersion"].rpartition("/")[0], m["kind"]) for m in result.manifests()}
    assert len(kinds) > 15
    missing = {(g, k) for g, k in kinds if k != "Secret" and (g, plural(k)) not in readable}
    assert missing == set()
    # Readiness: what a refresh reads to tell a Deployment is ready.
    assert {("", "pods"), ("apps", "replicasets"), ("", "endpoints")} <= readable
    verbs = {verb for rule in reader_rules() for verb in rule["verbs"]}
    assert verbs == {"get", "list"}, "no write verb, no watch"
    assert not any("secrets" in rule["resources"] or "*" in rule["resources"] for rule in reader_rules())


def test_the_readers_secret_access_is_get_in_one_namespace():
    docs = list(yaml.safe_load_all((ROOT / "ops" / "ci" / "reader-secrets.yaml").read_text()))
    role = next(d for d in docs if d["kind"] == "Role")
    assert "namespace" not in role["metadata"], "applied into the stack's namespace (-n)"
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]


def test_the_readers_long_lived_token_is_a_secret_of_its_service_account():
    docs = list(yaml.safe_load_all((ROOT / "ops" / "ci" / "reader.yaml").read_text()))
    token = next(d for d in docs if d["kind"] == "Secret")
    assert token["type"] == "kubernetes.io/service-account-token"
    assert token["metadata"]["annotations"]["kubernetes.io/service-account.name"] == "preview"
    assert token["metadata"]["namespace"] == "llamastack-mcp-ci"


def test_a_promotion_input_never_runs_as_shell(tmp_path):
    """FROM/TO come from a workflow's inputs: they reach the script through the environment, and it refuses them."""
    import os
    import subprocess
    marker = tmp_path / "ran"
    hostile = f'dev"; touch {marker}; echo "'
    proc = subprocess.run(["make", "--no-print-directory", "-o", "venv/bin/.installed", "ci-promote"], cwd=ROOT,
                          env={**os.environ, "FROM": hostile, "TO": "prod"}, capture_output=True, text=True)
    assert proc.returncode != 0 and "is not a stack or branch name" in proc.stderr, proc.stderr
    assert not marker.exists()
