"""Settings the component takes as Outputs: another resource's URL, a database host from a StackReference.

Only settings that go into objects verbatim and decide none of which objects exist may be Outputs; the
settings model marks them (`Deferrable`). Before the settings are validated, each such Output is swapped
for a stand-in, a valid value of the field's type around a unique token, and the objects are computed
from the stand-ins like any value. The registrar then puts each real value where its token is, once the
value is known, after checking it with the field's own validator, named as the caller wrote it.

With no Output among the args nothing here runs: the objects are exactly those of plain values.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import typing
from typing import Any, Callable

import pulumi
from pydantic import BaseModel, TypeAdapter, ValidationError


class Deferrable:
    """Field metadata: the component may take this setting as an Output. `stand_in` is a valid value
    of the field's type with `{}` where the token goes."""

    def __init__(self, stand_in: str) -> None:
        self.stand_in = stand_in


_TOKEN = re.compile(r"deferred-[0-9a-f]{16}")
# A checksum of text that holds tokens: computed by the registrar over the text with the real values.
_DIGEST_OF = "deferred-sha256-of:"
# token -> (its stand-in, the value, checked); filled while the args are read, read by the registrar.
_PENDING: dict[str, tuple[str, pulumi.Output[str]]] = {}


def deferrable_settings(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], tuple[Deferrable, TypeAdapter]]:
    """Every setting path (stack-file names) the model marks Deferrable, with its stand-in and validator."""
    found: dict[tuple[str, ...], tuple[Deferrable, TypeAdapter]] = {}
    for name, field in model.model_fields.items():
        path = prefix + (field.alias or name,)
        marks = [m for m in field.metadata if isinstance(m, Deferrable)]
        if marks:
            checks = [m for m in field.metadata if not isinstance(m, Deferrable)]
            found[path] = (marks[0], TypeAdapter(typing.Annotated[field.annotation, *checks] if checks
                                                 else field.annotation))
        elif isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            found.update(deferrable_settings(field.annotation, path))
    return found


def swap_outputs(raw: dict[str, Any], model: type[BaseModel],
                 written: Callable[[str], str]) -> tuple[dict[str, Any], list[str]]:
    """`raw` with each Output at a deferrable setting swapped for its stand-in (and the value checked once
    known); problems for an Output anywhere else. `written` names a setting as the caller wrote it."""
    allowed = deferrable_settings(model)
    problems: list[str] = []

    def walk(value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, pulumi.Output):
            if path not in allowed:
                problems.append(f"{'.'.join(path)}: cannot be an Output (another resource's output): this setting "
                                f"decides which objects exist or is read before anything is registered; pass a "
                                f"plain value. Outputs are taken by: {', '.join(sorted('.'.join(p) for p in allowed))}")
                return None
            mark, adapter = allowed[path]
            stand_in = mark.stand_in.format(f"deferred-{secrets.token_hex(8)}")
            # A secret's value never reaches the error (a host from a secret StackReference output).
            setting = written(".".join(path))  # named as the caller wrote it, now, not when the value comes
            checked = pulumi.Output.all(value.is_secret(), value).apply(
                lambda pair, n=setting, a=adapter: _checked(n, a, pair[1], shown=not pair[0]))
            _PENDING[_TOKEN.search(stand_in).group(0)] = (stand_in, checked)
            return stand_in
        if isinstance(value, dict):
            return {k: walk(v, path + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, path + (str(i),)) for i, v in enumerate(value)]
        return value

    swapped = walk(raw, ())
    return swapped, problems


def _checked(setting: str, adapter: TypeAdapter, value: Any, shown: bool) -> str:
    try:
        return adapter.validate_python(value)
    except ValidationError as err:
        reasons = "; ".join(e["msg"] for e in err.errors())
        named = f"{setting} = {value!r}" if shown else f"{setting} (a secret, value not shown)"
        raise pulumi.RunError(f"{named}: {reasons} (the value of an Output, checked once known)") from None


def digest(text: str) -> str:
    """sha256 of `text`; of the text with the real values when it holds tokens."""
    if _PENDING and _TOKEN.search(text):
        return _DIGEST_OF + text
    return hashlib.sha256(text.encode()).hexdigest()


def resolved(props: dict[str, Any]) -> dict[str, Any]:
    """An object's fields with the real values in place of tokens: each field that holds one becomes an
    Output of it. Fields without tokens (and every object when no arg was an Output) stay as they are."""
    if not _PENDING:
        return props
    out = dict(props)
    for field, value in props.items():
        tokens = sorted(set(_TOKEN.findall(repr(value))) & set(_PENDING))
        if tokens:
            stand_ins = [_PENDING[t][0] for t in tokens]
            out[field] = pulumi.Output.all(*[_PENDING[t][1] for t in tokens]).apply(
                lambda values, v=value, s=stand_ins: _substitute(v, dict(zip(s, values))))
    return out


def _substitute(value: Any, values: dict[str, str]) -> Any:
    """`value` with each stand-in (a key of `values`) replaced by its value."""
    if isinstance(value, dict):
        return {k: _substitute(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, values) for v in value]
    if isinstance(value, str):
        text = value[len(_DIGEST_OF):] if value.startswith(_DIGEST_OF) else value
        for stand_in, real in values.items():
            text = text.replace(stand_in, real)
        if _TOKEN.search(text):  # a stand-in reshaped on its way into the object: never deploy it
            raise pulumi.RunError(f"an Output arg was used for more than copying it into an object: {text!r}")
        return hashlib.sha256(text.encode()).hexdigest() if value.startswith(_DIGEST_OF) else text
    return value
