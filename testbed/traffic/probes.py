"""Can a pod open a TCP connection to another: probe pods, and the verdict each gives.

A probe pod runs the Llama Stack image (it has a Python) under the restricted profile, doing nothing
until asked; `reaches` execs one connection attempt in it. Only addresses of the node's own ranges
are ever tried (the targets are Service and pod addresses of the local cluster).
"""

from __future__ import annotations

import json
from typing import Optional

from .load import local_only

IMAGE = "docker.io/llamastack/distribution-starter:0.7.3"  # imported on the real node beforehand
CONNECT = ("import socket, sys\n"
           "try:\n"
           "    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])).close()\n"
           "    print('open')\n"
           "except OSError as error:\n"
           "    print('closed', type(error).__name__)\n")


def probe_pod(name: str, namespace: str, labels: Optional[dict[str, str]] = None) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": {"enableServiceLinks": False, "automountServiceAccountToken": False,
                     "terminationGracePeriodSeconds": 0,
                     "securityContext": {"runAsNonRoot": True, "runAsUser": 65534,
                                         "seccompProfile": {"type": "RuntimeDefault"}},
                     "containers": [{"name": "probe", "image": IMAGE, "imagePullPolicy": "Never",
                                     "command": ["python3", "-c", "import time; time.sleep(3600)"],
                                     "resources": {"requests": {"cpu": "10m", "memory": "32Mi"},
                                                   "limits": {"memory": "64Mi"}},
                                     "securityContext": {"allowPrivilegeEscalation": False,
                                                         "readOnlyRootFilesystem": True,
                                                         "capabilities": {"drop": ["ALL"]}}}]}}


class Probes:
    """Probe pods by (namespace, name); created together, ready together, deleted together."""

    def __init__(self, cluster, pods: list[dict]):
        self.cluster, self.pods = cluster, pods

    def __enter__(self) -> "Probes":
        for pod in self.pods:
            namespace = pod["metadata"]["namespace"]
            if self.cluster.kubectl("get", "namespace", namespace, check=False).returncode != 0:
                self.cluster.kubectl("create", "namespace", namespace)
        self.cluster.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": self.pods}))
        for pod in self.pods:
            self.cluster.kubectl("wait", "--for=condition=Ready", f"pod/{pod['metadata']['name']}",
                                 "-n", pod["metadata"]["namespace"], "--timeout=120s")
        return self

    def __exit__(self, *exc) -> None:
        for pod in self.pods:
            self.cluster.kubectl("delete", "pod", pod["metadata"]["name"], "-n", pod["metadata"]["namespace"],
                                 "--wait=false", check=False)

    def reaches(self, namespace: str, name: str, host: str, port: int, timeout: float = 3.0) -> bool:
        local_only(f"tcp://{host}:{port}")
        out = self.cluster.kubectl("exec", "-n", namespace, name, "--", "python3", "-c", CONNECT,
                                   host, str(port), str(timeout)).stdout.strip()
        assert out.startswith(("open", "closed")), out
        return out == "open"
