"""CI workflows: valid GitHub Actions files that call Makefile targets that exist, with no credentials."""

from __future__ import annotations

import re
import shutil
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


def load_workflow(name: str) -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


def test_there_are_workflows_for_prs_main_promotion_and_drift():
    assert {w.name for w in WORKFLOWS} == {"pull-request.yml", "main.yml", "promote.yml", "drift.yml"}


def test_actionlint_finds_nothing():
    """actionlint (built by make toolchain) with shellcheck over every run: script."""
    from testbed.localcluster.harness import TOOLCHAIN_BIN
    linter = TOOLCHAIN_BIN / "actionlint"
    assert linter.exists(), "actionlint is not built: run `make toolchain`"
    assert shutil.which("shellcheck"), "shellcheck is missing (make system-deps): actionlint would skip the scripts"
    proc = subprocess.run([str(linter), "-no-color", *map(str, WORKFLOWS)], capture_output=True, text=True, cwd=ROOT)
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


def test_actionlint_would_report_a_pasted_input():
    """The linter is live: it finds an expression pasted into a shell and a quoting slip shellcheck names."""
    from testbed.localcluster.harness import TOOLCHAIN_BIN
    bad = "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n" \
          "      - run: echo $FOO ${{ github.event.head_commit.message }}\n"
    proc = subprocess.run([str(TOOLCHAIN_BIN / "actionlint"), "-no-color", "-"], input=bad, capture_output=True,
                          text=True)
    assert proc.returncode == 1 and "potentially untrusted" in proc.stdout and "SC2086" in proc.stdout, proc.stdout


def test_triggers():
    assert load_workflow("pull-request.yml")[True].keys() == {"pull_request", "workflow_dispatch"}
    assert load_workflow("main.yml")[True] == {"push": {"branches": ["main"]}}
    promote = load_workflow("promote.yml")[True]
    assert set(promote) == {"workflow_dispatch"} and set(promote["workflow_dispatch"]["inputs"]) == {"from", "to"}
    drift = load_workflow("drift.yml")[True]
    assert set(drift) == {"schedule", "workflow_dispatch"} and drift["schedule"][0]["cron"]


def test_workflows_match_the_github_schema():
    checker = Path(sys.executable).parent / "check-jsonschema"
    proc = subprocess.run([str(checker), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# What a run: line may do: set up (make setup / system-deps / test), or call the repository's own CI logic.
RUN_LINE = re.compile(r"(sudo (-E env \"PATH=\$PATH\" )?)?make [a-z][a-z0-9-]*( [A-Z]+=\S+)*"
                      r"|exec venv/bin/python -m ops\.ci\.[a-z]+ --stack [a-z]+")


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_run_line_only_calls_a_make_target_or_the_repositorys_ci_logic(workflow):
    targets = make_targets()
    doc = yaml.safe_load(workflow.read_text())
    runs = [step["run"].strip() for step in steps(doc) if "run" in step]
    assert runs
    for run in runs:
        assert RUN_LINE.fullmatch(run), f"decide in a make target or ops/ci/, not in the workflow: {run!r}"
        for target in re.findall(r"\bmake ([a-z][a-z0-9-]*)", run):
            assert target in targets, f"unknown make target {target}"
        for module in re.findall(r"-m (ops\.ci\.[a-z]+)", run):
            assert (ROOT / (module.replace(".", "/") + ".py")).exists(), module


# The credentials each workflow needs, and nothing else: each from secrets (the job's environment decides which:
# `preview` holds read-only ones, `dev` and `production` deploying ones), or the job's own token.
CREDENTIALS = {"pull-request.yml": {"PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "KUBECONFIG_DATA"},
               "main.yml": {"PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "KUBECONFIG_DATA"},
               "drift.yml": {"PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "KUBECONFIG_DATA"},
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


def jobs_by_name() -> dict[tuple[str, str], dict]:
    return {(w.name, name): job for w in WORKFLOWS for name, job in yaml.safe_load(w.read_text())["jobs"].items()}


def test_only_deploy_jobs_hold_deploying_credentials_and_every_deploy_is_one_per_stack():
    """A job that deploys runs in `dev` or `production` (the environments holding credentials that can write), one
    at a time per stack; every other job that touches a cluster runs in `preview` (read-only)."""
    for (name, job_name), job in jobs_by_name().items():
        deploys = [s["run"] for s in job.get("steps", []) if "ops.ci.deploy" in s.get("run", "")]
        uses_cluster = any("KUBECONFIG_DATA" in s.get("env", {}) for s in job.get("steps", []))
        if deploys:
            stack = re.search(r"--stack (\S+)", deploys[0])[1]
            assert name == "main.yml" and job["environment"] == {"dev": "dev", "prod": "production"}[stack]
            assert job["concurrency"] == {"group": f"deploy-{stack}", "cancel-in-progress": False}, job_name
        elif uses_cluster:
            assert job["environment"] == "preview", (name, job_name)
    assert not any(job.get("environment") in ("dev", "production") for (name, _), job in jobs_by_name().items()
                   if name != "main.yml"), "pull requests, promotions and the drift check never hold deploying ones"


def test_prod_deploys_after_dev_only_when_its_plan_shows_a_change_and_then_asks_reviewers():
    main = load_workflow("main.yml")["jobs"]
    assert main["up-dev"]["needs"] == "test" and main["plan-prod"]["needs"] == "up-dev"
    plan = main["plan-prod"]
    assert plan["outputs"] == {"deploy": "${{ steps.plan.outputs.deploy }}"}
    step = next(s for s in plan["steps"] if s.get("id") == "plan")
    assert step["run"] == "make ci-plan STACK=prod" and plan["environment"] == "preview"
    prod = main["up-prod"]
    assert prod["needs"] == "plan-prod" and prod["if"] == "needs.plan-prod.outputs.deploy == 'true'"
    assert prod["environment"] == "production"


def test_the_promotion_starts_the_checks_of_a_workflow_that_accepts_it():
    from ops.ci import promotion
    checks = load_workflow(promotion.CHECKS_WORKFLOW)
    assert "workflow_dispatch" in checks[True] and "preview" in checks["jobs"]
    preview = checks["jobs"]["preview"]
    assert "github.event_name == 'workflow_dispatch'" in preview["if"], "the dispatched run must preview"


def test_ci_deploys_keep_pulumis_checkpoints():
    """On your backends Pulumi writes the state after every step; only the local cluster's own state skips it."""
    for path in WORKFLOWS:
        assert "PULUMI_SKIP_CHECKPOINTS" not in path.read_text(), path.name
    deploy = (ROOT / "ops" / "ci" / "deploy.py").read_text()
    assert 'os.environ["PULUMI_SKIP_CHECKPOINTS"] = "false"' in deploy, "a CI deploy keeps them whatever the env says"
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
WRITES = {("promote.yml", "promote"): {"contents", "pull-requests", "actions"}}


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
