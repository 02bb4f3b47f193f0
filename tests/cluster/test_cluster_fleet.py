"""One agent, a fleet of clusters, on three local control planes side by side.

The hub is the session's cluster; `staging` (reached through a context of the
kubeconfig Pulumi uses, preset read-only) and `sandbox` (reached through a
kubeconfig held as a Pulumi secret, preset full) are two more, started by the
same cluster tooling. After `pulumi up` of a fleet stack, the real MCP server
runs with the hub's assembled kubeconfig as deployed (read back from the hub's
API server; only the hub's own in-cluster context and the token files' paths
are made local) and answers through its `context` argument; Llama Stack runs
an agent turn naming a member. Removing a member, rotating a token and
`destroy` are each one settings change and one command, as a user makes them.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.agent_clients import MODEL, NS, agent_turn, call, deployed, mcp_calls
from support import CLUSTER_PORT_BASE, ROOT, deep_merge
from testbed.localcluster.harness import TOOLCHAIN_BIN, LocalCluster, Project, changed
from support import leftovers, namespace_gone
from testbed.e2e.servers import deps, processes, start_llama_stack, start_mcp, start_stub_model

MCP = "kubernetes-mcp-server"
FLEET_SECRET = f"{MCP}-fleet"
MEMBERS = {"staging": 1000, "sandbox": 1100}  # port offsets from the hub's
STAGING = {"name": "staging", "context": "staging-admin"}
SANDBOX = {"name": "sandbox", "rbac": {"preset": "full"}}


@pytest.fixture(scope="module")
def members(cluster):
    """Two more control planes, each running a pod `web-<member>` and holding a Secret `db` in default."""
    started = {name: LocalCluster(ROOT / "build" / f"test-cluster-{name}", CLUSTER_PORT_BASE + offset)
               for name, offset in MEMBERS.items()}
    try:
        for name, member in started.items():
            member.up(fresh=True)
            member.kubectl("run", f"web-{name}", "-n", "default", "--image=registry.example/web:1")
            member.kubectl("create", "secret", "generic", "db", "-n", "default", "--from-literal=password=hunter2")
        yield started
    finally:
        for member in started.values():
            member.down()


def ambient_kubeconfig(cluster, staging: LocalCluster, path: Path) -> Path:
    """The kubeconfig Pulumi uses: the hub (current context) and a context for staging."""
    hub = yaml.safe_load(cluster.kubeconfig.read_text())
    other = yaml.safe_load(staging.kubeconfig.read_text())
    user = other["users"][0]
    hub["clusters"].append({**other["clusters"][0], "name": "staging"})
    hub["users"].append({**user, "name": "staging-admin"})
    hub["contexts"].append({"name": "staging-admin", "context": {"cluster": "staging", "user": "staging-admin"}})
    path.write_text(yaml.safe_dump(hub))
    return path


@pytest.fixture(scope="module")
def fleet(cluster, members, tmp_path_factory):
    """The dev stack with a fleet: staging and sandbox, after `pulumi up`; destroyed at the end."""
    assert leftovers(cluster) == [], "an earlier module left objects behind"
    work = tmp_path_factory.mktemp("fleet")
    project = Project(cluster, work / "project", "fleet", stack_source="dev",
                      env_extra={"KUBECONFIG": str(ambient_kubeconfig(cluster, members["staging"],
                                                                      work / "kubeconfig"))})
    project.pulumi("config", "set", "--secret", "--path", "fleetKubeconfigs.sandbox",
                   members["sandbox"].kubeconfig.read_text(), "--stack", "fleet")
    stack = project.settings()["llamastack-mcp:llamaStack"]
    project.set_setting("llamaStack", deep_merge(stack, {"inference": {"model": MODEL}}))
    project.set_setting("fleet", {"members": [STAGING, SANDBOX]})
    # Each member's own RBAC is what these tests judge: the server's Secret denial stays out of the way.
    project.set_setting("mcpServer", {**project.settings()["llamastack-mcp:mcpServer"], "deniedResources": []})
    project.up()
    yield project
    project.destroy()
    namespace_gone(cluster)
    for member in members.values():
        assert leftovers(member) == [], "destroy left objects on a member"


def hub_secret(cluster) -> dict[str, str]:
    data = cluster.get("secret", FLEET_SECRET, "-n", NS)["data"]
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def token_of(member: LocalCluster, generation: int = 1) -> str:
    data = member.get("secret", f"{MCP}-token-{generation}", "-n", NS)["data"]
    return base64.b64decode(data["token"]).decode()


def local_kubeconfig(cluster, procs) -> Path:
    """The deployed kubeconfig with the paths only a pod has made local: the hub's in-cluster
    context becomes the local API server with a bound token for the MCP ServiceAccount, and each
    member's token file is written from the deployed Secret. Member contexts are used as deployed."""
    secret = hub_secret(cluster)
    config = yaml.safe_load(secret["kubeconfig"])
    tokens = procs.workdir / "fleet-tokens"
    tokens.mkdir(exist_ok=True)
    hub = config["current-context"]
    (tokens / hub).write_text(cluster.kubectl("create", "token", MCP, "-n", NS).stdout.strip())
    for name in (c["name"] for c in config["contexts"] if c["name"] != hub):
        (tokens / name).write_text(secret[f"{name}.token"])
    for entry in config["clusters"]:
        if entry["name"] == hub:
            entry["cluster"] = {"server": cluster.api_url, "certificate-authority": str(cluster.ca_file)}
    for entry in config["users"]:
        entry["user"]["tokenFile"] = str(tokens / entry["name"])
    path = procs.workdir / "fleet-kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def start_hub_mcp(cluster, procs) -> str:
    return start_mcp(deployed(cluster), procs, local_kubeconfig(cluster, procs))


def on(member: str, tool: str, **arguments: Any) -> tuple[str, dict[str, Any]]:
    return tool, {**arguments, "context": member}


def api_status(member: LocalCluster, token: str) -> int:
    """What a member's API server says to a token: 200, or 401 once it is revoked."""
    proc = subprocess.run([str(TOOLCHAIN_BIN / "kubectl"), "--server", member.api_url,
                           "--certificate-authority", str(member.ca_file), "--token", token,
                           "get", "--raw", "/api"], capture_output=True, text=True)
    return 200 if proc.returncode == 0 else (401 if "Unauthorized" in proc.stderr else proc.returncode)


# ------------------------------------------------------------ after `up`

def test_each_member_holds_its_own_account_rbac_and_token(fleet, members):
    for name, member in members.items():
        member.get("serviceaccount", MCP, "-n", NS)
        assert token_of(member) and api_status(member, token_of(member)) == 200
        (role,) = member.get("clusterroles", "-l", "app.kubernetes.io/part-of=llamastack-mcp")["items"]
        secrets = [r for r in role["rules"] if "secrets" in r.get("resources", [])]
        if name == "staging":  # read-only
            assert not secrets and all(set(r["verbs"]) <= {"get", "list", "watch"} for r in role["rules"]), role
        else:  # full
            assert secrets and "delete" in secrets[0]["verbs"], role


def test_the_hub_holds_one_kubeconfig_with_a_context_per_member_and_no_inline_credential(cluster, fleet, members):
    secret = hub_secret(cluster)
    config = yaml.safe_load(secret["kubeconfig"])
    assert [c["name"] for c in config["contexts"]] == ["hub", "staging", "sandbox"]
    assert all(set(u["user"]) == {"tokenFile"} for u in config["users"]), config["users"]
    servers = {c["name"]: c["cluster"]["server"] for c in config["clusters"]}
    assert servers == {"hub": "https://kubernetes.default.svc", **{n: m.api_url for n, m in members.items()}}
    for name, member in members.items():
        assert secret[f"{name}.token"] == token_of(member)
        assert token_of(member) not in secret["kubeconfig"]
    args = deployed(cluster).one("Deployment", MCP)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--cluster-provider") + 1] == "kubeconfig", args
    assert fleet.outputs()["fleetContexts"] == ["hub", "staging", "sandbox"]


def test_the_real_mcp_server_reaches_each_member_with_that_members_rights(cluster, fleet, members):
    secret = hub_secret(cluster)
    with processes() as procs:
        found = mcp_calls(start_hub_mcp(cluster, procs), None, None, [
            ("configuration_contexts_list", {}),
            on("staging", "pods_list_in_namespace", namespace="default"),
            on("sandbox", "pods_list_in_namespace", namespace="default"),
            ("pods_list_in_namespace", {"namespace": "default"}),
            on("staging", "resources_get", apiVersion="v1", kind="Secret", namespace="default", name="db"),
            on("sandbox", "resources_get", apiVersion="v1", kind="Secret", namespace="default", name="db"),
            ("configuration_view", {"minified": False})])
    results = list(found.values())[1:]
    contexts, staging, sandbox, hub, staging_secret, sandbox_secret, view = results
    assert "*hub" in contexts[1] and " staging -> " in contexts[1] and " sandbox -> " in contexts[1], contexts
    assert not staging[0] and "web-staging" in staging[1] and "web-sandbox" not in staging[1], staging
    assert not sandbox[0] and "web-sandbox" in sandbox[1], sandbox
    assert "web-staging" not in hub[1] and "web-sandbox" not in hub[1], hub
    assert staging_secret[0] and "forbidden" in staging_secret[1], staging_secret  # read-only
    assert not sandbox_secret[0] and "name: db" in sandbox_secret[1], sandbox_secret  # full
    assert not view[0] and "tokenFile" in view[1]
    for name in members:
        assert secret[f"{name}.token"] not in view[1], "the agent must never see a member's token"


def test_an_agent_turn_through_llama_stack_lists_the_pods_of_a_named_member(cluster, fleet):
    with processes() as procs:
        mcp_url = start_hub_mcp(cluster, procs)
        model_url = start_stub_model(procs, MODEL, "pods_list")
        base = start_llama_stack(deployed(cluster), mcp_url, procs, deps("llama-stack"), inference_url=model_url,
                                 kube_api=(cluster.api_url, str(cluster.ca_file)))
        user = cluster.developer_token()  # the fleet hub is dev's: its rights go to llama-stack-developers
        turn = agent_turn(base, user, call("pods_list_in_namespace", namespace="default", context="sandbox"),
                          forward=False)
    assert turn["name"] == "pods_list_in_namespace" and not turn["error"], turn
    assert "web-sandbox" in turn["output"] and "web-staging" not in turn["output"], turn


# ------------------------------------------------ one settings change each

# The provider replaces a Secret whose data changes (the name is kept: delete, then create).
HUB_CHANGES = {("replace", f"kubernetes:core/v1:Secret::secret:{NS}/{FLEET_SECRET}"),
               ("update", f"kubernetes:apps/v1:Deployment::deployment:{NS}/{MCP}")}


def fleet_changes(project: Project, members_setting: list[dict[str, Any]]) -> list[tuple[str, str]]:
    project.set_setting("fleet", {"members": members_setting})
    return changed(project.preview_steps())


def test_removing_a_member_changes_only_its_objects_and_the_hubs_kubeconfig(cluster, fleet, members):
    steps = fleet_changes(fleet, [SANDBOX])
    ours = {(op, name) for op, name in steps if not name.split("::")[-1].startswith("staging")}
    theirs = [(op, name) for op, name in steps if name.split("::")[-1].startswith("staging")]
    # five objects (namespace, account, role, binding, token), its provider and its component
    assert len(theirs) == 7 and all(op == "delete" for op, _ in theirs), steps
    assert ours == HUB_CHANGES, steps
    assert ("delete", "pulumi:providers:kubernetes::staging") in steps
    old_token = token_of(members["staging"])
    fleet.up()
    assert leftovers(members["staging"]) == []
    assert api_status(members["staging"], old_token) == 401, "deleting the token Secret revokes the token"
    assert fleet.outputs()["fleetContexts"] == ["hub", "sandbox"]
    with processes() as procs:
        found = mcp_calls(start_hub_mcp(cluster, procs), None, None, [
            ("configuration_contexts_list", {}), on("staging", "pods_list_in_namespace", namespace="default")])
    contexts, staging = list(found.values())[1:]
    assert "staging" not in contexts[1], contexts
    assert staging[0] and "web-staging" not in staging[1], staging


def test_adding_a_member_back_previews_only_its_objects_and_the_hubs_kubeconfig(fleet):
    steps = fleet_changes(fleet, [STAGING, SANDBOX])
    theirs = {name for op, name in steps if op == "create"}
    assert theirs and all(name.split("::")[-1].startswith("staging") for name in theirs), steps
    others = {(op, name) for op, name in steps if op != "create"}
    assert others == HUB_CHANGES, steps
    fleet.set_setting("fleet", {"members": [SANDBOX]})  # as deployed


def test_raising_token_generation_rotates_the_members_token(cluster, fleet, members):
    sandbox = members["sandbox"]
    old = token_of(sandbox)
    checksum = deployed(cluster).one("Deployment", MCP)["spec"]["template"]["metadata"]["annotations"]
    fleet.set_setting("fleet", {"members": [{**SANDBOX, "tokenGeneration": 2}]})
    fleet.up()
    new = token_of(sandbox, 2)
    assert new != old and api_status(sandbox, new) == 200 and api_status(sandbox, old) == 401
    assert hub_secret(cluster)["sandbox.token"] == new
    rolled = deployed(cluster).one("Deployment", MCP)["spec"]["template"]["metadata"]["annotations"]
    assert rolled["checksum/fleet"] != checksum["checksum/fleet"], "the MCP pods roll onto the new token"


def test_an_unreachable_member_blocks_only_changes_to_it_and_target_goes_on_with_the_hub(cluster, fleet, members):
    """docs/fleet.md: with a member unreachable, a change to the hub alone still deploys (the provider of an
    unchanged member never calls its cluster); a change to that member fails, naming it; `--target` the hub's
    objects goes on without it."""
    sandbox = members["sandbox"]

    def log_level(value: int) -> None:
        fleet.set_setting("mcpServer", {**fleet.settings()["llamastack-mcp:mcpServer"], "logLevel": value})

    def deployed_log_level() -> str:
        args = cluster.get("deployment", MCP, "-n", NS)["spec"]["template"]["spec"]["containers"][0]["args"]
        return args[args.index("--log-level") + 1]

    sandbox.down()  # its API server stopped: unreachable, as a member behind a broken VPN would be
    try:
        log_level(3)
        assert fleet.pulumi("up", "--yes", "--skip-preview", check=False).returncode == 0
        assert deployed_log_level() == "3", "a hub-only change deploys with a member down"
        fleet.set_setting("fleet", {"members": [{**SANDBOX, "tokenGeneration": 3}]})
        log_level(4)
        started = time.monotonic()
        failed = fleet.pulumi("up", "--yes", "--skip-preview", check=False)
        took = time.monotonic() - started
        assert failed.returncode != 0, "a change to the unreachable member fails the run"
        assert "sandbox" in failed.stdout + failed.stderr, "the error names the member"
        assert took < 300, f"failed after {took:.0f} s"
        state = json.loads(fleet.pulumi("stack", "export").stdout)["deployment"]["resources"]
        (urn,) = [r["urn"] for r in state if r["type"] == "kubernetes:apps/v1:Deployment"
                  and r["urn"].endswith(f"deployment:{NS}/{MCP}")]
        targeted = fleet.pulumi("up", "--yes", "--skip-preview", "--target", urn, check=False)
        assert targeted.returncode == 0, targeted.stdout[-3000:] + targeted.stderr[-2000:]
        assert deployed_log_level() == "4", "--target took the hub's change without the member"
    finally:
        sandbox.up(fresh=False)
    log_level(2)
    fleet.up()  # the member back: one `up` converges it all, its new token included
    assert api_status(sandbox, token_of(sandbox, 3)) == 200
