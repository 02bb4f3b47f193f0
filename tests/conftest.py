"""Runs the real program (`__main__.py`) under Pulumi's mocks; see offline/."""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import offline  # noqa: E402

TEST_SECRETS = {"inferenceApiKey": "sk-test-INFERENCE-0123456789", "postgresPassword": "pg-test-PASSWORD-9876"}


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def run_variant(base_stack: str = "dev", preview: bool = False, secrets: dict[str, str] | None = None,
                **overrides: Any) -> offline.Run:
    """Run a stack's settings with some keys deep-merged over them."""
    values, _ = offline.stack_settings(base_stack)
    values = deep_merge(values, overrides)
    return offline.run(values, secrets if secrets is not None else {}, preview=preview, stack=base_stack)


@pytest.fixture(params=[False, True], ids=["update", "preview"])
def preview(request) -> bool:
    return request.param


@pytest.fixture
def dev(preview) -> offline.Run:
    result = offline.run_stack("dev", preview=preview)
    assert result.error is None, result.error
    return result


@pytest.fixture
def prod(preview) -> offline.Run:
    result = offline.run_stack("prod", preview=preview, secrets={"postgresPassword": TEST_SECRETS["postgresPassword"]})
    assert result.error is None, result.error
    return result


def container(run: offline.Run, deployment: str) -> dict[str, Any]:
    return run.one("Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]


# ---------------------------------------------------------- the local cluster

CLUSTER_DIR = ROOT / "build" / "test-cluster"
# `make cluster` uses 16400: the two run side by side (another test run can pick its own).
CLUSTER_PORT_BASE = int(os.environ.get("TEST_CLUSTER_PORT_BASE", "16500"))


@pytest.fixture(scope="session")
def cluster():
    """A fresh local control plane for this test session (localcluster/), stopped at the end.

    Its logs and every command's output stay in build/test-cluster/ for a failed run.
    """
    from localcluster.harness import LocalCluster, toolchain_missing

    missing = toolchain_missing()
    if missing:
        pytest.fail(f"the toolchain lacks {', '.join(missing)}: run `make toolchain`")
    local = LocalCluster(CLUSTER_DIR, CLUSTER_PORT_BASE).up(fresh=True)
    yield local
    local.down()
