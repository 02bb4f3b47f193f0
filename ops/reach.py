"""How the operator commands (`make verify`, `make ask`) reach a deployed stack: its outputs, its public URL
(on the local cluster connected at its edge), a port-forward to a Service, curl-style address mapping."""

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

# Set by `make verify/ask` on the local cluster, whose Routes have no router: a server without an Ingress or
# HTTPRoute (which its edge serves) is reached through its Service instead.
PORT_FORWARD_ENV = "LLAMASTACK_MCP_PORT_FORWARD"


# Set on the local cluster (real node): the loopback address where its edge (Traefik) serves every Ingress and
# HTTPRoute. A stack exposed through one is reached at its real URL, connected there.
EDGE_ENV = "LLAMASTACK_MCP_EDGE"


def port_forward_by_default() -> bool:
    return os.environ.get(PORT_FORWARD_ENV, "") not in ("", "0", "false")


def edge_address() -> Optional[str]:
    return os.environ.get(EDGE_ENV) or None


def edge_serving(namespace: str, name: str, kubectl: str = "kubectl") -> Optional[str]:
    """The local cluster's edge address, when it serves this server's way in (an Ingress or an HTTPRoute; not a
    Route, which has no router there); else None."""
    address = edge_address()
    if address is None or not shutil.which(kubectl):
        return None
    found = subprocess.run([kubectl, "get", "-n", namespace, "ingresses.networking.k8s.io,"
                            "httproutes.gateway.networking.k8s.io", "-o", "name",
                            "--field-selector", f"metadata.name={name}"],
                           capture_output=True, text=True).stdout
    return address if found.strip() else None


@contextlib.contextmanager
def connected_at(url: str, address: str) -> Iterator[str]:
    """Connections to URL's host go to ADDRESS instead, on the URL's own port (curl's --resolve): the request keeps
    its URL, so its Host header and TLS server name, and the name is never looked up."""
    host = urllib.parse.urlsplit(url).hostname
    real = socket.getaddrinfo

    def getaddrinfo(name, *args, **kwargs):
        # anyio (httpx's async clients, the MCP SDK's) asks with the name as bytes.
        if (name.decode() if isinstance(name, bytes) else name) == host:
            return real(address, *args, **kwargs)
        return real(name, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    try:
        yield url
    finally:
        socket.getaddrinfo = real


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
