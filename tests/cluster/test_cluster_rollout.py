"""A failed rollout on the local cluster: caught in bounded time, the service stays up, one `up` rolls back.

kwok's `pod-never-ready` Stage (testbed/localcluster/stages.yaml) keeps pods of
NEVER_READY running but never Ready, as a broken release would. Promoting it
into prod must fail `pulumi up` within mcpServer.rolloutTimeoutSeconds, naming
the Deployment, while the old pods keep serving (maxUnavailable 0, PDB); the
docs/operations.md's rollback (promote the previous release) is one `pulumi up`.
"""

from __future__ import annotations

import threading
import time

import pytest

from support import TEST_SECRETS
from testbed.localcluster.harness import Project
from support import NS, available, deployment, leftovers, namespace_gone

MCP = "kubernetes-mcp-server"
NEVER_READY = "quay.io/containers/kubernetes_mcp_server:v0.0.0-never-ready"  # = testbed/localcluster/stages.yaml
TIMEOUT = 30  # the smallest rolloutTimeoutSeconds allowed: keeps the test short


@pytest.fixture(scope="module")
def prod(cluster, tmp_path_factory):
    assert leftovers(cluster) == [], "an earlier module left objects behind"
    project = Project(cluster, tmp_path_factory.mktemp("rollout") / "project", "prod",
                      secrets={"postgresPassword": TEST_SECRETS["postgresPassword"]})
    project.up()
    cluster.wait_until("the MCP server at the HPA's minimum of 2 ready replicas",
                       lambda: deployment(cluster, MCP)["status"].get("readyReplicas") == 2, timeout=90)
    yield project
    project.destroy()
    namespace_gone(cluster)


class Sampler(threading.Thread):
    """The MCP Deployment's available replicas, sampled while a command runs."""

    def __init__(self, cluster) -> None:
        super().__init__(daemon=True)
        self.cluster, self.samples, self.done = cluster, [], threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            status = deployment(self.cluster, MCP)["status"]
            self.samples.append((status.get("availableReplicas", 0), status.get("updatedReplicas", 0)))
            time.sleep(0.5)


@pytest.fixture(scope="module")
def bad_release(cluster, prod):
    """Promote the never-ready image (as a bad promotion would) and run `pulumi up` once."""
    good = prod.settings()["llamastack-mcp:mcpServer"]
    prod.set_setting("mcpServer", {**good, "image": NEVER_READY, "rolloutTimeoutSeconds": TIMEOUT})
    sampler = Sampler(cluster)
    sampler.start()
    started = time.monotonic()
    result = prod.up(check=False)
    elapsed = time.monotonic() - started
    sampler.done.set()
    sampler.join()
    return {"result": result, "elapsed": elapsed, "samples": sampler.samples, "good": good}


def test_a_release_that_never_gets_ready_fails_up_in_bounded_time(bad_release):
    result, elapsed = bad_release["result"], bad_release["elapsed"]
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    # Pulumi's own start and the provider's await add some seconds to the timeout, never minutes.
    assert TIMEOUT <= elapsed < TIMEOUT + 60, f"up took {elapsed:.0f}s with rolloutTimeoutSeconds {TIMEOUT}"
    assert f"{NS}/{MCP}" in output and "Deployment" in output, output[-3000:]
    assert "timed out" in output or "not ready" in output.lower(), output[-3000:]


def test_the_old_pods_keep_serving_throughout(cluster, bad_release):
    samples = bad_release["samples"]
    assert samples, "nothing sampled during the rollout"
    assert any(updated >= 1 for _, updated in samples), f"the bad release never started: {samples}"
    assert min(a for a, _ in samples) >= 2, f"available replicas fell below the minimum of 2: {samples}"
    dep = deployment(cluster, MCP)
    assert available(dep) and dep["status"]["availableReplicas"] >= 2
    images = {p["spec"]["containers"][0]["image"]: 0 for p in cluster.get("pods", "-n", NS, "-l",
                                                                          f"app.kubernetes.io/name={MCP}")["items"]}
    assert NEVER_READY in images and bad_release["good"]["image"] in images, images


def test_promoting_the_previous_release_rolls_back_with_one_up(cluster, prod, bad_release):
    prod.set_setting("mcpServer", bad_release["good"])
    prod.up()
    dep = deployment(cluster, MCP)
    assert available(dep)
    assert dep["status"]["updatedReplicas"] == dep["status"]["readyReplicas"] == dep["status"]["replicas"] >= 2, \
        dep["status"]
    cluster.wait_until("only the good release's pods remain", lambda: {
        p["spec"]["containers"][0]["image"]
        for p in cluster.get("pods", "-n", NS, "-l", f"app.kubernetes.io/name={MCP}")["items"]
        if not p["metadata"].get("deletionTimestamp")} == {bad_release["good"]["image"]}, timeout=60)
    prod.pulumi("preview", "--expect-no-changes")
