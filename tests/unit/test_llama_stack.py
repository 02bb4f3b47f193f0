"""The LlamaStack component, its config file per dialect, secrets, and the NetworkPolicies."""

from __future__ import annotations

import json

import pytest
import yaml

from components.llama_stack_config import render
from components.settings import load_settings
from support import TEST_SECRETS, container, run_variant
from testbed.e2e.servers import OGX

LS = "llama-stack"
MCP_URL = "http://kubernetes-mcp-server.llama-stack.svc.cluster.local:8080/mcp"


def config_of(run) -> dict:
    return yaml.safe_load(run.one("ConfigMap", "llama-stack-config")["data"]["config.yaml"])


def test_dev_registers_the_full_set(dev):
    kinds = sorted(m["kind"] for m in dev.manifests() if m["metadata"].get("labels", {}).get("app.kubernetes.io/name") == LS)
    assert kinds == ["ConfigMap", "Deployment", "NetworkPolicy", "PersistentVolumeClaim", "Route", "Service",
                     "ServiceAccount"]
    component = [r for r in dev.objects if r.parent.endswith("LlamaStack::llama-stack")]
    assert {r.kind for r in component} == {"ConfigMap", "Deployment", "PersistentVolumeClaim", "Route", "Service",
                                           "ServiceAccount"}


def test_prod_registers_the_full_set(prod):
    for kind in ("ConfigMap", "Secret", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
                 "Route", "NetworkPolicy", "ServiceAccount"):
        assert prod.find(kind, LS if kind not in ("ConfigMap", "Secret") else None), kind
    assert prod.find("PersistentVolumeClaim") == []


def test_connectors_dialect_for_0_7(dev):
    config = config_of(dev)
    assert config["connectors"] == [{"connector_id": "kubernetes", "connector_type": "mcp", "url": MCP_URL,
                                     "server_label": "kubernetes"}]
    assert "tool_groups" not in config.get("registered_resources", {})
    assert config["providers"]["tool_runtime"] == [{"provider_id": "model-context-protocol",
                                                    "provider_type": "remote::model-context-protocol", "config": {}}]
    assert config["storage"]["stores"]["connectors"] == {"namespace": "connectors", "backend": "kv_default"}
    assert config["server"]["port"] == 8321


def test_tool_groups_dialect_for_0_6(preview):
    run = run_variant(preview=preview, llamaStack={"version": "0.6.1", "image": "docker.io/llamastack/distribution-starter:0.6.1",
                                                   "extraMcpServers": [{"id": "github", "url": "https://mcp.example.com/mcp"}]})
    config = config_of(run)
    assert "connectors" not in config
    assert config["registered_resources"]["tool_groups"] == [
        {"toolgroup_id": "mcp::kubernetes", "provider_id": "model-context-protocol", "mcp_endpoint": {"uri": MCP_URL}},
        {"toolgroup_id": "mcp::github", "provider_id": "model-context-protocol",
         "mcp_endpoint": {"uri": "https://mcp.example.com/mcp"}}]


def test_ogx_dialect_uses_sql_stores_and_its_own_cli(preview):
    run = run_variant(preview=preview, llamaStack=OGX)
    config = config_of(run)
    assert config["connectors"][0]["url"] == MCP_URL
    assert config["storage"]["stores"]["connectors"] == {"table_name": "connectors", "backend": "sql_default"}
    assert config["storage"]["backends"]["kv_default"]["db_path"].startswith("/.ogx/")
    # OGX refuses plain HTTP: on OpenShift it gets a service-serving certificate and a reencrypt route.
    assert config["server"]["tls_certfile"] == "/etc/llama-stack/tls/tls.crt"
    c = container(run, LS)
    assert c["command"] == ["ogx", "run", "/etc/llama-stack/config.yaml", "--port", "8321"]
    assert c["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    svc = run.one("Service", LS)
    assert svc["metadata"]["annotations"]["service.beta.openshift.io/serving-cert-secret-name"] == "llama-stack-tls"
    assert run.one("Route", LS)["spec"]["tls"]["termination"] == "reencrypt"
    volumes = run.one("Deployment", LS)["spec"]["template"]["spec"]["volumes"]
    assert {"name": "tls", "secret": {"secretName": "llama-stack-tls"}} in volumes


def test_ogx_insecure_only_when_asked(preview):
    run = run_variant(preview=preview, platform="kubernetes",
                      llamaStack={**OGX, "tls": {"insecure": True}, "route": {"host": "ls.example.com"}})
    assert container(run, LS)["command"][-1] == "--insecure"
    assert config_of(run)["server"].get("insecure") is True


def test_llama_stack_cli_gets_the_port_explicitly(dev):
    c = container(dev, LS)
    assert c["command"] == ["llama", "stack", "run", "/etc/llama-stack/config.yaml", "--port", "8321"]
    assert {"name": "KUBERNETES_MCP_URL", "value": MCP_URL} in c["env"]
    assert c["ports"] == [{"name": "http", "containerPort": 8321, "protocol": "TCP"}]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["path"] == "/v1/health"
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 180, "cold starts need minutes"


def test_sqlite_gets_a_volume_and_recreate(dev):
    deployment = dev.one("Deployment", LS)
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    claim = dev.one("PersistentVolumeClaim", "llama-stack-data")["spec"]
    assert claim["accessModes"] == ["ReadWriteOnce"] and claim["resources"]["requests"]["storage"] == "5Gi"
    mounts = container(dev, LS)["volumeMounts"]
    assert {"name": "data", "mountPath": "/.llama"} in mounts
    assert config_of(dev)["storage"]["backends"]["kv_default"] == {"type": "kv_sqlite", "db_path": "/.llama/kvstore.db"}


def test_postgres_config_takes_the_password_from_the_environment(prod):
    config = config_of(prod)
    kv = config["storage"]["backends"]["kv_default"]
    assert kv == {"type": "kv_postgres", "host": "postgres.llama-stack-data.svc.cluster.local", "port": 5432,
                  "db": "llamastack", "user": "llamastack", "password": "${env.POSTGRES_PASSWORD}"}
    assert config["storage"]["backends"]["sql_default"]["type"] == "sql_postgres"
    env = container(prod, LS)["env"]
    assert {"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "llama-stack-secrets",
                                                                         "key": "POSTGRES_PASSWORD"}}} in env
    assert prod.one("Deployment", LS)["spec"]["strategy"]["type"] == "RollingUpdate"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_secret_values_appear_only_in_secrets_and_stay_secret(stack, preview):
    run = run_variant(stack, preview=preview, secrets=dict(TEST_SECRETS))
    assert run.error is None, run.error
    for registered in run.resources:
        text = json.dumps(registered.inputs)
        if registered.kind == "Secret":
            # Present, but wrapped as a Pulumi secret, so state and logs mask it.
            assert all(v not in json.dumps(registered.masked_manifest) for v in TEST_SECRETS.values())
            assert TEST_SECRETS["inferenceApiKey"] in text
            continue
        for value in TEST_SECRETS.values():
            assert value not in text, f"secret leaked into {registered.typ} {registered.name}"
    assert not any(v in line for line in run.logs for v in TEST_SECRETS.values())
    secret = run.one("Secret")
    assert set(secret["stringData"]) == {"INFERENCE_API_KEY", "POSTGRES_PASSWORD"}


def test_config_change_rolls_the_pods(preview):
    a = run_variant(preview=preview)
    b = run_variant(preview=preview, llamaStack={"inference": {"model": "llama-3.1-8b"}})
    annotations = [r.one("Deployment", LS)["spec"]["template"]["metadata"]["annotations"]["checksum/config"] for r in (a, b)]
    assert annotations[0] != annotations[1]
    assert config_of(b)["registered_resources"]["models"][0]["model_id"] == "llama-3.1-8b"


def test_route_timeout_and_ingress_equivalent(prod, preview):
    route = prod.one("Route", LS)
    assert route["metadata"]["annotations"]["haproxy.router.openshift.io/timeout"] == "600s"
    assert route["spec"]["tls"] == {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}
    run = run_variant(preview=preview, platform="kubernetes", llamaStack={"route": {"host": "ls.example.com"}})
    ingress = run.one("Ingress", LS)
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "300"
    assert annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"] == "300", "a long upload is cut like a long answer"
    assert ingress["spec"]["tls"] == [{"hosts": ["ls.example.com"], "secretName": f"{LS}-ingress-tls"}], \
        "without tlsSecretName the Ingress names a Secret of its own"


def test_service_account_mounts_no_token_and_pod_is_restricted(dev):
    assert dev.one("ServiceAccount", LS)["automountServiceAccountToken"] is False
    spec = dev.one("Deployment", LS)["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False
    sc = spec["containers"][0]["securityContext"]
    assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"] and sc["capabilities"] == {"drop": ["ALL"]}
    mounts = {m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
    assert {"/tmp", "/.cache", "/.llama", "/etc/llama-stack"} <= mounts


def test_kubernetes_sets_explicit_uid_and_fsgroup(preview):
    run = run_variant(preview=preview, platform="kubernetes", llamaStack={"route": {"host": "ls.example.com"}})
    pod = run.one("Deployment", LS)["spec"]["template"]["spec"]["securityContext"]
    assert pod["runAsUser"] == 10001 and pod["fsGroup"] == 10001 and pod["runAsNonRoot"] is True


def test_outputs(dev):
    """Known before anything exists, so a preview shows them too (both modes run)."""
    assert dev.outputs["llamaStackInternalUrl"] == "http://llama-stack.llama-stack.svc.cluster.local:8321"
    assert dev.outputs["mcpServerUrl"] == MCP_URL
    assert dev.outputs["namespace"] == "llama-stack"
    assert dev.outputs["mcpServiceAccount"] == "kubernetes-mcp-server"
    # The Route's host is OpenShift's to generate unless set: the URL says so rather than guessing.
    assert dev.outputs["llamaStackUrl"] == "https://<generated>"


def test_render_is_pure_and_dialect_follows_version():
    for version, dialect in (("0.6.1", "tool_groups"), ("0.7.0", "connectors"), ("0.7.3", "connectors")):
        settings = load_settings({"llamaStack": {"version": version}})
        assert settings.llama_stack.dialect == dialect
        assert ("connectors" in render(settings.llama_stack, MCP_URL)) == (dialect == "connectors")


@pytest.mark.parametrize("overrides,api,provider_type", [
    ({"version": "0.6.1"}, "agents", "inline::meta-reference"),
    ({"version": "0.7.3"}, "responses", "inline::builtin"),
    ({"distribution": "ogx", "version": "1.5.0", "image": "x.io/ogx/starter:1.5.0"}, "responses", "inline::builtin"),
])
def test_agent_api_and_what_it_needs_per_dialect(overrides, api, provider_type):
    stack = load_settings({"llamaStack": overrides}).llama_stack
    config = render(stack, MCP_URL)
    assert set(config["apis"]) == {"inference", "tool_runtime", "files", "vector_io", api}
    assert set(config["providers"]) == set(config["apis"])
    agent = config["providers"][api][0]
    assert agent["provider_type"] == provider_type
    assert agent["config"]["persistence"]["responses"]["backend"] == "sql_default"
    assert ("agent_state" in agent["config"]["persistence"]) == (stack.distribution != "ogx")
    files = config["providers"]["files"][0]["config"]
    assert files["storage_dir"].startswith(("/.llama/", "/.ogx/")) and files["metadata_store"]["backend"] == "sql_default"
    assert config["providers"]["vector_io"][0]["config"]["persistence"]["backend"] == "kv_default"
