#!/usr/bin/env python3
"""Measure the real servers for sizing: resident memory idle and under load, and CPU per request.

    make measure

Starts each server exactly as the e2e tests do (testbed/e2e/servers.py, from the
rendered stacks), then:
  - MCP server (prod's read-only, stateless args): memory idle, then a sustained
    `tools/list` load from several client threads; requests per CPU-second.
  - Llama Stack and OGX at their pinned versions (dev's SQLite config): memory idle after
    start, then while serving /v1/health and the connector's tool listing.
Memory is the resident set of the server's whole process group, sampled
every 100 ms. Loopback only; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]

from ops import offline
from ops import verify
from testbed.e2e.servers import OGX, PINS, deps, processes, start_llama_stack, start_mcp

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def group_pids(sid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid:  # field 6 (session id), counted after the command name
                pids.append(int(entry))
    return pids


def rss_bytes(sid: int) -> int:
    total = 0
    for pid in group_pids(sid):
        try:
            total += int(open(f"/proc/{pid}/statm").read().split()[1]) * PAGE
        except OSError:
            pass
    return total


def cpu_seconds(sid: int) -> float:
    total = 0
    for pid in group_pids(sid):
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / TICKS


class Sampler:
    """Peak resident memory of a process group while a block runs."""

    def __init__(self, sid: int) -> None:
        self.sid, self.peak, self._stop = sid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.sid))
            time.sleep(0.1)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def load(request: Callable[[], None], seconds: float, threads: int) -> int:
    """Run `request` from several threads for a bounded time; return how many completed."""
    done, deadline, lock = [0], time.time() + seconds, threading.Lock()

    def worker() -> None:
        while time.time() < deadline:
            request()
            with lock:
                done[0] += 1
    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return done[0]


def mib(n: float) -> str:
    return f"{n / 2**20:.0f} MiB"


def measure_mcp(seconds: float, threads: int) -> dict[str, str]:
    run = offline.run_stack("prod", secrets={"postgresPassword": "measure"})
    with processes() as procs:
        url = start_mcp(run, procs)
        sid = procs.procs[-1][0].pid
        time.sleep(2)
        idle = rss_bytes(sid)
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        cpu0 = cpu_seconds(sid)
        with Sampler(sid) as sampler:
            count = load(lambda: verify.http("POST", url, body, headers), seconds, threads)
        cpu = cpu_seconds(sid) - cpu0
        return {"server": f"MCP server v{PINS['PIN_MCP_VERSION']} (prod args)", "idle": mib(idle), "peak under load": mib(sampler.peak),
                "load": f"{count / seconds:.0f} tools/list req/s ({threads} clients)",
                "CPU": f"{cpu / seconds * 1000:.0f}m at that rate; {count / max(cpu, 1e-9):.0f} req per CPU-second"}


def measure_llama_stack(label: str, venv_item: str, overrides: dict, seconds: float, threads: int) -> dict[str, str]:
    values, _ = offline.stack_settings("dev")
    values["llamaStack"] = {**values["llamaStack"], **overrides}
    run = offline.run(values, {}, stack="dev")
    assert run.error is None, run.error
    with processes() as procs:
        mcp_url = start_mcp(run, procs)
        base = start_llama_stack(run, mcp_url, procs, deps(venv_item))
        sid = procs.procs[-1][0].pid
        time.sleep(5)
        idle = rss_bytes(sid)
        listing = next(p for p in verify.TOOL_LISTINGS
                       if verify.http("GET", base + p.format(id="kubernetes"), insecure=True)[0] == 200)

        def request() -> None:
            verify.http("GET", f"{base}/v1/health", insecure=True)
            verify.http("GET", base + listing.format(id="kubernetes"), insecure=True)
        cpu0 = cpu_seconds(sid)
        with Sampler(sid) as sampler:
            count = load(request, seconds, threads)
        cpu = cpu_seconds(sid) - cpu0
        return {"server": label, "idle": mib(idle), "peak under load": mib(sampler.peak),
                "load": f"{count / seconds:.0f} health+listing pairs/s ({threads} clients)",
                "CPU": f"{cpu / seconds * 1000:.0f}m at that rate"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    rows = [measure_mcp(args.seconds, args.threads),
            measure_llama_stack(f"Llama Stack {PINS['PIN_LLAMA_STACK_VERSION']} (dev config)", "llama-stack", {},
                                args.seconds, 2),
            measure_llama_stack(f"OGX {OGX['version']} (dev config, TLS)", "ogx", OGX, args.seconds, 2)]
    columns = ["server", "idle", "peak under load", "load", "CPU"]
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    print("  ".join("-" * widths[c] for c in columns))
    for row in rows:
        print("  ".join(row[c].ljust(widths[c]) for c in columns))
    print(f"\n{os.cpu_count()} CPUs; loopback clients share them with the server, so req/s is a floor.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
