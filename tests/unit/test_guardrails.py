"""The MCP server's own guardrails (mcpServer.deniedResources, enabledTools, disabledTools, http, tls.minVersion)
rendered into its config, and the pod-spec review items: separate liveness and readiness, ephemeral storage."""

from __future__ import annotations

import tomllib

import pytest

from support import TEST_SECRETS, container, refused, run_variant

MCP = "kubernetes-mcp-server"
LS = "llama-stack"
PW = {"postgresPassword": TEST_SECRETS["postgresPassword"]}


def server_config(run) -> dict:
    return tomllib.loads(run.one("ConfigMap", f"{MCP}-config")["data"]["config.toml"])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_secrets_are_denied_to_the_agent_by_default_in_both_stacks(stack, preview):
    run = run_variant(stack, preview=preview, secrets=PW)
    config = server_config(run)
    assert config["denied_resources"] == [{"group": "", "version": "v1", "kind": "Secret"}]
    assert config["http"] == {"max_body_bytes": 1048576, "read_header_timeout": "10s"}
    args = container(run, MCP)["args"]
    assert args[args.index("--config") + 1] == "/etc/kubernetes-mcp-server/config.toml"


def test_an_empty_list_turns_the_denial_off(preview):
    assert server_config(run_variant("dev", preview=preview, mcpServer={"deniedResources": []}))[
        "denied_resources"] == []


def test_tightened_guardrails_reach_the_servers_config(preview):
    run = run_variant("prod", preview=preview, secrets=PW, mcpServer={
        "deniedResources": [{"version": "v1", "kind": "Secret"},
                            {"group": "rbac.authorization.k8s.io", "version": "v1", "kind": "ClusterRoleBinding"}],
        "enabledTools": ["pods_list", "events_list"], "disabledTools": ["pods_exec"],
        "http": {"maxBodyBytes": 65536, "readHeaderTimeoutSeconds": 5}, "tls": {"minVersion": "1.3"}})
    config = server_config(run)
    assert config["denied_resources"][1] == {"group": "rbac.authorization.k8s.io", "version": "v1",
                                             "kind": "ClusterRoleBinding"}
    assert config["enabled_tools"] == ["pods_list", "events_list"] and config["disabled_tools"] == ["pods_exec"]
    assert config["http"] == {"max_body_bytes": 65536, "read_header_timeout": "5s"}
    assert config["tls_min_version"] == "1.3"
    assert config["cluster_auth_mode"] == "passthrough", "passthrough's keys stay beside the guardrails"


def test_tls_min_version_is_rendered_only_where_the_server_serves_tls():
    assert "tls_min_version" not in server_config(run_variant("dev"))
    assert server_config(run_variant("prod", secrets=PW))["tls_min_version"] == "1.2"


def test_a_guardrail_change_rolls_the_pods():
    before = run_variant("dev").one("Deployment", MCP)["spec"]["template"]["metadata"]["annotations"]
    after = run_variant("dev", mcpServer={"disabledTools": ["pods_exec"]}).one(
        "Deployment", MCP)["spec"]["template"]["metadata"]["annotations"]
    key = next(k for k in before if "checksum" in k)
    assert before[key] != after[key], "the server reads its config at start: a change must restart it"


def test_every_bad_guardrail_is_refused_at_once_naming_the_setting():
    error = refused(run_variant("dev", mcpServer={
        "deniedResources": [{"version": "1", "kind": "secret"}, {"group": "Not_A_Group", "version": "v1"}],
        "enabledTools": ["Pods-List"], "disabledTools": ["a", "a"],
        "http": {"maxBodyBytes": 10, "readHeaderTimeoutSeconds": 0}, "tls": {"minVersion": "1.1"}}),
        'mcpServer.deniedResources[0].version = "1": must be an API version',
        'mcpServer.deniedResources[0].kind = "secret": must be a Kubernetes kind',
        "mcpServer.deniedResources[1].group", "mcpServer.deniedResources[1].kind",
        'mcpServer.enabledTools[0] = "Pods-List": must be a tool name',
        "mcpServer.disabledTools", "lists a tool twice",
        "mcpServer.http.maxBodyBytes = 10", "mcpServer.http.readHeaderTimeoutSeconds = 0",
        'mcpServer.tls.minVersion = "1.1"')
    assert error.count("\n  - ") == 9, error


def test_a_tool_both_enabled_and_disabled_is_refused():
    refused(run_variant("dev", mcpServer={"enabledTools": ["pods_list", "pods_exec"], "disabledTools": ["pods_exec"]}),
            'mcpServer.disabledTools = ["pods_exec"]: names tools enabledTools also lists')


def test_a_kind_denied_twice_is_refused():
    refused(run_variant("dev", mcpServer={"deniedResources": [{"version": "v1", "kind": "Secret"},
                                                              {"group": "", "version": "v1", "kind": "Secret"}]}),
            "mcpServer.deniedResources", "lists a kind twice")


# ------------------------------------------------------------------ probes

@pytest.mark.parametrize("stack, name", [("dev", MCP), ("dev", LS), ("prod", MCP), ("prod", LS)])
def test_liveness_waits_far_longer_than_readiness(stack, name, preview):
    c = container(run_variant(stack, preview=preview, secrets=PW), name)
    ready, live, startup = c["readinessProbe"], c["livenessProbe"], c["startupProbe"]
    assert ready["httpGet"] == live["httpGet"] == startup["httpGet"]
    tolerated = {p: c[p]["periodSeconds"] * c[p]["failureThreshold"] for p in ("readinessProbe", "livenessProbe")}
    # A slow answer takes the pod out of the Service within ~10 s; only two minutes of silence restart it.
    assert tolerated["readinessProbe"] <= 10 and tolerated["livenessProbe"] >= 120, tolerated
    assert live["timeoutSeconds"] > ready["timeoutSeconds"], "a slow answer is not a dead process"


# ------------------------------------------------------ ephemeral storage

@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_container_has_ephemeral_storage_requests_and_limits(stack, preview):
    run = run_variant(stack, preview=preview, secrets=PW)
    for name in (MCP, LS):
        spec = run.one("Deployment", name)["spec"]["template"]["spec"]
        for c in spec["containers"] + spec.get("initContainers", []):
            resources = c["resources"]
            assert "ephemeral-storage" in resources["requests"] and "ephemeral-storage" in resources["limits"], \
                (name, c["name"], resources)


def test_an_ephemeral_storage_request_above_its_limit_is_refused():
    refused(run_variant("dev", mcpServer={"resources": {
        "requests": {"cpu": "50m", "memory": "96Mi", "ephemeralStorage": "1Gi"},
        "limits": {"cpu": "500m", "memory": "256Mi", "ephemeralStorage": "128Mi"}}}),
        'mcpServer.resources.requests.ephemeralStorage = "1Gi": must not exceed limits.ephemeralStorage (128Mi)')


def test_secret_valued_server_settings_come_from_a_secret_never_the_configmap(preview):
    run = run_variant("dev", preview=preview, mcpServer={"configSecretName": "mcp-oauth-client"})
    c = container(run, MCP)
    spec = run.one("Deployment", MCP)["spec"]["template"]["spec"]
    assert c["args"][c["args"].index("--config-dir") + 1] == "/etc/kubernetes-mcp-server.d"
    assert {"name": "config-secret", "secret": {"secretName": "mcp-oauth-client"}} in spec["volumes"]
    assert {"name": "config-secret", "mountPath": "/etc/kubernetes-mcp-server.d", "readOnly": True} in c["volumeMounts"]
    assert "--config-dir" not in container(run_variant("dev"), MCP)["args"]
