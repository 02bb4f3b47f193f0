"""`make release-tag` (ops/release.py): the tag follows pyproject.toml's version, on a clean tree only,
never twice, and only for a version Pulumi reads as X.Y.Z. Run on a throwaway clone of this repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from ops import release
from support import ROOT


@pytest.fixture
def clone(tmp_path) -> Path:
    path = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(path)], check=True)
    for key, value in (("user.name", "release"), ("user.email", "release@localhost")):
        subprocess.run(["git", "-C", str(path), "config", key, value], check=True)
    return path


def tags(path: Path) -> list[str]:
    return subprocess.run(["git", "-C", str(path), "tag"], capture_output=True, text=True, check=True).stdout.split()


def test_the_tag_is_pyprojects_version_on_head(clone):
    name = release.tag(clone)
    assert name == f"v{release.version(clone)}" and name in tags(clone)
    tagged = subprocess.run(["git", "-C", str(clone), "rev-list", "-n1", name], capture_output=True, text=True).stdout
    head = subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert tagged == head


def test_a_tag_that_exists_is_refused(clone):
    release.tag(clone)
    with pytest.raises(SystemExit, match="exists; set a new version"):
        release.tag(clone)


def test_a_dirty_tree_is_refused(clone):
    (clone / "README.md").write_text("changed\n")
    with pytest.raises(SystemExit, match="uncommitted changes"):
        release.tag(clone)
    assert tags(clone) == []


def test_a_version_pulumi_cannot_read_is_refused(clone):
    pyproject = clone / "pyproject.toml"
    pyproject.write_text(re.sub(r'^version = ".*"$', 'version = "0.2.0rc1"', pyproject.read_text(), flags=re.M))
    subprocess.run(["git", "-C", str(clone), "commit", "-qam", "rc"], check=True)
    with pytest.raises(SystemExit, match="is not X.Y.Z"):
        release.tag(clone)
