"""Scheduling and pod controls of both servers: typed, validated, rendered where Kubernetes expects them."""

from __future__ import annotations

import pytest

from support import TEST_SECRETS, container, refused, run_variant

MCP, LS = "kubernetes-mcp-server", "llama-stack"
PW = {"postgresPassword": TEST_SECRETS["postgresPassword"]}
SPREAD = [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway"},
          {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"}]
CONTROLS = {
    "nodeSelector": {"node-role.kubernetes.io/worker": ""},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "agents", "effect": "NoSchedule"},
                    {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}],
    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}]}},
        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 50, "podAffinityTerm": {
            "topologyKey": "kubernetes.io/hostname",
            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "kubernetes-mcp-server"}}}}]}},
    "priorityClassName": "agents-high",
    "podLabels": {"team": "platform"},
    "podAnnotations": {"example.com/owner": "platform team"},
    "imagePullSecrets": ["quay-pull"],
    "imagePullPolicy": "Always",
}


def pod(run, name: str) -> dict:
    return run.one("Deployment", name)["spec"]["template"]


@pytest.mark.parametrize("server, section", [(MCP, "mcpServer"), (LS, "llamaStack")])
def test_every_control_lands_in_the_pod(server, section, preview):
    run = run_variant(preview=preview, **{section: CONTROLS})
    assert run.error is None, run.error
    template = pod(run, server)
    spec = template["spec"]
    assert spec["nodeSelector"] == CONTROLS["nodeSelector"]
    assert spec["tolerations"] == CONTROLS["tolerations"]
    assert spec["affinity"] == CONTROLS["affinity"]
    assert spec["priorityClassName"] == "agents-high"
    assert spec["imagePullSecrets"] == [{"name": "quay-pull"}]
    assert template["metadata"]["labels"]["team"] == "platform"
    assert template["metadata"]["annotations"]["example.com/owner"] == "platform team"
    assert all(c["imagePullPolicy"] == "Always" for c in spec["containers"] + spec.get("initContainers", []))
    selector = run.one("Deployment", server)["spec"]["selector"]["matchLabels"]
    assert "team" not in selector, "extra pod labels never enter the immutable selector"


def test_the_pull_policy_reaches_the_init_container_too(preview):
    # prod's passthrough gives Llama Stack its trust-bundle init container, from the same image.
    run = run_variant("prod", preview=preview, secrets=PW, llamaStack={"imagePullPolicy": "Always"})
    assert run.error is None, run.error
    (init,) = pod(run, LS)["spec"]["initContainers"]
    assert init["imagePullPolicy"] == "Always"


def test_defaults_change_nothing_for_a_single_replica(preview):
    run = run_variant(preview=preview)
    for server in (MCP, LS):
        spec = pod(run, server)["spec"]
        assert not {"nodeSelector", "tolerations", "affinity", "priorityClassName", "imagePullSecrets",
                    "topologySpreadConstraints"} & set(spec), sorted(spec)
        assert container(run, server)["imagePullPolicy"] == "IfNotPresent"


def test_prod_spreads_autoscaled_replicas_across_nodes_and_zones(prod):
    for server in (MCP, LS):
        spec = pod(prod, server)["spec"]
        selector = prod.one("Deployment", server)["spec"]["selector"]
        assert spec["topologySpreadConstraints"] == [{**c, "labelSelector": selector} for c in SPREAD]


def test_spread_can_be_turned_off_or_replaced(preview):
    off = run_variant(preview=preview, mcpServer={"autoscaling": {"enabled": True}, "topologySpreadConstraints": []})
    assert "topologySpreadConstraints" not in pod(off, MCP)["spec"]
    own = [{"maxSkew": 2, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
            "minDomains": 2}]
    custom = run_variant(preview=preview, mcpServer={"topologySpreadConstraints": own})
    rendered = pod(custom, MCP)["spec"]["topologySpreadConstraints"]
    assert rendered == [{**own[0], "labelSelector": custom.one("Deployment", MCP)["spec"]["selector"]}]


@pytest.mark.parametrize("controls, fragment", [
    ({"tolerations": [{"key": "a", "operator": "Exists", "value": "b"}]},
     "mcpServer.tolerations[0].value = \"b\": must be empty with operator: Exists"),
    ({"tolerations": [{"operator": "Equal", "value": "b"}]},
     "mcpServer.tolerations[0].operator = \"Equal\": an empty key needs operator: Exists"),
    ({"tolerations": [{"key": "a", "effect": "NoSchedule", "tolerationSeconds": 5}]},
     "mcpServer.tolerations[0].tolerationSeconds = 5: only applies with effect: NoExecute"),
    ({"tolerations": [{"key": "a", "effect": "Sometimes"}]}, "mcpServer.tolerations[0].effect = \"Sometimes\""),
    ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In"}]}]}}}},
     "matchExpressions[0].values = []: operator In needs at least one value"),
    ({"affinity": {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 101, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname"}}]}}},
     "preferredDuringSchedulingIgnoredDuringExecution[0].weight = 101"),
    ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "cpus", "operator": "Gt", "values": ["many"]}]}]}}}},
     "operator Gt needs exactly one integer value"),
    ({"topologySpreadConstraints": [{"maxSkew": 0, "topologyKey": "zone"}]},
     "mcpServer.topologySpreadConstraints[0].maxSkew = 0"),
    ({"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "minDomains": 2}]},
     "mcpServer.topologySpreadConstraints[0].minDomains = 2: only applies with whenUnsatisfiable: DoNotSchedule"),
    ({"nodeSelector": {"bad key!": "x"}}, "mcpServer.nodeSelector"),
    ({"podLabels": {"app.kubernetes.io/name": "other"}},
     "mcpServer.podLabels = {\"app.kubernetes.io/name\": \"other\"}: must not set the labels the program selects"),
    ({"podAnnotations": {"checksum/config": "x"}}, "mcpServer.podAnnotations"),
    ({"imagePullPolicy": "Sometimes"}, "mcpServer.imagePullPolicy = \"Sometimes\""),
    ({"imagePullSecrets": ["Not_A_Name"]}, "mcpServer.imagePullSecrets[0]"),
    ({"priorityClassName": "system-node-critical"},
     "mcpServer.priorityClassName = \"system-node-critical\": is reserved for the cluster's own components"),
])
def test_controls_the_api_server_would_reject_are_refused(controls, fragment):
    refused(run_variant(mcpServer=controls), fragment)
