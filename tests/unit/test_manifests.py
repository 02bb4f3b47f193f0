"""Every object the program creates is valid against real schemas and consistent with its siblings."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from components.settings.extras import RESERVED
from support import ROOT, run_variant
from testbed.localcluster import crds
from support.variants import VARIANTS

K8S_VERSION = "1.31.0"  # OpenShift 4.18's Kubernetes
# Kinds checked against strict schemas derived from the upstream CRDs the local cluster installs.
SHARED = tuple(crds.CRDS)
IDS = [v[0] for v in VARIANTS]


@lru_cache(maxsize=None)
def manifests_of(variant_id: str) -> dict[str, tuple]:
    """Each cluster's objects: "" the stack's own, else a fleet member's."""
    _, base, overrides, secrets, _ = next(v for v in VARIANTS if v[0] == variant_id)
    result = run_variant(base, secrets=secrets, **overrides)
    assert result.error is None, result.error
    clusters = sorted({r.cluster for r in result.all_objects})
    return {c: tuple(json.dumps(m) for m in result.manifests(masked=True, cluster=c)) for c in clusters}


def objects(variant_id: str, cluster: str = "") -> list[dict]:
    return [json.loads(m) for m in manifests_of(variant_id)[cluster]]


def every_object(variant_id: str) -> list[dict]:
    return [o for cluster in manifests_of(variant_id) for o in objects(variant_id, cluster)]


def _short(err: jsonschema.ValidationError) -> str:
    """One line per error: strict mode's unknown-field errors can carry the whole object."""
    return f"{err.message.splitlines()[0][:200]} at {'/'.join(map(str, err.absolute_path)) or '(top)'}"


@pytest.mark.parametrize("variant", IDS)
def test_kubernetes_objects_validate_strictly(variant):
    checked, errors = 0, []
    for manifest in every_object(variant):
        if manifest["kind"] in SHARED:
            continue
        try:
            kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
        # kubernetes_validate's own error, and the base class strict mode raises for unknown fields
        except jsonschema.ValidationError as err:
            errors.append(f"{manifest['kind']} {manifest['metadata']['name']}: {_short(err)}")
        checked += 1
    assert errors == [], "\n".join(errors)
    assert checked >= 8


@pytest.mark.parametrize("variant", IDS)
def test_openshift_and_operator_kinds_validate_against_upstream_crds(variant):
    for manifest in every_object(variant):
        if manifest["kind"] not in SHARED:
            continue
        schema = crds.json_schema(manifest["kind"], manifest["apiVersion"].split("/")[1])
        errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(manifest)]
        assert errors == [], f"{manifest['kind']} {manifest['metadata']['name']}: {errors}"


def test_the_matrix_covers_every_special_kind():
    kinds = {m["kind"] for v in IDS for m in objects(v)}
    assert set(SHARED) <= kinds and {"Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Secret",
                                     "PersistentVolumeClaim", "RoleBinding"} <= kinds


# ------------------------------------------------------------ consistency

def _selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _pods(objs):
    return [(d, d["spec"]["template"]) for d in objs if d["kind"] == "Deployment"]


# One function per invariant, each returning what is wrong: every variant x invariant is its
# own test, so one broken invariant does not hide the others.

def _keys(objs):
    return [(m["kind"], m["metadata"].get("namespace"), m["metadata"]["name"]) for m in objs]


def _by_kind(objs, kind):
    return [m for m in objs if m["kind"] == kind]


def _pods_selected(objs, selector, namespace):
    return [(d, t) for d, t in _pods(objs) if d["metadata"]["namespace"] == namespace
            and _selects(selector, t["metadata"]["labels"])]


def _services(objs):
    return {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in _by_kind(objs, "Service")}


def unique_names(objs):
    keys = _keys(objs)
    return [f"duplicate {k}" for k in set(keys) if keys.count(k) > 1]


def deployments_select_their_pods(objs):
    return [d["metadata"]["name"] for d, t in _pods(objs)
            if not _selects(d["spec"]["selector"]["matchLabels"], t["metadata"]["labels"])]


def service_accounts_exist(objs):
    keys = _keys(objs)
    return [t["spec"]["serviceAccountName"] for d, t in _pods(objs)
            if ("ServiceAccount", d["metadata"]["namespace"], t["spec"]["serviceAccountName"]) not in keys]


def probes_use_declared_ports(objs):
    return [f"{c['name']} {probe}" for _, t in _pods(objs) for c in t["spec"]["containers"]
            for probe in ("startupProbe", "readinessProbe", "livenessProbe")
            if c[probe]["httpGet"]["port"] not in {p["name"] for p in c["ports"]}]


def mounts_have_volumes(objs):
    return [f"{c['name']} mounts {m['name']}" for _, t in _pods(objs)
            for c in t["spec"]["containers"] + t["spec"].get("initContainers", [])
            for m in c["volumeMounts"] if m["name"] not in {v["name"] for v in t["spec"]["volumes"]}]


USERS_OWN = {"kiali-ca", "oauth-ca", "plugins", "notes"}  # volumes of ConfigMaps the user creates


def volumes_refer_to_objects_that_exist(objs):
    keys, wrong = _keys(objs), []
    for d, t in _pods(objs):
        ns = d["metadata"]["namespace"]
        for v in t["spec"]["volumes"]:
            # kube-root-ca.crt is published into every namespace by the controller-manager; kiali-ca and the extra
            # volumes are the user's own (toolsetConfigs.kiali.caConfigMap, extraVolumes).
            if "configMap" in v and v["configMap"]["name"] != "kube-root-ca.crt" and v["name"] not in USERS_OWN \
                    and ("ConfigMap", ns, v["configMap"]["name"]) not in keys:
                wrong.append(f"ConfigMap {v['configMap']['name']}")
            if "persistentVolumeClaim" in v and ("PersistentVolumeClaim", ns,
                                                 v["persistentVolumeClaim"]["claimName"]) not in keys:
                wrong.append(f"PVC {v['persistentVolumeClaim']['claimName']}")
    return wrong


def secret_refs_have_keys(objs):
    secrets = {s["metadata"]["name"]: s for s in _by_kind(objs, "Secret")}
    return [f"{ref['name']}/{ref['key']}" for _, t in _pods(objs) for c in t["spec"]["containers"]
            for env in c.get("env", []) if (ref := env.get("valueFrom", {}).get("secretKeyRef"))
            # The program's own variables; any other is extraEnv's, naming the user's own Secret.
            and env["name"] in RESERVED["llamaStack"].env
            and ref["key"] not in secrets.get(ref["name"], {}).get("stringData", {})]


def services_select_one_deployment_and_its_ports(objs):
    wrong = []
    for svc in _by_kind(objs, "Service"):
        selected = _pods_selected(objs, svc["spec"]["selector"], svc["metadata"]["namespace"])
        if len(selected) != 1:
            wrong.append(f"Service {svc['metadata']['name']} selects {len(selected)} Deployments")
            continue
        names = {p["name"] for c in selected[0][1]["spec"]["containers"] for p in c["ports"]}
        wrong += [f"Service {svc['metadata']['name']} port {p['targetPort']}" for p in svc["spec"]["ports"]
                  if p["targetPort"] not in names]
    return wrong


def pdbs_and_policies_select_one_deployment(objs):
    return [obj["metadata"]["name"] for kind in ("PodDisruptionBudget", "NetworkPolicy")
            for obj in _by_kind(objs, kind)
            if len(_pods_selected(objs, obj["spec"].get("selector", obj["spec"].get("podSelector"))["matchLabels"],
                                  obj["metadata"]["namespace"])) != 1]


def network_policy_peers_exist(objs):
    return [str(peer) for np in _by_kind(objs, "NetworkPolicy") for peer in np["spec"]["ingress"][0]["from"]
            if peer.get("podSelector", {}).get("matchLabels")
            and not _pods_selected(objs, peer["podSelector"]["matchLabels"], np["metadata"]["namespace"])]


def hpas_own_the_replica_count(objs):
    deployments = {d["metadata"]["name"]: d for d in _by_kind(objs, "Deployment")}
    return [hpa["metadata"]["name"] for hpa in _by_kind(objs, "HorizontalPodAutoscaler")
            if hpa["spec"]["scaleTargetRef"]["name"] not in deployments
            or "replicas" in deployments[hpa["spec"]["scaleTargetRef"]["name"]]["spec"]]


def bindings_name_existing_subjects_and_roles(objs):
    keys, wrong = _keys(objs), []
    accounts = {(d["metadata"]["namespace"], t["spec"]["serviceAccountName"]) for d, t in _pods(objs)}
    if not _pods(objs):  # a fleet member: no pod there, the hub uses the account through its token Secret
        tokens = {(m["metadata"]["namespace"], m["metadata"]["annotations"]["kubernetes.io/service-account.name"])
                  for m in _by_kind(objs, "Secret") if m.get("type") == "kubernetes.io/service-account-token"}
        accounts = {(m["metadata"]["namespace"], m["metadata"]["name"]) for m in _by_kind(objs, "ServiceAccount")
                    if (m["metadata"]["namespace"], m["metadata"]["name"]) in tokens}
    for binding in _by_kind(objs, "RoleBinding") + _by_kind(objs, "ClusterRoleBinding"):
        wrong += [f"subject {s['name']}" for s in binding["subjects"] if (s["namespace"], s["name"]) not in accounts]
        ref = binding["roleRef"]
        role_ns = binding["metadata"].get("namespace") if ref["kind"] == "Role" else None
        if ref["name"] != "view" and (ref["kind"], role_ns, ref["name"]) not in keys:
            wrong.append(f"role {ref}")
    return wrong


def exposures_point_at_service_ports(objs):
    services, wrong = _services(objs), []
    for route in _by_kind(objs, "Route"):
        svc = services[(route["metadata"]["namespace"], route["spec"]["to"]["name"])]
        if route["spec"]["port"]["targetPort"] not in {p["name"] for p in svc["spec"]["ports"]}:
            wrong.append(f"Route {route['metadata']['name']}")
    for ingress in _by_kind(objs, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                svc = services[(ingress["metadata"]["namespace"], backend["name"])]
                if backend["port"]["name"] not in {p["name"] for p in svc["spec"]["ports"]}:
                    wrong.append(f"Ingress {ingress['metadata']['name']}")
    return wrong


def service_monitors_select_one_service_port(objs):
    wrong = []
    for monitor in _by_kind(objs, "ServiceMonitor"):
        matched = [s for (ns, _), s in _services(objs).items()
                   if ns in monitor["spec"]["namespaceSelector"]["matchNames"]
                   and _selects(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])]
        if len(matched) != 1 or monitor["spec"]["endpoints"][0]["port"] not in {
                p["name"] for p in matched[0]["spec"]["ports"]}:
            wrong.append(monitor["metadata"]["name"])
    return wrong


def spread_selects_the_own_pods(objs):
    return [d["metadata"]["name"] for d, t in _pods(objs) for c in t["spec"].get("topologySpreadConstraints", [])
            if c["labelSelector"]["matchLabels"] != d["spec"]["selector"]["matchLabels"]]


INVARIANTS = [unique_names, deployments_select_their_pods, service_accounts_exist, probes_use_declared_ports,
              mounts_have_volumes, volumes_refer_to_objects_that_exist, secret_refs_have_keys,
              services_select_one_deployment_and_its_ports, pdbs_and_policies_select_one_deployment,
              network_policy_peers_exist, hpas_own_the_replica_count, bindings_name_existing_subjects_and_roles,
              exposures_point_at_service_ports, service_monitors_select_one_service_port, spread_selects_the_own_pods]


@pytest.mark.parametrize("invariant", INVARIANTS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("variant", IDS)
def test_cross_object_consistency(variant, invariant):
    for cluster in manifests_of(variant):  # each cluster on its own: a fleet member holds its own objects
        assert invariant(objects(variant, cluster)) == [], cluster or "the stack's own cluster"


def test_each_invariant_catches_what_it_names():
    """Break one object per invariant: the invariant must notice (so none passes vacuously)."""
    import copy
    base = objects("prod")
    broken = copy.deepcopy(base)
    deployment = next(m for m in broken if m["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["serviceAccountName"] = "nobody"
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = "nope"
    assert service_accounts_exist(broken) == ["nobody"] and probes_use_declared_ports(broken)
    assert hpas_own_the_replica_count([*broken, {"kind": "HorizontalPodAutoscaler", "metadata": {"name": "x"},
                                                 "spec": {"scaleTargetRef": {"name": "missing"}}}]) == ["x"]
    assert unique_names([*base, base[0]])


@pytest.mark.parametrize("variant", IDS)
def test_rolling_deployments_keep_old_pods_until_new_ones_are_ready(variant):
    for dep in (o for o in objects(variant) if o["kind"] == "Deployment"):
        strategy = dep["spec"]["strategy"]
        if strategy["type"] == "Recreate":  # SQLite: one ReadWriteOnce volume, never two pods
            assert dep["spec"]["template"]["spec"]["volumes"] and dep["spec"].get("replicas") == 1, dep["metadata"]
            continue
        assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}, \
            dep["metadata"]["name"]


# Kinds whose objects the cluster's controllers give dependents: a Deployment its ReplicaSets and pods, a
# Service its EndpointSlices, a Namespace everything in it; on OpenShift a ServiceAccount its pull secret and an
# Ingress the Routes made for it. Written here from Kubernetes and OpenShift, not from the program's list, so a
# kind moved into the wrong group fails.
OWNERS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Service", "Namespace",
          "ServiceAccount", "Ingress"}


def misdeleted(objs) -> list[tuple[str, str]]:
    """(kind, policy) of each object deleted otherwise than its kind asks; [] also needs one background."""
    policies = {(o["kind"], o["metadata"].get("annotations", {}).get("pulumi.com/deletionPropagationPolicy"))
                for o in objs}
    wrong = sorted((kind, str(policy)) for kind, policy in policies
                   if policy != (None if kind in OWNERS else "background"))
    return wrong if any(policy == "background" for _, policy in policies) else [("none", "background")]


@pytest.mark.parametrize("variant", IDS)
def test_objects_that_own_nothing_are_deleted_at_once_and_owners_with_what_they_own(variant):
    """A foreground deletion (the provider's default) waits for the garbage collector even when there is nothing
    to collect; background removes the same objects at once. Owners keep foreground: `destroy` returns when their
    pods and EndpointSlices are gone too. No object is ever orphaned."""
    assert misdeleted(every_object(variant)) == []


@pytest.mark.parametrize("variant", ["dev", "prod"])
def test_a_preview_registers_the_same_deletion_policies(variant):
    _, base, overrides, secrets, _ = next(v for v in VARIANTS if v[0] == variant)
    result = run_variant(base, preview=True, secrets=secrets, **overrides)
    assert result.error is None, result.error
    assert misdeleted(result.manifests(masked=True)) == []
