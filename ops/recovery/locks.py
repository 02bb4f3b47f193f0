"""Pulumi's locks in a file backend (`<backend>/.pulumi/locks/<project>/<stack>/<id>.json`, each naming the
process that took it): which are held by a process that no longer runs on this machine."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Optional


@dataclass(frozen=True)
class Lock:
    path: Path
    pid: int
    hostname: str
    timestamp: str

    @property
    def here(self) -> bool:
        return self.hostname == socket.gethostname()

    @property
    def stale(self) -> bool:
        """Held by a process of this machine that is gone. Another machine's lock is never judged."""
        return self.here and not running(self.pid)

    def describe(self) -> str:
        where = "this machine" if self.here else self.hostname
        state = "which no longer runs" if self.stale else ("still running" if self.here else "not checkable from here")
        return f"process {self.pid} on {where} ({state}), since {self.timestamp}"


def running(pid: int) -> bool:
    """The process exists and is not a zombie (a killed process nobody reaped yet: in a container whose
    PID 1 does not reap, it stays one)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def file_backend_root(url: Optional[str]) -> Optional[Path]:
    """The directory of a file:// backend; None for any other backend (Pulumi Cloud leases its own locks)."""
    if not url or not url.startswith("file://"):
        return None
    path = url[len("file://"):]
    return Path(os.path.expanduser(path or "~"))


def empty_metadata(backend: Path) -> list[Path]:
    """Metadata files (`*.attrs`) a killed write left empty: the file backend writes a state or lock
    atomically but its `.attrs` beside it in place, and an empty one fails every later command
    (`failed to load checkpoint: EOF`). Without the file the blob reads as it is."""
    return sorted(p for p in (backend / ".pulumi").rglob("*.attrs") if p.is_file() and p.stat().st_size == 0)


def stack_locks(backend: Path, project: str, stack: str) -> list[Lock]:
    found = []
    for path in sorted((backend / ".pulumi" / "locks").glob(f"**/{project}/{stack}/*.json")):
        try:
            content = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        found.append(Lock(path, int(content.get("pid", 0)), content.get("hostname", ""), content.get("timestamp", "")))
    return found
