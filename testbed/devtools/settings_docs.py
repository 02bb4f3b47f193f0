#!/usr/bin/env python3
"""Generate what documents the settings from the one place that defines them (components/settings/).

    make docs          # rewrite the outputs
    make docs-check    # exit 1 when any is stale (CI, and tests/unit/test_settings_docs.py)

Outputs: the settings table of docs/settings.md (between the settings-table markers), the
`config:` declarations of Pulumi.yaml (description and default of each
top-level key), schema/stack-settings.schema.json, a JSON schema of a
stack file for editors (the YAML language server), and the component's typed args
(components/component_args.py, testbed/devtools/component_args.py). Every description is the
docstring written under its field, as helm-docs reads a chart's `# --` comments.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Iterator, Optional


from pydantic import BaseModel

from components.settings import PROJECT, PROVIDER_CONFIG, SECRET_DESCRIPTIONS, StackSettings
from testbed.devtools import descriptions

descriptions.attach()

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_PAGE = ROOT / "docs" / "settings.md"
PROJECT_FILE = ROOT / "Pulumi.yaml"
SCHEMA = ROOT / "schema" / "stack-settings.schema.json"
TABLE_BEGIN, TABLE_END = "<!-- settings-table -->", "<!-- /settings-table -->"
CONFIG_MARK = "config:\n"


def _model(annotation: Any) -> Optional[type[BaseModel]]:
    """The settings model a field always holds, else None (an optional model is one setting, described whole)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def leaves(model: type[BaseModel] = StackSettings, prefix: str = "",
           default: Any = None) -> Iterator[tuple[str, Any, str]]:
    """(path as written in a stack file, default, description) of every setting a user sets."""
    instance = default if default is not None else model()
    for name, field in model.model_fields.items():
        path = f"{prefix}{field.alias or name}"
        value = getattr(instance, name)
        sub = _model(field.annotation)
        if sub is not None and value is not None:
            yield from leaves(sub, f"{path}.", value)
        else:
            shown = value.model_dump(by_alias=True, mode="json") if isinstance(value, BaseModel) else value
            if isinstance(shown, list):
                shown = [v.model_dump(by_alias=True, mode="json") if isinstance(v, BaseModel) else v for v in shown]
            yield path, shown, field.description or ""


def undocumented() -> list[str]:
    found = [path for path, _, description in leaves() if not description.strip()]
    found += [f"{key} (top level)" for key, field in StackSettings.model_fields.items() if not field.description]
    return found


# ------------------------------------------------------------ docs/settings.md

def _cell(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else (value if value else '""')
    return "`" + text.replace("|", "\\|") + "`"


def _text(description: str) -> str:
    return " ".join(description.split()).replace("|", "\\|")


# Lists whose items are documented field by field (`fleet.members[].name`); other lists of models
# (tolerations, affinity terms) mirror Kubernetes' own fields and stay one row.
ITEMIZED = {"fleet.members"}


def _item_leaves(path: str) -> Iterator[tuple[str, Any, str]]:
    model: Any = StackSettings
    for part in path.split("."):
        annotation = next(f.annotation for f in model.model_fields.values() if f.alias == part)
        model = getattr(annotation, "__args__", (annotation,))[0]  # list[Model] -> Model
    for name, field in model.model_fields.items():
        sub = _model(field.annotation)
        item_path = f"{path}[].{field.alias or name}"
        if sub is not None:
            yield from leaves(sub, f"{item_path}.")
        else:
            required = field.is_required()
            yield item_path, ("(required)" if required else field.default), field.description or ""


def table() -> str:
    lines = ["| Setting | Default | Meaning |", "|---|---|---|"]
    for path, default, description in leaves():
        lines.append(f"| `{path}` | {_cell(default)} | {_text(description)} |")
        if path in ITEMIZED:
            for item_path, item_default, item_description in _item_leaves(path):
                lines.append(f"| `{item_path}` | {_cell(item_default)} | {_text(item_description)} |")
    for key, description in SECRET_DESCRIPTIONS.items():
        lines.append(f"| `{key}` (secret) | unset | {_text(description)} |")
    return "\n".join(lines)


def settings_page(text: str) -> str:
    head, rest = text.split(TABLE_BEGIN, 1)
    _, tail = rest.split(TABLE_END, 1)
    return f"{head}{TABLE_BEGIN}\n{table()}\n{TABLE_END}{tail}"


# ----------------------------------------------------------------- Pulumi.yaml

def project_config() -> dict[str, Any]:
    import yaml
    defaults = StackSettings().model_dump(by_alias=True, mode="json", exclude_none=True)
    config = {}
    for name, field in StackSettings.model_fields.items():
        key = field.alias or name
        default = defaults[key]
        config[f"{PROJECT}:{key}"] = {"type": "object" if isinstance(default, dict) else "string",
                                      "description": " ".join((field.description or "").split()),
                                      "default": default}
    config.update(PROVIDER_CONFIG)
    return yaml.safe_dump({"config": config}, sort_keys=False, width=100, allow_unicode=True)


def project_file(text: str) -> str:
    head = text.split("\n" + CONFIG_MARK, 1)[0]
    return f"{head}\n{project_config()}"


# --------------------------------------------------------------------- schema

def schema() -> dict[str, Any]:
    """A JSON schema of Pulumi.<stack>.yaml: our keys typed, secrets as `secure:`, other namespaces free."""
    model = StackSettings.model_json_schema(by_alias=True, mode="validation")
    defs = model.pop("$defs", {})
    properties: dict[str, Any] = {f"{PROJECT}:{key}": value for key, value in model["properties"].items()}
    secure = {"type": "object", "properties": {"secure": {"type": "string"}}, "required": ["secure"],
              "additionalProperties": False}
    for key, description in SECRET_DESCRIPTIONS.items():
        properties[f"{PROJECT}:{key}"] = {**secure, "description": " ".join(description.split())}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/llamastack-mcp/schema/stack-settings.schema.json",
        "title": f"Pulumi stack file of {PROJECT}",
        "description": "Generated from components/settings/ by `make docs`; do not edit.",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": properties,
                # Keys of other namespaces (kubernetes:context, ...) are Pulumi's and the providers'.
                "propertyNames": {"anyOf": [{"enum": sorted(properties)}, {"not": {"pattern": f"^{PROJECT}:"}}]},
            },
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "encryptionsalt": {"type": "string"},
            "environment": {},
        },
        "$defs": defs,
    }


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=False) + "\n"


# ----------------------------------------------------------------------- main

def outputs() -> dict[Path, str]:
    from testbed.devtools import component_args
    return {SETTINGS_PAGE: settings_page(SETTINGS_PAGE.read_text()), PROJECT_FILE: project_file(PROJECT_FILE.read_text()),
            SCHEMA: schema_text(), **component_args.outputs()}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when an output is stale; write nothing")
    args = parser.parse_args(argv)
    missing = undocumented()
    if missing:
        print("settings without a description (write a docstring under the field):\n  " + "\n  ".join(missing),
              file=sys.stderr)
        return 1
    stale = []
    for path, text in outputs().items():
        if not path.exists() or path.read_text() != text:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    if args.check and stale:
        print(f"stale: {', '.join(map(str, stale))}: run `make docs`", file=sys.stderr)
        return 1
    print("up to date" if not stale else f"wrote {', '.join(map(str, stale))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
