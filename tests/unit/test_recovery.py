"""ops/recovery/: what an interrupted deploy leaves, recognised without a cluster — stale and live locks, the
objects a state records, and which live objects it does not. (The whole path, killed `make up` included,
runs on the local control plane: tests/cluster/test_cluster_interrupted.py.)"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from ops.recovery import guard, locks, orphans
from support import run_variant


def lock_file(tmp_path, stack: str, pid: int, host: str) -> None:
    directory = tmp_path / ".pulumi" / "locks" / "llamastack-mcp" / stack
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{pid}.json").write_text(json.dumps({"pid": pid, "username": "u", "hostname": host,
                                                       "timestamp": "2026-12-02T00:00:00Z"}))


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_lock_of_a_dead_process_here_is_stale_and_a_live_or_foreign_one_is_not(tmp_path):
    lock_file(tmp_path, "dev", dead_pid(), socket.gethostname())
    lock_file(tmp_path, "dev", os.getpid(), socket.gethostname())
    lock_file(tmp_path, "dev", 1, "another-machine")
    lock_file(tmp_path, "prod", dead_pid(), socket.gethostname())
    found = {lock.pid: lock for lock in locks.stack_locks(tmp_path, "llamastack-mcp", "dev")}
    assert len(found) == 3, "only dev's locks"
    stale = [lock for lock in found.values() if lock.stale]
    assert len(stale) == 1 and "which no longer runs" in stale[0].describe()
    assert not found[os.getpid()].stale and "still running" in found[os.getpid()].describe()
    assert not found[1].stale and "not checkable from here" in found[1].describe()


def test_only_file_backends_have_lock_files_to_read(tmp_path):
    assert locks.file_backend_root(f"file://{tmp_path}") == tmp_path
    assert locks.file_backend_root("https://api.pulumi.com") is None
    assert locks.file_backend_root("s3://bucket") is None


def test_a_stale_lock_refuses_without_consent_and_names_the_command(tmp_path, monkeypatch, capsys):
    lock_file(tmp_path, "dev", dead_pid(), socket.gethostname())
    monkeypatch.setenv("LLAMASTACK_MCP_BACKEND", f"file://{tmp_path}")
    monkeypatch.chdir(tmp_path)
    assert guard.before("dev", "up", []) == 3
    err = capsys.readouterr().err
    assert "make up STACK=dev ARGS=--yes" in err and "pulumi cancel --stack dev --yes" in err
    assert locks.stack_locks(tmp_path, "llamastack-mcp", "dev"), "the lock stays without consent"


def test_the_state_records_objects_by_kind_namespace_and_name():
    export = {"deployment": {"resources": [
        {"type": "pulumi:providers:kubernetes", "id": "abc", "custom": True},
        {"type": "llamastack-mcp:index:KubernetesMcpServer", "custom": False},
        {"type": "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "id": "team-a/kubernetes-mcp-server",
         "custom": True},
        {"type": "kubernetes:core/v1:Namespace", "id": "llama-stack", "custom": True},
        {"type": "kubernetes:security.openshift.io/v1:SecurityContextConstraints", "id": "x", "custom": True}]}}
    assert orphans.in_state(export) == {
        orphans.Obj("RoleBinding", "team-a", "kubernetes-mcp-server"), orphans.Obj("Namespace", "", "llama-stack"),
        orphans.Obj("SecurityContextConstraints", "", "x")}


def test_unrecorded_objects_are_deleted_namespace_last():
    live = {orphans.Obj("Namespace", "", "llama-stack"), orphans.Obj("RoleBinding", "team-a", "m"),
            orphans.Obj("ClusterRole", "", "c"), orphans.Obj("Role", "team-a", "m")}
    left = orphans.orphans(live, {orphans.Obj("Role", "team-a", "m")})
    assert left[-1].kind == "Namespace" and orphans.Obj("Role", "team-a", "m") not in left and len(left) == 3


def test_every_kind_the_program_renders_is_looked_for():
    """A kind added to the program but not to recovery's list would be orphaned silently."""
    kinds = {m["kind"] for variant in ("dev", "prod", "mcp-route-oauth-scc", "mcp-ingress-kubernetes", "monitoring")
             for m in run_variant("prod" if variant == "prod" else "dev",
                                  secrets={"postgresPassword": "x"} if variant == "prod" else None,
                                  **_overrides(variant)).manifests()}
    plural = {k.lower() + ("es" if k.endswith(("ss", "ch")) else "s") for k in kinds if k != "Namespace"}
    plural = {p.replace("policys", "policies").replace("constraintss", "constraints") for p in plural}
    missing = plural - set(orphans.NAMESPACED) - set(orphans.CLUSTER_SCOPED)
    assert not missing, missing


def _overrides(variant: str) -> dict:
    from support.variants import VARIANTS
    if variant in ("dev", "prod"):
        return {}
    return next(v[2] for v in VARIANTS if v[0] == variant)


def test_a_killed_process_nobody_reaped_counts_as_gone():
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    import time
    deadline = time.monotonic() + 10
    while open(f"/proc/{zombie.pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    try:
        assert not locks.running(zombie.pid)
    finally:
        zombie.wait()
    assert locks.running(os.getpid())


def test_destroy_refuses_a_state_that_would_delete_what_the_settings_keep():
    """A stack last updated before keep-on-destroy: its state's objects lack retainOnDelete, and destroy
    acts on the state's options, so the guard refuses until an `up` records them."""
    from ops.recovery.guard import unkept_data
    def state(*resources):
        return {"deployment": {"resources": list(resources)}}
    ns = {"type": "kubernetes:core/v1:Namespace", "id": "llama-stack", "custom": True}
    claim = {"type": "kubernetes:core/v1:PersistentVolumeClaim", "id": "llama-stack/llama-stack-data", "custom": True}
    other = {"type": "kubernetes:apps/v1:Deployment", "id": "llama-stack/llama-stack", "custom": True}
    assert unkept_data(state(ns, claim, other), {}) == ["Namespace llama-stack",
                                                        "PersistentVolumeClaim llama-stack/llama-stack-data"]
    assert unkept_data(state({**ns, "retainOnDelete": True}, {**claim, "retainOnDelete": True}, other), {}) == []
    deleting = {"namespace": {"keepOnDestroy": False}, "llamaStack": {"storage": {"keepOnDestroy": False}}}
    assert unkept_data(state(ns, claim), deleting) == [], "an explicit opt-out deletes them"


def test_an_empty_metadata_file_a_killed_write_left_is_found(tmp_path):
    from ops.recovery import locks
    stacks = tmp_path / ".pulumi" / "stacks" / "llamastack-mcp"
    stacks.mkdir(parents=True)
    (stacks / "dev.json").write_text("{}")
    (stacks / "dev.json.attrs").write_text("")  # what SIGKILL during a checkpoint left (cold CI, 2026-12-05)
    (stacks / "dev.json.bak.attrs").write_text('{"user.content_type": "application/json"}')
    assert locks.empty_metadata(tmp_path) == [stacks / "dev.json.attrs"]
