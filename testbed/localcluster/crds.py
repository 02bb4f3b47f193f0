"""The upstream CRDs the local cluster installs, and JSON schemas derived from them.

The same files serve the API server (cluster.sh applies them) and the offline
schema checks (tests): Route and SecurityContextConstraints from
github.com/openshift/api, ServiceMonitor and PrometheusRule from the Prometheus
Operator, HTTPRoute, BackendTLSPolicy and the rest of Gateway API's standard channel
from sigs.k8s.io/gateway-api, Pulumi's project schema from the Pulumi SDK, each at the version
pinned in versions.env and fetched through the Go module cache. Nothing is
copied into this repository.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import subprocess
from pathlib import Path
from typing import Any


HERE = Path(__file__).resolve().parent


def versions() -> dict[str, str]:
    out = {}
    for line in (HERE / "versions.env").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def _gateway_api(plural: str) -> tuple[str, str, str]:
    return ("sigs.k8s.io/gateway-api", "GATEWAY_API_VERSION",
            f"config/crd/standard/gateway.networking.k8s.io_{plural}.yaml")


# kind -> (module, version key in versions.env, path inside the module)
CRDS = {
    "Route": ("github.com/openshift/api", "OPENSHIFT_API_VERSION",
              "route/v1/zz_generated.crd-manifests/routes.crd.yaml"),
    "SecurityContextConstraints": (
        "github.com/openshift/api", "OPENSHIFT_API_VERSION",
        "security/v1/zz_generated.crd-manifests/0000_03_config-operator_01_securitycontextconstraints.crd.yaml"),
    "ServiceMonitor": ("github.com/prometheus-operator/prometheus-operator", "PROMETHEUS_OPERATOR_VERSION",
                       "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"),
    "PrometheusRule": ("github.com/prometheus-operator/prometheus-operator", "PROMETHEUS_OPERATOR_VERSION",
                       "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml"),
    # Gateway API's standard channel, at the release the local gateway (Traefik) is built against.
    "HTTPRoute": _gateway_api("httproutes"),
    "BackendTLSPolicy": _gateway_api("backendtlspolicies"),
}
# Installed for the gateway's sake (it watches them, and the tests create a Gateway), never rendered by the program.
GATEWAY_CRDS = {kind: _gateway_api(plural) for kind, plural in (
    ("Gateway", "gateways"), ("GatewayClass", "gatewayclasses"), ("GRPCRoute", "grpcroutes"),
    ("ReferenceGrant", "referencegrants"))}


class ModuleUnavailable(RuntimeError):
    pass


@functools.lru_cache(maxsize=None)
def module_dir(module: str, version: str) -> Path:
    """The module's directory in Go's module cache (downloaded once through the proxy)."""
    env = {**os.environ, "GOFLAGS": "-mod=mod"}
    try:
        proc = subprocess.run(["go", "mod", "download", "-json", f"{module}@{version}"], capture_output=True,
                              text=True, env=env, timeout=300, cwd=HERE)
    except FileNotFoundError:
        raise ModuleUnavailable("the Go toolchain (go) is needed to fetch the upstream CRDs; install Go") from None
    info = json.loads(proc.stdout or "{}")
    if proc.returncode != 0 or "Dir" not in info:
        raise ModuleUnavailable(f"go mod download {module}@{version} failed: {info.get('Error') or proc.stderr}")
    return Path(info["Dir"])


def crd_path(kind: str) -> Path:
    module, key, path = {**CRDS, **GATEWAY_CRDS}[kind]
    return module_dir(module, versions()[key]) / path


@functools.lru_cache(maxsize=None)
def crd(kind: str) -> dict[str, Any]:
    import yaml  # not needed to list the files (cluster.sh runs this with a bare python3)
    return yaml.safe_load(crd_path(kind).read_text())


def _strict(schema: Any) -> Any:
    """OpenAPI v3 as JSON schema, where unknown fields are errors.

    (The API server prunes unknown fields silently; we want to know.)
    """
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items() if v is not None}
        if schema.get("x-kubernetes-int-or-string") and "anyOf" not in schema:
            schema["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        if ("properties" in schema and "additionalProperties" not in schema
                and not schema.get("x-kubernetes-preserve-unknown-fields")):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@functools.lru_cache(maxsize=None)
def _schema_json(kind: str, version: str) -> str:
    spec = crd(kind)["spec"]
    served = next(v for v in spec["versions"] if v["name"] == version)
    schema = copy.deepcopy(served["schema"]["openAPIV3Schema"])
    group = spec["group"]
    schema.setdefault("properties", {})
    schema["properties"]["apiVersion"] = {"type": "string", "enum": [f"{group}/{version}"]}
    schema["properties"]["kind"] = {"type": "string", "enum": [spec["names"]["kind"]]}
    # metadata is the API server's ObjectMeta, not part of the CRD's schema.
    schema["properties"]["metadata"] = {
        "type": "object", "required": ["name"],
        "properties": {"name": {"type": "string"}, "namespace": {"type": "string"},
                       "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                       "annotations": {"type": "object", "additionalProperties": {"type": "string"}}},
        "additionalProperties": False,
    }
    schema.setdefault("required", [])
    schema["required"] = sorted(set(schema["required"]) | {"apiVersion", "kind", "metadata"})
    return json.dumps(_strict(schema))


def json_schema(kind: str, version: str = "v1") -> dict[str, Any]:
    """A strict JSON schema (draft 7 compatible) for one served version of a CRD kind."""
    return json.loads(_schema_json(kind, version))


def pulumi_project_schema() -> dict[str, Any]:
    """Pulumi.yaml's JSON schema, from the Pulumi SDK release the CLI is built from."""
    sdk = module_dir("github.com/pulumi/pulumi/sdk/v3", versions()["PULUMI_VERSION"])
    return json.loads((sdk / "go/common/workspace/project.json").read_text())


if __name__ == "__main__":
    import sys
    if sys.argv[1:2] == ["module"]:  # cluster.sh: `crds.py module MODULE VERSION` -> its directory
        print(module_dir(sys.argv[2], sys.argv[3]))
    else:  # cluster.sh: the CRD files to apply, one per line
        for name in (*CRDS, *GATEWAY_CRDS):
            print(crd_path(name))
