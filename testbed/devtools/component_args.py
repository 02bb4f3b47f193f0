"""Generate the component's typed arguments (components/component_args.py) from the settings model.

The settings model stays the one source: every stack setting becomes a key of a `TypedDict`, with
the field's docstring (plus its default and allowed values) written under it, which is where
Pulumi's component analyzer reads a property's description for the package schema and every
generated SDK. `make docs` writes the file; `make docs-check` and tests/unit/test_component.py fail
when it is stale.

Shapes, as Pulumi's analyzer (pulumi 3.272) accepts them: str/int/float/bool, `list[T]`,
`dict[str, T]`, nested `TypedDict`s. Literals become `str` and every key is optional: the settings
validator, not the provider's schema check, refuses a bad value or a missing key, so every problem
is reported at once, named as the user wrote it. A key is the field's Python name when Pulumi's
camelCase of it is the stack file's name, else the stack file's name itself
(`targetCPUUtilizationPercentage`, `nonResourceURLs`), so the package schema spells every setting
as the stack files do.
"""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any, Optional, Union

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from components.llamastack_mcp import camel_case
from components.deferred import Deferrable
from components.settings import SECRET_DESCRIPTIONS, StackSettings
from testbed.devtools import descriptions

descriptions.attach()

ROOT = Path(__file__).resolve().parents[2]
ARGS_MODULE = ROOT / "components" / "component_args.py"
ARGS_CLASS = "LlamaStackMcpArgs"
# The secrets, as Pulumi inputs: they stay Outputs (marked secret) and never enter the settings.
SECRET_TYPES = {"inferenceApiKey": "pulumi.Input[str]", "postgresPassword": "pulumi.Input[str]",
                "fleetKubeconfigs": "dict[str, str]"}


def _snake(alias: str) -> str:
    out = "".join(f"_{c.lower()}" if c.isupper() else c for c in alias)
    return out if camel_case(out) == alias else alias


def key_of(name: str, field: FieldInfo) -> str:
    """The TypedDict key of a settings field: its Python name, unless Pulumi would camelCase it wrongly."""
    alias = field.alias or name
    return name if camel_case(name) == alias else alias


def type_name(model: type[BaseModel]) -> str:
    """A nested type's name in the package schema: the model's, without "Settings" (and without "Args":
    every SDK adds that to its input types itself)."""
    return ARGS_CLASS if model is StackSettings else model.__name__.removesuffix("Settings")


def _strip(annotation: Any) -> Any:
    """Annotated[T, ...] -> T; Optional[T] -> T (every key is optional anyway)."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            rest = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(rest) != 1:
                raise ValueError(f"only T | None unions are allowed in a component's args: {annotation}")
            annotation = rest[0]
        else:
            return annotation


def _literals(annotation: Any) -> list[Any]:
    annotation = _strip(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    if typing.get_origin(annotation) is list:
        return _literals(typing.get_args(annotation)[0])
    return []


def python_type(annotation: Any, models: list[type[BaseModel]]) -> str:
    """The annotation the args file gives a setting's type; nested models are collected into `models`."""
    annotation = _strip(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        values = typing.get_args(annotation)
        kinds = {type(v) for v in values}
        if len(kinds) != 1:
            raise ValueError(f"a Literal of one type only: {annotation}")
        return kinds.pop().__name__
    if origin is list:
        return f"list[{python_type(typing.get_args(annotation)[0], models)}]"
    if origin is dict:
        key, value = typing.get_args(annotation)
        if key is not str:
            raise ValueError(f"only dict[str, T] is allowed: {annotation}")
        return f"dict[str, {python_type(value, models)}]"
    if annotation is typing.Any:
        return "Any"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation not in models:
            models.append(annotation)
        return type_name(annotation)
    if annotation in (str, int, float, bool):
        return annotation.__name__
    raise ValueError(f"no component-args type for {annotation}")


def description(field: FieldInfo) -> str:
    text = " ".join((field.description or "").split())
    allowed = _literals(field.annotation)
    if allowed:
        text += " Allowed: " + ", ".join(f"`{json.dumps(v) if not isinstance(v, str) else v or chr(34)*2}`"
                                         for v in allowed) + "."
    if field.is_required():
        text += " Required."
    elif field.default is not PydanticUndefined and isinstance(field.default, (str, int, float, bool)):
        text += f" Default: `{json.dumps(field.default)}`."
    return text


def _docstring(text: str, indent: str = "    ") -> str:
    escaped = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return f'{indent}"""{escaped}"""\n'


def _class(model: type[BaseModel], models: list[type[BaseModel]]) -> str:
    doc = " ".join((model.__doc__ or "").split()) or type_name(model)
    out = [f"class {type_name(model)}(TypedDict, total=False):\n", _docstring(doc)]
    for name, field in model.model_fields.items():
        if any(isinstance(m, Deferrable) for m in field.metadata):  # components/deferred.py
            out.append(f"    {key_of(name, field)}: pulumi.Input[{python_type(field.annotation, models)}]\n")
            out.append(_docstring(description(field) + " May be an Output (another resource's), checked once known."))
            continue
        out.append(f"    {key_of(name, field)}: {python_type(field.annotation, models)}\n")
        out.append(_docstring(description(field)))
    if model is StackSettings:
        for alias, text in SECRET_DESCRIPTIONS.items():
            out.append(f"    {_snake(alias)}: {SECRET_TYPES[alias]}\n")
            out.append(_docstring("Secret. " + " ".join(text.split())))
    return "".join(out)


def _ordered(model: type[BaseModel], done: dict[type[BaseModel], str]) -> None:
    """Each model's class after the classes it uses (real classes, no forward references: the analyzer
    resolves a forward reference only in the component's own module)."""
    nested: list[type[BaseModel]] = []
    for field in model.model_fields.values():
        python_type(field.annotation, nested)
    for sub in nested:
        if sub not in done:
            _ordered(sub, done)
    done[model] = _class(model, [])


def args_module() -> str:
    done: dict[type[BaseModel], str] = {}
    _ordered(StackSettings, done)
    models, classes = list(done), list(done.values())
    names = [type_name(m) for m in models]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"two settings models would share a type name: {sorted(duplicates)}")
    head = (
        '"""The component\'s typed arguments, one key per stack setting.\n\n'
        "Generated from components/settings/ by `make docs` (testbed/devtools/component_args.py); do not edit.\n"
        '"""\n\n'
        "from typing import Any, TypedDict\n\n"
        "import pulumi\n\n"
        f"__all__ = {json.dumps(sorted(names))}\n"
    )
    return head + "".join("\n\n" + c for c in classes)


def outputs() -> dict[Path, str]:
    return {ARGS_MODULE: args_module()}


def main(argv: Optional[list[str]] = None) -> int:
    for path, text in outputs().items():
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
