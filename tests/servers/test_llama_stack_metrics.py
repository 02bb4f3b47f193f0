"""What the monitoring docs say of the agent server: the pinned Llama Stack (0.7.3) and OGX (1.5.0) serve no
Prometheus endpoint, so the program renders no ServiceMonitor for them. Should an upgrade start serving one, this
fails: time to scrape it. Every request goes to 127.0.0.1."""

from __future__ import annotations

import pytest

from ops import verify
from support import run_variant
from testbed.e2e.servers import OGX, deps, processes, start_llama_stack, start_mcp


@pytest.mark.parametrize("llama_stack, venv", [({}, "llama-stack"), (OGX, "ogx")], ids=["llama-stack-0.7.3", "ogx-1.5.0"])
def test_the_agent_server_serves_no_prometheus_metrics(llama_stack, venv):
    deps("python312")
    run = run_variant("dev", llamaStack=llama_stack)
    assert run.error is None, run.error
    with processes() as procs:
        base = start_llama_stack(run, start_mcp(run, procs), procs, deps(venv))
        assert verify.http("GET", f"{base}/v1/health", insecure=True)[0] == 200
        for path in ("/metrics", "/v1/metrics"):
            assert verify.http("GET", f"{base}{path}", insecure=True)[0] == 404, path
    prod = run_variant("prod", secrets={"postgresPassword": "x"})
    monitors = [m for m in prod.manifests() if m["kind"] == "ServiceMonitor"]
    assert [m["metadata"]["name"] for m in monitors] == ["kubernetes-mcp-server"], "the MCP server's alone"
