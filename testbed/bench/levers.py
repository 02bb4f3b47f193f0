#!/usr/bin/env python3
"""Each lever on a real deploy, against the same deploy without it: `make bench-levers` (after `make cluster`).

For one size (`make bench-deploy`'s sizes), every repetition runs create (`up --yes`), a no-op
`up --yes` and teardown (`destroy --yes`, until the namespace is gone) once per configuration,
the configurations in a rotating order so that a slow minute of the machine does not fall on one
of them. A lever is the provider's configuration, an environment or a CLI flag given to Pulumi:

  as shipped        the project as it is: Pulumi.yaml's `kubernetes:kubeClientSettings` (500/s, burst 1000)
  provider 50/120   the Kubernetes provider's own client rate limits (its defaults), set in the stack's config
  parallel-diff     the engine diffs resources in parallel: PULUMI_PARALLEL_DIFF=true
  parallel-N        `--parallel N` (Pulumi's default is 8)

Prints each configuration's medians (min-max) and its ratio to the first's (the project as shipped), with the lowest and
highest ratio of the repetitions taken pairwise. Figures, not verdicts.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional

from testbed.bench.deploy import ROOT, SECRETS, SIZES, Bench, bench_namespaces, cell, ratio, ready_cluster, settings
from testbed.localcluster.harness import CommandFailed, Project

STEPS = ("create", "no-op up", "teardown")


Configuration = tuple[dict[str, str], list[str], Optional[tuple[int, int]]]  # environment, CLI flags, client rate


def configurations(parallel: int) -> dict[str, Configuration]:
    return {
        "as shipped": ({}, [], None),
        "provider 50/120": ({}, [], (50, 120)),
        "parallel-diff": ({"PULUMI_PARALLEL_DIFF": "true"}, [], None),
        f"parallel-{parallel}": ({}, ["--parallel", str(parallel)], None),
    }


def client_rate(project: Project, rate: Optional[tuple[int, int]]) -> None:
    """The stack's own client rate (over the project's), or none."""
    key = "kubernetes:kubeClientSettings"
    if rate is None:
        project.pulumi("config", "rm", key, check=False)
        return
    for field, value in zip(("qps", "burst"), rate):
        project.pulumi("config", "set", "--path", f"{key}.{field}", str(value))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="prod+1000ns", choices=list(SIZES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=32)
    parser.add_argument("--only", default="", help="comma-separated configuration names, the first the reference "
                        "(default: all, against the project as shipped)")
    args = parser.parse_args(argv)
    cluster = ready_cluster()
    if cluster is None:
        return 2
    configs = configurations(args.parallel)
    if args.only:
        unknown = [k for k in args.only.split(",") if k not in configs]
        if unknown:
            print(f"error: no configuration {', '.join(unknown)} (there are: {', '.join(configs)})", file=sys.stderr)
            return 2
        configs = {k: configs[k] for k in args.only.split(",")}
    reference = next(iter(configs))
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
                env, flags, rate = configs[name]
                project.env_extra.clear()
                project.env_extra.update(env)
                client_rate(project, rate)
                bench.timed(args.size, "create", name, lambda: project.pulumi("up", "--yes", *flags))
                bench.timed(args.size, "no-op up", name, lambda: project.pulumi(
                    "up", "--yes", "--expect-no-changes", *flags))
                bench.timed(args.size, "teardown", name, lambda: (project.pulumi("destroy", "--yes", *flags),
                                                                 bench.gone()))
    except CommandFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"\n{'configuration':<34} {'step':<10} {'seconds':>18} {'/ ' + reference:>20}")
    for name in configs:
        for step in STEPS:
            row = bench.results[(args.size, step)]
            print(f"{name:<34} {step:<10} {cell(row[name]):>18} {ratio(row[name], row[reference]):>20}")
    print(f"\n{args.repeat} repetition(s); medians (min-max); ratios of the medians with [the lowest-highest pairwise]",
          flush=True)
    if namespaces:  # after the figures: a thousand deletions take kubectl minutes
        cluster.kubectl("delete", "namespace", *bench_namespaces(namespaces), "--wait=false")
    return 0


if __name__ == "__main__":
    sys.exit(main())
