"""How `make verify` / `make ask` reach a stack's real URL on the local cluster: connected at its edge's loopback
address (curl's --resolve), the name never looked up, the URL (so its Host header and port) kept. (Through the real
edge: tests/cluster/real_node/test_dev_edge.py.)"""

from __future__ import annotations

import asyncio
import http.server
import socket
import threading
import urllib.request

import httpx
import pytest

from ops import reach
from testbed.localcluster.facts import EDGE_ADDRESS as EDGE  # a loopback address of its own


class _Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = self.headers["Host"].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_) -> None:
        pass


@pytest.fixture
def port():
    server = http.server.ThreadingHTTPServer((EDGE, 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture
def lookups(monkeypatch):
    """Every name asked of the resolver; any other than the edge's address refused (no packet leaves)."""
    asked, real = [], socket.getaddrinfo

    def guarded(name, *args, **kwargs):
        asked.append(name.decode() if isinstance(name, bytes) else name)
        if asked[-1] != EDGE:
            raise socket.gaierror(f"the test refuses to look up {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    return asked


def test_a_url_is_connected_at_the_edge_with_its_own_host_and_port(port, lookups):
    before = socket.getaddrinfo
    with reach.connected_at(f"http://agents.edge.test:{port}", EDGE) as url:
        with urllib.request.urlopen(f"{url}/v1/health", timeout=5) as response:
            assert response.read() == f"agents.edge.test:{port}".encode()
    assert lookups == [EDGE] and socket.getaddrinfo is before


def test_an_async_client_asking_with_bytes_is_connected_there_too(port, lookups):
    """anyio (under httpx's async client and the MCP SDK) asks with bytes, and connects to the URL's own port."""
    async def get() -> str:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"http://agents.edge.test:{port}/v1/health", timeout=5)).text

    loop = asyncio.new_event_loop()  # not asyncio.run: it would leave the thread without the loop Pulumi's mocks use
    try:
        with reach.connected_at(f"http://agents.edge.test:{port}", EDGE):
            assert loop.run_until_complete(get()) == f"agents.edge.test:{port}"
    finally:
        loop.close()
    assert set(lookups) == {EDGE}


def test_other_names_are_left_alone(lookups):
    with reach.connected_at("https://agents.edge.test", EDGE):
        with pytest.raises(socket.gaierror):
            socket.getaddrinfo("mcp.edge.test", 443)
    assert lookups == ["mcp.edge.test"]


def test_the_edge_is_read_from_the_environment_the_local_cluster_sets(monkeypatch):
    monkeypatch.delenv(reach.EDGE_ENV, raising=False)
    assert reach.edge_address() is None
    assert reach.edge_serving("llama-stack", "llama-stack") is None  # no edge: nothing asked of kubectl
    monkeypatch.setenv(reach.EDGE_ENV, EDGE)
    assert reach.edge_address() == EDGE
