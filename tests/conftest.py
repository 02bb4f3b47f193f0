"""Fixtures: stacks run under Pulumi's mocks (see ops/offline/), and the local cluster for the cluster layer.

Layers: unit/ (the program under mocks, every variant), servers/ (the real servers as processes
on loopback), cluster/ (the real engine on a local control plane). Shared helpers: support/.
"""

from __future__ import annotations

import pytest

from ops import offline
from support import CLUSTER_DIR, CLUSTER_PORT_BASE, TEST_SECRETS


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


@pytest.fixture(scope="session")
def cluster():
    """A fresh local control plane for this test session (testbed/localcluster/), stopped at the end.

    Its logs and every command's output stay in build/test-cluster/ for a failed run.
    """
    from testbed.localcluster.harness import LocalCluster, toolchain_missing

    missing = toolchain_missing()
    if missing:
        pytest.fail(f"the toolchain lacks {', '.join(missing)}: run `make toolchain`")
    local = LocalCluster(CLUSTER_DIR, CLUSTER_PORT_BASE).up(fresh=True)
    yield local
    local.down()
