"""The real Prometheus (Debian's `prometheus`) on loopback, configured from the cluster's own objects.

Scrape jobs are made from the ServiceMonitors the API server holds, the way the Prometheus Operator
makes them: endpoint discovery (EndpointSlices) in the monitor's namespaces, kept when the Service's
labels match its selector and the port's name its `port`; `job` is the Service's name, and
`namespace`, `service`, `pod`, `container`, `endpoint` are set from the target. TLS settings come
from `tlsConfig` (its CA read from the ConfigMap or Secret it names). Rules are the PrometheusRules'
groups as they are.

Debian's build (2.42.0+ds) has no Kubernetes service discovery (`kubernetes_sd_configs` is not
compiled in), so `Discovery` does that one part: every few seconds it lists the EndpointSlices,
Services and Pods and writes them as file_sd targets carrying the meta labels Kubernetes discovery
would give (`__meta_kubernetes_service_label_*`, `..._endpointslice_port_name`, `..._pod_name`, ...).
The relabelling, the Operator's part, is then exactly as it would be.
"""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

import httpx
import yaml

from .load import local_only

NAMESPACE = "monitoring"  # where a plain-Kubernetes Prometheus runs (networkPolicy.monitoringNamespace)
EVALUATION = "5s"


def _label(name: str) -> str:
    """A Kubernetes label name as Prometheus's discovery spells it in meta labels."""
    return "".join(c if c.isalnum() else "_" for c in name)


def monitored_namespaces(monitor: dict[str, Any]) -> list[str]:
    return monitor["spec"].get("namespaceSelector", {}).get("matchNames") or [monitor["metadata"]["namespace"]]


def scrape_job(monitor: dict[str, Any], index: int, endpoint: dict[str, Any], targets: Path,
               secrets_dir: Path, read_ca: Callable[[str, dict], str]) -> dict[str, Any]:
    """One Operator-style job; its targets are read from `targets` (written by `Discovery`)."""
    meta, spec = monitor["metadata"], monitor["spec"]
    keep = [{"source_labels": [f"__meta_kubernetes_service_label_{_label(k)}",
                               f"__meta_kubernetes_service_labelpresent_{_label(k)}"],
             "regex": f"{v};true", "action": "keep"} for k, v in spec["selector"].get("matchLabels", {}).items()]
    job: dict[str, Any] = {
        "job_name": f"serviceMonitor/{meta['namespace']}/{meta['name']}/{index}",
        "scrape_interval": endpoint.get("interval", "30s"),
        "metrics_path": endpoint.get("path", "/metrics"),
        "scheme": endpoint.get("scheme", "http"),
        "file_sd_configs": [{"files": [str(targets)], "refresh_interval": "5s"}],
        "relabel_configs": keep + [
            {"source_labels": ["__meta_kubernetes_endpointslice_port_name"], "regex": endpoint["port"],
             "action": "keep"},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
            {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job"},
            {"target_label": "endpoint", "replacement": endpoint["port"]},
        ],
    }
    tls = endpoint.get("tlsConfig")
    if tls:
        config: dict[str, Any] = {}
        if "serverName" in tls:
            config["server_name"] = tls["serverName"]
        for kind in ("configMap", "secret"):
            if kind in tls.get("ca", {}):
                ca_file = secrets_dir / f"{meta['namespace']}-{meta['name']}-{index}-ca.crt"
                ca_file.write_text(read_ca(meta["namespace"], {kind: tls["ca"][kind]}))
                config["ca_file"] = str(ca_file)
        job["tls_config"] = config
    return job


def endpointslice_targets(slices: list[dict], services: list[dict], pods: list[dict]) -> list[dict[str, Any]]:
    """file_sd target groups with the meta labels `kubernetes_sd_configs` (role endpointslice) gives."""
    by_service = {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in services}
    by_pod = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in pods}
    groups = []
    for piece in slices:
        namespace = piece["metadata"]["namespace"]
        service_name = piece["metadata"].get("labels", {}).get("kubernetes.io/service-name", "")
        service = by_service.get((namespace, service_name))
        common = {"__meta_kubernetes_namespace": namespace,
                  "__meta_kubernetes_endpointslice_name": piece["metadata"]["name"]}
        if service:
            common["__meta_kubernetes_service_name"] = service_name
            for key, value in service["metadata"].get("labels", {}).items():
                common[f"__meta_kubernetes_service_label_{_label(key)}"] = value
                common[f"__meta_kubernetes_service_labelpresent_{_label(key)}"] = "true"
        for endpoint in piece.get("endpoints") or []:
            ref = endpoint.get("targetRef") or {}
            pod = by_pod.get((namespace, ref.get("name"))) if ref.get("kind") == "Pod" else None
            ready = endpoint.get("conditions", {}).get("ready", False)
            for port in piece.get("ports") or []:
                labels = {**common, "__meta_kubernetes_endpointslice_port_name": port.get("name", ""),
                          "__meta_kubernetes_endpointslice_endpoint_conditions_ready": str(bool(ready)).lower()}
                if pod:
                    labels["__meta_kubernetes_pod_name"] = pod["metadata"]["name"]
                    labels["__meta_kubernetes_pod_node_name"] = pod["spec"].get("nodeName", "")
                    container = next((c["name"] for c in pod["spec"]["containers"]
                                      for p in c.get("ports", []) if p.get("containerPort") == port.get("port")), "")
                    labels["__meta_kubernetes_pod_container_name"] = container
                for address in endpoint.get("addresses", []):
                    groups.append({"targets": [f"{address}:{port['port']}"], "labels": labels})
    return groups


class Discovery(threading.Thread):
    """Writes each monitor's targets every `interval` seconds until stopped (see the module's doc)."""

    def __init__(self, cluster, files: dict[Path, list[str]], interval: float = 3.0):
        super().__init__(daemon=True)
        self.cluster, self.files, self.interval, self.done = cluster, files, interval, threading.Event()

    def write(self) -> None:
        for path, namespaces in self.files.items():
            groups = []
            for namespace in namespaces:
                items = self.cluster.get("endpointslices.discovery.k8s.io,services,pods", "-n", namespace)["items"]
                kinds = {kind: [i for i in items if i["kind"] == kind] for kind in ("EndpointSlice", "Service", "Pod")}
                groups += endpointslice_targets(kinds["EndpointSlice"], kinds["Service"], kinds["Pod"])
            partial = path.with_suffix(".tmp")
            partial.write_text(json.dumps(groups))
            partial.replace(path)  # Prometheus never reads half a file

    def run(self) -> None:
        while not self.done.wait(self.interval):
            try:
                self.write()
            except Exception:  # an API hiccup: the next round writes again
                pass


def rule_file(rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"groups": [group for rule in rules for group in rule["spec"]["groups"]]}


class Prometheus:
    """Prometheus on 127.0.0.1:`port`, its data and config under `directory`, fed by `cluster`."""

    def __init__(self, cluster, directory: Path, port: int):
        self.cluster, self.directory, self.port = cluster, Path(directory), port
        self.url = local_only(f"http://127.0.0.1:{port}")
        self.process: Optional[subprocess.Popen] = None
        self.discovery: Optional[Discovery] = None

    # ----------------------------------------------------------- from the cluster
    def _read_ca(self, namespace: str, source: dict) -> str:
        kind, ref = next(iter(source.items()))
        obj = self.cluster.get("configmap" if kind == "configMap" else "secret", ref["name"], "-n", namespace)
        value = obj["data"][ref["key"]]
        return value if kind == "configMap" else base64.b64decode(value).decode()

    def configure(self) -> Path:
        """prometheus.yml and rules.yml from every ServiceMonitor and PrometheusRule in the cluster."""
        self.directory.mkdir(parents=True, exist_ok=True)
        monitors = self.cluster.get("servicemonitors.monitoring.coreos.com", "-A")["items"]
        rules = self.cluster.get("prometheusrules.monitoring.coreos.com", "-A")["items"]
        jobs, files = [], {}
        for monitor in monitors:
            targets = self.directory / f"targets-{monitor['metadata']['namespace']}-{monitor['metadata']['name']}.json"
            files[targets] = monitored_namespaces(monitor)
            jobs += [scrape_job(monitor, i, e, targets, self.directory, self._read_ca)
                     for i, e in enumerate(monitor["spec"]["endpoints"])]
        self.discovery = Discovery(self.cluster, files)
        self.discovery.write()
        (self.directory / "rules.yml").write_text(yaml.safe_dump(rule_file(rules), sort_keys=False))
        config = {"global": {"scrape_interval": "30s", "evaluation_interval": EVALUATION},
                  "rule_files": [str(self.directory / "rules.yml")], "scrape_configs": jobs}
        path = self.directory / "prometheus.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        check = subprocess.run(["promtool", "check", "config", str(path)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"promtool check config: {check.stdout}{check.stderr}")
        return path

    # ------------------------------------------------------------------ process
    def start(self) -> "Prometheus":
        config = self.configure()
        self.discovery.start()
        log = open(self.directory / "prometheus.log", "w")
        self.process = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={self.directory / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=2h"],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"prometheus not ready in 60 s: {self.directory / 'prometheus.log'}")

    def stop(self) -> None:
        if self.discovery:
            self.discovery.done.set()
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "Prometheus":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------- asking
    def query(self, expr: str) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10).json()
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def alert(self, name: str) -> str:
        """The alert's state now: inactive, pending or firing (the rule's own view)."""
        groups = httpx.get(f"{self.url}/api/v1/rules", params={"type": "alert"}, timeout=10).json()["data"]["groups"]
        for group in groups:
            for rule in group["rules"]:
                if rule["name"] == name:
                    return rule["state"]
        raise KeyError(f"no alerting rule {name} loaded")

    def targets(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
