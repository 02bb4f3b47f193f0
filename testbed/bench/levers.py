#!/usr/bin/env python3
"""Each lever on a real deploy, against the same deploy without it: `make bench-levers` (after `make cluster`).

For one size (`make bench-deploy`'s sizes), every repetition runs create (`up --yes`), a no-op
`up --yes` and teardown (`destroy --yes`, until the namespace is gone) once per configuration,
the configurations in a rotating order so that a slow minute of the machine does not fall on one
of them. A lever is the provider's configuration, an environment, a CLI flag given to Pulumi, or an edit
of the bench's copy of the program:

  as shipped        the project as `make` runs it: Pulumi.yaml's `kubernetes:kubeClientSettings` (500/s, burst
                    1000), objects that own nothing deleted in the background (components/meta.py), teardown
                    with `make destroy`'s --parallel (ops/pulumi.env)
  foreground        as before 2026-12-06: every object deleted in the provider's default, foreground (the
                    bench's copy of the program edited), with Pulumi's default --parallel for every step
  pulumi default    as shipped, but Pulumi's default --parallel (4 per CPU) for every step, teardown included
  provider 50/120   the Kubernetes provider's own client rate limits (its defaults), set in the stack's config
  parallel-diff     the engine diffs resources in parallel: PULUMI_PARALLEL_DIFF=true
  parallel-N        `--parallel N` for every step (`--parallel` sets N; default 32)

Prints each configuration's medians (min-max) and its ratio to the reference's: the first configuration
(`--only` names them in order; without it, the project as shipped), with the lowest and highest ratio of the
repetitions taken pairwise. Figures, not verdicts.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from typing import Optional

from testbed.bench.deploy import (ROOT, SECRETS, SIZES, Bench, bench_namespaces, cell, make_destroy_args, ratio,
                                  ready_cluster, settings)
from testbed.localcluster.harness import CommandFailed, Project

STEPS = ("create", "no-op up", "teardown")


@dataclass(frozen=True)
class Configuration:
    env: dict[str, str] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    client_rate: Optional[tuple[int, int]] = None  # the stack's own, over the project's
    program_edit: Optional[tuple[str, str, str]] = None  # (file, text, replacement) in a copy of the project


# The program as it deleted before 2026-12-06: the provider's default policy for every object.
FOREGROUND = ("components/meta.py", "    if kind in OWN_NOTHING:\n",
              "    if False:  # the bench's copy: every object deleted in the foreground\n")


def configurations(parallel: int) -> dict[str, Configuration]:
    pulumi_default = ("--parallel", str(4 * len(os.sched_getaffinity(0))))  # the CLI's own: 4 per CPU it may use
    return {
        "as shipped": Configuration(),
        "foreground": Configuration(program_edit=FOREGROUND, flags=pulumi_default),
        "pulumi default": Configuration(flags=pulumi_default),
        "provider 50/120": Configuration(client_rate=(50, 120)),
        "parallel-diff": Configuration(env={"PULUMI_PARALLEL_DIFF": "true"}),
        f"parallel-{parallel}": Configuration(flags=("--parallel", str(parallel))),
    }


def edited(project: Project, edit: tuple[str, str, str]) -> Project:
    """The project with one text replaced in one file; fails loudly when the text is no longer there."""
    path, text, replacement = edit
    source = (project.workdir / path).read_text()
    if source.count(text) != 1:
        raise SystemExit(f"error: {path} no longer holds {text!r} once: update testbed/bench/levers.py")
    (project.workdir / path).write_text(source.replace(text, replacement))
    return project


def client_rate(project: Project, rate: Optional[tuple[int, int]]) -> None:
    """The stack's own client rate (over the project's), or none."""
    key = "kubernetes:kubeClientSettings"
    if rate is None:
        project.pulumi("config", "rm", key, check=False)
        return
    for name, value in zip(("qps", "burst"), rate):
        project.pulumi("config", "set", "--path", f"{key}.{name}", str(value))


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
        projects: dict[Optional[tuple[str, str, str]], Project] = {}
        for edit in dict.fromkeys(c.program_edit for c in configs.values()):
            workdir = bench.workdir / ("project" if edit is None else f"project-{len(projects)}")
            project = Project(cluster, workdir, "prod", secrets=SECRETS)
            for key in ("namespace", "mcpServer"):
                project.set_setting(key, values[key])
            projects[edit] = project if edit is None else edited(project, edit)
        names = list(configs)
        destroy = make_destroy_args()  # as `make destroy` runs it; a configuration's flags come after and win
        for rep in range(args.repeat):
            for name in names[rep % len(names):] + names[:rep % len(names)]:
                config = configs[name]
                project, flags = projects[config.program_edit], config.flags
                project.env_extra.clear()
                project.env_extra.update(config.env)
                client_rate(project, config.client_rate)
                bench.timed(args.size, "create", name, lambda: project.pulumi("up", "--yes", *flags))
                bench.timed(args.size, "no-op up", name, lambda: project.pulumi(
                    "up", "--yes", "--expect-no-changes", *flags))
                bench.timed(args.size, "teardown", name, lambda: (project.pulumi("destroy", "--yes", *destroy, *flags),
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
