"""testbed/traffic/: the pieces the real-node traffic tests stand on, checked without a cluster.

The Prometheus configuration made from prod's rendered ServiceMonitor and PrometheusRule is what
promtool accepts and selects what the Operator would; a load refuses any address not on this machine
before sending anything, and never makes more calls than its bound.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import threading

import pytest
import yaml

from support import TEST_SECRETS
from testbed.traffic import resources
from testbed.traffic.load import McpLoad, local_only
from testbed.traffic.prometheus import endpointslice_targets, rule_file, scrape_job


@pytest.fixture(scope="module")
def prod_monitoring():
    from ops import offline
    run = offline.run_stack("prod", secrets={"postgresPassword": TEST_SECRETS["postgresPassword"]})
    assert run.error is None, run.error
    return run.one("ServiceMonitor"), run.one("PrometheusRule")


def test_the_scrape_job_selects_as_the_operator_would(prod_monitoring, tmp_path):
    monitor, _ = prod_monitoring
    cas = []
    job = scrape_job(monitor, 0, monitor["spec"]["endpoints"][0], tmp_path / "targets.json", tmp_path,
                     lambda ns, source: cas.append((ns, source)) or "CA")
    assert job["job_name"] == "serviceMonitor/llama-stack/kubernetes-mcp-server/0"
    assert job["file_sd_configs"] == [{"files": [str(tmp_path / "targets.json")], "refresh_interval": "5s"}]
    keeps = {tuple(r["source_labels"]): r["regex"] for r in job["relabel_configs"] if r.get("action") == "keep"}
    assert keeps[("__meta_kubernetes_service_label_app_kubernetes_io_name",
                  "__meta_kubernetes_service_labelpresent_app_kubernetes_io_name")] == "kubernetes-mcp-server;true"
    assert keeps[("__meta_kubernetes_endpointslice_port_name",)] == "http"
    # The rules select on job = the Service's name, as the Operator labels it.
    assert {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job"} in job["relabel_configs"]
    assert job["scheme"] == "https" and job["tls_config"]["server_name"] == "kubernetes-mcp-server.llama-stack.svc"
    assert cas == [("llama-stack", monitor["spec"]["endpoints"][0]["tlsConfig"]["ca"])]
    assert (tmp_path / "llama-stack-kubernetes-mcp-server-0-ca.crt").read_text() == "CA"


def test_promtool_accepts_the_configuration_and_the_rules(prod_monitoring, tmp_path):
    monitor, rule = prod_monitoring
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rule_file([rule])))
    job = scrape_job(monitor, 0, monitor["spec"]["endpoints"][0], tmp_path / "targets.json", tmp_path,
                     lambda ns, source: "CA")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(
        {"rule_files": [str(tmp_path / "rules.yml")], "scrape_configs": [job]}))
    check = subprocess.run(["promtool", "check", "config", str(tmp_path / "prometheus.yml")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "4 rules found" in check.stdout + check.stderr, check.stdout


def test_discovered_targets_carry_the_labels_kubernetes_discovery_gives(prod_monitoring):
    from ops import offline
    run = offline.run_stack("prod", secrets={"postgresPassword": TEST_SECRETS["postgresPassword"]})
    service = {**run.one("Service", "kubernetes-mcp-server"), "kind": "Service"}
    pod = {"kind": "Pod", "metadata": {"name": "mcp-1", "namespace": "llama-stack"},
           "spec": {"nodeName": "real-node", "containers": [{"name": "kubernetes-mcp-server",
                                                             "ports": [{"containerPort": 8080}]}]}}
    piece = {"kind": "EndpointSlice", "metadata": {"name": "s1", "namespace": "llama-stack",
                                                   "labels": {"kubernetes.io/service-name": "kubernetes-mcp-server"}},
             "endpoints": [{"addresses": ["10.88.0.7"], "conditions": {"ready": True},
                            "targetRef": {"kind": "Pod", "name": "mcp-1"}}],
             "ports": [{"name": "http", "port": 8080}]}
    (group,) = endpointslice_targets([piece], [service], [pod])
    assert group["targets"] == ["10.88.0.7:8080"]
    labels = group["labels"]
    assert labels["__meta_kubernetes_service_label_app_kubernetes_io_name"] == "kubernetes-mcp-server"
    assert labels["__meta_kubernetes_endpointslice_port_name"] == "http"
    assert labels["__meta_kubernetes_pod_name"] == "mcp-1"
    assert labels["__meta_kubernetes_pod_container_name"] == "kubernetes-mcp-server"
    assert labels["__meta_kubernetes_endpointslice_endpoint_conditions_ready"] == "true"


@pytest.mark.parametrize("url", ["http://192.0.2.1:8080/mcp", "https://example.com/mcp", "http://10.97.0.1/mcp",
                                 "http://[2001:db8::1]/mcp"])
def test_a_load_refuses_an_address_off_this_machine_before_sending(url):
    with pytest.raises(ValueError):
        local_only(url)
    with pytest.raises(ValueError):
        McpLoad(url, token=None, tool="t", arguments={})


def test_a_load_stops_at_its_bound_and_counts_what_failed():
    answers = iter(range(10_000))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            n = next(answers)
            result = {"jsonrpc": "2.0", "id": 1, "result": {"isError": n % 5 == 0, "content": []}}
            body = f"event: message\ndata: {json.dumps(result)}\n\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = McpLoad(f"http://127.0.0.1:{server.server_address[1]}/mcp", token=None, tool="t", arguments={},
                         workers=4, max_calls=50, seconds=30).start().wait()
    finally:
        server.shutdown()
    assert len(result.calls) == 50
    assert len(result.failed) == 10, "every fifth answer was a tool error"


@pytest.mark.parametrize("status, verdict", [
    ({"conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}]}, "ready"),
    ({"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                      "message": "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint"}]},
     "insufficient cpu"),
    ({"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                      "message": "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity"}]},
     "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity"),
    ({"conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"}]}, ""),
    ({}, ""),
])
def test_a_pods_placement_says_whether_it_serves_or_why_it_cannot_be_placed(status, verdict):
    assert resources.placement({"status": status}) == verdict


def test_only_a_started_container_counts_as_running():
    started = {"status": {"containerStatuses": [{"name": "app", "state": {"running": {"startedAt": "x"}}}]}}
    waiting = {"status": {"containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "ErrImageNeverPull"}}}]}}
    assert resources.running(started, "app")
    assert not resources.running(started, "other")
    assert not resources.running(waiting, "app")
    assert not resources.running({"status": {"phase": "Pending"}}, "app")
