#!/usr/bin/env python3
"""Check a deployment answers as it should: Llama Stack health, the MCP connector's tools, MCP health.

    make verify STACK=prod                       # URLs from `pulumi stack output --json`
    python -m ops.verify --llama-stack-url https://ls.apps.example.com \\
        --mcp-url http://127.0.0.1:8080/mcp      # URLs given directly

A server without a public URL (or every server, with --port-forward: the
default on the local cluster, whose Routes have no router) is reached through a
kubectl port-forward of its Service; on the local cluster an Ingress or HTTPRoute
is reached at its real URL, connected at the cluster's edge (Traefik, on loopback);
`--resolve HOST:PORT=ADDR:PORT` instead maps the stack's in-cluster URLs to an
address you forwarded yourself. It talks to the servers with the clients agents
use: the official MCP SDK and the OpenAI client. Prints one PASS/FAIL line per
check and exits non-zero if any failed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Optional

from ops import reach

CONNECTOR = "kubernetes"
DEFAULT_MCP_URL = "http://kubernetes-mcp-server.llama-stack.svc.cluster.local:8080/mcp"
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

def mcp_tools(mcp_url: str, insecure: bool = False, token: Optional[str] = None) -> list[dict[str, Any]]:
    """initialize + tools/list with the official MCP client; each tool as its JSON (name, annotations, ...)."""
    import httpx
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def listing() -> list[dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        async with httpx.AsyncClient(headers=headers, verify=not insecure, timeout=30) as client, \
                streamable_http_client(mcp_url, http_client=client) as (read, write, _), \
                ClientSession(read, write) as session:
            await session.initialize()
            return [t.model_dump(mode="json", exclude_none=True) for t in (await session.list_tools()).tools]

    try:
        return run_async(listing)
    except Exception as err:  # the SDK wraps transport errors in exception groups
        raise RuntimeError(_root_cause(err)) from None


def run_async(function: Any) -> Any:
    """Run an async client to completion on a thread of its own, leaving the caller's event loop
    (Pulumi's, in-process) untouched."""
    import anyio
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, function).result()


def _root_cause(err: BaseException) -> str:
    while isinstance(err, BaseExceptionGroup) and err.exceptions:
        err = err.exceptions[0]
    return f"{type(err).__name__}: {err}"


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
    check_models(report, base, insecure, token)
    for path in TOOL_LISTINGS:
        url = base + path.format(id=connector)
        try:
            status, text, _ = http("GET", url, headers=auth, insecure=insecure, timeout=30)
        except OSError:
            continue
        if status == 404:
            continue
        if status == 401 and token and "/mcp" in text:
            # Llama Stack itself took the token; the MCP server refused the listing it made without one.
            report.skip(f"MCP connector {connector!r} lists tools through Llama Stack",
                        "the MCP server needs the caller's token (mcpServer.passthrough) and Llama Stack's "
                        "listing would carry it only in the URL, which its access log records: not sent. "
                        "Agent turns pass it as the MCP tool's `authorization`")
            return
        tools = json.loads(text).get("data", []) if status == 200 else []
        report.check(f"MCP connector {connector!r} lists tools through Llama Stack", status == 200 and bool(tools),
                     f"GET {url} -> {status}, {len(tools)} tools" + (UNAUTHORIZED_HINT if status == 401 else ""))
        return
    report.check(f"MCP connector {connector!r} lists tools through Llama Stack", False,
                 f"no listing endpoint answered on {base}")


UNAUTHORIZED_HINT = ": Llama Stack requires an identity (llamaStack.auth): pass --token or set LLAMA_STACK_TOKEN"


def check_models(report: Report, base: str, insecure: bool, token: Optional[str] = None) -> None:
    """The model endpoint (llamaStack.inference.url) as Llama Stack sees it, through the OpenAI client."""
    import httpx
    import openai

    url = f"{base}/v1/models"
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=token or "none", max_retries=0, timeout=30,
                           http_client=httpx.Client(verify=not insecure))
    status, models = 200, []
    try:
        models = [m for m in client.models.list()
                  if (getattr(m, "model_type", None) or (getattr(m, "custom_metadata", None) or {})
                      .get("model_type", "llm")) == "llm"]
    except openai.APIStatusError as err:
        status = err.status_code
    except openai.APIConnectionError as err:
        report.check("models through Llama Stack", False, f"GET {url}: {err}")
        return
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


def _resolved(url: Optional[str], mapping: dict[str, str]) -> bool:
    return bool(url) and urllib.parse.urlsplit(url).netloc in mapping


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", help="read URLs from this stack's outputs")
    parser.add_argument("--llama-stack-url", help="Llama Stack's base URL (the route, or a local address)")
    parser.add_argument("--mcp-url", help="the MCP endpoint (…/mcp); default: the route, else a port-forward")
    parser.add_argument("--connector", default=CONNECTOR)
    parser.add_argument("--mcp-token", help="bearer token for the MCP server (OAuth, or with passthrough your "
                                            "own cluster token); default: --token")
    parser.add_argument("--token", default=os.environ.get("LLAMA_STACK_TOKEN"),
                        help="bearer token for Llama Stack (llamaStack.auth; e.g. `oc whoami -t`, "
                             "`kubectl create token NAME` for a ServiceAccount in llamaStack.auth.allowedUsers); "
                             "default $LLAMA_STACK_TOKEN")
    parser.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    parser.add_argument("--resolve", action="append", default=[], metavar="HOST:PORT=ADDR:PORT",
                        help="reach an in-cluster address of the stack's outputs at a local one "
                             "(a port-forward of your own); repeatable")
    parser.add_argument("--port-forward", action="store_true", default=reach.port_forward_by_default(),
                        help="reach both servers through kubectl port-forwards of their Services, not their "
                             f"routes (the default on the local cluster: ${reach.PORT_FORWARD_ENV})")
    args = parser.parse_args(argv)
    mapping = dict(item.split("=", 1) for item in args.resolve)
    if not (args.stack or args.llama_stack_url or args.mcp_url):
        parser.error("give --stack, or --llama-stack-url and/or --mcp-url")
    outputs: dict[str, Any] = {}
    if args.stack and not (args.llama_stack_url and args.mcp_url):
        try:
            outputs = reach.stack_outputs(args.stack)
        except (RuntimeError, subprocess.CalledProcessError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    report = Report()
    internal = outputs.get("llamaStackInternalUrl")
    # Without a stack, the MCP server is looked for where the stacks put it.
    internal_mcp = outputs.get("mcpServerUrl") or (None if args.stack else DEFAULT_MCP_URL)
    with contextlib.ExitStack() as forwards:
        def reached(given: Optional[str], public: Optional[str], in_cluster: Optional[str]) -> tuple[Optional[str], bool]:
            """(URL, forwarded over https): as given, mapped by --resolve, the route, or a port-forward."""
            if given or not in_cluster:
                return reach.resolve(given, mapping), False
            if _resolved(in_cluster, mapping):
                return reach.resolve(in_cluster, mapping), False
            service, namespace, port, scheme = reach.service_of(in_cluster)
            if public and not args.port_forward:
                return public, False
            edge = public and reach.edge_serving(namespace, service)
            if edge:  # the real URL, at the local edge
                return forwards.enter_context(reach.connected_at(public, edge)), False
            return forwards.enter_context(reach.port_forward(namespace, service, port, scheme)), scheme == "https"

        # A forwarded https is not verified: the certificate names the Service, not 127.0.0.1.
        try:
            llama_url, tls_forwarded = reached(args.llama_stack_url, outputs.get("llamaStackUrl"), internal)
            if llama_url:
                check_llama_stack(report, llama_url, args.insecure or tls_forwarded, args.connector, args.token)
            else:
                report.skip("Llama Stack", "no --llama-stack-url given")
        except RuntimeError as err:
            report.check("Llama Stack health", False, str(err))
        try:
            mcp_base, tls_forwarded = reached(args.mcp_url, outputs.get("mcpServerRouteUrl"),
                                              internal_mcp and internal_mcp.removesuffix("/mcp"))
            mcp_url = mcp_base if args.mcp_url or mcp_base.endswith("/mcp") else mcp_base + "/mcp"
            check_mcp(report, mcp_url, args.insecure or tls_forwarded, args.mcp_token or args.token)
        except RuntimeError as err:
            report.check("MCP server health", False, str(err))
    print(f"{'all checks passed' if not report.failed else f'{report.failed} check(s) failed'}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
