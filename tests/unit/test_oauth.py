"""mcpServer.oauth for clients that call the MCP server directly: every setting the v0.0.67 server reads
(`server_url`, `oauth_scopes`, `certificate_authority`, `disable_dynamic_client_registration`, `[token_exchange]`),
rendered as set, and the combinations that cannot work refused, named as written. Against a real issuer (the local
API server's ServiceAccount issuer): tests/cluster/real_node/test_dev_oauth.py."""

from __future__ import annotations

import tomllib

import pytest

from support import refused, run_variant

ISSUER = "https://sso.example.com/realms/ops"
ON = {"enabled": True, "authorizationUrl": ISSUER}


def config(result) -> dict:
    return tomllib.loads(result.one("ConfigMap", "kubernetes-mcp-server-config")["data"]["config.toml"])


def test_every_oauth_setting_reaches_the_server(preview):
    result = run_variant(preview=preview, mcpServer={
        "configSecretName": "mcp-oauth", "oauth": {**ON, "audience": "mcp", "serverUrl": "https://mcp.example.com",
                                                   "scopes": ["openid"], "caConfigMap": "sso-ca",
                                                   "disableDynamicClientRegistration": True,
                                                   "tokenExchange": {"strategy": "rfc8693", "audience": "k8s",
                                                                     "scopes": ["openid"], "clientId": "mcp"}}})
    assert result.error is None, result.error
    cfg = config(result)
    assert {k: cfg[k] for k in ("server_url", "oauth_scopes", "certificate_authority",
                                "disable_dynamic_client_registration")} == {
        "server_url": "https://mcp.example.com", "oauth_scopes": ["openid"],
        "certificate_authority": "/etc/kubernetes-mcp-server-oauth-ca/ca.crt",
        "disable_dynamic_client_registration": True}
    assert cfg["token_exchange"] == {"strategy": "rfc8693", "audience": "k8s", "scopes": ["openid"],
                                     "client_auth": {"method": "client_secret_basic", "client_id": "mcp"}}
    assert "client_secret" not in cfg["token_exchange"]["client_auth"], "from configSecretName's drop-in only"
    spec = result.one("Deployment", "kubernetes-mcp-server")["spec"]["template"]["spec"]
    assert {"name": "oauth-ca", "configMap": {"name": "sso-ca", "items": [{"key": "ca.crt", "path": "ca.crt"}]}} \
        in spec["volumes"]
    args = spec["containers"][0]["args"]
    assert args[args.index("--authorization-url") + 1] == ISSUER and args[args.index("--oauth-audience") + 1] == "mcp"


def test_the_server_url_defaults_to_the_routes_host(preview):
    result = run_variant(preview=preview, mcpServer={"oauth": ON, "route": {"enabled": True,
                                                                           "host": "mcp.apps.example.com"}})
    assert result.error is None, result.error
    assert config(result)["server_url"] == "https://mcp.apps.example.com"


def test_without_oauth_nothing_of_it_is_rendered(dev):
    assert not {"server_url", "oauth_scopes", "certificate_authority", "token_exchange"} & set(config(dev))


@pytest.mark.parametrize("mcp, fragments", [
    ({"oauth": ON, "route": {"enabled": True}},
     ['mcpServer.oauth.serverUrl = "": required when the route\'s host is generated']),
    ({"oauth": {**ON, "serverUrl": "http://mcp.example.com"}},
     ['mcpServer.oauth.serverUrl = "http://mcp.example.com": must be https://']),
    ({"oauth": {"scopes": ["openid"], "caConfigMap": "sso-ca"}},
     ['mcpServer.oauth.scopes = ["openid"]: has no effect with oauth.enabled: false',
      'mcpServer.oauth.caConfigMap = "sso-ca": has no effect']),
    ({"oauth": {**ON, "tokenExchange": {"strategy": "rfc8693"}}, "configSecretName": "s"},
     ['mcpServer.oauth.tokenExchange.clientId = "": required with tokenExchange.strategy rfc8693']),
    ({"oauth": {**ON, "tokenExchange": {"clientId": "mcp"}}},
     ['mcpServer.oauth.tokenExchange.strategy = "": required when any tokenExchange setting is given']),
    ({"oauth": {**ON, "tokenExchange": {"strategy": "sts"}}}, ["mcpServer.oauth.tokenExchange.strategy"]),
    ({"oauth": {**ON, "tokenExchange": {"strategy": "rfc8693", "clientId": "mcp"}}},
     ['mcpServer.configSecretName = "": required with oauth.tokenExchange']),
])
def test_combinations_that_cannot_work_are_refused(mcp, fragments):
    refused(run_variant(mcpServer=mcp), *fragments)
