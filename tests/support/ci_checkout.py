"""A CI runner's view of the repository, on the local cluster: a git checkout of this tree with a remote, the
credentials the workflows' environments hold (a deploying kubeconfig, a read-only one), and `make ci-*` run in it
as the workflows run them (tests/cluster/test_cluster_ci.py)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml

from support import ROOT

# GitHub itself cannot be reached from here: `gh` is this recorder, which keeps each call for the test to read
# and answers `pr create` with the URL GitHub would print.
GH_RECORDER = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["GH_CALLS"], "a") as out:
    out.write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1:3] == ["pr", "create"]:
    print("https://github.example/acme/llamastack-mcp/pull/7")
"""


def tracked_files(root: Path) -> list[str]:
    """What a fresh clone of this tree would hold: tracked files and new ones not ignored (as they are now)."""
    out = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         check=True, capture_output=True, text=True).stdout
    return sorted({p for p in out.split("\0") if p and (root / p).is_file()})


@dataclass
class Checkout:
    cluster: object
    directory: Path
    namespaces: dict[str, str]               # stack -> its namespace (both environments share one cluster here)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)   # stack -> secret settings
    kubeconfigs: dict[str, str] = field(default_factory=dict)          # "deploy" / "read" -> kubeconfig text

    def __post_init__(self) -> None:
        self.repo = self.directory / "repo"
        self.origin = self.directory / "origin.git"
        self.state = self.directory / "state"
        self.home = self.directory / "home"
        self.gh_calls = self.directory / "gh-calls.jsonl"
        for path in (self.repo, self.state, self.home / "bin"):
            path.mkdir(parents=True)
        for name in tracked_files(ROOT):
            (self.repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, self.repo / name, follow_symlinks=False)
        # The checkout's virtualenv (make setup's), for the program and the policy pack.
        (self.repo / "venv").symlink_to(ROOT / "venv")
        (self.repo / "policy" / "venv").symlink_to(ROOT / "venv")
        gh = self.home / "bin" / "gh"
        gh.write_text(GH_RECORDER)
        gh.chmod(gh.stat().st_mode | stat.S_IEXEC)
        for stack, namespace in self.namespaces.items():
            self.edit_stack(stack, lambda config, ns=namespace: config["llamastack-mcp:namespace"].update(name=ns))
        self.git("init", "--quiet", "--initial-branch=main")
        for stack, values in self.secrets.items():
            self.pulumi("stack", "init", stack)
            for key, value in values.items():
                self.pulumi("config", "set", "--secret", key, value, "--stack", stack)
        self.commit("the repository as CI checks it out")
        subprocess.run(["git", "init", "--quiet", "--bare", str(self.origin)], check=True)
        self.git("remote", "add", "origin", str(self.origin))
        self.git("push", "--quiet", "origin", "main")
        self.git("fetch", "--quiet", "origin")

    # --- git, as a developer and GitHub's merge button use it
    def git(self, *args: str) -> str:
        return subprocess.run(["git", "-C", str(self.repo), "-c", "user.name=dev", "-c", "user.email=dev@example.com",
                               *args], check=True, capture_output=True, text=True).stdout.strip()

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "--quiet", "-m", message)
        return self.git("rev-parse", "HEAD")

    def edit(self, path: str, old: str, new: str) -> None:
        file = self.repo / path
        text = file.read_text()
        assert old in text, f"{path} no longer holds {old!r}"
        file.write_text(text.replace(old, new, 1))

    def edit_stack(self, stack: str, change) -> None:
        """Change a stack file's settings (comments are lost: fine for a test's copy)."""
        path = self.repo / f"Pulumi.{stack}.yaml"
        data = yaml.safe_load(path.read_text())
        change(data["config"])
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    # --- the runner's environment
    def env(self, credential: Optional[str], **extra: str) -> dict[str, str]:
        env = {k: v for k, v in self.cluster.env().items()
               if k not in ("KUBECONFIG", "PULUMI_BACKEND_URL", "PULUMI_SKIP_CHECKPOINTS")}
        env.update(HOME=str(self.home), PATH=f"{self.home / 'bin'}:{env['PATH']}", GH_CALLS=str(self.gh_calls),
                   PULUMI_BACKEND_URL=f"file://{self.state}")
        if credential:
            env["KUBECONFIG_DATA"] = self.kubeconfigs[credential]
        env.update(extra)
        return env

    def pulumi(self, *args: str) -> subprocess.CompletedProcess:
        """The Pulumi CLI on the checkout and its backend, as the cluster's admin (set-up, inspection, teardown)."""
        return self.cluster.run(["pulumi", *args, "--non-interactive"], cwd=self.repo, name=f"ci-pulumi-{args[0]}",
                                env=self.env(None, KUBECONFIG=str(self.cluster.kubeconfig)))

    def make(self, target: str, *variables: str, credential: Optional[str] = None, **extra: str):
        """`make TARGET VAR=...` in the checkout, with the step's outputs and summary files GitHub provides.
        Returns (the completed process, the step's outputs)."""
        outputs = self.directory / "github-output"
        outputs.write_text("")
        env = self.env(credential, GITHUB_OUTPUT=str(outputs),
                       GITHUB_STEP_SUMMARY=str(self.directory / "step-summary"), **extra)
        # -o: the virtualenv is the checkout's own, already set up (make setup ran before the step)
        proc = self.cluster.run(["make", "--no-print-directory", "-o", "venv/bin/.installed", target, *variables],
                                cwd=self.repo, env=env, name=f"make-{target}", check=False, timeout=900)
        found = dict(line.split("=", 1) for line in outputs.read_text().splitlines() if "=" in line)
        return proc, found

    def deploy_in_background(self, stack: str, credential: str = "deploy") -> subprocess.Popen:
        """The workflow's deploy step: `exec venv/bin/python -m ops.ci.deploy --stack STACK`, its own process the
        one GitHub signals."""
        log = (self.directory / f"deploy-{stack}.log").open("w")
        return subprocess.Popen([str(self.repo / "venv" / "bin" / "python"), "-m", "ops.ci.deploy", "--stack", stack],
                                cwd=self.repo, env=self.env(credential), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def gh(self) -> list[list[str]]:
        if not self.gh_calls.exists():
            return []
        return [json.loads(line) for line in self.gh_calls.read_text().splitlines()]


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat_file.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cancel_as_github_does(proc: subprocess.Popen) -> tuple[str, float]:
    """GitHub's cancellation of a step: SIGINT to the step's process, SIGTERM 7.5 s later, then the whole process tree
    killed 2.5 s after that. Returns how it ended ('exited' within the grace, or 'killed') and after how long."""
    tree = [proc.pid, *descendants(proc.pid)]
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=7.5)
        return "exited", time.monotonic() - started
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=2.5)
        return "exited", time.monotonic() - started
    except subprocess.TimeoutExpired:
        tree += descendants(proc.pid)
        for pid in tree:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()
        time.sleep(0.5)
        return "killed", time.monotonic() - started
