"""CI workflows: valid GitHub Actions files that call Makefile targets that exist, with no credentials."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z0-9-]*):", text, re.M))


def test_there_are_workflows_for_prs_main_and_promotion():
    assert {w.name for w in WORKFLOWS} == {"pull-request.yml", "main.yml", "promote.yml"}


def test_workflows_match_the_github_schema():
    checker = Path(sys.executable).parent / "check-jsonschema"
    proc = subprocess.run([str(checker), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_jobs_call_existing_make_targets(workflow):
    targets = make_targets()
    doc = yaml.safe_load(workflow.read_text())
    runs = [step.get("run", "") for job in doc["jobs"].values() for step in job.get("steps", [])]
    called = {m for run in runs for m in re.findall(r"\bmake (?:-C \S+ )?([a-z][a-z0-9-]*)", run)}
    assert called, "a workflow that calls no make target drifts from what developers run"
    assert called <= targets, f"unknown make targets: {called - targets}"


# The credentials each workflow needs, and nothing else: each must come from secrets or the job's token.
CREDENTIALS = {"pull-request.yml": {"PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "KUBECONFIG_DATA"},
               "main.yml": {"PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "KUBECONFIG_DATA"},
               "promote.yml": {"GH_TOKEN"}}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_credentials_come_from_secrets_only(workflow):
    found = {}
    for line in workflow.read_text().splitlines():
        match = re.match(r"\s*([A-Z_]*(?:TOKEN|PASSPHRASE|KUBECONFIG_DATA)[A-Z_]*):\s*(.*)", line)
        if match:
            found.setdefault(match[1], set()).add(match[2].strip())
    assert set(found) == CREDENTIALS[workflow.name], found
    for name, values in found.items():
        for value in values:
            expression = re.fullmatch(r"\$\{\{(.*)\}\}", value)
            assert expression, f"{name}: {value} is not an expression"
            references = re.findall(r"\b([a-z]+)\.[A-Za-z_]+", expression[1])
            assert {"secrets", "github"} & set(references) and set(references) <= {"secrets", "github", "matrix"}, \
                f"{name}: {value} must come from secrets or the job's token"

def test_prod_apply_is_gated_and_uses_the_policy_pack():
    main = yaml.safe_load((ROOT / ".github" / "workflows" / "main.yml").read_text())
    prod = main["jobs"]["up-prod"]
    assert prod["environment"] == "production" and prod["needs"] == "up-dev"
    assert any(step.get("with", {}).get("policyPacks") == "policy" for step in prod["steps"])


def test_ci_deploys_keep_pulumis_checkpoints():
    """On your backends Pulumi writes the state after every step; only the local cluster's own state skips it."""
    main = yaml.safe_load((ROOT / ".github" / "workflows" / "main.yml").read_text())
    ups = [step for job in main["jobs"].values() for step in job["steps"]
           if step.get("uses", "").startswith("pulumi/actions") and step["with"]["command"] == "up"]
    assert len(ups) == 2 and not any("PULUMI_SKIP_CHECKPOINTS" in step.get("env", {}) for step in ups)
    for workflow in (ROOT / ".github" / "workflows").glob("*.yml"):
        assert "PULUMI_SKIP_CHECKPOINTS" not in workflow.read_text(), workflow.name
    script = (ROOT / "ops" / "pulumi.sh").read_text()
    skip = script.index('export PULUMI_SKIP_CHECKPOINTS="${PULUMI_SKIP_CHECKPOINTS:-true}"')
    assert script.rfind('if [[ "$target" == local ]]; then', 0, skip) > script.rfind("fi", 0, skip), \
        "skipped by default only for the local cluster's own state"


# ------------------------------------------------------------- least privilege (#42)

def steps(doc: dict) -> list[dict]:
    return [step for job in doc["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_by_commit_with_their_version_named(workflow):
    uses = re.findall(r"uses: (\S+)(.*)", workflow.read_text())
    assert uses
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), f"{action}: pin a full commit"
        assert re.match(r"\s+# v\d+\.\d+\.\d+", comment), f"{action}: name its version in a comment"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_no_expression_is_pasted_into_a_shell_line(workflow):
    """Inputs and contexts reach a shell through `env:`, never as text of the script (injection)."""
    doc = yaml.safe_load(workflow.read_text())
    pasted = [step.get("name", step["run"][:40]) for step in steps(doc) if "run" in step and "${{" in step["run"]]
    assert pasted == []


# Write permissions, by job: what each one needs and nothing else.
WRITES = {("promote.yml", "promote"): {"contents", "pull-requests"}, ("pull-request.yml", "preview"): {"pull-requests"}}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_each_job_holds_only_the_permissions_it_names(workflow):
    doc = yaml.safe_load(workflow.read_text())
    assert doc["permissions"] == {}, "none for the whole workflow: each job names its own"
    for name, job in doc["jobs"].items():
        granted = job["permissions"]
        assert granted.get("contents") in ("read", "write"), (name, granted)
        writes = {scope for scope, level in granted.items() if level == "write"}
        assert writes == WRITES.get((workflow.name, name), set()), (workflow.name, name, granted)
        assert "id-token" not in granted, "no OIDC token is used"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_checkouts_leave_no_credentials_behind(workflow):
    doc = yaml.safe_load(workflow.read_text())
    checkouts = [s for s in steps(doc) if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts and all(s.get("with", {}).get("persist-credentials") is False for s in checkouts)
