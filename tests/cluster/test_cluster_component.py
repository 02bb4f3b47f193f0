"""The component package with the real CLI on the local control plane.

`pulumi package add` of this repository's provider/ into a fresh Pulumi YAML project (Pulumi YAML's
language host, built from its Go module), from a local path, and into a fresh Python project (this
project's language host generating the Python SDK) from a git URL at the release tag, as a consumer adds a
release: the repository tagged by `make release-tag` and served over HTTPS on loopback (testbed/gitserver.py).
Then `up`, `preview --expect-no-changes` and `destroy`: each must leave the objects the standalone
program's dev stack leaves, and nothing after destroy. A bad arg from YAML is
refused with the setting named and nothing registered. And a stack deployed by the program before it
became one component upgrades with no change at all.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.meta import DELETION_PROPAGATION, OWN_NOTHING
from ops import release
from testbed.gitserver import GitHost, issue_certificate, publish
from testbed.localcluster.harness import PULUMI_HOME, TOOLCHAIN_BIN, Project, changed, urn_name
from support import CLUSTER_KINDS, NAMESPACED_KINDS, NS, PART_OF, ROOT, leftovers, namespace_gone

TYPE = "llamastack-mcp:index:LlamaStackMcp"
# The last commit whose program registered its components at the stack's root (before LlamaStackMcp).
BEFORE_THE_COMPONENT = "2d7c893"
# Filled in by the server, or naming the release that made the object: not what the program asked for.
SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "selfLink")


@pytest.fixture(scope="module", autouse=True)
def yaml_host():
    if not (TOOLCHAIN_BIN / "pulumi-language-yaml").exists():
        pytest.fail("the toolchain lacks pulumi-language-yaml: run `make toolchain`")


def objects(cluster, uids: dict[str, str] | None = None) -> dict[str, Any]:
    """Every object labelled as ours, as the API server holds it, without what the server filled in
    (each one's uid goes into `uids` when given)."""
    found: dict[str, Any] = {}
    for kinds, scope in ((NAMESPACED_KINDS, ["-A"]), (CLUSTER_KINDS, [])):
        listed = cluster.get(kinds, *scope, "-l", PART_OF)
        for item in listed["items"]:
            if item["kind"] in ("Pod", "ReplicaSet"):
                continue  # made by the Deployments: their names are random
            meta = item["metadata"]
            if uids is not None:
                uids[f"{item['kind']}/{meta.get('namespace', '')}/{meta['name']}"] = meta["uid"]
            for key in SERVER_FIELDS:
                meta.pop(key, None)
            meta.get("annotations", {}).pop("deployment.kubernetes.io/revision", None)
            item.pop("status", None)
            if item["kind"] == "Service":
                for key in ("clusterIP", "clusterIPs"):
                    item["spec"].pop(key, None)
            if item["kind"] == "PersistentVolumeClaim":  # the volume it was bound to, and how
                item["spec"].pop("volumeName", None)
                annotations = meta.get("annotations", {})
                for key in [k for k in annotations if k.startswith(("pv.kubernetes.io/", "volume."))]:
                    annotations.pop(key)
            found[f"{item['kind']}/{meta.get('namespace', '')}/{meta['name']}"] = item
    return found


@pytest.fixture(scope="module")
def dev_objects(cluster, tmp_path_factory) -> dict[str, Any]:
    """What the standalone program's dev stack leaves on the cluster."""
    project = Project(cluster, tmp_path_factory.mktemp("standalone") / "project", "dev")
    project.up()
    try:
        return objects(cluster)
    finally:
        project.destroy()
        namespace_gone(cluster)


class Consumer:
    """A fresh project of another language that adds the component package, with its own file backend."""

    def __init__(self, cluster, workdir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.cluster, self.workdir, self.extra_env = cluster, workdir, extra_env or {}
        (workdir / "state").mkdir(parents=True)

    def env(self) -> dict[str, str]:
        return {**self.cluster.env(), "PULUMI_BACKEND_URL": f"file://{self.workdir / 'state'}", **self.extra_env}

    def pulumi(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.cluster.run([str(TOOLCHAIN_BIN / "pulumi"), *args, "--non-interactive"], cwd=self.workdir,
                                env=self.env(), check=check, timeout=900, name=f"consumer-{args[0]}")

    def add_package_and_init(self, source: str = str(ROOT / "provider")) -> None:
        added = self.pulumi("package", "add", source, check=False)
        out = added.stdout + added.stderr
        assert "Successfully generated an SDK for the llamastack-mcp package" in out, out[-3000:]
        if added.returncode != 0 and "package_add.go:230" in out:
            # The CLI (v3.274.1) links a package from a git URL, then panics before recording it in
            # Pulumi.yaml (a nil FileInfo: the git source is taken for a local path that does not exist).
            # A Python program needs no `packages:` entry: its SDK names the plugin and where it came from.
            assert "runtime error: invalid memory address or nil pointer dereference" in out, out[-3000:]
        elif added.returncode != 0:
            # Pulumi YAML v1.25.0 (the newest the proxy serves) has no Link: `package add` generates its
            # lock file, then stops before writing `packages:`. Write the entry it would have written.
            assert "linking package: method Link not implemented" in out, out[-3000:]
            project = yaml.safe_load((self.workdir / "Pulumi.yaml").read_text())
            assert project["runtime"] == "yaml" and "packages" not in project
            project["packages"] = {"llamastack-mcp": str(ROOT / "provider")}
            (self.workdir / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
        self.pulumi("stack", "init", "dev")


def yaml_consumer(cluster, workdir: Path, properties: dict[str, Any] | None = None) -> Consumer:
    program = yaml.safe_load((ROOT / "examples" / "yaml" / "Pulumi.yaml").read_text())
    program.pop("packages")  # `pulumi package add` writes it
    if properties is not None:
        program["resources"]["agents"]["properties"] = properties
    workdir.mkdir(parents=True)
    (workdir / "Pulumi.yaml").write_text(yaml.safe_dump(program, sort_keys=False))
    consumer = Consumer(cluster, workdir)
    consumer.add_package_and_init()
    return consumer


PYTHON_PROGRAM = '''\
"""dev's objects through the generated Python SDK of the component package."""
import pulumi
import pulumi_llamastack_mcp as lsm

agents = lsm.LlamaStackMcp("agents",
    platform="openshift",
    namespace=lsm.NamespaceArgs(name="llama-stack", create=True),
    mcp_server=lsm.McpServerArgs(
        image="quay.io/containers/kubernetes_mcp_server:v0.0.67", replicas=1, rollout_timeout_seconds=120,
        resources=lsm.ResourcesArgs(
            requests=lsm.ResourceAmountsArgs(cpu="50m", memory="96Mi", ephemeral_storage="32Mi"),
            limits=lsm.ResourceAmountsArgs(cpu="500m", memory="256Mi", ephemeral_storage="128Mi")),
        rbac=lsm.RbacArgs(preset="full", scope="cluster", allow_cluster_wide_write=True),
        toolsets=["core", "config"], log_level=2),
    llama_stack=lsm.LlamaStackArgs(
        distribution="llama-stack", version="0.7.3", image="docker.io/llamastack/distribution-starter:0.7.3",
        replicas=1,
        resources=lsm.ResourcesArgs(
            requests=lsm.ResourceAmountsArgs(cpu="250m", memory="256Mi", ephemeral_storage="128Mi"),
            limits=lsm.ResourceAmountsArgs(cpu="1", memory="1Gi", ephemeral_storage="512Mi")),
        inference=lsm.InferenceArgs(provider="vllm", url="http://vllm.models.svc.cluster.local:8000/v1"),
        storage=lsm.StorageArgs(backend="sqlite", size="5Gi"),
        auth=lsm.LlamaStackAuthArgs(allowed_groups=["llama-stack-developers"]),
        route=lsm.LlamaStackRouteArgs(enabled=True, timeout_seconds=300)),
    network_policy=lsm.NetworkPolicyArgs(enabled=True),
    monitoring=lsm.MonitoringArgs(service_monitor=False, prometheus_rule=False))
pulumi.export("namespace", agents.namespace)
pulumi.export("mcpServerUrl", agents.mcp_server_url)
'''


@pytest.fixture(scope="module")
def git_host(tmp_path_factory):
    """This repository's HEAD, tagged by `make release-tag`'s code in a clone, served at
    https://localhost/acme/llamastack-mcp.git. Port 443: Pulumi names the plugin's directory after
    host[:port], and Python's venv refuses a path holding ':' (a git host on another port cannot serve
    a Python component package)."""
    work = tmp_path_factory.mktemp("git-host")
    clone = work / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, capture_output=True)
    for key, value in (("user.name", "release"), ("user.email", "release@localhost")):
        subprocess.run(["git", "-C", str(clone), "config", key, value], check=True)
    tag = release.tag(clone)
    assert tag == f"v{release.version(ROOT)}"
    publish(clone, work / "repos", "acme/llamastack-mcp")
    ca, cert, key = issue_certificate(work / "tls")
    trust = work / "trust.pem"  # the machine's CAs and the git host's: Go reads SSL_CERT_FILE
    system = Path("/etc/ssl/certs/ca-certificates.crt")
    trust.write_text((system.read_text() if system.exists() else "") + ca.read_text())
    with GitHost(work / "repos", cert, key, port=443):
        yield {"source": f"https://localhost/acme/llamastack-mcp/provider@{tag}", "SSL_CERT_FILE": str(trust)}
    # Pulumi keeps a plugin per source and tag: the next run's tag of another commit must not find this one.
    for installed in PULUMI_HOME.glob("plugins/resource-localhost_acme_llamastack-mcp.git_provider-v*"):
        shutil.rmtree(installed) if installed.is_dir() else installed.unlink()


def python_consumer(cluster, workdir: Path, git: dict[str, str] | None = None) -> Consumer:
    workdir.mkdir(parents=True)
    (workdir / "Pulumi.yaml").write_text(yaml.safe_dump({
        "name": "llamastack-mcp-python-sdk-consumer",
        "runtime": {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}}))
    (workdir / "requirements.txt").write_text("pulumi==3.272.0\n")
    # The consumer's own virtualenv, from the checkout's wheels where pip has them cached.
    subprocess.run([str(ROOT / "venv" / "bin" / "python"), "-m", "venv", str(workdir / "venv")], check=True)
    consumer = Consumer(cluster, workdir, {"SSL_CERT_FILE": git["SSL_CERT_FILE"]} if git else None)
    consumer.add_package_and_init(git["source"] if git else str(ROOT / "provider"))
    # The SDK's module is named after the package's source: pulumi_llamastack_mcp from a path,
    # <owner>_llamastack_mcp from a git URL.
    (plugin,) = (workdir / "sdks").glob("*/*/pulumi-plugin.json")
    (workdir / "__main__.py").write_text(PYTHON_PROGRAM.replace("pulumi_llamastack_mcp", plugin.parent.name))
    return consumer


def deploy_and_compare(cluster, consumer: Consumer, dev_objects: dict[str, Any]) -> None:
    consumer.pulumi("up", "--yes")
    try:
        assert objects(cluster) == dev_objects
        outputs = json.loads(consumer.pulumi("stack", "output", "--json").stdout)
        assert outputs["namespace"] == NS
        assert outputs["mcpServerUrl"] == f"http://kubernetes-mcp-server.{NS}.svc.cluster.local:8080/mcp"
        consumer.pulumi("preview", "--expect-no-changes")
    finally:
        consumer.pulumi("destroy", "--yes")
    namespace_gone(cluster)
    assert leftovers(cluster) == []


def test_a_yaml_program_deploys_the_dev_objects_through_the_package(cluster, dev_objects, tmp_path):
    consumer = yaml_consumer(cluster, tmp_path / "yaml")
    written = yaml.safe_load((consumer.workdir / "Pulumi.yaml").read_text())
    assert written["packages"]["llamastack-mcp"].endswith("provider")
    deploy_and_compare(cluster, consumer, dev_objects)


def test_a_python_program_deploys_the_dev_objects_from_the_release_tag(cluster, dev_objects, git_host, tmp_path):
    consumer = python_consumer(cluster, tmp_path / "python", git_host)
    sdk = consumer.workdir / "sdks" / "acme-llamastack-mcp"
    plugin = json.loads((sdk / "acme_llamastack_mcp" / "pulumi-plugin.json").read_text())
    assert plugin == {"resource": True, "name": "llamastack-mcp", "version": git_host["source"].rsplit("@v", 1)[1],
                      "server": "git://localhost/acme/llamastack-mcp/provider"}, plugin
    assert "sdks/acme-llamastack-mcp" in (consumer.workdir / "requirements.txt").read_text()
    deploy_and_compare(cluster, consumer, dev_objects)
    installed = list(PULUMI_HOME.glob("plugins/resource-localhost_acme_llamastack-mcp.git_provider-v*/provider/venv"))
    assert installed, "the plugin installed its own dependencies where Pulumi keeps plugins"


def test_the_schema_the_cli_reads_describes_every_setting(cluster, tmp_path):
    from testbed.devtools.settings_docs import leaves
    consumer = Consumer(cluster, tmp_path / "schema")
    schema = json.loads(consumer.pulumi("package", "get-schema", str(ROOT / "provider")).stdout)
    resource = schema["resources"][TYPE]
    assert resource["isComponent"] and resource["inputProperties"]["postgresPassword"]["secret"]
    text = json.dumps(schema)
    missing = [path for path, _, description in leaves() if json.dumps(" ".join(description.split()))[1:-1] not in text]
    assert missing == []


def test_a_bad_arg_from_yaml_is_refused_with_the_setting_named_and_nothing_registered(cluster, tmp_path):
    consumer = yaml_consumer(cluster, tmp_path / "bad", {
        "platform": "kubernetes", "mcpServer": {"autoscaling": {"enabled": True, "maxReplicas": 0}}})
    result = consumer.pulumi("up", "--yes", check=False)
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "mcpServer.autoscaling.maxReplicas = 0" in out and "llamaStack.route.host" in out, out[-3000:]
    state = json.loads(consumer.pulumi("stack", "export").stdout)
    types = [r["type"] for r in state["deployment"].get("resources") or []]
    assert not [t for t in types if t.startswith("kubernetes:") and not t.startswith("pulumi:providers")]
    assert TYPE not in types
    assert leftovers(cluster) == []


def test_a_stack_of_the_program_before_the_component_upgrades_in_place(cluster, tmp_path):
    """The standalone program is now one LlamaStackMcp; its parts' aliases keep every URN of a stack
    deployed before, so the upgrade records the new component and no object is replaced or deleted
    (updated only by what changed since: how objects that own nothing are deleted)."""
    if shutil.which("git") is None or subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e",
                                                       BEFORE_THE_COMPONENT], capture_output=True).returncode:
        pytest.fail(f"needs the repository's history (commit {BEFORE_THE_COMPONENT}): a full clone")
    project = Project(cluster, tmp_path / "project", "dev")
    current = project.workdir / "components"
    shutil.move(current, project.workdir / "components.now")
    shutil.move(project.workdir / "Pulumi.yaml", project.workdir / "Pulumi.yaml.now")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", BEFORE_THE_COMPONENT, "components", "Pulumi.yaml"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(project.workdir)], input=archive, check=True)
    # Settings both programs read alike: what came later (named callers, keep-on-destroy) is left out, so
    # the objects are the same and only the URNs can differ.
    settings = project.settings()
    project.set_setting("mcpServer", {**settings["llamastack-mcp:mcpServer"], "rbac": {"preset": "read-only"}})
    project.set_setting("llamaStack", {k: v for k, v in settings["llamastack-mcp:llamaStack"].items() if k != "auth"})
    project.up()
    try:
        uids_before: dict[str, str] = {}
        before = objects(cluster, uids_before)
        shutil.rmtree(current)
        shutil.move(project.workdir / "components.now", current)
        shutil.move(project.workdir / "Pulumi.yaml.now", project.workdir / "Pulumi.yaml")
        settings = project.settings()
        project.set_setting("namespace", {**settings["llamastack-mcp:namespace"], "keepOnDestroy": False})
        stack = settings["llamastack-mcp:llamaStack"]
        project.set_setting("llamaStack", {**stack, "storage": {**stack["storage"], "keepOnDestroy": False}})
        steps = project.preview_steps()
        assert [c for c in changed(steps) if c[0] != "update"] == [("create", f"{TYPE}::llamastack-mcp")], \
            changed(steps)
        # The one change since that commit: objects that own nothing are deleted in the background (an
        # annotation, meta.OWN_NOTHING), so each of those, and only those, is updated in its annotations.
        updates = [step for step in steps if step["op"] == "update"]
        assert Counter(urn_name(step["urn"]).split("::")[0].rsplit(":", 1)[-1] for step in updates) == \
            Counter(key.split("/")[0] for key in before if key.split("/")[0] in OWN_NOTHING), changed(steps)
        for step in updates:  # the inputs as before, with that annotation added
            new, old = step["newState"]["inputs"], step["oldState"]["inputs"]
            assert new["metadata"]["annotations"].pop(DELETION_PROPAGATION) == "background"
            assert new == old, urn_name(step["urn"])
        project.up()
        uids_after: dict[str, str] = {}
        after = objects(cluster, uids_after)
        for key, item in after.items():
            policy = item["metadata"].get("annotations", {}).pop(DELETION_PROPAGATION, None)
            assert policy == ("background" if key.split("/")[0] in OWN_NOTHING else None), (key, policy)
        assert after == before and len(before) > 10
        assert uids_after == uids_before  # the same objects: none was deleted and made again
        state = json.loads(project.pulumi("stack", "export").stdout)["deployment"]["resources"]
        moved = [r["urn"] for r in state if r["type"].startswith("kubernetes:") and "$" in r["urn"]]
        assert moved and all(f"{TYPE}$" in urn for urn in moved)  # recorded under the component now
        project.pulumi("preview", "--expect-no-changes")
    finally:
        project.destroy()
    namespace_gone(cluster)
