"""Every toolset the settings offer, on a real node: dev with all eight, Kiali's URL and its CA (a ConfigMap the
pod reads as a file), Helm's allowed registries. The MCP server's pod becomes Ready by its probes and lists a tool
of each toolset through the API server's port-forward. (Each toolset alone, with the real binary as a process:
tests/servers/test_mcp_toolsets.py.)"""

from __future__ import annotations

import pytest

from support import MCP, NS, namespace_gone
from support.real_node import dev_with, pods, port_forward
from testbed.e2e.servers import self_signed_cert, tool_names

ONE_TOOL = {"config": "configuration_view", "helm": "helm_install", "kcp": "kcp_workspaces_list",
            "kiali": "kiali_get_mesh_status", "kubevirt": "vm_create", "netobserv": "netobserv_list_flows",
            "tekton": "tekton_pipeline_start", "core": "pods_list"}
CA_FILE = "/etc/kubernetes-mcp-server-kiali-ca/ca.crt"


@pytest.fixture(scope="module")
def every_toolset(real, tmp_path_factory):
    """dev, through `make up` on the local cluster, with every toolset; Kiali's CA put in place first."""
    namespace_gone(real)
    work = tmp_path_factory.mktemp("real-toolsets-ca")
    self_signed_cert(work / "ca")
    real.kubectl("create", "namespace", NS)
    real.kubectl("create", "configmap", "kiali-ca", "-n", NS, f"--from-file=ca.crt={work / 'ca' / 'tls.crt'}")
    yield from dev_with(real, tmp_path_factory, "real-toolsets", mcpServer={
        "toolsets": sorted(ONE_TOOL), "toolsetConfigs": {
            "kiali": {"url": "https://kiali.istio-system.svc:20001", "caConfigMap": "kiali-ca"},
            "helm": {"allowedRegistries": ["oci://registry.example.com"]}}})


def test_the_mcp_server_with_every_toolset_is_ready_and_lists_a_tool_of_each(real, every_toolset):
    (pod,) = pods(real, MCP)
    (status,) = pod["status"]["containerStatuses"]
    assert status["ready"] and status["restartCount"] == 0, status
    with port_forward(real, MCP, 8080) as url:
        names = tool_names(f"{url}/mcp")
    assert {tool for tool in ONE_TOOL.values()} <= names, sorted(set(ONE_TOOL.values()) - names)
    # The server checks at start that certificate_authority is a readable file (tests/servers/test_mcp_toolsets.py):
    # Ready with no restart is the mounted ConfigMap, at the path the config names.
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "kiali-ca")
    assert volume["configMap"]["name"] == "kiali-ca"
    config = real.get("configmap", "-n", NS, f"{MCP}-config")["data"]["config.toml"]
    assert f'certificate_authority = "{CA_FILE}"' in config
