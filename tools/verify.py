#!/usr/bin/env python3
"""Check a deployment answers as it should: Llama Stack health, the MCP connector's tools, MCP health.

    make verify STACK=prod                       # URLs from `pulumi stack output --json`
    python tools/verify.py --llama-stack-url https://ls.apps.example.com \\
        --mcp-url http://127.0.0.1:8080/mcp      # URLs given directly

Without a public MCP URL it port-forwards the MCP Service with kubectl. Prints
one PASS/FAIL line per check and exits non-zero if any failed. Standard
library only, so it runs anywhere Python does.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any, Iterator, Optional

CONNECTOR = "kubernetes"
# Where each server generation lists a connector's (or tool group's) tools.
TOOL_LISTINGS = (
    "/v1beta/connectors/{id}/tools",            # llama-stack 0.7.x
    "/v1alpha/admin/connectors/{id}/tools",     # ogx 1.x
    "/v1/tool-runtime/list-tools?tool_group_id=mcp::{id}",  # llama-stack 0.6.x (tool groups)
    "/v1/tools?toolgroup_id=mcp::{id}",
)


def _context(insecure: bool) -> Optional[ssl.SSLContext]:
    if not insecure:
        return None
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def http(method: str, url: str, body: Any = None, headers: Optional[dict[str, str]] = None,
         insecure: bool = False, timeout: float = 10) -> tuple[int, str, dict[str, str]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=_context(insecure)) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace"), dict(err.headers or {})


# -------------------------------------------------------------- MCP client

def _jsonrpc_result(text: str) -> dict[str, Any]:
    """A Streamable HTTP response is JSON or an SSE stream of `data:` lines."""
    text = text.strip()
    if text.startswith("{"):
        return json.loads(text)
    for line in text.splitlines():
        if line.startswith("data:"):
            return json.loads(line[5:].strip())
    raise ValueError(f"no JSON-RPC message in response: {text[:200]}")


def mcp_tools(mcp_url: str, insecure: bool = False, token: Optional[str] = None) -> list[dict[str, Any]]:
    """initialize + tools/list over Streamable HTTP (stateless: no session needed, but kept if given)."""
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    status, text, response_headers = http("POST", mcp_url, {
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "llamastack-mcp-verify", "version": "1"}}}, headers, insecure)
    if status != 200:
        raise RuntimeError(f"initialize: HTTP {status}: {text[:200]}")
    session = {k.lower(): v for k, v in response_headers.items()}.get("mcp-session-id")
    if session:
        headers["Mcp-Session-Id"] = session
    http("POST", mcp_url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, headers, insecure)
    status, text, _ = http("POST", mcp_url, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, headers, insecure)
    if status != 200:
        raise RuntimeError(f"tools/list: HTTP {status}: {text[:200]}")
    return _jsonrpc_result(text)["result"]["tools"]


def is_destructive(tool: dict[str, Any]) -> bool:
    annotations = tool.get("annotations") or {}
    return not annotations.get("readOnlyHint", False) or bool(annotations.get("destructiveHint", False))


# ------------------------------------------------------------------ checks

class Report:
    def __init__(self) -> None:
        self.failed = 0

    def check(self, name: str, ok: bool, detail: str) -> bool:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}", flush=True)
        self.failed += not ok
        return ok

    def warn(self, name: str, detail: str) -> None:
        """Something a deploy can live with for now but a user must know (no model yet)."""
        print(f"WARN  {name}: {detail}", flush=True)

    def skip(self, name: str, reason: str) -> None:
        """A check that could not run because one it depends on failed: said, never silent."""
        print(f"SKIP  {name}: {reason}", flush=True)


DATABASE_HINT = "with storage.backend: postgres the server does not start while the database is unreachable"


def check_llama_stack(report: Report, base: str, insecure: bool, connector: str = CONNECTOR,
                      token: Optional[str] = None) -> None:
    base = base.rstrip("/")
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        status, text, _ = http("GET", f"{base}/v1/health", insecure=insecure)
        healthy = status == 200 and json.loads(text).get("status") == "OK"
        report.check("Llama Stack health", healthy, f"GET {base}/v1/health -> {status} {text[:80]}"
                     + ("" if healthy else f" ({DATABASE_HINT})"))
    except (OSError, ValueError) as err:
        report.check("Llama Stack health", False, f"GET {base}/v1/health: {err} ({DATABASE_HINT})")
        healthy = False
    if not healthy:
        report.skip(f"MCP connector {connector!r} lists tools through Llama Stack", "Llama Stack is not healthy")
        report.skip("models through Llama Stack", "Llama Stack is not healthy")
        return
    check_models(report, base, insecure, auth)
    for path in TOOL_LISTINGS:
        url = base + path.format(id=connector)
        try:
            status, text, _ = http("GET", url, headers=auth, insecure=insecure, timeout=30)
        except OSError:
            continue
        if status == 404:
            continue
        tools = json.loads(text).get("data", []) if status == 200 else []
        report.check(f"MCP connector {connector!r} lists tools through Llama Stack", status == 200 and bool(tools),
                     f"GET {url} -> {status}, {len(tools)} tools" + (UNAUTHORIZED_HINT if status == 401 else ""))
        return
    report.check(f"MCP connector {connector!r} lists tools through Llama Stack", False,
                 f"no listing endpoint answered on {base}")


UNAUTHORIZED_HINT = ": Llama Stack requires an identity (llamaStack.auth): pass --token or set LLAMA_STACK_TOKEN"


def check_models(report: Report, base: str, insecure: bool, headers: Optional[dict[str, str]] = None) -> None:
    """The model endpoint (llamaStack.inference.url) as Llama Stack sees it."""
    url = f"{base}/v1/models"
    try:
        status, text, _ = http("GET", url, headers=headers, insecure=insecure, timeout=30)
    except OSError as err:
        report.check("models through Llama Stack", False, f"GET {url}: {err}")
        return
    models = [m for m in (json.loads(text).get("data", []) if status == 200 else [])
              if (m.get("model_type") or m.get("custom_metadata", {}).get("model_type", "llm")) == "llm"
              or m.get("object") == "model"]
    detail = f"GET {url} -> {status}, {len(models)} model(s)"
    if status == 401:
        report.check("models through Llama Stack", False, detail + UNAUTHORIZED_HINT)
    elif status == 200 and models:
        report.check("models through Llama Stack", True, detail)
    else:
        report.warn("models through Llama Stack", detail + ": the inference endpoint (llamaStack.inference.url) is "
                    "unreachable or serves no model; tools list without one, but agent turns need it")


def check_mcp(report: Report, mcp_url: str, insecure: bool, token: Optional[str] = None) -> None:
    health = mcp_url.rsplit("/mcp", 1)[0] + "/healthz"
    try:
        status, _, _ = http("GET", health, insecure=insecure)
        report.check("MCP server health", status == 200, f"GET {health} -> {status}")
    except OSError as err:
        report.check("MCP server health", False, f"GET {health}: {err}")
        status = 0
    if status != 200:
        report.skip("MCP server lists tools", "the MCP server is not healthy")
        return
    try:
        tools = mcp_tools(mcp_url, insecure, token)
        report.check("MCP server lists tools", bool(tools), f"{len(tools)} tools at {mcp_url}")
    except (OSError, RuntimeError, ValueError, KeyError) as err:
        # With OAuth the server needs a token; health alone then is the check.
        report.check("MCP server lists tools", token is None and "401" in str(err), f"{err}")


@contextlib.contextmanager
def port_forward(namespace: str, service: str, port: int) -> Iterator[str]:
    if not shutil.which("kubectl"):
        raise RuntimeError("kubectl is needed to reach the MCP server without a route (or pass --mcp-url)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        local = s.getsockname()[1]
    proc = subprocess.Popen(["kubectl", "-n", namespace, "port-forward", f"svc/{service}", f"{local}:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", local), timeout=1):
                break
            time.sleep(0.3)
        yield f"http://127.0.0.1:{local}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def stack_outputs(stack: str) -> dict[str, Any]:
    if not shutil.which("pulumi"):
        raise RuntimeError("the Pulumi CLI is needed to read stack outputs (or pass the URLs directly)")
    out = subprocess.run(["pulumi", "stack", "output", "--json", "--stack", stack], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", help="read URLs from this stack's outputs")
    parser.add_argument("--llama-stack-url", help="Llama Stack's base URL (the route, or a local address)")
    parser.add_argument("--mcp-url", help="the MCP endpoint (…/mcp); default: the route, else a port-forward")
    parser.add_argument("--connector", default=CONNECTOR)
    parser.add_argument("--mcp-token", help="bearer token when the MCP server requires OAuth")
    parser.add_argument("--token", default=os.environ.get("LLAMA_STACK_TOKEN"),
                        help="bearer token for Llama Stack (llamaStack.auth; e.g. `oc whoami -t`, "
                             "`kubectl create token NAME`); default $LLAMA_STACK_TOKEN")
    parser.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    args = parser.parse_args(argv)

    llama_url, mcp_url, namespace = args.llama_stack_url, args.mcp_url, None
    if not (args.stack or llama_url or mcp_url):
        parser.error("give --stack, or --llama-stack-url and/or --mcp-url")
    if args.stack and not (llama_url and mcp_url):
        try:
            outputs = stack_outputs(args.stack)
        except (RuntimeError, subprocess.CalledProcessError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        llama_url = llama_url or outputs.get("llamaStackUrl")
        mcp_url = mcp_url or outputs.get("mcpServerRouteUrl")
        namespace = outputs.get("namespace")

    report = Report()
    if llama_url:
        check_llama_stack(report, llama_url, args.insecure, args.connector, args.token)
    elif args.stack:
        report.check("Llama Stack health", False, "no public URL (llamaStack.route.enabled is false?)")
    else:
        report.skip("Llama Stack", "no --llama-stack-url given")
    if mcp_url:
        check_mcp(report, mcp_url, args.insecure, args.mcp_token)
    else:
        try:
            with port_forward(namespace or "llama-stack", "kubernetes-mcp-server", 8080) as local:
                check_mcp(report, local, False)
        except RuntimeError as err:
            report.check("MCP server health", False, str(err))
    print(f"{'all checks passed' if not report.failed else f'{report.failed} check(s) failed'}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
