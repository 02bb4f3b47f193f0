"""An interrupted deploy loses nothing and orphans nothing (ops/recovery/): `make up` killed with SIGKILL midway,
with RBAC scoped to many namespaces so the update runs long, on the local control plane through
ops/pulumi.sh (what `make up/preview/destroy` run). Judged by asking the API server."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from testbed.localcluster.harness import Project
from support import NS, ROOT, leftovers, namespace_gone, pulumi_sh

TEAMS = [f"team-{i:03d}" for i in range(150)]
INSTANCE = f"app.kubernetes.io/instance={NS}"


@pytest.fixture(scope="module")
def teams(cluster):
    """The 150 namespaces, for the whole module (a namespace being deleted cannot take new objects)."""
    assert leftovers(cluster) == [], "an earlier module left objects behind"
    cluster.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": t}} for t in TEAMS]}))
    yield TEAMS
    cluster.kubectl("delete", "namespace", *TEAMS, "--wait=false", check=False)


@pytest.fixture
def big(cluster, teams, tmp_path):
    """dev with its RBAC in 150 namespaces (150 RoleBindings of one ClusterRole), through the wrapper."""
    project = Project(cluster, tmp_path / "project", "dev")
    mcp = project.settings()["llamastack-mcp:mcpServer"]
    project.set_setting("mcpServer", {**mcp, "rbac": {**mcp.get("rbac", {}), "scope": "namespaces", "namespaces": TEAMS}})
    home = tmp_path / "home"

    def make(*args: str):
        return pulumi_sh(cluster, project, "dev", *args, home=home, kubeconfig=True,
                         backend=f"file://{project.workdir / 'state'}")

    make.project = project
    yield make
    make("destroy", "--yes")
    namespace_gone(cluster)
    assert role_bindings(cluster) == 0 and leftovers(cluster) == []


def role_bindings(cluster) -> int:
    return len(cluster.kubectl("get", "rolebindings", "-A", "-l", INSTANCE, "-o", "name").stdout.split())


def make_up_in_background(cluster, project: Project, out=subprocess.DEVNULL) -> subprocess.Popen:
    """`make up STACK=dev ARGS=--yes` (ops/pulumi.sh) as its own process group, as a terminal runs it."""
    env = {k: v for k, v in cluster.env().items() if k not in ("PULUMI_BACKEND_URL", "LLAMA_STACK_TOKEN")}
    env.update(HOME=str(project.workdir / "home"), PULUMI_HOME=str(project.workdir / "home" / ".pulumi"),
               PROJECT_DIR=str(project.workdir), KUBECONFIG=str(cluster.kubeconfig),
               PULUMI_BACKEND_URL=f"file://{project.workdir / 'state'}",
               # Where the guard's repairs matter: checkpoints skipped (the local cluster's own state, or your
               # opt-in), so a killed update leaves objects its state never recorded.
               PULUMI_SKIP_CHECKPOINTS="true")
    return subprocess.Popen(["bash", str(ROOT / "ops" / "pulumi.sh"), "dev", "up", "--yes"], env=env,
                            stdout=out, stderr=subprocess.STDOUT if out is not subprocess.DEVNULL else out,
                            start_new_session=True)


def processes_of(home: Path) -> list[int]:
    """Processes started for this project's Pulumi home: the CLI and the plugins it launched."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if f"PULUMI_HOME={home}\0".encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:  # gone meanwhile, or not ours to read
            pass
    return found


def kill_update(proc: subprocess.Popen, home: Path) -> None:
    """SIGKILL the update's process group, then the plugins the engine started (in groups of their
    own, they outlive it: the provider keeps serving a dead engine), and check none is left."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for pid in processes_of(home):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while processes_of(home) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_of(home) == [], "a plugin of the killed update is still running"


def killed_midway(cluster, make, at_least: int = 40) -> int:
    """`make up STACK=dev ARGS=--yes`, SIGKILLed (its whole process group) once `at_least` RoleBindings exist."""
    proc = make_up_in_background(cluster, make.project)
    deadline = time.monotonic() + 300
    try:
        while role_bindings(cluster) < at_least:
            assert proc.poll() is None, "the update ended before it could be interrupted"
            assert time.monotonic() < deadline, "the update made no progress"
            time.sleep(0.2)
    finally:
        kill_update(proc, make.project.workdir / "home" / ".pulumi")
    created = role_bindings(cluster)
    assert at_least <= created < len(TEAMS), f"{created} RoleBindings: not midway"
    return created


def test_a_killed_up_leaves_a_stale_lock_that_is_named_with_the_command_that_recovers(cluster, big):
    killed_midway(cluster, big)
    refused = big("destroy")
    assert refused.returncode != 0
    assert "which no longer runs" in refused.stderr and "an update was interrupted" in refused.stderr, refused.stderr
    assert "make destroy STACK=dev ARGS=--yes" in refused.stderr and "pulumi cancel --stack dev --yes" in refused.stderr
    assert role_bindings(cluster) > 0, "nothing was touched without consent"


def test_destroy_after_a_killed_up_removes_every_object_it_had_created(cluster, big):
    created = killed_midway(cluster, big)
    destroyed = big("destroy", "--yes")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert "removed the stale lock of process" in destroyed.stderr
    assert "not in stack dev's state" in destroyed.stderr and "deleting" in destroyed.stderr, destroyed.stderr
    deleted = [line for line in destroyed.stderr.splitlines() if line.startswith("==> deleted ")]
    assert any(line.startswith("==> deleted RoleBinding team-") for line in deleted), "each one named"
    assert len(deleted) == int(destroyed.stderr.split("==> deleting ")[1].split()[0])
    namespace_gone(cluster)
    assert role_bindings(cluster) == 0, f"of {created} RoleBindings, some stayed"
    assert leftovers(cluster) == []


def test_after_pulumi_cancel_the_next_commands_still_know_and_up_converges(cluster, big):
    killed_midway(cluster, big)
    project = big.project
    project.pulumi("cancel", "--yes")  # what an operator does by hand: the lock is gone, the marker is not
    preview = big("preview")
    assert preview.returncode == 0, preview.stdout + preview.stderr
    assert "did not finish" in preview.stderr and "not in stack dev's state" in preview.stderr, preview.stderr
    up = big("up", "--yes")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "this update takes over" in up.stderr
    assert big("preview", "--expect-no-changes").returncode == 0, "the state now holds everything on the cluster"
    assert role_bindings(cluster) == len(TEAMS)
    settled = big("preview")
    assert "not in stack dev's state" not in settled.stderr, "repaired once, then quiet"


def test_a_lock_held_by_a_running_update_keeps_refusing(cluster, big):
    first = make_up_in_background(cluster, big.project)
    try:
        deadline = time.monotonic() + 120
        while role_bindings(cluster) < 5:
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.2)
        # Paused, not ended: still mid-update (its lock held, its process alive) however fast this machine
        # would finish the other ~145 RoleBindings while the second command starts.
        os.killpg(first.pid, signal.SIGSTOP)
        try:
            second = big("up", "--yes")
        finally:
            os.killpg(first.pid, signal.SIGCONT)
        assert second.returncode != 0, second.stdout + second.stderr
        assert "still running" in second.stderr and "locked" in (second.stdout + second.stderr), second.stderr
        assert first.poll() is None, "the second command did not disturb the first"
    finally:
        assert first.wait(timeout=600) == 0, "the first update finishes"
    assert role_bindings(cluster) == len(TEAMS)


def test_the_api_server_going_away_fails_the_update_in_bounded_time_and_the_next_up_converges(cluster, big):
    log = big.project.workdir / "up.log"
    with log.open("w") as out:
        update = make_up_in_background(cluster, big.project, out)
    try:
        deadline = time.monotonic() + 300
        while role_bindings(cluster) < 40:
            assert update.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        api_server = int((cluster.directory / "pids" / "kube-apiserver").read_text())
        os.kill(api_server, signal.SIGKILL)  # stopped, as a crash or a restart would
        gone = time.monotonic()
        rc = update.wait(timeout=600)
        failed_after = time.monotonic() - gone
    finally:
        if update.poll() is None:
            kill_update(update, big.project.workdir / "home" / ".pulumi")
        cluster.up(fresh=False)  # the API server back, on the same data
    output = log.read_text()
    assert rc != 0, "the update cannot have succeeded without its API server"
    port = cluster.api_url.rsplit(":", 1)[1]
    # Requests in flight when it died end in "unexpected EOF"; later ones are refused or reset.
    cause = next((c for c in ("connection refused", "connection reset by peer", "unexpected EOF")
                  if c in output), None)
    assert f"127.0.0.1:{port}" in output and cause, output[-3000:]  # the API server's address, and why
    assert failed_after < 180, f"the update took {failed_after:.0f} s to fail"
    up = big("up", "--yes")
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr
    assert role_bindings(cluster) == len(TEAMS)
    assert big("preview", "--expect-no-changes").returncode == 0
