"""Who may call Llama Stack (llamaStack.auth): rendered into the server's own config, on by default."""

from __future__ import annotations

import pytest
import yaml

from conftest import container, run_variant
from test_hostile_settings import refused

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
    assert [(r["permit"]["paths"], r["when"]) for r in policy] == [
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
    refused(run_variant(preview=preview, llamaStack={"auth": {"provider": "none"}}),
            "llamaStack.route.enabled = true", "route.allowUnauthenticated: true")
    opened = run_variant(preview=preview, llamaStack={"auth": {"provider": "none"},
                                                      "route": {"allowUnauthenticated": True}})
    assert opened.error is None, opened.error
    assert "auth" not in server_config(opened)["server"]
    internal = run_variant(preview=preview, llamaStack={"auth": {"provider": "none"}, "route": {"enabled": False}})
    assert internal.error is None, internal.error


@pytest.mark.parametrize("auth, fragment", [
    ({"provider": "oidc"}, "llamaStack.auth.oidc.issuer"),
    ({"provider": "oidc", "oidc": {"issuer": "http://plain", "jwksUrl": "https://x/certs"}}, "must be an https://"),
    ({"provider": "none", "allowedGroups": ["a"]}, "needs a provider"),
    ({"allowedGroups": ["has space"]}, "llamaStack.auth.allowedGroups[0]"),
])
def test_incomplete_identity_settings_are_refused(auth, fragment):
    refused(run_variant(llamaStack={"auth": auth, "route": {"allowUnauthenticated": True}}), fragment)
