"""What the tests share: running a variant of a stack under mocks, and asking the local cluster what is left.

Test modules import from here (and from support.variants, support.agent_clients), never from each other.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from ops import offline
from ops.recovery import orphans

ROOT = Path(__file__).resolve().parent.parent.parent
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


def container(run: offline.Run, deployment: str) -> dict[str, Any]:
    return run.one("Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]


def refused(result: offline.Run, *fragments: str) -> str:
    """The run failed on its settings, naming each fragment, before anything was registered."""
    assert result.error is not None, "the settings were accepted"
    assert result.resources == [], "something was registered before the settings error"
    for fragment in fragments:
        assert fragment in result.error, result.error
    return result.error


# ---------------------------------------------------------- the local cluster

CLUSTER_DIR = ROOT / "build" / "test-cluster"
# `make cluster` uses 16400: the two run side by side (another test run can pick its own).
CLUSTER_PORT_BASE = int(os.environ.get("TEST_CLUSTER_PORT_BASE", "16500"))

NS = "llama-stack"
MCP = "kubernetes-mcp-server"
LLAMA = "llama-stack"
PART_OF = "app.kubernetes.io/part-of=llamastack-mcp"
MCP_DEPLOYMENT = f"kubernetes:apps/v1:Deployment::deployment:{NS}/{MCP}"
CLUSTER_ROLE = f"kubernetes:rbac.authorization.k8s.io/v1:ClusterRole::clusterrole:{NS}-{MCP}"
SERVICE_ACCOUNT = f"kubernetes:core/v1:ServiceAccount::serviceaccount:{NS}/{MCP}"
# Every kind the program creates (ops/recovery/orphans.py lists them once), and what its Deployments make.
NAMESPACED_KINDS = ",".join((*orphans.NAMESPACED, "replicasets", "pods"))
CLUSTER_KINDS = ",".join((*orphans.CLUSTER_SCOPED, "namespaces"))


def deployment(cluster, name: str, namespace: str = NS) -> dict:
    return cluster.get("deployment", name, "-n", namespace)


def available(dep: dict) -> bool:
    conditions = {c["type"]: c["status"] for c in dep.get("status", {}).get("conditions", [])}
    return conditions.get("Available") == "True"


def namespace_gone(cluster, name: str = NS) -> None:
    """Gone after a destroy: a namespace the stack created was kept (with its data); this deletes it with
    the command destroy names for that, `kubectl delete namespace NAME`."""
    cluster.kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=false", check=False)
    cluster.wait_until(f"namespace {name} is gone",
                       lambda: cluster.kubectl("get", "namespace", name, check=False).returncode != 0, timeout=120)


def leftovers(cluster) -> list[str]:
    """Every object labelled as ours, anywhere, and the namespace."""
    found = cluster.kubectl("get", NAMESPACED_KINDS, "-A", "-l", PART_OF, "-o", "name").stdout.split()
    found += cluster.kubectl("get", CLUSTER_KINDS, "-l", PART_OF, "-o", "name").stdout.split()
    if cluster.kubectl("get", "namespace", NS, check=False).returncode == 0:
        found.append(f"namespace/{NS}")
    return sorted(set(found))


def pulumi_sh(cluster, project, stack: str, *args: str, home: Path, kubeconfig: bool, backend: str | None = None,
              extra_env: dict[str, str] | None = None):
    """ops/pulumi.sh, what `make up/preview/destroy/verify/ask` run, in a clean environment:
    `kubeconfig=False` is a newcomer's machine (no KUBECONFIG, no ~/.kube/config: the local cluster)."""
    env = {k: v for k, v in cluster.env().items() if k not in ("KUBECONFIG", "PULUMI_BACKEND_URL", "LLAMA_STACK_TOKEN")}
    env.update(HOME=str(home), PULUMI_HOME=str(home / ".pulumi"), PROJECT_DIR=str(project.workdir),
               CLUSTER_DIR=str(cluster.directory), PORT_BASE=str(cluster.port_base))
    if kubeconfig:
        env["KUBECONFIG"] = str(cluster.kubeconfig)
    if backend:
        env["PULUMI_BACKEND_URL"] = backend
    env.update(extra_env or {})
    return cluster.run(["bash", str(ROOT / "ops" / "pulumi.sh"), stack, *args], env=env,
                       name=f"pulumi.sh-{args[0]}", check=False)
