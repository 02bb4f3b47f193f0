#!/usr/bin/env python3
"""The program's own cost under Pulumi's mocks, against a plain program that registers the same resources.

    make bench            # prod, and prod with RBAC scoped to 10, 100 and 500 namespaces

For each scenario: resources registered, wall time and peak memory of the real
program and of the plain one (testbed/bench/plain_program.py), in-process (median of
several runs, tracemalloc peak) and whole-process (a fresh interpreter per
run, max RSS), and the ratios. Prints figures, not verdicts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

from ops import offline

SECRETS = {"postgresPassword": "bench-password"}
PLAIN = ROOT / "testbed" / "bench" / "plain_program.py"


def scenario(namespaces: int) -> dict[str, Any]:
    values, _ = offline.stack_settings("prod")
    if namespaces:
        # RBAC objects exist only without passthrough (prod forwards identities and grants nothing).
        values["mcpServer"] = {**values["mcpServer"], "passthrough": False, "rbac": {
            "preset": "read-only", "scope": "namespaces", "namespaces": [f"team-{i:03d}" for i in range(namespaces)]}}
    return values


def record(values: dict[str, Any], path: Path) -> int:
    """Write what the real program registers, in registration order, for the plain program."""
    result = offline.run(values, SECRETS, stack="prod")
    assert result.error is None, result.error
    items = [{"type": r.typ, "name": r.name, "custom": r.custom, "parent": r.parent.split("::", 2)[-1],
              "urn_tail": f"{r.typ}::{r.name}", "manifest": r.manifest} for r in result.resources]
    for item in items:  # a parent is named by its type and name, as in the URN
        item["parent"] = item["parent"].rsplit("$", 1)[-1]
    path.write_text(json.dumps(items))
    return len(items)


def run_once(kind: str, values: dict[str, Any], plain_data: Path) -> float:
    start = time.perf_counter()
    if kind == "program":
        result = offline.run(values, SECRETS, stack="prod")
    else:
        os.environ["BENCH_PLAIN_DATA"] = str(plain_data)
        result = offline.run({}, {}, stack="prod", program=PLAIN)
    elapsed = time.perf_counter() - start
    assert result.error is None, result.error
    return elapsed


def in_process(kind: str, values: dict[str, Any], plain_data: Path, repeat: int) -> tuple[list[float], int]:
    run_once(kind, values, plain_data)  # warm imports and caches
    times = [run_once(kind, values, plain_data) for _ in range(repeat)]
    tracemalloc.start()
    run_once(kind, values, plain_data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return times, peak


def ratio(program: list[float], plain: list[float]) -> str:
    """Median ratio, and the spread of the ratios of the repetitions taken pairwise."""
    pairs = sorted(p / b for p, b in zip(program, plain))
    return f"{statistics.median(program) / statistics.median(plain):.2f} [{pairs[0]:.2f}–{pairs[-1]:.2f}]"


def whole_process(kind: str, namespaces: int, plain_data: Path, repeat: int) -> tuple[list[float], int]:
    times, rss = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "testbed.bench.program", "--child", kind, "--namespaces", str(namespaces),
                               "--plain-data", str(plain_data)], capture_output=True, text=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr)
        rss.append(int(proc.stdout.strip().splitlines()[-1]))
    return times, max(rss)


def child(kind: str, namespaces: int, plain_data: Path) -> None:
    run_once(kind, scenario(namespaces), plain_data)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0,10,100,500", help="namespace counts (0: prod as is)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", choices=["program", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--namespaces", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--plain-data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.namespaces, args.plain_data)
        return 0

    started = time.perf_counter()
    header = (f"{'scenario':<16}{'resources':>10}  {'in-process ms':>22}  {'ratio [spread]':>17}  {'own µs/res':>11}  "
              f"{'peak MiB (traced)':>18}  {'ratio':>6}  {'whole-process ms':>22}  {'ratio [spread]':>17}  "
              f"{'max RSS MiB':>14}")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            values = scenario(size)
            data = Path(tmp) / f"plain-{size}.json"
            count = record(values, data)
            p_times, p_peak = in_process("program", values, data, args.repeat)
            b_times, b_peak = in_process("plain", values, data, args.repeat)
            pw_times, pw_rss = whole_process("program", size, data, args.repeat)
            bw_times, bw_rss = whole_process("plain", size, data, args.repeat)
            p_time, b_time = statistics.median(p_times), statistics.median(b_times)
            pw_time, bw_time = statistics.median(pw_times), statistics.median(bw_times)
            name = "prod" if size == 0 else f"prod+{size} ns"
            print(f"{name:<16}{count:>10}  {p_time*1e3:>10.1f} vs {b_time*1e3:>8.1f}  {ratio(p_times, b_times):>17}  "
                  f"{(p_time - b_time)/count*1e6:>11.0f}  {p_peak/2**20:>8.1f} vs {b_peak/2**20:>6.1f}  {p_peak/b_peak:>6.2f}  "
                  f"{pw_time*1e3:>10.0f} vs {bw_time*1e3:>8.0f}  {ratio(pw_times, bw_times):>17}  "
                  f"{pw_rss/2**20:>6.0f} vs {bw_rss/2**20:>5.0f}", flush=True)
    print(f"\n{args.repeat} repetitions each; medians; [spread] = lowest and highest ratio of the repetitions "
          f"taken pairwise; run time {time.perf_counter() - started:.0f} s")
    print("ratio = real program / plain program registering the same resources (1.00 = no overhead)")
    print("own µs/res = (real - plain) in-process time per resource: the program's own cost, which must not grow")
    return 0


if __name__ == "__main__":
    sys.exit(main())
