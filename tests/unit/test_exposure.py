"""The way in (`<server>.route`): a Route, an Ingress for a named controller, or a Gateway API HTTPRoute attached
to the Gateway the settings name, with a BackendTLSPolicy when the server serves TLS; every bad combination refused
before anything is registered. (Schema validity against Gateway API's CRDs: test_manifests.py, every variant.)"""

from __future__ import annotations

import pytest

from support import TEST_SECRETS, refused, run_variant
from testbed.e2e.servers import OGX

KEY = {"inferenceApiKey": TEST_SECRETS["inferenceApiKey"]}
GATEWAY = {"name": "edge", "namespace": "gateways", "sectionName": "https"}


def _ours(metadata):
    """The annotations the settings asked for (not the registrar's `pulumi.com/*`)."""
    return {k: v for k, v in (metadata.get("annotations") or {}).items() if not k.startswith("pulumi.com/")}


def _http_route(**route):
    return {"kind": "HTTPRoute", "host": "agents.example.com", "gateway": GATEWAY, **route}


def test_an_httproute_attaches_to_the_named_listener_with_the_agents_timeouts(preview):
    result = run_variant("dev", preview=preview, secrets=KEY, platform="kubernetes",
                         llamaStack={"route": _http_route(timeoutSeconds=900)})
    assert result.error is None, result.error
    assert not result.find("Ingress") and not result.find("Route") and not result.find("BackendTLSPolicy")
    spec = result.one("HTTPRoute", "llama-stack")["spec"]
    assert spec["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "edge",
                                   "namespace": "gateways", "sectionName": "https"}]
    assert spec["hostnames"] == ["agents.example.com"]
    assert spec["rules"] == [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                              "backendRefs": [{"name": "llama-stack", "port": 8321}],
                              "timeouts": {"request": "900s", "backendRequest": "900s"}}]
    if not preview:
        assert result.outputs["llamaStackUrl"] == "https://agents.example.com"


def test_an_httproute_on_the_gateway_of_its_own_namespace_names_no_namespace_or_listener(preview):
    result = run_variant("dev", preview=preview, secrets=KEY, platform="kubernetes",
                         llamaStack={"route": {"kind": "HTTPRoute", "host": "a.example.com",
                                               "gateway": {"name": "edge"}}})
    assert result.error is None, result.error
    assert result.one("HTTPRoute", "llama-stack")["spec"]["parentRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "edge"}]


def test_a_server_serving_tls_behind_an_httproute_is_verified_by_its_service_name(preview):
    result = run_variant("dev", preview=preview, platform="kubernetes",
                         llamaStack={**OGX, "tls": {"secretName": "ls-cert"},
                                     "route": _http_route(backendCaConfigMap="ls-ca")})
    assert result.error is None, result.error
    policy = result.one("BackendTLSPolicy", "llama-stack")
    assert policy["spec"] == {
        "targetRefs": [{"group": "", "kind": "Service", "name": "llama-stack"}],
        "validation": {"caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": "ls-ca"}],
                       "hostname": "llama-stack.llama-stack.svc.cluster.local"}}


def test_the_mcp_servers_httproute_carries_the_deliberate_exposure_marker_and_its_url_the_mcp_path(preview):
    result = run_variant("dev", preview=preview, secrets=KEY, platform="kubernetes",
                         llamaStack={"route": {"host": "a.example.com"}},
                         mcpServer={"rbac": {"preset": "read-only"},
                                    "route": {"enabled": True, "allowUnauthenticated": True,
                                              **_http_route(host="mcp.example.com")}})
    assert result.error is None, result.error
    route = result.one("HTTPRoute", "kubernetes-mcp-server")
    assert _ours(route["metadata"]) == {"llamastack-mcp.io/allow-unauthenticated": "true"}
    assert route["spec"]["rules"][0]["backendRefs"] == [{"name": "kubernetes-mcp-server", "port": 8080}]
    assert "timeouts" not in route["spec"]["rules"][0]
    if not preview:
        assert result.outputs["mcpServerRouteUrl"] == "https://mcp.example.com/mcp"


def test_the_policy_gate_refuses_an_mcp_httproute_without_oauth_or_the_opt_in():
    from policy.rules import mcp_not_exposed_without_oauth
    result = run_variant("dev", secrets=KEY, platform="kubernetes", llamaStack={"route": {"host": "a.example.com"}},
                         mcpServer={"rbac": {"preset": "read-only"},
                                    "route": {"enabled": True, "allowUnauthenticated": True,
                                              **_http_route(host="mcp.example.com")}})
    manifests = result.manifests()
    assert mcp_not_exposed_without_oauth(manifests) == []
    for m in manifests:
        if m["kind"] == "HTTPRoute":
            m["metadata"].pop("annotations")
    assert mcp_not_exposed_without_oauth(manifests) == [
        "HTTPRoute llama-stack/kubernetes-mcp-server exposes the MCP server, which does not require OAuth (set "
        "mcpServer.oauth, or mcpServer.route.allowUnauthenticated: true to accept the risk)"]


@pytest.mark.parametrize("controller, tls, expected", [
    ("ingress-nginx", False, {"nginx.ingress.kubernetes.io/proxy-read-timeout": "600",
                              "nginx.ingress.kubernetes.io/proxy-send-timeout": "600"}),
    ("ingress-nginx", True, {"nginx.ingress.kubernetes.io/proxy-read-timeout": "600",
                             "nginx.ingress.kubernetes.io/proxy-send-timeout": "600",
                             "nginx.ingress.kubernetes.io/backend-protocol": "HTTPS"}),
    ("traefik", False, {}),
    ("traefik", True, {"traefik.ingress.kubernetes.io/service.serversscheme": "https",
                       "traefik.ingress.kubernetes.io/service.serverstransport": "llama-stack-ls@kubernetescrd"}),
    ("other", False, {}),
    ("other", True, {}),
])
def test_an_ingress_speaks_only_its_own_controllers_annotations(controller, tls, expected, preview):
    route = {"host": "a.example.com", "timeoutSeconds": 600, "ingressController": controller}
    if controller == "traefik" and tls:
        route["annotations"] = {"traefik.ingress.kubernetes.io/service.serverstransport": "llama-stack-ls@kubernetescrd"}
    stack = {**OGX, "tls": {"secretName": "ls-cert"}} if tls else {}
    result = run_variant("dev", preview=preview, secrets=KEY, platform="kubernetes", llamaStack={**stack, "route": route})
    assert result.error is None, result.error
    assert _ours(result.one("Ingress", "llama-stack")["metadata"]) == expected


def test_a_routes_own_annotations_join_the_programs(preview):
    result = run_variant("dev", preview=preview, llamaStack={"route": {"annotations": {"example.com/team": "a"}}})
    assert result.error is None, result.error
    assert _ours(result.one("Route", "llama-stack")["metadata"]) == {
        "haproxy.router.openshift.io/timeout": "300s", "example.com/team": "a"}


def test_every_annotation_the_program_sets_on_a_way_in_is_one_the_settings_refuse_to_take():
    """route.annotations may not override what exposure.py writes: the two lists stay in step."""
    from components import exposure
    from components.settings import Exposure
    from components.settings.workload import ROUTE_ANNOTATION_PREFIXES
    from components.workload import App

    app = App("llama-stack", "llama-stack", "agent-api", 8321)
    backend = exposure.Backend(timeout_seconds=600, tls=True, marker={"llamastack-mcp.io/allow-unauthenticated": "true"},
                               ca_config_map="ca")
    written = set()
    for kind in ("Route", "Ingress", "HTTPRoute"):
        for controller in ("ingress-nginx", "traefik", "other"):
            way_in = Exposure(enabled=True, kind=kind, host="a.example.com", ingress_controller=controller,
                              gateway={"name": "edge"})
            written |= {k for m in exposure.objects(app, "openshift", way_in, backend)
                        for k in (m["metadata"].get("annotations") or {})}
    assert len(written) >= 6, written
    assert [k for k in written if not k.startswith(ROUTE_ANNOTATION_PREFIXES)] == []


# ------------------------------------------------------------------ refusals, each named as written

@pytest.mark.parametrize("platform, route, fragments", [
    ("kubernetes", {"kind": "Route"},
     ["llamaStack.route.kind = \"Route\": exists only on platform: openshift"]),
    ("kubernetes", {"kind": "HTTPRoute", "gateway": {"name": "edge"}},
     ["llamaStack.route.host = \"\": is required for an HTTPRoute"]),
    ("openshift", {"kind": "HTTPRoute", "host": "a.example.com"},
     ["llamaStack.route.gateway.name = \"\": is required with kind: HTTPRoute"]),
    ("kubernetes", {"kind": "HTTPRoute", "host": "a.example.com", "gateway": {"name": "edge"},
                    "ingressClassName": "nginx", "tlsSecretName": "t", "ingressController": "traefik"},
     ['llamaStack.route.ingressClassName = "nginx": applies to an Ingress; this stack exposes the server with an '
      'HTTPRoute', 'llamaStack.route.tlsSecretName = "t"', 'llamaStack.route.ingressController = "traefik"']),
    ("kubernetes", {"host": "a.example.com", "gateway": {"name": "edge", "namespace": "gw", "sectionName": "https"}},
     ['llamaStack.route.gateway.name = "edge": applies to an HTTPRoute (kind: HTTPRoute); an Ingress',
      'llamaStack.route.gateway.namespace = "gw"', 'llamaStack.route.gateway.sectionName = "https"']),
    ("openshift", {"ingressController": "other"},
     ['llamaStack.route.ingressController = "other": applies to an Ingress; this stack exposes the server with a '
      "Route (OpenShift's router)"]),
    ("kubernetes", {"host": "a.example.com", "backendCaConfigMap": "ca"},
     ['llamaStack.route.backendCaConfigMap = "ca": applies to an HTTPRoute in front of a server that serves TLS']),
    ("kubernetes", {"host": "a.example.com", "annotations": {"nginx.ingress.kubernetes.io/proxy-read-timeout": "5"}},
     ["llamaStack.route.annotations", "nginx.ingress.kubernetes.io/proxy-read-timeout is set by the program"]),
    ("kubernetes", {"host": "a.example.com", "annotations": {"llamastack-mcp.io/allow-unauthenticated": "true"}},
     ["llamastack-mcp.io/allow-unauthenticated is set by the program"]),
    ("kubernetes", {"kind": "HTTPRoute", "host": "a.example.com", "gateway": {"name": "Edge_1", "sectionName": "-x"}},
     ["llamaStack.route.gateway.name", "llamaStack.route.gateway.sectionName"]),
    ("kubernetes", {"kind": "Gateway"}, ["llamaStack.route.kind"]),
])
def test_a_way_in_that_cannot_work_is_refused_naming_each_setting(platform, route, fragments):
    refused(run_variant("dev", secrets=KEY, platform=platform, llamaStack={"route": route}), *fragments)


def test_a_tls_server_behind_an_httproute_without_its_ca_is_refused():
    refused(run_variant("dev", platform="kubernetes", llamaStack={**OGX, "tls": {"secretName": "ls-cert"},
                                                                  "route": _http_route()}),
            'llamaStack.route.backendCaConfigMap = "": is required with kind: HTTPRoute when the server serves TLS')


def test_a_tls_server_behind_traefik_without_a_servers_transport_is_refused():
    refused(run_variant("dev", platform="kubernetes",
                        llamaStack={**OGX, "tls": {"secretName": "ls-cert"},
                                    "route": {"host": "a.example.com", "ingressController": "traefik"}}),
            "llamaStack.route.annotations = {}: needs traefik.ingress.kubernetes.io/service.serverstransport")


def test_the_mcp_servers_way_in_is_checked_by_the_same_rules():
    refused(run_variant("dev", secrets=KEY, platform="kubernetes", llamaStack={"route": {"host": "a.example.com"}},
                        mcpServer={"route": {"enabled": True, "allowUnauthenticated": True, "kind": "HTTPRoute",
                                             "host": "mcp.example.com"}}),
            'mcpServer.route.gateway.name = "": is required with kind: HTTPRoute')
