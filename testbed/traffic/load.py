"""Bounded loads against the servers' Services, every outcome kept.

- `McpLoad`: real MCP tool calls, each one JSON-RPC `tools/call` POSTed to `/mcp` (the servers run
  stateless, so no session is set up first) on a new connection, so kube-proxy spreads the calls
  over every ready pod, new ones included, as it would spread Llama Stack's.
- `AgentLoad`: whole agent turns through Llama Stack's Responses API (`make ask`'s client), each
  making one MCP tool call from the Llama Stack pod.

A load stops by itself at `max_calls` or `seconds`, whichever comes first; a call that does not
answer in `timeout` counts as failed.
"""

from __future__ import annotations

import ipaddress
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import quantiles
from typing import Optional
from urllib.parse import urlsplit

import httpx

from testbed.localcluster.facts import POD_CIDR, SERVICE_CIDR

# The only addresses a load may go to: loopback and the real node's own ranges (testbed/localcluster/node/).
LOCAL_RANGES = tuple(ipaddress.ip_network(n) for n in ("127.0.0.0/8", POD_CIDR, SERVICE_CIDR))


def local_only(url: str) -> str:
    """The URL, if its host is an address on this machine; refused before anything is sent otherwise."""
    host = urlsplit(url).hostname or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{url}: a load names its target by address (a name could resolve anywhere)") from None
    if not any(address in network for network in LOCAL_RANGES):
        raise ValueError(f"{url}: {address} is not loopback or the node's own ranges "
                         f"({', '.join(map(str, LOCAL_RANGES))})")
    return url


@dataclass(frozen=True)
class Call:
    started: float  # seconds since the load began
    seconds: float
    ok: bool
    detail: str = ""


@dataclass
class Result:
    calls: list[Call] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[Call]:
        return [c for c in self.calls if not c.ok]

    @property
    def rate(self) -> float:
        return len(self.calls) / self.seconds if self.seconds else 0.0

    def latency(self, q: int) -> float:
        """The q-th percentile of the answered calls' latency, in seconds."""
        times = sorted(c.seconds for c in self.calls if c.ok)
        if len(times) < 2:
            return times[0] if times else 0.0
        return quantiles(times, n=100, method="inclusive")[q - 1]

    def summary(self) -> str:
        return (f"{len(self.calls)} calls in {self.seconds:.0f} s ({self.rate:.1f}/s), {len(self.failed)} failed; "
                f"latency p50 {self.latency(50) * 1000:.0f} ms, p95 {self.latency(95) * 1000:.0f} ms")


class BoundedLoad:
    """`workers` callers, each calling in a loop, at most one call every `pace` seconds."""

    def __init__(self, *, workers: int = 4, pace: float = 0.0, max_calls: int = 20_000, seconds: float = 120.0,
                 timeout: float = 10.0):
        self.workers, self.pace, self.max_calls, self.seconds, self.timeout = workers, pace, max_calls, seconds, timeout
        self.verify: ssl.SSLContext | bool = False
        self.result = Result()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._t0 = 0.0
        self._started = 0

    def _one(self, client: httpx.Client) -> Call:
        raise NotImplementedError

    def _worker(self) -> None:
        with httpx.Client(verify=self.verify, timeout=self.timeout) as client:
            while not self._stop.is_set():
                with self._lock:  # a call is counted when it starts: never more than max_calls
                    if self._started >= self.max_calls or time.monotonic() - self._t0 >= self.seconds:
                        return
                    self._started += 1
                call = self._one(client)
                with self._lock:
                    self.result.calls.append(call)
                if self.pace:
                    self._stop.wait(max(0.0, self.pace - call.seconds))

    def start(self):
        self._t0 = time.monotonic()
        self._threads = [threading.Thread(target=self._worker, daemon=True) for _ in range(self.workers)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> Result:
        """Ends the load now (or returns once it ended by itself) and gives what it saw."""
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)
        self.result.seconds = time.monotonic() - self._t0
        return self.result

    def wait(self) -> Result:
        """Waits for the load to end by its own bounds."""
        for thread in self._threads:
            thread.join(self.seconds + self.timeout + 5)
        return self.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class McpLoad(BoundedLoad):
    """Real tool calls: `tool` with `arguments`, as `token`'s owner (None: no Authorization)."""

    def __init__(self, url: str, *, token: Optional[str], tool: str, arguments: dict, ca: Optional[Path] = None,
                 server_name: Optional[str] = None, **bounds):
        super().__init__(**bounds)
        self.url = local_only(url)
        self.headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json",
                        "Connection": "close", **({"Authorization": f"Bearer {token}"} if token else {})}
        self.body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
        self.verify = ssl.create_default_context(cafile=str(ca)) if ca else False
        self.extensions = {"sni_hostname": server_name} if server_name else {}

    def _one(self, client: httpx.Client) -> Call:
        start = time.monotonic()
        try:
            response = client.post(self.url, headers=self.headers, json=self.body, extensions=self.extensions)
            detail = response.text
            ok = response.status_code == 200
            if ok:  # SSE messages: notifications (a log line, say), then the JSON-RPC answer to our id
                messages = [json.loads(line[5:]) for line in detail.splitlines() if line.startswith("data:")]
                answer = next(m for m in messages if m.get("id") == 1)
                ok = "result" in answer and not answer["result"].get("isError")
            detail = "" if ok else f"HTTP {response.status_code}: {detail[:200]}"
        except (httpx.HTTPError, StopIteration, ValueError) as error:
            ok, detail = False, f"{type(error).__name__}: {error}"
        return Call(start - self._t0, time.monotonic() - start, ok, detail)


class AgentLoad(BoundedLoad):
    """Agent turns through Llama Stack at `base` (make ask's client, ops/ask.py): each one model call
    and one MCP tool call, `server_url` naming the MCP server (the caller's token goes on to it)."""

    def __init__(self, base: str, *, token: str, prompt: str, model: str, server_url: Optional[str] = None,
                 **bounds):
        super().__init__(**bounds)
        self.base, self.token, self.prompt, self.model, self.server_url = local_only(base), token, prompt, model, server_url

    def _one(self, client: httpx.Client) -> Call:
        from ops import ask
        start = time.monotonic()
        try:
            turn = ask.agent_turn(self.base, self.token, self.prompt, self.server_url, False, True, model=self.model)
            ok = turn["calls"] == 1 and not turn["error"]
            detail = "" if ok else json.dumps(turn)[:300]
        except Exception as error:  # the client's own errors (connection reset, 5xx) are failed turns
            ok, detail = False, f"{type(error).__name__}: {error}"[:300]
        return Call(start - self._t0, time.monotonic() - start, ok, detail)
