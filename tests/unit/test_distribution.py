"""The product as a Python distribution: what the wheel and the sdist hold, and the wheel installed into a
fresh virtualenv beside another Pulumi library, deploying dev's objects under mocks (the Python example).

The floor of each dependency range is what requirements.txt pins (the whole suite runs on it); installing
the wheel fresh takes the newest each range allows (the ceiling as PyPI serves it that day).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

from ops import offline
from support import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
# Another Pulumi library a user's program may hold: its own SDK pins pulumi too.
NEIGHBOUR = "pulumi-random"


def run(*cmd, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600, **kw)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    """Built from the repository's tracked files alone (as they are in the working tree): what a clone
    holds, without a checkout's leftovers (an older egg-info's file list would reach the sdist)."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    for name in run("git", "-C", ROOT, "ls-files").stdout.split():
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    run(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", out, source)
    wheels, sdists = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}


def requirement_ranges() -> dict[str, str]:
    return {re.split(r"[<>=!~ ]", r, 1)[0].lower(): r for r in PYPROJECT["project"]["dependencies"]}


def test_the_wheel_holds_the_product_alone(dist):
    names = zipfile.ZipFile(dist["wheel"]).namelist()
    assert {n.split("/")[0] for n in names} == {"llamastack_mcp", f"llamastack_mcp-{VERSION}.dist-info"}
    # The program's source is inside, as llamastack_mcp.components: every module of components/.
    sources = {f"llamastack_mcp/components/{p.relative_to(ROOT / 'components')}"
               for p in (ROOT / "components").rglob("*.py")}
    assert sources <= set(names), sorted(sources - set(names))
    metadata = zipfile.ZipFile(dist["wheel"]).read(f"llamastack_mcp-{VERSION}.dist-info/METADATA").decode()
    requires = re.findall(r"^Requires-Dist: (.+)$", metadata, re.M)
    assert {r.split(" ")[0].split("<")[0].split(">")[0].lower() for r in requires} >= {"pulumi", "pulumi-kubernetes"}
    for requirement in requires:
        assert "==" not in requirement and ">=" in requirement and "<" in requirement, requirement
    assert "License: MIT" in metadata or "License-Expression: MIT" in metadata


def test_the_sdist_holds_no_apparatus(dist):
    top = f"llamastack-mcp-{VERSION}/".replace("-", "_", 1)
    names = [n for n in tarfile.open(dist["sdist"]).getnames() if "/" in n]
    folders = {n.split("/")[1] for n in names if n.count("/") >= 2}
    assert folders == {"components", "llamastack_mcp", "llamastack_mcp.egg-info"}, folders
    assert {f"{top}LICENSE", f"{top}README.md", f"{top}pyproject.toml"} <= set(names)


def test_the_floor_is_what_the_program_pins():
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([0-9.]+)", (ROOT / "requirements.txt").read_text(), re.M))
    ranges = requirement_ranges()
    for name, version in pins.items():
        assert f">={version}," in ranges[name.lower()], (name, version, ranges[name.lower()])


@pytest.fixture(scope="module")
def fresh_venv(dist, tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("consumer") / "venv"
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin" / "pip", "install", "--quiet", "--disable-pip-version-check", dist["wheel"], NEIGHBOUR)
    run(venv / "bin" / "pip", "check")
    return venv


def installed(venv: Path) -> dict[str, str]:
    listed = json.loads(run(venv / "bin" / "pip", "list", "--format", "json").stdout)
    return {p["name"].lower().replace("_", "-"): p["version"] for p in listed}


def test_the_wheel_installs_beside_another_pulumi_library(fresh_venv):
    versions = installed(fresh_venv)
    assert NEIGHBOUR in versions and "llamastack-mcp" in versions, versions
    ranges = requirement_ranges()
    for name in ("pulumi", "pulumi-kubernetes", "pydantic", "pyyaml"):
        assert name in versions, (name, ranges[name])
    # Nothing of the apparatus or the operator commands was installed.
    site = next((fresh_venv / "lib").glob("python3*/site-packages"))
    assert not {p.name for p in site.iterdir()} & {"components", "ops", "testbed", "tests", "offline", "e2e"}


@pytest.mark.parametrize("mode", ["update", "preview"])
def test_the_installed_wheel_deploys_devs_objects(fresh_venv, tmp_path, mode):
    harness = tmp_path / "harness"
    harness.mkdir()
    (harness / "ops").symlink_to(ROOT / "ops")  # the mock runner alone, not the checkout
    proc = run(fresh_venv / "bin" / "python", ROOT / "tests" / "fixtures" / "wheel_consumer.py",
               ROOT / "examples" / "python" / "__main__.py", mode, cwd=tmp_path, env={"PYTHONPATH": str(harness)})
    got = json.loads(proc.stdout.splitlines()[-1])
    assert got["error"] is None, got["error"]
    assert got["component_from"].startswith(str(fresh_venv)), got["component_from"]
    assert got["checkout_importable"] == [] and got["version"] == VERSION
    dev = offline.run_stack("dev", preview=mode == "preview")
    assert got["manifests"] == sorted(json.dumps(m, sort_keys=True) for m in dev.manifests(masked=True))
