"""The official clients users drive the servers with, and what the cluster tests need around them."""

from __future__ import annotations

import json
import ssl
import contextlib
from pathlib import Path
from typing import Any, Iterator, Optional

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from ops import ask, verify
from testbed.e2e.servers import ClusterObjects

NS = "llama-stack"
MODEL = "stub-model"
TEAM_NAMESPACES = ("team-a", "team-b")


@contextlib.contextmanager
def team_namespaces(cluster) -> Iterator[tuple[str, ...]]:
    """team-a and team-b, each running a pod `web-<namespace>` and holding a Secret `db`."""
    for namespace in TEAM_NAMESPACES:
        cluster.wait_until(f"namespace {namespace} is gone", lambda: cluster.kubectl(
            "get", "namespace", namespace, check=False).returncode != 0, timeout=120)
        cluster.kubectl("create", "namespace", namespace)
        cluster.kubectl("run", f"web-{namespace}", "-n", namespace, "--image=registry.example/web:1")
        cluster.kubectl("create", "secret", "generic", "db", "-n", namespace, "--from-literal=password=hunter2")
    try:
        yield TEAM_NAMESPACES
    finally:
        cluster.kubectl("delete", "namespace", *TEAM_NAMESPACES, "--wait=false", check=False)


def deployed(cluster) -> ClusterObjects:
    """The Deployments and ConfigMaps `pulumi up` left in the namespace, as the API server holds them."""
    return ClusterObjects(cluster.get("deployments,configmaps", "-n", NS)["items"])


def kubeconfig_for(cluster, directory: Path, namespace: str, account: str) -> Path:
    """A kubeconfig holding a bound token (TokenRequest API) for a ServiceAccount."""
    token = cluster.kubectl("create", "token", account, "-n", namespace, "--duration=1h").stdout.strip()
    path = directory / f"kubeconfig-{account}"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": account,
        "clusters": [{"name": "local", "cluster": {"server": cluster.api_url,
                                                   "certificate-authority": str(cluster.ca_file)}}],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": account, "context": {"cluster": "local", "user": account}}]}))
    return path


def mcp_calls(url: str, token: Optional[str], ca: Optional[Path], calls: list[tuple[str, dict]]) -> dict[str, Any]:
    """tools/list and some tools/call through the official MCP client: {"tools": names, call: (error, text)}."""
    async def run() -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        verify_tls = ssl.create_default_context(cafile=str(ca)) if ca else True
        async with httpx.AsyncClient(headers=headers, verify=verify_tls, timeout=60) as client, \
                streamable_http_client(url, http_client=client) as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                result: dict[str, Any] = {"tools": {t.name for t in (await session.list_tools()).tools}}
                for name, arguments in calls:
                    answer = await session.call_tool(name, arguments)
                    text = " ".join(getattr(part, "text", "") for part in answer.content)
                    result[f"{name} {json.dumps(arguments, sort_keys=True)}"] = (answer.isError, text)
                return result

    return verify.run_async(run)


def agent_turn(base: str, token: str, prompt: str, server_url: Optional[str] = None,
               insecure: bool = False, forward: bool = True) -> dict[str, Any]:
    """`make ask`'s turn (ops/ask.py) with the scripted model: exactly one tool call."""
    turn = ask.agent_turn(base, token, prompt, server_url, insecure, forward, model=MODEL)
    assert turn["calls"] == 1, turn
    return turn


def call(tool: str, **arguments: Any) -> str:
    """What the scripted model (testbed/e2e/stub_model.py) turns into exactly this tool call."""
    return f"call {tool} {json.dumps(arguments)}"




def connector_turn(base: str, model: str, prompt: str = "Which namespaces exist?") -> tuple[int, str]:
    """A plain Responses request to a Llama Stack on loopback with the `kubernetes` connector as its tool:
    (status, body)."""
    status, text, _ = verify.http("POST", f"{base}/v1/responses", {
        "model": model, "input": prompt, "stream": False,
        "tools": [{"type": "mcp", "server_label": "kubernetes", "connector_id": "kubernetes"}]},
        {"Content-Type": "application/json"}, insecure=True, timeout=120)
    return status, text
