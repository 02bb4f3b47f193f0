"""mcpServer.oauth as the real binary (kubernetes-mcp-server v0.0.67) reads it: the rendered config, a drop-in with
the token exchange's client secret (configSecretName), every key accepted; the server then goes on to read its
issuer's discovery document, which here is a closed port on 127.0.0.1, and stops there. Against a real issuer on
real pods: tests/cluster/real_node/test_dev_oauth.py."""

from __future__ import annotations

import socket
import subprocess

from support import run_variant
from testbed.e2e.servers import deps, self_signed_cert

KUBECONFIG = ("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
              "users: [{name: u, user: {}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
              "current-context: c\n")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again once the block ends: nothing listens there


def start(config: str, drop_in: str, tmp_path) -> str:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "config.toml").write_text(config)
    (tmp_path / "conf.d" / "50-token-exchange.toml").write_text(drop_in)
    self_signed_cert(tmp_path / "ca")  # the issuer's CA, as caConfigMap would hold it
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    issuer = f"https://127.0.0.1:{closed_port()}"
    proc = subprocess.run([deps("mcp", MCP_VERSION="0.0.67"), "--port", "0", "--config", str(tmp_path / "config.toml"),
                           "--config-dir", str(tmp_path / "conf.d"), "--kubeconfig", str(tmp_path / "kubeconfig"),
                           "--require-oauth", "--authorization-url", issuer], capture_output=True, text=True,
                          timeout=60)
    return proc.stdout + proc.stderr


def test_the_rendered_oauth_and_token_exchange_config_is_what_the_server_reads(tmp_path):
    result = run_variant("dev", mcpServer={
        "configSecretName": "mcp-oauth",
        "oauth": {"enabled": True, "authorizationUrl": "https://sso.example.com", "audience": "mcp",
                  "serverUrl": "https://mcp.example.com", "scopes": ["openid"], "caConfigMap": "sso-ca",
                  "disableDynamicClientRegistration": True,
                  "tokenExchange": {"strategy": "keycloak-v1", "audience": "k8s", "clientId": "mcp",
                                    "clientAuthMethod": "client_secret_post"}}})
    assert result.error is None, result.error
    config = result.one("ConfigMap", "kubernetes-mcp-server-config")["data"]["config.toml"]
    config = config.replace("/etc/kubernetes-mcp-server-oauth-ca/ca.crt", str(tmp_path / "ca" / "tls.crt"))
    out = start(config, '[token_exchange.client_auth]\nclient_secret = "not-a-real-secret"\n', tmp_path)
    assert "invalid config" not in out and "unknown" not in out, out[-2000:]
    assert "unable to setup OIDC provider" in out, out[-2000:]  # past every config check, at the issuer


def test_the_old_sts_keys_the_issue_named_are_refused_by_v0_0_67(tmp_path):
    out = start('sts_client_id = "mcp"\n', "", tmp_path)
    assert "removed token exchange configuration keys: sts_client_id -> token_exchange.client_auth.client_id" in out
