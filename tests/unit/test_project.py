"""Pulumi.yaml is a valid project file whose declared defaults are the settings model's."""

from __future__ import annotations

import jsonschema
import pytest
import yaml

from components.settings import PROVIDER_CONFIG, TOP_LEVEL_KEYS, defaults
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
    declared = {k: v for k, v in project()["config"].items() if k.startswith("llamastack-mcp:")}
    assert set(declared) == {f"llamastack-mcp:{k}" for k in TOP_LEVEL_KEYS}
    for key, value in defaults().items():
        decl = declared[f"llamastack-mcp:{key}"]
        assert decl["default"] == value, key
        assert decl["type"] == ("string" if isinstance(value, str) else "object")
        assert decl["description"]


def test_the_kubernetes_providers_client_rate_is_set_for_every_stack_as_pulumi_allows_it():
    """Another package's key takes a value, never a type or default (Pulumi refuses the project otherwise); the
    provider reads `kubeClientSettings` before its environment (PULUMI_K8S_CLIENT_QPS/_BURST)."""
    others = {k: v for k, v in project()["config"].items() if not k.startswith("llamastack-mcp:")}
    assert others == PROVIDER_CONFIG
    rate = others["kubernetes:kubeClientSettings"]
    assert set(rate) == {"description", "value"} and rate["value"]["qps"] > 50 and rate["value"]["burst"] > 120


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_only_use_known_keys(stack):
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    assert {k.split(":", 1)[1] for k in config if k.startswith("llamastack-mcp:")} <= set(TOP_LEVEL_KEYS)
