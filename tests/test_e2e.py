"""End to end: the real servers, started from exactly what the program renders.

The MCP server binary runs with the Deployment's container args (only the
port and a kubeconfig that points at no cluster added); Llama Stack / OGX run
their rendered config.yaml with only the MCP host, storage paths, TLS file
paths and (prod) the database address rewritten to run outside a pod. Then
`tools/verify.py` -- the same checks `make verify` runs after a deploy --
must pass against them.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

import pytest
import yaml

import offline
from components import llama_stack_config
from components.settings import image_tag
from conftest import ROOT, TEST_SECRETS, container, run_variant
from tools import verify

CACHE = Path(os.environ.get("E2E_CACHE", Path.home() / ".cache" / "llamastack-mcp-e2e"))
MCP = "kubernetes-mcp-server"
IN_CLUSTER_MCP = f"{MCP}.llama-stack.svc.cluster.local:8080"
DESTRUCTIVE = {"pods_delete", "pods_run", "pods_exec", "resources_delete", "resources_create_or_update"}
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:1"}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
users: [{name: none, user: {token: not-a-cluster}}]
"""


def _deps(item: str) -> str:
    proc = subprocess.run(["bash", str(ROOT / "tools" / "e2e-deps.sh"), item], capture_output=True, text=True,
                          env={**os.environ, "E2E_CACHE": str(CACHE)}, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"tools/e2e-deps.sh {item} failed:\n{proc.stderr[-2000:]}")
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def python312() -> None:
    try:
        _deps("python312")
    except RuntimeError:
        pytest.skip("Python 3.12 is missing (pyenv or python3.12): the Llama Stack / OGX servers need it")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """Everything a test starts; all stopped at the end, even on failure."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[tuple[subprocess.Popen, Path]] = []

    def start(self, name: str, cmd: list[str], env: Optional[dict[str, str]] = None) -> subprocess.Popen:
        log = self.workdir / f"{name}.log"
        proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=self.workdir,
                                env={**os.environ, **(env or {})}, start_new_session=True)
        self.procs.append((proc, log))
        return proc

    def wait_http(self, proc: subprocess.Popen, url: str, timeout: float) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"{proc.args[0]} exited ({proc.returncode}) before {url} answered:\n{self.log(proc)}")
            try:
                verify.http("GET", url, insecure=True, timeout=2)
                return
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        pytest.fail(f"{url} did not answer within {timeout}s:\n{self.log(proc)}")

    def log(self, proc: subprocess.Popen) -> str:
        return next(log for p, log in self.procs if p is proc).read_text()[-3000:]

    def stop(self) -> None:
        for proc, _ in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc, _ in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def procs():
    workdir = Path(tempfile.mkdtemp(prefix="lsmcp-e2e-"))
    workdir.chmod(0o755)  # PostgreSQL runs as its own user and must reach its data dir
    processes = Processes(workdir)
    yield processes
    processes.stop()
    shutil.rmtree(workdir, ignore_errors=True)


# ------------------------------------------------------------- MCP server

def start_mcp(run: offline.Run, procs: Processes) -> str:
    c = container(run, MCP)
    version = image_tag(c["image"])[0].lstrip("v")
    binary = _deps_mcp(version)
    args = list(c["args"])
    port = free_port()
    args[args.index("--port") + 1] = str(port)  # only the port and the kubeconfig differ from the pod
    kubeconfig = procs.workdir / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    proc = procs.start("mcp", [binary, *args, "--kubeconfig", str(kubeconfig)])
    procs.wait_http(proc, f"http://127.0.0.1:{port}/healthz", 30)
    return f"http://127.0.0.1:{port}/mcp"


def _deps_mcp(version: str) -> str:
    proc = subprocess.run(["bash", str(ROOT / "tools" / "e2e-deps.sh"), "mcp"], capture_output=True, text=True,
                          env={**os.environ, "E2E_CACHE": str(CACHE), "MCP_VERSION": version}, timeout=900)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


# ------------------------------------------------------------ PostgreSQL

def start_postgres(procs: Processes, database: str, user: str, password: str) -> int:
    bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    data, sock = procs.workdir / "pgdata", procs.workdir / "pgsock"
    for d in (data, sock):
        d.mkdir()
        if as_pg:
            shutil.chown(d, "postgres", "postgres")
    subprocess.run([*as_pg, f"{bindir}/initdb", "-D", str(data), "-U", "postgres", "--auth-local=trust",
                    "--auth-host=scram-sha-256"], check=True, capture_output=True)
    port = free_port()
    proc = procs.start("postgres", [*as_pg, f"{bindir}/postgres", "-D", str(data), "-p", str(port), "-k", str(sock),
                                    "-c", "listen_addresses=127.0.0.1"])
    deadline = time.time() + 30
    while subprocess.run([f"{bindir}/pg_isready", "-h", str(sock), "-p", str(port)],
                         capture_output=True).returncode != 0:
        assert proc.poll() is None and time.time() < deadline, procs.log(proc)
        time.sleep(0.3)
    psql = [*as_pg, f"{bindir}/psql", "-h", str(sock), "-p", str(port), "-U", "postgres", "-v", "ON_ERROR_STOP=1"]
    subprocess.run([*psql, "-c", f"CREATE USER {user} PASSWORD '{password}'"], check=True, capture_output=True)
    subprocess.run([*psql, "-c", f"CREATE DATABASE {database} OWNER {user}"], check=True, capture_output=True)
    procs.psql = [*psql, "-d", database, "-tAc"]  # type: ignore[attr-defined]
    return port


# ----------------------------------------------------------- Llama Stack

def self_signed_cert(directory: Path) -> None:
    directory.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(directory / "tls.key"), "-out", str(directory / "tls.crt")],
                   check=True, capture_output=True)


def start_llama_stack(run: offline.Run, mcp_url: str, procs: Processes, venv: str,
                      postgres_port: Optional[int] = None) -> str:
    c = container(run, "llama-stack")
    text = run.one("ConfigMap", "llama-stack-config")["data"]["config.yaml"]
    local_mcp = mcp_url.removeprefix("http://").removesuffix("/mcp")
    state = procs.workdir / "state"
    state.mkdir()
    text = text.replace(IN_CLUSTER_MCP, local_mcp)
    config = yaml.safe_load(text)
    data_dir = "/.ogx" if c["command"][0] == "ogx" else "/.llama"
    for backend in config["storage"]["backends"].values():
        if "db_path" in backend:
            backend["db_path"] = backend["db_path"].replace(data_dir, str(state))
        if postgres_port is not None and "host" in backend:
            backend["host"], backend["port"] = "127.0.0.1", postgres_port
    server = config["server"]
    if "tls_certfile" in server:
        tls = procs.workdir / "tls"
        self_signed_cert(tls)
        server["tls_certfile"] = server["tls_certfile"].replace(llama_stack_config.TLS_DIR, str(tls))
        server["tls_keyfile"] = server["tls_keyfile"].replace(llama_stack_config.TLS_DIR, str(tls))
    config_file = procs.workdir / "config.yaml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))

    command = list(c["command"])
    command[command.index(llama_stack_config.config_path())] = str(config_file)
    port = free_port()
    command[command.index("--port") + 1] = str(port)
    command[0] = str(Path(venv) / "bin" / command[0])
    env = {e["name"]: e["value"] for e in c["env"] if "value" in e}
    env["KUBERNETES_MCP_URL"] = env["KUBERNETES_MCP_URL"].replace(IN_CLUSTER_MCP, local_mcp)
    env.update(HOME=str(state), POSTGRES_PASSWORD=TEST_SECRETS["postgresPassword"], OGX_LOGGING="all=warning",
               LLAMA_STACK_LOGGING="all=warning")
    proc = procs.start("llama-stack", command, env)
    scheme = "https" if "tls_certfile" in server else "http"
    base = f"{scheme}://127.0.0.1:{port}"
    procs.wait_http(proc, f"{base}/v1/health", 240)
    return base


def tool_names(mcp_url: str) -> set[str]:
    return {t["name"] for t in verify.mcp_tools(mcp_url)}


def verify_passes(capsys, *args: str) -> str:
    code = verify.main(list(args))
    out = capsys.readouterr().out
    assert code == 0, out
    assert "FAIL" not in out and out.count("PASS") == 4, out
    return out


# ------------------------------------------------------------------- tests

def test_dev_full_preset_and_llama_stack_0_7(python312, procs, capsys):
    run = offline.run_stack("dev")
    mcp_url = start_mcp(run, procs)
    names = tool_names(mcp_url)
    assert DESTRUCTIVE <= names, f"preset full must keep the write tools; got {sorted(names)}"
    base = start_llama_stack(run, mcp_url, procs, _deps("llama-stack"))
    verify_passes(capsys, "--llama-stack-url", base, "--mcp-url", mcp_url)
    status, text, _ = verify.http("GET", f"{base}/v1beta/connectors/kubernetes/tools")
    listed = {t["name"] for t in yaml.safe_load(text)["data"]}
    assert listed == names, "Llama Stack must list exactly the MCP server's tools"


def test_prod_read_only_on_postgres(python312, procs, capsys):
    run = offline.run_stack("prod", secrets={"postgresPassword": TEST_SECRETS["postgresPassword"]})
    mcp_url = start_mcp(run, procs)
    tools = verify.mcp_tools(mcp_url)
    names = {t["name"] for t in tools}
    assert names and not (names & DESTRUCTIVE), f"read-only must hide write tools; got {sorted(names)}"
    assert not any(verify.is_destructive(t) for t in tools), "every tool left must be annotated read-only"
    pg = run.one("ConfigMap", "llama-stack-config")["data"]["config.yaml"]
    pg_settings = yaml.safe_load(pg)["storage"]["backends"]["kv_default"]
    port = start_postgres(procs, pg_settings["db"], pg_settings["user"], TEST_SECRETS["postgresPassword"])
    base = start_llama_stack(run, mcp_url, procs, _deps("llama-stack"), postgres_port=port)
    verify_passes(capsys, "--llama-stack-url", base, "--mcp-url", mcp_url)
    tables = subprocess.run([*procs.psql, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"],  # type: ignore[attr-defined]
                            capture_output=True, text=True, check=True).stdout.strip()
    assert int(tables) > 0, "Llama Stack did not store its state in PostgreSQL"


def test_ogx_with_tls(python312, procs, capsys):
    run = run_variant("dev", llamaStack={"distribution": "ogx", "version": "1.5.0",
                                         "image": "docker.io/ogxai/distribution-starter:1.5.0"})
    assert run.error is None, run.error
    mcp_url = start_mcp(run, procs)
    base = start_llama_stack(run, mcp_url, procs, _deps("ogx"))
    assert base.startswith("https://"), "OGX on OpenShift serves TLS (service-serving certificate)"
    verify_passes(capsys, "--llama-stack-url", base, "--mcp-url", mcp_url, "--insecure")


def test_legacy_tool_groups_dialect_on_llama_stack_0_6(python312, procs, capsys):
    run = run_variant("dev", llamaStack={"version": "0.6.1", "image": "docker.io/llamastack/distribution-starter:0.6.1"})
    assert run.error is None, run.error
    venv = _deps("llama-stack-legacy")
    config = run.one("ConfigMap", "llama-stack-config")["data"]["config.yaml"]
    check = subprocess.run([f"{venv}/bin/python", "-c",
                            "import sys, yaml; from llama_stack.core.datatypes import StackConfig; "
                            "c = StackConfig(**yaml.safe_load(sys.stdin)); "
                            "print([g.toolgroup_id for g in c.registered_resources.tool_groups])"],
                           input=config, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr[-2000:]
    assert "mcp::kubernetes" in check.stdout
    mcp_url = start_mcp(run, procs)
    base = start_llama_stack(run, mcp_url, procs, venv)
    verify_passes(capsys, "--llama-stack-url", base, "--mcp-url", mcp_url)


def test_verify_fails_clearly_when_nothing_answers(capsys):
    port = free_port()
    code = verify.main(["--llama-stack-url", f"http://127.0.0.1:{port}", "--mcp-url", f"http://127.0.0.1:{port}/mcp"])
    out = capsys.readouterr().out
    assert code == 1 and "FAIL  Llama Stack health" in out and "FAIL  MCP server health" in out


