"""Programs the tests write and run under mocks: a consumer of the component as a Python library, or as
the component package's provider constructs it for another language."""

from __future__ import annotations

import json
import textwrap
import typing
from pathlib import Path
from typing import Any

from components.llamastack_mcp import TYPE, camel_case
from ops import offline


def python_keys(value: Any, typ: Any) -> Any:
    """Stack-file settings (camelCase) as a Python caller writes the args (the TypedDicts' keys)."""
    if typing.is_typeddict(typ) and isinstance(value, dict):
        hints = typ.__annotations__
        by_alias = {camel_case(k): k for k in hints}
        return {by_alias[k]: python_keys(v, (hints[by_alias[k]])) for k, v in value.items()}
    if isinstance(value, list):
        return [python_keys(v, (typing.get_args(typ)[0]) if typing.get_args(typ) else Any) for v in value]
    if isinstance(value, dict) and typing.get_origin(typ) is dict:
        return {k: python_keys(v, (typing.get_args(typ)[1])) for k, v in value.items()}
    return value


def sorted_manifests(run: offline.Run) -> list[str]:
    return sorted(json.dumps(m, sort_keys=True) for m in run.manifests(masked=True))


def program(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "__main__.py"
    path.write_text(textwrap.dedent(body))
    return path


def hosted_program(tmp_path: Path, properties: dict[str, Any], secrets: tuple[str, ...] = ()) -> Path:
    """A program that constructs the component the way the package's provider does for a remote
    consumer: inputs by their schema names, numbers as the engine's doubles, secrets as secret Outputs."""
    wire = json.loads(json.dumps(properties), parse_int=float)
    return program(tmp_path, f"""
        import pulumi
        from pulumi.provider.experimental import host
        from pulumi.provider.server import ComponentInitError
        from llamastack_mcp.provider import LlamaStackMcpProvider

        inputs = {wire!r}
        for key in {list(secrets)!r}:
            inputs[key] = pulumi.Output.secret(inputs[key])
        host.is_hosting = True
        try:
            LlamaStackMcpProvider().construct("agents", {TYPE!r}, inputs, None)
        except ComponentInitError as err:  # what the engine shows the consumer
            raise pulumi.RunError(str(err)) from None
        finally:
            host.is_hosting = False
    """)
