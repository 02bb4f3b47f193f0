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
