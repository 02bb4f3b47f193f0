"""What a prod user provides beside the stack, made on the local cluster: the PostgreSQL that prod's
stack file names (`postgres.llama-stack-data.svc.cluster.local`, user and database `llamastack`), and
the MCP server's serving certificate as a `kubernetes.io/tls` Secret with its `ca.crt` (what
cert-manager writes) for passthrough on plain Kubernetes, and a trace collector for `telemetry`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from components.meta import container_security_context
from testbed.localcluster import model as model_endpoint

ROOT = Path(__file__).resolve().parents[2]

POSTGRES_IMAGE = "localhost/llamastack-mcp/postgres:15"  # testbed/localcluster/images/build.sh
POSTGRES_UID = 999  # the image's postgres user
DATA = "/var/lib/postgresql/data/pg"

RESTRICTED = container_security_context(None)  # the pod names the UID

# initdb once per pod (its data is an emptyDir): the stack's user owns its database, and only
# password (SCRAM) logins come over the network. UTF-8: Llama Stack's key-value queries carry
# non-ASCII bounds, which a SQL_ASCII database (initdb's default without a locale) refuses.
INIT = f"""set -e
initdb -D {DATA} --encoding=UTF8 --locale=C --username=llamastack --pwfile=/credentials/password --auth-local=trust --auth-host=scram-sha-256
echo "host all all 0.0.0.0/0 scram-sha-256" >> {DATA}/pg_hba.conf
echo "CREATE DATABASE llamastack OWNER llamastack" | postgres --single -D {DATA} postgres >/dev/null
"""


def postgres(namespace: str, password: str) -> list[dict]:
    labels = {"app.kubernetes.io/name": "postgres"}
    mounts = [{"name": "data", "mountPath": "/var/lib/postgresql/data"},
              {"name": "run", "mountPath": "/var/run/postgresql"}, {"name": "tmp", "mountPath": "/tmp"}]
    init = {"name": "initdb", "image": POSTGRES_IMAGE, "command": ["sh", "-c", INIT], "securityContext": RESTRICTED,
            "volumeMounts": mounts + [{"name": "credentials", "mountPath": "/credentials", "readOnly": True}]}
    server = {"name": "postgres", "image": POSTGRES_IMAGE,
              "args": ["-D", DATA, "-c", "listen_addresses=*"], "ports": [{"containerPort": 5432, "name": "pg"}],
              "readinessProbe": {"exec": {"command": ["pg_isready", "-h", "127.0.0.1", "-U", "llamastack"]},
                                 "periodSeconds": 2},
              "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
              "securityContext": RESTRICTED, "volumeMounts": mounts}
    return [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "postgres-credentials", "namespace": namespace},
         "stringData": {"password": password}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "postgres", "namespace": namespace},
         "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {
             "enableServiceLinks": False,
             "securityContext": {"runAsUser": POSTGRES_UID, "runAsGroup": POSTGRES_UID, "fsGroup": POSTGRES_UID},
             "initContainers": [init], "containers": [server],
             "volumes": [{"name": "data", "emptyDir": {}}, {"name": "run", "emptyDir": {}},
                         {"name": "tmp", "emptyDir": {}},
                         {"name": "credentials", "secret": {"secretName": "postgres-credentials"}}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "postgres", "namespace": namespace},
         "spec": {"selector": labels, "ports": [{"port": 5432, "targetPort": "pg"}]}},
    ]


def serving_certificate(directory: Path, service: str, namespace: str) -> dict[str, str]:
    """A CA and a certificate for `service`'s in-cluster names: {tls.crt, tls.key, ca.crt} as text."""
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    names = ",".join(f"DNS:{service}.{namespace}{suffix}" for suffix in ("", ".svc", ".svc.cluster.local"))
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-issuer",
            "-keyout", "ca.key", "-out", "ca.crt")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={service}.{namespace}.svc",
            "-keyout", "tls.key", "-out", "tls.csr")
    (directory / "ext").write_text(f"subjectAltName={names}\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "ext", "-out", "tls.crt")
    return {name: (directory / name).read_text() for name in ("tls.crt", "tls.key", "ca.crt")}


def edge_certificate(directory: Path, domain: str) -> dict[str, str]:
    """A CA and a wildcard certificate for `*.DOMAIN` (the way in's hosts): {tls.crt, tls.key, ca.crt} as text."""
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=edge-test-issuer",
            "-keyout", "ca.key", "-out", "ca.crt")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN=*.{domain}", "-keyout", "tls.key", "-out", "tls.csr")
    (directory / "ext").write_text(f"subjectAltName=DNS:*.{domain}\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "ext", "-out", "tls.crt")
    return {name: (directory / name).read_text() for name in ("tls.crt", "tls.key", "ca.crt")}


def gateway(name: str, namespace: str, domain: str, secret: str, listeners: dict[str, int]) -> dict:
    """A Gateway of the local edge's class: one HTTPS listener per (name, port), for `*.DOMAIN`, TLS from
    `secret`, admitting routes from every namespace."""
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"gatewayClassName": "traefik", "listeners": [
                {"name": listener, "protocol": "HTTPS", "port": port, "hostname": f"*.{domain}",
                 "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": secret}]},
                 "allowedRoutes": {"namespaces": {"from": "All"}}} for listener, port in listeners.items()]}}


def tls_secret(name: str, namespace: str, files: dict[str, str]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                       "metadata": {"name": name, "namespace": namespace}, "stringData": files})


COLLECTOR_NAMESPACE, COLLECTOR = "observability", "otel-collector"
COLLECTOR_URL = f"http://{COLLECTOR}.{COLLECTOR_NAMESPACE}.svc:4318"  # what telemetry.otlpEndpoint names


def collector() -> list[dict]:
    """An OTLP/HTTP collector stand-in: testbed/e2e/otlp.py in the Llama Stack image (which holds opentelemetry-proto),
    printing each span it receives as a JSON line (read back with `kubectl logs`)."""
    labels = {"app.kubernetes.io/name": COLLECTOR}
    server = {"name": "collector", "image": model_endpoint.IMAGE,
              "command": ["python3", "/receiver/otlp.py", "--bind", "0.0.0.0", "--port", "4318"],
              "ports": [{"containerPort": 4318, "name": "otlp-http"}],
              "readinessProbe": {"tcpSocket": {"port": "otlp-http"}, "periodSeconds": 2},
              "resources": {"requests": {"cpu": "10m", "memory": "48Mi"}, "limits": {"memory": "192Mi"}},
              "securityContext": RESTRICTED, "volumeMounts": [{"name": "receiver", "mountPath": "/receiver"}]}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": COLLECTOR_NAMESPACE}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "otlp-receiver", "namespace": COLLECTOR_NAMESPACE},
         "data": {"otlp.py": (ROOT / "testbed" / "e2e" / "otlp.py").read_text()}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": COLLECTOR, "namespace": COLLECTOR_NAMESPACE},
         "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {
             "enableServiceLinks": False, "securityContext": {"runAsUser": 10002, "runAsGroup": 10002},
             "containers": [server], "volumes": [{"name": "receiver", "configMap": {"name": "otlp-receiver"}}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": COLLECTOR, "namespace": COLLECTOR_NAMESPACE},
         "spec": {"selector": labels, "ports": [{"port": 4318, "targetPort": "otlp-http"}]}},
    ]


def received_spans(kubectl_logs: str) -> list[dict]:
    return [json.loads(line) for line in kubectl_logs.splitlines() if line.startswith("{")]
