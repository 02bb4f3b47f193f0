"""The matrix of settings every manifest check runs over, each variant saying what it exists to prove.

tests/unit/test_settings_docs.py (test_every_setting_is_set_to_a_non_default_value_somewhere) fails
when a setting is never set to a non-default value by
any variant (or by the dev and prod stack files): a new setting cannot ship unexercised.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

from testbed.e2e.servers import LEGACY, OGX

PW = {"postgresPassword": "pw-for-tests"}
KEY = {"inferenceApiKey": "sk-for-tests"}
# Fleet members reached by kubeconfigs held as the secret fleetKubeconfigs (no ambient kubeconfig needed).
FLEET_KUBECONFIG = (Path(__file__).parent.parent / "fixtures" / "fleet-kubeconfig.yaml").read_text()
FLEET_SECRETS = {"fleetKubeconfigs": json.dumps({"staging": FLEET_KUBECONFIG, "sandbox": FLEET_KUBECONFIG})}
FLEET = {"hubName": "central", "members": [
    {"name": "staging", "context": "staging-admin", "rbac": {"preset": "view", "scope": "namespaces",
                                                             "namespaces": ["team-a", "team-b"]}},
    {"name": "sandbox", "context": "sandbox-admin", "platform": "kubernetes", "tokenGeneration": 3,
     "server": "https://10.0.0.10:6443", "rbac": {"preset": "full"}}]}
K8S_HOSTS = {"llamaStack": {"route": {"host": "ls.example.com"}}}
POSTGRES = {"storage": {"backend": "postgres", "postgres": {"host": "db.example.com", "port": 6432,
                                                            "database": "agents", "user": "agents"},
                        "storageClassName": "fast", "size": "20Gi"}}
SCHEDULING = {
    "nodeSelector": {"node-role.kubernetes.io/worker": ""},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "agents", "effect": "NoSchedule"},
                    {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}]},
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 10, "preference": {
                "matchExpressions": [{"key": "cpu-count", "operator": "Gt", "values": ["4"]}]}}]},
        "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
            "topologyKey": "topology.kubernetes.io/zone", "namespaces": ["models"],
            "labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["vllm"]}]}}]},
        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 50, "podAffinityTerm": {
            "topologyKey": "kubernetes.io/hostname",
            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "kubernetes-mcp-server"}}}}]}},
    "topologySpreadConstraints": [{"maxSkew": 2, "topologyKey": "topology.kubernetes.io/zone",
                                   "whenUnsatisfiable": "DoNotSchedule", "minDomains": 2}],
    "priorityClassName": "agents-high",
    "podLabels": {"team": "platform"},
    "podAnnotations": {"example.com/owner": "platform team"},
    "imagePullSecrets": ["quay-pull"],
    "imagePullPolicy": "Always",
}


class Variant(NamedTuple):
    id: str
    base: str
    overrides: dict[str, Any]
    secrets: dict[str, str]
    why: str


# Cluster scope, whatever the base stack says.
CLUSTER_SCOPE = {"scope": "cluster", "namespaces": [], "createNamespaces": False}
# A sandbox namespace the agent alone may change, created (and kept) by the stack.
SANDBOX = {"scope": "namespaces", "namespaces": ["llama-stack-sandbox"], "createNamespaces": True}


def _rbac(preset: str, scope: str) -> dict[str, Any]:
    # Over dev's own: its sandbox namespace is replaced, and it is not created here.
    rbac: dict[str, Any] = {"preset": preset, "scope": scope, "namespaces": [], "createNamespaces": False}
    if scope == "namespaces":
        rbac["namespaces"] = ["team-a", "team-b"]
    if preset == "full" and scope == "cluster":
        rbac["allowClusterWideWrite"] = True  # the original design's default, now by explicit opt-in
    if preset == "custom":
        rbac["rules"] = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
                         {"resources": ["configmaps"], "resourceNames": ["settings"], "verbs": ["get"]}]
    return {"mcpServer": {"rbac": rbac}}


VARIANTS: list[Variant] = [
    Variant("dev", "dev", {}, {}, "the dev stack file as shipped"),
    Variant("prod", "prod", {}, PW, "the prod stack file as shipped (passthrough, HPA, Postgres, monitoring)"),
    Variant("prod-kubernetes", "prod", {"platform": "kubernetes", **K8S_HOSTS,
                                        "mcpServer": {"tls": {"secretName": "mcp-cert"}}}, PW,
            "prod on plain Kubernetes: Ingress, and passthrough's certificate from a named TLS Secret"),
    Variant("dev-kubernetes", "dev", {"platform": "kubernetes", **K8S_HOSTS}, KEY,
            "dev on plain Kubernetes, with the inference key Secret"),
    *[Variant(f"{preset}-{scope}-{platform}", "dev", {"platform": platform, **K8S_HOSTS, **_rbac(preset, scope)}, {},
              f"RBAC preset {preset} at {scope} scope renders valid objects on {platform}")
      for preset in ("full", "read-only", "view", "custom") for scope in ("cluster", "namespaces")
      for platform in ("openshift", "kubernetes")],
    Variant("every-toolset", "dev", {"mcpServer": {
        "toolsets": ["config", "core", "helm", "kcp", "kiali", "kubevirt", "netobserv", "tekton"],
        "toolsetConfigs": {"kiali": {"url": "https://kiali.istio-system.svc:20001", "caConfigMap": "kiali-ca",
                                     "caKey": "service-ca.crt"},
                           "helm": {"allowedRegistries": ["oci://registry.example.com"]}}}}, {},
        "every toolset offered, Kiali's URL and CA (a ConfigMap mounted as a file), Helm's allowed registries"),
    Variant("budget-and-memory", "prod", {
        "mcpServer": {"disruptionBudget": {"maxUnavailable": "25%"},
                      "autoscaling": {"targetMemoryUtilizationPercentage": 80}},
        "llamaStack": {"disruptionBudget": {"minAvailable": "50%"},
                       "autoscaling": {"targetMemoryUtilizationPercentage": 75}}}, PW,
        "a PDB by maxUnavailable and one by a percentage; HPAs on CPU and memory"),
    Variant("budget-counts", "prod", {"mcpServer": {"disruptionBudget": {"minAvailable": 1}},
                                      "llamaStack": {"disruptionBudget": {"maxUnavailable": 1}}}, PW,
            "PDBs by counts: minAvailable set explicitly, maxUnavailable 1"),
    Variant("kiali-insecure", "dev", {"mcpServer": {"toolsets": ["core", "kiali"], "toolsetConfigs": {
        "kiali": {"url": "https://kiali.istio-system.svc:20001", "insecure": True}}}}, {},
        "Kiali over https without verifying its certificate (a test installation): no CA mounted"),
    Variant("outbound", "dev", {
        "llamaStack": {"trust": {"caBundles": [{"configMap": "corp-ca", "key": "ca.crt"}, {"configMap": "lab-ca"}],
                                 "openshiftTrustedCaBundle": True},
                       "proxy": {"httpProxy": "http://proxy.corp.example.com:3128",
                                 "httpsProxy": "http://proxy.corp.example.com:3128", "noProxy": [".corp.example.com"]},
                       "extraEnv": [{"name": "LLAMA_STACK_LOGGING", "value": "all=info"},
                                    {"name": "VENDOR_API_TOKEN", "secretKeyRef": {"name": "vendor", "key": "token"}},
                                    {"name": "REGION", "configMapKeyRef": {"name": "site", "key": "region"}}],
                       "extraVolumes": [{"name": "plugins", "mountPath": "/opt/plugins", "configMap": "plugins"},
                                        {"name": "vendor", "mountPath": "/var/run/vendor", "secret": "vendor"},
                                        {"name": "scratch", "mountPath": "/scratch", "emptyDir": True}]},
        "mcpServer": {"extraEnv": [{"name": "GOMAXPROCS", "value": "2"}],
                      "extraVolumes": [{"name": "notes", "mountPath": "/var/run/notes", "configMap": "notes"}]}}, {},
        "OpenShift's trusted bundle and two CA ConfigMaps, a proxy that keeps in-cluster names direct, extra env "
        "(plain, from a Secret, from a ConfigMap) and volumes on both servers"),
    Variant("several-models", "dev", {"llamaStack": {
        "inference": {"model": "local-model"},
        "extraInference": [{"id": "hosted", "provider": "openai", "url": "https://models.example.com/v1",
                            "models": ["big-model", "small-model"], "apiKeySecret": {"name": "hosted-key", "key": "token"}},
                           {"id": "lab", "provider": "ollama", "url": "http://ollama.lab.svc:11434/v1",
                            "models": ["lab-model"]}]}}, {},
        "three model endpoints: the local vLLM, a hosted one with its key Secret, a keyless Ollama"),
    Variant("oauth-direct-clients", "dev", {"mcpServer": {
        "configSecretName": "mcp-oauth",
        "route": {"enabled": True, "host": "mcp.apps.example.com"},
        "oauth": {"enabled": True, "authorizationUrl": "https://sso.example.com/realms/ops", "audience": "mcp",
                  "serverUrl": "https://mcp.example.com", "scopes": ["openid", "mcp:tools"],
                  "caConfigMap": "sso-ca", "caKey": "ca.pem", "disableDynamicClientRegistration": True,
                  "tokenExchange": {"strategy": "keycloak-v1", "audience": "openshift", "scopes": ["openid"],
                                    "clientId": "mcp-server", "clientAuthMethod": "client_secret_post"}}}}, {},
        "OAuth for direct clients: public URL, scopes, the issuer's CA, no dynamic registration, token exchange"),
    Variant("cluster-admin-opt-in", "dev", {"mcpServer": {"rbac": {
        "preset": "custom", "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                                      {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}],
        "scope": "cluster", "namespaces": [], "createNamespaces": False, "allowClusterWideWrite": True,
        "allowClusterAdminEquivalent": True}}}, {},
        "an explicit cluster-admin opt-in still renders valid RBAC (and marks it for the policy pack)"),
    Variant("autoscaling-postgres", "dev", {
        "mcpServer": {"autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 9,
                                      "targetCPUUtilizationPercentage": 60, "scaleDownStabilizationSeconds": 120},
                      "rolloutTimeoutSeconds": 600},
        "llamaStack": {"autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 6,
                                       "targetCPUUtilizationPercentage": 80, "scaleDownStabilizationSeconds": 0},
                       "rolloutTimeoutSeconds": 900, **POSTGRES}}, PW,
        "autoscaling both servers, with its PDBs and default spread, tuned scale-down windows, on a tuned "
        "PostgreSQL store"),
    Variant("llama-stack-0.6", "dev", {"llamaStack": LEGACY}, {},
            "the tool_groups dialect of Llama Stack 0.6"),
    Variant("ogx-openshift", "dev", {"llamaStack": {**OGX, "inference": {"provider": "openai",
                                                                         "url": "https://api.example.com/v1",
                                                                         "model": "gpt-x"}}}, KEY,
            "OGX on OpenShift: TLS from a service-serving certificate, a hosted model with its key"),
    Variant("ogx-kubernetes-tls", "dev", {"platform": "kubernetes",
                                          "llamaStack": {**OGX, "tls": {"secretName": "ls-cert"},
                                                         "route": {"host": "ls.example.com"}}}, {},
            "OGX on Kubernetes serving TLS from a named Secret"),
    Variant("ogx-kubernetes-insecure", "dev", {"platform": "kubernetes",
                                               "llamaStack": {**OGX, "tls": {"insecure": True},
                                                              "route": {"host": "ls.example.com",
                                                                        "ingressClassName": "nginx",
                                                                        "tlsSecretName": "ls-ingress"}}}, {},
            "OGX told to serve plain HTTP behind an Ingress with its own class and certificate"),
    Variant("monitoring", "dev", {"monitoring": {"serviceMonitor": True, "prometheusRule": True,
                                                 "labels": {"team": "platform"}, "memoryWarningRatio": 0.9,
                                                 "toolErrorRatio": 0.2},
                                  "networkPolicy": {"monitoringNamespace": "prometheus"},
                                  "mcpServer": {"rbac": {"preset": "read-only"}}}, {},
            "the ServiceMonitor and PrometheusRule with tuned thresholds and rule labels (read-only tools: "
            "Prometheus' namespace reaches the MCP server)"),
    Variant("mcp-route-oauth-scc", "dev", {"mcpServer": {
        "scc": {"create": True, "uid": 1002}, "route": {"enabled": True, "host": "mcp.apps.example.com"},
        "oauth": {"enabled": True, "authorizationUrl": "https://sso.example.com/realms/a", "audience": "mcp"},
        "toolsets": ["core", "config", "helm"], "disableDestructive": True, "logLevel": 5}}, {},
        "the MCP server exposed behind OAuth on OpenShift, pinned to a UID by its own SCC"),
    Variant("mcp-ingress-kubernetes", "dev", {"platform": "kubernetes", **K8S_HOSTS,
                                              "mcpServer": {"route": {"enabled": True, "host": "mcp.example.com",
                                                                      "allowUnauthenticated": True,
                                                                      "ingressClassName": "nginx",
                                                                      "tlsSecretName": "mcp-ingress"},
                                                            "rbac": {"preset": "read-only"}},
                                              "networkPolicy": {"ingressNamespace": "traefik"},
                                              "monitoring": {"serviceMonitor": True}}, {},
            "the MCP server behind an Ingress by explicit opt-in, scraped on plain Kubernetes"),
    Variant("httproute-kubernetes", "dev", {
        "platform": "kubernetes",
        "llamaStack": {"route": {"kind": "HTTPRoute", "host": "agents.example.com", "timeoutSeconds": 900,
                                 "gateway": {"name": "edge", "namespace": "gateways", "sectionName": "https"},
                                 "annotations": {"example.com/owner": "platform team"}}},
        "mcpServer": {"route": {"enabled": True, "kind": "HTTPRoute", "host": "mcp.example.com",
                                "allowUnauthenticated": True,
                                "gateway": {"name": "edge", "namespace": "gateways", "sectionName": "tools"}},
                      "rbac": {"preset": "read-only"}},
        "networkPolicy": {"ingressNamespace": "gateways"}}, KEY,
        "both servers behind a Gateway API HTTPRoute on a Gateway in another namespace, with the agent's timeout"),
    Variant("httproute-ogx-backend-tls", "dev", {
        "platform": "kubernetes",
        "llamaStack": {**OGX, "tls": {"secretName": "ls-cert"},
                       "route": {"kind": "HTTPRoute", "host": "agents.example.com", "backendCaConfigMap": "ls-ca",
                                 "gateway": {"name": "edge"}}}}, {},
        "OGX serving TLS behind an HTTPRoute: a BackendTLSPolicy has the Gateway verify it by its Service's name"),
    Variant("httproute-openshift", "dev", {
        "llamaStack": {"route": {"kind": "HTTPRoute", "host": "agents.apps.example.com",
                                 "gateway": {"name": "openshift-gateway", "namespace": "openshift-ingress"}}}}, {},
        "OpenShift 4.19+'s Gateway API instead of a Route"),
    Variant("ingress-traefik", "dev", {
        "platform": "kubernetes",
        "llamaStack": {**OGX, "tls": {"secretName": "ls-cert"},
                       "route": {"host": "agents.example.com", "ingressController": "traefik",
                                 "annotations": {"traefik.ingress.kubernetes.io/service.serverstransport":
                                                 "llama-stack-ls-ca@kubernetescrd"}}},
        "mcpServer": {"route": {"enabled": True, "host": "mcp.example.com", "allowUnauthenticated": True,
                                "ingressController": "other",
                                "annotations": {"example.com/timeout": "600"}},
                      "rbac": {"preset": "read-only"}}}, {},
        "Ingresses for Traefik (its scheme annotation, a ServersTransport named) and for another controller"),
    Variant("open-in-cluster", "dev", {"networkPolicy": {"enabled": False, "allowUnauthenticatedMcp": True},
                                       "namespace": {"name": "agents", "create": False},
                                       "llamaStack": {"route": {"enabled": False}, "resources": {
                                           "requests": {"cpu": "1", "memory": "1Gi"},
                                           "limits": {"cpu": "2", "memory": "2Gi"}}}}, {},
            "no NetworkPolicies by explicit opt-in, in an existing namespace"),
    Variant("agent-api-identities", "dev", {"llamaStack": {
        "auth": {"provider": "oidc", "allowedGroups": ["platform"], "allowedUsers": ["alice@example.com"],
                 "oidc": {"issuer": "https://sso.example.com/realms/a", "audience": "agents",
                          "jwksUrl": "https://sso.example.com/realms/a/certs"}},
        "route": {"timeoutSeconds": 900},
        "extraMcpServers": [{"id": "github", "url": "https://mcp.example.com/github"}]}}, {},
        "Llama Stack behind OIDC for one group, with a second MCP connector"),
    Variant("sandbox", "dev", {"mcpServer": {"rbac": SANDBOX}}, {},
            "writes confined to a sandbox namespace the stack creates and keeps on destroy"),
    Variant("pinned-and-deleted-on-destroy", "dev", {
        "target": {"context": "dev-admin", "apiServer": "https://api.dev.example.com:6443"},
        "namespace": {"keepOnDestroy": False}, "llamaStack": {"storage": {"keepOnDestroy": False}}}, {},
            "a stack pinned to one cluster whose namespaces and volume `destroy` deletes, by explicit opt-out"),
    Variant("agent-api-open", "dev", {"llamaStack": {"auth": {"provider": "none", "allowedGroups": []},
                                                     "route": {"allowUnauthenticated": True}}}, {},
            "an agent API exposed without identity by explicit opt-in"),
    Variant("passthrough-oauth", "dev", {"mcpServer": {"passthrough": True, "rbac": CLUSTER_SCOPE, "oauth": {
        "enabled": True, "authorizationUrl": "https://sso.example.com/realms/a"}}}, {},
        "passthrough that also verifies tokens against an issuer, on dev's defaults otherwise"),
    Variant("helm-adopted", "prod", {"migration": {"helmReleases": {"mcpServer": "kubernetes-mcp-server",
                                                                    "llamaStack": "llama-stack"}}}, PW,
            "a stack that took over the old Helm releases keeps their pod selectors"),
    Variant("fixed-replicas-by-digest", "dev", {
        "mcpServer": {"replicas": 3, "image": "quay.io/containers/kubernetes_mcp_server@sha256:" + "0" * 64},
        "llamaStack": {"replicas": 2, **POSTGRES}}, PW,
        "fixed replica counts (PDBs without HPAs) and an image pinned by digest"),
    Variant("fleet", "dev", {"fleet": FLEET}, FLEET_SECRETS,
            "a hub reaching two member clusters, each with its own provider, preset, scope and token"),
    Variant("scheduling", "dev", {"mcpServer": SCHEDULING, "llamaStack": SCHEDULING}, {},
            "every scheduling and pod control on both servers"),
    Variant("mcp-guardrails", "prod", {"mcpServer": {
        "deniedResources": [{"version": "v1", "kind": "Secret"}, {"version": "v1", "kind": "ConfigMap"},
                            {"group": "rbac.authorization.k8s.io", "version": "v1", "kind": "ClusterRoleBinding"}],
        "enabledTools": ["pods_list", "pods_log", "events_list"], "disabledTools": ["pods_exec"],
        "http": {"maxBodyBytes": 65536, "readHeaderTimeoutSeconds": 5}, "tls": {"minVersion": "1.3"},
        "configSecretName": "mcp-oauth-client"}}, PW,
            "the MCP server's own guardrails tightened: more denied kinds, an allow-list of tools, "
            "smaller requests, TLS 1.3 only, secret-valued settings from a Secret's drop-ins"),
    Variant("mcp-every-kind-allowed", "dev", {"mcpServer": {"deniedResources": [], "resources": {
        "requests": {"cpu": "50m", "memory": "96Mi", "ephemeralStorage": "32Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi", "ephemeralStorage": "128Mi"}}}}, {},
            "the Secret denial turned off by explicit opt-in (RBAC alone decides), with ephemeral storage sized"),
    Variant("traces", "prod", {"telemetry": {"otlpEndpoint": "http://otel-collector.observability.svc:4318",
                                             "samplingRatio": 0.25}}, PW,
            "both servers send traces to an OTLP/HTTP collector, a quarter of new traces kept"),
    Variant("traces-ogx", "dev", {"telemetry": {"otlpEndpoint": "https://otlp.example.com/gateway/"},
                                  "llamaStack": OGX}, {},
            "OGX's traces and the MCP server's to a collector behind a path prefix"),
]
