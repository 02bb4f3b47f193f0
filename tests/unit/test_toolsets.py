"""mcpServer.toolsets and toolsetConfigs: every offered toolset either gets what it needs or is refused before
anything registers, named as written. (The real v0.0.67 binary starts with each: tests/servers/test_mcp_toolsets.py.)"""

from __future__ import annotations

import tomllib

import pytest

from components.settings.mcp_server import MCP_TOOLSETS
from support import refused, run_variant

KIALI = {"url": "https://kiali.istio-system.svc:20001", "caConfigMap": "kiali-ca"}


def config(result) -> dict:
    return tomllib.loads(result.one("ConfigMap", "kubernetes-mcp-server-config")["data"]["config.toml"])


def pod(result) -> dict:
    return result.one("Deployment", "kubernetes-mcp-server")["spec"]["template"]["spec"]


def test_the_settings_offer_every_toolset_the_server_has():
    assert set(MCP_TOOLSETS) == {"config", "core", "helm", "kcp", "kiali", "kubevirt", "netobserv", "tekton"}


def test_kiali_gets_its_url_and_its_ca_as_a_file(preview):
    result = run_variant(preview=preview, mcpServer={"toolsets": ["core", "kiali"],
                                                    "toolsetConfigs": {"kiali": {**KIALI, "caKey": "service-ca.crt"}}})
    assert result.error is None, result.error
    kiali = config(result)["toolset_configs"]["kiali"]
    assert kiali == {"url": KIALI["url"], "certificate_authority": "/etc/kubernetes-mcp-server-kiali-ca/ca.crt"}
    spec = pod(result)
    volume = next(v for v in spec["volumes"] if v["name"] == "kiali-ca")
    assert volume["configMap"] == {"name": "kiali-ca", "items": [{"key": "service-ca.crt", "path": "ca.crt"}]}
    mount = next(m for m in spec["containers"][0]["volumeMounts"] if m["name"] == "kiali-ca")
    assert mount == {"name": "kiali-ca", "mountPath": "/etc/kubernetes-mcp-server-kiali-ca", "readOnly": True}
    assert "--toolsets" in spec["containers"][0]["args"] and "core,kiali" in spec["containers"][0]["args"]


def test_kiali_over_http_or_insecure_needs_no_ca(preview):
    for kiali in ({"url": "http://kiali.istio-system.svc:20001"},
                  {"url": "https://kiali.istio-system.svc:20001", "insecure": True}):
        result = run_variant(preview=preview, mcpServer={"toolsets": ["core", "kiali"],
                                                        "toolsetConfigs": {"kiali": kiali}})
        assert result.error is None, result.error
        rendered = config(result)["toolset_configs"]["kiali"]
        assert rendered == {"url": kiali["url"], **({"insecure": True} if "insecure" in kiali else {})}
        assert not any(v["name"] == "kiali-ca" for v in pod(result)["volumes"])


def test_helms_allowed_registries_reach_the_server(preview):
    registries = ["oci://registry.example.com", "https://charts.example.com/stable"]
    result = run_variant(preview=preview, mcpServer={"toolsets": ["core", "helm"],
                                                    "toolsetConfigs": {"helm": {"allowedRegistries": registries}}})
    assert result.error is None, result.error
    assert config(result)["toolset_configs"] == {"helm": {"allowed_registries": registries}}


def test_no_toolset_config_is_rendered_by_default(dev):
    assert "toolset_configs" not in config(dev)


def test_kiali_without_its_url_is_refused():
    refused(run_variant(mcpServer={"toolsets": ["core", "kiali"]}),
            'mcpServer.toolsetConfigs.kiali.url = "": required with the kiali toolset')


@pytest.mark.parametrize("kiali, fragments", [
    ({"url": "https://kiali.example"}, ['mcpServer.toolsetConfigs.kiali.caConfigMap = "": required for an https:// '
                                        'url']),
    ({**KIALI, "insecure": True}, ["mcpServer.toolsetConfigs.kiali.insecure = true: contradicts caConfigMap"]),
    ({"url": "http://kiali.example", "caConfigMap": "kiali-ca"},
     ['mcpServer.toolsetConfigs.kiali.caConfigMap = "kiali-ca": applies to an https:// url only']),
    ({"url": "ftp://kiali.example"}, ['mcpServer.toolsetConfigs.kiali.url = "ftp://kiali.example": must be an '
                                      'http:// or https:// URL']),
    ({**KIALI, "caKey": "a b"}, ["mcpServer.toolsetConfigs.kiali.caKey"]),
])
def test_a_kiali_whose_trust_is_undecided_or_contradictory_is_refused(kiali, fragments):
    refused(run_variant(mcpServer={"toolsets": ["core", "kiali"], "toolsetConfigs": {"kiali": kiali}}), *fragments)


def test_a_registry_that_is_not_a_url_is_refused_with_every_other_problem_at_once():
    error = refused(run_variant(mcpServer={"toolsets": ["core", "helm"], "toolsetConfigs": {"helm": {
        "allowedRegistries": ["registry.example.com", "oci://ok.example.com", "https://"]}}}),
        'mcpServer.toolsetConfigs.helm.allowedRegistries[0] = "registry.example.com": must be a URL with a scheme '
        'and a host', "allowedRegistries[2]")
    assert "allowedRegistries[1]" not in error


@pytest.mark.parametrize("configs, named", [
    ({"kiali": KIALI}, "mcpServer.toolsetConfigs.kiali"),
    ({"helm": {"allowedRegistries": ["oci://registry.example.com"]}}, "mcpServer.toolsetConfigs.helm.allowedRegistries"),
])
def test_a_config_for_a_toolset_not_offered_is_refused(configs, named):
    refused(run_variant(mcpServer={"toolsets": ["core"], "toolsetConfigs": configs}),
            named, "configures a toolset mcpServer.toolsets does not offer")
