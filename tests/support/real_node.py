"""What the real node's scenario modules (tests/cluster/real_node/) share: where its cluster lives, the
machine's sysctls, a server's pods, a port-forward, tokens, the figures they record; prod as they deploy
it on plain Kubernetes, and its removal. Each module deploys and removes its own stacks.
"""

from __future__ import annotations

import contextlib
import json
import os
import ssl
import subprocess
from typing import Iterator

import httpx
import openai

from components import meta
from testbed.localcluster import model as model_endpoint
from testbed.localcluster.facts import EDGE_ADDRESS
from testbed.localcluster.harness import TOOLCHAIN_BIN, LocalCluster, Project
from ops import reach
from support import LLAMA, MCP, NS, ROOT, TEST_SECRETS, namespace_gone, pulumi_sh
from support import provided

# Its own control plane and ports: the kwok cluster of the other cluster tests runs beside it.
REAL_CLUSTER_DIR = ROOT / "build" / "test-real-node"
REAL_PORT_BASE = 16700
REAL_NODE = "real-node"  # the first real node's name (node.sh); add_node() gives a second
DATA_NS = "llama-stack-data"  # where prod's stack file puts its PostgreSQL: no stack creates it
# `make soak` sets SOAK=1: the long versions (alerts held past their `for`, the HPA back at its minimum).
SOAK = os.environ.get("SOAK") == "1"
FIGURES = REAL_CLUSTER_DIR / "figures.json"  # what the traffic tests measured (docs/performance.md#on-running-pods)


MACHINE_SYSCTLS = [line for line in (ROOT / "testbed" / "localcluster" / "node" / "machine-sysctls").read_text().splitlines()
                   if line and not line.startswith("#")]


def machine_sysctls() -> dict[str, str]:
    return {key: subprocess.run(["sysctl", "-n", key], capture_output=True, text=True).stdout.strip()
            for key in MACHINE_SYSCTLS}


def pods(cluster: LocalCluster, app: str) -> list[dict]:
    return cluster.get("pods", "-n", NS, "-l", f"app.kubernetes.io/name={app}")["items"]


@contextlib.contextmanager
def port_forward(cluster: LocalCluster, service: str, port: int, scheme: str = "http") -> Iterator[str]:
    """kubectl port-forward to a Service: through the API server and the kubelet, on loopback."""
    with reach.port_forward(NS, service, port, scheme, kubectl=str(TOOLCHAIN_BIN / "kubectl"),
                            env=cluster.env()) as url:
        yield url


def token(cluster: LocalCluster, account: str = "default") -> str:
    return cluster.kubectl("create", "token", account, "-n", "default").stdout.strip()



def served_at_the_edge(real: LocalCluster, base: str, ca) -> None:
    """Waits until the local edge routes `base` to the server: a new route, or a new pod behind it, reaches
    Traefik's configuration a moment after `up` returns (before that: its default certificate, or a 503)."""
    context = ssl.create_default_context(cafile=str(ca))

    def answers() -> bool:
        try:
            return httpx.get(f"{base}/v1/health", verify=context, timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    with reach.connected_at(base, EDGE_ADDRESS):
        real.wait_until(f"the edge routes {base}", answers, timeout=60)


def record(key: str, value) -> None:
    figures = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    figures[key] = value
    FIGURES.write_text(json.dumps(figures, indent=2, sort_keys=True))


# ------------------------------------------------------------------------------------------ prod
# Prod's stack file with only what plain Kubernetes needs instead of OpenShift's (no service CA, no
# router): the serving certificate comes from a Secret the test issues and the Route becomes an
# Ingress for the local edge (Traefik), with a certificate the test issues too. Its PostgreSQL, which a user provides, runs as a pod under the host name the file uses.

MCP_SERVING_SECRET = "mcp-serving"
EDGE_DOMAIN = "edge.test"  # the ways in's hosts: a reserved name (RFC 2606), never looked up, connected at the edge
PROD_HOST = f"prod-agents.{EDGE_DOMAIN}"
PROD_EDGE_CA = "prod-edge-ca.crt"  # under REAL_CLUSTER_DIR: the CA of prod's Ingress certificate
PEOPLE = {"alice": "view", "bob": None}  # alice may read the namespace; bob may read nothing


def deploy_prod(real, tmp_path_factory) -> Project:
    """prod on plain Kubernetes, with what a user provides around it (the model, the database, a trace
    collector, the serving certificate, two people), Ready."""
    password = TEST_SECRETS["postgresPassword"]
    # The scripted model where prod expects vLLM, as `make up` puts it for dev (already there when dev ran).
    real.kubectl("apply", "--server-side", "--field-manager", "local-cluster", "-f", "-",
                 input=json.dumps({"apiVersion": "v1", "kind": "List", "items": model_endpoint.manifest()}))
    real.kubectl("rollout", "status", "-n", model_endpoint.NAMESPACE, f"deployment/{model_endpoint.NAME}", "--timeout=180s")
    # The database before the stack (Llama Stack needs it to start), where prod's file puts it: a namespace
    # no stack creates, so no destroy takes it.
    real.kubectl("create", "namespace", DATA_NS)
    real.kubectl("create", "namespace", NS)  # for the serving certificate the user provides (the stack takes it over)
    real.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                      "items": provided.postgres(DATA_NS, password)}))
    real.kubectl("rollout", "status", "-n", DATA_NS, "deployment/postgres", "--timeout=120s")
    real.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": provided.collector()}))
    files = provided.serving_certificate(tmp_path_factory.mktemp("tls"), MCP, NS)
    real.kubectl("apply", "-f", "-", input=provided.tls_secret(MCP_SERVING_SECRET, NS, files))
    # The way in: an Ingress for the local edge (Traefik), its certificate from the test's own CA.
    edge = tmp_path_factory.mktemp("edge-tls")
    real.kubectl("apply", "-f", "-", input=provided.tls_secret(f"{LLAMA}-ingress-tls", NS,
                                                             provided.edge_certificate(edge, EDGE_DOMAIN)))
    (REAL_CLUSTER_DIR / PROD_EDGE_CA).write_text((edge / "ca.crt").read_text())
    for person, role in PEOPLE.items():
        real.kubectl("create", "serviceaccount", person, "-n", "default")
        if role:
            real.kubectl("create", "rolebinding", f"{person}-{role}", "-n", NS, f"--clusterrole={role}",
                         f"--serviceaccount=default:{person}")
    project = Project(real, tmp_path_factory.mktemp("real-prod") / "project", "prod",
                      secrets={"postgresPassword": password})
    settings = project.settings()
    project.set_setting("platform", "kubernetes")
    project.set_setting("mcpServer", {**settings["llamastack-mcp:mcpServer"],
                                      "tls": {"secretName": MCP_SERVING_SECRET}})
    stack = settings["llamastack-mcp:llamaStack"]
    project.set_setting("llamaStack", {**stack, "route": {**stack["route"], "host": PROD_HOST,
                                                          "ingressController": "traefik"}})
    # Every trace kept (prod keeps a tenth of new ones), so one agent turn is enough to see.
    project.set_setting("telemetry", {"otlpEndpoint": provided.COLLECTOR_URL, "samplingRatio": 1})
    up = project.up(check=False)
    assert up.returncode == 0, up.stdout[-3000:] + "".join(
        real.kubectl("logs", "-n", NS, p["metadata"]["name"], "--all-containers", "--tail=40", check=False).stdout
        for p in pods(real, LLAMA))
    return project


def remove_prod(real, project: Project) -> None:
    """prod destroyed, then what was provided around it: the namespace destroy keeps, the database's, the
    collector's, the two people."""
    project.destroy()
    namespace_gone(real)  # the command destroy names: kubectl delete namespace llama-stack
    real.kubectl("delete", "namespace", DATA_NS, "--wait=true", "--timeout=120s", check=False)
    real.kubectl("delete", "namespace", provided.COLLECTOR_NAMESPACE, "--wait=true", "--timeout=120s", check=False)
    real.kubectl("delete", "serviceaccount", *PEOPLE, "-n", "default", check=False)


# The label destroy keeps an object by (components/meta.py).
KEEP = meta.KEEP_ON_DESTROY


def conversation(url: str, token: str, topic: str) -> str:
    """A conversation stored by Llama Stack (SQLite in dev, PostgreSQL in prod); its id."""
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=token, max_retries=0, timeout=60)
    made = client.conversations.create(metadata={"topic": topic}, items=[
        {"type": "message", "role": "user", "content": f"remember the {topic} stack"}])
    return made.id


def recalled(url: str, token: str, conversation_id: str) -> str:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=token, max_retries=0, timeout=60)
    return (client.conversations.retrieve(conversation_id).metadata or {}).get("topic", "")


def dev_with(real: LocalCluster, tmp_path_factory, name: str, **sections: dict) -> Iterator:
    """dev through `make up` on the local cluster (no kubeconfig: its scripted model too), each section named
    (`mcpServer={...}`) merged one level deep over the stack file's (a value that is not a section, such as
`platform=`, replaces it); yields `make(command, *args)`, and destroys it
    after. Whatever the caller put in the namespace first (a CA's ConfigMap) stays for the deploy."""
    work = tmp_path_factory.mktemp(name)
    project = Project(real, work / "project", "dev")
    for key, values in sections.items():
        current = project.settings().get(f"llamastack-mcp:{key}")
        project.set_setting(key, {**current, **values} if isinstance(current, dict) else values)
    home = work / "home"

    def make(*args: str, extra_env: dict[str, str] | None = None):
        return pulumi_sh(real, project, "dev", *args, home=home, kubeconfig=False, extra_env=extra_env)

    make.project = project
    up = make("up", "--yes")
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    yield make
    assert make("destroy", "--yes").returncode == 0
    namespace_gone(real)
