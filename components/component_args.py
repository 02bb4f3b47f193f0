"""The component's typed arguments, one key per stack setting.

Generated from components/settings/ by `make docs` (testbed/devtools/component_args.py); do not edit.
"""

from typing import Any, TypedDict

import pulumi

__all__ = ["Affinity", "Autoscaling", "CaBundle", "DeniedResource", "DisruptionBudget", "ExtraEnv", "ExtraInference", "ExtraMcpServer", "ExtraVolume", "Fleet", "FleetMember", "GatewayParent", "HelmReleases", "HelmToolset", "Inference", "KeyRef", "KialiToolset", "LabelSelector", "LabelSelectorRequirement", "LlamaStack", "LlamaStackAuth", "LlamaStackMcpArgs", "LlamaStackRoute", "McpHttp", "McpRoute", "McpServer", "McpTls", "MemberRbac", "Migration", "Monitoring", "Namespace", "NetworkPolicy", "NodeAffinity", "NodeSelector", "NodeSelectorRequirement", "NodeSelectorTerm", "OAuth", "Oidc", "PodAffinity", "PodAffinityTerm", "PolicyRule", "Postgres", "PreferredSchedulingTerm", "Proxy", "Rbac", "ResourceAmounts", "Resources", "Scc", "SecretKeyRef", "Storage", "Target", "Telemetry", "Tls", "TokenExchange", "Toleration", "ToolsetConfigs", "TopologySpreadConstraint", "Trust", "WeightedPodAffinityTerm"]


class Target(TypedDict, total=False):
    """The one cluster this stack may change (`target`): `make up/preview/destroy/refresh` name the cluster they are about to change and refuse any other before changing anything."""
    context: str
    """The kubeconfig context the stack is deployed with (the current one, or `kubernetes:context`); empty: any. Default: `""`."""
    api_server: str
    """The API server URL that context must point at (`https://api.prod.example.com:6443`); empty: any. Default: `""`."""


class Namespace(TypedDict, total=False):
    """Where everything namespaced goes (`namespace`)."""
    name: str
    """The namespace of everything namespaced (a DNS-1123 label). Default: `"llama-stack"`."""
    create: bool
    """false: use an existing namespace. Default: `true`."""
    keep_on_destroy: bool
    """With create: true, `destroy` (or a rename, or a replacement) leaves the namespace and all it holds, your data included; `kubectl delete namespace <name>` removes it. false: the stack deletes it, and everything in it. Default: `true`."""


class ResourceAmounts(TypedDict, total=False):
    """CPU, memory and ephemeral storage, as a container's requests or limits hold them."""
    cpu: str
    """CPU as a Kubernetes quantity (500m, 1, 2). Required."""
    memory: str
    """Memory in whole bytes (256Mi, 1Gi). Required."""
    ephemeral_storage: str
    """Node disk in whole bytes (64Mi, 1Gi): the container's logs, its emptyDirs and writable layer. Past the limit the kubelet evicts the pod, before a runaway log or cache fills the node."""


class Resources(TypedDict, total=False):
    """A container's requests and limits (core/v1 ResourceRequirements)."""
    requests: ResourceAmounts
    """What the scheduler reserves; may not exceed the limits."""
    limits: ResourceAmounts
    """The most the container may use."""


class Autoscaling(TypedDict, total=False):
    """A HorizontalPodAutoscaler on CPU (autoscaling/v2)."""
    enabled: bool
    """A HorizontalPodAutoscaler (autoscaling/v2) on CPU; the Deployment then has no `replicas`. Default: `false`."""
    min_replicas: int
    """The HPA's lower bound; two or more also get a PodDisruptionBudget. Default: `2`."""
    max_replicas: int
    """The HPA's upper bound, at least minReplicas. Default: `5`."""
    targetCPUUtilizationPercentage: int
    """Average CPU use (% of the request) the HPA aims for, 1-100. Default: `70`."""
    target_memory_utilization_percentage: int
    """Average memory use (% of the request) the HPA also aims for, 1-100; the HPA follows whichever of CPU and memory asks for more replicas. Unset: CPU only."""
    scale_down_stabilization_seconds: int
    """How long, 0-3600 s, the HPA keeps the highest replica count it recommended before it scales down (behavior.scaleDown.stabilizationWindowSeconds): it rides out a lull in the load instead of removing pods it will need again. Unset: Kubernetes' default, 300 s."""


class DisruptionBudget(TypedDict, total=False):
    """The PodDisruptionBudget (policy/v1) made whenever two or more replicas are meant to run: how many pods a voluntary disruption (a node drain) must leave, or may take. One of the two; neither: minAvailable 1."""
    min_available: Any
    """Pods that must stay up during a drain: a count below the replicas, or a percentage (`50%`)."""
    max_unavailable: Any
    """Pods a drain may take down at once: a count of at least 1, or a percentage (`25%`); instead of minAvailable, it keeps pace with the HPA (with minAvailable 1 and 5 replicas, a drain may take 4)."""


class Toleration(TypedDict, total=False):
    """A taint the pods tolerate (core/v1 Toleration)."""
    key: str
    """The taint key tolerated; empty (with operator Exists) tolerates every taint. Default: `""`."""
    operator: str
    """Equal: the taint's value must be `value`; Exists: any value. Allowed: `Exists`, `Equal`. Default: `"Equal"`."""
    value: str
    """The taint value, with operator Equal. Default: `""`."""
    effect: str
    """The taint effect tolerated; empty: every effect. Allowed: `""`, `NoSchedule`, `PreferNoSchedule`, `NoExecute`. Default: `""`."""
    toleration_seconds: int
    """With effect NoExecute: how long the pod stays on a node after the taint appears."""


class NodeSelectorRequirement(TypedDict, total=False):
    """One requirement on a node label's value (core/v1 NodeSelectorRequirement)."""
    key: str
    """The node label the requirement looks at. Required."""
    operator: str
    """How the node label's value is compared with `values` (Gt and Lt compare integers). Allowed: `In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt`, `Lt`. Required."""
    values: list[str]
    """At least one with In and NotIn; none with Exists and DoesNotExist; exactly one integer with Gt and Lt."""


class NodeSelectorTerm(TypedDict, total=False):
    """Node label requirements that must all hold (core/v1 NodeSelectorTerm)."""
    match_expressions: list[NodeSelectorRequirement]
    """Node label requirements, all of which must hold. Required."""


class NodeSelector(TypedDict, total=False):
    """Nodes the pods may only run on: terms of which one must hold (core/v1 NodeSelector)."""
    node_selector_terms: list[NodeSelectorTerm]
    """Terms of which at least one must hold. Required."""


class PreferredSchedulingTerm(TypedDict, total=False):
    """Nodes the pods prefer, with a weight (core/v1 PreferredSchedulingTerm)."""
    weight: int
    """1-100: how much the scheduler prefers nodes matching `preference`. Required."""
    preference: NodeSelectorTerm
    """The node label requirements preferred. Required."""


class NodeAffinity(TypedDict, total=False):
    """Which nodes the pods run on, by node labels (core/v1 NodeAffinity)."""
    required_during_scheduling_ignored_during_execution: NodeSelector
    """Nodes the pods may only run on."""
    preferred_during_scheduling_ignored_during_execution: list[PreferredSchedulingTerm]
    """Nodes the pods prefer, weighted."""


class LabelSelectorRequirement(TypedDict, total=False):
    """One requirement on a label's value (meta/v1 LabelSelectorRequirement)."""
    key: str
    """The label the requirement looks at. Required."""
    operator: str
    """How the label's value is compared with `values`. Allowed: `In`, `NotIn`, `Exists`, `DoesNotExist`. Required."""
    values: list[str]
    """At least one with In and NotIn; none with Exists and DoesNotExist."""


class LabelSelector(TypedDict, total=False):
    """Which pods a term is about (meta/v1 LabelSelector)."""
    match_labels: dict[str, str]
    """Labels the pods must carry, exactly."""
    match_expressions: list[LabelSelectorRequirement]
    """Further requirements, all of which must hold."""


class PodAffinityTerm(TypedDict, total=False):
    """Pods to run near or away from, within a topology domain (core/v1 PodAffinityTerm)."""
    topology_key: str
    """The node label whose value defines "the same place" (kubernetes.io/hostname, topology.kubernetes.io/zone). Required."""
    label_selector: LabelSelector
    """The pods this term is about."""
    namespaces: list[str]
    """Where those pods are; empty: this namespace."""


class WeightedPodAffinityTerm(TypedDict, total=False):
    """A preferred pod affinity term with its weight (core/v1 WeightedPodAffinityTerm)."""
    weight: int
    """1-100: how much the scheduler prefers this term. Required."""
    pod_affinity_term: PodAffinityTerm
    """The pods to be near (affinity) or away from (anti-affinity). Required."""


class PodAffinity(TypedDict, total=False):
    """Pod affinity or anti-affinity terms, required and preferred (core/v1 PodAffinity)."""
    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm]
    """Terms that must hold for the pods to be scheduled."""
    preferred_during_scheduling_ignored_during_execution: list[WeightedPodAffinityTerm]
    """Terms the scheduler prefers, weighted."""


class Affinity(TypedDict, total=False):
    """Node affinity, pod affinity and anti-affinity (core/v1 Affinity)."""
    node_affinity: NodeAffinity
    """Which nodes the pods run on, by node labels."""
    pod_affinity: PodAffinity
    """Pods to run near."""
    pod_anti_affinity: PodAffinity
    """Pods to run away from."""


class TopologySpreadConstraint(TypedDict, total=False):
    """How replicas spread over domains; the selector is always this server's pods (core/v1 TopologySpreadConstraint)."""
    max_skew: int
    """How many more of this server's pods one domain may hold than the emptiest. Required."""
    topology_key: str
    """The node label whose values are the domains (kubernetes.io/hostname, topology.kubernetes.io/zone). Required."""
    when_unsatisfiable: str
    """DoNotSchedule keeps a pod pending rather than skew more; ScheduleAnyway only prefers. Allowed: `DoNotSchedule`, `ScheduleAnyway`. Default: `"ScheduleAnyway"`."""
    min_domains: int
    """With DoNotSchedule: how many domains count as the minimum."""


class KeyRef(TypedDict, total=False):
    """One key of a Secret or ConfigMap of the stack's namespace."""
    name: str
    """The Secret's or ConfigMap's name. Required."""
    key: str
    """The key. Required."""


class ExtraEnv(TypedDict, total=False):
    """An environment variable of the server's container (`<server>.extraEnv[]`): one of value, secretKeyRef, configMapKeyRef."""
    name: str
    """The variable's name; not one the program sets. Required."""
    value: str
    """A plain value, written in the Deployment: never a secret (a name like *KEY*, *TOKEN*, *PASSWORD*, *SECRET* is refused a plain value)."""
    secret_key_ref: KeyRef
    """A Secret's key (name, key): for anything secret."""
    config_map_key_ref: KeyRef
    """A ConfigMap's key (name, key)."""


class ExtraVolume(TypedDict, total=False):
    """A volume mounted into the server's container (`<server>.extraVolumes[]`): one of configMap, secret, emptyDir."""
    name: str
    """The volume's name; not one the program uses. Required."""
    mount_path: str
    """Where the container sees it; not where the program mounts something. Required."""
    config_map: str
    """A ConfigMap of the stack's namespace (read-only). Default: `""`."""
    secret: str
    """A Secret of the stack's namespace (read-only). Default: `""`."""
    empty_dir: bool
    """A scratch directory that lives as long as the pod. Default: `false`."""


class McpTls(TypedDict, total=False):
    """The MCP server's own certificate, served when it forwards callers' tokens (passthrough)."""
    secret_name: str
    """With passthrough: a kubernetes.io/tls Secret that also holds `ca.crt` (cert-manager writes all three); Llama Stack trusts that CA. Required on Kubernetes; on OpenShift leave it empty and the service CA issues a service-serving certificate. Default: `""`."""
    min_version: str
    """The oldest TLS version the server accepts (1.2 or 1.3): an older client's handshake is refused. Allowed: `1.2`, `1.3`. Default: `"1.2"`."""


class PolicyRule(TypedDict, total=False):
    """A Kubernetes PolicyRule, as a ClusterRole holds it."""
    api_groups: list[str]
    """API groups of the resources; default `[""]` (the core group)."""
    resources: list[str]
    """Resources such as pods or pods/log; or use nonResourceURLs instead."""
    verbs: list[str]
    """What the rule allows: get, list, watch, create, update, patch, delete, ... Required."""
    resource_names: list[str]
    """Only these objects, by name."""
    nonResourceURLs: list[str]
    """Non-resource paths such as /metrics (needs scope: cluster)."""


class Rbac(TypedDict, total=False):
    """What the MCP server's ServiceAccount may do in its own cluster (`mcpServer.rbac`)."""
    preset: str
    """What the ServiceAccount may do: `full` (CRUD on pods, services, configmaps, secrets, deployments, jobs, cronjobs plus the reads the tools need), `read-only` (the same with get/list/watch, no secrets; the server runs `--read-only`), `view` (the built-in `view` ClusterRole; `--read-only`), `custom` (`rules` as given). With passthrough it only picks the tool surface. Allowed: `full`, `read-only`, `view`, `custom`. Default: `"read-only"`."""
    scope: str
    """`cluster`: a ClusterRole and binding; `namespaces`: the rules in one ClusterRole, bound by a RoleBinding in each listed namespace (so they apply only there), plus cluster-wide listing of namespaces (projects on OpenShift). Allowed: `cluster`, `namespaces`. Default: `"cluster"`."""
    namespaces: list[str]
    """The namespaces granted, with scope: namespaces."""
    rules: list[PolicyRule]
    """With preset: custom, Kubernetes PolicyRules (apiGroups, resources, verbs, resourceNames; or nonResourceURLs and verbs)."""
    allow_cluster_admin_equivalent: bool
    """Opt-in for rules that amount to cluster-admin (escalate, bind, impersonate, `*`, pods/exec, nodes/proxy, serviceaccounts/token, ...) and for writes in system namespaces; the policy pack refuses them otherwise. Default: `false`."""
    create_namespaces: bool
    """With scope: namespaces, create the listed namespaces (kept on destroy, like the stack's own); false: they must exist before `up`. Default: `false`."""
    allow_cluster_wide_write: bool
    """Opt-in for write rights in every namespace (preset: full, or custom rules with write verbs, at scope: cluster, without passthrough): the agent could then change kube-system and openshift-* too. Prefer scope: namespaces. Default: `false`."""


class KialiToolset(TypedDict, total=False):
    """The Kiali the `kiali` toolset's tools query (`mcpServer.toolsetConfigs.kiali`: the server's `[toolset_configs.kiali]`). Required with the kiali toolset, refused without it."""
    url: str
    """Kiali's URL as the MCP server's pods reach it, e.g. `https://kiali.istio-system.svc:20001`. Default: `""`."""
    ca_config_map: str
    """A ConfigMap in the stack's namespace holding the CA that signed Kiali's certificate, under `caKey`: required for an https:// url unless `insecure` (the server refuses to start otherwise). On OpenShift a ConfigMap annotated `service.beta.openshift.io/inject-cabundle: "true"` gets the service CA (key `service-ca.crt`). Default: `""`."""
    ca_key: str
    """The key of caConfigMap that holds the CA (PEM). Default: `"ca.crt"`."""
    insecure: bool
    """Do not verify Kiali's certificate: for a test installation only; refused beside caConfigMap. Default: `false`."""


class HelmToolset(TypedDict, total=False):
    """Guardrails of the `helm` toolset (`mcpServer.toolsetConfigs.helm`: the server's `[toolset_configs.helm]`)."""
    allowed_registries: list[str]
    """Only charts from these registries or repositories may be installed (each a URL with a scheme and a host: `oci://registry.example.com`, `https://charts.example.com`); empty: any."""


class ToolsetConfigs(TypedDict, total=False):
    """Settings of the toolsets that take some (`mcpServer.toolsetConfigs`)."""
    kiali: KialiToolset
    """The Kiali the kiali toolset queries: url, caConfigMap, caKey, insecure."""
    helm: HelmToolset
    """The helm toolset's guardrails: allowedRegistries."""


class DeniedResource(TypedDict, total=False):
    """A kind the MCP server refuses to read or change, whatever RBAC allows (`mcpServer.deniedResources[]`)."""
    group: str
    """The API group: empty for the core group (Secret, ConfigMap), `rbac.authorization.k8s.io`, ... Default: `""`."""
    version: str
    """The API version: v1, v1beta1, ... Required."""
    kind: str
    """The kind: Secret, ClusterRoleBinding, ... Required."""


class McpHttp(TypedDict, total=False):
    """Limits of the server's HTTP listener (`mcpServer.http`: the `[http]` table of its config)."""
    max_body_bytes: int
    """The largest request body the server reads; a bigger one gets `413 Request Entity Too Large` before any tool runs. 1 MiB holds any tool call's arguments (a resource to create included). Default: `1048576`."""
    read_header_timeout_seconds: int
    """How long a client may take to send its request headers: a slow client cannot hold connections open. Default: `10`."""


class TokenExchange(TypedDict, total=False):
    """The token the server exchanges a caller's for before calling the cluster (`mcpServer.oauth.tokenExchange`: the server's `[token_exchange]`). Its client secret never appears here: a drop-in of mcpServer.configSecretName holds it (`[token_exchange.client_auth]` / `client_secret = "..."`)."""
    strategy: str
    """How the issuer exchanges tokens: rfc8693 (RFC 8693), keycloak-v1, entra-obo (Entra ID on-behalf-of); empty: no exchange, the caller's token is used as it is. Allowed: `""`, `rfc8693`, `keycloak-v1`, `entra-obo`. Default: `""`."""
    audience: str
    """The audience of the exchanged token (the cluster's, e.g. `kubernetes` or your OIDC client for it). Default: `""`."""
    scopes: list[str]
    """Scopes asked for the exchanged token."""
    client_id: str
    """The OAuth client the server authenticates as to exchange tokens (required with a strategy). Default: `""`."""
    client_auth_method: str
    """How it sends its client secret: HTTP Basic (the old built-in STS's way) or in the form. Allowed: `client_secret_basic`, `client_secret_post`. Default: `"client_secret_basic"`."""


class OAuth(TypedDict, total=False):
    """OAuth/OIDC bearer tokens the MCP server requires of its callers (`mcpServer.oauth`): for clients that call it directly (its route), not through Llama Stack."""
    enabled: bool
    """The server requires an OAuth/OIDC bearer token (`--require-oauth`). Default: `false`."""
    authorization_url: str
    """The https:// URL of the OAuth/OIDC issuer (`--authorization-url`); the server reads its discovery document and keys when it starts and refuses to start without them. Default: `""`."""
    audience: str
    """The audience tokens must carry (`--oauth-audience`); empty: not checked. Default: `""`."""
    server_url: str
    """The server's public https:// URL as OAuth clients reach it (`server_url`, in its OAuth metadata). Default: `https://<route.host>` when the route has a host; required for a route whose host OpenShift generates. Default: `""`."""
    scopes: list[str]
    """The scopes clients ask for in their OAuth flow (`oauth_scopes`)."""
    ca_config_map: str
    """A ConfigMap of the stack's namespace holding the CA of the issuer's certificate, under caKey (`certificate_authority`); for the cluster's own ServiceAccount issuer, `kube-root-ca.crt`. Empty: the image's public CAs. Default: `""`."""
    ca_key: str
    """The key of caConfigMap holding the CA (PEM). Default: `"ca.crt"`."""
    disable_dynamic_client_registration: bool
    """Publish no registration endpoint in the server's OAuth metadata: clients are registered with the issuer beforehand. Default: `false`."""
    token_exchange: TokenExchange
    """Exchange the caller's token for one the cluster accepts: strategy, audience, scopes, clientId, clientAuthMethod (the secret from configSecretName)."""


class GatewayParent(TypedDict, total=False):
    """The Gateway an HTTPRoute attaches to (`route.gateway`): its parentRef."""
    name: str
    """The Gateway's name; required with kind: HTTPRoute. Default: `""`."""
    namespace: str
    """The Gateway's namespace; empty: the stack's. A Gateway elsewhere must admit routes from the stack's namespace (its listener's `allowedRoutes.namespaces`). Default: `""`."""
    section_name: str
    """The Gateway listener to attach to, by name (an HTTPS one: TLS is the listener's); empty: every listener that admits the route. Default: `""`."""


class McpRoute(TypedDict, total=False):
    """A Route, Ingress or HTTPRoute in front of the MCP server (`mcpServer.route`); needs OAuth or an explicit opt-in."""
    enabled: bool
    """Expose the server: by default a Route on OpenShift, an Ingress on Kubernetes (see kind). Default: `false`."""
    kind: str
    """What exposes it: Route (OpenShift's router), Ingress, or HTTPRoute (Gateway API, attached to gateway); empty: the platform's own (Route on openshift, Ingress on kubernetes). Allowed: `""`, `Route`, `Ingress`, `HTTPRoute`. Default: `""`."""
    host: pulumi.Input[str]
    """The public host name; required for an Ingress or HTTPRoute, generated by OpenShift for a Route when empty. Default: `""`. May be an Output (another resource's), checked once known."""
    ingress_class_name: str
    """Ingress only: the Ingress class. Default: `""`."""
    tls_secret_name: str
    """Ingress only: the Ingress's TLS Secret (default `<name>-ingress-tls`). Default: `""`."""
    ingress_controller: str
    """Ingress only: which controller serves it, so its own annotations carry the agent API's timeout and its TLS to the server: ingress-nginx (`nginx.ingress.kubernetes.io/*`), traefik (`traefik.ingress.kubernetes.io/*`; it has no per-route timeout, and by default cuts no streamed answer: docs/operations.md), or other (nothing controller-specific: set the timeouts in annotations yourself). The MCP server's way in has no timeout or TLS of its own to carry. Allowed: `ingress-nginx`, `traefik`, `other`. Default: `"ingress-nginx"`."""
    gateway: GatewayParent
    """HTTPRoute only: the Gateway (name, namespace, sectionName) it attaches to; TLS is that listener's."""
    annotations: dict[str, str]
    """Extra annotations on the Route, Ingress or HTTPRoute (not a BackendTLSPolicy; e.g. `cert-manager.io/cluster-issuer`); not the ones the program sets."""
    allow_unauthenticated: bool
    """Expose the MCP server, which has no authentication of its own, without oauth: an explicit opt-in. Default: `false`."""


class Scc(TypedDict, total=False):
    """An OpenShift SecurityContextConstraints for the MCP server's pods (`mcpServer.scc`)."""
    create: bool
    """OpenShift only: a SecurityContextConstraints pinning the pods to `uid` (MustRunAs, no privilege escalation, drop ALL) and its `use` grant; off: restricted-v2 suffices. Default: `false`."""
    uid: int
    """The one UID the SCC allows (and the pods run as). Default: `1001`."""


class McpServer(TypedDict, total=False):
    """The Kubernetes MCP server: image, replicas, resources, autoscaling, rbac, passthrough, tls, toolsets, route, oauth, scc, scheduling."""
    replicas: int
    """Replicas when not autoscaling. Default: `1`."""
    resources: Resources
    """Requests and limits of the server's container."""
    autoscaling: Autoscaling
    """Scale on CPU (and memory) between minReplicas and maxReplicas instead of a fixed count."""
    disruption_budget: DisruptionBudget
    """The PodDisruptionBudget made with two or more replicas: minAvailable or maxUnavailable (default: minAvailable 1)."""
    rollout_timeout_seconds: int
    """How long `pulumi up` waits for a rollout to become Available before it fails, naming the Deployment and its status (`pulumi.com/timeoutSeconds`; the provider's own default is 10 min). Default: `300`."""
    shutdown_delay_seconds: int
    """How long a pod that is being stopped (a rollout, a scale-down, a drain) goes on serving before its server is told to stop (a preStop `sleep`; Kubernetes 1.30+, OpenShift 4.17+): the time every node's proxy and router needs to take it out of the Service, so no new request reaches a closed port. `0`: none (the server stops at once and requests in that window fail). At most 20 s, inside the pod's 30 s grace period. Default: `0`."""
    node_selector: dict[str, str]
    """Node labels the pods must run on (`nodeSelector`)."""
    tolerations: list[Toleration]
    """Taints the pods tolerate (core/v1 Toleration: key, operator, value, effect, tolerationSeconds)."""
    affinity: Affinity
    """Node affinity, pod affinity and anti-affinity (core/v1 Affinity, required and preferred terms)."""
    topology_spread_constraints: list[TopologySpreadConstraint]
    """How replicas spread over domains (maxSkew, topologyKey, whenUnsatisfiable, minDomains; the selector is always this server's pods). Unset: when autoscaled, spread softly (ScheduleAnyway, maxSkew 1) across nodes and zones, as llama-stack-k8s-operator does; `[]`: no spreading."""
    priority_class_name: str
    """A PriorityClass for the pods (not the system-* ones). Default: `""`."""
    pod_labels: dict[str, str]
    """Extra labels on the pods (never in the Deployment's selector)."""
    pod_annotations: dict[str, str]
    """Extra annotations on the pods (not checksum/* nor the SCC one, which the program sets)."""
    image_pull_secrets: list[str]
    """Secrets (kubernetes.io/dockerconfigjson) for pulling the image from a private registry."""
    image_pull_policy: str
    """When the kubelet pulls the image. Allowed: `IfNotPresent`, `Always`, `Never`. Default: `"IfNotPresent"`."""
    extra_env: list[ExtraEnv]
    """More environment variables of the server's container: {name, value | secretKeyRef | configMapKeyRef}; secret values only by reference, and none the program sets."""
    extra_volumes: list[ExtraVolume]
    """More volumes in the server's container: {name, mountPath, configMap | secret | emptyDir}; none where the program mounts something."""
    image: pulumi.Input[str]
    """The server image (release-defining: promoted from dev to prod); pin a tag or a digest. Default: `"quay.io/containers/kubernetes_mcp_server:v0.0.67"`. May be an Output (another resource's), checked once known."""
    passthrough: bool
    """Every tool call runs with the caller's own token, forwarded by Llama Stack, so the API server authorizes the person asking; the ServiceAccount is granted nothing and rbac.preset only picks the tool surface. Needs llamaStack.auth; the server then serves TLS. Default: `false`."""
    tls: McpTls
    """The server's own certificate with passthrough (secretName)."""
    rbac: Rbac
    """What the ServiceAccount may do: preset, scope, namespaces, custom rules, the cluster-admin opt-in."""
    toolsets: list[str]
    """Toolsets the server offers: config, core, helm, kcp, kiali, kubevirt, netobserv, tekton (kiali needs toolsetConfigs.kiali.url). Allowed: `config`, `core`, `helm`, `kcp`, `kiali`, `kubevirt`, `netobserv`, `tekton`."""
    toolset_configs: ToolsetConfigs
    """Settings of the toolsets that take some: kiali (its URL and CA), helm (allowedRegistries)."""
    disable_destructive: bool
    """`--disable-destructive`: hide the tools that delete or update. Default: `false`."""
    denied_resources: list[DeniedResource]
    """Kinds the server refuses to touch whatever RBAC allows, the caller's own included: an agent can be talked into reading what it should not and repeating it. Default: Secrets; `[]` allows every kind RBAC allows."""
    enabled_tools: list[str]
    """Only these tools of the toolsets are offered (empty: all of them)."""
    disabled_tools: list[str]
    """These tools are never offered, even when a toolset or enabledTools names them."""
    http: McpHttp
    """Limits of the server's HTTP listener: maxBodyBytes, readHeaderTimeoutSeconds."""
    config_secret_name: str
    """A Secret you create whose keys are TOML drop-ins (`50-oauth.toml`), read after the rendered config (`--config-dir`, in key order; a key there replaces the rendered one): for secret-valued server settings such as an OAuth client secret or token-exchange credentials, which never belong in the ConfigMap. The pods read it at start: restart them after changing it. Default: `""`."""
    log_level: int
    """The server's log verbosity, 0-9. Default: `2`."""
    oauth: OAuth
    """OAuth/OIDC bearer tokens required of callers: enabled, authorizationUrl, audience."""
    route: McpRoute
    """A Route (OpenShift) or Ingress (Kubernetes) in front of the server: needs oauth or allowUnauthenticated."""
    scc: Scc
    """OpenShift only: a SecurityContextConstraints pinning the pods to one UID."""


class Inference(TypedDict, total=False):
    """The model endpoint Llama Stack sends inference to (`llamaStack.inference`)."""
    provider: str
    """The model endpoint's kind: vllm, ollama or openai (any OpenAI-compatible endpoint). Allowed: `vllm`, `ollama`, `openai`. Default: `"vllm"`."""
    url: pulumi.Input[str]
    """The endpoint's base URL (no credentials in it: use the secret inferenceApiKey). Default: `"http://vllm.models.svc.cluster.local:8000/v1"`. May be an Output (another resource's), checked once known."""
    model: str
    """Registered as the default LLM when set. Default: `""`."""


class Postgres(TypedDict, total=False):
    """The PostgreSQL database of storage.backend: postgres (the user provides it)."""
    host: pulumi.Input[str]
    """The database host; required with backend: postgres. Default: `""`. May be an Output (another resource's), checked once known."""
    port: int
    """The database port. Default: `5432`."""
    database: str
    """The database name. Default: `"llamastack"`."""
    user: str
    """The database user; its password is the secret postgresPassword. Default: `"llamastack"`."""


class Storage(TypedDict, total=False):
    """Where Llama Stack keeps its state (`llamaStack.storage`): SQLite on a volume, or PostgreSQL."""
    backend: str
    """sqlite (on a PVC, one replica) or postgres (any number of replicas). Allowed: `sqlite`, `postgres`. Default: `"sqlite"`."""
    size: str
    """The SQLite volume's size. Default: `"10Gi"`."""
    storage_class_name: str
    """The SQLite volume's StorageClass; empty: the cluster's default. Default: `""`."""
    keep_on_destroy: bool
    """`destroy` (or a replacement) leaves the SQLite volume's claim, and so the agents' conversations, files and vector stores; the next `up` takes it over again. false: the stack deletes the claim with the rest. Default: `true`."""
    postgres: Postgres
    """The database with backend: postgres: host, port, database, user."""


class Oidc(TypedDict, total=False):
    """The OIDC issuer whose JWTs Llama Stack accepts, with auth.provider: oidc."""
    issuer: str
    """With provider: oidc, the https:// issuer tokens must come from. Default: `""`."""
    audience: str
    """The audience tokens must carry. Default: `"llama-stack"`."""
    jwks_url: str
    """The https:// URL of the issuer's signing keys. Default: `""`."""


class LlamaStackAuth(TypedDict, total=False):
    """Who may call Llama Stack: every request carries a bearer token the server checks."""
    provider: str
    """Who may call Llama Stack: `kubernetes` (the caller's cluster token, checked with the API server's SelfSubjectReview; the CA comes from the namespace's kube-root-ca.crt, no token is mounted), `oidc` (a JWT checked against jwksUrl), or `none`. Allowed: `kubernetes`, `oidc`, `none`. Default: `"kubernetes"`."""
    allowed_groups: list[str]
    """Only members of one of these groups (Kubernetes groups, or the token's groups claim) may call; empty with allowedUsers empty: any authenticated caller. Required when the agent acts with its own rights (mcpServer.passthrough: false): `[system:authenticated]` says "everyone" by name."""
    allowed_users: list[str]
    """These users may call too, by name (`alice`, `system:serviceaccount:<namespace>:<name>`, or the token's sub)."""
    oidc: Oidc
    """With provider: oidc, the issuer, audience and jwksUrl."""


class LlamaStackRoute(TypedDict, total=False):
    """A Route, Ingress or HTTPRoute in front of the agent API (`llamaStack.route`)."""
    enabled: bool
    """Expose the agent API: by default a Route on OpenShift, an Ingress on Kubernetes (see kind). Default: `true`."""
    kind: str
    """What exposes it: Route (OpenShift's router), Ingress, or HTTPRoute (Gateway API, attached to gateway); empty: the platform's own (Route on openshift, Ingress on kubernetes). Allowed: `""`, `Route`, `Ingress`, `HTTPRoute`. Default: `""`."""
    host: pulumi.Input[str]
    """The public host name; required for an Ingress or HTTPRoute, generated by OpenShift for a Route when empty. Default: `""`. May be an Output (another resource's), checked once known."""
    ingress_class_name: str
    """Ingress only: the Ingress class. Default: `""`."""
    tls_secret_name: str
    """Ingress only: the Ingress's TLS Secret (default `<name>-ingress-tls`). Default: `""`."""
    ingress_controller: str
    """Ingress only: which controller serves it, so its own annotations carry the agent API's timeout and its TLS to the server: ingress-nginx (`nginx.ingress.kubernetes.io/*`), traefik (`traefik.ingress.kubernetes.io/*`; it has no per-route timeout, and by default cuts no streamed answer: docs/operations.md), or other (nothing controller-specific: set the timeouts in annotations yourself). The MCP server's way in has no timeout or TLS of its own to carry. Allowed: `ingress-nginx`, `traefik`, `other`. Default: `"ingress-nginx"`."""
    gateway: GatewayParent
    """HTTPRoute only: the Gateway (name, namespace, sectionName) it attaches to; TLS is that listener's."""
    annotations: dict[str, str]
    """Extra annotations on the Route, Ingress or HTTPRoute (not a BackendTLSPolicy; e.g. `cert-manager.io/cluster-issuer`); not the ones the program sets."""
    timeout_seconds: int
    """How long the way in waits for a (streamed) answer: the Route's haproxy.router.openshift.io/timeout, the HTTPRoute's timeouts.request and backendRequest, ingress-nginx's proxy timeouts. Traefik has no per-route timeout to set (docs/operations.md). Default: `300`."""
    allow_unauthenticated: bool
    """Expose the agent API with auth.provider: none anyway: an explicit opt-in. Default: `false`."""
    backend_ca_config_map: str
    """HTTPRoute only, and then required when the server serves TLS: a ConfigMap in the stack's namespace whose `ca.crt` holds the CA of its certificate; a BackendTLSPolicy has the Gateway verify the server by the name in-cluster clients use (`<service>.<namespace>.svc.cluster.local`). Default: `""`."""


class Tls(TypedDict, total=False):
    """The certificate Llama Stack serves (`llamaStack.tls`)."""
    secret_name: str
    """A TLS Secret the server serves from; OGX requires TLS (on OpenShift a service-serving certificate is used when this is empty). Default: `""`."""
    insecure: bool
    """OGX only: serve plain HTTP (`--insecure`) instead. Default: `false`."""


class ExtraMcpServer(TypedDict, total=False):
    """Another MCP server Llama Stack offers agents as a connector."""
    id: str
    """The connector id agents name (not `kubernetes`). Required."""
    url: str
    """The MCP server's Streamable HTTP URL. Required."""


class SecretKeyRef(TypedDict, total=False):
    """A key of a Secret you create in the stack's namespace."""
    name: str
    """The Secret's name. Required."""
    key: str
    """The key holding the value. Required."""


class ExtraInference(TypedDict, total=False):
    """One more model endpoint with its own models and key (`llamaStack.extraInference[]`), beside `inference`."""
    id: str
    """The provider's id in Llama Stack (lower case, digits, -): a model is served as `<id>/<model>`. Required."""
    provider: str
    """The endpoint's kind: vllm, ollama or openai (any OpenAI-compatible endpoint). Allowed: `vllm`, `ollama`, `openai`. Default: `"openai"`."""
    url: str
    """The endpoint's base URL (no credentials in it). Required."""
    models: list[str]
    """The models to register from it (at least one). Required."""
    api_key_secret: SecretKeyRef
    """Its API key, only by reference: a Secret you create ({name, key}); none: no key is sent."""


class CaBundle(TypedDict, total=False):
    """PEM certificates in a ConfigMap of the stack's namespace (`llamaStack.trust.caBundles[]`)."""
    config_map: str
    """The ConfigMap's name (you create it; its content is public: CA certificates). Required."""
    key: str
    """The key holding the PEM certificates. Default: `"ca-bundle.crt"`."""


class Trust(TypedDict, total=False):
    """CAs Llama Stack trusts besides its image's public ones (`llamaStack.trust`): for a model endpoint, a trace collector or an MCP server whose certificate a private CA signed."""
    ca_bundles: list[CaBundle]
    """ConfigMaps of PEM CAs, added to the bundle the server's HTTP clients read (SSL_CERT_FILE and REQUESTS_CA_BUNDLE); the pods read them at start: restart them after changing one."""
    openshift_trusted_ca_bundle: bool
    """OpenShift only: also trust the cluster's trusted CA bundle (the proxy's trustedCA and the system's): the program creates a ConfigMap labelled `config.openshift.io/inject-trusted-cabundle`, which OpenShift fills. Default: `false`."""


class Proxy(TypedDict, total=False):
    """The proxy Llama Stack reaches the outside through (`llamaStack.proxy`): HTTP_PROXY, HTTPS_PROXY, NO_PROXY."""
    http_proxy: str
    """For http:// URLs: `http://proxy.example.com:3128`; empty: none. Default: `""`."""
    https_proxy: str
    """For https:// URLs (a model endpoint, a trace collector); empty: none. Default: `""`."""
    no_proxy: list[str]
    """Hosts reached directly, besides those always added: the cluster's own names (`.svc`, `.cluster.local`, the MCP server's Service), `localhost`, `127.0.0.1`."""


class LlamaStack(TypedDict, total=False):
    """Llama Stack or OGX: distribution, version, image, inference, storage, auth, route, tls, extra MCP servers, scheduling."""
    replicas: int
    """Replicas when not autoscaling. Default: `1`."""
    resources: Resources
    """Requests and limits of the server's container."""
    autoscaling: Autoscaling
    """Scale on CPU (and memory) between minReplicas and maxReplicas instead of a fixed count."""
    disruption_budget: DisruptionBudget
    """The PodDisruptionBudget made with two or more replicas: minAvailable or maxUnavailable (default: minAvailable 1)."""
    rollout_timeout_seconds: int
    """How long `pulumi up` waits for a rollout to become Available before it fails, naming the Deployment and its status (`pulumi.com/timeoutSeconds`; the provider's own default is 10 min). Default: `300`."""
    shutdown_delay_seconds: int
    """How long a pod that is being stopped (a rollout, a scale-down, a drain) goes on serving before its server is told to stop (a preStop `sleep`; Kubernetes 1.30+, OpenShift 4.17+): the time every node's proxy and router needs to take it out of the Service, so no new request reaches a closed port. `0`: none (the server stops at once and requests in that window fail). At most 20 s, inside the pod's 30 s grace period. Default: `0`."""
    node_selector: dict[str, str]
    """Node labels the pods must run on (`nodeSelector`)."""
    tolerations: list[Toleration]
    """Taints the pods tolerate (core/v1 Toleration: key, operator, value, effect, tolerationSeconds)."""
    affinity: Affinity
    """Node affinity, pod affinity and anti-affinity (core/v1 Affinity, required and preferred terms)."""
    topology_spread_constraints: list[TopologySpreadConstraint]
    """How replicas spread over domains (maxSkew, topologyKey, whenUnsatisfiable, minDomains; the selector is always this server's pods). Unset: when autoscaled, spread softly (ScheduleAnyway, maxSkew 1) across nodes and zones, as llama-stack-k8s-operator does; `[]`: no spreading."""
    priority_class_name: str
    """A PriorityClass for the pods (not the system-* ones). Default: `""`."""
    pod_labels: dict[str, str]
    """Extra labels on the pods (never in the Deployment's selector)."""
    pod_annotations: dict[str, str]
    """Extra annotations on the pods (not checksum/* nor the SCC one, which the program sets)."""
    image_pull_secrets: list[str]
    """Secrets (kubernetes.io/dockerconfigjson) for pulling the image from a private registry."""
    image_pull_policy: str
    """When the kubelet pulls the image. Allowed: `IfNotPresent`, `Always`, `Never`. Default: `"IfNotPresent"`."""
    extra_env: list[ExtraEnv]
    """More environment variables of the server's container: {name, value | secretKeyRef | configMapKeyRef}; secret values only by reference, and none the program sets."""
    extra_volumes: list[ExtraVolume]
    """More volumes in the server's container: {name, mountPath, configMap | secret | emptyDir}; none where the program mounts something."""
    distribution: str
    """llama-stack or ogx (release-defining). Allowed: `llama-stack`, `ogx`. Default: `"llama-stack"`."""
    version: str
    """llama-stack 0.6.x (tool_groups dialect) or 0.7.x (connectors); ogx 1.x (release-defining). Default: `"0.7.3"`."""
    image: pulumi.Input[str]
    """Default docker.io/llamastack/distribution-starter:<version>; required for ogx, whose image name is not fixed upstream (release-defining). Default: `""`. May be an Output (another resource's), checked once known."""
    inference: Inference
    """The model endpoint: provider, url, model."""
    storage: Storage
    """Where state lives: backend (sqlite or postgres), the volume's size and class, the database."""
    auth: LlamaStackAuth
    """Who may call the agent API: provider (kubernetes, oidc, none), allowedGroups, oidc."""
    route: LlamaStackRoute
    """A Route (OpenShift) or Ingress (Kubernetes) in front of the agent API."""
    tls: Tls
    """The certificate the server serves: secretName, or OGX's insecure opt-out."""
    extra_mcp_servers: list[ExtraMcpServer]
    """More MCP connectors: a list of {id, url}."""
    extra_inference: list[ExtraInference]
    """More model endpoints, each with its models and its own key Secret: {id, provider, url, models, apiKeySecret}."""
    trust: Trust
    """CAs trusted besides the image's public ones: caBundles (ConfigMaps), openshiftTrustedCaBundle."""
    proxy: Proxy
    """The proxy to the outside: httpProxy, httpsProxy, noProxy (the cluster's own names always go direct)."""


class NetworkPolicy(TypedDict, total=False):
    """Which pods may reach the two servers (`networkPolicy`)."""
    enabled: bool
    """NetworkPolicies: the MCP server only from Llama Stack (and the router, Prometheus when used); Llama Stack from its namespace and the router. Default: `true`."""
    ingress_namespace: str
    """Plain Kubernetes: where the Ingress controller's or the Gateway's pods run (on OpenShift the router's and its Gateway's namespaces are found by their policy-group label). Default: `"ingress-nginx"`."""
    monitoring_namespace: str
    """Plain Kubernetes: where Prometheus runs (OpenShift's monitoring is found by its policy-group label). Default: `"monitoring"`."""
    allow_unauthenticated_mcp: bool
    """With enabled: false and no OAuth, every pod in the cluster can call the MCP server's tools: this opt-in accepts that. Default: `false`."""


class Monitoring(TypedDict, total=False):
    """What Prometheus (through the Prometheus Operator) scrapes and alerts on (`monitoring`)."""
    service_monitor: bool
    """A ServiceMonitor scraping the MCP server's /metrics (needs the Prometheus Operator). Default: `false`."""
    prometheus_rule: bool
    """A PrometheusRule with MCPServerDown, MCPHighMemoryUsage, MCPToolErrorRate and LlamaStackDown; needs serviceMonitor. Default: `false`."""
    memory_warning_ratio: float
    """MCPHighMemoryUsage fires above this share of the memory limit (0-1). Default: `0.8`."""
    tool_error_ratio: float
    """MCPToolErrorRate fires above this share of failed tool calls (0-1). Default: `0.1`."""
    labels: dict[str, str]
    """Extra labels on the ServiceMonitor and PrometheusRule (for your Prometheus' selectors)."""


class Telemetry(TypedDict, total=False):
    """Traces of both servers, sent to an OpenTelemetry collector you run (`telemetry`)."""
    otlp_endpoint: str
    """The base URL of an OTLP/HTTP collector (`http://otel-collector.observability.svc:4318`); unset: no traces. Llama Stack runs under `opentelemetry-instrument` and the MCP server's `[telemetry]` points there; the trace context travels with each tool call, so the MCP server's `tools/call` span (with `gen_ai.tool.name`) joins the agent's trace. OTLP/HTTP (port 4318): Llama Stack's own image carries no gRPC exporter."""
    sampling_ratio: float
    """The share of traces kept that start at Llama Stack (0-1); a caller's sampled trace is always followed (`parentbased_traceidratio`), so one decision covers the whole request. Default: `0.1`."""


class HelmReleases(TypedDict, total=False):
    """The old Helm releases this stack takes over in place (`make adopt`)."""
    mcp_server: str
    """The old MCP server release (e.g. kubernetes-mcp-server). Helm named the pods' instance label after it and a Deployment's selector never changes, so naming it keeps the Deployment updated in place. Keep it set after `make adopt`. Default: `""`."""
    llama_stack: str
    """The old Llama Stack release (e.g. llama-stack); as for mcpServer. Default: `""`."""


class Migration(TypedDict, total=False):
    """Taking over the old Helm releases in place (`migration`)."""
    helm_releases: HelmReleases
    """The release names Helm installed under: mcpServer, llamaStack."""


class MemberRbac(TypedDict, total=False):
    """What the hub's MCP server may do on a member cluster (its ServiceAccount there)."""
    preset: str
    """`full`, `read-only` or `view`, as for mcpServer.rbac.preset. `custom` is not offered for members: a member's rights are one of the reviewed presets. Allowed: `full`, `read-only`, `view`, `custom`. Default: `"read-only"`."""
    scope: str
    """`cluster`, or `namespaces` (the rules in one ClusterRole, bound by a RoleBinding in each listed namespace, plus listing namespaces). Allowed: `cluster`, `namespaces`. Default: `"cluster"`."""
    namespaces: list[str]
    """The member's namespaces granted, with scope: namespaces."""


class FleetMember(TypedDict, total=False):
    """One member cluster: how Pulumi reaches it, how the hub reaches it, what the hub may do there."""
    name: str
    """The member's name: its context in the hub's kubeconfig, what the agent passes as a tool's `context`. Required."""
    context: str
    """How Pulumi reaches the member: a context of the kubeconfig Pulumi uses (`kubernetes:kubeconfig`, $KUBECONFIG or ~/.kube/config). With the secret `fleetKubeconfigs.<name>`, a context inside that kubeconfig (default: its current context). Default: `""`."""
    server: str
    """The API server URL the hub's MCP server uses (default: the one Pulumi reaches the member by). Set it when the hub reaches the member by another address; the CA is then the member's own (`ca.crt` of its token). Default: `""`."""
    platform: str
    """openshift or kubernetes (default: the stack's platform); OpenShift members also grant listing projects. Allowed: `openshift`, `kubernetes`."""
    rbac: MemberRbac
    """The member's RBAC preset and scope: read-only by default; full only where the agent may change things."""
    token_generation: int
    """Raise it to rotate the member's token: `up` creates a new token Secret on the member, rolls the MCP pods onto it, then deletes the old Secret, which revokes the old token. Default: `1`."""


class Fleet(TypedDict, total=False):
    """Member clusters the one MCP server reaches besides its own (`fleet`)."""
    hub_name: str
    """The hub's context name: the stack's own cluster, reached in-cluster with the MCP server's own ServiceAccount and mcpServer.rbac. It is the default context of every tool. Default: `"hub"`."""
    members: list[FleetMember]
    """Member clusters by name: each gets a ServiceAccount with its RBAC and a token, and becomes a context of the hub's MCP server (`--cluster-provider kubeconfig`)."""


class LlamaStackMcpArgs(TypedDict, total=False):
    """Everything a stack file may say under `llamastack-mcp:`."""
    platform: str
    """openshift (Routes, SCC, service-serving certificates) or kubernetes (Ingress). Allowed: `openshift`, `kubernetes`. Default: `"openshift"`."""
    target: Target
    """The cluster this stack may change: context and apiServer, checked by `make` before any change."""
    namespace: Namespace
    """Where everything namespaced goes: name and create."""
    mcp_server: McpServer
    """The Kubernetes MCP server: image, replicas, resources, autoscaling, rbac, passthrough, tls, toolsets, route, oauth, scc, scheduling."""
    llama_stack: LlamaStack
    """Llama Stack or OGX: distribution, version, image, inference, storage, auth, route, tls, extra MCP servers, scheduling."""
    network_policy: NetworkPolicy
    """NetworkPolicies and the namespaces they let in."""
    monitoring: Monitoring
    """ServiceMonitor and PrometheusRule (Prometheus Operator), alert thresholds and labels."""
    telemetry: Telemetry
    """Traces of both servers to an OTLP/HTTP collector: otlpEndpoint, samplingRatio."""
    migration: Migration
    """Taking over the old Helm releases in place (`make adopt`)."""
    fleet: Fleet
    """Member clusters the one MCP server reaches besides its own: per member how Pulumi reaches it, its RBAC preset and scope, token rotation."""
    inference_api_key: pulumi.Input[str]
    """Secret. The model endpoint's API key (`pulumi config set --secret inferenceApiKey ...`); reaches the server only through a Secret and `${env.INFERENCE_API_KEY}`. Required with provider: openai."""
    postgres_password: pulumi.Input[str]
    """Secret. The database password (`pulumi config set --secret postgresPassword ...`); required with storage.backend: postgres."""
    fleet_kubeconfigs: dict[str, str]
    """Secret. Fleet members' kubeconfigs, by member name, for members Pulumi does not reach through a context of its own kubeconfig (`pulumi config set --secret --path fleetKubeconfigs.NAME "$(cat NAME.kubeconfig)"`). Only Pulumi's provider for that member uses it; the hub never sees it."""
