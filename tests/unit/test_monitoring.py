"""ServiceMonitor and alert rules: rendered from settings, checked and unit-tested with promtool."""

from __future__ import annotations

import re
from pathlib import Path
import shutil
import subprocess

import pytest
import yaml

from components.facts import derive
from components.monitoring import rule_groups
from components.settings import load_settings
from support import run_variant

ALERTS = {"MCPServerDown", "MCPHighMemoryUsage", "MCPToolErrorRate", "LlamaStackDown"}


def promtool() -> str:
    path = shutil.which("promtool")
    if not path:
        pytest.fail("promtool is missing: `make system-deps` installs Debian's prometheus package")
    return path


def prod_groups(prod) -> list:
    return prod.one("PrometheusRule")["spec"]["groups"]


def test_prod_has_monitoring_and_dev_does_not(prod, dev):
    # prod forwards identities, so the server serves TLS only: the scrape checks its service certificate.
    assert prod.one("ServiceMonitor")["spec"]["endpoints"] == [
        {"port": "http", "path": "/metrics", "interval": "30s", "scheme": "https", "tlsConfig": {
            "serverName": "kubernetes-mcp-server.llama-stack.svc",
            "ca": {"configMap": {"name": "kubernetes-mcp-server-ca", "key": "service-ca.crt"}}}}]
    assert dev.find("ServiceMonitor") == [] and dev.find("PrometheusRule") == []


def test_service_monitor_selects_the_mcp_service(prod):
    monitor = prod.one("ServiceMonitor")["spec"]
    service = prod.one("Service", "kubernetes-mcp-server")
    assert all(service["metadata"]["labels"][k] == v for k, v in monitor["selector"]["matchLabels"].items())
    llama = prod.one("Service", "llama-stack")
    assert not all(llama["metadata"]["labels"].get(k) == v for k, v in monitor["selector"]["matchLabels"].items())


def test_every_alert_has_severity_summary_and_description(prod):
    rules = prod_groups(prod)[0]["rules"]
    assert {r["alert"] for r in rules} == ALERTS
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning")
        assert rule["annotations"]["summary"] and "Check first" in rule["annotations"]["description"]


def test_thresholds_come_from_settings():
    settings = load_settings({"monitoring": {"memoryWarningRatio": 0.65, "toolErrorRatio": 0.25}})
    exprs = {r["alert"]: r["expr"] for r in rule_groups(derive(settings))[0]["rules"]}
    assert exprs["MCPHighMemoryUsage"].endswith("> 0.65")
    assert exprs["MCPToolErrorRate"].endswith("> 0.25")
    assert 'namespace="llama-stack"' in exprs["MCPServerDown"]


def test_extra_labels_reach_the_rule_and_monitor(preview):
    run = run_variant("prod", preview=preview, secrets={"postgresPassword": "pw"},
                      monitoring={"serviceMonitor": True, "prometheusRule": True,
                                  "labels": {"openshift.io/user-monitoring": "true"}})
    for kind in ("ServiceMonitor", "PrometheusRule"):
        assert run.one(kind)["metadata"]["labels"]["openshift.io/user-monitoring"] == "true"


def _write_rules(prod, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": prod_groups(prod)}, sort_keys=False))
    return rules


def test_promtool_checks_the_rendered_rules(prod, tmp_path):
    rules = _write_rules(prod, tmp_path)
    proc = subprocess.run([promtool(), "check", "rules", str(rules)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 rules found" in proc.stdout + proc.stderr


def _expand(template: str, labels: dict) -> str:
    return re.sub(r"\{\{\s*\$labels\.(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template)


def test_promtool_unit_tests_fire_and_stay_quiet(prod, tmp_path):
    _write_rules(prod, tmp_path)
    annotations = {r["alert"]: r["annotations"] for r in prod_groups(prod)[0]["rules"]}
    spec = yaml.safe_load((Path(__file__).parent / "alerts.test.yaml").read_text())
    tested = set()
    for case in spec["tests"]:
        for check in case["alert_rule_test"]:
            tested.add(check["alertname"])
            for alert in check["exp_alerts"]:
                labels = alert["exp_labels"]
                alert["exp_annotations"] = {k: _expand(v, labels) for k, v in annotations[check["alertname"]].items()}
    assert tested == ALERTS
    tests = tmp_path / "alerts.test.yaml"
    tests.write_text(yaml.safe_dump(spec, sort_keys=False))
    proc = subprocess.run([promtool(), "test", "rules", str(tests)], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout + proc.stderr
