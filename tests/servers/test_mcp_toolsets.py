"""Every toolset the settings offer, started by the real binary (kubernetes-mcp-server v0.0.67) with the config and
arguments the program renders: it serves /healthz and lists that toolset's tools. And what the settings refuse, the
binary refuses too. Every request goes to 127.0.0.1."""

from __future__ import annotations

import subprocess

import pytest

from components.settings.mcp_server import MCP_TOOLSETS
from testbed.e2e.servers import deps, processes, start_mcp, tool_names
from support import run_variant

# A tool of each toolset, as v0.0.67 names them.
ONE_TOOL = {"config": "configuration_view", "helm": "helm_install", "kcp": "kcp_workspaces_list",
            "kiali": "kiali_get_mesh_status", "kubevirt": "vm_create", "netobserv": "netobserv_list_flows",
            "tekton": "tekton_pipeline_start"}
CONFIGS = {"kiali": {"kiali": {"url": "https://kiali.istio-system.svc:20001", "caConfigMap": "kiali-ca"}},
           "helm": {"helm": {"allowedRegistries": ["oci://registry.example.com"]}}}


@pytest.fixture(scope="module")
def core_tools() -> set[str]:
    with processes() as procs:
        return tool_names(start_mcp(run_variant("dev", mcpServer={"toolsets": ["core"]}), procs))


def test_every_toolset_offered_is_started_here():
    assert set(ONE_TOOL) | {"core"} == set(MCP_TOOLSETS)


@pytest.mark.parametrize("toolset", [t for t in MCP_TOOLSETS if t != "core"])
def test_each_toolset_starts_and_offers_its_tools(toolset, core_tools):
    result = run_variant("dev", mcpServer={"toolsets": ["core", toolset], "toolsetConfigs": CONFIGS.get(toolset, {})})
    assert result.error is None, result.error
    with processes() as procs:
        names = tool_names(start_mcp(result, procs))  # waits for /healthz
    assert core_tools <= names and ONE_TOOL[toolset] in names - core_tools, sorted(names - core_tools)


@pytest.mark.parametrize("config, error", [
    ('[toolset_configs.kiali]\nurl = "https://kiali.example"\n', "certificate_authority is required for https"),
    ('[toolset_configs.kiali]\nurl = "https://kiali.example"\ncertificate_authority = "/nonexistent/ca.crt"\n',
     "certificate_authority must be a valid file path"),
    ('[toolset_configs.helm]\nallowed_registries = ["registry.example.com"]\n', "must be a valid URL with scheme and host"),
])
def test_what_the_settings_refuse_the_binary_refuses_at_start(config, error, tmp_path):
    binary = deps("mcp", MCP_VERSION="0.0.67")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
                          "users: [{name: u, user: {}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
                          "current-context: c\n")
    (tmp_path / "config.toml").write_text('toolsets = ["core", "kiali", "helm"]\n' + config)
    proc = subprocess.run([str(binary), "--port", "0", "--config", str(tmp_path / "config.toml"), "--kubeconfig",
                           str(kubeconfig)], capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and error in proc.stderr + proc.stdout, proc.stderr[-2000:]
