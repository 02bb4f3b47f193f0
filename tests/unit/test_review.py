"""The production review (ops/review/): kube-score over every variant's objects and checkov over prod's find nothing
beyond ops/review/accepted.yaml, each accepted finding only where it says, and docs/review.md is current."""

from __future__ import annotations

import pytest
import yaml

from ops import offline
from components.settings import StackSettings
from ops.review import lint
from support import ROOT, deep_merge
from support.variants import VARIANTS
from test_manifests import IDS, every_object, objects


def platform_of(variant: str) -> str:
    _, base, overrides, _, _ = next(v for v in VARIANTS if v[0] == variant)
    return deep_merge(offline.stack_settings(base)[0], overrides).get("platform", StackSettings().platform)


@pytest.mark.parametrize("variant", IDS)
def test_kube_score_finds_nothing_beyond_what_is_accepted(variant):
    findings = lint.kube_score(objects(variant))
    bad = lint.unexplained(findings, platform_of(variant))
    assert bad == [], "kube-score findings not in ops/review/accepted.yaml:\n" + "\n".join(map(str, bad))


def test_kube_score_really_scores():
    """A pod spec with the faults the checks look for is graded critical: the review is not a no-op."""
    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bad", "namespace": "x"},
           "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
               "metadata": {"labels": {"a": "b"}},
               "spec": {"containers": [{"name": "c", "image": "example.com/c:latest"}]}}}}
    checks = {f.check for f in lint.kube_score([bad]) if f.severity == "critical"}
    assert {"container-resources", "container-image-tag", "container-security-context-readonlyrootfilesystem"} <= checks


def test_the_uid_finding_is_accepted_only_where_the_platform_assigns_the_uid():
    """On Kubernetes the spec itself sets the UIDs, so a low one there would be a real finding."""
    low = [f for f in lint.kube_score(objects("prod")) if f.check == "container-security-context-user-group-id"]
    assert low, "prod (OpenShift) sets no UID: kube-score flags it"
    assert lint.unexplained(low, "openshift") == [] and lint.unexplained(low, "kubernetes") == low
    on_kubernetes = lint.kube_score(every_object("prod-kubernetes"))
    assert not [f for f in on_kubernetes if f.check == "container-security-context-user-group-id"]


def test_checkov_finds_nothing_in_prod_beyond_what_is_accepted(tmp_path):
    for i, obj in enumerate(objects("prod")):
        (tmp_path / f"{i:03d}.yaml").write_text(yaml.safe_dump(obj, sort_keys=False))
    findings, passed = lint.checkov(tmp_path)
    bad = lint.unexplained(findings, "openshift")
    assert bad == [], "checkov findings not in ops/review/accepted.yaml:\n" + "\n".join(map(str, bad))
    assert passed > 50, "checkov ran no checks"


def test_every_accepted_finding_still_occurs():
    """An entry whose finding is gone (fixed) is removed, so the page lists only what is true."""
    seen = {(f.linter, f.check) for v in IDS for f in lint.kube_score(objects(v))}
    listed = {("kube-score", e["check"]) for e in lint.accepted()["kube-score"]}
    assert listed <= seen, f"accepted but never found: {sorted(listed - seen)}"


def test_the_review_page_is_generated_from_the_accepted_findings():
    assert (ROOT / "docs" / "review.md").read_text() == lint.render_doc(), "docs/review.md is stale: run make docs"
