"""Every object the program creates is valid against real schemas and consistent with its siblings."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from conftest import ROOT, run_variant
from localcluster import crds
from variants import VARIANTS

K8S_VERSION = "1.31.0"  # OpenShift 4.18's Kubernetes
# Kinds checked against strict schemas derived from the upstream CRDs the local cluster installs.
SHARED = tuple(crds.CRDS)
IDS = [v[0] for v in VARIANTS]


@lru_cache(maxsize=None)
def manifests_of(variant_id: str) -> tuple:
    _, base, overrides, secrets, _ = next(v for v in VARIANTS if v[0] == variant_id)
    result = run_variant(base, secrets=secrets, **overrides)
    assert result.error is None, result.error
    return tuple(json.dumps(m) for m in result.manifests(masked=True))


def objects(variant_id: str) -> list[dict]:
    return [json.loads(m) for m in manifests_of(variant_id)]


@pytest.mark.parametrize("variant", IDS)
def test_kubernetes_objects_validate_strictly(variant):
    checked = 0
    for manifest in objects(variant):
        if manifest["kind"] in SHARED:
            continue
        try:
            kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(f"{manifest['kind']} {manifest['metadata']['name']}: {err.message} at {list(err.path)}")
        checked += 1
    assert checked >= 8


@pytest.mark.parametrize("variant", IDS)
def test_openshift_and_operator_kinds_validate_against_upstream_crds(variant):
    for manifest in objects(variant):
        if manifest["kind"] not in SHARED:
            continue
        schema = crds.json_schema(manifest["kind"], manifest["apiVersion"].split("/")[1])
        errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(manifest)]
        assert errors == [], f"{manifest['kind']} {manifest['metadata']['name']}: {errors}"


def test_the_matrix_covers_every_special_kind():
    kinds = {m["kind"] for v in IDS for m in objects(v)}
    assert set(SHARED) <= kinds and {"Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Secret",
                                     "PersistentVolumeClaim", "Role", "RoleBinding"} <= kinds


# ------------------------------------------------------------ consistency

def _selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _pods(objs):
    return [(d, d["spec"]["template"]) for d in objs if d["kind"] == "Deployment"]


@pytest.mark.parametrize("variant", IDS)
def test_cross_object_consistency(variant):
    objs = objects(variant)
    keys = [(m["kind"], m["metadata"].get("namespace"), m["metadata"]["name"]) for m in objs]
    assert len(keys) == len(set(keys)), "duplicate kind/namespace/name"
    by_kind = lambda kind: [m for m in objs if m["kind"] == kind]  # noqa: E731
    pods = _pods(objs)
    deployments = {d["metadata"]["name"]: d for d in by_kind("Deployment")}

    for d, template in pods:
        assert _selects(d["spec"]["selector"]["matchLabels"], template["metadata"]["labels"])
        sa = template["spec"]["serviceAccountName"]
        assert ("ServiceAccount", d["metadata"]["namespace"], sa) in keys, f"{sa} missing"
        for c in template["spec"]["containers"]:
            port_names = {p["name"] for p in c["ports"]}
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert c[probe]["httpGet"]["port"] in port_names
            volumes = {v["name"] for v in template["spec"]["volumes"]}
            assert {m["name"] for m in c["volumeMounts"]} <= volumes
            for v in template["spec"]["volumes"]:
                # kube-root-ca.crt is published into every namespace by the controller-manager.
                if "configMap" in v and v["configMap"]["name"] != "kube-root-ca.crt":
                    assert ("ConfigMap", d["metadata"]["namespace"], v["configMap"]["name"]) in keys
                if "persistentVolumeClaim" in v:
                    assert ("PersistentVolumeClaim", d["metadata"]["namespace"],
                            v["persistentVolumeClaim"]["claimName"]) in keys
            for env in c.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    secret = next(s for s in by_kind("Secret") if s["metadata"]["name"] == ref["name"])
                    assert ref["key"] in secret["stringData"]

    def pods_selected(selector, namespace):
        return [(d, t) for d, t in pods if d["metadata"]["namespace"] == namespace
                and _selects(selector, t["metadata"]["labels"])]

    for svc in by_kind("Service"):
        selected = pods_selected(svc["spec"]["selector"], svc["metadata"]["namespace"])
        assert len(selected) == 1, f"Service {svc['metadata']['name']} selects {len(selected)} Deployments"
        names = {p["name"] for c in selected[0][1]["spec"]["containers"] for p in c["ports"]}
        assert all(p["targetPort"] in names for p in svc["spec"]["ports"])
    for kind in ("PodDisruptionBudget", "NetworkPolicy"):
        for obj in by_kind(kind):
            selector = obj["spec"].get("selector", obj["spec"].get("podSelector"))["matchLabels"]
            assert len(pods_selected(selector, obj["metadata"]["namespace"])) == 1, obj["metadata"]["name"]
    for np in by_kind("NetworkPolicy"):
        for peer in np["spec"]["ingress"][0]["from"]:
            if peer.get("podSelector", {}).get("matchLabels"):
                assert pods_selected(peer["podSelector"]["matchLabels"], np["metadata"]["namespace"])
    for hpa in by_kind("HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment" and target["name"] in deployments
        assert "replicas" not in deployments[target["name"]]["spec"]
    service_accounts = {(d["metadata"]["namespace"], t["spec"]["serviceAccountName"]) for d, t in pods}
    for binding in by_kind("RoleBinding") + by_kind("ClusterRoleBinding"):
        for subject in binding["subjects"]:
            assert (subject["namespace"], subject["name"]) in service_accounts
        ref = binding["roleRef"]
        if ref["name"] != "view":
            role_ns = binding["metadata"].get("namespace") if ref["kind"] == "Role" else None
            assert (ref["kind"], role_ns, ref["name"]) in keys, ref
    services = {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in by_kind("Service")}
    for route in by_kind("Route"):
        svc = services[(route["metadata"]["namespace"], route["spec"]["to"]["name"])]
        assert route["spec"]["port"]["targetPort"] in {p["name"] for p in svc["spec"]["ports"]}
    for ingress in by_kind("Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                svc = services[(ingress["metadata"]["namespace"], backend["name"])]
                assert backend["port"]["name"] in {p["name"] for p in svc["spec"]["ports"]}
    for monitor in by_kind("ServiceMonitor"):
        matched = [s for (ns, _), s in services.items() if ns in monitor["spec"]["namespaceSelector"]["matchNames"]
                   and _selects(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])]
        assert len(matched) == 1
        assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in matched[0]["spec"]["ports"]}


# ---------------------------------------------------------------- checkov

CHECKOV_ALLOWLIST = ROOT / "tests" / "checkov-allowlist.yaml"


def _checkov() -> str:
    from tools.servers import CACHE
    for candidate in (CACHE / "venv-checkov" / "bin" / "checkov", shutil.which("checkov")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    pytest.fail("checkov is not installed: run `make e2e-deps` (tools/e2e-deps.sh checkov)")


def test_checkov_finds_nothing_in_prod_beyond_the_allowlist(tmp_path):
    out = tmp_path / "prod"
    subprocess.run([sys.executable, str(ROOT / "tools" / "render.py"), "--stack", "prod", "--out", str(out)],
                   check=True, capture_output=True)
    proc = subprocess.run([_checkov(), "-d", str(out), "--framework", "kubernetes", "--output", "json", "--quiet",
                           "--compact"], capture_output=True, text=True, timeout=600)
    report = json.loads(proc.stdout or "{}")
    failed = report.get("results", {}).get("failed_checks", []) if isinstance(report, dict) else []
    allowed = {entry["id"] for entry in yaml.safe_load(CHECKOV_ALLOWLIST.read_text())["allow"]}
    unexpected = sorted({(c["check_id"], c["resource"], c["check_name"]) for c in failed
                         if c["check_id"] not in allowed})
    assert unexpected == [], "checkov failures not on the allow-list:\n" + "\n".join(map(str, unexpected))
    assert report.get("summary", {}).get("passed", 0) > 50, "checkov ran no checks"
