"""The registrar: one place turns manifests into resources; it refuses two objects with one name."""

from __future__ import annotations

import pulumi
import pytest

from components import meta
from components.registry import logical_name, register_all


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.created: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.created.append(args.name)
        return f"{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def config_map(name: str) -> meta.Manifest:
    return meta.manifest("v1", "ConfigMap", meta.metadata(name, "ns", {}), data={"k": "v"})


@pytest.fixture(autouse=True)
def mocks() -> _Mocks:
    mocks = _Mocks()
    pulumi.runtime.set_mocks(mocks, project="p", stack="s", preview=False)
    return mocks


def test_two_objects_with_one_name_are_refused_when_the_second_comes():
    # Pulumi's mocks do not catch duplicate URNs (the engine would, halfway through an update).
    with pytest.raises(ValueError, match=r"two objects named \('ConfigMap', 'ns', 'same'\)"):
        register_all([config_map("same"), config_map("other"), config_map("same")], pulumi.ResourceOptions())
    assert logical_name(config_map("same")) == "configmap:ns/same"


def test_distinct_objects_all_register():
    created = register_all([config_map("a"), config_map("b")], pulumi.ResourceOptions())
    assert sorted(k[2] for k in created) == ["a", "b"]
