"""The real Pulumi engine against a real Kubernetes control plane.

`pulumi preview/up/refresh/destroy` (CLI, language host and Kubernetes
provider built by `make toolchain`) run this project's unchanged stack files
against the local cluster (`testbed/localcluster/`: etcd, kube-apiserver,
controller-manager, scheduler, kwok nodes). What mocks cannot show is checked
here: what the API server accepts and defaults, whether a second `up` is a
no-op, how changes are applied, drift, clean-up, RBAC as the API server
decides it. A failure names the command's log and the control-plane logs
(build/test-cluster/).
"""

from __future__ import annotations

import re

import pytest

from support import (CLUSTER_ROLE, LLAMA, MCP, MCP_DEPLOYMENT, NS, ROOT, TEST_SECRETS,
                     available, deep_merge, deployment, leftovers, namespace_gone, pulumi_sh)
from testbed.bench.deploy import make_destroy_args
from testbed.localcluster.harness import TOOLCHAIN_BIN, Project, changed

# --------------------------------------------------------------- dev, in order

@pytest.fixture(scope="module")
def dev(cluster, tmp_path_factory):
    """The dev stack file, unchanged, after `pulumi preview` and `pulumi up`."""
    project = Project(cluster, tmp_path_factory.mktemp("dev") / "project", "dev")
    preview = project.pulumi("preview")
    assert "+ " in preview.stdout and "create" in preview.stdout
    project.up()
    yield project
    without_leftovers(cluster, project)  # a failed test must not leave objects behind


def test_dev_up_makes_every_deployment_available(cluster, dev):
    # `pulumi up` returned only after the provider's await logic saw them Available.
    for name in (MCP, LLAMA):
        dep = deployment(cluster, name)
        assert available(dep), f"{name}: {dep.get('status')}"
        assert dep["status"]["readyReplicas"] == dep["spec"]["replicas"] == 1


def test_dev_outputs_point_at_what_was_created(cluster, dev):
    out = dev.outputs()
    assert out["namespace"] == NS
    assert out["mcpServerUrl"] == f"http://{MCP}.{NS}.svc.cluster.local:8080/mcp"
    assert out["mcpServiceAccount"] == MCP
    assert out["llamaStackInternalUrl"].startswith(f"http://{LLAMA}.{NS}.svc.cluster.local:8321")
    # No router on this cluster admits the Route, so OpenShift's generated host is unknown.
    assert out["llamaStackUrl"] == "https://<generated>"
    cluster.get("serviceaccount", out["mcpServiceAccount"], "-n", NS)
    cluster.get("service", MCP, "-n", NS)


def test_a_second_up_changes_nothing(dev):
    dev.pulumi("preview", "--expect-no-changes")
    result = dev.up("--expect-no-changes")
    assert "unchanged" in result.stdout


def test_a_promotion_previews_as_one_in_place_update_of_the_mcp_deployment(dev):
    before = dev.stack_file.read_text()
    settings = dev.settings()
    mcp = dict(settings["llamastack-mcp:mcpServer"], image="quay.io/containers/kubernetes_mcp_server:v0.0.68")
    dev.set_setting("mcpServer", mcp)
    try:
        assert changed(dev.preview_steps()) == [("update", MCP_DEPLOYMENT)]
    finally:
        dev.stack_file.write_text(before)


def test_a_preset_change_updates_rules_and_args_in_place(cluster, dev):
    sa_uid = cluster.get("serviceaccount", MCP, "-n", NS)["metadata"]["uid"]
    dep_uid = deployment(cluster, MCP)["metadata"]["uid"]
    before = dev.stack_file.read_text()
    mcp = deep_merge(dev.settings()["llamastack-mcp:mcpServer"], {"rbac": {"preset": "read-only"}})
    dev.set_setting("mcpServer", mcp)
    try:
        steps = changed(dev.preview_steps())
        assert sorted(steps) == sorted([("update", CLUSTER_ROLE), ("update", MCP_DEPLOYMENT)]), steps
        dev.up()
        role = cluster.get("clusterrole", f"{NS}-{MCP}")
        assert all(set(r["verbs"]) <= {"get", "list", "watch"} for r in role["rules"])
        args = deployment(cluster, MCP)["spec"]["template"]["spec"]["containers"][0]["args"]
        assert "--read-only" in args
        assert cluster.get("serviceaccount", MCP, "-n", NS)["metadata"]["uid"] == sa_uid
        assert deployment(cluster, MCP)["metadata"]["uid"] == dep_uid
    finally:
        dev.stack_file.write_text(before)
        dev.up()
    assert "--read-only" not in deployment(cluster, MCP)["spec"]["template"]["spec"]["containers"][0]["args"]


def test_refresh_sees_out_of_band_changes_and_up_puts_them_back(cluster, dev):
    cluster.kubectl("scale", "deployment", MCP, "-n", NS, "--replicas=3")
    cluster.kubectl("label", "deployment", MCP, "-n", NS, "--overwrite", "app.kubernetes.io/component=tampered")
    refresh = dev.pulumi("refresh", "--yes", "--skip-preview")
    assert re.search(r"~\s+1 updated|1 updated", refresh.stdout), refresh.stdout
    steps = changed(dev.preview_steps())
    assert ("update", MCP_DEPLOYMENT) in steps, steps
    dev.up()
    dep = deployment(cluster, MCP)
    assert dep["spec"]["replicas"] == 1
    assert dep["metadata"]["labels"]["app.kubernetes.io/component"] == "mcp-server"
    dev.pulumi("preview", "--expect-no-changes")


KEPT = ["namespace/llama-stack", "persistentvolumeclaim/llama-stack-data"]


def test_destroy_keeps_only_what_may_hold_data_and_the_next_up_takes_it_over(cluster, dev):
    assert leftovers(cluster), "nothing deployed to destroy"
    claim = cluster.kubectl("get", "pvc", "llama-stack-data", "-n", NS, "-o", "jsonpath={.metadata.uid}").stdout
    dev.destroy()
    assert leftovers(cluster) == KEPT, "destroy keeps the namespace it created and the SQLite claim, nothing else"
    dev.up()  # the provider (server-side apply) takes the kept objects over: the same claim, not a new one
    assert cluster.kubectl("get", "pvc", "llama-stack-data", "-n", NS, "-o",
                           "jsonpath={.metadata.uid}").stdout == claim
    assert available(deployment(cluster, MCP)) and available(deployment(cluster, LLAMA))
    dev.pulumi("preview", "--expect-no-changes")
    dev.destroy()
    assert leftovers(cluster) == KEPT
    namespace_gone(cluster)  # the one command destroy names: kubectl delete namespace llama-stack
    assert leftovers(cluster) == []


# -------------------------------------------------------------------- prod

def without_leftovers(cluster, owner: Project) -> None:
    """Destroy what an earlier fixture's stack left (its tests may have been deselected or failed)."""
    if leftovers(cluster):
        owner.destroy()
        namespace_gone(cluster)


@pytest.fixture(scope="module")
def prod(cluster, tmp_path_factory, dev):
    without_leftovers(cluster, dev)
    project = Project(cluster, tmp_path_factory.mktemp("prod") / "project", "prod",
                      secrets={"postgresPassword": TEST_SECRETS["postgresPassword"]})
    project.pulumi("preview")
    project.up()
    yield project
    without_leftovers(cluster, project)


def test_prod_up_is_available_autoscaled_and_a_noop_the_second_time(cluster, prod):
    for name in (MCP, LLAMA):
        cluster.wait_until(f"{name} scaled to the HPA's minimum",
                           lambda: deployment(cluster, name)["status"].get("readyReplicas") == 2, timeout=60)
        assert available(deployment(cluster, name))
        assert cluster.get("hpa", name, "-n", NS)["spec"]["minReplicas"] == 2
    assert {r["metadata"]["name"] for r in cluster.get("prometheusrule", "-n", NS)["items"]}
    prod.pulumi("preview", "--expect-no-changes")


def test_prod_secret_stays_secret_in_state_and_outputs(prod):
    state = prod.pulumi("stack", "export").stdout
    assert TEST_SECRETS["postgresPassword"] not in state
    assert "ciphertext" in state


def test_policy_pack_under_the_real_cli(prod):
    prod.pulumi("preview", "--policy-pack", "policy")
    before = prod.stack_file.read_text()
    mcp = dict(prod.settings()["llamastack-mcp:mcpServer"], image="quay.io/containers/kubernetes_mcp_server:latest")
    prod.set_setting("mcpServer", mcp)
    try:
        result = prod.pulumi("preview", "--policy-pack", "policy", check=False)
    finally:
        prod.stack_file.write_text(before)
    assert result.returncode != 0
    assert "no-mutable-images" in result.stdout and "kubernetes_mcp_server:latest" in result.stdout, result.stdout[-3000:]


# ------------------------------------------- RBAC as the API server decides it

# docs/security.md's preset table (between the rbac-matrix markers) is the promise;
# each column is one of these settings, deployed with `pulumi up`.
RBAC_COLUMNS = {
    "full": {"preset": "full", "scope": "cluster", "allowClusterWideWrite": True},
    "read-only": {"preset": "read-only", "scope": "cluster"},
    "view": {"preset": "view", "scope": "cluster"},
    "custom": {"preset": "custom", "scope": "cluster",
               "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]},
    "read-only, namespaces [team-a]": {"preset": "read-only", "scope": "namespaces", "namespaces": ["team-a"]},
}


def readme_rbac_matrix() -> tuple[list[str], dict[str, dict[str, bool]]]:
    """(checks in order, column -> check -> allowed) from docs/security.md's table."""
    section = (ROOT / "docs" / "security.md").read_text().split("<!-- rbac-matrix -->")[1].split("<!-- /rbac-matrix -->")[0]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in section.splitlines() if line.startswith("|") and not line.startswith("|--")]
    header, body = rows[0], rows[1:]
    columns = header[1:]
    assert columns == list(RBAC_COLUMNS), f"docs/security.md columns {columns} are not {list(RBAC_COLUMNS)}"
    checks = [row[0].strip("`") for row in body]
    promised = {col: {row[0].strip("`"): row[i + 1] == "yes" for row in body} for i, col in enumerate(columns)}
    return checks, promised


def can_i(cluster, check: str) -> bool:
    """`kubectl auth can-i` as the MCP server's ServiceAccount; check is 'VERB RESOURCE [-n NS]'."""
    verb, resource, *rest = check.split()
    if "/" in resource:  # kubectl reads TYPE/NAME; a subresource needs its own flag
        resource, sub = resource.split("/")
        rest += ["--subresource", sub]
    result = cluster.kubectl("auth", "can-i", verb, resource, *rest, f"--as=system:serviceaccount:{NS}:{MCP}",
                             check=False)
    answer = result.stdout.strip()
    assert answer in ("yes", "no"), result.stdout + result.stderr
    return answer == "yes"


@pytest.fixture(scope="module")
def rbac_project(cluster, tmp_path_factory, prod):
    without_leftovers(cluster, prod)
    for ns in ("team-a", "team-b"):
        namespace_gone(cluster, ns)
        cluster.kubectl("create", "namespace", ns)
    project = Project(cluster, tmp_path_factory.mktemp("rbac") / "project", "dev")
    yield project
    without_leftovers(cluster, project)
    cluster.kubectl("delete", "namespace", "team-a", "team-b", check=False)


def test_each_rbac_preset_allows_exactly_what_the_readme_promises(cluster, rbac_project):
    checks, promised = readme_rbac_matrix()
    actual: dict[str, dict[str, bool]] = {}
    base = rbac_project.settings()["llamastack-mcp:mcpServer"]
    for column, rbac in RBAC_COLUMNS.items():
        rbac_project.set_setting("mcpServer", {**base, "rbac": rbac})
        rbac_project.up()
        actual[column] = {check: can_i(cluster, check) for check in checks}
    table = "\n".join(f"| `{c}` | " + " | ".join("yes" if actual[col][c] else "no" for col in RBAC_COLUMNS) + " |"
                      for c in checks)
    assert actual == promised, f"the API server's answers differ from docs/security.md; they are:\n{table}"


# ------------------------------- `make up` / preview: which cluster, which backend

def wrapper(cluster, project: Project, stack: str, *args: str, **kwargs):
    result = pulumi_sh(cluster, project, stack, *args, **kwargs)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture
def bare_project(cluster, tmp_path):
    return Project(cluster, tmp_path / "project", "dev")


def test_with_a_kubeconfig_and_no_login_state_goes_to_a_file_backend_it_names(cluster, bare_project, tmp_path):
    result = wrapper(cluster, bare_project, "dev", "preview", home=tmp_path / "home", kubeconfig=True)
    assert f"backend: file://{bare_project.workdir}/.pulumi-state (not logged in" in result.stderr
    assert f"cluster: {cluster.kubeconfig}" in result.stderr
    assert (bare_project.workdir / ".pulumi-state" / ".pulumi").is_dir()


def test_a_pulumi_login_is_respected(cluster, bare_project, tmp_path):
    home = tmp_path / "home"
    chosen = tmp_path / "logged-in-backend"
    chosen.mkdir()
    env = {**cluster.env(), "HOME": str(home), "PULUMI_HOME": str(home / ".pulumi")}
    env.pop("PULUMI_BACKEND_URL", None)
    cluster.run([str(TOOLCHAIN_BIN / "pulumi"), "login", f"file://{chosen}"], env=env)
    result = wrapper(cluster, bare_project, "dev", "preview", home=home, kubeconfig=True)
    assert f"backend: file://{chosen} (from pulumi login)" in result.stderr
    assert (chosen / ".pulumi").is_dir() and not (bare_project.workdir / ".pulumi-state").exists()


def test_pulumi_backend_url_wins(cluster, bare_project, tmp_path):
    chosen = tmp_path / "env-backend"
    chosen.mkdir()
    result = wrapper(cluster, bare_project, "dev", "preview", home=tmp_path / "home", kubeconfig=True,
                     backend=f"file://{chosen}")
    assert f"backend: file://{chosen} (PULUMI_BACKEND_URL)" in result.stderr
    assert (chosen / ".pulumi").is_dir()


def test_with_no_kubeconfig_make_up_deploys_dev_onto_the_local_cluster(cluster, bare_project, tmp_path,
                                                                       rbac_project):
    without_leftovers(cluster, rbac_project)  # the stacks before this one deploy the same objects
    home = tmp_path / "home"
    # As a fresh clone has it: no salt (the harness's own `stack init` wrote one for its backend).
    stack_file = bare_project.workdir / "Pulumi.dev.yaml"
    as_cloned = "".join(line for line in stack_file.read_text().splitlines(keepends=True)
                        if not line.startswith("encryptionsalt:"))
    stack_file.write_text(as_cloned)
    up = wrapper(cluster, bare_project, "dev", "up", "--yes", home=home, kubeconfig=False)
    assert "using the local cluster" in up.stderr and f"backend: file://{cluster.directory}/pulumi-state" in up.stderr
    assert available(deployment(cluster, MCP)) and available(deployment(cluster, LLAMA))
    destroyed = wrapper(cluster, bare_project, "dev", "destroy", "--yes", home=home, kubeconfig=False)
    parallel = make_destroy_args()[-1]  # ops/pulumi.env's, as the benchmarks read it
    assert f"parallel: {parallel} deletions in flight (ops/pulumi.env" in destroyed.stderr, destroyed.stderr
    assert "kept, as it may hold your data: Namespace llama-stack, PersistentVolumeClaim llama-stack/llama-stack-data" \
        in destroyed.stderr, destroyed.stderr
    command = destroyed.stderr.split("to delete it all too (nothing else keeps it): ", 1)[1].splitlines()[0]
    context = cluster.kubectl("config", "current-context").stdout.strip()
    assert command == f"kubectl --kubeconfig {cluster.kubeconfig} --context {context} delete namespace llama-stack"
    assert leftovers(cluster) == KEPT
    again = wrapper(cluster, bare_project, "dev", "destroy", "--yes", "--parallel", "4", home=home,
                    kubeconfig=False)
    assert "parallel: as given in ARGS" in again.stderr, again.stderr
    assert "not in stack dev's state" not in again.stderr and leftovers(cluster) == KEPT, "a second destroy kept them too"
    cluster.run(["bash", "-c", command], env=cluster.env())  # the one command, as the user would paste it
    namespace_gone(cluster)
    assert leftovers(cluster) == []
    assert stack_file.read_text() == as_cloned, "the local cluster's salt stays in its own copy of the stack file"
    assert "encryptionsalt:" in (cluster.directory / "stack-config" / "Pulumi.dev.yaml").read_text()


def test_a_stack_without_a_stack_file_is_refused_not_created(cluster, bare_project, tmp_path):
    result = pulumi_sh(cluster, bare_project, "prdo", "up", "--yes", home=tmp_path / "home", kubeconfig=True)
    assert result.returncode == 2 and "refused: no stack file Pulumi.prdo.yaml" in result.stderr, result.stderr
    assert "(stacks here: dev)" in result.stderr  # the project holds only its own stack file
    assert not (bare_project.workdir / ".pulumi-state").exists(), "no backend touched, no stack created"


def test_every_command_names_its_target_and_refuses_a_cluster_the_stack_is_not_pinned_to(cluster, bare_project,
                                                                                         tmp_path):
    home = tmp_path / "home"
    context = cluster.kubectl("config", "current-context").stdout.strip()
    named = wrapper(cluster, bare_project, "dev", "preview", home=home, kubeconfig=True)
    assert f"target: context '{context}', API server {cluster.api_url}" in named.stderr, named.stderr
    assert "checkpoints: on (Pulumi's default)" in named.stderr
    assert re.search(r"server: Kubernetes v1\.\d+", named.stderr)
    bare_project.set_setting("target", {"apiServer": "https://api.prod.example.com:6443"})
    before = leftovers(cluster)
    refused = pulumi_sh(cluster, bare_project, "dev", "up", "--yes", home=home, kubeconfig=True)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert ("refused: target.apiServer = 'https://api.prod.example.com:6443' in "
            f"{bare_project.workdir}/Pulumi.dev.yaml, but context '{context}' points at {cluster.api_url}") in refused.stderr
    assert "nothing was changed" in refused.stderr and "Updating" not in refused.stdout
    assert leftovers(cluster) == before
    bare_project.set_setting("target", {"context": context, "apiServer": cluster.api_url})
    wrapper(cluster, bare_project, "dev", "preview", home=home, kubeconfig=True)


def test_local_1_picks_the_local_cluster_whatever_kubeconfig_exists(cluster, bare_project, tmp_path):
    elsewhere = tmp_path / "elsewhere.kubeconfig"  # a kubeconfig of another cluster: never contacted
    elsewhere.write_text(cluster.kubeconfig.read_text().replace(cluster.api_url, "https://127.0.0.1:9/not-this-one"))
    result = pulumi_sh(cluster, bare_project, "dev", "preview", home=tmp_path / "home", kubeconfig=True,
                       extra_env={"LOCAL": "1", "KUBECONFIG": str(elsewhere)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "LOCAL=1: using the local cluster, whatever kubeconfig exists" in result.stderr
    assert f"API server {cluster.api_url}" in result.stderr and "not-this-one" not in result.stderr
    stack_file = bare_project.stack_file  # a stack file naming a context: the provider would follow it
    stack_file.write_text(stack_file.read_text().replace("config:\n", "config:\n  kubernetes:context: elsewhere\n", 1))
    named = pulumi_sh(cluster, bare_project, "dev", "preview", home=tmp_path / "home", kubeconfig=True,
                      extra_env={"LOCAL": "1"})
    assert named.returncode == 3 and "refused: LOCAL=1, but Pulumi.dev.yaml names a cluster" in named.stderr


def test_the_local_clusters_own_env_keeps_it_the_local_cluster(cluster, bare_project, tmp_path):
    """README: `. .cluster/env`, then `make up`: the local cluster, with its own state and salt, never the
    stack file's (a given cluster's first `up` would write the local passphrase's salt into it)."""
    stack_file = bare_project.stack_file  # as committed: no salt (the harness's copy was given one)
    stack_file.write_text("".join(line for line in stack_file.read_text().splitlines(keepends=True)
                                  if not line.startswith("encryptionsalt:")))
    before = stack_file.read_text()
    result = pulumi_sh(cluster, bare_project, "dev", "preview", home=tmp_path / "home", kubeconfig=True,
                       extra_env={"LOCAL_CLUSTER_DIR": str(cluster.directory)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KUBECONFIG is the local cluster's" in result.stderr and "using the local cluster" in result.stderr
    assert "the local cluster's own state" in result.stderr
    assert stack_file.read_text() == before and "encryptionsalt" not in before
