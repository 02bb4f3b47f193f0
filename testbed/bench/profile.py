#!/usr/bin/env python3
"""Where a small deploy's time goes: `make bench-profile` (after `make cluster`).

Prod (about 20 objects) on the local cluster: a no-op `pulumi up --yes` and a one-change
`up --yes` (the MCP image, as a promotion), each run `--repeat` times with the CLI's
OpenTelemetry traces written to a file (`--otel-traces file://...`: the CLI's, the engine's,
the language host's and the provider's spans). Every `up` has two passes, the preview and the
update, and each runs the program once; the phases are read from the spans:

  CLI start                 the process's wall time before the CLI's root span
  runtime metadata          the language host's `About` (the CLI asks it for the update's metadata:
                            the Python version and executable, `python -m pip --version`)
  state read / write        the backend's snapshot read; its blob writes after the last pass
  program start             a pass's `run-program` until the program's first registration or invoke
                            (Python, imports, the settings read and validated)
  provider start            the plugin started, handshake, config checked and diffed
  provider configure        `Configure`: the client built, the API server's discovery and OpenAPI read
  steps                     Check, Diff, Create, Update and Delete calls (the union of their spans)
  the rest of the pass      the pass's span less the above (the engine waiting, outputs, shutdown)
  the CLI otherwise         the whole run less all of the above (config, secrets, between the passes, exit)

Prints the median and the min-max of each phase, per operation and pass. Figures, not verdicts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parents[2]

from testbed.bench.deploy import CHANGED_IMAGE, SECRETS, ready_cluster, settings
from testbed.localcluster.harness import CommandFailed, LocalCluster, Project

STEP_CALLS = {f"pulumirpc.ResourceProvider/{m}" for m in ("Check", "Diff", "Create", "Update", "Delete", "Read")}
PROVIDER_START = {"pulumirpc.ResourceProvider/Handshake", "pulumirpc.ResourceProvider/GetPluginInfo",
                  "pulumirpc.ResourceProvider/CheckConfig", "pulumirpc.ResourceProvider/DiffConfig"}
FIRST_CALLS = ("pulumirpc.ResourceMonitor/RegisterResource", "pulumirpc.ResourceMonitor/Invoke")
PHASES = ("CLI start", "runtime metadata", "state read", "program start", "provider start",
          "provider configure", "steps", "rest of the pass", "state write", "the CLI otherwise",
          "whole run")


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    start: float  # seconds
    end: float
    attributes: tuple[tuple[str, str], ...]

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def attribute(self, key: str) -> str:
        return next((v for k, v in self.attributes if k == key), "")


def read_spans(path: Path) -> list[Span]:
    """The spans of one run, from the CLI's JSON lines (OTLP, one export per line)."""
    spans = []
    for line in path.read_text().splitlines():
        for resource_spans in json.loads(line).get("resourceSpans", []):
            service = next((a["value"].get("stringValue", "") for a in resource_spans["resource"]["attributes"]
                            if a["key"] == "service.name"), "")
            for scope in resource_spans.get("scopeSpans", []):
                for s in scope.get("spans", []):
                    attributes = tuple((a["key"], str(next(iter(a["value"].values()), "")))
                                       for a in s.get("attributes", []))
                    spans.append(Span(service, s["name"].lstrip("/"), int(s["startTimeUnixNano"]) / 1e9,
                                      int(s["endTimeUnixNano"]) / 1e9, attributes))
    return sorted(spans, key=lambda s: s.start)


def covered(intervals: Iterable[tuple[float, float]]) -> float:
    """Seconds covered by the union of intervals."""
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b > end:
            total += b - max(a, end)
            end = b
    return total


def phases(spans: list[Span], wall: float) -> dict[str, float]:
    """Each phase's seconds for one `up`: `<phase>` for the run, `<pass> <phase>` per pass."""
    cli = [s for s in spans if s.service == "pulumi-cli"]
    root = next(s for s in cli if s.name == "pulumi")
    passes = [s for s in cli if s.name == "pulumi-plan"]
    out = {"whole run": wall, "CLI start": wall - root.seconds,
           "runtime metadata": sum(s.seconds for s in cli if s.name == "pulumirpc.LanguageRuntime/About"),
           "state read": sum(s.seconds for s in cli if s.name == "diyBackend.getSnapshot"),
           "state write": covered((s.start, s.end) for s in cli
                                  if s.name.startswith("gocloud.dev/blob.") and s.start >= passes[-1].end)}
    for label, plan in zip(("preview", "update"), passes):
        inside = [s for s in cli if plan.start <= s.start <= plan.end]
        run = next(s for s in inside if s.name == "run-program")
        first = next((s.start for s in inside if s.name in FIRST_CALLS), run.end)
        plugin = [s for s in inside if s.name == "newPlugin" and s.attribute("kind") == "resource"]
        start = covered([(s.start, s.end) for s in plugin] +
                        [(s.start, s.end) for s in inside if s.name in PROVIDER_START])
        configure = covered((s.start, s.end) for s in inside if s.name == "pulumirpc.ResourceProvider/Configure")
        steps = covered((s.start, s.end) for s in inside if s.name in STEP_CALLS)
        part = {"program start": first - run.start, "provider start": start, "provider configure": configure,
                "steps": steps}
        part["rest of the pass"] = plan.seconds - sum(part.values())
        out.update({f"{label} {k}": v for k, v in part.items()})
    accounted = sum(v for k, v in out.items() if k != "whole run" and not k.startswith(("preview ", "update ")))
    out["the CLI otherwise"] = wall - accounted - sum(p.seconds for p in passes)
    return out


def profile(cluster: LocalCluster, workdir: Path, repeat: int) -> dict[str, list[dict[str, float]]]:
    values = settings(0)
    project = Project(cluster, workdir / "project", "prod", secrets=SECRETS)
    project.set_setting("namespace", values["namespace"])
    project.set_setting("mcpServer", values["mcpServer"])
    project.pulumi("up", "--yes")
    runs: dict[str, list[dict[str, float]]] = {"no-op up": [], "one change": []}
    images = [CHANGED_IMAGE, values["mcpServer"]["image"]]
    for rep in range(repeat):
        for operation in runs:
            if operation == "one change":
                project.set_setting("mcpServer", {**values["mcpServer"], "image": images[rep % 2]})
            trace = workdir / f"{operation.replace(' ', '-')}-{rep}.json"
            trace.unlink(missing_ok=True)
            started = time.monotonic()
            project.pulumi("up", "--yes", "--otel-traces", f"file://{trace}")
            runs[operation].append(phases(read_spans(trace), time.monotonic() - started))
            print(f"  {operation} {rep + 1}: {runs[operation][-1]['whole run']:.2f} s", flush=True)
    project.pulumi("destroy", "--yes")
    return runs


def report(runs: dict[str, list[dict[str, float]]]) -> None:
    print(f"\n{'operation':<11} {'pass':<8} {'phase':<20} {'median s':>9} {'min-max':>13} {'share':>6}")
    for operation, samples in runs.items():
        whole = statistics.median(s["whole run"] for s in samples)
        keys = [k for k in samples[0] if k not in PHASES] + [k for k in PHASES if k in samples[0]]
        for key in sorted(keys, key=_order):
            label, phase = (key.split(" ", 1) if key.split(" ", 1)[0] in ("preview", "update") else ("", key))
            values = [s[key] for s in samples]
            median = statistics.median(values)
            print(f"{operation:<11} {label:<8} {phase:<20} {median:9.2f} {min(values):6.2f}-{max(values):<6.2f} "
                  f"{median / whole:6.0%}")
    print(f"\n{len(next(iter(runs.values())))} repetition(s); medians with min-max; shares of the whole run's median")


def _order(key: str) -> tuple[int, int]:
    head, _, tail = key.partition(" ")
    if head in ("preview", "update"):
        return (3 if head == "preview" else 4, PHASES.index(tail))
    return ({"CLI start": 0, "runtime metadata": 1, "state read": 2, "state write": 5, "the CLI otherwise": 6,
             "whole run": 7}[key], 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    cluster = ready_cluster()
    if cluster is None:
        return 2
    try:
        runs = profile(cluster, ROOT / "build" / "bench-profile", args.repeat)
    except CommandFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    report(runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
