"""How the operator commands (`make verify`, `make ask`) reach a deployed stack: its outputs, a
port-forward to a Service, curl-style address mapping, and a token when none is given."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
from typing import Any, Iterator, Optional

# Set by `make verify/ask` on the local cluster, whose Routes and Ingresses have no router: the
# servers are reached through their Services instead.
PORT_FORWARD_ENV = "LLAMASTACK_MCP_PORT_FORWARD"


def port_forward_by_default() -> bool:
    return os.environ.get(PORT_FORWARD_ENV, "") not in ("", "0", "false")


@contextlib.contextmanager
def port_forward(namespace: str, service: str, port: int, scheme: str = "http",
                 kubectl: str = "kubectl", env: Optional[dict[str, str]] = None) -> Iterator[str]:
    """`kubectl port-forward svc/SERVICE` on a free loopback port: yields `SCHEME://127.0.0.1:PORT`."""
    if not shutil.which(kubectl):
        raise RuntimeError(f"kubectl is needed to reach {service} through its Service (or pass its URL)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        local = s.getsockname()[1]
    proc = subprocess.Popen([kubectl, "-n", namespace, "port-forward", f"svc/{service}", f"{local}:{port}",
                             "--address", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", local), timeout=1):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"kubectl port-forward svc/{service} -n {namespace} did not listen: "
                                   f"{(proc.communicate()[1] or '').strip()[-300:]}")
            time.sleep(0.3)
        yield f"{scheme}://127.0.0.1:{local}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def resolve(url: Optional[str], mapping: dict[str, str]) -> Optional[str]:
    """The URL with its HOST:PORT replaced as --resolve says (like curl's --resolve)."""
    if not url:
        return url
    parts = urllib.parse.urlsplit(url)
    return parts._replace(netloc=mapping.get(parts.netloc, parts.netloc)).geturl()


def stack_outputs(stack: str) -> dict[str, Any]:
    if not shutil.which("pulumi"):
        raise RuntimeError("the Pulumi CLI is needed to read stack outputs (or pass the URLs directly)")
    out = subprocess.run(["pulumi", "stack", "output", "--json", "--stack", stack], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def service_of(url: str) -> tuple[str, str, int, str]:
    """(service, namespace, port, scheme) of an in-cluster URL `SCHEME://SERVICE.NAMESPACE.svc...:PORT`."""
    parts = urllib.parse.urlsplit(url)
    service, namespace = parts.hostname.split(".")[:2]
    return service, namespace, parts.port or (443 if parts.scheme == "https" else 80), parts.scheme
