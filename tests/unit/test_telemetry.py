"""`telemetry`: where both servers' traces go, rendered into the MCP server's config and environment and into
Llama Stack's (or OGX's) OpenTelemetry environment and auto-instrumented command."""

from __future__ import annotations

import tomllib

import pytest

from support import TEST_SECRETS, container, refused, run_variant

MCP = "kubernetes-mcp-server"
LS = "llama-stack"
PW = {"postgresPassword": TEST_SECRETS["postgresPassword"]}
COLLECTOR = "http://otel-collector.observability.svc:4318"


def server_config(run) -> dict:
    return tomllib.loads(run.one("ConfigMap", f"{MCP}-config")["data"]["config.toml"])


def env(c: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in c.get("env", [])}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_collector_means_no_traces_and_no_instrumentation(stack, preview):
    run = run_variant(stack, preview=preview, secrets=PW)
    assert "telemetry" not in server_config(run)
    assert not any(k.startswith("OTEL_") for k in env(container(run, MCP)))
    ls = container(run, LS)
    assert ls["command"][0] == "llama" and not any(k.startswith("OTEL_") for k in env(ls))


def test_the_mcp_server_posts_spans_to_the_collectors_traces_path(preview):
    run = run_variant("prod", preview=preview, secrets=PW,
                      telemetry={"otlpEndpoint": COLLECTOR + "/", "samplingRatio": 0.25})
    assert server_config(run)["telemetry"] == {
        "endpoint": COLLECTOR + "/v1/traces", "protocol": "http/protobuf",
        "traces_sampler": "parentbased_traceidratio", "traces_sampler_arg": 0.25}
    # v0.0.67 would post its metrics and logs to that same URL.
    assert env(container(run, MCP)) == {"OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"}


@pytest.mark.parametrize("distribution, cli", [("llama-stack", "llama"), ("ogx", "ogx")])
def test_llama_stack_runs_instrumented_with_the_sdks_own_variables(distribution, cli, preview):
    ogx = {"distribution": "ogx", "version": "1.5.0"} if distribution == "ogx" else {}
    run = run_variant("dev", preview=preview, telemetry={"otlpEndpoint": COLLECTOR}, llamaStack=ogx)
    c = container(run, LS)
    assert c["command"][:2] == ["opentelemetry-instrument", cli]
    assert c["command"][1:] == container(run_variant("dev", llamaStack=ogx), LS)["command"], \
        "the server's own command is unchanged under the launcher"
    values = env(c)
    assert values["OTEL_EXPORTER_OTLP_ENDPOINT"] == COLLECTOR, "the SDK appends /v1/traces itself"
    assert values["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert values["OTEL_SERVICE_NAME"] == distribution
    assert (values["OTEL_TRACES_SAMPLER"], values["OTEL_TRACES_SAMPLER_ARG"]) == ("parentbased_traceidratio", "0.1")
    assert values["OTEL_METRICS_EXPORTER"] == values["OTEL_LOGS_EXPORTER"] == "none"
    assert values["KUBERNETES_MCP_URL"], "the server's own variables stay"


def test_a_collector_change_rolls_the_mcp_pods():
    def checksum(run) -> dict:
        return run.one("Deployment", MCP)["spec"]["template"]["metadata"]["annotations"]
    assert checksum(run_variant("dev")) != checksum(run_variant("dev", telemetry={"otlpEndpoint": COLLECTOR}))


def test_bad_telemetry_settings_are_refused_together_naming_each():
    refused(run_variant("dev", telemetry={"otlpEndpoint": COLLECTOR + "/v1/traces", "samplingRatio": 1.5}),
            "telemetry.otlpEndpoint", "without /v1/traces", "telemetry.samplingRatio = 1.5",
            "less than or equal to 1")
    refused(run_variant("dev", telemetry={"otlpEndpoint": "otel-collector:4317"}),
            "telemetry.otlpEndpoint", "http:// or https://")
    refused(run_variant("dev", telemetry={"otlpEndpoint": "http://user:pw@collector:4318"}),
            "telemetry.otlpEndpoint", "credentials")
