#!/usr/bin/env python3
"""`make release-tag`: tag the checked-out commit `v<pyproject version>`, the tag `pulumi package add
<git URL>/provider@vX.Y.Z` and `pip install git+<git URL>@vX.Y.Z` take (docs/component.md#releasing).

Refuses a dirty tree (the tag would not hold what was tested), a tag that exists, and a version that is
not X.Y.Z (Pulumi reads the tag as a semantic version). Changes only this repository's tags.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def version(root: Path = ROOT) -> str:
    return tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]


def git(*args: str, root: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)


def tag(root: Path = ROOT) -> str:
    """The tag created; SystemExit with the reason when refused."""
    v = version(root)
    if not re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", v):
        raise SystemExit(f"release-tag: pyproject.toml's version {v!r} is not X.Y.Z")
    if git("status", "--porcelain", root=root).stdout.strip():
        raise SystemExit("release-tag: the working tree has uncommitted changes: commit them first")
    name = f"v{v}"
    if git("rev-parse", "-q", "--verify", f"refs/tags/{name}", root=root).returncode == 0:
        raise SystemExit(f"release-tag: {name} exists; set a new version in pyproject.toml")
    made = git("tag", "-a", name, "-m", f"llamastack-mcp {v}", root=root)
    if made.returncode != 0:
        raise SystemExit(f"release-tag: git tag failed: {made.stderr.strip()}")
    return name


def main() -> int:
    name = tag()
    head = git("rev-parse", "--short", "HEAD").stdout.strip()
    print(f"tagged {head} as {name} in {ROOT}; publish it with: git push origin {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
