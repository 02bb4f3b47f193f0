"""CI promotion, run as the workflows run it, on the local cluster with a dev and a prod stack (docs/operations.md's
table of events). Each `make ci-*` runs in a git checkout of this tree with the credential the workflow's
environment holds: `deploy` (a cluster admin's kubeconfig, environments `dev` and `production`) or `read`
(ops/ci/reader.yaml's ServiceAccount, environment `preview`). Judged by asking the API server.

The module is one story, in order: the first merge deploys both stacks; a pull request's checks; its merge deploying
dev; the gate finding a code-only change for prod, and nothing after a docs-only one; prod's deploy; a promotion
pull request; a deploy cancelled midway as GitHub cancels, and the next one converging; the nightly drift check.
"""

from __future__ import annotations

import base64
import json
import time

import pytest
import yaml

from support import ROOT, TEST_SECRETS
from support.ci_checkout import Checkout, cancel_as_github_does

DEV_NS, PROD_NS = "llama-stack", "llama-stack-prod"
MARK = "ci.example.com/reviewed"          # the annotation a code-only change adds to every object
TEAMS = [f"ci-team-{i:03d}" for i in range(120)]
ROOT_CI = ROOT / "ops" / "ci"


def reader_kubeconfig(cluster) -> str:
    """ops/ci/reader.yaml applied as a cluster admin would, and a kubeconfig with its ServiceAccount's token."""
    cluster.kubectl("apply", "-f", str(ROOT_CI / "reader.yaml"))
    # The long-lived token the docs have you put in the kubeconfig (the token controller fills the Secret).
    token = cluster.wait_until("the reader's token", lambda: base64.b64decode(cluster.kubectl(
        "get", "secret", "preview-token", "-n", "llamastack-mcp-ci", "-o", "jsonpath={.data.token}").stdout).decode())
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["users"] = [{"name": "ci-reader", "user": {"token": token}}]
    for context in config["contexts"]:
        context["context"]["user"] = "ci-reader"
    return yaml.safe_dump(config)



def annotated(cluster, namespace: str) -> bool:
    dep = cluster.get("-n", namespace, "deployment", "kubernetes-mcp-server")
    return dep["metadata"].get("annotations", {}).get(MARK) == "yes"


def mcp_image(cluster, namespace: str) -> str:
    dep = cluster.get("-n", namespace, "deployment", "kubernetes-mcp-server")
    return dep["spec"]["template"]["spec"]["containers"][0]["image"]


def live_role_bindings(cluster) -> set[str]:
    out = cluster.kubectl("get", "rolebindings", "-A", "-l", f"app.kubernetes.io/instance={DEV_NS}", "--no-headers",
                          "-o", "custom-columns=NS:.metadata.namespace,NAME:.metadata.name").stdout
    return {"/".join(line.split()) for line in out.splitlines()}


def recorded_role_bindings(ci) -> set[str]:
    state = json.loads(ci.pulumi("stack", "export", "--stack", "dev").stdout)
    return {r["id"] for r in state["deployment"]["resources"]
            if r["type"] == "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"}


def role_bindings(cluster) -> int:
    return len(cluster.kubectl("get", "rolebindings", "-A", "-l", f"app.kubernetes.io/instance={DEV_NS}",
                               "-o", "name").stdout.split())


@pytest.fixture(scope="module")
def ci(cluster, tmp_path_factory):
    for ns in (DEV_NS, PROD_NS):
        assert cluster.kubectl("get", "namespace", ns, check=False).returncode != 0, f"{ns} left by another module"
    checkout = Checkout(cluster, tmp_path_factory.mktemp("ci"), {"dev": DEV_NS, "prod": PROD_NS},
                        secrets={"dev": {}, "prod": {"postgresPassword": TEST_SECRETS["postgresPassword"]}})
    checkout.kubeconfigs = {"deploy": cluster.kubeconfig.read_text(), "read": reader_kubeconfig(cluster)}
    yield checkout
    for stack in ("dev", "prod"):
        checkout.pulumi("destroy", "--yes", "--skip-preview", "--stack", stack)
    cluster.kubectl("delete", "namespace", DEV_NS, PROD_NS, *TEAMS, "--ignore-not-found", "--wait=false", check=False)
    cluster.kubectl("delete", "-f", str(ROOT_CI / "reader.yaml"), "--ignore-not-found", "--wait=false", check=False)


def test_the_first_merge_deploys_dev_then_prod_whose_gate_saw_everything_to_create(cluster, ci):
    dev, _ = ci.make("ci-deploy", "STACK=dev", credential="deploy")
    assert dev.returncode == 0, dev.stdout + dev.stderr
    assert "checkpoints: on" in dev.stderr
    plan, outputs = ci.make("ci-plan", "STACK=prod", credential="read")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert outputs["deploy"] == "true" and int(outputs["changes"]) > 10, outputs
    assert "create Deployment deployment:llama-stack-prod/kubernetes-mcp-server" in plan.stdout
    prod, _ = ci.make("ci-deploy", "STACK=prod", credential="deploy")
    assert prod.returncode == 0, prod.stdout + prod.stderr
    for ns in (DEV_NS, PROD_NS):
        assert cluster.get("-n", ns, "deployment", "kubernetes-mcp-server")["status"].get("availableReplicas", 0) >= 1
    # prod's Secret (the database password) is compared by later previews: the reader may get it, there only.
    cluster.kubectl("apply", "-n", PROD_NS, "-f", str(ROOT_CI / "reader-secrets.yaml"))


def test_a_pull_request_shows_the_objects_diff_and_previews_with_a_credential_that_cannot_deploy(cluster, ci):
    ci.git("switch", "--quiet", "-c", "feature")
    ci.edit("components/meta.py", 'OWNERSHIP = {"pulumi.com/patchForce": "true"}',
            f'OWNERSHIP = {{"pulumi.com/patchForce": "true", "{MARK}": "yes"}}')
    ci.commit("annotate every object (a code-only change)")
    diff, _ = ci.make("ci-diff", "BASE=origin/main")
    assert diff.returncode == 0, diff.stderr
    assert f"+    {MARK}: 'yes'" in diff.stdout, diff.stdout[-2000:]
    assert "head/prod/deployment.llama-stack-prod.kubernetes-mcp-server.yaml" in diff.stdout
    assert "head/dev/deployment.llama-stack.kubernetes-mcp-server.yaml" in diff.stdout
    assert "file(s) differ" in diff.stdout
    for stack in ("dev", "prod"):
        plan, outputs = ci.make("ci-plan", f"STACK={stack}", credential="read")
        assert plan.returncode == 0, plan.stdout + plan.stderr
        assert outputs["deploy"] == "true", (stack, plan.stdout)
        assert "update Deployment deployment:" in plan.stdout and "metadata" in plan.stdout, plan.stdout
    summary = (ci.directory / "step-summary").read_text()
    assert "| update | Deployment |" in summary and "Kubernetes objects: origin/main -> this commit" in summary
    # Unreviewed code holding the preview's credential cannot change prod, whatever it runs.
    attempt, _ = ci.make("ci-deploy", "STACK=prod", credential="read")
    assert attempt.returncode != 0
    assert "forbidden" in (attempt.stdout + attempt.stderr).lower()
    assert not annotated(cluster, PROD_NS) and not annotated(cluster, DEV_NS), "the API server has no change"


def test_a_pull_request_breaking_the_policy_pack_fails_its_prod_preview(cluster, ci):
    ci.git("switch", "--quiet", "-c", "mutable-image", "main")
    ci.edit_stack("prod", lambda config: config["llamastack-mcp:mcpServer"].update(
        image="quay.io/containers/kubernetes_mcp_server:latest"))
    ci.commit("prod on a mutable tag")
    plan, outputs = ci.make("ci-plan", "STACK=prod", credential="read")
    ci.git("switch", "--quiet", "feature")
    assert plan.returncode != 0 and outputs == {}, plan.stdout + plan.stderr
    assert "no-mutable-images" in plan.stdout + plan.stderr and "the preview of stack prod failed" in plan.stderr


def test_the_merge_deploys_dev_and_the_gate_finds_prods_code_only_change(cluster, ci):
    ci.git("switch", "--quiet", "main")
    ci.git("merge", "--quiet", "--ff-only", "feature")
    ci.git("push", "--quiet", "origin", "main")
    dev, _ = ci.make("ci-deploy", "STACK=dev", credential="deploy")
    assert dev.returncode == 0, dev.stdout + dev.stderr
    assert annotated(cluster, DEV_NS) and not annotated(cluster, PROD_NS)
    plan, outputs = ci.make("ci-plan", "STACK=prod", credential="read")
    assert plan.returncode == 0 and outputs["deploy"] == "true", plan.stdout + plan.stderr
    assert "Pulumi.prod.yaml" not in ci.git("diff", "--name-only", "HEAD~1", "HEAD"), "no stack-file change"
    assert "update Deployment deployment:llama-stack-prod/kubernetes-mcp-server" in plan.stdout


def test_prod_deploys_and_then_the_gate_asks_nobody(cluster, ci):
    prod, _ = ci.make("ci-deploy", "STACK=prod", credential="deploy")
    assert prod.returncode == 0, prod.stdout + prod.stderr
    assert annotated(cluster, PROD_NS)
    plan, outputs = ci.make("ci-plan", "STACK=prod", credential="read")
    assert plan.returncode == 0 and outputs == {"changes": "0", "deploy": "false"}, plan.stdout + plan.stderr
    # A docs-only merge: prod's plan shows nothing, so up-prod is skipped and no reviewer is asked.
    ci.edit("README.md", "# ", "# (docs edit) ", )
    ci.commit("docs only")
    plan, outputs = ci.make("ci-plan", "STACK=prod", credential="read")
    assert outputs["deploy"] == "false", plan.stdout
    assert "no changes: the cluster matches" in plan.stdout


def test_a_promotion_pushes_a_branch_opens_its_pull_request_and_starts_its_checks(cluster, ci):
    newer = "quay.io/containers/kubernetes_mcp_server:v0.0.68"
    ci.edit_stack("dev", lambda config: config["llamastack-mcp:mcpServer"].update(image=newer))
    ci.commit("dev runs the MCP server v0.0.68")
    dev, _ = ci.make("ci-deploy", "STACK=dev", credential="deploy")
    assert dev.returncode == 0 and mcp_image(cluster, DEV_NS) == newer, dev.stdout + dev.stderr
    promoted, _ = ci.make("ci-promote", "FROM=dev", "TO=prod", GH_TOKEN="ghs_not-a-real-token")
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    branch = next(b.strip() for b in ci.git("ls-remote", "--heads", "origin").splitlines() if "promote/" in b)
    branch = branch.split("refs/heads/", 1)[1]
    changed = ci.git("diff", "--name-only", "main", branch)
    assert changed == "Pulumi.prod.yaml", changed
    assert newer in ci.git("show", f"{branch}:Pulumi.prod.yaml")
    calls = ci.gh()
    assert calls[0][:2] == ["pr", "create"] and calls[0][calls[0].index("--head") + 1] == branch, calls
    assert "v0.0.68" in calls[0][calls[0].index("--body") + 1]
    assert calls[1] == ["workflow", "run", "pull-request.yml", "--ref", branch], calls
    assert "ghs_not-a-real-token" not in promoted.stdout + promoted.stderr
    # The promotion's checks, on its branch: prod's preview shows the new image, with the reader's credential.
    ci.git("switch", "--quiet", branch)
    plan, outputs = ci.make("ci-plan", "STACK=prod", credential="read")
    assert outputs["deploy"] == "true" and "update Deployment deployment:llama-stack-prod/kubernetes-mcp-server" \
        in plan.stdout, plan.stdout
    ci.git("switch", "--quiet", "main")
    ci.git("merge", "--quiet", "--ff-only", branch)
    prod, _ = ci.make("ci-deploy", "STACK=prod", credential="deploy")
    assert prod.returncode == 0 and mcp_image(cluster, PROD_NS) == newer


def test_a_deploy_cancelled_midway_as_github_cancels_leaves_nothing_orphaned_and_the_next_converges(cluster, ci):
    cluster.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": t}} for t in TEAMS]}))
    ci.edit_stack("dev", lambda config: config["llamastack-mcp:mcpServer"]["rbac"].update(
        scope="namespaces", namespaces=TEAMS, allowClusterWideWrite=False))
    ci.commit("dev's agent may write in 120 team namespaces")
    deploy = ci.deploy_in_background("dev")
    deadline = time.monotonic() + 300
    while role_bindings(cluster) < 30:
        assert deploy.poll() is None, (ci.directory / "deploy-dev.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "the deploy made no progress"
        time.sleep(0.2)
    ended, seconds = cancel_as_github_does(deploy)
    print(f"cancelled deploy: {ended} {seconds:.1f} s after SIGINT")
    log = (ci.directory / "deploy-dev.log").read_text()
    midway = role_bindings(cluster)
    assert midway < len(TEAMS), f"{midway} RoleBindings: the deploy had finished before the cancel"
    assert "SIGINT: asking Pulumi to stop" in log, log[-3000:]
    assert ended == "exited", f"Pulumi did not stop within GitHub's 10 s grace ({seconds:.1f} s):\n{log[-3000:]}"
    # A create in flight at the cancel may be on the cluster and not in the state (seen here: one of 40): the next
    # deploy names it, takes it over, and leaves the state holding exactly what the cluster holds.
    unrecorded = live_role_bindings(cluster) - recorded_role_bindings(ci)
    again, _ = ci.make("ci-deploy", "STACK=dev", credential="deploy")
    assert again.returncode == 0, again.stdout + again.stderr
    if unrecorded:
        assert "not in stack dev's state" in again.stderr, again.stderr[-3000:]
    assert live_role_bindings(cluster) == recorded_role_bindings(ci) and role_bindings(cluster) == len(TEAMS)
    # Reverted: what the cancelled deploy created is deleted, recorded or not.
    ci.git("revert", "--no-edit", "HEAD")
    reverted, _ = ci.make("ci-deploy", "STACK=dev", credential="deploy")
    assert reverted.returncode == 0, reverted.stdout + reverted.stderr
    assert role_bindings(cluster) == 0 and recorded_role_bindings(ci) == set()
    plan, outputs = ci.make("ci-plan", "STACK=dev", credential="read")
    assert outputs["deploy"] == "false", plan.stdout


def test_the_gate_sees_drift_too_so_prod_is_never_left_behind(cluster, ci):
    cluster.kubectl("-n", PROD_NS, "patch", "deployment", "llama-stack", "--type=merge",
                    "-p", json.dumps({"metadata": {"annotations": {MARK: "changed-by-hand"}}}))
    plan, outputs = ci.make("ci-plan", "STACK=prod", credential="read")
    assert outputs["deploy"] == "true" and "deployment:llama-stack-prod/llama-stack" in plan.stdout, plan.stdout
    prod, _ = ci.make("ci-deploy", "STACK=prod", credential="deploy")
    assert prod.returncode == 0 and annotated_llama(cluster, PROD_NS)


def annotated_llama(cluster, namespace: str) -> bool:
    dep = cluster.get("-n", namespace, "deployment", "llama-stack")
    return dep["metadata"].get("annotations", {}).get(MARK) == "yes"


def test_the_drift_check_names_what_changed_outside_pulumi_and_passes_once_repaired(cluster, ci):
    for stack in ("dev", "prod"):
        clean, _ = ci.make("ci-drift", f"STACK={stack}", credential="read")
        assert clean.returncode == 0, clean.stdout + clean.stderr
    cluster.kubectl("-n", DEV_NS, "scale", "deployment", "llama-stack", "--replicas=3")
    drift, outputs = ci.make("ci-drift", "STACK=dev", credential="read")
    assert drift.returncode != 0, drift.stdout + drift.stderr
    assert "dev: 1 object(s) differ from what this commit declares" in drift.stdout
    assert "update Deployment deployment:llama-stack/llama-stack (spec.replicas)" in drift.stdout
    assert cluster.get("-n", DEV_NS, "deployment", "llama-stack")["spec"]["replicas"] == 3, "a check changes nothing"
    # The next deploy refreshes first, so it puts back what the stack declares.
    repaired, _ = ci.make("ci-deploy", "STACK=dev", credential="deploy")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert cluster.get("-n", DEV_NS, "deployment", "llama-stack")["spec"]["replicas"] == 1
    clean, _ = ci.make("ci-drift", "STACK=dev", credential="read")
    assert clean.returncode == 0, clean.stdout + clean.stderr
