"""Around each Pulumi command that `make` runs (ops/pulumi.sh): recover from an interrupted one.

    python -m ops.recovery.guard before STACK COMMAND [ARGS...]     # exit non-zero: do not run the command
    python -m ops.recovery.guard after STACK COMMAND RC [ARGS...]

With Pulumi's per-step checkpoints skipped (the local cluster's own state, or PULUMI_SKIP_CHECKPOINTS=true:
docs/operations.md#checkpoints), an update killed midway (SIGKILL, a closed laptop, a cancelled CI job)
leaves a lock naming a dead process and objects the state never recorded. Before the next command:

- **a stale lock** (its process no longer runs on this machine) is named, with the one command that
  recovers; with `--yes` it is removed, saying so. A live process's lock still refuses, as Pulumi does.
- **an interrupted update** (its marker is left, or its lock was stale; for a CI deploy, always) makes `preview` and
  `up` say which
  objects are on the cluster and not in the state. `up` takes over those the program still declares
  (server-side apply upserts) and, once it succeeded, deletes the rest. `destroy` always looks, and
  deletes what the state does not record after Pulumi's own destroy, saying which.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from . import locks, orphans

PROJECT = "llamastack-mcp"  # Pulumi.yaml's name (components.settings would cost pydantic's import here)
ALWAYS_COMPARE = "LLAMASTACK_MCP_ALWAYS_COMPARE"  # set by ops/ci/deploy.py
WRITES = ("up", "destroy")


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def markers_dir(backend: Optional[str]) -> Path:
    root = locks.file_backend_root(backend)
    return (root / ".pulumi" if root else Path.cwd() / ".pulumi-updates") / "llamastack-mcp-updates"


def marker_path(backend: Optional[str], stack: str) -> Path:
    return markers_dir(backend) / f"{stack}.json"


_INLINE_KUBECONFIGS: dict[str, str] = {}


def kubectl(stack: str) -> list[str]:
    """kubectl at the cluster Pulumi uses: $KUBECONFIG, and the stack file's kubernetes:context."""
    command = [os.environ.get("KUBECTL", "kubectl")]
    config = _stack_config(stack)
    if config.get("kubernetes:context"):
        command += ["--context", str(config["kubernetes:context"])]
    kubeconfig = config.get("kubernetes:kubeconfig")
    if isinstance(kubeconfig, str) and Path(os.path.expanduser(kubeconfig)).is_file():
        command += ["--kubeconfig", os.path.expanduser(kubeconfig)]
    elif isinstance(kubeconfig, str) and kubeconfig.strip():
        # The file's text in the stack file: the provider reads that cluster, so must we. One private copy
        # per run, removed when the guard exits (it holds credentials).
        if kubeconfig not in _INLINE_KUBECONFIGS:
            handle, path = tempfile.mkstemp(prefix="llamastack-mcp-kubeconfig-")
            with os.fdopen(handle, "w") as out:
                out.write(kubeconfig)
            atexit.register(os.unlink, path)
            _INLINE_KUBECONFIGS[kubeconfig] = path
        command += ["--kubeconfig", _INLINE_KUBECONFIGS[kubeconfig]]
    return command


def _stack_config(stack: str) -> dict:
    import yaml
    path = Path.cwd() / f"Pulumi.{stack}.yaml"
    return (yaml.safe_load(path.read_text()) or {}).get("config") or {} if path.exists() else {}


def stack_namespace(stack: str) -> str:
    from ops import offline
    from components.settings import StackSettings
    path = Path.cwd() / f"Pulumi.{stack}.yaml"
    values = offline.stack_settings(str(path))[0] if path.exists() else {}
    return (values.get("namespace") or {}).get("name") or StackSettings().namespace.name


def created_namespaces(stack: str) -> list[str]:
    """Where destroy may keep something: the stack's namespace (its claim, or itself when the stack created
    it) and, with rbac.createNamespaces, those namespaces."""
    from ops import offline
    path = Path.cwd() / f"Pulumi.{stack}.yaml"
    values = offline.stack_settings(str(path))[0] if path.exists() else {}
    rbac = (values.get("mcpServer") or {}).get("rbac") or {}
    out = [stack_namespace(stack)]
    if rbac.get("createNamespaces") and rbac.get("scope") == "namespaces":
        out += [n for n in rbac.get("namespaces") or [] if n not in out]
    return out


def say_kept(stack: str) -> None:
    """After a destroy: what it kept (it may hold your data) and the one command that removes it."""
    try:
        found = orphans.kept(kubectl(stack), created_namespaces(stack))
    except (subprocess.CalledProcessError, OSError, ValueError) as err:
        say(f"could not list what destroy kept ({err}); look for objects labelled {orphans.KEEP}")
        return
    if not found:
        return
    say(f"kept, as it may hold your data: {_listing(found)}")
    gone_with = {o.namespace for o in found if o.kind == "PersistentVolumeClaim"} & {o.name for o in found}
    # Spelled out with the cluster it was kept on: your shell's kubeconfig may point elsewhere.
    try:
        where = " ".join(["kubectl", *cluster_args(stack)])
    except (subprocess.CalledProcessError, OSError):
        where = "kubectl"
    if os.pathsep in os.environ.get("KUBECONFIG", "") and "--kubeconfig" not in where:
        where = f"KUBECONFIG={os.environ['KUBECONFIG']} {where}"
    commands = [f"{where} delete namespace {o.name}" for o in found if o.kind == "Namespace"]
    commands += [f"{where} delete persistentvolumeclaim {o.name} -n {o.namespace}" for o in found
                 if o.kind == "PersistentVolumeClaim" and o.namespace not in gone_with]
    say(f"to delete it all too (nothing else keeps it): {'; '.join(commands)}")


def cluster_args(stack: str) -> list[str]:
    """--kubeconfig and --context of the cluster the stack's provider used, resolved now."""
    command = kubectl(stack)
    kubeconfig = next((command[i + 1] for i, a in enumerate(command) if a == "--kubeconfig"), None) \
        or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    context = next((command[i + 1] for i, a in enumerate(command) if a == "--context"), None) or subprocess.run(
        [*command, "config", "current-context"], capture_output=True, text=True, check=True).stdout.strip()
    if os.pathsep in kubeconfig:  # several files: only the variable takes a list
        return ["--context", context]
    return ["--kubeconfig", kubeconfig, "--context", context]


def recorded(stack: str) -> set[orphans.Obj]:
    proc = subprocess.run(["pulumi", "stack", "export", "--stack", stack], capture_output=True, text=True)
    if proc.returncode != 0:
        return set()  # no stack yet: nothing recorded
    return orphans.in_state(json.loads(proc.stdout))


def unrecorded(stack: str) -> Optional[list[orphans.Obj]]:
    """Live and unrecorded; None (said) when the cluster cannot be asked: Pulumi's own command reports why."""
    try:
        return orphans.orphans(orphans.on_cluster(kubectl(stack), stack_namespace(stack)), recorded(stack))
    except (subprocess.CalledProcessError, OSError, ValueError) as err:
        detail = getattr(err, "stderr", "") or str(err)
        say(f"could not compare the cluster with stack {stack}'s state ({str(detail).strip()[-300:]}); going on")
        return None


def _listing(objects: list[orphans.Obj], limit: int = 12) -> str:
    shown = ", ".join(map(str, objects[:limit]))
    return shown + (f" and {len(objects) - limit} more" if len(objects) > limit else "")


DATA_KINDS = {"kubernetes:core/v1:Namespace": ("namespace", "keepOnDestroy"),
              "kubernetes:core/v1:PersistentVolumeClaim": ("llamaStack.storage", "keepOnDestroy")}


def unkept_data(deployment: dict, values: dict) -> list[str]:
    """Objects that may hold data which the state would delete: recorded by an `up` of a version before
    keep-on-destroy (a destroy acts on the state's options, not the program's), though the settings keep them."""
    def keeps(section: str) -> bool:
        node = values
        for part in section.split("."):
            node = (node or {}).get(part) or {}
        return node.get("keepOnDestroy", True)
    found = []
    for r in (deployment.get("deployment") or {}).get("resources") or []:
        kind = DATA_KINDS.get(r.get("type", ""))
        if kind and keeps(kind[0]) and not r.get("retainOnDelete"):
            found.append(f"{r['type'].rsplit(':', 1)[-1]} {r.get('id', '?')}")
    return found


def before(stack: str, command: str, args: list[str]) -> int:
    backend = os.environ.get("LLAMASTACK_MCP_BACKEND") or os.environ.get("PULUMI_BACKEND_URL")
    consent = "--yes" in args or "-y" in args
    interrupted = []
    root = locks.file_backend_root(backend)
    for path in locks.empty_metadata(root) if root else []:
        path.unlink()
        say(f"removed {path}: an empty metadata file an interrupted write left (Pulumi could not read the state)")
        interrupted.append("an interrupted write")
    if command == "destroy":
        from ops import offline
        path = Path.cwd() / f"Pulumi.{stack}.yaml"
        exported = subprocess.run(["pulumi", "stack", "export", "--stack", stack], capture_output=True, text=True)
        if exported.returncode == 0 and path.exists():
            unkept = unkept_data(json.loads(exported.stdout), offline.stack_settings(str(path))[0])
            if unkept:
                say(f"refused: stack {stack}'s state would delete {', '.join(unkept)}, which may hold your data: it "
                    f"was last updated before destroy kept them. `make up STACK={stack}` records that it keeps them "
                    "(or set namespace.keepOnDestroy and llamaStack.storage.keepOnDestroy to false); nothing was "
                    "changed")
                return 3
    held = locks.stack_locks(root, PROJECT, stack) if root else []
    stale = [lock for lock in held if lock.stale]
    if stale and len(stale) == len(held):
        for lock in stale:
            if not consent:
                say(f"stack {stack} is locked by {lock.describe()}: an update was interrupted.")
                say(f"to recover (removes the stale lock, then repairs): make {command} STACK={stack} ARGS=--yes")
                say(f"or by hand: pulumi cancel --stack {stack} --yes")
                return 3
            lock.path.unlink(missing_ok=True)
            say(f"removed the stale lock of {lock.describe()}: its update was interrupted")
        interrupted.append("a stale lock")
    elif held:
        for lock in held:
            say(f"stack {stack} is locked by {lock.describe()}")  # Pulumi refuses with its own message next
    if command == "up" and os.environ.get(ALWAYS_COMPARE) == "1":
        # A CI deploy (ops/ci/deploy.py): its runner's marker would be gone with the runner, and even with
        # checkpoints a create in flight when a deploy was cancelled can land on the cluster unrecorded.
        interrupted.append("a CI deploy compares the cluster with the state every time")
    marker = marker_path(backend, stack)
    live_lock = any(not lock.stale for lock in held)
    if marker.exists() and not live_lock:  # a command that holds the lock may be running right now
        left = json.loads(marker.read_text() or "{}")
        if not (left.get("host") == socket.gethostname() and locks.running(int(left.get("pid", 0)))):
            interrupted.append(f"`{left.get('command', 'up')}` of {left.get('started', '?')} did not finish")
    if interrupted or command == "destroy":
        found = unrecorded(stack)
        if found:
            why = "; ".join(interrupted) or "objects left by an interrupted update"
            say(f"{len(found)} object(s) on the cluster are not in stack {stack}'s state ({why}): {_listing(found)}")
            if command == "preview":
                say("this preview shows those still declared as creates; `make up` takes them over and deletes the rest")
            elif command == "up":
                say("this update takes over those the program still declares; the rest are deleted after it succeeds")
            elif command == "destroy":
                say("they are deleted after the destroy")
        elif interrupted and found is not None:
            say(f"nothing on the cluster is missing from stack {stack}'s state ({'; '.join(interrupted)})")
            marker.unlink(missing_ok=True)
            interrupted = []
    if command in WRITES:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"command": command, "pid": os.getppid(), "host": socket.gethostname(),
                                      "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                      "repair": bool(interrupted) or command == "destroy"}))
    return 0


def after(stack: str, command: str, rc: int) -> int:
    if command not in WRITES:
        return rc
    backend = os.environ.get("LLAMASTACK_MCP_BACKEND") or os.environ.get("PULUMI_BACKEND_URL")
    marker = marker_path(backend, stack)
    left = json.loads(marker.read_text() or "{}") if marker.exists() else {}
    # Pulumi ran to its end (success or failure) and saved its final state: only an unfinished repair stays.
    if left.get("repair"):
        if rc != 0:
            say(f"`{command}` failed: objects not in the state are kept for the next command to repair")
            return rc
        found = unrecorded(stack)
        if found is None:
            return rc  # the marker stays: the next command compares again
        if found:
            say(f"deleting {len(found)} object(s) stack {stack} does not record")
            failed = orphans.delete(kubectl(stack), found, on_deleted=lambda obj: say(f"deleted {obj}"))
            for message in failed:
                say(f"could not delete {message}")
            if failed:
                return 4
    marker.unlink(missing_ok=True)
    if command == "destroy" and rc == 0:
        say_kept(stack)
    return rc


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] not in ("before", "after"):
        print(__doc__, file=sys.stderr)
        return 2
    phase, stack, command = argv[0], argv[1], argv[2]
    if phase == "before":
        return before(stack, command, argv[3:])
    return after(stack, command, int(argv[3]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
