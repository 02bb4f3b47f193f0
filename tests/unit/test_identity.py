"""Who may call Llama Stack (llamaStack.auth): rendered into the server's own config, on by default."""

from __future__ import annotations

import tomllib

import pytest
import yaml

from support import container, run_variant
from support import refused

LS = "llama-stack"


def server_config(run) -> dict:
    return yaml.safe_load(run.one("ConfigMap", "llama-stack-config")["data"]["config.yaml"])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_default_stacks_require_a_cluster_identity(stack, preview):
    run = run_variant(stack, preview=preview, secrets={"postgresPassword": "pw"})
    assert run.error is None, run.error
    auth = server_config(run)["server"]["auth"]["provider_config"]
    assert auth == {"type": "kubernetes", "api_server_url": "https://kubernetes.default.svc", "verify_tls": True,
                    "tls_cafile": "/etc/llama-stack/kube-ca/ca.crt",
                    "claims_mapping": {"username": "roles", "groups": "roles"}}
    pod = run.one("Deployment", LS)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False, "checking tokens needs no token of its own"
    volume = next(v for v in pod["volumes"] if v["name"] == "kube-ca")
    assert volume["configMap"]["name"] == "kube-root-ca.crt"
    mount = next(m for m in container(run, LS)["volumeMounts"] if m["name"] == "kube-ca")
    assert mount["mountPath"] == "/etc/llama-stack/kube-ca" and mount["readOnly"] is True


def test_allowed_groups_become_the_route_policy():
    run = run_variant(llamaStack={"auth": {"allowedGroups": ["platform-team", "system:authenticated"]}})
    policy = server_config(run)["server"]["auth"]["route_policy"]
    assert [(r["permit"]["paths"], r.get("when")) for r in policy] == [
        ("/v1/health", None),  # the kubelet's probes carry no identity
        ("*", "user with platform-team in roles"), ("*", "user with system:authenticated in roles")]


def test_oidc_checks_tokens_against_the_identity_providers_keys():
    oidc = {"issuer": "https://sso.example.com/realms/a", "audience": "agents",
            "jwksUrl": "https://sso.example.com/realms/a/protocol/openid-connect/certs"}
    run = run_variant(llamaStack={"auth": {"provider": "oidc", "oidc": oidc}})
    auth = server_config(run)["server"]["auth"]["provider_config"]
    assert auth["type"] == "oauth2_token" and auth["issuer"] == oidc["issuer"] and auth["audience"] == "agents"
    assert auth["jwks"] == {"uri": oidc["jwksUrl"]}
    assert all(v["name"] != "kube-ca" for v in run.one("Deployment", LS)["spec"]["template"]["spec"]["volumes"])


def test_an_exposed_agent_api_without_identity_needs_the_opt_out(preview):
    refused(run_variant(preview=preview, llamaStack={"auth": {"provider": "none", "allowedGroups": []}}),
            "llamaStack.route.enabled = true", "route.allowUnauthenticated: true")
    opened = run_variant(preview=preview, llamaStack={"auth": {"provider": "none", "allowedGroups": []},
                                                      "route": {"allowUnauthenticated": True}})
    assert opened.error is None, opened.error
    assert "auth" not in server_config(opened)["server"]
    internal = run_variant(preview=preview, llamaStack={"auth": {"provider": "none", "allowedGroups": []},
                                                        "route": {"enabled": False}},
                           mcpServer={"rbac": {"preset": "read-only"}})
    assert internal.error is None, internal.error


@pytest.mark.parametrize("auth, fragment", [
    ({"provider": "oidc"}, "llamaStack.auth.oidc.issuer"),
    ({"provider": "oidc", "oidc": {"issuer": "http://plain", "jwksUrl": "https://x/certs"}}, "must be an https://"),
    ({"provider": "none", "allowedGroups": ["a"]}, "needs a provider"),
    ({"allowedGroups": ["has space"]}, "llamaStack.auth.allowedGroups[0]"),
])
def test_incomplete_identity_settings_are_refused(auth, fragment):
    refused(run_variant(llamaStack={"auth": auth, "route": {"allowUnauthenticated": True}}), fragment)


# ------------------------------------------------------- identity passthrough (mcpServer.passthrough)

MCP = "kubernetes-mcp-server"
PW = {"postgresPassword": "pw"}


def test_prod_forwards_the_callers_identity_and_grants_the_service_account_nothing(preview):
    run = run_variant("prod", preview=preview, secrets=PW)
    assert run.error is None, run.error
    assert [r for r in run.resources if r.kind in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")] == []
    config = tomllib.loads(run.one("ConfigMap", f"{MCP}-config")["data"]["config.toml"])
    assert {k: config[k] for k in ("require_oauth", "cluster_auth_mode", "skip_jwt_verification")} == {
        "require_oauth": True, "cluster_auth_mode": "passthrough", "skip_jwt_verification": True}
    args = container(run, MCP)["args"]
    assert args[args.index("--config") + 1] == "/etc/kubernetes-mcp-server/config.toml"
    assert args[args.index("--tls-cert") + 1] == "/etc/kubernetes-mcp-server/tls/tls.crt"
    assert args[args.index("--tls-key") + 1] == "/etc/kubernetes-mcp-server/tls/tls.key"
    assert "--read-only" in args, "the preset still chooses the tool surface"


def test_passthrough_serves_tls_from_the_openshift_service_certificate(preview):
    run = run_variant("prod", preview=preview, secrets=PW)
    service = run.one("Service", MCP)["metadata"]["annotations"]
    assert service["service.beta.openshift.io/serving-cert-secret-name"] == f"{MCP}-tls"
    pod = run.one("Deployment", MCP)["spec"]["template"]["spec"]
    assert {"name": "tls", "secret": {"secretName": f"{MCP}-tls"}} in pod["volumes"]
    probes = container(run, MCP)
    assert {probes[p]["httpGet"]["scheme"] for p in ("startupProbe", "readinessProbe", "livenessProbe")} == {"HTTPS"}
    ca = run.one("ConfigMap", f"{MCP}-ca")["metadata"]
    assert ca["annotations"]["service.beta.openshift.io/inject-cabundle"] == "true"


def test_llama_stack_reaches_the_mcp_server_over_https_and_trusts_its_ca(preview):
    run = run_variant("prod", preview=preview, secrets=PW)
    connectors = server_config(run)["connectors"]
    assert connectors[0]["url"] == f"https://{MCP}.llama-stack.svc.cluster.local:8080/mcp"
    pod = run.one("Deployment", LS)["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert init["image"] == container(run, LS)["image"], "the bundle is built from the image's own public CAs"
    assert init["command"][-2:] == ["/etc/llama-stack/trust/ca-bundle.crt", "/etc/llama-stack/mcp-ca/ca.crt"]
    assert init["securityContext"] == container(run, LS)["securityContext"]
    assert {"name": "mcp-ca", "configMap": {"name": f"{MCP}-ca", "items": [{"key": "service-ca.crt",
                                                                             "path": "ca.crt"}]}} in pod["volumes"]
    env = {e["name"]: e.get("value") for e in container(run, LS)["env"]}
    assert env["SSL_CERT_FILE"] == "/etc/llama-stack/trust/ca-bundle.crt"


def test_on_kubernetes_the_named_tls_secret_holds_certificate_and_ca(preview):
    run = run_variant("prod", preview=preview, secrets=PW, platform="kubernetes",
                      llamaStack={"route": {"host": "ls.example.com"}}, mcpServer={"tls": {"secretName": "mcp-cert"}})
    assert run.error is None, run.error
    assert "service.beta.openshift.io/serving-cert-secret-name" not in run.one("Service", MCP)["metadata"]["annotations"]
    assert run.find("ConfigMap", f"{MCP}-ca") == []
    mcp_pod = run.one("Deployment", MCP)["spec"]["template"]["spec"]
    assert {"name": "tls", "secret": {"secretName": "mcp-cert"}} in mcp_pod["volumes"]
    ls_pod = run.one("Deployment", LS)["spec"]["template"]["spec"]
    assert {"name": "mcp-ca", "secret": {"secretName": "mcp-cert", "items": [{"key": "ca.crt", "path": "ca.crt"}]}} \
        in ls_pod["volumes"]


def test_passthrough_keeps_the_mcp_server_reachable_only_from_llama_stack(preview):
    run = run_variant("prod", preview=preview, secrets=PW, monitoring={"serviceMonitor": False,
                                                                        "prometheusRule": False})
    peers = run.one("NetworkPolicy", MCP)["spec"]["ingress"][0]["from"]
    assert peers == [{"podSelector": {"matchLabels": run.one("Deployment", LS)["spec"]["selector"]["matchLabels"]}}]


def test_without_passthrough_nothing_changes(preview):
    run = run_variant("dev", preview=preview)
    config = tomllib.loads(run.one("ConfigMap", f"{MCP}-config")["data"]["config.toml"])
    assert not {"require_oauth", "cluster_auth_mode", "tls_min_version"} & set(config), config
    assert run.find("ConfigMap", f"{MCP}-ca") == []
    assert "--tls-cert" not in container(run, MCP)["args"]
    assert "initContainers" not in run.one("Deployment", LS)["spec"]["template"]["spec"]
    assert server_config(run)["connectors"][0]["url"].startswith("http://")


@pytest.mark.parametrize("overrides, fragment", [
    ({"llamaStack": {"auth": {"provider": "none"}, "route": {"allowUnauthenticated": True}}},
     "mcpServer.passthrough = true: forwards the caller's token, but llamaStack.auth.provider is none"),
    ({"mcpServer": {"route": {"enabled": True}, "oauth": {"enabled": True,
                                                          "authorizationUrl": "https://sso.example.com"}}},
     "mcpServer.route.enabled = true: with mcpServer.passthrough the MCP server is reachable only from Llama Stack"),
    ({"platform": "kubernetes", "llamaStack": {"route": {"host": "ls.example.com"}}},
     'mcpServer.tls.secretName = "": is required with mcpServer.passthrough on platform: kubernetes'),
    ({"mcpServer": {"rbac": {"preset": "custom", "rules": [{"resources": ["pods"], "verbs": ["get"]}]}}},
     'mcpServer.rbac.preset = "custom": grants nothing with mcpServer.passthrough'),
    ({"mcpServer": {"rbac": {"scope": "namespaces", "namespaces": ["a"]}}},
     'mcpServer.rbac.scope = "namespaces": grants nothing with mcpServer.passthrough'),
    ({"mcpServer": {"passthrough": False, "tls": {"secretName": "mcp-cert"}}},
     'mcpServer.tls.secretName = "mcp-cert": is only used with mcpServer.passthrough: true'),
])
def test_passthrough_settings_that_cannot_work_are_refused(overrides, fragment, preview):
    refused(run_variant("prod", preview=preview, secrets=PW, **overrides), fragment)
