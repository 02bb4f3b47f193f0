"""Settings as a hostile or careless user writes them: every class of defect is refused up front.

Each case runs the real program under mocks (update and preview) and checks
that the run ends with a settings error naming the key, that secrets are never
echoed, and that nothing was registered. The local cluster's API server is the
oracle for the limits we mirror (tests/cluster/test_cluster.py).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import kubernetes_validate
import pytest

from ops import offline
from components.settings import SettingsError, StackSettings, load_settings
from support import deep_merge, refused, run_variant
from policy import rules

SECRET = "tok-SHOULD-NEVER-APPEAR-3141"


# ----------------------------------------------------------------- secrets

def test_a_settings_key_held_as_secret_is_refused_without_showing_it(preview):
    values, _ = offline.stack_settings("dev")
    llama = deep_merge(values["llamaStack"], {"inference": {"url": f"https://user:{SECRET}@models.example.com/v1"}})
    del values["llamaStack"]
    result = offline.run(values, {"llamaStack": json.dumps(llama)}, preview=preview)
    error = refused(result, "llamaStack: is held as a secret", "inferenceApiKey, postgresPassword and fleetKubeconfigs may be secret")
    assert SECRET not in error


def test_render_reads_a_nested_secure_value_as_pulumi_does(tmp_path):
    stack = tmp_path / "Pulumi.nested.yaml"
    stack.write_text("config:\n  llamastack-mcp:llamaStack:\n    inference:\n      url:\n"
                     "        secure: v1:abcdefghijklmnop\n")
    refused(offline.run_stack(str(stack)), "llamaStack: is held as a secret")


def test_a_secret_written_in_clear_is_refused_with_the_command_to_fix_it(tmp_path, preview):
    stack = tmp_path / "Pulumi.plain.yaml"
    stack.write_text(f"config:\n  llamastack-mcp:inferenceApiKey: {SECRET}\n")
    error = refused(offline.run_stack(str(stack), preview=preview),
                    "inferenceApiKey: is in the stack file in clear text",
                    "pulumi config set --secret inferenceApiKey")
    assert SECRET not in error


def test_an_empty_secret_is_refused(preview):
    error = refused(run_variant("prod", preview=preview, secrets={"postgresPassword": ""}),
                    "postgresPassword: is empty")
    assert "is required" not in error


def test_a_url_with_credentials_is_refused_and_masked(preview):
    for key in ("inference", "extraMcpServers"):
        value: Any = ({"url": f"https://user:{SECRET}@models.example.com/v1"} if key == "inference"
                      else [{"id": "other", "url": f"https://x:{SECRET}@mcp.example.com/mcp"}])
        error = refused(run_variant(preview=preview, llamaStack={key: value}), "must not hold credentials",
                        "//***@")
        assert SECRET not in error


@pytest.mark.parametrize("overrides, path", [
    ({"llamaStack": {"inference": {"model": "${env.POSTGRES_PASSWORD}"}}}, "llamaStack.inference.model"),
    ({"llamaStack": {"inference": {"url": "http://x/${env.INFERENCE_API_KEY}"}}}, "llamaStack.inference.url"),
    ({"llamaStack": {"extraMcpServers": [{"id": "a", "url": "http://a/${env.POSTGRES_PASSWORD}"}]}},
     "llamaStack.extraMcpServers[0].url"),
    ({"llamaStack": {"storage": {"backend": "postgres", "postgres": {"host": "${env.X}"}}}},
     "llamaStack.storage.postgres.host"),
    ({"monitoring": {"labels": {"team": "${env.X}"}}}, "monitoring.labels.team"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_env_references_are_refused_wherever_they_are(overrides, path):
    refused(run_variant(secrets={"postgresPassword": "pw"}, **overrides), f"{path} = ", "must not contain '${'")


# --------------------------------------------------------------- privilege

def custom(*rules_: dict, **rbac: Any) -> dict:
    # At cluster scope, writes acknowledged: what these tests judge is the cluster-admin opt-in.
    return {"mcpServer": {"rbac": {"preset": "custom", "rules": list(rules_), "scope": "cluster", "namespaces": [],
                                   "createNamespaces": False, "allowClusterWideWrite": True, **rbac}}}


@pytest.mark.parametrize("rule", [
    {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["escalate"]},
    {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"]},
    {"apiGroups": [""], "resources": ["users", "groups", "serviceaccounts"], "verbs": ["impersonate"]},
    {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["pods/attach"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
    {"apiGroups": ["*"], "resources": ["pods"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["*"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]},
], ids=lambda r: f"{r['verbs'][0]}-{r['resources'][0]}")
def test_cluster_admin_equivalent_rules_need_the_loud_opt_in(rule, preview):
    refused(run_variant(preview=preview, **custom(rule)), "mcpServer.rbac.rules[0]",
            "amounts to cluster-admin", "allowClusterAdminEquivalent: true")
    allowed = run_variant(preview=preview, **custom(rule, allowClusterAdminEquivalent=True))
    assert allowed.error is None, allowed.error
    role = allowed.one("ClusterRole", "llama-stack-kubernetes-mcp-server")
    assert role["metadata"]["annotations"]["llamastack-mcp.io/allow-cluster-admin-equivalent"] == "true"
    assert rules.no_cluster_admin_equivalent(role) == []
    unmarked = {**role, "metadata": {**role["metadata"], "annotations": {}}}
    assert rules.no_cluster_admin_equivalent(unmarked), "the policy pack misses what the settings refuse"


@pytest.mark.parametrize("namespace", ["kube-system", "openshift-config", "default"])
def test_writing_in_system_namespaces_needs_the_opt_in(namespace):
    refused(run_variant(mcpServer={"rbac": {"preset": "full", "scope": "namespaces",
                                            "namespaces": ["team-a", namespace]}}),
            f'mcpServer.rbac.namespaces = "{namespace}": is a system namespace')
    read = run_variant(mcpServer={"rbac": {"preset": "read-only", "scope": "namespaces", "namespaces": [namespace]}})
    assert read.error is None, read.error


def test_policy_and_settings_name_the_same_escalations():
    from components.settings import rbac as settings
    assert settings.ESCALATING_VERBS == rules.ESCALATING_VERBS
    assert settings.ESCALATING_RESOURCES == rules.ESCALATING_RESOURCES
    assert settings.WRITE_VERBS == rules.WRITE_VERBS and settings.SYSTEM_NAMESPACES == rules.SYSTEM_NAMESPACES


def test_an_open_mcp_server_in_cluster_needs_an_opt_in_like_a_route(preview):
    refused(run_variant(preview=preview, networkPolicy={"enabled": False}),
            "networkPolicy.enabled = false", "networkPolicy.allowUnauthenticatedMcp: true")
    for opt_in in ({"networkPolicy": {"enabled": False, "allowUnauthenticatedMcp": True}},
                   {"networkPolicy": {"enabled": False},
                    "mcpServer": {"oauth": {"enabled": True, "authorizationUrl": "https://sso.example.com/r"}}}):
        result = run_variant(preview=preview, **opt_in)
        assert result.error is None, result.error
        assert result.find("NetworkPolicy") == []


def test_every_field_of_a_custom_rule_renders_valid():
    rule = {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"], "resourceNames": ["web"]}
    urls = {"nonResourceURLs": ["/healthz", "/version"], "verbs": ["get"]}
    result = run_variant(**custom(rule, urls, {"resources": ["pods"], "verbs": ["list"]}))
    assert result.error is None, result.error
    role = result.one("ClusterRole", "llama-stack-kubernetes-mcp-server")
    assert role["rules"] == [rule, urls, {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]
    kubernetes_validate.validate(role, "1.31.0", strict=True)


@pytest.mark.parametrize("rule, message", [
    ({"resources": ["pods"], "nonResourceURLs": ["/x"], "verbs": ["get"]}, "either resources or nonResourceURLs"),
    ({"apiGroups": [""], "nonResourceURLs": ["/x"], "verbs": ["get"]}, "must be left out beside nonResourceURLs"),
    ({"verbs": ["get"]}, "a rule needs resources"),
])
def test_custom_rules_the_api_server_would_reject_are_refused(rule, message):
    refused(run_variant(**custom(rule)), message)


# ------------------------------------------------- what the API server enforces

@pytest.mark.parametrize("value", ["-1", "0", "0m", " 500m", "500m\n", "١٠٠m", "1e999", "9e18", "1.5.0"])
def test_bad_cpu_quantities_are_refused(value):
    refused(run_variant(mcpServer={"resources": {"requests": {"cpu": value, "memory": "64Mi"},
                                                 "limits": {"cpu": "1", "memory": "128Mi"}}}),
            "mcpServer.resources.requests.cpu")


@pytest.mark.parametrize("value", ["256m", "100.5", "1.5"])
def test_memory_in_fractions_of_a_byte_is_refused(value):
    refused(run_variant(mcpServer={"resources": {"requests": {"cpu": "100m", "memory": value},
                                                 "limits": {"cpu": "1", "memory": "1Gi"}}}),
            "mcpServer.resources.requests.memory", "whole number of bytes")


@pytest.mark.parametrize("name", ["a" * 64, "team\n", "team-١", "Team", "-team"])
def test_bad_namespace_names_are_refused(name):
    refused(run_variant(namespace={"name": name, "create": True}), "namespace.name")


@pytest.mark.parametrize("value", ["a" * 64, "ok\n", "-x", "x" * 62 + "_"])
def test_bad_label_values_are_refused(value):
    refused(run_variant(monitoring={"labels": {"team": value}}), "monitoring.labels")


@pytest.mark.parametrize("field", ["replicas"])
def test_integers_beyond_int32_are_refused(field):
    refused(run_variant(mcpServer={field: 2 ** 31}), f"mcpServer.{field}")
    refused(run_variant(mcpServer={"autoscaling": {"enabled": True, "maxReplicas": 2 ** 31}}),
            "mcpServer.autoscaling.maxReplicas")


@pytest.mark.parametrize("host", ["10.0.0.1", "a" * 64 + ".example.com", "host\n.example.com"])
def test_bad_ingress_hosts_are_refused(host):
    refused(run_variant(platform="kubernetes", llamaStack={"route": {"host": host}}), "llamaStack.route.host")


def test_an_openshift_route_host_that_cannot_be_generated_is_refused():
    namespace = "n" * 55
    refused(run_variant(namespace={"name": namespace, "create": True}), "llamaStack.route.host",
            "a DNS label holds 63")
    ok = run_variant(namespace={"name": namespace, "create": True}, llamaStack={"route": {"host": "ls.example.com"}})
    assert ok.error is None, ok.error


HOSTILE = [None, "", "x" * 300, -1, 0, 2 ** 31, 2 ** 64, 1.5, True, [], {}, [1], {"a": 1}, "${env.X}",
           "line\n", "١٢٣", "null", "yes"]


def _leaves(model: type, prefix: tuple = ()) -> list[tuple]:
    out = []
    for name, field in model.model_fields.items():
        path = prefix + (field.alias or name,)
        annotation = field.annotation
        nested = next((a for a in (annotation, *getattr(annotation, "__args__", ()))
                       if isinstance(a, type) and hasattr(a, "model_fields")), None)
        out += _leaves(nested, path) if nested is not None and annotation is nested else [path]
    return out


def _nest(path: tuple, value: Any) -> dict:
    for part in reversed(path):
        value = {part: value}
    return value


@pytest.mark.parametrize("path", _leaves(StackSettings), ids=lambda p: ".".join(p))
def test_no_value_anywhere_ends_in_a_traceback(path):
    """Every leaf setting × hostile values: a settings error or valid settings, never another exception."""
    base, _ = offline.stack_settings("dev")
    for value in HOSTILE:
        raw = deep_merge(base, _nest(path, value)) if len(path) > 1 else {**base, path[0]: value}
        try:
            load_settings(raw, {"postgresPassword", "inferenceApiKey"})
        except SettingsError as err:
            assert ".".join(path[:1]) in str(err) or path[0] in str(err)


def test_the_program_turns_hostile_values_into_a_settings_error_not_a_traceback():
    for path, value in itertools.islice(itertools.product(_leaves(StackSettings), [[1], {"a": 1}, 2 ** 64]), 0, None, 7):
        values, _ = offline.stack_settings("dev")
        raw = deep_merge(values, _nest(path, value)) if len(path) > 1 else {**values, path[0]: value}
        result = offline.run(raw, {})
        if result.error is not None:
            assert result.error.startswith("invalid stack settings"), result.error
            assert result.resources == []


# ------------------------------------------------------------ contradictions

@pytest.mark.parametrize("overrides, secrets, fragments", [
    ({"monitoring": {"prometheusRule": True, "serviceMonitor": False}}, {},
     ("monitoring.prometheusRule", "fires forever")),
    ({"llamaStack": {"distribution": "ogx", "version": "1.5.0", "image": "docker.io/ogxai/x:1.5.0",
                     "tls": {"secretName": "cert", "insecure": True}}}, {}, ("llamaStack.tls.insecure", "contradicts")),
    ({"llamaStack": {"tls": {"insecure": True}}}, {}, ("llamaStack.tls.insecure", "only applies to distribution: ogx")),
    ({"llamaStack": {"route": {"ingressClassName": "nginx"}}}, {}, ("llamaStack.route.ingressClassName", "OpenShift")),
    ({"mcpServer": {"route": {"enabled": True, "allowUnauthenticated": True, "tlsSecretName": "x"}}}, {},
     ("mcpServer.route.tlsSecretName", "OpenShift")),
    ({"llamaStack": {"inference": {"provider": "openai", "url": "https://api.example.com/v1"}}}, {},
     ("inferenceApiKey: is required with llamaStack.inference.provider: openai",)),
], ids=["rule-without-scrape", "ogx-tls-and-insecure", "insecure-on-llama-stack", "ingress-class-on-openshift",
        "tls-secret-on-openshift", "openai-without-key"])
def test_contradictions_are_refused(overrides, secrets, fragments, preview):
    refused(run_variant(preview=preview, secrets=secrets, **overrides), *fragments)


def test_a_section_broken_several_ways_reports_every_problem():
    result = run_variant(mcpServer={
        "replicas": 0,
        "rbac": {"preset": "custom", "scope": "namespaces", "namespaces": ["a", "a"], "rules": []},
        "oauth": {"enabled": True, "authorizationUrl": "http://insecure"},
        "resources": {"requests": {"cpu": "2", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}},
    })
    error = refused(result, "mcpServer.replicas", "mcpServer.rbac.namespaces", "mcpServer.rbac.rules",
                    "mcpServer.oauth.authorizationUrl", "mcpServer.resources.requests.cpu")
    assert "(5 problem(s))" in error or "(6 problem(s))" in error, error


# ---------------------------------------------- render reads YAML as Pulumi does

def test_stack_files_are_read_as_yaml_1_2(tmp_path):
    stack = tmp_path / "Pulumi.yaml12.yaml"
    stack.write_text("config:\n  llamastack-mcp:mcpServer:\n    replicas: yes\n"
                     "  llamastack-mcp:llamaStack:\n    route:\n      timeoutSeconds: 5:00\n")
    error = refused(offline.run_stack(str(stack)))
    assert 'mcpServer.replicas = "yes"' in error and 'llamaStack.route.timeoutSeconds = "5:00"' in error


@pytest.mark.parametrize("section", ["mcpServer", "llamaStack"])
@pytest.mark.parametrize("value", [0, 29, 3601, "soon"])
def test_rollout_timeouts_outside_30_s_to_1_h_are_refused(section, value):
    refused(run_variant(**{section: {"rolloutTimeoutSeconds": value}}), f"{section}.rolloutTimeoutSeconds")


@pytest.mark.parametrize("section", ["mcpServer", "llamaStack"])
@pytest.mark.parametrize("value", [-1, 21, "5s"])
def test_shutdown_delays_outside_0_to_20_s_are_refused(section, value):
    """Past 20 s the sleep would eat the pod's 30 s grace period, and the server would be killed mid-request."""
    error = refused(run_variant(**{section: {"shutdownDelaySeconds": value}}), f"{section}.shutdownDelaySeconds")
    assert str(value) in error
