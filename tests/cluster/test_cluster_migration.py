"""Migrating a live Helm-installed setup onto this program, on the local cluster, without downtime.

The old releases (tests/fixtures/helm-releases.yaml) are created as Helm 3
leaves them: field manager `helm`, its labels and annotations, and its release
records. Then docs/migration.md's procedure: `make adopt`'s steps (ops/migrate/helm.py
plan, prepare, `pulumi up`, finish, `pulumi refresh`) on the prod stack file with
migration.helmReleases set.
"""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time

import pytest

from support import ROOT, TEST_SECRETS
from testbed.localcluster.harness import Project
from support import NS, deployment, leftovers, namespace_gone

OLD = ROOT / "tests" / "fixtures" / "helm-releases.yaml"
RELEASES = {"mcpServer": "kubernetes-mcp-server", "llamaStack": "llama-stack"}
DEPLOYMENTS = ("kubernetes-mcp-server", "llama-stack")


def helm_install(cluster) -> None:
    """The old objects with Helm's field manager, and each release's record Secret."""
    cluster.kubectl("create", "namespace", NS)
    cluster.kubectl("create", "--field-manager=helm", "-f", str(OLD))
    for release in RELEASES.values():
        record = {"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
                  "metadata": {"name": f"sh.helm.release.v1.{release}.v1", "namespace": NS,
                               "labels": {"owner": "helm", "name": release, "status": "deployed", "version": "1"}},
                  "data": {"release": base64.b64encode(b"a gzipped release manifest").decode()}}
        cluster.kubectl("create", "--field-manager=helm", "-f", "-", input=json.dumps(record))
    for name in DEPLOYMENTS:
        cluster.wait_until(f"old {name} available", lambda: deployment(cluster, name)["status"].get(
            "availableReplicas") == 2, timeout=60)


def adopt(project: Project, step: str, *extra: str) -> subprocess.CompletedProcess:
    # As `make adopt` runs it: the operator command from the checkout, in the project's directory.
    return project.cluster.run([str(ROOT / "venv" / "bin" / "python"), "-m", "ops.migrate.helm", step,
                                "--stack", str(project.stack_file), *extra],
                               cwd=project.workdir, env={**project.env(), "PYTHONPATH": str(ROOT)}, check=False,
                               name=f"adopt-{step}")


@pytest.fixture(scope="module")
def old(cluster):
    assert leftovers(cluster) == [], "an earlier module left objects behind"
    namespace_gone(cluster)
    helm_install(cluster)
    uids = {name: deployment(cluster, name)["metadata"]["uid"] for name in DEPLOYMENTS}
    yield uids
    cluster.kubectl("delete", "clusterrole,clusterrolebinding", "kubernetes-mcp-server", check=False)


@pytest.fixture(scope="module")
def prod(cluster, tmp_path_factory, old):
    project = Project(cluster, tmp_path_factory.mktemp("migration") / "project", "prod",
                      secrets={"postgresPassword": TEST_SECRETS["postgresPassword"]})
    yield project
    project.destroy()
    cluster.kubectl("delete", "namespace", NS, "--ignore-not-found")  # what a failed migration left
    namespace_gone(cluster)


def test_plan_names_the_releases_it_finds_when_none_is_named(prod):
    result = adopt(prod, "plan")
    assert result.returncode == 1
    assert "releases in namespace llama-stack: kubernetes-mcp-server, llama-stack" in result.stderr, result.stderr


def test_plan_refuses_to_take_over_what_it_cannot_before_touching_anything(cluster, prod):
    """Only llamaStack named: the MCP objects belong to a release left out, and its selector differs."""
    before = cluster.get("deployment", "kubernetes-mcp-server", "-n", NS, "--show-managed-fields")
    prod.set_setting("migration", {"helmReleases": {"llamaStack": "llama-stack"}})
    result = adopt(prod, "plan")
    assert result.returncode == 1
    assert ("Deployment llama-stack/kubernetes-mcp-server belongs to Helm release kubernetes-mcp-server, which "
            "migration.helmReleases does not name") in result.stderr, result.stderr
    assert "(migration.helmReleases.mcpServer: kubernetes-mcp-server)" in result.stderr, result.stderr
    prod.set_setting("migration", {"helmReleases": {"llamaStack": "llama-stack", "mcpServer": "other"}})
    assert adopt(prod, "plan").returncode == 1
    prod.set_setting("migration", {"helmReleases": {"llamaStack": "llama-stack"}})
    after = cluster.get("deployment", "kubernetes-mcp-server", "-n", NS, "--show-managed-fields")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    after = cluster.get("deployment", "kubernetes-mcp-server", "-n", NS, "--show-managed-fields")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


@pytest.fixture(scope="module")
def migrated(cluster, prod, old):
    """plan, prepare, `pulumi up`, finish, with each Deployment's available replicas sampled throughout."""
    prod.set_setting("migration", {"helmReleases": RELEASES})
    planned = adopt(prod, "plan")
    assert planned.returncode == 0, planned.stderr
    samples: list[dict[str, int]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append({n: deployment(cluster, n)["status"].get("availableReplicas", 0) for n in DEPLOYMENTS})
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    records = {}
    try:
        prepared = adopt(prod, "prepare", "--yes")
        assert prepared.returncode == 0, prepared.stderr
        records["after prepare"] = helm_records(cluster)
        # Interrupted before `up`: `make adopt ARGS=--yes` again starts over with plan and prepare.
        for step in ("plan", "prepare"):
            again = adopt(prod, step, *(["--yes"] if step == "prepare" else []))
            assert again.returncode == 0, f"re-run of {step} before up: {again.stdout}{again.stderr}"
        up = prod.up()
        records["after up"] = helm_records(cluster)
        # Interrupted after `up`, before `finish`: the re-run finds the releases still and goes on.
        for step in ("plan", "prepare"):
            again = adopt(prod, step, *(["--yes"] if step == "prepare" else []))
            assert again.returncode == 0, f"re-run of {step} after up: {again.stdout}{again.stderr}"
        prod.up()  # the re-run's `up`
        finished = adopt(prod, "finish", "--yes")
        assert finished.returncode == 0, finished.stderr
        prod.pulumi("refresh", "--yes", "--skip-preview")  # the state learns what finish dropped
    finally:
        done.set()
        sampler.join()
    return {"plan": planned.stdout, "up": up.stdout, "finish": finished.stdout, "samples": samples,
            "records": records, "workdir": prod.workdir}


def helm_records(cluster) -> list[str]:
    return sorted(cluster.kubectl("get", "secrets", "-n", NS, "-l", "owner=helm", "-o", "name").stdout.split())


def test_helms_records_stay_until_finish_and_are_saved_where_they_can_be_restored(cluster, migrated):
    expected = sorted(f"secret/sh.helm.release.v1.{r}.v1" for r in RELEASES.values())
    assert migrated["records"] == {"after prepare": expected, "after up": expected}, "helm rollback works until finish"
    (saved,) = (migrated["workdir"] / "migration-backup").glob("helm-releases-*.json")
    assert f"`kubectl apply -f migration-backup/{saved.name}` restores them" in migrated["finish"], migrated["finish"]
    assert saved.stat().st_mode & 0o077 == 0, "a release record holds the chart's values: the file is private"
    items = json.loads(saved.read_text())["items"]
    assert sorted(f"secret/{i['metadata']['name']}" for i in items) == expected
    assert {base64.b64decode(i["data"]["release"]) for i in items} == {b"a gzipped release manifest"}
    restore = cluster.kubectl("create", "--dry-run=server", "-f", str(saved), check=False)
    assert restore.returncode == 0, f"the API server would take the saved records back: {restore.stderr}"


def test_plan_lists_what_is_taken_over_and_what_is_retired(migrated):
    plan = migrated["plan"]
    assert "take over in place: Deployment llama-stack/kubernetes-mcp-server" in plan
    assert "take over in place: Deployment llama-stack/llama-stack" in plan
    for retired in ("ClusterRole kubernetes-mcp-server", "ClusterRoleBinding kubernetes-mcp-server",
                    "Route llama-stack/kubernetes-mcp-server"):
        assert f"retire (not rendered by this stack): {retired}" in plan, plan
    assert "nothing changed" in plan


def test_the_deployments_are_the_same_objects(cluster, old, migrated):
    for name, uid in old.items():
        assert deployment(cluster, name)["metadata"]["uid"] == uid, f"{name} was recreated"


def test_pods_were_available_throughout(migrated):
    samples = migrated["samples"]
    assert samples
    for name in DEPLOYMENTS:
        assert min(s[name] for s in samples) >= 1, f"{name} had no available pod at some point: {samples}"


def test_the_old_cluster_wide_rbac_and_the_open_mcp_route_are_gone(cluster, migrated):
    for kind in ("clusterrole", "clusterrolebinding"):
        assert cluster.kubectl("get", kind, "kubernetes-mcp-server", check=False).returncode != 0
    cluster.wait_until("the old MCP route is deleted", lambda: cluster.kubectl(
        "get", "route", "kubernetes-mcp-server", "-n", NS, check=False).returncode != 0, timeout=30)


def test_helms_markers_and_records_are_gone(cluster, migrated):
    items = cluster.get("deployments,services,serviceaccounts,horizontalpodautoscalers,routes", "-n", NS,
                        "--show-managed-fields")["items"]
    items = [o for o in items if o["metadata"]["name"] != "default"]  # the namespace's own ServiceAccount
    assert len(items) >= 8, [o["metadata"]["name"] for o in items]
    for obj in items:
        meta = obj["metadata"]
        assert (meta.get("labels") or {}).get("app.kubernetes.io/managed-by") == "pulumi", meta
        assert not any(k.startswith(("meta.helm.sh/", "helm.sh/")) for k in {**(meta.get("labels") or {}),
                                                                                **(meta.get("annotations") or {})})
        assert {e["manager"] for e in meta["managedFields"]}.isdisjoint({"helm", "helm-adopted"}), meta
    assert cluster.kubectl("get", "secrets", "-n", NS, "-l", "owner=helm", "-o", "name").stdout.strip() == ""


def test_what_only_the_old_charts_set_is_dropped(cluster, migrated):
    mcp = deployment(cluster, "kubernetes-mcp-server")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in mcp] == ["kubernetes-mcp-server"]
    assert "env" not in mcp[0], "KUBERNETES_MCP_API_TOKEN (never read by the server) must not survive"
    assert mcp[0]["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert "runAsUser" not in mcp[0]["securityContext"]
    stack = deployment(cluster, "llama-stack")["spec"]["template"]["spec"]["containers"][0]
    assert "MCP_SERVER_URL" not in {e["name"] for e in stack.get("env", [])}


def test_a_second_up_is_a_no_op(prod, migrated):
    preview = prod.pulumi("preview", "--expect-no-changes", "--diff", check=False)
    assert preview.returncode == 0, preview.stdout[-4000:]
    prod.up("--expect-no-changes")
