"""Pulumi.yaml is a valid project file whose declared defaults are the settings model's."""

from __future__ import annotations

import jsonschema
import pytest
import yaml

from components.settings import TOP_LEVEL_KEYS, defaults
from support import ROOT
from testbed.localcluster import crds


def project() -> dict:
    return yaml.safe_load((ROOT / "Pulumi.yaml").read_text())


def test_project_file_matches_pulumis_schema():
    jsonschema.validate(project(), crds.pulumi_project_schema())


def test_project_runs_python_with_pip_in_venv():
    doc = project()
    assert doc["name"] == "llamastack-mcp"
    assert doc["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}


def test_declared_defaults_are_the_models_defaults():
    declared = project()["config"]
    assert set(declared) == {f"llamastack-mcp:{k}" for k in TOP_LEVEL_KEYS}
    for key, value in defaults().items():
        decl = declared[f"llamastack-mcp:{key}"]
        assert decl["default"] == value, key
        assert decl["type"] == ("string" if isinstance(value, str) else "object")
        assert decl["description"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_only_use_known_keys(stack):
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    assert {k.split(":", 1)[1] for k in config if k.startswith("llamastack-mcp:")} <= set(TOP_LEVEL_KEYS)
