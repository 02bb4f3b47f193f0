"""The real node's cluster, one per test session (one real node per machine): every scenario module here
runs on it, in file order; test_teardown.py last, which takes it down and checks the machine."""

from __future__ import annotations

import pytest

from support.real_node import REAL_CLUSTER_DIR, REAL_PORT_BASE, deploy_prod, machine_sysctls, remove_prod
from testbed.localcluster.harness import LocalCluster


@pytest.fixture(scope="session")
def sysctls_before() -> dict[str, str]:
    return machine_sysctls()


@pytest.fixture(scope="session")
def real(sysctls_before):
    cluster = LocalCluster(REAL_CLUSTER_DIR, REAL_PORT_BASE, node="real").up(fresh=True)
    yield cluster
    cluster.down()


@pytest.fixture(scope="module")
def prod(real, tmp_path_factory):
    """prod, deployed for the module that asks for it and removed when that module ends: no module
    depends on another's stack."""
    project = deploy_prod(real, tmp_path_factory)
    yield project
    remove_prod(real, project)
