"""What only running pods show, on prod: NetworkPolicies enforced by the node's policy agent, a promotion,
a bad release and a drain under bounded traffic with no failed request, the alerts on a real Prometheus,
the HPA on real CPU and back, each server within its limits. Loads go only to this machine's addresses.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import json
import subprocess
import threading
import time
from typing import Iterator, Optional

import pytest

from support import LLAMA, MCP, NS, ROOT, TEST_SECRETS
from support.agent_clients import MODEL, call
from testbed.traffic import resources
from testbed.traffic.load import AgentLoad, McpLoad, Result
from testbed.traffic.probes import Probes, probe_pod
from testbed.traffic.prometheus import NAMESPACE as MONITORING, Prometheus
from support.real_node import (MCP_SERVING_SECRET, REAL_CLUSTER_DIR, REAL_NODE, REAL_PORT_BASE, SOAK,
                               pods, record, token)


# ------------------------------------------------------ what only running pods can show (prod)
# The NetworkPolicy agent (kube-router's policy controller) and metrics-server run on the node
# (testbed/localcluster/node/); the load and the probes go only to the node's own addresses.

def mcp_target(real) -> dict:
    """Where and how a client of prod's MCP Service connects: its address, certificate and name."""
    ca = REAL_CLUSTER_DIR / "mcp-ca.crt"
    secret = real.get("secret", MCP_SERVING_SECRET, "-n", NS)
    ca.write_text(base64.b64decode(secret["data"]["ca.crt"]).decode())
    ip = real.get("service", MCP, "-n", NS)["spec"]["clusterIP"]
    return {"url": f"https://{ip}:8080/mcp", "ca": ca, "server_name": f"{MCP}.{NS}.svc"}


def tool_load(real, who: str = "alice", tool: str = "pods_list_in_namespace", **bounds) -> McpLoad:
    return McpLoad(**mcp_target(real), token=token(real, who), tool=tool, arguments={"namespace": NS}, **bounds)


@pytest.fixture(scope="module")
def probes(real, prod):
    # Another namespace, an unlabelled pod in the stack's own, and the monitoring namespace (prod on
    # plain Kubernetes admits it by name; OpenShift's by its policy-group label, set as OpenShift does).
    # The ingress controller's namespace (plain Kubernetes' default name; OpenShift's label on it too).
    pods = [probe_pod("probe", "elsewhere"), probe_pod("probe", NS), probe_pod("probe", MONITORING),
            probe_pod("probe", INGRESS)]
    with Probes(real, pods) as found:
        real.kubectl("label", "namespace", MONITORING, "network.openshift.io/policy-group=monitoring", "--overwrite")
        real.kubectl("label", "namespace", INGRESS, "network.openshift.io/policy-group=ingress", "--overwrite")
        yield found
    real.kubectl("delete", "namespace", "elsewhere", INGRESS, "--wait=false", check=False)


def verdicts(real, probes) -> dict[str, bool]:
    """Who can open a connection to the MCP server (its Service and one pod) and to Llama Stack."""
    mcp_service = real.get("service", MCP, "-n", NS)["spec"]["clusterIP"]
    mcp_pod = pods(real, MCP)[0]["status"]["podIP"]
    stack_service = real.get("service", LLAMA, "-n", NS)["spec"]["clusterIP"]
    llama_pod = pods(real, LLAMA)[0]["metadata"]["name"]
    sources = {"elsewhere": ("elsewhere", "probe"), "same-namespace": (NS, "probe"),
               "monitoring": (MONITORING, "probe"), "ingress": (INGRESS, "probe"), "llama-stack": (NS, llama_pod)}
    tries = {f"{label} -> mcp": [(namespace, pod, mcp_service, 8080), (namespace, pod, mcp_pod, 8080)]
             for label, (namespace, pod) in sources.items()}
    tries.update({f"{label} -> llama-stack": [(*sources[label], stack_service, 8321)]
                  for label in ("elsewhere", "same-namespace", "ingress")})
    # In parallel: a dropped connection answers nothing and costs the probe's whole timeout.
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        answers = {key: [pool.submit(probes.reaches, *t, timeout=2.0) for t in attempts]
                   for key, attempts in tries.items()}
        out = {}
        for key, futures in answers.items():
            results = {f.result() for f in futures}
            assert len(results) == 1, f"{key}: the Service and the pod disagree"
            out[key] = results.pop()
    return out


INGRESS = "ingress-nginx"  # networkPolicy.ingressNamespace's default
# prod as the tests deploy it: Llama Stack exposed through an Ingress (the local edge's), so the ingress
# controller's namespace may reach it; nothing but Llama Stack and monitoring reaches the MCP server.
PROD_AS_RENDERED = {"elsewhere -> mcp": False, "same-namespace -> mcp": False, "monitoring -> mcp": True,
                    "ingress -> mcp": False, "llama-stack -> mcp": True, "elsewhere -> llama-stack": False,
                    "same-namespace -> llama-stack": True, "ingress -> llama-stack": True}


def test_prod_network_policies_are_enforced_on_the_node(real, prod, probes):
    assert verdicts(real, probes) == PROD_AS_RENDERED


def rendered_policies(prod, **overrides) -> list[dict]:
    """The NetworkPolicies `pulumi up` would make of this stack's settings with some keys changed."""
    from ops import offline
    from support import deep_merge
    values = {k.removeprefix("llamastack-mcp:"): v for k, v in prod.settings().items()
              if k.startswith("llamastack-mcp:") and not (isinstance(v, dict) and "secure" in v)}
    run = offline.run(deep_merge(values, overrides), {"postgresPassword": TEST_SECRETS["postgresPassword"]},
                      stack="prod")
    assert run.error is None, run.error
    return run.find("NetworkPolicy")


def apply_policies(real, policies: list[dict]) -> None:
    real.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager", "test-variant", "-f", "-",
                 input=json.dumps({"apiVersion": "v1", "kind": "List", "items": policies}))


@pytest.mark.parametrize("variant, overrides, changed", [
    # OpenShift finds its monitoring and router namespaces by the policy-group label, not by name (a Route: no
    # Ingress controller to name).
    ("openshift", {"platform": "openshift", "llamaStack": {"route": {"ingressController": "ingress-nginx"}}}, {}),
    # No ServiceMonitor: nothing from monitoring may reach the MCP server any more.
    ("no-monitoring", {"monitoring": {"serviceMonitor": False, "prometheusRule": False}}, {"monitoring -> mcp": False}),
    # Llama Stack not exposed: the ingress controller's namespace may no longer reach it.
    ("llama-stack-unexposed", {"llamaStack": {"route": {"enabled": False}}}, {"ingress -> llama-stack": False}),
])
def test_every_variants_rendered_policies_hold_the_same_way(real, prod, probes, variant, overrides, changed):
    policies = rendered_policies(prod, **overrides)
    assert {p["metadata"]["name"] for p in policies} == {MCP, LLAMA}
    try:
        apply_policies(real, policies)
        time.sleep(3)  # the agent syncs on the policy's watch event
        assert verdicts(real, probes) == {**PROD_AS_RENDERED, **changed}, variant
    finally:
        apply_policies(real, rendered_policies(prod))
    assert verdicts(real, probes) == PROD_AS_RENDERED


def test_turning_the_policies_off_opens_the_path_and_on_closes_it(real, prod, probes):
    stack_file = prod.stack_file.read_text()
    prod.set_setting("networkPolicy", {"enabled": False})  # prod requires the caller's token: no opt-in needed
    try:
        assert prod.up(check=False).returncode == 0
        assert real.get("networkpolicies", "-n", NS)["items"] == []
        time.sleep(3)
        assert all(verdicts(real, probes).values()), "with no policy every pod reaches both servers"
    finally:
        prod.stack_file.write_text(stack_file)
        assert prod.up(check=False).returncode == 0
    time.sleep(3)
    assert verdicts(real, probes) == PROD_AS_RENDERED


@pytest.fixture(scope="module")
def second_node(real, prod):
    """A second real node: room for a rolling update's surge pods. On one 2-core node prod's requests
    (2 x 250m + 2 x 500m, with the database, model and probe pods 1,610m of 2,000m) leave none for
    a new Llama Stack pod (500m), so a rollout would wait for CPU forever; a real cluster has spare
    capacity. The drain test moves the servers back and removes it."""
    name = real.add_node()
    yield name
    real.remove_node()


class Serving(threading.Thread):
    """The fewest available replicas each Deployment had while a command ran (sampled every second)."""

    def __init__(self, real) -> None:
        super().__init__(daemon=True)
        self.real, self.fewest, self.done = real, {MCP: 99, LLAMA: 99}, threading.Event()

    def run(self) -> None:
        while not self.done.wait(1):
            for app in self.fewest:
                status = self.real.get("deployment", app, "-n", NS)["status"]
                self.fewest[app] = min(self.fewest[app], status.get("availableReplicas", 0))

    def __enter__(self) -> "Serving":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.join(5)


def agent_load(real, **bounds) -> AgentLoad:
    stack = real.get("service", LLAMA, "-n", NS)["spec"]["clusterIP"]
    return AgentLoad(f"http://{stack}:8321", token=token(real, "alice"), model=MODEL,
                     prompt=call("pods_list_in_namespace", namespace=NS),
                     server_url=f"https://{MCP}.{NS}.svc.cluster.local:8080/mcp", **bounds)


def image_id(pod: dict, container: str) -> str:
    return next(s for s in pod["status"]["containerStatuses"] if s["name"] == container)["imageID"]


def test_a_promotion_rolls_prod_under_agent_traffic_without_a_failed_request(real, prod, second_node):
    """make promote FROM=dev TO=prod, then make up STACK=prod, while agents and tool callers loop."""
    from ops.promote import promote
    # dev was tested with both images pinned by digest (the same builds): the promotion carries them.
    pinned = {MCP: image_id(pods(real, MCP)[0], MCP), LLAMA: image_id(pods(real, LLAMA)[0], LLAMA)}
    dev = (ROOT / "Pulumi.dev.yaml").read_text()
    for tagged, digest in (("quay.io/containers/kubernetes_mcp_server:v0.0.67", pinned[MCP]),
                           ("docker.io/llamastack/distribution-starter:0.7.3", pinned[LLAMA])):
        assert f"image: {tagged}" in dev and "@sha256:" in digest
        dev = dev.replace(f"image: {tagged}", f"image: {digest}")
    prod.stack_file.write_text(promote(dev, prod.stack_file.read_text(), "prod"))
    old = {app: {p["metadata"]["name"] for p in pods(real, app)} for app in (MCP, LLAMA)}
    tools = tool_load(real, workers=2, pace=0.25, seconds=420, max_calls=5000)
    agents = agent_load(real, workers=1, pace=1.0, seconds=420, max_calls=500, timeout=120)
    with tools, agents, Serving(real) as serving:
        started = time.monotonic()
        up = prod.up(check=False)
        up_seconds = time.monotonic() - started
        time.sleep(10)  # and the new pods serve a while
    assert up.returncode == 0, up.stdout[-2000:]
    tool_calls, turns = tools.stop(), agents.stop()
    for app in (MCP, LLAMA):
        # The old pods serve out their preStop delay (shutdownDelaySeconds) and in-flight calls as Terminating.
        real.wait_until(f"{app}'s old pods gone", lambda: not {
            p["metadata"]["name"] for p in pods(real, app)} & old[app], timeout=120)
        running = pods(real, app)
        assert not {p["metadata"]["name"] for p in running} & old[app], f"{app}: every pod was replaced"
        assert {p["spec"]["containers"][0]["image"] for p in running} == {pinned[app]}
        assert serving.fewest[app] >= 2, f"{app}: the old pods served until the new were Ready ({serving.fewest})"
    record("promotion", {"tool_calls": tool_calls.summary(), "agent_turns": turns.summary(),
                         "fewest_available": serving.fewest, "up_seconds": round(up_seconds),
                         "failures": [c.detail for c in (tool_calls.failed + turns.failed)[:5]]})
    assert len(turns.calls) >= 10 and not turns.failed, f"{turns.summary()}: {turns.failed[:3]}"
    assert tool_calls.calls and not tool_calls.failed, f"{tool_calls.summary()}: {tool_calls.failed[:3]}"


NEVER_READY = "quay.io/containers/kubernetes_mcp_server:v0.0.0-never-ready"  # never imported: never pulled


def test_a_release_that_never_gets_ready_keeps_prod_serving_and_one_up_rolls_back(real, prod, second_node):
    good = prod.stack_file.read_text()
    mcp = prod.settings()["llamastack-mcp:mcpServer"]
    prod.set_setting("mcpServer", {**mcp, "image": NEVER_READY, "rolloutTimeoutSeconds": 30})
    tools = tool_load(real, workers=2, pace=0.25, seconds=300, max_calls=5000)
    with tools, Serving(real) as serving:
        started = time.monotonic()
        bad = prod.up(check=False)
        failed_in = time.monotonic() - started
        stuck = [p for p in pods(real, MCP) if p["spec"]["containers"][0]["image"] == NEVER_READY]
        prod.stack_file.write_text(good)  # the rollback: the previous release, promoted back
        rollback = prod.up(check=False)
    result = tools.stop()
    assert bad.returncode != 0 and MCP in bad.stdout + bad.stderr, bad.stdout[-2000:]
    assert failed_in < 30 + 120, f"the failed rollout was reported in {failed_in:.0f} s"
    assert stuck and all(s["state"].get("waiting", {}).get("reason") == "ErrImageNeverPull"
                         for p in stuck for s in p["status"]["containerStatuses"]), stuck
    assert rollback.returncode == 0, rollback.stdout[-2000:]
    real.wait_until("the stuck pods gone after the rollback", lambda: not [
        p for p in pods(real, MCP) if p["spec"]["containers"][0]["image"] == NEVER_READY], timeout=60)
    assert serving.fewest[MCP] >= 2, serving.fewest
    record("failed_rollout", {"tool_calls": result.summary(), "failed_in_seconds": round(failed_in),
                              "fewest_available": serving.fewest, "failures": [c.detail for c in result.failed[:5]]})
    assert result.calls and not result.failed, f"{result.summary()}: {result.failed[:3]}"


SERVERS = f"app.kubernetes.io/name in ({MCP},{LLAMA})"  # what a drain moves: the database and model stay


def drain(real, node: str) -> subprocess.CompletedProcess:
    return real.kubectl("drain", node, "--pod-selector", SERVERS, "--ignore-daemonsets", "--delete-emptydir-data",
                        "--timeout=300s", check=False)


def seconds_to_ready(pod: dict) -> float:
    """From the pod's creation to its Ready condition: what one replica without a PDB is down for."""
    stamp = lambda text: time.mktime(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))  # noqa: E731
    ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready" and c["status"] == "True")
    return stamp(ready["lastTransitionTime"]) - stamp(pod["metadata"]["creationTimestamp"])


def on_nodes(real) -> set[str]:
    return {p["spec"]["nodeName"] for app in (MCP, LLAMA) for p in pods(real, app)}


def test_a_drain_moves_prods_servers_to_another_node_without_a_failed_request(real, prod, second_node):
    """kubectl drain under steady agent traffic: the PDBs keep each server serving while its pods move.
    Both servers are gathered on the first node, which is then drained onto the second and back."""
    first, second = REAL_NODE, second_node
    tools = tool_load(real, workers=2, pace=0.25, seconds=600, max_calls=5000)
    agents = agent_load(real, workers=1, pace=1.0, seconds=600, max_calls=600, timeout=120)
    steps: dict[str, float] = {}

    def drained(node: str, onto: str) -> None:
        started = time.monotonic()
        result = drain(real, node)
        assert result.returncode == 0, result.stdout + result.stderr
        for app in (MCP, LLAMA):
            real.kubectl("rollout", "status", "-n", NS, f"deployment/{app}", "--timeout=180s")
        steps[f"{node} -> {onto}"] = round(time.monotonic() - started)
        assert on_nodes(real) == {onto}, f"every server pod left {node}"
        real.kubectl("uncordon", node)

    try:
        with tools, agents, Serving(real) as serving:
            drained(second, onto=first)  # where the rollouts left some: gathered on the first
            drained(first, onto=second)  # the drain measured
            moved = {app: pods(real, app) for app in (MCP, LLAMA)}
            time.sleep(10)  # the moved pods serve a while
            drained(second, onto=first)  # back, before the second node goes
        tool_calls, turns = tools.stop(), agents.stop()
    finally:
        real.kubectl("uncordon", first, check=False)
        real.remove_node()
    assert second not in {n["metadata"]["name"] for n in real.get("nodes")["items"]}
    for app in (MCP, LLAMA):
        assert serving.fewest[app] >= 1, f"{app}: its PDB kept one serving ({serving.fewest})"
    record("drain", {"drains_seconds": steps, "fewest_available": serving.fewest,
                     "tool_calls": tool_calls.summary(), "agent_turns": turns.summary(),
                     "failures": [c.detail for c in (tool_calls.failed + turns.failed)[:5]],
                     # dev has one replica and no PDB: a drain evicts it at once, and it is down this long.
                     "single_replica_outage_seconds": {app: max(seconds_to_ready(p) for p in running)
                                                       for app, running in moved.items()}})
    assert len(turns.calls) >= 5 and not turns.failed, f"{turns.summary()}: {turns.failed[:3]}"
    assert tool_calls.calls and not tool_calls.failed, f"{tool_calls.summary()}: {tool_calls.failed[:3]}"


def test_prod_alerts_fire_on_live_series_and_resolve(real, prod):
    holding = 330 if SOAK else 0  # past MCPServerDown's `for: 5m`
    took: dict[str, float] = {}

    def until(what: str, alert: str, states: tuple[str, ...], timeout: float, since: float) -> None:
        real.wait_until(what, lambda: prometheus.alert(alert) in states, timeout=timeout, interval=5)
        took[what] = round(time.monotonic() - since)

    with Prometheus(real, REAL_CLUSTER_DIR / "prometheus", REAL_PORT_BASE + 30) as prometheus:
        up = 'up{namespace="llama-stack", job="kubernetes-mcp-server"}'
        # Every Ready MCP pod (the HPA may still hold more than two after the load) is scraped over TLS.
        real.wait_until("Prometheus scrapes every Ready MCP pod over TLS", lambda: len(
            [s for s in prometheus.query(up) if s["value"][1] == "1"]) == len(
            [p for p in pods(real, MCP) if resources.placement(p) == "ready"]) >= 2, timeout=120, interval=5)
        assert prometheus.alert("MCPServerDown") == "inactive"
        gone = time.monotonic()
        real.kubectl("scale", "deployment", MCP, "-n", NS, "--replicas=0")
        try:
            until("MCPServerDown pending", "MCPServerDown", ("pending", "firing"), 120, gone)
            if SOAK:
                until("MCPServerDown firing", "MCPServerDown", ("firing",), holding + 60, gone)
        finally:
            back = time.monotonic()
            real.kubectl("scale", "deployment", MCP, "-n", NS, "--replicas=2")
        real.kubectl("rollout", "status", "-n", NS, f"deployment/{MCP}", "--timeout=180s")
        until("MCPServerDown resolved", "MCPServerDown", ("inactive",), 120, back)
        # Tool calls that fail as the server counts them (k8s_mcp_tool_errors_total): an agent calling a
        # tool prod does not serve (read-only, no destructive tools). A tool that runs and reports a
        # failure (RBAC forbids it, the object is missing) returns isError and is not counted.
        assert prometheus.alert("MCPToolErrorRate") == "inactive"
        failing = tool_load(real, tool="pods_delete", workers=1, pace=0.5, seconds=(780 if SOAK else 150),
                            max_calls=2000)
        began = time.monotonic()
        with failing:
            until("MCPToolErrorRate pending", "MCPToolErrorRate", ("pending", "firing"), 150, began)
            if SOAK:  # `for: 10m`
                until("MCPToolErrorRate firing", "MCPToolErrorRate", ("firing",), 780, began)
        stopped = time.monotonic()
        assert failing.result.failed and not [c for c in failing.result.calls if c.ok], \
            "every call of a tool prod does not serve failed, as the alert saw"
        if SOAK:  # its rate window (5m) empties of errors
            until("MCPToolErrorRate resolved", "MCPToolErrorRate", ("inactive",), 420, stopped)
    record("alerts" + ("_soak" if SOAK else ""), {"seconds_after_the_cause": took})


def hpa_replicas(real) -> int:
    return real.get("deployment", MCP, "-n", NS)["spec"]["replicas"]


# How long the HPA keeps its highest recommendation before scaling down. `make soak` proves prod as shipped
# (no `behavior`: Kubernetes' 300 s); `make test` sets mcpServer.autoscaling.scaleDownStabilizationSeconds
# so the way back fits its time, and a window of 60 s still tells the setting from the default.
SCALE_DOWN_WINDOW = None if SOAK else 60


@contextlib.contextmanager
def scale_down_window(real, prod, seconds: Optional[int]) -> Iterator[int]:
    """prod with its MCP HPA's scale-down window set (None: as shipped), restored afterwards."""
    shipped = prod.stack_file.read_text()
    if seconds is not None:
        mcp = prod.settings()["llamastack-mcp:mcpServer"]
        prod.set_setting("mcpServer", {**mcp, "autoscaling": {**mcp["autoscaling"],
                                                              "scaleDownStabilizationSeconds": seconds}})
        assert prod.up(check=False).returncode == 0
    # As the API server holds it; an HPA without `behavior` has the controller's default window, 300 s.
    spec = real.get("hpa", MCP, "-n", NS)["spec"]
    window = spec.get("behavior", {}).get("scaleDown", {}).get("stabilizationWindowSeconds", 300)
    assert window == (300 if seconds is None else seconds), spec
    try:
        yield window
    finally:
        if seconds is not None:
            prod.stack_file.write_text(shipped)
            assert prod.up(check=False).returncode == 0


def within_limits(limits: dict, counters: dict, disk: dict) -> None:
    """A server's containers under load, against their rendered limits: memory below the limit (the cgroup's
    own limit is the rendered one), no OOM kill, the node disk they write below ephemeral-storage's limit."""
    memory_limit = int(resources.parse_quantity(limits["limits"]["memory"]))
    for name, found in counters.items():
        assert found["memory_limit"] == memory_limit and found["peak_memory"] < memory_limit, (name, found)
        assert found["oom_events"] == 0, (name, found)
    disk_limit = resources.parse_quantity(limits["limits"]["ephemeral-storage"])
    assert disk and all(used < disk_limit for used in disk.values()), (disk, disk_limit)


def mcp_pods_placed(real) -> dict[str, str]:
    """Every replica the HPA asked for either serves, never restarted, or waits for CPU the node does not have
    (on a 2-core node prod's requests, 250m per MCP replica and 500m per Llama Stack one, fit fewer than five)."""
    placed = real.wait_until("each new MCP pod Ready or unschedulable for want of CPU", lambda: (
        lambda found: found if all(state for state in found.values()) else None)(
        {p["metadata"]["name"]: resources.placement(p) for p in pods(real, MCP)}), timeout=180, interval=5)
    assert set(placed.values()) <= {"ready", "insufficient cpu"}, placed
    for pod in pods(real, MCP):
        if resources.running(pod, MCP):
            assert resources.restarts(pod) == {MCP: (0, "")}, pod["status"]["containerStatuses"]
    return placed


def back_at_minimum(real, ended: float, window: int) -> tuple[float, list[tuple[int, int]]]:
    """Seconds from the load's end until the HPA is at its minimum and the pods it removed are gone,
    with the replica counts seen on the way."""
    trace: list[tuple[int, int]] = []

    def at_minimum() -> bool:
        trace.append((round(time.monotonic() - ended), hpa_replicas(real)))
        return trace[-1][1] == 2
    real.wait_until("the HPA back at its minimum", at_minimum, timeout=window + 300, interval=5)
    took = time.monotonic() - ended
    real.wait_until("only the minimum's pods left", lambda: len(pods(real, MCP)) == 2, timeout=120)
    return took, trace


def test_prod_mcp_server_scales_out_on_real_cpu_and_back_without_a_failed_tool_call(real, prod):
    real.wait_until("the HPA reads real CPU from metrics-server", lambda: next(
        (m for m in real.get("hpa", MCP, "-n", NS)["status"].get("currentMetrics", [])
         if m.get("resource", {}).get("current", {}).get("averageUtilization") is not None), None), timeout=120)
    assert hpa_replicas(real) == 2, "at the minimum before the load"
    limits = next(c for c in pods(real, MCP)[0]["spec"]["containers"] if c["name"] == MCP)["resources"]
    samples, peak = [], 2
    with scale_down_window(real, prod, SCALE_DOWN_WINDOW) as window:
        load = tool_load(real, workers=6, seconds=240, max_calls=200_000)  # the HPA reaches its peak in ~90 s
        with load:
            deadline = time.monotonic() + load.seconds - 20
            while time.monotonic() < deadline:
                time.sleep(15)
                samples.append([u.cpu_millicores for u in resources.usage(real, NS, f"app.kubernetes.io/name={MCP}")])
                peak = max(peak, hpa_replicas(real))
                ready = real.get("deployment", MCP, "-n", NS)["status"].get("readyReplicas", 0)
                if not SOAK and ready > 2 and len(samples) >= 4:
                    time.sleep(20)  # the new pods serve a while under the load
                    break
            # The pods running now (one the HPA just added may still be starting): their cgroups under the load.
            counters = {p["metadata"]["name"]: resources.cgroup_counters(p, MCP) for p in pods(real, MCP)
                        if resources.running(p, MCP)}
            disk = resources.ephemeral_storage(real, REAL_NODE, NS, MCP)
            # Light traffic goes on while the HPA removes the pods it added (~60m of CPU in all: below the target).
            light = tool_load(real, workers=2, pace=0.5, seconds=window + 360, max_calls=5000).start()
        result: Result = load.stop()
        ended = time.monotonic()
        try:
            assert result.calls and not result.failed, f"{result.summary()}; first failures: {result.failed[:3]}"
            assert 2 < peak <= 5, f"the HPA stayed at {peak}: CPU samples {samples}"
            placed = mcp_pods_placed(real)
            within_limits(limits, counters, disk)
            record("hpa", {"summary": result.summary(), "calls": len(result.calls), "seconds": round(result.seconds),
                           "rate_per_second": round(result.rate, 1), "peak_replicas": peak,
                           "pod_cpu_millicores_samples": [[round(x) for x in s] for s in samples],
                           "busiest_pod_millicores": round(max(max(s) for s in samples if s)), "cgroups": counters,
                           "placement": placed, "ephemeral_storage_bytes": disk,
                           "node_allocatable_cpu": real.get("node", REAL_NODE)["status"]["allocatable"]["cpu"],
                           "cpu_request": limits["requests"]["cpu"], "cpu_limit": limits["limits"]["cpu"]})
            took, trace = back_at_minimum(real, ended, window)
            time.sleep(10)  # the two left serve on
        finally:
            during = light.stop()
    record("hpa_down" + ("_soak" if SOAK else ""), {
        "window_seconds": window, "seconds_to_minimum_after_the_load": round(took), "replicas_trace": trace,
        "tool_calls_while_scaling_down": during.summary(), "failures": [c.detail for c in during.failed[:5]]})
    # The HPA keeps its highest recommendation of the window; metrics lag the load by up to a sync (15 s)
    # and a scrape (15 s): not back before window - 30 s, and well before the next window would pass.
    assert window - 30 <= took <= window + 180, f"back at 2 after {took:.0f} s with a {window} s window: {trace}"
    assert during.calls and not during.failed, f"{during.summary()}: {during.failed[:3]}"


def test_llama_stack_stays_within_its_limits_under_agent_turns(real, prod):
    """The MCP server's limits are judged under the HPA test's load; Llama Stack's here, under unpaced agent
    turns (each one Responses call, one model call and one MCP tool call made from the Llama Stack pod)."""
    server = pods(real, LLAMA)[0]["spec"]["containers"][0]
    name, limits = server["name"], server["resources"]
    samples: list[list[int]] = []
    agents = agent_load(real, workers=3, seconds=60, max_calls=3000, timeout=60)  # sampled for 45 s, then stopped
    with agents:
        for _ in range(3):
            time.sleep(15)
            usage = resources.usage(real, NS, f"app.kubernetes.io/name={LLAMA}")
            samples.append([round(u.cpu_millicores) for u in usage])
        serving = [p for p in pods(real, LLAMA) if resources.running(p, name)]
        counters = {p["metadata"]["name"]: resources.cgroup_counters(p, name) for p in serving}
        disk = resources.ephemeral_storage(real, REAL_NODE, NS, name)
    turns = agents.stop()
    record("llama_stack_limits", {"agent_turns": turns.summary(), "pod_cpu_millicores_samples": samples,
                                  "cgroups": counters, "ephemeral_storage_bytes": disk,
                                  "limits": limits["limits"], "requests": limits["requests"]})
    assert len(turns.calls) >= 30 and not turns.failed, f"{turns.summary()}: {turns.failed[:3]}"
    within_limits(limits, counters, disk)
    for pod in pods(real, LLAMA):
        if pod["metadata"]["name"] in counters:  # throttled or not, its probes held: Ready, never restarted
            assert resources.placement(pod) == "ready" and resources.restarts(pod)[name] == (0, ""), pod["status"]


def test_make_verify_passes_against_prod(real, prod):
    python = str(ROOT / "venv" / "bin" / "python")
    result = real.run([python, "-m", "ops.verify", "--stack", "prod", "--port-forward", "--token", token(real, "alice")],
                      cwd=prod.workdir, env={**prod.env(), "PYTHONPATH": str(ROOT)}, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("Llama Stack health", "models through Llama Stack", "MCP server health", "MCP server lists tools"):
        assert f"PASS  {check}" in result.stdout, result.stdout


