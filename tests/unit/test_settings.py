"""Bad settings end the program before anything is registered, every problem named at once."""

from __future__ import annotations

import pytest

from components.quantity import parse_quantity
from components.settings import SettingsError, defaults, load_settings
from support import run_variant
from support import refused

BAD = [
    # (overrides, the line the report must contain)
    ({"mcpServer": {"replicas": 0}}, "mcpServer.replicas = 0: must be greater than or equal to 1"),
    ({"mcpServer": {"autoscaling": {"minReplicas": 6, "maxReplicas": 5}}},
     "mcpServer.autoscaling.minReplicas = 6: must be less than or equal to maxReplicas (5)"),
    ({"mcpServer": {"autoscaling": {"targetCPUUtilizationPercentage": 0}}},
     "mcpServer.autoscaling.targetCPUUtilizationPercentage = 0: must be greater than or equal to 1"),
    ({"mcpServer": {"autoscaling": {"targetCPUUtilizationPercentage": 101}}},
     "mcpServer.autoscaling.targetCPUUtilizationPercentage = 101: must be less than or equal to 100"),
    ({"mcpServer": {"resources": {"limits": {"memory": "512MB"}}}},
     'mcpServer.resources.limits.memory = "512MB": must be a Kubernetes quantity'),
    ({"mcpServer": {"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}},
     'mcpServer.resources.requests.cpu = "2": must not exceed limits.cpu (1)'),
    ({"mcpServer": {"replica": 2}}, "mcpServer.replica: unknown setting (did you mean 'replicas'?)"),
    ({"mcpServer": {"rbac": {"preset": "admin"}}},
     "mcpServer.rbac.preset = \"admin\": must be 'full', 'read-only', 'view' or 'custom'"),
    ({"mcpServer": {"rbac": {"scope": "world"}}}, "mcpServer.rbac.scope = \"world\": must be 'cluster' or 'namespaces'"),
    ({"platform": "openshft"}, "platform = \"openshft\": must be 'openshift' or 'kubernetes'"),
    ({"namespace": {"name": "Llama_Stack"}}, 'namespace.name = "Llama_Stack": must be a DNS-1123 label'),
    ({"mcpServer": {"route": {"enabled": True}}},
     "mcpServer.route.enabled = true: the MCP server has no authentication of its own"),
    ({"mcpServer": {"rbac": {"scope": "namespaces", "namespaces": []}}},
     "mcpServer.rbac.namespaces = []: must list at least one namespace with scope: namespaces"),
    ({"mcpServer": {"rbac": {"preset": "custom"}}}, "mcpServer.rbac.rules = []: must hold at least one PolicyRule"),
    ({"mcpServer": {"toolsets": ["core", "shell"]}}, 'mcpServer.toolsets[1] = "shell": must be'),
    ({"mcpServer": {"logLevel": 10}}, "mcpServer.logLevel = 10: must be less than or equal to 9"),
    ({"mcpServer": {"image": "Quay.io/x y"}}, 'mcpServer.image = "Quay.io/x y": must be an image reference'),
    ({"mcpServer": {"oauth": {"enabled": True}}}, 'mcpServer.oauth.authorizationUrl = "": must be the https:// URL'),
    ({"mcpServe": {}}, "mcpServe: unknown setting (did you mean 'mcpServer'?)"),
    # Llama Stack
    ({"llamaStack": {"version": "latest"}}, 'llamaStack.version = "latest": must be a release version X.Y.Z'),
    ({"llamaStack": {"version": "0.5.4"}},
     'llamaStack.version = "0.5.4": is not supported for distribution llama-stack; supported: 0.6.0 <= version < 0.8.0'),
    ({"llamaStack": {"distribution": "ogx", "version": "0.7.3", "image": "x.io/ogx/ogx:1"}},
     'llamaStack.version = "0.7.3": is not supported for distribution ogx'),
    ({"llamaStack": {"distribution": "vllm-stack"}}, "llamaStack.distribution = \"vllm-stack\": must be 'llama-stack' or 'ogx'"),
    ({"llamaStack": {"inference": {"provider": "bedrock"}}},
     "llamaStack.inference.provider = \"bedrock\": must be 'vllm', 'ollama' or 'openai'"),
    ({"llamaStack": {"replicas": 2}}, "llamaStack.replicas = 2: needs storage.backend: postgres: SQLite lives on a ReadWriteOnce"),
    ({"llamaStack": {"autoscaling": {"enabled": True}}}, "llamaStack.autoscaling.enabled = true: needs storage.backend: postgres"),
    ({"llamaStack": {"storage": {"backend": "postgres"}}}, 'llamaStack.storage.postgres.host = "": is required'),
    ({"llamaStack": {"storage": {"backend": "postgres", "postgres": {"host": "db"}}}},
     "postgresPassword: is required with llamaStack.storage.backend: postgres"),
    ({"llamaStack": {"distribution": "ogx", "version": "1.5.0", "image": ""}}, 'llamaStack.image = "": is required with distribution: ogx'),
    ({"platform": "kubernetes", "llamaStack": {"distribution": "ogx", "version": "1.5.0", "image": "x.io/o/ogx:1.5.0",
                                                "route": {"host": "ls.example.com"}}},
     'llamaStack.tls.secretName = "": OGX serves only TLS'),
    ({"llamaStack": {"extraMcpServers": [{"id": "kubernetes", "url": "http://x:1/mcp"}]}},
     "llamaStack.extraMcpServers = "),
    ({"mcpServer": {"route": {"tlsSecretName": "My_Cert"}}},
     'mcpServer.route.tlsSecretName = "My_Cert": must be empty or a Kubernetes object name'),
    ({"llamaStack": {"tls": {"secretName": "-cert"}}}, 'llamaStack.tls.secretName = "-cert": must be empty or a Kubernetes'),
    ({"llamaStack": {"storage": {"storageClassName": "Fast SSD"}}},
     'llamaStack.storage.storageClassName = "Fast SSD": must be empty or a Kubernetes object name'),
    ({"llamaStack": {"route": {"ingressClassName": "NGINX"}}},
     'llamaStack.route.ingressClassName = "NGINX": must be empty or a Kubernetes object name'),
    ({"monitoring": {"memoryWarningRatio": 1.5}}, "monitoring.memoryWarningRatio = 1.5: must be less than or equal to 1"),
]


@pytest.mark.parametrize("overrides,expected", BAD, ids=[e[:50] for _, e in BAD])
def test_bad_setting_is_rejected_before_anything_is_registered(overrides, expected, preview):
    result = run_variant(preview=preview, **overrides)
    assert result.error is not None, "the program accepted a bad setting"
    assert expected in result.error, result.error
    assert result.resources == [], "resources were registered before the settings error"
    assert "Traceback" not in result.error


def test_every_problem_is_reported_at_once(preview):
    result = run_variant(preview=preview, platform="aws",
                         mcpServer={"replicas": 0, "replica": 1, "autoscaling": {"minReplicas": 9},
                                    "route": {"enabled": True}},
                         llamaStack={"replicas": 3})
    assert result.error is not None
    for fragment in ("platform =", "mcpServer.replicas = 0", "mcpServer.replica:", "mcpServer.autoscaling.minReplicas = 9",
                     "mcpServer.route.enabled", "llamaStack.replicas = 3"):
        assert fragment in result.error, f"{fragment!r} missing from:\n{result.error}"
    assert "invalid stack settings (6 problem(s))" in result.error
    assert result.resources == []


def test_several_llama_stack_replicas_need_postgres(preview):
    refused(run_variant(preview=preview, llamaStack={"replicas": 3}), "llamaStack.replicas = 3: needs storage.backend: postgres")
    result = run_variant(preview=preview, secrets={"postgresPassword": "pw"},
                         llamaStack={"replicas": 3, "storage": {"backend": "postgres", "postgres": {"host": "db"}}})
    assert result.error is None, result.error
    assert result.one("Deployment", "llama-stack")["spec"]["replicas"] == 3


def test_autoscaling_llama_stack_needs_postgres_too(preview):
    refused(run_variant(preview=preview, llamaStack={"autoscaling": {"enabled": True}}),
            "llamaStack.autoscaling.enabled = true: needs storage.backend: postgres")
    result = run_variant(preview=preview, secrets={"postgresPassword": "pw"}, llamaStack={
        "autoscaling": {"enabled": True}, "storage": {"backend": "postgres", "postgres": {"host": "db"}}})
    assert result.error is None, result.error
    assert result.one("HorizontalPodAutoscaler", "llama-stack")["spec"]["minReplicas"] == 2


@pytest.mark.parametrize("text,value", [("500m", "0.5"), ("1", "1"), ("256Mi", str(256 * 2**20)), ("1Gi", str(2**30)),
                                        ("1e3", "1000"), ("1.5k", "1500.0"), (".5", "0.5")])
def test_quantity_parsing_matches_kubernetes(text, value):
    from decimal import Decimal
    assert parse_quantity(text) == Decimal(value)


@pytest.mark.parametrize("text", ["512MB", "1.5.0", "Mi", "", "1 Gi", "-", "10mi"])
def test_quantity_rejects_what_kubernetes_rejects(text):
    with pytest.raises(ValueError):
        parse_quantity(text)


def test_defaults_are_valid_and_complete():
    settings = load_settings({})
    assert settings.mcp_server.rbac.preset == "read-only"
    assert set(defaults()) == {"platform", "namespace", "mcpServer", "llamaStack", "networkPolicy", "monitoring",
                                "telemetry", "migration", "fleet", "target"}


def test_error_report_lists_one_line_per_problem():
    with pytest.raises(SettingsError) as err:
        load_settings({"mcpServer": {"replicas": 0, "logLevel": -1}})
    assert len(err.value.problems) == 2
    assert err.value.report().count("\n  - ") == 2


def test_adopted_helm_releases_keep_their_pod_selectors(preview):
    from support import run_variant
    run = run_variant(preview=preview, migration={"helmReleases": {"mcpServer": "kubernetes-mcp-server",
                                                                    "llamaStack": "ls-release"}})
    assert run.error is None, run.error
    mcp = {"app.kubernetes.io/name": "kubernetes-mcp-server", "app.kubernetes.io/instance": "kubernetes-mcp-server"}
    assert run.one("Deployment", "kubernetes-mcp-server")["spec"]["selector"]["matchLabels"] == mcp
    assert run.one("Service", "kubernetes-mcp-server")["spec"]["selector"] == mcp
    assert run.one("NetworkPolicy", "kubernetes-mcp-server")["spec"]["podSelector"]["matchLabels"] == mcp
    stack = run.one("Deployment", "llama-stack")["spec"]["selector"]["matchLabels"]
    assert stack["app.kubernetes.io/instance"] == "ls-release"


def test_a_helm_release_name_must_be_a_dns_label():
    with pytest.raises(SettingsError) as err:
        load_settings({"migration": {"helmReleases": {"mcpServer": "Bad_Name"}}})
    assert err.value.problems[0].startswith('migration.helmReleases.mcpServer = "Bad_Name": must be a DNS-1123 label')
