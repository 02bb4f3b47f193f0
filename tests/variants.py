"""The matrix of settings the manifest checks run over: (id, base stack, overrides, secrets)."""

from __future__ import annotations

from typing import Any

PW = {"postgresPassword": "pw-for-tests"}
KEY = {"inferenceApiKey": "sk-for-tests"}
K8S_HOSTS = {"llamaStack": {"route": {"host": "ls.example.com"}}}
OGX = {"distribution": "ogx", "version": "1.5.0", "image": "docker.io/ogxai/distribution-starter:1.5.0"}
POSTGRES = {"storage": {"backend": "postgres", "postgres": {"host": "db.example.com"}}}


def _rbac(preset: str, scope: str) -> dict[str, Any]:
    rbac: dict[str, Any] = {"preset": preset, "scope": scope}
    if scope == "namespaces":
        rbac["namespaces"] = ["team-a", "team-b"]
    if preset == "custom":
        rbac["rules"] = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
    return {"mcpServer": {"rbac": rbac}}


VARIANTS: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
    ("dev", "dev", {}, {}),
    ("prod", "prod", {}, PW),
    ("prod-kubernetes", "prod", {"platform": "kubernetes", **K8S_HOSTS,
                                 "mcpServer": {"tls": {"secretName": "mcp-cert"}}}, PW),
    ("dev-kubernetes", "dev", {"platform": "kubernetes", **K8S_HOSTS}, KEY),
    *[(f"{preset}-{scope}-{platform}", "dev", {"platform": platform, **K8S_HOSTS, **_rbac(preset, scope)}, {})
      for preset in ("full", "read-only", "view", "custom") for scope in ("cluster", "namespaces")
      for platform in ("openshift", "kubernetes")],
    ("autoscaling-postgres", "dev", {"mcpServer": {"autoscaling": {"enabled": True}},
                                     "llamaStack": {"autoscaling": {"enabled": True}, **POSTGRES}}, PW),
    ("llama-stack-0.6", "dev", {"llamaStack": {"version": "0.6.1",
                                               "image": "docker.io/llamastack/distribution-starter:0.6.1"}}, {}),
    ("ogx-openshift", "dev", {"llamaStack": OGX}, KEY),
    ("ogx-kubernetes-tls", "dev", {"platform": "kubernetes",
                                   "llamaStack": {**OGX, "tls": {"secretName": "ls-cert"},
                                                  "route": {"host": "ls.example.com"}}}, {}),
    ("monitoring", "dev", {"monitoring": {"serviceMonitor": True, "prometheusRule": True,
                                          "labels": {"team": "platform"}}}, {}),
    ("mcp-route-oauth-scc", "dev", {"mcpServer": {"scc": {"create": True},
                                                  "route": {"enabled": True, "host": "mcp.apps.example.com"},
                                                  "oauth": {"enabled": True,
                                                            "authorizationUrl": "https://sso.example.com/realms/a"}}},
     {}),
    ("mcp-ingress-kubernetes", "dev", {"platform": "kubernetes", **K8S_HOSTS,
                                       "mcpServer": {"route": {"enabled": True, "host": "mcp.example.com",
                                                               "allowUnauthenticated": True}},
                                       "monitoring": {"serviceMonitor": True}}, {}),
]
