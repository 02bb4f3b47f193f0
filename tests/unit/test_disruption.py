"""Availability knobs: the PodDisruptionBudget by minAvailable or maxUnavailable, and an HPA memory target beside
CPU (`<server>.disruptionBudget`, `<server>.autoscaling.targetMemoryUtilizationPercentage`)."""

from __future__ import annotations

import pytest

from support import TEST_SECRETS, refused, run_variant

PW = {"postgresPassword": TEST_SECRETS["postgresPassword"]}
SERVERS = [("mcpServer", "kubernetes-mcp-server"), ("llamaStack", "llama-stack")]


@pytest.mark.parametrize("section, name", SERVERS)
def test_the_default_budget_keeps_one_pod_and_the_hpa_watches_cpu_only(section, name, preview):
    result = run_variant("prod", preview=preview, secrets=PW)
    assert result.error is None, result.error
    assert {k: v for k, v in result.one("PodDisruptionBudget", name)["spec"].items() if k != "selector"} \
        == {"minAvailable": 1}
    metrics = result.one("HorizontalPodAutoscaler", name)["spec"]["metrics"]
    assert [m["resource"]["name"] for m in metrics] == ["cpu"]


@pytest.mark.parametrize("section, name", SERVERS)
@pytest.mark.parametrize("budget", [{"maxUnavailable": 1}, {"maxUnavailable": "25%"}, {"minAvailable": "50%"},
                                    {"minAvailable": 1}])
def test_the_budget_is_rendered_as_set(section, name, budget, preview):
    result = run_variant("prod", preview=preview, secrets=PW, **{section: {"disruptionBudget": budget}})
    assert result.error is None, result.error
    spec = result.one("PodDisruptionBudget", name)["spec"]
    assert {k: v for k, v in spec.items() if k != "selector"} == budget
    assert spec["selector"]["matchLabels"]["app.kubernetes.io/name"] == name


@pytest.mark.parametrize("section, name", SERVERS)
def test_a_memory_target_joins_the_cpu_one(section, name, preview):
    result = run_variant("prod", preview=preview, secrets=PW,
                         **{section: {"autoscaling": {"targetMemoryUtilizationPercentage": 80}}})
    assert result.error is None, result.error
    metrics = {m["resource"]["name"]: m["resource"]["target"] for m in
               result.one("HorizontalPodAutoscaler", name)["spec"]["metrics"]}
    assert metrics == {"cpu": {"type": "Utilization", "averageUtilization": 70},
                       "memory": {"type": "Utilization", "averageUtilization": 80}}


@pytest.mark.parametrize("budget, fragment", [
    ({"minAvailable": 2}, "mcpServer.disruptionBudget.minAvailable = 2: would block every node drain at 2 "
                          "replicas: at most 1"),
    ({"minAvailable": 1, "maxUnavailable": 1}, "mcpServer.disruptionBudget.maxUnavailable = 1: contradicts "
                                               "minAvailable"),
    ({"maxUnavailable": 0}, "mcpServer.disruptionBudget.maxUnavailable = 0: would block every node drain"),
    ({"maxUnavailable": "0%"}, 'mcpServer.disruptionBudget.maxUnavailable = "0%": would block every node drain'),
    ({"minAvailable": "100%"}, 'mcpServer.disruptionBudget.minAvailable = "100%": would block every node drain'),
    ({"minAvailable": "1.5"}, 'mcpServer.disruptionBudget.minAvailable = "1.5": must be a count (0 or more) or a '
                              'percentage such as 50%'),
    ({"maxUnavailable": -1}, "mcpServer.disruptionBudget.maxUnavailable = -1: must be a count"),
    ({"maxUnavailable": [1]}, "mcpServer.disruptionBudget.maxUnavailable = [1]: must be a count"),
    ({"maxUnavailable": True}, "mcpServer.disruptionBudget.maxUnavailable = true: must be a count"),
])
def test_a_budget_that_blocks_drains_or_is_not_a_budget_is_refused(budget, fragment):
    refused(run_variant("prod", secrets=PW, mcpServer={"disruptionBudget": budget}), fragment)


def test_a_budget_where_no_pdb_is_made_is_refused():
    refused(run_variant("dev", mcpServer={"disruptionBudget": {"maxUnavailable": 1}}),
            'mcpServer.disruptionBudget = "(set)": has no effect: a PodDisruptionBudget is made only when two or '
            'more replicas are meant to run')


@pytest.mark.parametrize("value", [0, 101, "high"])
def test_a_memory_target_outside_1_to_100_is_refused(value):
    refused(run_variant("prod", secrets=PW, llamaStack={"autoscaling": {"targetMemoryUtilizationPercentage": value}}),
            "llamaStack.autoscaling.targetMemoryUtilizationPercentage")
