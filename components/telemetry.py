"""What `telemetry` renders into each server: the MCP server's `[telemetry]` table and environment, Llama
Stack's OpenTelemetry environment and the auto-instrumented command. Pure functions of the settings."""

from __future__ import annotations

from typing import Any

from .settings.telemetry import TRACES_PATH, TelemetrySettings

# Parent-based: a caller's sampling decision wins, so a trace is kept or dropped whole.
SAMPLER = "parentbased_traceidratio"
INSTRUMENT = "opentelemetry-instrument"  # OpenTelemetry's auto-instrumentation launcher (opentelemetry-distro)
# What the launcher needs in the image besides the distro, at the distro's own version: spans for the agent's
# requests (FastAPI) and the trace context on Llama Stack's outgoing calls, the MCP tool calls included (httpx).
# Upstream's `opentelemetry-bootstrap` lists every library it finds; these two are the ones the agent path uses.
INSTRUMENTATIONS = ("opentelemetry-instrumentation-fastapi", "opentelemetry-instrumentation-httpx")


def enabled(t: TelemetrySettings) -> bool:
    return t.otlp_endpoint is not None


def traces_url(t: TelemetrySettings) -> str:
    """The collector's traces URL: what the MCP server posts to (it uses its endpoint as given)."""
    assert t.otlp_endpoint is not None
    return t.otlp_endpoint.rstrip("/") + TRACES_PATH


def mcp_config(t: TelemetrySettings) -> dict[str, Any]:
    """The MCP server's `[telemetry]` table; empty when telemetry is off."""
    if not enabled(t):
        return {}
    return {"endpoint": traces_url(t), "protocol": "http/protobuf", "traces_sampler": SAMPLER,
            "traces_sampler_arg": t.sampling_ratio}  # a TOML float: a string is refused at start


def mcp_env(t: TelemetrySettings) -> list[dict[str, str]]:
    # kubernetes-mcp-server v0.0.67 posts every signal to that one URL: its metrics and logs would land on
    # the collector's traces path (as garbage spans). Prometheus scrapes its metrics; its logs go to stdout.
    if not enabled(t):
        return []
    return [{"name": "OTEL_METRICS_EXPORTER", "value": "none"}, {"name": "OTEL_LOGS_EXPORTER", "value": "none"}]


def llama_stack_env(t: TelemetrySettings, service: str) -> list[dict[str, str]]:
    """The OpenTelemetry SDK's own variables: it appends each signal's path to the base URL."""
    if not enabled(t):
        return []
    values = {
        "OTEL_SERVICE_NAME": service,
        "OTEL_EXPORTER_OTLP_ENDPOINT": t.otlp_endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_SAMPLER": SAMPLER,
        "OTEL_TRACES_SAMPLER_ARG": str(t.sampling_ratio),
        "OTEL_TRACES_EXPORTER": "otlp",
        # Traces only, as for the MCP server.
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        # The kubelet's probes every few seconds would outnumber the agent's requests.
        "OTEL_PYTHON_FASTAPI_EXCLUDED_URLS": "v1/health",
    }
    return [{"name": k, "value": str(v)} for k, v in values.items()]


def instrumented(command: list[str], t: TelemetrySettings) -> list[str]:
    """The server's command, under auto-instrumentation when telemetry is on (spans for its HTTP server and
    clients, and the trace context on every outgoing call, the MCP tool calls included)."""
    return [INSTRUMENT, *command] if enabled(t) else command
