"""llamaStack.trust and llamaStack.proxy (what Llama Stack trusts and goes through to reach the outside), and
<server>.extraEnv / extraVolumes: rendered as set, refused when they would leak a secret or collide with what the
program itself puts in the pod. On real pods: tests/cluster/real_node/test_dev_outbound.py."""

from __future__ import annotations

import pytest

from components.settings.extras import PROXY_ENV, RESERVED
from support import refused, run_variant
from support.variants import VARIANTS

LLAMA, MCP = "llama-stack", "kubernetes-mcp-server"


def pod(result, name=LLAMA) -> dict:
    return result.one("Deployment", name)["spec"]["template"]["spec"]


def env(result, name=LLAMA) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in pod(result, name)["containers"][0].get("env", [])}


def test_a_ca_bundle_joins_the_images_cas_in_the_one_bundle_both_clients_read(preview):
    result = run_variant(preview=preview, llamaStack={"trust": {"caBundles": [{"configMap": "corp-ca",
                                                                                "key": "ca.crt"}]}})
    assert result.error is None, result.error
    spec = pod(result)
    (init,) = spec["initContainers"]
    assert init["command"][3:] == ["/etc/llama-stack/trust/ca-bundle.crt", "/etc/llama-stack/extra-ca/0-corp-ca.crt"]
    extra = next(v for v in spec["volumes"] if v["name"] == "extra-ca")
    assert extra["projected"]["sources"] == [{"configMap": {"name": "corp-ca", "items": [
        {"key": "ca.crt", "path": "0-corp-ca.crt"}]}}]
    assert env(result)["SSL_CERT_FILE"] == env(result)["REQUESTS_CA_BUNDLE"] == "/etc/llama-stack/trust/ca-bundle.crt"


def test_openshifts_trusted_bundle_is_a_configmap_the_platform_fills(preview):
    result = run_variant(preview=preview, llamaStack={"trust": {"openshiftTrustedCaBundle": True}})
    assert result.error is None, result.error
    config_map = result.one("ConfigMap", "llama-stack-trusted-ca")
    assert config_map["metadata"]["labels"]["config.openshift.io/inject-trusted-cabundle"] == "true"
    assert "data" not in config_map, "OpenShift writes the bundle; the program owns no key of it"
    sources = next(v for v in pod(result)["volumes"] if v["name"] == "extra-ca")["projected"]["sources"]
    assert sources == [{"configMap": {"name": "llama-stack-trusted-ca", "items": [
        {"key": "ca-bundle.crt", "path": "openshift-trusted.crt"}]}}]


def test_without_trust_settings_nothing_changes(dev):
    assert "REQUESTS_CA_BUNDLE" not in env(dev) and "initContainers" not in pod(dev)
    assert not any(v["name"] == "extra-ca" for v in pod(dev)["volumes"])


def test_the_proxy_keeps_the_clusters_own_names_direct(preview):
    result = run_variant(preview=preview, llamaStack={"proxy": {
        "httpsProxy": "http://proxy.corp.example.com:3128", "noProxy": [".corp.example.com", "10.0.0.0/8"]}})
    assert result.error is None, result.error
    values = env(result)
    assert values["HTTPS_PROXY"] == values["https_proxy"] == "http://proxy.corp.example.com:3128"
    assert "HTTP_PROXY" not in values
    direct = values["NO_PROXY"].split(",")
    assert direct == values["no_proxy"].split(",")
    assert {".svc", ".cluster.local", "localhost", "127.0.0.1", "kubernetes-mcp-server.llama-stack.svc.cluster.local",
            ".corp.example.com", "10.0.0.0/8"} == set(direct)
    assert values["KUBERNETES_MCP_URL"].split("//")[1].split(":")[0] in direct, "the MCP server is reached directly"


def test_extra_env_and_volumes_on_both_servers(preview):
    result = run_variant(preview=preview, llamaStack={
        "extraEnv": [{"name": "VENDOR_API_TOKEN", "secretKeyRef": {"name": "vendor", "key": "token"}},
                     {"name": "REGION", "configMapKeyRef": {"name": "site", "key": "region"}}],
        "extraVolumes": [{"name": "vendor", "mountPath": "/var/run/vendor", "secret": "vendor"},
                         {"name": "scratch", "mountPath": "/scratch", "emptyDir": True}]},
        mcpServer={"extraEnv": [{"name": "GOMAXPROCS", "value": "2"}]})
    assert result.error is None, result.error
    values = env(result)
    assert values["VENDOR_API_TOKEN"] == {"secretKeyRef": {"name": "vendor", "key": "token"}}
    assert values["REGION"] == {"configMapKeyRef": {"name": "site", "key": "region"}}
    spec = pod(result)
    assert {"name": "vendor", "secret": {"secretName": "vendor"}} in spec["volumes"]
    mounts = spec["containers"][0]["volumeMounts"]
    assert {"name": "vendor", "mountPath": "/var/run/vendor", "readOnly": True} in mounts
    assert {"name": "scratch", "mountPath": "/scratch"} in mounts
    assert env(result, MCP)["GOMAXPROCS"] == "2"


@pytest.mark.parametrize("settings, fragments", [
    ({"llamaStack": {"extraEnv": [{"name": "VENDOR_API_TOKEN", "value": "sk-123"}]}},
     ['llamaStack.extraEnv[0].value = "(hidden)": VENDOR_API_TOKEN looks like a secret']),
    ({"llamaStack": {"extraEnv": [{"name": "SSL_CERT_FILE", "value": "/x"}]}},
     ['llamaStack.extraEnv[0].name = "SSL_CERT_FILE": is set by the program itself', "use llamaStack.trust"]),
    ({"llamaStack": {"extraEnv": [{"name": "OPENAI_API_KEY", "value": "sk-1"}]}},
     ['llamaStack.extraEnv[0].value = "(hidden)": OPENAI_API_KEY looks like a secret']),
    ({"llamaStack": {"proxy": {"noProxy": [".corp.example.com"]}}},
     ['llamaStack.proxy.noProxy = [".corp.example.com"]: has no effect without httpProxy or httpsProxy']),
    ({"llamaStack": {"extraEnv": [{"name": "OTEL_SERVICE_NAME", "value": "x"}]}},
     ['llamaStack.extraEnv[0].name = "OTEL_SERVICE_NAME": is set by the program itself']),
    ({"llamaStack": {"extraEnv": [{"name": "A", "value": "1", "configMapKeyRef": {"name": "c", "key": "k"}}]}},
     ['llamaStack.extraEnv[0].name = "A": needs exactly one of value, secretKeyRef, configMapKeyRef']),
    ({"llamaStack": {"extraEnv": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}},
     ['llamaStack.extraEnv[1].name = "A": is listed twice']),
    ({"mcpServer": {"extraVolumes": [{"name": "config", "mountPath": "/opt/x", "emptyDir": True}]}},
     ['mcpServer.extraVolumes[0].name = "config": is a volume the program uses']),
    ({"llamaStack": {"extraVolumes": [{"name": "x", "mountPath": "/etc/llama-stack/x", "emptyDir": True}]}},
     ['llamaStack.extraVolumes[0].mountPath = "/etc/llama-stack/x": overlaps where the program mounts']),
    ({"llamaStack": {"extraVolumes": [{"name": "x", "mountPath": "/etc", "emptyDir": True}]}},
     ['llamaStack.extraVolumes[0].mountPath = "/etc": overlaps']),
    ({"llamaStack": {"extraVolumes": [{"name": "x", "mountPath": "relative", "emptyDir": True}]}},
     ['llamaStack.extraVolumes[0].mountPath = "relative": must be an absolute path']),
    ({"llamaStack": {"extraVolumes": [{"name": "x", "mountPath": "/x", "secret": "s", "emptyDir": True}]}},
     ['llamaStack.extraVolumes[0].name = "x": needs exactly one of configMap, secret, emptyDir (has secret, '
      'emptyDir)']),
    ({"llamaStack": {"proxy": {"httpsProxy": "http://user:pw@proxy:3128"}}},
     ['llamaStack.proxy.httpsProxy = "http://user:pw@proxy:3128": must be http(s)://host[:port], without '
      'credentials']),
    ({"llamaStack": {"proxy": {"httpsProxy": "http://proxy:3128"},
                     "extraEnv": [{"name": "NO_PROXY", "value": ".x"}]}},
     ['llamaStack.extraEnv[0].name = "NO_PROXY": is set by the program itself']),
    ({"platform": "kubernetes", "llamaStack": {"trust": {"openshiftTrustedCaBundle": True},
                                               "route": {"host": "agent.example.com"}}},
     ["llamaStack.trust.openshiftTrustedCaBundle = true: only OpenShift fills that bundle"]),
    ({"llamaStack": {"trust": {"caBundles": [{"configMap": "Not_A_Name"}]}}},
     ["llamaStack.trust.caBundles[0].configMap"]),
])
def test_what_would_leak_a_secret_or_collide_with_the_program_is_refused(settings, fragments):
    refused(run_variant(**settings), *fragments)


def test_a_proxy_needing_credentials_goes_through_extra_env_from_a_secret():
    result = run_variant(llamaStack={"extraEnv": [
        {"name": "HTTPS_PROXY", "secretKeyRef": {"name": "proxy", "key": "url"}},
        {"name": "NO_PROXY", "value": ".svc,.cluster.local"}]})
    assert result.error is None, result.error
    assert env(result)["HTTPS_PROXY"] == {"secretKeyRef": {"name": "proxy", "key": "url"}}
    assert PROXY_ENV >= {"HTTPS_PROXY", "NO_PROXY"}


@pytest.mark.parametrize("section, deployment", [("mcpServer", MCP), ("llamaStack", LLAMA)])
def test_the_reserved_names_cover_everything_the_program_puts_in_a_pod(section, deployment):
    """RESERVED (what extraEnv/extraVolumes may not touch) is kept in step with what every variant renders."""
    reserved = RESERVED[section]
    extra = {n for v in VARIANTS for s in (v.overrides.get(section, {}),)
             for n in [e["name"] for e in s.get("extraEnv", [])] + [x["name"] for x in s.get("extraVolumes", [])]}
    paths = {x["mountPath"] for v in VARIANTS for x in v.overrides.get(section, {}).get("extraVolumes", [])}
    for variant in VARIANTS:
        result = run_variant(variant.base, secrets=variant.secrets, **variant.overrides)
        assert result.error is None, (variant.id, result.error)
        spec = pod(result, deployment)
        for container in spec["containers"] + spec.get("initContainers", []):
            for e in container.get("env", []):
                assert e["name"] in extra or reserved.env_taken(e["name"]) or e["name"] in PROXY_ENV, \
                    (variant.id, e["name"])
            for m in container.get("volumeMounts", []):
                assert m["mountPath"] in paths or reserved.path_taken(m["mountPath"]), (variant.id, m["mountPath"])
        for v in spec["volumes"]:
            assert v["name"] in extra or v["name"] in reserved.volumes, (variant.id, v["name"])


def test_a_name_merely_containing_a_secret_word_keeps_its_plain_value():
    result = run_variant(llamaStack={"extraEnv": [{"name": "MAX_TOKENS", "value": "4096"},
                                                  {"name": "TOKENIZERS_PARALLELISM", "value": "false"},
                                                  {"name": "KEYCLOAK_URL", "value": "https://sso.example.com"}]})
    assert result.error is None, result.error
    assert env(result)["MAX_TOKENS"] == "4096"
