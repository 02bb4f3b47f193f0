"""The MCP server's own guardrails, held against the real binary (kubernetes-mcp-server v0.0.67) run with
exactly the config and arguments the program renders: tool filters in `tools/list`, the request-size
limit, the header timeout and the oldest TLS version it accepts. Every request goes to 127.0.0.1.
(A denied kind needs an API server to be refused in front of: tests/cluster/test_cluster_agent.py.)"""

from __future__ import annotations

import socket
import ssl
import time
import urllib.parse

import pytest

from testbed.e2e.servers import mcp_ca_file, processes, start_mcp, tool_names
from ops import verify
from support import TEST_SECRETS, run_variant

PW = {"postgresPassword": TEST_SECRETS["postgresPassword"]}


@pytest.fixture
def procs():
    with processes() as started:
        yield started


def test_disabled_tools_are_gone_from_tools_list(procs):
    everything = tool_names(start_mcp(run_variant("dev"), procs))
    assert {"pods_exec", "resources_delete", "pods_list"} <= everything
    with processes() as other:
        filtered = tool_names(start_mcp(run_variant("dev", mcpServer={"disabledTools": ["pods_exec", "resources_delete"]}),
                                        other))
    assert filtered == everything - {"pods_exec", "resources_delete"}


def test_enabled_tools_is_an_allow_list(procs):
    names = tool_names(start_mcp(run_variant("dev", mcpServer={"enabledTools": ["pods_list", "events_list"]}), procs))
    assert names == {"pods_list", "events_list"}, names


def test_a_body_over_max_body_bytes_is_refused_before_any_tool_runs(procs):
    url = start_mcp(run_variant("dev", mcpServer={"http": {"maxBodyBytes": 4096}}), procs)
    small = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    big = {**small, "params": {"_meta": {"padding": "x" * 8192}}}
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    assert verify.http("POST", url, small, headers)[0] == 200
    status, text, _ = verify.http("POST", url, big, headers)
    assert status == 413 and "exceeds 4096 bytes" in text, (status, text)


def test_a_client_that_never_finishes_its_headers_is_cut_off(procs):
    url = start_mcp(run_variant("dev", mcpServer={"http": {"readHeaderTimeoutSeconds": 1}}), procs)
    port = urllib.parse.urlsplit(url).port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line
        started = time.monotonic()
        answer = conn.recv(4096)  # the server answers (408) or closes: either way it stops waiting
        waited = time.monotonic() - started
    assert waited < 5, f"held the connection {waited:.1f} s with a 1 s header timeout"
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:100]


@pytest.mark.parametrize("minimum", ["1.2", "1.3"])
def test_a_client_below_the_minimum_tls_version_is_refused(procs, minimum):
    url = start_mcp(run_variant("prod", secrets=PW, mcpServer={"tls": {"minVersion": minimum}}), procs)
    port = urllib.parse.urlsplit(url).port

    def handshake(version: ssl.TLSVersion) -> str:
        context = ssl.create_default_context(cafile=str(mcp_ca_file(procs)))
        context.minimum_version = context.maximum_version = version
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            try:
                with context.wrap_socket(raw, server_hostname="localhost") as tls:
                    return tls.version()
            except ssl.SSLError as err:
                return f"refused: {err.reason}"

    assert handshake(ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
    older = handshake(ssl.TLSVersion.TLSv1_2)
    if minimum == "1.3":
        assert older.startswith("refused"), older
    else:
        assert older == "TLSv1.2", older


def test_a_drop_in_from_the_config_secret_is_read_after_the_rendered_config(procs, tmp_path):
    # The Secret's keys as the pod mounts them; a key there replaces the rendered one.
    run = run_variant("dev", mcpServer={"configSecretName": "mcp-extra", "disabledTools": ["pods_exec"]})
    drop_ins = tmp_path / "drop-ins"
    drop_ins.mkdir()
    (drop_ins / "50-extra.toml").write_text('disabled_tools = ["pods_exec", "pods_run"]\n')
    names = tool_names(start_mcp(run, procs, config_dir=drop_ins))
    assert "pods_list" in names and not {"pods_exec", "pods_run"} & names, names
