"""Distributed traces (`telemetry`): both servers send OpenTelemetry spans to one OTLP/HTTP collector, so an
agent's request can be followed from Llama Stack into the MCP tool it called, in one trace."""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from .base import Settings
from .fields import HttpUrl

# The OTLP/HTTP path of the traces signal: the Python SDK appends it to the base URL, the MCP server is given it.
TRACES_PATH = "/v1/traces"


def _collector_base(value: str) -> str:
    if value.rstrip("/").endswith(TRACES_PATH):
        raise PydanticCustomError("otlp_base", "must be the collector's base URL (such as http://otel-collector."
                                  "observability.svc:4318), without {path}: each server adds the signal's path",
                                  {"path": TRACES_PATH})
    return value


CollectorUrl = Annotated[HttpUrl, AfterValidator(_collector_base)]


class TelemetrySettings(Settings):
    """Traces of both servers, sent to an OpenTelemetry collector you run (`telemetry`)."""

    otlp_endpoint: Optional[CollectorUrl] = None
    """The base URL of an OTLP/HTTP collector (`http://otel-collector.observability.svc:4318`); unset: no traces.
    Llama Stack runs under `opentelemetry-instrument` and the MCP server's `[telemetry]` points there; the trace
    context travels with each tool call, so the MCP server's `tools/call` span (with `gen_ai.tool.name`) joins
    the agent's trace. OTLP/HTTP (port 4318): Llama Stack's own image carries no gRPC exporter."""
    sampling_ratio: Annotated[float, Field(ge=0, le=1)] = 0.1
    """The share of traces kept that start at Llama Stack (0-1); a caller's sampled trace is always followed
    (`parentbased_traceidratio`), so one decision covers the whole request."""
