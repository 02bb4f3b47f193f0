"""`make promote`: release settings move, environment settings stay, mutable images never reach prod."""

from __future__ import annotations

import shutil

import pytest
import yaml

from components.settings import LlamaStackSettings, McpServerSettings
from support import ROOT
from ops import promote


@pytest.fixture
def stacks(tmp_path):
    for name in ("dev", "prod"):
        shutil.copy(ROOT / f"Pulumi.{name}.yaml", tmp_path / f"Pulumi.{name}.yaml")
    return tmp_path


def _edit_dev(stacks, mcp_image=None, version=None, ls_image=None):
    text = (stacks / "Pulumi.dev.yaml").read_text()
    if mcp_image:
        text = text.replace(McpServerSettings().image, mcp_image)
    if version:
        text = text.replace(f'version: "{LlamaStackSettings().version}"', f'version: "{version}"')
    if ls_image:
        text = text.replace(LlamaStackSettings().image_ref, ls_image)
    (stacks / "Pulumi.dev.yaml").write_text(text)


def _run(stacks, *extra):
    return promote.main(["--from", str(stacks / "Pulumi.dev.yaml"), "--to", str(stacks / "Pulumi.prod.yaml"), *extra])


DIGEST = "quay.io/containers/kubernetes_mcp_server@sha256:" + "ab" * 32


def test_promotes_release_settings_only_and_keeps_the_file(stacks, capsys):
    before = (stacks / "Pulumi.prod.yaml").read_text()
    _edit_dev(stacks, mcp_image=DIGEST, version="0.7.2", ls_image="docker.io/llamastack/distribution-starter:0.7.2")
    assert _run(stacks) == 0
    after = (stacks / "Pulumi.prod.yaml").read_text()
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert len(changed) == 3 and len(before.splitlines()) == len(after.splitlines())
    assert f"    image: {DIGEST}" in after and 'version: "0.7.2"' in after  # quoting kept
    assert "# prod: highly available" in after and "preset: read-only" in after
    assert "requests: {cpu: 500m, memory: 512Mi, ephemeralStorage: 128Mi}" in after  # flow style and environment sizing kept
    prod = yaml.safe_load(after)["config"]
    assert prod["llamastack-mcp:mcpServer"]["autoscaling"]["enabled"] is True
    assert prod["llamastack-mcp:llamaStack"]["storage"]["backend"] == "postgres"
    assert "+    image: " + DIGEST in capsys.readouterr().out


def test_is_idempotent_and_check_reports_pending_changes(stacks, capsys):
    _edit_dev(stacks, mcp_image=DIGEST)
    assert _run(stacks, "--check") == 1
    assert McpServerSettings().image in (stacks / "Pulumi.prod.yaml").read_text(), "--check must not write"
    assert _run(stacks) == 0
    once = (stacks / "Pulumi.prod.yaml").read_text()
    assert _run(stacks) == 0 and _run(stacks, "--check") == 0
    assert (stacks / "Pulumi.prod.yaml").read_text() == once
    assert "already has" in capsys.readouterr().out


@pytest.mark.parametrize("image", ["quay.io/containers/kubernetes_mcp_server:latest",
                                   "quay.io/containers/kubernetes_mcp_server"])
def test_refuses_mutable_images_into_prod(stacks, capsys, image):
    before = (stacks / "Pulumi.prod.yaml").read_text()
    _edit_dev(stacks, mcp_image=image)
    assert _run(stacks) == 2
    assert (stacks / "Pulumi.prod.yaml").read_text() == before
    err = capsys.readouterr().err
    assert "mcpServer.image" in err and "mutable image reference" in err


def test_refuses_a_version_prod_cannot_run(stacks, capsys):
    before = (stacks / "Pulumi.prod.yaml").read_text()
    _edit_dev(stacks, version="0.5.0")
    assert _run(stacks) == 2
    assert (stacks / "Pulumi.prod.yaml").read_text() == before
    assert "llamaStack.version" in capsys.readouterr().err


def test_shipped_stacks_are_in_step():
    assert promote.main(["--from", "dev", "--to", "prod", "--check"]) == 0
