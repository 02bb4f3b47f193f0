"""Each setting's description, from the docstring written under its field, for the generators that document them.

The settings models do not read those docstrings themselves (pydantic's `use_attribute_docstrings` parses every
model's source at import: ~70 ms of every program start, and every `pulumi up` starts the program twice), since
nothing that deploys reads a description. The generators (settings_docs.py, component_args.py) call `attach()`
first: the same rule as pydantic's, a string statement right after an annotated field, cleaned as a docstring.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import typing
from typing import Any, Iterator

from pydantic import BaseModel

from components.settings import StackSettings


def docstrings(model: type) -> dict[str, str]:
    """{field name: the docstring under it} of one class body (not its bases')."""
    body = ast.parse(textwrap.dedent(inspect.getsource(model))).body[0]
    found: dict[str, str] = {}
    statements = body.body if isinstance(body, ast.ClassDef) else []
    for field, after in zip(statements, statements[1:]):
        if (isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name) and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
            found[field.target.id] = inspect.cleandoc(after.value.value)
    return found


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def _post_order(model: type[BaseModel], seen: list[type[BaseModel]]) -> list[type[BaseModel]]:
    """The models a model holds before the model itself: a model's schema embeds those it holds."""
    for field in model.model_fields.values():
        for held in _models_in(field.annotation):
            if held not in seen:
                _post_order(held, seen)
    if model not in seen:
        seen.append(model)
    return seen


def attach(root: type[BaseModel] = StackSettings) -> None:
    """Give every field under `root` without a description its docstring, then rebuild the models' schemas."""
    for model in _post_order(root, []):
        docs: dict[str, str] = {}
        for cls in reversed(model.__mro__):  # a subclass's docstring wins over its base's
            if issubclass(cls, BaseModel) and cls is not BaseModel:
                docs.update(docstrings(cls))
        for name, field in model.model_fields.items():
            if field.description is None and name in docs:
                field.description = docs[name]
        model.model_rebuild(force=True)
