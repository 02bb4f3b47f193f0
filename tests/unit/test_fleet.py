"""A fleet under mocks: what is registered on which cluster, through which provider, and what is refused.

The proof on real control planes is tests/cluster/test_cluster_fleet.py.
"""

from __future__ import annotations

import base64
import json
import re

import pytest
import yaml

from ops import offline
from components import fleet as fleet_module
from components.kubeconfig import FleetSources, KubeconfigError, ambient, parse
from support import ROOT, run_variant
from policy import rules
from support.variants import FLEET, FLEET_KUBECONFIG, FLEET_SECRETS

FIXTURE = ROOT / "tests" / "fixtures" / "fleet-kubeconfig.yaml"
MCP = "kubernetes-mcp-server"
NS = "llama-stack"
# A secret Pulumi serialized with its signature (offline keeps the wrapper in `inputs`).
SECRET_SIG = "4dabf18193072939515e22adb298388d"


def fleet_run(preview: bool, members=None, secrets=None, **overrides) -> offline.Run:
    result = run_variant("dev", preview=preview, secrets=FLEET_SECRETS if secrets is None else secrets,
                         fleet={**FLEET, **({"members": members} if members is not None else {})}, **overrides)
    assert result.error is None, result.error
    return result


def is_secret(value) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) is not None


def hub_secret(run: offline.Run) -> dict:
    return run.one("Secret", f"{MCP}-fleet")


def hub_kubeconfig(run: offline.Run) -> dict:
    return yaml.safe_load(hub_secret(run)["stringData"]["kubeconfig"])


def mcp_args(run: offline.Run) -> list[str]:
    return run.one("Deployment", MCP)["spec"]["template"]["spec"]["containers"][0]["args"]


# ------------------------------------------------------------ registered

def test_each_members_objects_go_through_its_own_provider(preview):
    run = fleet_run(preview)
    providers = {p.name: p for p in run.providers}
    assert set(providers) == {"staging", "sandbox"}
    for name in ("staging", "sandbox"):
        assert providers[name].parent.endswith(f"FleetMember::{name}")
        assert is_secret(providers[name].inputs["kubeconfig"]), "a member's kubeconfig stays a secret input"
        objects = run.on(name)
        assert objects and all(o.provider.split("::")[3] == name for o in objects)
        assert all(o.name.startswith(f"{name}:") for o in objects)
    assert providers["staging"].inputs["context"] == "staging-admin"
    kinds = {name: sorted(o.kind for o in run.on(name)) for name in ("staging", "sandbox")}
    # view in two namespaces, and listing namespaces cluster-wide
    assert kinds["staging"] == ["ClusterRole", "ClusterRoleBinding", "Namespace", "RoleBinding", "RoleBinding",
                                "Secret", "ServiceAccount"]
    assert kinds["sandbox"] == ["ClusterRole", "ClusterRoleBinding", "Namespace", "Secret", "ServiceAccount"]
    # Nothing of a member lands in the hub, and the hub's objects keep the default provider.
    assert not [o for o in run.objects if o.name.startswith(("staging:", "sandbox:"))]


def test_a_members_rbac_is_its_own_preset_and_scope(preview):
    run = fleet_run(preview)
    staging = [o.manifest for o in run.on("staging") if o.kind == "RoleBinding"]
    assert {(b["metadata"]["namespace"], b["roleRef"]["name"]) for b in staging} == {("team-a", "view"),
                                                                                    ("team-b", "view")}
    (role,) = [o.manifest for o in run.on("sandbox") if o.kind == "ClusterRole"]
    secrets = [r for r in role["rules"] if "secrets" in r["resources"]]
    assert secrets and "delete" in secrets[0]["verbs"]
    assert not [r for r in role["rules"] if "projects" in r["resources"]], "sandbox is platform: kubernetes"
    read_only = fleet_run(preview, members=[{"name": "staging", "context": "staging-admin"}],
                          secrets={"fleetKubeconfigs": json.dumps({"staging": FLEET_KUBECONFIG})})
    (role,) = [o.manifest for o in read_only.on("staging") if o.kind == "ClusterRole"]
    assert all(set(r["verbs"]) <= {"get", "list", "watch"} for r in role["rules"])
    assert not [r for r in role["rules"] if "secrets" in r["resources"]]
    assert [r for r in role["rules"] if "projects" in r["resources"]], "the stack's platform (openshift)"


def test_a_members_token_secret_is_named_by_generation_and_names_its_account(preview):
    run = fleet_run(preview)
    (token,) = [o.manifest for o in run.on("sandbox") if o.kind == "Secret"]
    assert token["metadata"]["name"] == f"{MCP}-token-3" and token["type"] == "kubernetes.io/service-account-token"
    assert token["metadata"]["annotations"]["kubernetes.io/service-account.name"] == MCP
    account = next(o.manifest for o in run.on("sandbox") if o.kind == "ServiceAccount")
    assert account["metadata"]["name"] == MCP and account["automountServiceAccountToken"] is False


def test_the_hubs_kubeconfig_has_the_hub_first_then_a_context_per_member_and_no_token(preview):
    run = fleet_run(preview)
    config = hub_kubeconfig(run)
    assert [c["name"] for c in config["contexts"]] == ["central", "staging", "sandbox"]
    assert config["current-context"] == "central"
    clusters = {c["name"]: c["cluster"] for c in config["clusters"]}
    assert clusters["central"]["server"] == "https://kubernetes.default.svc"
    assert clusters["staging"]["server"] == "https://api.staging.example.com:6443"
    assert clusters["sandbox"]["server"] == "https://10.0.0.10:6443", "member.server overrides the kubeconfig's"
    fixture_ca = base64.b64decode(yaml.safe_load(FLEET_KUBECONFIG)["clusters"][1]["cluster"]
                                  ["certificate-authority-data"]).decode()
    assert base64.b64decode(clusters["staging"]["certificate-authority-data"]).decode() == fixture_ca
    # Another address than Pulumi's: the member's own CA, from its token Secret.
    assert base64.b64decode(clusters["sandbox"]["certificate-authority-data"]).decode() == offline.MOCK_CA
    users = {u["name"]: u["user"] for u in config["users"]}
    assert users == {"central": {"tokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"},
                     "staging": {"tokenFile": "/etc/kubernetes-mcp-server-fleet/staging.token"},
                     "sandbox": {"tokenFile": "/etc/kubernetes-mcp-server-fleet/sandbox.token"}}


def test_member_tokens_reach_the_hub_only_as_secret_values(preview):
    run = fleet_run(preview)
    registered = next(r for r in run.objects if r.kind == "Secret" and r.key[2] == f"{MCP}-fleet")
    data = registered.inputs["stringData"]
    assert is_secret(data), "the tokens make the Secret's data a secret input"
    assert set(data["value"]) == {"kubeconfig", "staging.token", "sandbox.token"}
    assert hub_secret(run)["stringData"]["sandbox.token"] == offline.mock_token(NS, MCP)
    token = offline.mock_token(NS, MCP)
    elsewhere = [r for r in run.all_objects if r is not registered]
    assert not [r.name for r in elsewhere if token in json.dumps(r.manifest)]
    assert not [line for line in run.logs if token in line]
    assert FLEET_KUBECONFIG not in json.dumps([r.manifest for r in run.objects]), "a member's kubeconfig stays out"


def test_the_mcp_server_reads_the_fleet_kubeconfig_from_the_mounted_secret(preview):
    run = fleet_run(preview)
    args = mcp_args(run)
    assert args[args.index("--cluster-provider") + 1] == "kubeconfig"
    assert args[args.index("--kubeconfig") + 1] == "/etc/kubernetes-mcp-server-fleet/kubeconfig"
    pod = run.one("Deployment", MCP)["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "fleet")
    assert volume == {"name": "fleet", "secret": {"secretName": f"{MCP}-fleet"}}
    assert run.outputs["fleetContexts"] == ["central", "staging", "sandbox"]


def checksum(run: offline.Run) -> str:
    return run.one("Deployment", MCP)["spec"]["template"]["metadata"]["annotations"]["checksum/fleet"]


def test_the_pods_roll_when_a_member_is_added_removed_or_rotated_and_only_then(preview):
    base = checksum(fleet_run(preview))
    assert checksum(fleet_run(preview)) == base
    assert re.fullmatch(r"[0-9a-f]{64}", base)
    one = FLEET["members"][:1]
    only_staging = {"fleetKubeconfigs": json.dumps({"staging": FLEET_KUBECONFIG})}
    assert checksum(fleet_run(preview, members=one, secrets=only_staging)) != base
    rotated = [FLEET["members"][0], {**FLEET["members"][1], "tokenGeneration": 4}]
    assert checksum(fleet_run(preview, members=rotated)) != base


def test_without_members_the_stack_is_unchanged(dev):
    assert dev.providers == [] and dev.find("Secret", f"{MCP}-fleet") == []
    assert "--cluster-provider" not in mcp_args(dev) and "fleetContexts" not in dev.outputs


def test_member_objects_pass_the_policy_pack(preview):
    run = fleet_run(preview)
    for cluster in ("", "staging", "sandbox"):
        assert rules.violations(run.manifests(cluster=cluster)) == [], cluster


def test_a_context_member_is_found_in_the_kubeconfig_pulumi_uses(preview, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(FIXTURE))
    run = fleet_run(preview, members=[{"name": "staging", "context": "staging-admin"}], secrets={})
    (provider,) = run.providers
    # The member's provider takes $KUBECONFIG, as the SDK's typed Provider does: the ambient file, not a secret.
    assert provider.inputs == {"context": "staging-admin", "kubeconfig": str(FIXTURE)}
    clusters = {c["name"]: c["cluster"]["server"] for c in hub_kubeconfig(run)["clusters"]}
    assert clusters["staging"] == "https://api.staging.example.com:6443"


def test_context_members_use_the_kubeconfig_named_in_pulumi_config(preview, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", "/nonexistent")
    values, _ = offline.stack_settings("dev")
    values["fleet"] = {"members": [{"name": "staging", "context": "staging-admin"}]}
    run = offline.run(values, {}, preview=preview, other_config={"kubernetes:kubeconfig": str(FIXTURE)})
    assert run.error is None, run.error
    (provider,) = run.providers
    assert provider.inputs == {"context": "staging-admin", "kubeconfig": str(FIXTURE)}
    assert [c["cluster"]["server"] for c in hub_kubeconfig(run)["clusters"]][1:] == [
        "https://api.staging.example.com:6443"]
    without = offline.run(values, {}, preview=preview)
    assert "Pulumi has no kubeconfig" in without.error and without.resources == []


# -------------------------------------------------------------- refused

def refused(preview: bool, fleet: dict, secrets: dict | None = None, env: dict | None = None,
            monkeypatch=None, **overrides) -> str:
    if env:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
    result = run_variant("dev", preview=preview, secrets=secrets or {}, fleet=fleet, **overrides)
    assert result.error is not None, "the settings were accepted"
    assert result.resources == [], "something was registered before the settings error"
    assert "Traceback" not in result.error
    return result.error


def test_every_fleet_problem_is_reported_at_once_before_anything_is_registered(preview, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(FIXTURE))
    error = refused(preview, {"members": [
        {"name": "staging", "context": "staging-admin"},
        {"name": "staging", "context": "sandbox-admin"},
        {"name": "hub", "context": "sandbox-admin"},
        {"name": "orphan"},
        {"name": "typo", "context": "stagin-admin"},
        {"name": "custom", "context": "sandbox-admin", "rbac": {"preset": "custom"}},
        {"name": "itself", "context": "hub-admin"},
        {"name": "system", "context": "sandbox-admin",
         "rbac": {"preset": "full", "scope": "namespaces", "namespaces": ["kube-system"]}},
    ]}, secrets={"fleetKubeconfigs": json.dumps({"ghost": FLEET_KUBECONFIG})})
    expected = [
        'fleet.members[1].name = "staging": names members[0] too',
        'fleet.members[2].name = "hub": is the hub\'s context name (fleet.hubName)',
        'fleet.members[3] = "orphan": has no credentials',
        "fleet.members[4].context = \"stagin-admin\": $KUBECONFIG",
        "has no context 'stagin-admin' (contexts: hub-admin, sandbox-admin, staging-admin)",
        'fleet.members[5].rbac.preset = "custom": is not allowed for fleet members',
        'fleet.members[6].context = "hub-admin": reaches https://api.hub.example.com:6443, the hub\'s own cluster',
        'fleet.members[7].rbac.namespaces = "kube-system": is a system namespace',
        "fleetKubeconfigs.ghost",
        "names no fleet member",
        "each cluster is one member",
    ]
    for fragment in expected:
        assert fragment in error, f"{fragment!r} not in:\n{error}"
    assert "fixture-admin-token" not in error


def test_a_fleet_with_passthrough_or_without_the_config_toolset_is_refused(preview):
    members = {"members": FLEET["members"]}
    error = refused(preview, members, FLEET_SECRETS, mcpServer={"passthrough": True, "toolsets": ["core"]},
                    llamaStack={"auth": {"provider": "kubernetes"}})
    assert "fleet.members" in error and "mcpServer.passthrough" in error
    assert 'mcpServer.toolsets = ["core"]: must include config with fleet members' in error


def test_an_unreadable_member_kubeconfig_is_refused_without_showing_it(preview):
    broken = "apiVersion: v1\nkind: Config\nusers: [{name: x, user: {token: SUPER-SECRET-TOKEN}}]\n  bad: ["
    error = refused(preview, {"members": [{"name": "sandbox"}]},
                    {"fleetKubeconfigs": json.dumps({"sandbox": broken})})
    assert "fleet.members[0]" in error and "fleetKubeconfigs.sandbox is not YAML" in error
    assert "SUPER-SECRET-TOKEN" not in error
    error = refused(preview, {"members": [{"name": "sandbox"}]}, {"fleetKubeconfigs": '"just a string"'})
    assert "fleetKubeconfigs" in error and "must map member names to kubeconfigs" in error


def test_a_member_kubeconfig_written_in_clear_is_refused(preview):
    values, _ = offline.stack_settings("dev")
    values["fleet"] = {"members": [{"name": "sandbox"}]}
    values["fleetKubeconfigs"] = {"sandbox": FLEET_KUBECONFIG}
    result = offline.run(values, {}, preview=preview)
    assert result.error and "fleetKubeconfigs: is in the stack file in clear text" in result.error
    assert "fixture-admin-token" not in result.error and result.resources == []


def test_render_writes_each_members_objects_to_its_own_folder(tmp_path, monkeypatch, capsys):
    from ops import render
    monkeypatch.setenv("KUBECONFIG", str(FIXTURE))
    stack = tmp_path / "Pulumi.fleet.yaml"
    stack.write_text(yaml.safe_dump({"config": {"llamastack-mcp:fleet": {"members": [
        {"name": "staging", "context": "staging-admin"}]}}}))
    assert render.render(str(stack), tmp_path / "out") == 0
    member = sorted(p.name for p in (tmp_path / "out" / "fleet" / "staging").glob("*.yaml"))
    assert len(member) == 5 and any("secret" in name for name in member), member
    hub = (tmp_path / "out").glob("*.yaml")
    assert any("kubernetes-mcp-server-fleet" in p.name for p in hub)
    assert "fleet member staging" in capsys.readouterr().out


def test_render_stands_in_for_encrypted_member_kubeconfigs(tmp_path, monkeypatch):
    """`make render` cannot decrypt `fleetKubeconfigs.NAME`: the member still renders, and the hub's
    kubeconfig shows a stand-in server for it."""
    monkeypatch.delenv("KUBECONFIG", raising=False)
    stack = tmp_path / "Pulumi.fleet.yaml"
    stack.write_text(yaml.safe_dump({"config": {
        "llamastack-mcp:fleet": {"members": [{"name": "sandbox", "context": "sandbox-admin"}]},
        "llamastack-mcp:fleetKubeconfigs": {"sandbox": {"secure": "v1:AAAAencrypted"}}}}))
    run = offline.run_stack(str(stack))
    assert run.error is None, run.error
    assert [o.kind for o in run.on("sandbox") if o.kind == "ServiceAccount"] == ["ServiceAccount"]
    servers = [c["cluster"]["server"] for c in hub_kubeconfig(run)["clusters"]]
    assert servers[1:] == [offline.stand_in_server("sandbox")]


# -------------------------------------------------------- kubeconfigs

def test_kubeconfig_lists_merge_like_client_go(tmp_path):
    first = tmp_path / "a"
    second = tmp_path / "b"
    (tmp_path / "ca.crt").write_text("CA")
    first.write_text(yaml.safe_dump({"current-context": "one", "contexts": [
        {"name": "one", "context": {"cluster": "c1"}}], "clusters": [
        {"name": "c1", "cluster": {"server": "https://one", "certificate-authority": "ca.crt"}}]}))
    second.write_text(yaml.safe_dump({"current-context": "two", "contexts": [
        {"name": "one", "context": {"cluster": "c2"}}, {"name": "two", "context": {"cluster": "c2"}}], "clusters": [
        {"name": "c2", "cluster": {"server": "https://two", "insecure-skip-tls-verify": True}}]}))
    merged = ambient(None, {"KUBECONFIG": f"{first}:{second}"})
    assert merged.current_context == "one"
    assert merged.endpoint("one").server == "https://one" and merged.endpoint("one").ca_pem == "CA"
    assert merged.endpoint("two").server == "https://two" and merged.endpoint("two").ca_pem is None
    assert ambient(None, {"KUBECONFIG": str(tmp_path / "missing"), "HOME": str(tmp_path)}) is None


def test_an_endpoint_that_is_not_https_or_has_no_cluster_is_explained():
    config = parse(yaml.safe_dump({"contexts": [{"name": "a", "context": {"cluster": "x"}},
                                                {"name": "b", "context": {"cluster": "nowhere"}}],
                                   "clusters": [{"name": "x", "cluster": {"server": "http://plain"}}]}), "test")
    with pytest.raises(KubeconfigError, match="not an https:// URL"):
        config.endpoint("a")
    with pytest.raises(KubeconfigError, match="does not define"):
        config.endpoint("b")
    with pytest.raises(KubeconfigError, match="no current-context"):
        config.endpoint()


def test_the_documented_example_is_the_example_stack_file_and_it_is_valid(monkeypatch):
    example = (ROOT / "examples" / "Pulumi.fleet.yaml").read_text()
    assert example in (ROOT / "docs" / "fleet.md").read_text()
    config = yaml.safe_load(example)["config"]
    monkeypatch.setenv("KUBECONFIG", str(FIXTURE))
    values = {k.split(":", 1)[1]: v for k, v in config.items()}
    result = offline.run({**offline.project_defaults(), **values},
                         {"fleetKubeconfigs": json.dumps({"sandbox": FLEET_KUBECONFIG.replace(
                             "current-context: hub-admin", "current-context: sandbox-admin")})})
    assert result.error is None, result.error
    assert result.outputs["fleetContexts"] == ["hub", "staging", "sandbox"]


def test_fleet_sources_never_keep_a_credential():
    sources = FleetSources.read(None, None, FLEET_SECRETS["fleetKubeconfigs"], environ={"HOME": "/nonexistent"})
    assert "fixture-admin-token" not in repr(sources)
    assert sources.endpoint("staging", "staging-admin").server == "https://api.staging.example.com:6443"
    assert fleet_module.token_file("staging") == "/etc/kubernetes-mcp-server-fleet/staging.token"
