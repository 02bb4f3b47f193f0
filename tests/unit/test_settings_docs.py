"""One source of truth for settings: the docstrings in components/settings/.

The settings table (docs/settings.md), Pulumi.yaml's declarations and the stack-file JSON schema are
generated from them (`make docs`); every setting is set to a non-default value
by some variant of the validation matrix or a shipped stack file.
"""

from __future__ import annotations

import copy
from typing import Optional

import jsonschema
import pytest

from ops import offline
from components.kubeconfig import FleetSources
from components.settings import StackSettings, load_settings
from support import deep_merge
from testbed.devtools import settings_docs
from support.variants import VARIANTS


def test_every_setting_has_a_description():
    assert settings_docs.undocumented() == [], "write a docstring under each of these fields"


@pytest.mark.parametrize("path", sorted(settings_docs.outputs(), key=str), ids=lambda p: p.name)
def test_generated_docs_are_current(path):
    assert path.read_text() == settings_docs.outputs()[path], f"{path.name} is stale: run `make docs`"


def test_the_readme_table_lists_every_setting_once():
    section = settings_docs.SETTINGS_PAGE.read_text().split(settings_docs.TABLE_BEGIN)[1].split(settings_docs.TABLE_END)[0]
    rows = [line.split("|")[1].strip().strip("`") for line in section.splitlines()[3:] if line.startswith("|")]
    paths = [p for p, _, _ in settings_docs.leaves()]
    assert rows[:len(paths)] == paths and len(set(paths)) == len(paths)
    assert {"mcpServer.passthrough", "mcpServer.tolerations", "llamaStack.auth.provider"} <= set(paths)


# --------------------------------------------------------------- the schema

def stack_document(stack: str) -> dict:
    return offline.stack_file(stack)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_shipped_stack_files_validate_against_the_schema(stack):
    jsonschema.Draft202012Validator(settings_docs.schema()).validate(stack_document(stack))


@pytest.mark.parametrize("change, why", [
    (lambda c: c["llamastack-mcp:mcpServer"].update(replica=1), "a misspelt key"),
    (lambda c: c["llamastack-mcp:mcpServer"].update(logLevel=12), "a value out of range"),
    (lambda c: c["llamastack-mcp:mcpServer"]["rbac"].update(preset="admin"), "a value not allowed"),
    (lambda c: c.update({"llamastack-mcp:mcpSrever": {}}), "an unknown top-level key"),
    (lambda c: c.update({"llamastack-mcp:postgresPassword": "in-clear"}), "a secret in clear"),
])
def test_the_schema_shows_editors_what_the_program_refuses(change, why):
    document = copy.deepcopy(stack_document("dev"))
    change(document["config"])
    errors = list(jsonschema.Draft202012Validator(settings_docs.schema()).iter_errors(document))
    assert errors, f"the schema accepted {why}"


def test_the_schema_leaves_other_namespaces_to_pulumi():
    document = copy.deepcopy(stack_document("dev"))
    document["config"]["kubernetes:context"] = "admin@prod"
    document["config"]["llamastack-mcp:postgresPassword"] = {"secure": "v1:abc"}
    jsonschema.Draft202012Validator(settings_docs.schema()).validate(document)


# ------------------------------------------------ every setting is exercised

def effective(base: str, overrides: dict, secrets: dict) -> StackSettings:
    values, _ = offline.stack_settings(base)
    fleet = FleetSources.read(None, None, secrets.get("fleetKubeconfigs"), environ={})
    return load_settings(deep_merge(values, overrides), set(secrets), fleet=fleet)


def test_every_setting_is_set_to_a_non_default_value_somewhere():
    defaults = {path: value for path, value, _ in settings_docs.leaves()}
    changed: set[str] = set()
    runs = [effective(v.base, v.overrides, v.secrets) for v in VARIANTS]
    for settings in runs:
        for path, value, _ in settings_docs.leaves(StackSettings, "", settings):
            if value != defaults[path]:
                changed.add(path)
    never = sorted(set(defaults) - changed)
    assert never == [], ("never set to a non-default value by any variant in tests/support/variants.py (add one that "
                         f"says what it proves): {never}")


def test_each_variant_says_what_it_proves():
    ids = [v.id for v in VARIANTS]
    assert len(set(ids)) == len(ids)
    assert all(v.why and "\n" not in v.why for v in VARIANTS)


def test_every_section_of_the_schema_has_a_description():
    # An editor shows a section's description on hover: mcpServer.rbac, llamaStack.storage, ...
    schema = settings_docs.schema()
    missing = []

    def walk(node: dict, path: str) -> None:
        if "$ref" in node:
            target = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
            if not (node.get("description") or target.get("description")):
                missing.append(path)
            walk(target, path)
        for key, sub in (node.get("properties") or {}).items():
            walk(sub, f"{path}.{key}" if path else key)
        for sub in node.get("anyOf", []) + node.get("allOf", []):
            walk(sub, path)
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[]")

    walk(schema["properties"]["config"], "")
    assert missing == [], f"sections without a description: {missing}"


def test_descriptions_come_from_the_docstrings_as_pydantic_reads_them():
    """descriptions.attach() reads a model's docstrings as pydantic's use_attribute_docstrings would (which the
    models leave off: it parses their source at every program start), nested models and bases included."""
    from pydantic import BaseModel, ConfigDict

    from testbed.devtools import descriptions

    def models(config: ConfigDict):
        class Inner(BaseModel):
            model_config = config
            port: int = 1
            """The port.

                Indented second line."""
            bare: int = 2

        class Base(BaseModel):
            model_config = config
            name: str = "x"
            """Its name."""

        class Outer(Base):
            inner: Inner = Inner()
            """What it holds."""
            maybe: Optional[Inner] = None
            "A one-line string."
        return Outer

    ours, pydantics = models(ConfigDict()), models(ConfigDict(use_attribute_docstrings=True))
    descriptions.attach(ours)
    assert ours.model_json_schema() == pydantics.model_json_schema()
    assert ours.model_fields["inner"].description == "What it holds."
