"""A git host on loopback: bare repositories served over HTTPS (git's smart HTTP protocol, `git
http-backend`), for `pulumi package add <git URL>/provider@vX.Y.Z` the way a consumer runs it.

Pulumi clones a package's git URL with go-git over https only; it trusts the certificate this server
presents when SSL_CERT_FILE names `ca_file` (Go reads it). It listens on 127.0.0.1 and nowhere else.
"""

from __future__ import annotations

import http.server
import os
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Optional


def issue_certificate(directory: Path) -> tuple[Path, Path, Path]:
    """A CA of its own and a certificate for 127.0.0.1 signed by it: (ca, cert, key)."""
    directory.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-git-host-ca",
            "-keyout", "ca.key", "-out", "ca.crt")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "tls.key", "-out", "tls.csr")
    (directory / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "san.ext", "-out", "tls.crt")
    return directory / "ca.crt", directory / "tls.crt", directory / "tls.key"


class _Backend(http.server.BaseHTTPRequestHandler):
    """Each request handed to `git http-backend` as CGI, its answer relayed."""

    root: Path

    def do_GET(self) -> None:  # noqa: N802 (http.server's names)
        self._cgi()

    def do_POST(self) -> None:  # noqa: N802
        self._cgi()

    def _cgi(self) -> None:
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_PROJECT_ROOT": str(self.root),
               "GIT_HTTP_EXPORT_ALL": "1", "REQUEST_METHOD": self.command, "PATH_INFO": path,
               "QUERY_STRING": query, "CONTENT_TYPE": self.headers.get("Content-Type", ""),
               "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": self.client_address[0],
               "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
               "GIT_PROTOCOL": self.headers.get("Git-Protocol", "")}
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=120).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = out.partition(b"\n\n")
        headers = [line.split(":", 1) for line in head.decode().splitlines() if ":" in line]
        status = next((int(v.split()[0]) for k, v in headers if k.lower() == "status"), 200)
        self.send_response(status)
        for key, value in headers:
            if key.lower() != "status":
                self.send_header(key, value.strip())
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:  # the test's output stays readable
        pass


class GitHost:
    """Serves every bare repository under `root` at https://127.0.0.1:<port>/<path>."""

    def __init__(self, root: Path, cert: Path, key: Path, port: int = 0) -> None:
        handler = type("Backend", (_Backend,), {"root": root})
        try:
            self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        except OSError as err:
            raise RuntimeError(f"the git host cannot listen on 127.0.0.1:{port} ({err.strerror}): "
                               f"stop what holds it (ss -ltnp 'sport = :{port}')") from None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "GitHost":
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def publish(checkout: Path, root: Path, path: str) -> Path:
    """A bare copy of `checkout` (its branches and tags, as a maintainer pushes them) at `root/path.git`."""
    bare = root / f"{path}.git"
    bare.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "--quiet", "--bare", "--no-local", str(checkout), str(bare)], check=True,
                   capture_output=True)
    return bare
