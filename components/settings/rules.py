"""Every cross-field rule of the settings, in one place.

A rule is registered for the model whose fields it relates (`@rule(Model)`) and runs
after all of that model's fields are validated, whatever their order (base.py). Each
finding names its field relative to that model, or from the top of the stack file
with a leading '/'. Rules that relate sections of the stack sit on StackSettings,
split so that each reads as few sections as it needs: a section that failed its own
checks silences only the rules that read it.
"""

from __future__ import annotations

import re
from typing import Any

from ..meta import LLAMA_STACK, MCP_SERVER
from ..quantity import parse_quantity
from .base import Problems, rule
from .cluster import MonitoringSettings
from .fields import RELEASE_VERSION, dotted
from .kubernetes import (Autoscaling, DisruptionBudget, LabelSelectorRequirement, NodeSelectorRequirement, Resources, Toleration,
                         TopologySpreadConstraint)
from .llama_stack import GROUP_NAME, SUPPORTED_VERSIONS, LlamaStackAuth, LlamaStackRoute, LlamaStackSettings
from .extras import PROXY_ENV, RESERVED, SECRET_LOOKING, ExtraEnv, ExtraVolume, governed_by
from .mcp_server import KialiToolset, McpServerSettings, OAuth
from .rbac import MemberRbac, PolicyRule, RbacSettings, system_namespace
from .stack import StackSettings
from .workload import Exposure, WorkloadSettings

Context = dict[str, Any]
HTTPS_URL = re.compile(r"https://[^\s/]+(/\S*)?")


# ------------------------------------------------------------ Kubernetes shapes

@rule(Resources)
def requests_within_limits(r: Resources, problems: Problems, _: Context) -> None:
    for kind, key in (("cpu", "cpu"), ("memory", "memory"), ("ephemeral_storage", "ephemeralStorage")):
        request, limit = getattr(r.requests, kind), getattr(r.limits, kind)
        if request is not None and limit is not None and parse_quantity(request) > parse_quantity(limit):
            problems.add(f"requests.{key}", request,
                         f"must not exceed limits.{key} ({limit}); Kubernetes rejects a request above its limit")


@rule(Autoscaling)
def min_within_max(a: Autoscaling, problems: Problems, _: Context) -> None:
    if a.min_replicas > a.max_replicas:
        problems.add("minReplicas", a.min_replicas, f"must be less than or equal to maxReplicas ({a.max_replicas})")


@rule(DisruptionBudget)
def one_budget(b: DisruptionBudget, problems: Problems, _: Context) -> None:
    if b.min_available is not None and b.max_unavailable is not None:
        problems.add("maxUnavailable", b.max_unavailable, "contradicts minAvailable: a budget names one of the two")
    if b.max_unavailable in (0, "0%"):
        problems.add("maxUnavailable", b.max_unavailable, "would block every node drain: at least 1 (or 1%)")
    if b.min_available == "100%":
        problems.add("minAvailable", b.min_available, "would block every node drain: below 100%")


@rule(WorkloadSettings)
def budget_fits_replicas(w: WorkloadSettings, problems: Problems, _: Context) -> None:
    budget = w.disruption_budget
    if budget == DisruptionBudget():
        return
    if w.min_replicas < 2:
        problems.add("disruptionBudget", "(set)", "has no effect: a PodDisruptionBudget is made only when two or "
                                                  "more replicas are meant to run (replicas, or autoscaling."
                                                  "minReplicas)")
    elif isinstance(budget.min_available, int) and budget.min_available >= w.min_replicas:
        problems.add("disruptionBudget.minAvailable", budget.min_available,
                     f"would block every node drain at {w.min_replicas} replicas: at most {w.min_replicas - 1}")


@rule(LabelSelectorRequirement)
@rule(NodeSelectorRequirement)
def values_fit_operator(req: Any, problems: Problems, _: Context) -> None:
    op, values = req.operator, req.values
    if op in ("In", "NotIn") and not values:
        problems.add("values", values, f"operator {op} needs at least one value")
    if op in ("Exists", "DoesNotExist") and values:
        problems.add("values", values, f"must be empty with operator {op}")
    if op in ("Gt", "Lt") and (len(values) != 1 or not re.fullmatch(r"-?[0-9]+", values[0])):
        problems.add("values", values, f"operator {op} needs exactly one integer value")


@rule(Toleration)
def toleration_consistent(t: Toleration, problems: Problems, _: Context) -> None:
    if t.operator == "Exists" and t.value:
        problems.add("value", t.value, "must be empty with operator: Exists")
    if t.key == "" and t.operator == "Equal":
        problems.add("operator", t.operator, "an empty key needs operator: Exists (it tolerates every taint)")
    if t.toleration_seconds is not None and t.effect != "NoExecute":
        problems.add("tolerationSeconds", t.toleration_seconds, "only applies with effect: NoExecute")


@rule(TopologySpreadConstraint)
def min_domains_with_do_not_schedule(c: TopologySpreadConstraint, problems: Problems, _: Context) -> None:
    if c.min_domains is not None and c.when_unsatisfiable != "DoNotSchedule":
        problems.add("minDomains", c.min_domains, "only applies with whenUnsatisfiable: DoNotSchedule")


# ------------------------------------------------------------------------ RBAC

@rule(PolicyRule)
def rule_targets_one_kind(r: PolicyRule, problems: Problems, _: Context) -> None:
    urls = r.non_resource_urls
    if not r.resources and not urls:
        problems.add("resources", [], "a rule needs resources (or nonResourceURLs)")
    if r.resources and urls:
        problems.add("nonResourceURLs", urls, "a rule holds either resources or nonResourceURLs, not both "
                                              "(the API server rejects the mix)")
    if urls and r.api_groups:
        problems.add("apiGroups", r.api_groups, "must be left out beside nonResourceURLs")
    if urls and r.resource_names:
        problems.add("resourceNames", r.resource_names, "must be left out beside nonResourceURLs")


def _scope_fits(scope: str, namespaces: list[str], problems: Problems) -> None:
    if scope == "namespaces" and not namespaces:
        problems.add("namespaces", [], "must list at least one namespace with scope: namespaces")
    if scope == "cluster" and namespaces:
        problems.add("namespaces", namespaces, "is only used with scope: namespaces; set scope: namespaces "
                                               "or remove it")
    if len(set(namespaces)) != len(namespaces):
        problems.add("namespaces", namespaces, "lists a namespace twice")


@rule(RbacSettings)
def hub_rbac_consistent(r: RbacSettings, problems: Problems, _: Context) -> None:
    _scope_fits(r.scope, r.namespaces, problems)
    if r.preset == "custom" and not r.rules:
        problems.add("rules", [], "must hold at least one PolicyRule with preset: custom")
    if r.preset != "custom" and r.rules:
        problems.add("rules", "[...]", f"is only used with preset: custom (preset is {r.preset})")
    if r.scope == "namespaces" and any(p.non_resource_urls for p in r.rules):
        problems.add("rules", "[...]", "nonResourceURLs need scope: cluster")


@rule(RbacSettings)
def cluster_admin_needs_opt_in(r: RbacSettings, problems: Problems, _: Context) -> None:
    if r.allow_cluster_admin_equivalent:
        return
    opt_in = ("amounts to cluster-admin: an agent holding it can take over the cluster. "
              "Set mcpServer.rbac.allowClusterAdminEquivalent: true if that is really meant")
    for i, policy in enumerate(r.rules):
        why = policy.escalation()
        if why:
            problems.add(f"rules[{i}]", why, f"grants {why}, which {opt_in}")
    for namespace in r.namespaces:
        if r.writes and r.scope == "namespaces" and system_namespace(namespace):
            problems.add("namespaces", namespace, f"is a system namespace: writing in it {opt_in}")


@rule(MemberRbac)
def member_rbac_consistent(r: MemberRbac, problems: Problems, _: Context) -> None:
    if r.preset == "custom":
        problems.add("preset", "custom", "is not allowed for fleet members: use full, read-only or view")
    _scope_fits(r.scope, r.namespaces, problems)
    if r.preset == "full" and r.scope == "namespaces":
        for namespace in r.namespaces:
            if system_namespace(namespace):
                problems.add("namespaces", namespace, "is a system namespace: writing in it amounts to "
                                                      "cluster-admin on the member; use read-only or view there")


# ------------------------------------------------------------------ MCP server

@rule(OAuth)
def oauth_complete(o: OAuth, problems: Problems, _: Context) -> None:
    if o.enabled and not re.fullmatch(r"https://\S+", o.authorization_url):
        problems.add("authorizationUrl", o.authorization_url, "must be the https:// URL of the OAuth/OIDC issuer "
                                                              "when oauth.enabled")
    if not o.enabled:
        for name, value, default in (
                ("serverUrl", o.server_url, ""), ("scopes", o.scopes, []), ("caConfigMap", o.ca_config_map, ""),
                ("disableDynamicClientRegistration", o.disable_dynamic_client_registration, False),
                ("tokenExchange.strategy", o.token_exchange.strategy, "")):
            if value != default:
                problems.add(name, value, "has no effect with oauth.enabled: false")
    if o.server_url and not o.server_url.startswith("https://"):
        problems.add("serverUrl", o.server_url, "must be https://: OAuth clients send their tokens to it")
    exchange = o.token_exchange
    if exchange.strategy and not exchange.client_id:
        problems.add("tokenExchange.clientId", "", f"required with tokenExchange.strategy {exchange.strategy}: the "
                                                   "OAuth client the server exchanges tokens as")
    if not exchange.strategy and exchange != type(exchange)():
        problems.add("tokenExchange.strategy", "", "required when any tokenExchange setting is given: rfc8693, "
                                                   "keycloak-v1 or entra-obo")


@rule(StackSettings)  # beside the stack's other MCP exposure rules, so all of them are reported at once
def oauth_fits_exposure(s: StackSettings, problems: Problems, _: Context) -> None:
    m = s.mcp_server
    if not m.oauth.enabled:
        return
    if m.route.enabled and not m.oauth.server_url and not m.route.host:
        problems.add("/mcpServer.oauth.serverUrl", "", "required when the route's host is generated: OAuth clients "
                                                       "discover the server by this URL (or set route.host)")
    if m.oauth.token_exchange.strategy and not m.config_secret_name:
        problems.add("/mcpServer.configSecretName", "", "required with oauth.tokenExchange: a Secret you create "
                                                        "whose key (e.g. 50-token-exchange.toml) holds the client "
                                                        "secret as [token_exchange.client_auth] client_secret = \"...\"")


@rule(McpServerSettings)
def mcp_route_needs_auth(m: McpServerSettings, problems: Problems, _: Context) -> None:
    if m.route.enabled and not m.oauth.enabled and not m.route.allow_unauthenticated:
        problems.add("route.enabled", True,
                     "the MCP server has no authentication of its own: set mcpServer.oauth.enabled: true, "
                     "or route.allowUnauthenticated: true to expose it anyway")


@rule(McpServerSettings)
def tool_filters_agree(m: McpServerSettings, problems: Problems, _: Context) -> None:
    both = [t for t in m.enabled_tools if t in m.disabled_tools]
    if both:
        problems.add("disabledTools", both, "names tools enabledTools also lists: a tool is either offered or not")


@rule(KialiToolset)
def kiali_trust_decided(k: KialiToolset, problems: Problems, _: Context) -> None:
    # The server (v0.0.67) refuses to start with an https:// url and neither a CA nor insecure.
    if k.url.startswith("https://") and not k.ca_config_map and not k.insecure:
        problems.add("caConfigMap", "", "required for an https:// url: the ConfigMap holding the CA that signed "
                                        "Kiali's certificate (or insecure: true, for a test installation)")
    if k.insecure and k.ca_config_map:
        problems.add("insecure", True, "contradicts caConfigMap: either verify Kiali's certificate or do not")
    if k.ca_config_map and k.url.startswith("http://"):
        problems.add("caConfigMap", k.ca_config_map, "applies to an https:// url only")


@rule(McpServerSettings)
def toolset_configs_match_toolsets(m: McpServerSettings, problems: Problems, _: Context) -> None:
    kiali, helm = m.toolset_configs.kiali, m.toolset_configs.helm
    if "kiali" in m.toolsets and not kiali.url:
        problems.add("toolsetConfigs.kiali.url", "", "required with the kiali toolset: the URL the server's pods "
                                                     "reach Kiali at (e.g. https://kiali.istio-system.svc:20001); "
                                                     "without it the kiali tools have nothing to query")
    if kiali != type(kiali)() and "kiali" not in m.toolsets:
        problems.add("toolsetConfigs.kiali", "(set)", "configures a toolset mcpServer.toolsets does not offer: "
                                                      "add kiali to toolsets, or remove this")
    if helm.allowed_registries and "helm" not in m.toolsets:
        problems.add("toolsetConfigs.helm.allowedRegistries", helm.allowed_registries,
                     "configures a toolset mcpServer.toolsets does not offer: add helm to toolsets, or remove this")


# ------------------------------------------------------- extra env and volumes

@rule(ExtraEnv)
def env_has_one_source(e: ExtraEnv, problems: Problems, _: Context) -> None:
    sources = [s for s, v in (("value", e.value), ("secretKeyRef", e.secret_key_ref),
                              ("configMapKeyRef", e.config_map_key_ref)) if v is not None]
    if len(sources) != 1:
        problems.add("name", e.name, f"needs exactly one of value, secretKeyRef, configMapKeyRef (has "
                                     f"{', '.join(sources) or 'none'})")
    elif e.value is not None and SECRET_LOOKING.search(e.name):
        problems.add("value", "(hidden)", f"{e.name} looks like a secret: a secret value comes only by reference "
                                          "(secretKeyRef: {name, key}; configMapKeyRef for what is not secret), "
                                          "never in clear in the stack file and the Deployment")


@rule(ExtraVolume)
def volume_has_one_source(v: ExtraVolume, problems: Problems, _: Context) -> None:
    sources = [s for s, on in (("configMap", v.config_map), ("secret", v.secret), ("emptyDir", v.empty_dir)) if on]
    if len(sources) != 1:
        problems.add("name", v.name, f"needs exactly one of configMap, secret, emptyDir (has "
                                     f"{', '.join(sources) or 'none'})")


def _extras_clear(section: str, env: list[ExtraEnv], volumes: list[ExtraVolume], problems: Problems,
                  also_taken: frozenset[str] = frozenset()) -> None:
    reserved = RESERVED[section]
    names = [e.name for e in env]
    for i, e in enumerate(env):
        if reserved.env_taken(e.name) or e.name in also_taken:
            problems.add(f"/{section}.extraEnv[{i}].name", e.name, f"is set by the program itself (whether or not "
                                                                    f"this stack sets it now): use "
                                                                    f"{governed_by(e.name)}")
        elif names.count(e.name) > 1 and names.index(e.name) != i:
            problems.add(f"/{section}.extraEnv[{i}].name", e.name, "is listed twice")
    vnames = [v.name for v in volumes]
    for i, v in enumerate(volumes):
        if v.name in reserved.volumes or vnames.index(v.name) != i:
            problems.add(f"/{section}.extraVolumes[{i}].name", v.name,
                         f"is a volume the program uses (it uses {', '.join(sorted(reserved.volumes))})"
                         if v.name in reserved.volumes else "is listed twice")
        if reserved.path_taken(v.mount_path):
            problems.add(f"/{section}.extraVolumes[{i}].mountPath", v.mount_path,
                         f"overlaps where the program mounts its own files ({', '.join(reserved.paths)})")


@rule(StackSettings)
def extras_clear_of_the_program(s: StackSettings, problems: Problems, _: Context) -> None:
    _extras_clear("mcpServer", s.mcp_server.extra_env, s.mcp_server.extra_volumes, problems)
    _extras_clear("llamaStack", s.llama_stack.extra_env, s.llama_stack.extra_volumes, problems,
                  frozenset(PROXY_ENV) if s.llama_stack.proxy.enabled else frozenset())


@rule(StackSettings)
def no_proxy_needs_a_proxy(s: StackSettings, problems: Problems, _: Context) -> None:
    proxy = s.llama_stack.proxy
    if proxy.no_proxy and not proxy.enabled:
        problems.add("/llamaStack.proxy.noProxy", proxy.no_proxy, "has no effect without httpProxy or httpsProxy")


@rule(StackSettings)
def openshift_bundle_on_openshift(s: StackSettings, problems: Problems, _: Context) -> None:
    if s.llama_stack.trust.openshift_trusted_ca_bundle and s.platform != "openshift":
        problems.add("/llamaStack.trust.openshiftTrustedCaBundle", True,
                     "only OpenShift fills that bundle (platform is kubernetes): list your CAs in trust.caBundles")


# ----------------------------------------------------------------- Llama Stack

@rule(LlamaStackSettings)
def inference_ids_distinct(s: LlamaStackSettings, problems: Problems, _: Context) -> None:
    ids = [s.inference.provider] + [e.id for e in s.extra_inference]
    served = [s.inference.model] if s.inference.model else []
    for i, extra in enumerate(s.extra_inference):
        if extra.id in ids[:i + 1]:
            problems.add(f"extraInference[{i}].id", extra.id,
                         f"is already a provider's id ({'inference.provider' if extra.id == ids[0] else 'above'}): "
                         "each endpoint needs its own")
        for j, model in enumerate(extra.models):
            if model in served:
                problems.add(f"extraInference[{i}].models[{j}]", model, "is registered already: a model name "
                                                                         "names one endpoint's model")
            served.append(model)


@rule(LlamaStackAuth)
def agent_auth_complete(a: LlamaStackAuth, problems: Problems, _: Context) -> None:
    if a.provider == "oidc":
        for field, value in (("oidc.issuer", a.oidc.issuer), ("oidc.jwksUrl", a.oidc.jwks_url)):
            if not HTTPS_URL.fullmatch(value):
                problems.add(field, value, "must be an https:// URL with provider: oidc")
    for field, names, what in (("allowedGroups", a.allowed_groups, "group"), ("allowedUsers", a.allowed_users, "user")):
        for i, name in enumerate(names):
            if not GROUP_NAME.fullmatch(name):
                problems.add(f"{field}[{i}]", name, f"must be a {what} name: letters, digits and : . _ @ / -")
        if a.provider == "none" and names:
            problems.add(field, names, "needs a provider (kubernetes or oidc): with none nobody has an identity "
                                       "to check")


@rule(LlamaStackSettings)
def agent_route_needs_auth(s: LlamaStackSettings, problems: Problems, _: Context) -> None:
    if s.route.enabled and s.auth.provider == "none" and not s.route.allow_unauthenticated:
        problems.add("route.enabled", True, "exposes the agent API with llamaStack.auth.provider: none: whoever "
                                            "reaches the route runs agent turns with the MCP server's rights. Set "
                                            "auth.provider: kubernetes or oidc, or route.allowUnauthenticated: true "
                                            "to expose it anyway")


@rule(LlamaStackSettings)
def version_supported(s: LlamaStackSettings, problems: Problems, _: Context) -> None:
    low, high = SUPPORTED_VERSIONS[s.distribution]
    allowed = f"{dotted(low)} <= version < {dotted(high)}"
    match = RELEASE_VERSION.fullmatch(s.version)
    if not match:
        problems.add("version", s.version, f"must be a release version X.Y.Z ({allowed} for {s.distribution})")
    elif not low <= tuple(int(p) for p in match.groups()) < high:
        problems.add("version", s.version, f"is not supported for distribution {s.distribution}; "
                                           f"supported: {allowed}")


@rule(LlamaStackSettings)
def ogx_image_named(s: LlamaStackSettings, problems: Problems, _: Context) -> None:
    if not s.image and s.distribution == "ogx":
        problems.add("image", "", "is required with distribution: ogx (the OGX image is not published under a "
                                  "name this program can rely on); set the image you run")


@rule(LlamaStackSettings)
def storage_fits_replicas(s: LlamaStackSettings, problems: Problems, context: Context) -> None:
    storage = s.storage
    if storage.backend == "sqlite" and (s.replicas > 1 or s.autoscaling.enabled):
        field, value = ("autoscaling.enabled", True) if s.autoscaling.enabled else ("replicas", s.replicas)
        problems.add(field, value, "needs storage.backend: postgres: SQLite lives on a ReadWriteOnce "
                                   "volume that only one replica can use")
    if storage.backend == "postgres":
        if not storage.postgres.host:
            problems.add("storage.postgres.host", "", "is required with storage.backend: postgres")
        if "postgresPassword" not in context.get("secrets", set()):
            problems.add("/postgresPassword", None,
                         "is required with llamaStack.storage.backend: postgres; set it with "
                         "`pulumi config set --secret postgresPassword <password>`")


@rule(LlamaStackSettings)
def api_key_when_needed(s: LlamaStackSettings, problems: Problems, context: Context) -> None:
    if s.inference.provider == "openai" and "inferenceApiKey" not in context.get("secrets", set()):
        problems.add("/inferenceApiKey", None, "is required with llamaStack.inference.provider: openai; set "
                                               "it with `pulumi config set --secret inferenceApiKey <key>`")


# ------------------------------------------------------------------ monitoring

@rule(MonitoringSettings)
def alerts_need_a_scrape(m: MonitoringSettings, problems: Problems, _: Context) -> None:
    if m.prometheus_rule and not m.service_monitor:
        problems.add("prometheusRule", True, "needs monitoring.serviceMonitor: true: without a scrape the "
                                             "MCPServerDown alert fires forever")


# --------------------------------------------------------- across the sections

def _a(kind: str) -> str:
    """The way in, named for a message: OpenShift's Route says whose it is."""
    return {"Route": "a Route (OpenShift's router)", "Ingress": "an Ingress", "HTTPRoute": "an HTTPRoute"}[kind]


def _exposure_fits_platform(section: str, platform: str, route: Exposure, problems: Problems) -> None:
    kind = route.object_kind(platform)
    where = f"{section}.route"
    if route.kind == "Route" and platform != "openshift":
        problems.add(f"{where}.kind", "Route", "exists only on platform: openshift (its router): use Ingress or "
                                                "HTTPRoute")
    if route.enabled and kind != "Route" and not route.host:
        problems.add(f"{where}.host", "", f"is required for an {kind} (only OpenShift's router generates one)")
    ingress_fields = (("ingressClassName", route.ingress_class_name, ""), ("tlsSecretName", route.tls_secret_name, ""),
                      ("ingressController", route.ingress_controller, "ingress-nginx"))
    for field, value, default in ingress_fields:
        if kind != "Ingress" and value != default:
            problems.add(f"{where}.{field}", value, f"applies to an Ingress; this stack exposes the server with "
                                                    f"{_a(kind)}, which ignores it: remove it")
    gateway = route.gateway
    for field, value in (("name", gateway.name), ("namespace", gateway.namespace),
                         ("sectionName", gateway.section_name)):
        if kind != "HTTPRoute" and value:
            problems.add(f"{where}.gateway.{field}", value, f"applies to an HTTPRoute (kind: HTTPRoute); {_a(kind)} "
                                                            "attaches to no Gateway: remove it")
    if kind == "HTTPRoute" and route.enabled and not gateway.name:
        problems.add(f"{where}.gateway.name", "", "is required with kind: HTTPRoute: the Gateway whose (HTTPS) "
                                                  "listener serves the route")


def _generated_host_fits(section: str, name: str, namespace: str, platform: str, route: Exposure,
                         problems: Problems) -> None:
    generated = f"{name}-{namespace}"
    if route.object_kind(platform) == "Route" and route.enabled and not route.host and len(generated) > 63:
        problems.add(f"{section}.route.host", "", f"OpenShift would generate a host starting with {generated!r} "
                                                  f"({len(generated)} characters; a DNS label holds 63): set "
                                                  "route.host or use a shorter namespace")


TRAEFIK_SERVERS_TRANSPORT = "traefik.ingress.kubernetes.io/service.serverstransport"


def _backend_tls_fits(section: str, platform: str, route: LlamaStackRoute, serves_tls: bool,
                      problems: Problems) -> None:
    """The way in must be able to verify a server that serves TLS, and is told only then."""
    kind, where = route.object_kind(platform), f"{section}.route"
    if route.backend_ca_config_map and (kind != "HTTPRoute" or not serves_tls):
        problems.add(f"{where}.backendCaConfigMap", route.backend_ca_config_map,
                     "applies to an HTTPRoute in front of a server that serves TLS (tls.secretName, or OGX): "
                     "remove it")
    if not (route.enabled and serves_tls):
        return
    if kind == "HTTPRoute" and not route.backend_ca_config_map:
        problems.add(f"{where}.backendCaConfigMap", "", "is required with kind: HTTPRoute when the server serves "
                                                       "TLS: name a ConfigMap whose ca.crt is its certificate's CA, "
                                                       "so the Gateway can verify it")
    if kind == "Ingress" and route.ingress_controller == "traefik" and TRAEFIK_SERVERS_TRANSPORT not in route.annotations:
        problems.add(f"{where}.annotations", route.annotations,
                     f"needs {TRAEFIK_SERVERS_TRANSPORT}: the server serves TLS, and Traefik verifies it only with "
                     "a ServersTransport holding its CA (<namespace>-<name>@kubernetescrd)")


@rule(StackSettings)
def mcp_fits_platform(s: StackSettings, problems: Problems, _: Context) -> None:
    _exposure_fits_platform("mcpServer", s.platform, s.mcp_server.route, problems)
    if s.platform == "kubernetes" and s.mcp_server.scc.create:
        problems.add("mcpServer.scc.create", True, "SecurityContextConstraints exist only on platform: openshift")


@rule(StackSettings)
def mcp_generated_host_fits(s: StackSettings, problems: Problems, _: Context) -> None:
    _generated_host_fits("mcpServer", MCP_SERVER, s.namespace.name, s.platform, s.mcp_server.route, problems)


@rule(StackSettings)
def llama_stack_fits_platform(s: StackSettings, problems: Problems, _: Context) -> None:
    stack = s.llama_stack
    _exposure_fits_platform("llamaStack", s.platform, stack.route, problems)
    _backend_tls_fits("llamaStack", s.platform, stack.route, stack.serves_tls, problems)
    if stack.distribution == "ogx":
        if s.platform == "kubernetes" and not stack.tls.secret_name and not stack.tls.insecure:
            problems.add("llamaStack.tls.secretName", "", "OGX serves only TLS: on platform: kubernetes name a TLS "
                                                          "Secret (tls.secretName), or set tls.insecure: true")
        if stack.tls.secret_name and stack.tls.insecure:
            problems.add("llamaStack.tls.insecure", True, "contradicts tls.secretName: serve TLS from the Secret, or "
                                                          "plain HTTP, not both")
    elif stack.tls.insecure:
        problems.add("llamaStack.tls.insecure", True, "only applies to distribution: ogx (llama-stack serves plain "
                                                      "HTTP unless tls.secretName is set): remove it")


@rule(StackSettings)
def llama_stack_generated_host_fits(s: StackSettings, problems: Problems, _: Context) -> None:
    _generated_host_fits("llamaStack", LLAMA_STACK, s.namespace.name, s.platform, s.llama_stack.route, problems)


@rule(StackSettings)
def passthrough_fits(s: StackSettings, problems: Problems, _: Context) -> None:
    mcp, stack = s.mcp_server, s.llama_stack
    if not mcp.passthrough:
        if mcp.tls.secret_name:
            problems.add("mcpServer.tls.secretName", mcp.tls.secret_name,
                         "is only used with mcpServer.passthrough: true (the server serves TLS then): remove it")
        return
    if stack.auth.provider == "none":
        problems.add("mcpServer.passthrough", True,
                     "forwards the caller's token, but llamaStack.auth.provider is none: nobody's identity is "
                     "checked in front of it. Set llamaStack.auth.provider: kubernetes (or oidc when the "
                     "cluster accepts your identity provider's tokens)")
    if mcp.route.enabled:
        problems.add("mcpServer.route.enabled", True,
                     "with mcpServer.passthrough the MCP server is reachable only from Llama Stack: disable the "
                     "route (clients reach tools through Llama Stack)")
    if s.platform == "kubernetes" and not mcp.tls.secret_name:
        problems.add("mcpServer.tls.secretName", "",
                     "is required with mcpServer.passthrough on platform: kubernetes: name a kubernetes.io/tls "
                     "Secret holding tls.crt, tls.key and ca.crt (cert-manager writes all three), so tokens "
                     "never cross the network in clear")
    if mcp.rbac.preset == "custom":
        problems.add("mcpServer.rbac.preset", "custom",
                     "grants nothing with mcpServer.passthrough (each call runs with the caller's own RBAC): "
                     "use full, read-only or view to choose the tool surface")
    if mcp.rbac.scope == "namespaces":
        problems.add("mcpServer.rbac.scope", "namespaces",
                     "grants nothing with mcpServer.passthrough (each call runs with the caller's own RBAC): "
                     "remove scope and namespaces")


def _agent_writes(s: StackSettings) -> bool:
    """The agent changes objects with its own rights: on the hub, or on any fleet member."""
    return not s.mcp_server.passthrough and (
        s.mcp_server.rbac.writes or any(m.rbac.preset == "full" for m in s.fleet.members))


def _writer(s: StackSettings) -> str:
    """Where the agent's write rights come from, as the stack file says it."""
    if s.mcp_server.rbac.writes:
        return f"mcpServer.rbac.preset: {s.mcp_server.rbac.preset}"
    return "fleet.members[].rbac.preset: full on " + ", ".join(m.name for m in s.fleet.members if m.rbac.preset == "full")


@rule(StackSettings)
def agent_writes_confined(s: StackSettings, problems: Problems, _: Context) -> None:
    rbac = s.mcp_server.rbac
    if s.mcp_server.passthrough or rbac.allow_cluster_wide_write:
        return
    if rbac.writes and rbac.scope == "cluster":
        problems.add("mcpServer.rbac.scope", "cluster",
                     f"with preset {rbac.preset} lets the agent create, change and delete objects in every namespace, "
                     "kube-system and openshift-* included. Set scope: namespaces and list the namespaces it may "
                     "change, use mcpServer.passthrough: true (each call with the caller's own rights), or set "
                     "mcpServer.rbac.allowClusterWideWrite: true if that is really meant")
    for i, member in enumerate(s.fleet.members):
        if member.rbac.preset == "full" and member.rbac.scope == "cluster":
            problems.add(f"fleet.members[{i}].rbac.scope", "cluster",
                         f"with preset full lets the agent change every namespace of member {member.name}: set "
                         "scope: namespaces there, or mcpServer.rbac.allowClusterWideWrite: true if that is really "
                         "meant")


@rule(StackSettings)
def agent_writes_only_through_llama_stack(s: StackSettings, problems: Problems, _: Context) -> None:
    # Prometheus' namespace reaches the MCP server (one port serves tools and /metrics), which checks
    # no identity: its pods would hold the agent's write rights, named by nobody.
    mcp = s.mcp_server
    if not _agent_writes(s) or mcp.oauth.enabled or not s.monitoring.service_monitor or not s.network_policy.enabled \
            or s.network_policy.allow_unauthenticated_mcp:
        return
    problems.add("/monitoring.serviceMonitor", True,
                 "lets every pod of the monitoring namespace call the MCP server, which checks no identity, with "
                 "the agent's write rights: use a read-only preset or mcpServer.passthrough, or set "
                 "networkPolicy.allowUnauthenticatedMcp: true to accept that")


@rule(StackSettings)
def kept_claim_in_a_kept_namespace(s: StackSettings, problems: Problems, _: Context) -> None:
    storage = s.llama_stack.storage
    if s.namespace.create and not s.namespace.keep_on_destroy and storage.backend == "sqlite" \
            and storage.keep_on_destroy:
        problems.add("namespace.keepOnDestroy", False,
                     "deletes the namespace on destroy, and with it the SQLite claim llamaStack.storage.keepOnDestroy "
                     "keeps: set both to false to delete your data with the stack, or keep the namespace")


@rule(StackSettings)
def agent_rights_granted_by_name(s: StackSettings, problems: Problems, _: Context) -> None:
    # Reads stay open to every authenticated caller by default (the read-only preset holds no Secrets);
    # a right to change things is only ever handed to callers named in the stack file.
    auth, mcp = s.llama_stack.auth, s.mcp_server
    if not _agent_writes(s) or auth.allowed_groups or auth.allowed_users:
        return
    if auth.provider == "none":
        if not s.llama_stack.route.allow_unauthenticated:
            problems.add("llamaStack.auth.provider", "none",
                         f"lets whoever reaches Llama Stack change objects with the agent's rights ({_writer(s)}): "
                         "use kubernetes or oidc with allowedGroups, or set "
                         "llamaStack.route.allowUnauthenticated: true to accept that")
        return
    problems.add("llamaStack.auth.allowedGroups", [],
                 f"is empty (and allowedUsers too) while the agent changes objects with its own ServiceAccount's "
                 f"rights ({_writer(s)}, no passthrough): every identity the cluster "
                 "authenticates, every user and every pod's ServiceAccount, could use those rights through the "
                 "agent. Name who may (allowedGroups, allowedUsers; [system:authenticated] grants everyone, by "
                 "name), or set mcpServer.passthrough: true so each call runs with the caller's own rights")


@rule(StackSettings)
def mcp_not_open_in_cluster(s: StackSettings, problems: Problems, _: Context) -> None:
    np, mcp = s.network_policy, s.mcp_server
    if not np.enabled and not (mcp.oauth.enabled or mcp.passthrough) and not np.allow_unauthenticated_mcp:
        problems.add("networkPolicy.enabled", False, "leaves the MCP server, which has no authentication of its "
                                                     "own, open to every pod in the cluster: set "
                                                     "mcpServer.oauth.enabled: true, or "
                                                     "networkPolicy.allowUnauthenticatedMcp: true to accept that")


@rule(StackSettings)
def fleet_fits_hub(s: StackSettings, problems: Problems, _: Context) -> None:
    mcp = s.mcp_server
    if not s.fleet.members:
        return
    if mcp.passthrough:
        problems.add("fleet.members", "[...]", "cannot be used with mcpServer.passthrough: the caller's token is "
                                               "only valid on the hub's API server, members would receive a "
                                               "token they do not trust. Turn passthrough off for a fleet hub")
    if "config" not in mcp.toolsets:
        problems.add("mcpServer.toolsets", mcp.toolsets, "must include config with fleet members: without "
                                                         "configuration_contexts_list the agent cannot "
                                                         "learn the fleet's cluster names")

