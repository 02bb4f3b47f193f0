"""What a newcomer meets first: the Makefile's help and messages, render output, verify's report."""

from __future__ import annotations

import http.server
import os
import re
import subprocess
import threading

import pytest
import yaml

from support import ROOT
from ops import render, verify


def make(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env or os.environ.copy(), timeout=300)


def test_help_lists_every_documented_target():
    documented = set(re.findall(r"^([a-z0-9-]+):.*## ", (ROOT / "Makefile").read_text(), re.M))
    listed = {line.split()[0] for line in make("help").stdout.splitlines() if line.strip()}
    assert {"e2e", "e2e-deps", "toolchain", "cluster", "cluster-down", "test-cluster"} <= documented
    assert documented == listed


def test_promote_without_its_arguments_says_how_to_call_it():
    result = make("promote")
    assert result.returncode != 0
    assert "usage: make promote FROM=<stack> TO=<stack>" in result.stderr
    assert "argparse" not in result.stderr and "error: argument" not in result.stderr


def test_render_writes_multi_line_values_as_block_scalars(tmp_path):
    assert render.render("dev", tmp_path) == 0
    text = (tmp_path / "configmap.llama-stack.llama-stack-config.yaml").read_text()
    assert "config.yaml: |\n" in text and "\\n" not in text
    data = yaml.safe_load(text)["data"]["config.yaml"]
    assert yaml.safe_load(data)["connectors"][0]["connector_id"] == "kubernetes"


class _Unhealthy(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(503)
        self.end_headers()
        self.wfile.write(b'{"status": "Error"}')

    def log_message(self, *args):
        pass


@pytest.fixture
def unhealthy_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Unhealthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_verify_says_which_checks_it_skipped_and_needs_no_pulumi_for_urls(unhealthy_server, monkeypatch, capsys):
    monkeypatch.setenv("PATH", "/nonexistent")  # no pulumi, no kubectl
    code = verify.main(["--llama-stack-url", unhealthy_server, "--mcp-url", f"{unhealthy_server}/mcp"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL  Llama Stack health" in out and "the database is unreachable" in out
    assert "SKIP  MCP connector 'kubernetes' lists tools through Llama Stack: Llama Stack is not healthy" in out
    assert "SKIP  models through Llama Stack" in out
    assert "FAIL  MCP server health" in out and "SKIP  MCP server lists tools" in out
    assert "Pulumi CLI" not in out


def test_verify_with_only_a_llama_stack_url_does_not_ask_for_the_cli(unhealthy_server, monkeypatch, capsys):
    monkeypatch.setenv("PATH", "/nonexistent")
    code = verify.main(["--llama-stack-url", unhealthy_server])
    out = capsys.readouterr().out
    assert code == 1 and "Pulumi CLI" not in out
    assert "FAIL  MCP server health: kubectl is needed" in out
