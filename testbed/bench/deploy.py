#!/usr/bin/env python3
"""How fast a real deploy is, against Helm (the peer) and kubectl (the floor): `make bench-deploy` (after `make cluster`).

For prod (about 20 objects) and prod with the MCP server's RBAC scoped to 1,000
namespaces (about 1,020 objects), several repetitions each, on the local
cluster (`.cluster/`, or CLUSTER_DIR / PORT_BASE). Helm installs exactly the
objects `make render` writes, as a chart whose one template is that file:
`helm upgrade --install --wait` for create, no-op and change, `helm uninstall`
for teardown (until the namespace is gone).

  create    `pulumi up --yes` from empty, until every Deployment is Available
            vs `kubectl apply --server-side` of exactly what `make render` writes,
            then `kubectl wait --for=condition=Available` on the Deployments
  no-op     `pulumi preview` and `pulumi up --yes` with nothing changed
            vs `kubectl diff --server-side` of the same objects
  change    the MCP image (a promotion): `pulumi up --yes`
            vs `kubectl apply --server-side` of the changed Deployment + `kubectl rollout status`
  teardown  `pulumi destroy --yes` as `make destroy` runs it (ops/pulumi.env's --parallel) vs `kubectl delete`
            of the same objects, both until the namespace is gone

Also Pulumi's own floor: a plain program registering the same objects
(testbed/bench/plain_program.py) through every step above, and an empty program's no-op `up`;
the same objects in one provider-side ConfigGroup (testbed/bench/config_group_program.py);
and `up --skip-preview` (what a `--yes` run saves by not previewing first).

Prints absolute seconds (median, and min-max over the repetitions) and the ratios ours / Helm,
ours / kubectl and ours / plain Pulumi, each with its spread (the lowest and highest ratio of the
repetitions taken pairwise); then the Python program's share of a no-op preview (the same program
timed in-process under mocks) against the rest (engine, provider, CLI). Figures, not verdicts.
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
ROOT = HERE.parents[1]

from ops import offline
from testbed.bench import program
from testbed.localcluster.harness import TOOLCHAIN_BIN, CommandFailed, LocalCluster, Project, toolchain_missing

NS = "llama-stack"
SECRETS = {"postgresPassword": "bench-password"}
CHANGED_IMAGE = "quay.io/containers/kubernetes_mcp_server:v0.0.68"
SIZES = {"prod": 0, "prod+1000ns": 1000}
HELM = TOOLCHAIN_BIN / "helm"
RELEASE = "bench"


def make_destroy_args() -> list[str]:
    """What `make destroy` gives `pulumi destroy` (ops/pulumi.sh, from ops/pulumi.env), so the bench times it."""
    options = dict(line.split("=", 1) for line in (ROOT / "ops" / "pulumi.env").read_text().splitlines()
                   if line.strip() and not line.startswith("#"))
    return ["--parallel", options["DESTROY_PARALLEL"]]


def settings(namespaces: int) -> dict[str, Any]:
    """The prod stack's settings; with namespaces, RBAC per namespace (needs passthrough off). The namespace
    goes with the stack, as Helm's and kubectl's do here (prod keeps its own on destroy)."""
    values, _ = offline.stack_settings("prod")
    values["namespace"] = {**values["namespace"], "keepOnDestroy": False}
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


def chart(objects: Path, directory: Path) -> Path:
    """A chart that installs exactly the rendered objects. They are a file of the chart, which its one
    template emits verbatim: Helm would otherwise read the alerts' `{{ $labels.pod }}` as its own."""
    shutil.rmtree(directory, ignore_errors=True)
    (directory / "templates").mkdir(parents=True)
    (directory / "files").mkdir()
    (directory / "Chart.yaml").write_text("apiVersion: v2\nname: llamastack-mcp-bench\nversion: 0.1.0\n")
    shutil.copy2(objects, directory / "files" / "objects.yaml")
    (directory / "templates" / "objects.yaml").write_text('{{ .Files.Get "files/objects.yaml" }}\n')
    return directory


def plain_program(values: dict[str, Any], project: Path, data: Path) -> None:
    """Turn a project copy into Pulumi's floor for these objects: the same resources, registered plainly."""
    program.record(values, data)
    shutil.copy2(HERE / "plain_program.py", project / "__main__.py")


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

    def ensure_namespaces(self, count: int) -> None:
        """The namespaces RBAC is granted in exist beforehand (not timed)."""
        docs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in bench_namespaces(count)]
        self.kubectl("apply", "--server-side", "-f", "-", input="\n---\n".join(json.dumps(d) for d in docs))

    def run_size(self, size: str, namespaces: int) -> None:
        values = settings(namespaces)
        if namespaces:
            self.ensure_namespaces(namespaces)
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

        charts = {"objects": chart(objects, base / "chart"), "changed": chart(base / "changed-all.yaml",
                                                                               base / "chart-changed")}
        project = Project(self.cluster, base / "project", "prod", secrets=SECRETS)
        for key in ("namespace", "mcpServer"):
            project.set_setting(key, values[key])
        plain = Project(self.cluster, base / "plain", "prod", secrets=SECRETS)
        plain_program(values, plain.workdir, plain.workdir / "plain.json")
        program.record(changed_values, plain.workdir / "plain-changed.json")
        extra = self.pulumi_args()
        destroy = ("destroy", "--yes", *make_destroy_args(), *extra)
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
            self.timed(size, "teardown", "ours", lambda: (project.pulumi(*destroy), self.gone()))
            # Pulumi's floor: the same registrations, no program logic
            plain.env_extra["BENCH_PLAIN_DATA"] = str(plain.workdir / "plain.json")
            self.timed(size, "create", "plain", lambda: plain.pulumi("up", "--yes", *extra))
            self.timed(size, "no-op preview", "plain", lambda: plain.pulumi("preview", "--expect-no-changes", *extra))
            self.timed(size, "no-op up", "plain", lambda: plain.pulumi("up", "--yes", "--expect-no-changes", *extra))
            plain.env_extra["BENCH_PLAIN_DATA"] = str(plain.workdir / "plain-changed.json")
            self.timed(size, "change", "plain", lambda: plain.pulumi("up", "--yes", *extra))
            self.timed(size, "teardown", "plain", lambda: (plain.pulumi(*destroy), self.gone()))
            # the peer
            self.timed(size, "create", "helm", lambda: self.helm("upgrade", "--install", RELEASE,
                                                                 str(charts["objects"]), "--wait"))
            self.timed(size, "no-op up", "helm", lambda: self.helm("upgrade", "--install", RELEASE,
                                                                   str(charts["objects"]), "--wait"))
            self.timed(size, "change", "helm", lambda: self.helm("upgrade", "--install", RELEASE,
                                                                 str(charts["changed"]), "--wait"))
            self.timed(size, "teardown", "helm", lambda: (self.helm("uninstall", RELEASE), self.gone()))
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
            # a --yes run that skips the preview `up` runs first (ours, then torn down untimed)
            project.set_setting("mcpServer", values["mcpServer"])
            project.pulumi("up", "--yes", *extra)
            self.timed(size, "no-op up --skip-preview", "ours", lambda: project.pulumi(
                "up", "--yes", "--skip-preview", *extra))
            project.set_setting("mcpServer", {**values["mcpServer"], "image": CHANGED_IMAGE})
            self.timed(size, "change --skip-preview", "ours", lambda: project.pulumi(
                "up", "--yes", "--skip-preview", *extra))
            project.pulumi(*destroy)
            self.gone()
            print(f"  repetition {rep + 1} done", flush=True)
        self.pulumi_floor(size, values, base)
        self.results[(size, "objects")] = {"count": [float(count)]}
        if namespaces:
            self.kubectl("delete", "namespace", *bench_namespaces(namespaces), "--wait=false")

    def helm(self, *args: str) -> None:
        home = self.workdir / "helm-home"  # Helm's config and caches here, not in the user's home
        env = {**self.cluster.env(), **{f"HELM_{d}_HOME": str(home / d.lower()) for d in ("CONFIG", "CACHE", "DATA")}}
        self.cluster.run([str(HELM), *args, "--namespace", "default", "--timeout", "600s"], env=env,
                         timeout=900, name="helm-" + args[0])

    def pulumi_floor(self, size: str, values: dict[str, Any], base: Path) -> None:
        """Pulumi itself, without this program: an empty program, and the same objects registered plainly."""
        empty = Project(self.cluster, base / "empty", "prod", secrets=SECRETS)
        (empty.workdir / "__main__.py").write_text("# Pulumi's floor: a program that registers nothing\n")
        empty.pulumi("up", "--yes")
        group = Project(self.cluster, base / "config-group", "prod", secrets=SECRETS)
        shutil.copy2(HERE / "config_group_program.py", group.workdir / "__main__.py")
        group.env_extra["BENCH_OBJECTS"] = str(base / "objects.yaml")
        self.timed(size, "create", "config group", lambda: group.pulumi("up", "--yes", *self.pulumi_args()))
        for _ in range(self.repeat):
            self.timed(size, "no-op preview", "config group", lambda: group.pulumi(
                "preview", "--expect-no-changes", *self.pulumi_args()))
            self.timed(size, "no-op up", "config group", lambda: group.pulumi(
                "up", "--yes", "--expect-no-changes", *self.pulumi_args()))
        destroy = ("destroy", "--yes", *make_destroy_args(), *self.pulumi_args())
        self.timed(size, "teardown", "config group", lambda: (group.pulumi(*destroy),
                                                              self.gone()))
        for _ in range(self.repeat):
            self.timed(size, "no-op up", "empty program", lambda: empty.pulumi("up", "--yes", "--expect-no-changes"))
        empty.pulumi("destroy", "--yes")

    def program_share(self, size: str, namespaces: int) -> tuple[float, float, float]:
        """Medians: the program's own run in-process under mocks; the same in a fresh interpreter (what
        the language host starts: Python, imports, the run); ours' no-op preview."""
        values = settings(namespaces)
        settings_file = self.workdir / size / "settings.json"
        settings_file.write_text(json.dumps(values))
        script = ("import json; from ops import offline; "
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


def cell(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):6.1f} ({min(values):.1f}-{max(values):.1f})"


def ratio(ours: list[float], other: list[float]) -> str:
    """The medians' ratio, and in brackets the lowest and highest of the repetitions' ratios taken pairwise."""
    if not ours or not other:
        return "-"
    pairs = [a / b for a, b in zip(ours, other)] if len(ours) == len(other) else [statistics.median(ours) /
                                                                                   statistics.median(other)]
    return f"{statistics.median(ours) / statistics.median(other):.2f} [{min(pairs):.2f}-{max(pairs):.2f}]"


def report(bench: Bench, sizes: dict[str, int]) -> None:
    steps = ("create", "no-op preview", "no-op up", "no-op up --skip-preview", "change", "change --skip-preview",
             "teardown")
    print(f"\n{'size':<12} {'step':<24} {'ours s':>16} {'helm s':>16} {'kubectl s':>16} {'plain s':>16} "
          f"{'ours/helm':>17} {'ours/kubectl':>17} {'ours/plain':>17}")
    print("-" * 164)
    for size in sizes:
        count = int(bench.results[(size, "objects")]["count"][0])
        for step in steps:
            row = bench.results.get((size, step), {})
            base = bench.results.get((size, step.replace(" --skip-preview", "")), {})
            ours = row.get("ours", [])
            helm = row.get("helm", []) or base.get("helm", [])
            floor = row.get("floor", []) or base.get("floor", [])
            plain = row.get("plain", [])  # measured through every step; no stand-in for the --skip-preview rows
            if step.startswith("no-op up"):  # kubectl's no-op is its diff
                floor = bench.results[(size, "no-op preview")].get("floor", [])
            print(f"{size:<12} {step:<24} {cell(ours):>16} {cell(helm):>16} {cell(floor):>16} {cell(plain):>16} "
                  f"{ratio(ours, helm):>17} {ratio(ours, floor):>17} {ratio(ours, plain):>17}")
        per_object = statistics.median(bench.results[(size, "create")]["ours"]) / count * 1000
        print(f"{size:<12} {count} objects; create costs {per_object:.0f} ms per object (ours)")
        for who, step in (("empty program", "no-op up"), ("config group", "create"),
                          ("config group", "no-op preview"), ("config group", "no-op up"),
                          ("config group", "teardown")):
            values = bench.results.get((size, step), {}).get(who, [])
            ours = bench.results.get((size, step), {}).get("ours", [])
            print(f"{size:<12} Pulumi's floor, {who} {step}: {cell(values).strip()} s; ours is "
                  f"{ratio(ours, values)} of it")
    print()
    for size, namespaces in sizes.items():
        program, process, preview = bench.program_share(size, namespaces)
        print(f"{size:<12} no-op preview {preview:.1f} s: the Python program's own run {program:.2f} s "
              f"({program / preview:.0%}); with interpreter start and imports {process:.2f} s "
              f"({process / preview:.0%}); engine + provider + CLI the rest, {preview - process:.1f} s "
              f"({1 - process / preview:.0%})")
    print(f"\n{bench.repeat} repetition(s); medians with min-max; ratios of the medians with [the lowest-highest "
          f"pairwise ratio]; kubectl's no-op is `kubectl diff`; Helm's no-op is the same `upgrade --install --wait`; "
          f"Helm and kubectl have no --skip-preview (their plain step is shown); --parallel "
          f"{bench.parallel or 'default'}")


def ready_cluster(extra: tuple[str, ...] = ()) -> LocalCluster | None:
    """The local cluster the benchmarks run on, with the toolchain built and no stack's namespace in the way;
    None (having said why) otherwise. Pulumi runs as `make up` runs it on the local cluster's own state
    (ops/pulumi.sh): PULUMI_SKIP_CHECKPOINTS=false measures Pulumi's default, what your backends keep."""
    missing = [*toolchain_missing(), *extra]
    if missing:
        print(f"error: the toolchain lacks {', '.join(missing)}: run `make cluster` first (it builds the "
              "toolchain, then starts the local cluster)", file=sys.stderr)
        return None
    cluster = LocalCluster(Path(os.environ.get("CLUSTER_DIR", ROOT / ".cluster")),
                           int(os.environ.get("PORT_BASE", "16400")))
    if cluster.kubectl("get", "--raw", "/readyz", check=False).returncode != 0:
        print(f"error: no local cluster answers at {cluster.api_url}: run `make cluster` first", file=sys.stderr)
        return None
    if cluster.kubectl("get", "namespace", NS, check=False).returncode == 0:
        print(f"error: namespace {NS} exists on the local cluster: `make destroy` (or `make cluster-clean`) first",
              file=sys.stderr)
        return None
    os.environ.setdefault("PULUMI_SKIP_CHECKPOINTS", "true")
    print(f"PULUMI_SKIP_CHECKPOINTS={os.environ['PULUMI_SKIP_CHECKPOINTS']}", flush=True)
    return cluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default=",".join(SIZES), help=f"any of {', '.join(SIZES)}")
    parser.add_argument("--parallel", type=int, default=0, help="pulumi --parallel (0: Pulumi's default)")
    args = parser.parse_args(argv)
    cluster = ready_cluster(extra=() if HELM.exists() else ("helm",))
    if cluster is None:
        return 2
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
