"""Traces for real: the MCP server (v0.0.67) and Llama Stack, run with exactly the config, arguments and
environment the program renders for `telemetry`, send their spans to an OTLP/HTTP receiver on 127.0.0.1
(testbed/e2e/otlp.py), and an agent's tool call is one trace from Llama Stack into the MCP server."""

from __future__ import annotations

import json
import re
import secrets
import time

import pytest

from testbed.e2e.otlp import otlp_receiver
from testbed.e2e.servers import deps, processes, start_llama_stack, start_mcp, start_stub_model
from ops import verify
from support import run_variant

HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
TRACE_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def procs():
    with processes() as started:
        yield started


def call_tool(mcp_url: str, tool: str, traceparent: str | None = None) -> None:
    headers = {**HEADERS, **({"traceparent": traceparent} if traceparent else {})}
    status, text, _ = verify.http("POST", mcp_url, {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                                    "params": {"name": tool, "arguments": {}}}, headers)
    assert status == 200, text[:500]


def new_traceparent(sampled: bool = True) -> tuple[str, str]:
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, f"00-{trace_id}-{parent}-{'01' if sampled else '00'}"


def test_the_mcp_servers_tool_span_joins_the_callers_trace(procs):
    with otlp_receiver() as (collector, received):
        mcp_url = start_mcp(run_variant("dev", telemetry={"otlpEndpoint": collector, "samplingRatio": 1}), procs)
        trace_id, traceparent = new_traceparent()
        call_tool(mcp_url, "namespaces_list", traceparent)
        spans = received.wait_for(lambda s: s.trace_id == trace_id and s.name.startswith("tools/call"))
        assert spans, f"no tools/call span in the caller's trace; got {[s.name for s in received.spans]}"
        tool_span = spans[0]
        assert tool_span.name == "tools/call namespaces_list"
        assert tool_span.attributes["gen_ai.tool.name"] == "namespaces_list"
        assert tool_span.service == "kubernetes-mcp-server"
        procs.stop()  # flushes what is batched
        assert set(received.paths) == {"/v1/traces"}, received.paths
        garbage = [s for s in received.spans if not TRACE_ID.fullmatch(s.trace_id)]
        assert garbage == [], f"non-trace signals posted to the traces path: {[s.name for s in garbage][:5]}"


def test_sampling_is_parent_based(procs):
    with otlp_receiver() as (collector, received):
        mcp_url = start_mcp(run_variant("dev", telemetry={"otlpEndpoint": collector, "samplingRatio": 0}), procs)
        unsampled, traceparent_off = new_traceparent(sampled=False)
        sampled, traceparent_on = new_traceparent(sampled=True)
        call_tool(mcp_url, "namespaces_list")              # a new trace: ratio 0 drops it
        call_tool(mcp_url, "namespaces_list", traceparent_off)
        call_tool(mcp_url, "namespaces_list", traceparent_on)  # the caller sampled it: followed
        assert received.wait_for(lambda s: s.trace_id == sampled and s.name.startswith("tools/call"))
        procs.stop()
        assert {s.trace_id for s in received.spans} == {sampled}, [(s.trace_id, s.name) for s in received.spans]


def test_an_agents_tool_call_is_one_trace_from_llama_stack_into_the_mcp_server(procs):
    with otlp_receiver() as (collector, received):
        run = run_variant("dev", telemetry={"otlpEndpoint": collector, "samplingRatio": 1},
                          llamaStack={"inference": {"model": "stub-model"}})
        model_url = start_stub_model(procs, "stub-model", "namespaces_list")
        mcp_url = start_mcp(run, procs)
        base = start_llama_stack(run, mcp_url, procs, deps("llama-stack"), inference_url=model_url)
        models = [m["id"] for m in json.loads(verify.http("GET", f"{base}/v1/models")[1])["data"]]
        status, text, _ = verify.http("POST", f"{base}/v1/responses", {
            "model": next(m for m in models if m.endswith("stub-model")), "input": "Which namespaces exist?",
            "tools": [{"type": "mcp", "server_label": "kubernetes", "connector_id": "kubernetes"}]},
            {"Content-Type": "application/json"}, timeout=120)
        assert status == 200, text[:1000]
        tool = received.wait_for(lambda s: s.service == "kubernetes-mcp-server"
                                 and s.name == "tools/call namespaces_list", timeout=30)
        assert tool, f"no MCP tool span; got {sorted({(s.service, s.name) for s in received.spans})}"
        trace = [s for s in received.wait_for(lambda s: s.trace_id == tool[0].trace_id and s.service == "llama-stack")]
        names = {s.name for s in trace}
        assert "invoke_mcp_tool" in names, f"Llama Stack's spans in the tool's trace: {sorted(names)}"
        assert any(s.name.startswith("POST /v1/responses") for s in trace), sorted(names)
        # One tree: the MCP server's spans hang under a span Llama Stack sent. Spans arrive as each batch is
        # exported, a parent often after its children: judge the tree once every parent has come (30 s at most).
        def roots_now() -> list:
            ids = {s.span_id for s in received.spans if s.trace_id == tool[0].trace_id}
            return [s for s in received.spans if s.trace_id == tool[0].trace_id and s.parent_id not in ids]
        deadline = time.monotonic() + 30
        while len(roots := roots_now()) > 1 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert [(r.service, r.name.split()[:2]) for r in roots] == [("llama-stack", ["POST", "/v1/responses"])], \
            [(r.service, r.name) for r in roots]
