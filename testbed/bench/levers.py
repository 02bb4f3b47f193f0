#!/usr/bin/env python3
"""Each lever on a real deploy, against the same deploy without it: `make bench-levers` (after `make cluster`).

For one size (`make bench-deploy`'s sizes), every repetition runs create (`up --yes`), a no-op
`up --yes` and teardown (`destroy --yes`, until the namespace is gone) once per configuration,
the configurations in a rotating order so that a slow minute of the machine does not fall on one
of them. A lever is an environment or a CLI flag given to Pulumi:

  client-rate     the Kubernetes provider's client rate limits: PULUMI_K8S_CLIENT_QPS / _BURST
                  (the provider's defaults are 50 and 120)
  parallel-diff   the engine diffs resources in parallel: PULUMI_PARALLEL_DIFF=true
  parallel-N      `--parallel N` (Pulumi's default is 8)

Prints each configuration's medians (min-max) and its ratio to the baseline's, with the lowest and
highest ratio of the repetitions taken pairwise. Figures, not verdicts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

from testbed.bench.deploy import NS, ROOT, SECRETS, SIZES, Bench, bench_namespaces, settings
from testbed.localcluster.harness import CommandFailed, LocalCluster, Project, toolchain_missing

STEPS = ("create", "no-op up", "teardown")


def configurations(qps: str, burst: str, parallel: int) -> dict[str, tuple[dict[str, str], list[str]]]:
    """name -> (environment, extra CLI flags)."""
    rate = {"PULUMI_K8S_CLIENT_QPS": qps, "PULUMI_K8S_CLIENT_BURST": burst}
    return {
        "baseline": ({}, []),
        f"client-rate {qps}/{burst}": (rate, []),
        "parallel-diff": ({"PULUMI_PARALLEL_DIFF": "true"}, []),
        f"client-rate + parallel-{parallel}": (rate, ["--parallel", str(parallel)]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="prod+1000ns", choices=list(SIZES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--qps", default="500")
    parser.add_argument("--burst", default="1000")
    parser.add_argument("--parallel", type=int, default=32)
    parser.add_argument("--only", default="", help="comma-separated configuration names (the baseline always runs)")
    args = parser.parse_args(argv)
    if toolchain_missing():
        print("error: the toolchain is not built: run `make cluster` first", file=sys.stderr)
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
    os.environ.setdefault("PULUMI_SKIP_CHECKPOINTS", "true")  # as `make up` runs on the local cluster's state
    configs = configurations(args.qps, args.burst, args.parallel)
    if args.only:
        configs = {k: v for k, v in configs.items() if k == "baseline" or k in args.only.split(",")}
    namespaces = SIZES[args.size]
    values = settings(namespaces)
    bench = Bench(cluster, ROOT / "build" / "bench-levers", args.repeat, 0)
    print(f"{args.size}, {args.repeat} repetition(s), PULUMI_SKIP_CHECKPOINTS={os.environ['PULUMI_SKIP_CHECKPOINTS']}",
          flush=True)
    try:
        if namespaces:
            bench.ensure_namespaces(namespaces)
        project = Project(cluster, bench.workdir / "project", "prod", secrets=SECRETS)
        for key in ("namespace", "mcpServer"):
            project.set_setting(key, values[key])
        names = list(configs)
        for rep in range(args.repeat):
            for name in names[rep % len(names):] + names[:rep % len(names)]:
                env, flags = configs[name]
                project.env_extra.clear()
                project.env_extra.update(env)
                bench.timed(args.size, "create", name, lambda: project.pulumi("up", "--yes", *flags))
                bench.timed(args.size, "no-op up", name, lambda: project.pulumi(
                    "up", "--yes", "--expect-no-changes", *flags))
                bench.timed(args.size, "teardown", name, lambda: (project.pulumi("destroy", "--yes", *flags),
                                                                 bench.gone()))
        if namespaces:
            cluster.kubectl("delete", "namespace", *bench_namespaces(namespaces), "--wait=false")
    except CommandFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"\n{'configuration':<34} {'step':<10} {'seconds':>18} {'/ baseline':>20}")
    for name in configs:
        for step in STEPS:
            values_ = bench.results[(args.size, step)][name]
            base = bench.results[(args.size, step)]["baseline"]
            pairs = [a / b for a, b in zip(values_, base)]
            ratio = f"{statistics.median(values_) / statistics.median(base):.2f} [{min(pairs):.2f}-{max(pairs):.2f}]"
            print(f"{name:<34} {step:<10} {statistics.median(values_):8.1f} ({min(values_):.1f}-{max(values_):.1f})"
                  f" {ratio:>20}")
    print(f"\n{args.repeat} repetition(s); medians (min-max); ratios of the medians with [the lowest-highest pairwise]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
