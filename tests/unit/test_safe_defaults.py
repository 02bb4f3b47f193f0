"""Safe by default: no caller gains a right through the agent that the stack file does not grant by name,
no data is deleted by `destroy`, no committed salt, each stack's oldest server stated
(docs/security.md's first table points here)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components import server_version
from components.settings import load_settings
from ops.offline import stack_settings
from support import ROOT, refused, run_variant
from support.variants import CLUSTER_SCOPE, PW, SANDBOX as SANDBOX_RBAC

WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection", "*"}
SANDBOX = "llama-stack-sandbox"


def route_policy(run) -> list[dict]:
    config = yaml.safe_load(run.one("ConfigMap", "llama-stack-config")["data"]["config.yaml"])
    return config["server"]["auth"].get("route_policy", [])


def roles_by_name(run) -> dict[str, dict]:
    return {m["metadata"]["name"]: m for m in run.find("ClusterRole")}


# ------------------------------------------------------------------- rights

def test_dev_as_shipped_hands_its_rights_only_to_the_named_group(preview):
    dev = run_variant("dev", preview=preview)
    assert [p.get("when") for p in route_policy(dev)] == [None, "user with llama-stack-developers in roles"]
    assert route_policy(dev)[0]["permit"] == {"paths": "/v1/health"}  # the kubelet's probes carry no identity
    assert dev.one("ClusterRoleBinding", "llama-stack-kubernetes-mcp-server")  # acknowledged: allowClusterWideWrite


def test_a_sandbox_confines_writes_to_namespaces_the_stack_creates_and_keeps(preview):
    dev = run_variant("dev", preview=preview, mcpServer={"rbac": SANDBOX_RBAC})
    roles = roles_by_name(dev)
    for binding in dev.find("ClusterRoleBinding"):
        rules = roles.get(binding["roleRef"]["name"], {}).get("rules", [])
        assert not any(set(r["verbs"]) & WRITE_VERBS for r in rules), f"cluster-wide write: {binding}"
    writers = [b for b in dev.find("RoleBinding") if any(
        set(r["verbs"]) & WRITE_VERBS for r in roles[b["roleRef"]["name"]]["rules"])]
    assert {b["metadata"]["namespace"] for b in writers} == {SANDBOX}
    assert {n["metadata"]["name"] for n in dev.find("Namespace")} == {"llama-stack", SANDBOX}
    assert (("Namespace", SANDBOX)) in retained(dev)


def test_cluster_wide_write_needs_the_opt_in_named_as_written(preview):
    refused(run_variant(preview=preview, mcpServer={"rbac": {"allowClusterWideWrite": False}}),
            'mcpServer.rbac.scope = "cluster": with preset full lets the agent create, change and delete objects '
            "in every namespace", "mcpServer.rbac.allowClusterWideWrite: true")
    custom = {**CLUSTER_SCOPE, "allowClusterWideWrite": False, "preset": "custom",
              "rules": [{"resources": ["configmaps"], "verbs": ["delete"]}]}
    refused(run_variant(preview=preview, mcpServer={"rbac": custom}), 'mcpServer.rbac.scope = "cluster"')
    allowed = run_variant(preview=preview, mcpServer={"rbac": {**CLUSTER_SCOPE, "allowClusterWideWrite": True}})
    assert allowed.error is None, allowed.error
    assert allowed.one("ClusterRoleBinding", "llama-stack-kubernetes-mcp-server")
    reads = run_variant(preview=preview, mcpServer={"rbac": {**CLUSTER_SCOPE, "preset": "read-only"}})
    assert reads.error is None, reads.error


def test_the_agents_write_rights_go_only_to_callers_named_in_the_stack_file(preview):
    refused(run_variant(preview=preview, llamaStack={"auth": {"allowedGroups": []}}),
            "llamaStack.auth.allowedGroups = []: is empty (and allowedUsers too) while the agent changes objects",
            "mcpServer.passthrough: true")
    users = run_variant(preview=preview, llamaStack={"auth": {"allowedGroups": [], "allowedUsers": [
        "system:serviceaccount:team-a:deployer", "alice"]}})
    assert users.error is None, users.error
    assert [p.get("when") for p in route_policy(users)][1:] == [
        "user with system:serviceaccount:team-a:deployer in roles", "user with alice in roles"]
    refused(run_variant(preview=preview, llamaStack={"auth": {"allowedUsers": ["bad name"]}}),
            'llamaStack.auth.allowedUsers[0] = "bad name": must be a user name')
    open_api = run_variant(preview=preview, llamaStack={"auth": {"provider": "none", "allowedGroups": []},
                                                        "route": {"enabled": False}})
    refused(open_api, 'llamaStack.auth.provider = "none": lets whoever reaches Llama Stack change objects')
    # Reads (no Secrets) and passthrough (each call as its caller) need no names.
    reads = run_variant(preview=preview, llamaStack={"auth": {"allowedGroups": []}},
                        mcpServer={"rbac": {"preset": "read-only"}})
    assert reads.error is None, reads.error
    passthrough = run_variant(preview=preview, llamaStack={"auth": {"allowedGroups": []}},
                              mcpServer={"passthrough": True, "rbac": CLUSTER_SCOPE})
    assert passthrough.error is None, passthrough.error


def test_every_shipped_stack_names_its_callers_or_passes_the_callers_own_rights():
    for stack in ("dev", "prod"):
        values, secrets = stack_settings(stack)
        settings = load_settings(values, secrets | {"postgresPassword"})
        mcp, auth = settings.mcp_server, settings.llama_stack.auth
        assert mcp.passthrough or auth.allowed_groups or auth.allowed_users, stack
        assert mcp.passthrough or not (mcp.rbac.writes and mcp.rbac.scope == "cluster") \
            or mcp.rbac.allow_cluster_wide_write, stack


# --------------------------------------------------------------------- data

def retained(run) -> set[tuple[str, str]]:
    return {(r.manifest["kind"], r.manifest["metadata"]["name"]) for r in run.resources
            if r.custom and r.retain_on_delete}


@pytest.mark.parametrize("stack, kept", [
    ("dev", {("Namespace", "llama-stack"), ("PersistentVolumeClaim", "llama-stack-data")}),
    ("prod", {("Namespace", "llama-stack")}),
])
def test_destroy_keeps_what_may_hold_user_data(stack, kept, preview):
    run = run_variant(stack, preview=preview, secrets=PW)
    assert retained(run) == kept
    for kind, name in kept:
        assert run.one(kind, name)["metadata"]["labels"]["llamastack-mcp.io/keep-on-destroy"] == "true"


def test_deleting_user_data_on_destroy_is_an_explicit_opt_out(preview):
    run = run_variant(preview=preview, namespace={"keepOnDestroy": False},
                      llamaStack={"storage": {"keepOnDestroy": False}})
    assert run.error is None, run.error
    assert retained(run) == set()
    assert run.one("PersistentVolumeClaim", "llama-stack-data") and len(run.find("Namespace")) == 1


# ----------------------------------------------------------- secrets, target

def stack_files() -> list[Path]:
    return sorted(ROOT.glob("Pulumi.*.yaml")) + sorted((ROOT / "examples").rglob("Pulumi*.yaml"))


@pytest.mark.parametrize("path", stack_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_stack_file_carries_a_secrets_salt_or_key(path):
    text = yaml.safe_load(path.read_text()) or {}
    assert not {"encryptionsalt", "encryptedkey", "secretsprovider"} & set(text), \
        f"{path.name}: made with somebody's secrets provider; every user sets their own"


def test_a_pin_names_a_context_and_an_https_api_server():
    refused(run_variant(target={"apiServer": "http://api.example.com:6443"}), "target.apiServer")
    pinned = run_variant(target={"context": "dev-admin", "apiServer": "https://api.dev.example.com:6443"})
    assert pinned.error is None, pinned.error


# ----------------------------------------------------------------- versions

def test_each_stack_states_the_oldest_server_and_the_setting_that_needs_it():
    values, _ = stack_settings("prod")
    prod = load_settings(values, {"postgresPassword"})
    assert server_version.minimum(prod) == (1, 30)
    assert {n.setting for n in server_version.too_old(prod, (1, 29))} == {"mcpServer.shutdownDelaySeconds",
                                                                          "llamaStack.shutdownDelaySeconds"}
    assert server_version.too_old(prod, (1, 30)) == []
    assert server_version.openshift_release((1, 30)) == "4.17"
    values, _ = stack_settings("dev")
    dev = load_settings(values)
    assert server_version.minimum(dev) == (1, 28)  # Llama Stack asks SelfSubjectReviews (GA in 1.28)
    assert [n.setting for n in server_version.too_old(dev, (1, 27))] == ["llamaStack.auth.provider"]
    oidc = values | {"llamaStack": {**values["llamaStack"], "auth": {
        "provider": "oidc", "allowedGroups": ["platform"], "oidc": {
            "issuer": "https://sso.example.com", "jwksUrl": "https://sso.example.com/keys"}}}}
    assert server_version.minimum(load_settings(oidc)) == server_version.BASELINE


# ------------------------------------------------- make's target check (ops/target.py)

def test_a_pin_elsewhere_is_refused_naming_the_setting_as_written():
    from ops import target
    path = "Pulumi.prod.yaml"
    assert target.pin_problems({}, "dev-admin", "https://api.dev:6443", path) == []
    pin = {"context": "prod-admin", "apiServer": "https://api.prod:6443/"}
    assert target.pin_problems(pin, "prod-admin", "https://api.prod:6443", path) == []
    assert target.pin_problems(pin, "dev-admin", "https://api.dev:6443", path) == [
        "target.context = 'prod-admin' in Pulumi.prod.yaml, but Pulumi would use context 'dev-admin'",
        "target.apiServer = 'https://api.prod:6443/' in Pulumi.prod.yaml, but context 'dev-admin' points at "
        "https://api.dev:6443"]


def fake_kubectl(tmp_path: Path, minor: str) -> Path:
    """A kubectl that answers `config` and `version` as one for a cluster of Kubernetes 1.<minor> would."""
    script = tmp_path / "kubectl"
    script.write_text(f"""#!/bin/sh
server=https://api.prod:6443
if [ "$1" = --kubeconfig ]; then server="https://$(basename "$2" .yaml):6443"; shift 2; fi
case "$*" in
  "config current-context") echo prod-admin ;;
  config\\ view*) printf "$server" ;;
  version*) echo '{{"serverVersion": {{"major": "1", "minor": "{minor}", "gitVersion": "v1.{minor}.4"}}}}' ;;
  *) exit 1 ;;
esac
""")
    script.chmod(0o755)
    return script


def test_an_old_server_is_refused_before_any_change_naming_the_setting_and_the_version(tmp_path, capsys):
    from ops import target
    prod = str(ROOT / "Pulumi.prod.yaml")
    code = target.main(["--stack-file", prod, "--command", "preview", "--kubectl", str(fake_kubectl(tmp_path, "29"))])
    err = capsys.readouterr().err
    assert code == target.REFUSED, err
    assert "target: context 'prod-admin', API server https://api.prod:6443" in err
    assert ("refused: mcpServer.shutdownDelaySeconds needs Kubernetes >= 1.30 (OpenShift >= 4.17) for a preStop "
            "`sleep` action") in err and "the server at https://api.prod:6443 runs v1.29.4" in err
    assert "refused: llamaStack.shutdownDelaySeconds" in err and "nothing was changed" in err
    ok = target.main(["--stack-file", prod, "--command", "preview", "--kubectl", str(fake_kubectl(tmp_path, "30+"))])
    assert ok == 0, capsys.readouterr().err
    dev = str(ROOT / "Pulumi.dev.yaml")
    assert target.main(["--stack-file", dev, "--command", "up", "--kubectl", str(fake_kubectl(tmp_path, "28"))]) == 0
    capsys.readouterr()
    assert target.main(["--stack-file", dev, "--command", "up", "--kubectl", str(fake_kubectl(tmp_path, "27"))]) == 3
    assert "refused: llamaStack.auth.provider needs Kubernetes >= 1.28 (OpenShift >= 4.15)" in capsys.readouterr().err
    # destroy asks no version: an old server's stack can always be removed
    assert target.main(["--stack-file", prod, "--command", "destroy",
                        "--kubectl", str(fake_kubectl(tmp_path, "20"))]) == 0


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_stack_file_states_the_oldest_server_it_needs(stack):
    import re
    stated = re.search(r"Needs Kubernetes >= (\d+)\.(\d+) \(OpenShift >= 4\.(\d+)\)", (ROOT / f"Pulumi.{stack}.yaml").read_text())
    assert stated, f"Pulumi.{stack}.yaml states no minimum version"
    values, _ = stack_settings(stack)
    needed = server_version.minimum(load_settings(values, {"postgresPassword"}))
    assert (int(stated[1]), int(stated[2])) == needed
    assert f"4.{stated[3]}" == server_version.openshift_release(needed)


def test_the_cluster_named_is_the_one_the_stack_files_kubeconfig_gives_the_provider(tmp_path, capsys):
    from ops import target
    kubeconfig = tmp_path / "api.staging.yaml"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    stack = tmp_path / "Pulumi.prod.yaml"
    stack.write_text((ROOT / "Pulumi.prod.yaml").read_text().replace(
        "config:\n", f"config:\n  kubernetes:kubeconfig: {kubeconfig}\n", 1))
    code = target.main(["--stack-file", str(stack), "--command", "preview", "--kubectl", str(fake_kubectl(tmp_path, "30"))])
    assert code == 0 and "API server https://api.staging:6443" in capsys.readouterr().err
    stack.write_text(stack.read_text().replace("config:\n", "config:\n  llamastack-mcp:target: {apiServer: https://api.prod:6443}\n", 1))
    code = target.main(["--stack-file", str(stack), "--command", "preview", "--kubectl", str(fake_kubectl(tmp_path, "30"))])
    assert code == target.REFUSED and "points at https://api.staging:6443" in capsys.readouterr().err


def test_no_way_around_llama_stack_to_the_agents_write_rights(preview):
    refused(run_variant(preview=preview, monitoring={"serviceMonitor": True}),
            "monitoring.serviceMonitor = true: lets every pod of the monitoring namespace call the MCP server",
            "networkPolicy.allowUnauthenticatedMcp: true")
    for fine in ({"mcpServer": {"rbac": {"preset": "read-only"}}},
                 {"networkPolicy": {"allowUnauthenticatedMcp": True}}):
        run = run_variant(preview=preview, monitoring={"serviceMonitor": True}, **fine)
        assert run.error is None, run.error


def test_a_fleet_members_write_rights_need_named_callers_and_confinement(preview):
    from support.variants import FLEET, FLEET_SECRETS
    member = {"name": "sandbox", "context": "sandbox-admin", "platform": "kubernetes", "rbac": {"preset": "full"}}
    hub = {"rbac": {**CLUSTER_SCOPE, "preset": "read-only", "allowClusterWideWrite": False}}
    run = run_variant(preview=preview, secrets=FLEET_SECRETS, mcpServer=hub, llamaStack={"auth": {"allowedGroups": []}},
                      fleet={**FLEET, "members": [member]})
    refused(run, 'fleet.members[0].rbac.scope = "cluster": with preset full lets the agent change every namespace '
                 "of member sandbox", "llamaStack.auth.allowedGroups = []", "fleet.members[].rbac.preset: full on sandbox")


def test_destroy_cannot_delete_a_claim_it_keeps_with_its_namespace(preview):
    refused(run_variant(preview=preview, namespace={"keepOnDestroy": False}),
            "namespace.keepOnDestroy = false: deletes the namespace on destroy, and with it the SQLite claim")
