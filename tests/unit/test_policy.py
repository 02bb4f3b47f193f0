"""The policy rules: the stacks pass, each crafted bad object fails, the offline gate and the pack agree."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest

from components.settings import McpServerSettings
from support import ROOT, run_variant
from policy import pack, rules
from ops import policy_check


def test_dev_and_prod_pass(dev, prod):
    assert rules.violations(dev.manifests()) == []
    assert rules.violations(prod.manifests()) == []


@pytest.fixture
def deployment(prod):
    return copy.deepcopy(prod.one("Deployment", "kubernetes-mcp-server"))


def _container(m):
    return m["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("image,bad", [("x.io/a/b:latest", True), ("x.io/a/b", True), ("localhost:5000/b", True),
                                       ("x.io/a/b:v1.2.3", False), ("x.io/a/b@sha256:" + "0" * 64, False),
                                       ("localhost:5000/a/b:1", False)])
def test_mutable_images(image, bad):
    assert rules.mutable_image(image) is bad


def _with_container(change):
    def bad(deployment):
        change(_container(deployment))
        return deployment
    return bad


ROUTE = {"kind": "Route", "metadata": {"name": "r"}, "spec": {"to": {"name": "s"}}}
# (rule, how to break the prod MCP Deployment or which object to check instead): one test each.
CRAFTED = [
    ("no_mutable_images", _with_container(lambda c: c.update(image="quay.io/x/y:latest"))),
    ("resources_set", _with_container(lambda c: c["resources"]["limits"].pop("memory"))),
    ("no_privilege", _with_container(lambda c: c["securityContext"].update(privileged=True))),
    ("no_privilege", _with_container(lambda c: c["securityContext"].update(allowPrivilegeEscalation=True))),
    ("no_privilege", _with_container(lambda c: c["securityContext"].update(runAsNonRoot=False))),
    ("no_privilege", _with_container(lambda c: c["securityContext"].update(runAsUser=0))),
    ("rbac_no_wildcards", lambda _: {"kind": "ClusterRole", "metadata": {"name": "r"},
                                     "rules": [{"apiGroups": ["*"], "resources": ["pods"], "verbs": ["get"]}]}),
    ("tls_everywhere", lambda _: ROUTE),
    ("tls_everywhere", lambda _: {**ROUTE, "spec": {"tls": {"termination": "edge",
                                                            "insecureEdgeTerminationPolicy": "Allow"}}}),
    ("tls_everywhere", lambda _: {"kind": "Ingress", "metadata": {"name": "i"},
                                  "spec": {"rules": [{"host": "a.example.com"}]}}),
]


@pytest.mark.parametrize("rule, craft", CRAFTED, ids=[f"{r}-{i}" for i, (r, _) in enumerate(CRAFTED)])
def test_each_rule_fails_on_a_crafted_bad_object(deployment, rule, craft):
    check = getattr(rules, rule)
    assert not check(copy.deepcopy(deployment)), f"{rule} already fails the unbroken prod Deployment"
    assert check(craft(copy.deepcopy(deployment))), f"{rule} did not notice"


def test_the_missing_limit_is_named():
    deployment = copy.deepcopy(run_variant("prod", secrets={"postgresPassword": "pw"}).one(
        "Deployment", "kubernetes-mcp-server"))
    del _container(deployment)["resources"]["limits"]["memory"]
    assert rules.resources_set(deployment) == ["Deployment llama-stack/kubernetes-mcp-server container "
                                               "kubernetes-mcp-server: missing resources limits.memory"]


def test_mcp_exposure_needs_oauth_or_an_explicit_opt_out(deployment, preview):
    route = {"kind": "Route", "metadata": {"name": "kubernetes-mcp-server"},
             "spec": {"to": {"name": "kubernetes-mcp-server"}, "tls": {"termination": "edge"}}}
    assert rules.mcp_not_exposed_without_oauth([deployment, route])
    allowed = run_variant(preview=preview, mcpServer={"route": {"enabled": True, "allowUnauthenticated": True}})
    assert rules.violations(allowed.manifests()) == []
    oauth = run_variant(preview=preview, mcpServer={"route": {"enabled": True}, "oauth": {
        "enabled": True, "authorizationUrl": "https://sso.example.com"}})
    assert rules.violations(oauth.manifests()) == []
    stripped = [m for m in allowed.manifests()]
    for m in stripped:
        m["metadata"].pop("annotations", None)
    assert [r for r, _ in rules.violations(stripped)] == ["mcp-not-exposed-without-oauth"]


def test_offline_gate_passes_prod_and_fails_latest(tmp_path, capsys):
    assert policy_check.main(["--stack", "prod"]) == 0
    text = (ROOT / "Pulumi.prod.yaml").read_text().replace(McpServerSettings().image, "quay.io/containers/kubernetes_mcp_server:latest")
    bad = tmp_path / "Pulumi.latest.yaml"
    bad.write_text(text)
    assert policy_check.main(["--stack", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "MANDATORY  no-mutable-images" in out and ":latest" in out


def test_the_crossguard_pack_reports_what_the_rules_find(deployment, prod):
    policies = {p.name: p for p in pack.policies()}
    assert set(policies) == set(rules.RESOURCE_RULES) | set(rules.STACK_RULES)
    bad = copy.deepcopy(deployment)
    _container(bad)["image"] = "quay.io/x/y:latest"
    reported = []
    args = SimpleNamespace(resource_type="kubernetes:apps/v1:Deployment", props=bad, urn="urn:x")
    policies["no-mutable-images"].validate(args, lambda message, urn=None: reported.append(message))
    assert len(reported) == 1 and ":latest" in reported[0]
    good = SimpleNamespace(resource_type="kubernetes:apps/v1:Deployment", props=deployment, urn="urn:y")
    policies["no-mutable-images"].validate(good, lambda message, urn=None: reported.append(message))
    assert len(reported) == 1
    resources = [SimpleNamespace(resource_type="kubernetes:x", props=m) for m in prod.manifests()]
    policies["mcp-not-exposed-without-oauth"].validate(SimpleNamespace(resources=resources),
                                                       lambda message, urn=None: reported.append(message))
    assert len(reported) == 1
