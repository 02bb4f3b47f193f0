"""What running pods use against their rendered limits: the metrics API (metrics-server, from the
kubelet), the node's cgroups (CPU throttling, peak memory) and the pods' own status (restarts, OOMKilled)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from components.quantity import parse_quantity

CGROUP = Path("/sys/fs/cgroup")  # cgroup v1 (this machine's), the kubelet's cgroupfs driver


@dataclass(frozen=True)
class Usage:
    pod: str
    cpu_millicores: float
    memory_bytes: int


def usage(cluster, namespace: str, selector: str) -> list[Usage]:
    """Per pod, now (metrics-server's last window), summed over the pod's containers."""
    raw = cluster.get_raw(f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods?labelSelector={selector}")
    out = []
    for item in raw["items"]:
        cpu = sum(parse_quantity(c["usage"]["cpu"]) for c in item["containers"]) * 1000
        memory = sum(parse_quantity(c["usage"]["memory"]) for c in item["containers"])
        out.append(Usage(item["metadata"]["name"], cpu, int(memory)))
    return out


def _container_cgroup(controller: str, pod_uid: str, container_id: str) -> Optional[Path]:
    short = container_id.split("://", 1)[-1]
    for candidate in (CGROUP / controller / "kubepods").glob(f"**/pod{pod_uid}/{short}"):
        return candidate
    return None


def ephemeral_storage(cluster, node: str, namespace: str, container: str) -> dict[str, int]:
    """Per pod on the node: the bytes the container writes to the node's disk (its logs and writable
    layer, as the kubelet counts them against its ephemeral-storage limit), from the kubelet's summary."""
    summary = cluster.get_raw(f"/api/v1/nodes/{node}/proxy/stats/summary")
    out = {}
    for pod in summary.get("pods", []):
        if pod["podRef"]["namespace"] != namespace:
            continue
        for c in pod.get("containers", []):
            if c["name"] == container:
                out[pod["podRef"]["name"]] = (c.get("rootfs", {}).get("usedBytes", 0)
                                              + c.get("logs", {}).get("usedBytes", 0))
    return out


def placement(pod: dict) -> str:
    """'ready'; 'insufficient cpu' (or another scheduler verdict) when it cannot be placed; '' while undecided."""
    conditions = {c["type"]: c for c in pod.get("status", {}).get("conditions", [])}
    if conditions.get("Ready", {}).get("status") == "True":
        return "ready"
    scheduled = conditions.get("PodScheduled", {})
    if scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
        return "insufficient cpu" if "Insufficient cpu" in scheduled.get("message", "") else scheduled.get("message", "?")
    return ""


def running(pod: dict, container: str) -> bool:
    """Whether the container has started (and so has cgroups to read)."""
    return any(s["name"] == container and "running" in s.get("state", {})
               for s in pod.get("status", {}).get("containerStatuses", []))


def cgroup_counters(pod: dict, container: str) -> dict[str, int]:
    """CPU throttling and peak memory of one running container, from its cgroups."""
    status = next(s for s in pod["status"]["containerStatuses"] if s["name"] == container)
    uid = pod["metadata"]["uid"]
    found: dict[str, int] = {}
    cpu = _container_cgroup("cpu,cpuacct", uid, status["containerID"]) or _container_cgroup("cpu", uid, status["containerID"])
    if cpu:
        stats = dict(line.split() for line in (cpu / "cpu.stat").read_text().splitlines())
        found.update(periods=int(stats["nr_periods"]), throttled=int(stats["nr_throttled"]))
    memory = _container_cgroup("memory", uid, status["containerID"])
    if memory:
        found.update(peak_memory=int((memory / "memory.max_usage_in_bytes").read_text()),
                     memory_limit=int((memory / "memory.limit_in_bytes").read_text()),
                     oom_events=int(dict(line.split() for line in (memory / "memory.oom_control").read_text()
                                        .splitlines()).get("oom_kill", "0")))
    return found


def restarts(pod: dict) -> dict[str, tuple[int, str]]:
    """Per container: its restart count and the reason it last ended ('' when it never did)."""
    return {s["name"]: (s["restartCount"], s.get("lastState", {}).get("terminated", {}).get("reason", ""))
            for s in pod["status"]["containerStatuses"]}
