#!/usr/bin/env python3
"""How fast a real deploy is, against the floor for the same objects: `make bench-deploy` (after `make cluster`).

For prod (about 24 objects) and prod with the MCP server's RBAC scoped to 500
namespaces (about 1,000 objects), several repetitions each, on the local
cluster (`.cluster/`, or CLUSTER_DIR / PORT_BASE):

  create    `pulumi up --yes` from empty, until every Deployment is Available
            vs `kubectl apply --server-side` of exactly what `make render` writes,
            then `kubectl wait --for=condition=Available` on the Deployments
  no-op     `pulumi preview` and `pulumi up --yes` with nothing changed
            vs `kubectl diff --server-side` of the same objects
  change    the MCP image (a promotion): `pulumi up --yes`
            vs `kubectl apply --server-side` of the changed Deployment + `kubectl rollout status`
  teardown  `pulumi destroy --yes` vs `kubectl delete` of the same objects, both until the namespace is gone

Prints absolute seconds (median, and min-max over the repetitions) and the
ratio ours / floor; then the Python program's share of a no-op preview (the
same program timed in-process under mocks) against the rest (engine, provider,
CLI). Figures, not verdicts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

import offline
from localcluster.harness import CommandFailed, LocalCluster, Project, toolchain_missing

NS = "llama-stack"
SECRETS = {"postgresPassword": "bench-password"}
CHANGED_IMAGE = "quay.io/containers/kubernetes_mcp_server:v0.0.68"
SIZES = {"prod": 0, "prod+500ns": 500}


def settings(namespaces: int) -> dict[str, Any]:
    """The prod stack's settings; with namespaces, RBAC per namespace (needs passthrough off)."""
    values, _ = offline.stack_settings("prod")
    if namespaces:
        values["mcpServer"] = {**values["mcpServer"], "passthrough": False, "rbac": {
            "preset": "read-only", "scope": "namespaces", "namespaces": bench_namespaces(namespaces)}}
    return values


def bench_namespaces(count: int) -> list[str]:
    return [f"bench-{i:03d}" for i in range(count)]


def render(values: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    """Exactly the objects the program registers, as `make render` writes them, in one file (namespace first)."""
    run = offline.run(values, SECRETS, stack="prod")
    if run.error:
        raise SystemExit(run.error)
    manifests = sorted(run.manifests(), key=lambda m: m["kind"] != "Namespace")
    path.write_text("\n---\n".join(json.dumps(m) for m in manifests))
    return manifests


class Bench:
    def __init__(self, cluster: LocalCluster, workdir: Path, repeat: int, parallel: int) -> None:
        self.cluster, self.workdir, self.repeat, self.parallel = cluster, workdir, repeat, parallel
        self.results: dict[tuple[str, str], dict[str, list[float]]] = {}

    def timed(self, size: str, step: str, who: str, action: Callable[[], Any]) -> None:
        started = time.monotonic()
        action()
        seconds = time.monotonic() - started
        self.results.setdefault((size, step), {}).setdefault(who, []).append(seconds)
        print(f"    {size} {step} {who}: {seconds:.1f} s", flush=True)

    def kubectl(self, *args: str, input: str | None = None) -> None:
        self.cluster.kubectl(*args, input=input)

    def wait_available(self) -> None:
        self.kubectl("wait", "--for=condition=Available", "deployment", "--all", "-n", NS, "--timeout=600s")

    def gone(self) -> None:
        self.cluster.wait_until(f"namespace {NS} is gone", lambda: self.cluster.kubectl(
            "get", "namespace", NS, check=False).returncode != 0, timeout=600, interval=0.2)

    def pulumi_args(self) -> list[str]:
        return ["--parallel", str(self.parallel)] if self.parallel else []

    def run_size(self, size: str, namespaces: int) -> None:
        values = settings(namespaces)
        if namespaces:  # the namespaces RBAC is granted in exist beforehand (not timed)
            docs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}
                    for n in bench_namespaces(namespaces)]
            self.kubectl("apply", "--server-side", "-f", "-", input="\n---\n".join(json.dumps(d) for d in docs))
        base = self.workdir / size
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        objects = base / "objects.yaml"
        count = len(render(values, objects))
        changed = base / "changed.yaml"
        changed_values = json.loads(json.dumps(values))
        changed_values["mcpServer"]["image"] = CHANGED_IMAGE
        deployment = next(m for m in render(changed_values, base / "changed-all.yaml")
                          if m["kind"] == "Deployment" and m["metadata"]["name"] == "kubernetes-mcp-server")
        changed.write_text(json.dumps(deployment))
        print(f"{size}: {count} objects, {self.repeat} repetition(s)", flush=True)

        project = Project(self.cluster, base / "project", "prod", secrets=SECRETS)
        for key in ("mcpServer",):
            project.set_setting(key, values[key])
        extra = self.pulumi_args()
        for rep in range(self.repeat):
            # ours
            project.set_setting("mcpServer", values["mcpServer"])
            self.timed(size, "create", "ours", lambda: project.pulumi("up", "--yes", *extra))
            self.timed(size, "no-op preview", "ours", lambda: project.pulumi("preview", "--expect-no-changes",
                                                                              *extra))
            self.timed(size, "no-op up", "ours", lambda: project.pulumi("up", "--yes", "--expect-no-changes",
                                                                         *extra))
            project.set_setting("mcpServer", {**values["mcpServer"], "image": CHANGED_IMAGE})
            self.timed(size, "change", "ours", lambda: project.pulumi("up", "--yes", *extra))
            self.timed(size, "teardown", "ours", lambda: (project.pulumi("destroy", "--yes", *extra), self.gone()))
            # the floor
            self.timed(size, "create", "floor", lambda: (
                self.kubectl("apply", "--server-side", "--field-manager=bench", "-f", str(objects)),
                self.wait_available()))
            self.timed(size, "no-op preview", "floor", lambda: self.cluster.run(
                ["kubectl", "diff", "--server-side", "--field-manager=bench", "-f", str(objects)], check=False,
                name="kubectl-diff"))
            self.timed(size, "change", "floor", lambda: (
                self.kubectl("apply", "--server-side", "--field-manager=bench", "-f", str(changed)),
                self.kubectl("rollout", "status", "deployment/kubernetes-mcp-server", "-n", NS, "--timeout=600s")))
            # kubectl's own --wait polls object by object (over 3 min for 1,000 objects): the
            # namespace being gone is the same end state ours waits for.
            self.timed(size, "teardown", "floor", lambda: (
                self.kubectl("delete", "--wait=false", "-f", str(objects)), self.gone()))
            print(f"  repetition {rep + 1} done", flush=True)
        self.results[(size, "objects")] = {"count": [float(count)]}
        if namespaces:
            self.kubectl("delete", "namespace", *bench_namespaces(namespaces), "--wait=false")

    def program_share(self, size: str, namespaces: int) -> tuple[float, float, float]:
        """Medians: the program's own run in-process under mocks; the same in a fresh interpreter (what
        the language host starts: Python, imports, the run); ours' no-op preview."""
        values = settings(namespaces)
        settings_file = self.workdir / size / "settings.json"
        settings_file.write_text(json.dumps(values))
        script = ("import json, offline; "
                  f"r = offline.run(json.load(open({str(settings_file)!r})), {SECRETS!r}, stack='prod', "
                  "preview=True); assert r.error is None, r.error")
        in_process, whole = [], []
        for _ in range(max(3, self.repeat)):
            started = time.monotonic()
            result = offline.run(values, SECRETS, stack="prod", preview=True)
            in_process.append(time.monotonic() - started)
            assert result.error is None, result.error
            started = time.monotonic()
            subprocess.run([sys.executable, "-c", script], check=True)
            whole.append(time.monotonic() - started)
        return (statistics.median(in_process), statistics.median(whole),
                statistics.median(self.results[(size, "no-op preview")]["ours"]))


def _cell(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):6.1f} ({min(values):.1f}-{max(values):.1f})"


def report(bench: Bench, sizes: dict[str, int]) -> None:
    steps = ("create", "no-op preview", "no-op up", "change", "teardown")
    print(f"\n{'size':<11} {'step':<14} {'ours s (min-max)':>20} {'floor s (min-max)':>20} {'ours/floor':>10}")
    print("-" * 80)
    for size in sizes:
        count = int(bench.results[(size, "objects")]["count"][0])
        for step in steps:
            row = bench.results.get((size, step), {})
            ours, floor = row.get("ours", []), row.get("floor", [])
            if step == "no-op up":
                floor = bench.results[(size, "no-op preview")].get("floor", [])
            ratio = f"{statistics.median(ours) / statistics.median(floor):9.2f}x" if ours and floor else "-"
            print(f"{size:<11} {step:<14} {_cell(ours):>20} {_cell(floor):>20} {ratio:>10}")
        per_object = statistics.median(bench.results[(size, "create")]["ours"]) / count * 1000
        print(f"{size:<11} {count} objects; create costs {per_object:.0f} ms per object (ours)")
    print()
    for size, namespaces in sizes.items():
        program, process, preview = bench.program_share(size, namespaces)
        print(f"{size:<11} no-op preview {preview:.1f} s: the Python program's own run {program:.2f} s "
              f"({program / preview:.0%}); with interpreter start and imports {process:.2f} s "
              f"({process / preview:.0%}); engine + provider + CLI the rest, {preview - process:.1f} s "
              f"({1 - process / preview:.0%})")
    print(f"\n{bench.repeat} repetition(s); medians with min-max; floor for no-op up is kubectl diff; "
          f"--parallel {bench.parallel or 'default'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default=",".join(SIZES), help=f"any of {', '.join(SIZES)}")
    parser.add_argument("--parallel", type=int, default=0, help="pulumi --parallel (0: Pulumi's default)")
    args = parser.parse_args(argv)
    missing = toolchain_missing()
    if missing:
        print(f"error: the toolchain lacks {', '.join(missing)}: run `make cluster` first (it builds the "
              "toolchain, then starts the local cluster)", file=sys.stderr)
        return 2
    cluster = LocalCluster(Path(os.environ.get("CLUSTER_DIR", ROOT / ".cluster")),
                           int(os.environ.get("PORT_BASE", "16400")))
    if cluster.kubectl("get", "--raw", "/readyz", check=False).returncode != 0:
        print(f"error: no local cluster answers at {cluster.api_url}: run `make cluster` first", file=sys.stderr)
        return 2
    if cluster.kubectl("get", "namespace", NS, check=False).returncode == 0:
        print(f"error: namespace {NS} exists on the local cluster: `make destroy` (or `make cluster-clean`) first",
              file=sys.stderr)
        return 2
    # As `make up` runs Pulumi (localcluster/pulumi.sh); PULUMI_SKIP_CHECKPOINTS=false measures Pulumi's default.
    os.environ.setdefault("PULUMI_SKIP_CHECKPOINTS", "true")
    print(f"PULUMI_SKIP_CHECKPOINTS={os.environ['PULUMI_SKIP_CHECKPOINTS']}", flush=True)
    sizes = {s: SIZES[s] for s in args.sizes.split(",")}
    bench = Bench(cluster, ROOT / "build" / "bench-deploy", args.repeat, args.parallel)
    try:
        for size, namespaces in sizes.items():
            bench.run_size(size, namespaces)
    except CommandFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    report(bench, sizes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
