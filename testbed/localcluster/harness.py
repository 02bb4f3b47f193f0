"""Drive the local control plane and the real Pulumi CLI from Python (tests, benchmarks).

`LocalCluster` starts and stops a cluster through `cluster.sh`; `Project` is a
copy of this Pulumi project in a scratch directory (so stack files and state
can change without touching the checkout) whose `pulumi` commands run the
real engine, language host and Kubernetes provider against that cluster.
Every command's output is kept in a log file, and failures name it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from testbed.localcluster.facts import port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
E2E_CACHE = Path(os.environ.get("E2E_CACHE", Path.home() / ".cache" / "llamastack-mcp-e2e"))
TOOLCHAIN_BIN = Path(os.environ.get("TOOLCHAIN", E2E_CACHE / "toolchain")) / "bin"
# What a copy of the project holds: exactly what `pulumi up` reads.
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "components", "policy", "requirements.txt")


class CommandFailed(AssertionError):
    """A command failed; the message carries its output's tail and where the logs are."""


PULUMI_HOME = E2E_CACHE / "pulumi-home"
_SEQ_LOCK = threading.Lock()


def toolchain_missing() -> list[str]:
    names = ("pulumi", "pulumi-language-python", "kube-apiserver",
             "kube-controller-manager", "kube-scheduler", "kubectl", "etcd", "kwok")
    missing = [n for n in names if not (TOOLCHAIN_BIN / n).exists()]
    if not list(PULUMI_HOME.glob("plugins/resource-kubernetes-v*/pulumi-resource-kubernetes")):
        missing.append("pulumi-resource-kubernetes")
    return missing


@dataclass
class LocalCluster:
    directory: Path
    port_base: int
    # "real": a real node runs the pods (one per machine; kwok nodes tainted); "kwok": simulated only.
    node: str = "kwok"
    _seq: int = 0

    def __post_init__(self) -> None:
        self.directory = Path(self.directory).resolve()

    @property
    def kubeconfig(self) -> Path:
        return self.directory / "kubeconfig"

    @property
    def api_url(self) -> str:
        return f"https://127.0.0.1:{port(self.port_base, 'API_PORT')}"

    @property
    def ca_file(self) -> Path:
        return self.directory / "pki" / "ca.crt"

    def developer_token(self) -> str:
        """The bearer token of the cluster's one person, `developer`, in dev's named group
        llama-stack-developers (cluster.sh: the API server's token file)."""
        return (self.directory / "pki" / "tokens.csv").read_text().split(",", 1)[0]

    @property
    def logs(self) -> Path:
        return self.directory / "logs"

    def _script(self, action: str, script: str = "cluster.sh") -> str:
        env = {**os.environ, "CLUSTER_DIR": str(self.directory), "PORT_BASE": str(self.port_base),
               "NODE": self.node}
        proc = subprocess.run(["bash", str(HERE / script), action], env=env, capture_output=True,
                              text=True, timeout=900)
        if proc.returncode != 0:
            raise CommandFailed(f"{script} {action} failed:\n{proc.stderr[-3000:]}\nlogs: {self.logs}")
        return proc.stdout

    def add_node(self) -> str:
        """A second real node on this machine (node.sh add-node), for what needs two: a drain. Its name."""
        return self._script("add-node", "node/node.sh").split()[-1]

    def remove_node(self) -> None:
        self._script("remove-node", "node/node.sh")

    def up(self, fresh: bool = True) -> "LocalCluster":
        if fresh:
            self._script("clean")
        self._script("up")
        return self

    def down(self) -> None:
        self._script("down")

    def env(self) -> dict[str, str]:
        """The environment `. <dir>/env` gives: tools on PATH, KUBECONFIG, Pulumi settings."""
        env = dict(os.environ)
        for key in ("PULUMI_BACKEND_URL", "PULUMI_ACCESS_TOKEN", "KUBECONFIG", "PULUMI_CONFIG_PASSPHRASE_FILE"):
            env.pop(key, None)
        env.update({
            "PATH": f"{TOOLCHAIN_BIN}:{env.get('PATH', '')}",
            "KUBECONFIG": str(self.kubeconfig),
            "PULUMI_CONFIG_PASSPHRASE": "local-cluster-not-a-secret",
            "PULUMI_HOME": str(PULUMI_HOME),
            "E2E_CACHE": str(E2E_CACHE),
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        })
        return env

    def audit_events(self, user: str) -> list[dict[str, Any]]:
        """What the API server's audit log recorded for `user` (Secrets only, metadata level: cluster.sh)."""
        log = self.logs / "audit.log"
        events = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        return [e for e in events if e.get("user", {}).get("username") == user]

    def log_path(self, name: str) -> Path:
        with _SEQ_LOCK:  # commands may run from several threads (probes, loads)
            self._seq += 1
            seq = self._seq
        path = self.directory / "commands" / f"{seq:03d}-{name}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def run(self, argv: list[str], *, cwd: Optional[Path] = None, input: Optional[str] = None,
            check: bool = True, timeout: float = 600, env: Optional[dict[str, str]] = None,
            name: Optional[str] = None) -> subprocess.CompletedProcess:
        log = self.log_path(name or "-".join(Path(a).name for a in argv[:3]).replace("/", "_")[:60])
        started = time.monotonic()
        proc = subprocess.run(argv, cwd=cwd, input=input, capture_output=True, text=True, timeout=timeout,
                              env=env or self.env())
        log.write_text(f"$ {' '.join(argv)}\n# cwd={cwd} rc={proc.returncode} "
                       f"seconds={time.monotonic() - started:.1f}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
        if check and proc.returncode != 0:
            tail = (proc.stdout + proc.stderr)[-4000:]
            raise CommandFailed(f"`{' '.join(argv)}` exited {proc.returncode}:\n{tail}\n"
                                f"full output: {log}\ncontrol-plane logs: {self.logs}/")
        return proc

    def kubectl(self, *args: str, input: Optional[str] = None, check: bool = True) -> subprocess.CompletedProcess:
        return self.run([str(TOOLCHAIN_BIN / "kubectl"), *args], input=input, check=check, name="kubectl-" + args[0])

    def get(self, *args: str) -> Any:
        """`kubectl get ... -o json`, parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def get_raw(self, path: str) -> Any:
        """`kubectl get --raw PATH`, parsed (aggregated APIs such as metrics.k8s.io)."""
        return json.loads(self.kubectl("get", "--raw", path).stdout)

    def wait_until(self, what: str, predicate, timeout: float = 60, interval: float = 1) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not true after {timeout:.0f}s (logs: {self.logs}/)")
            time.sleep(interval)


@dataclass
class Project:
    """A copy of the project with its own stack and file backend, run by the real CLI."""

    cluster: LocalCluster
    workdir: Path
    stack: str
    stack_source: Optional[str] = None  # the stack file to start from (default Pulumi.<stack>.yaml)
    secrets: dict[str, str] = field(default_factory=dict)
    env_extra: dict[str, str] = field(default_factory=dict)  # e.g. a KUBECONFIG naming more clusters

    def __post_init__(self) -> None:
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        for name in PROJECT_FILES:
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, self.workdir / name,
                                ignore=shutil.ignore_patterns("__pycache__", "venv"))
            else:
                shutil.copy2(src, self.workdir / name)
        # One virtualenv for the program and the policy pack: the checkout's.
        (self.workdir / "venv").symlink_to(ROOT / "venv")
        (self.workdir / "policy" / "venv").symlink_to(ROOT / "venv")
        shutil.copy2(ROOT / f"Pulumi.{self.stack_source or self.stack}.yaml", self.stack_file)
        (self.workdir / "state").mkdir()
        self.pulumi("stack", "init", self.stack)
        for key, value in self.secrets.items():
            self.pulumi("config", "set", "--secret", key, value, "--stack", self.stack)

    @property
    def stack_file(self) -> Path:
        return self.workdir / f"Pulumi.{self.stack}.yaml"

    def env(self) -> dict[str, str]:
        return {**self.cluster.env(), "PULUMI_BACKEND_URL": f"file://{self.workdir / 'state'}", **self.env_extra}

    def pulumi(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
        argv = [str(TOOLCHAIN_BIN / "pulumi"), *args, "--non-interactive"]
        if args[0] not in ("stack", "config") or args[:2] == ("stack", "output"):
            argv += ["--stack", self.stack]
        return self.cluster.run(argv, cwd=self.workdir, check=check, timeout=timeout, env=self.env(),
                                name=f"pulumi-{self.stack}-{args[0]}")

    # --- settings, as a user edits the stack file
    def settings(self) -> dict[str, Any]:
        return yaml.safe_load(self.stack_file.read_text())["config"]

    def set_setting(self, key: str, value: Any) -> None:
        """Replace one top-level setting (`mcpServer`) in the stack file, keeping the rest."""
        data = yaml.safe_load(self.stack_file.read_text())
        data["config"][f"llamastack-mcp:{key}"] = value
        self.stack_file.write_text(yaml.safe_dump(data, sort_keys=False))

    # --- commands
    def up(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.pulumi("up", "--yes", "--skip-preview", *extra, check=check)

    def preview_steps(self, *extra: str) -> list[dict[str, Any]]:
        """`pulumi preview --json` steps (op, urn, type, diffReasons ...)."""
        out = self.pulumi("preview", "--json", *extra).stdout
        return json.loads(out).get("steps", [])

    def outputs(self) -> dict[str, Any]:
        return json.loads(self.pulumi("stack", "output", "--json").stdout)

    def destroy(self) -> subprocess.CompletedProcess:
        return self.pulumi("destroy", "--yes", "--skip-preview")


def changed(steps: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(op, 'Kind name') of every step that is not 'same'."""
    out = []
    for step in steps:
        if step.get("op") == "same":
            continue
        out.append((step["op"], urn_name(step["urn"])))
    return out


def urn_name(urn: str) -> str:
    """`type::name` of a URN (urn:pulumi:STACK::PROJECT::PARENT$TYPE::NAME)."""
    _, _, types, name = urn.split("::", 3)
    return f"{types.split('$')[-1]}::{name}"
