"""Loading a stack's settings: raw config in, a frozen StackSettings out, or every problem at once.

`load_settings` turns the raw stack configuration into a frozen `StackSettings` or
raises `SettingsError` listing every problem, each naming the key path as written in
the stack file (`mcpServer.autoscaling.maxReplicas`), the bad value and what is allowed.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any, Optional

from pydantic import BaseModel, ValidationError

from ..kubeconfig import FleetSources
from .fields import show
from .fleet import raw_problems as fleet_raw_problems
from .stack import SECRET_KEYS, TOP_LEVEL_KEYS, StackSettings


class SettingsError(Exception):
    """Invalid stack settings; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(self.report())

    def report(self) -> str:
        lines = "\n".join(f"  - {p}" for p in self.problems)
        return f"invalid stack settings ({len(self.problems)} problem(s)):\n{lines}"


def parse_value(text: Optional[str]) -> Any:
    """A config value as the stack file wrote it: structured values arrive as JSON text."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def load_settings(raw: dict[str, Any], secrets: frozenset[str] | set[str] = frozenset(), *,
                  held_as_secret: frozenset[str] | set[str] = frozenset(),
                  plain_secrets: frozenset[str] | set[str] = frozenset(),
                  empty_secrets: frozenset[str] | set[str] = frozenset(),
                  fleet: Optional[FleetSources] = None) -> StackSettings:
    """Validate raw stack config (top-level key -> parsed value) into StackSettings.

    `secrets` names the secret keys that are set; their values stay out of here.
    What is wrong with how config is held is reported with the rest, values never shown:
    `held_as_secret`, settings keys Pulumi holds as secret (their values would be written
    in clear); `plain_secrets`, secret keys written in clear in the stack file;
    `empty_secrets`, secret keys set to "". `fleet`: the kubeconfigs Pulumi reaches members by
    (endpoints only), for checking each member is reachable.
    """
    problems: list[str] = []
    known = set(TOP_LEVEL_KEYS) | set(SECRET_KEYS)
    for key in sorted(set(raw) - known):
        problems.append(f"{key}: unknown setting{_did_you_mean(key, known)}")
    for key in sorted(set(held_as_secret) & set(TOP_LEVEL_KEYS)):
        problems.append(f"{key}: is held as a secret (pulumi config set --secret [--path]), but it is not a secret "
                        f"setting: its values are written in clear into ConfigMaps and Deployments. Only "
                        f"{', '.join(SECRET_KEYS[:-1])} and {SECRET_KEYS[-1]} may be secret: put credentials there (value not shown)")
    for key in sorted(set(plain_secrets) & set(SECRET_KEYS)):
        problems.append(f"{key}: is in the stack file in clear text (value not shown): remove it and set it with "
                        f"`pulumi config set --secret {key} <value>`")
    for key in sorted(set(empty_secrets) & set(SECRET_KEYS)):
        problems.append(f"{key}: is empty: set a value with `pulumi config set --secret {key} <value>`")
    data = {k: v for k, v in raw.items() if k in TOP_LEVEL_KEYS and v is not None and k not in held_as_secret}
    problems.extend(_env_references(data))
    problems.extend(fleet_raw_problems(data.get("fleet"), fleet))
    try:
        settings = StackSettings.model_validate(data, context={"secrets": set(secrets)})
    except ValidationError as err:
        problems.extend(_describe(e) for e in _expand(err.errors(include_url=False)))
    if problems:
        raise SettingsError(problems)
    return settings


def _env_references(data: Any, path: str = "") -> list[str]:
    """Llama Stack expands `${env.NAME}` anywhere in its config: a setting holding one
    could read the server's secrets (the database password, the API key) into a URL or a
    model name. Only the program writes such references."""
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in _env_references(v, f"{path}.{k}" if path else str(k))]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in _env_references(v, f"{path}[{i}]")]
    if isinstance(data, str) and "${" in data:
        return [f"{path} = {show(data)}: must not contain '${{': the server expands ${{env.…}} references, "
                "so a setting could read the secrets it holds"]
    return []


def required_secrets(settings: StackSettings) -> set[str]:
    return {"postgresPassword"} if settings.llama_stack.storage.backend == "postgres" else set()


def _expand(errors: list[dict[str, Any]], base: tuple = ()) -> list[dict[str, Any]]:
    """One entry per problem, with full paths: a model's rules raise its field errors and its
    cross-field problems together (base.py), nested as the models are."""
    out = []
    for error in errors:
        loc = base + tuple(error["loc"])
        if error["type"] != "settings":
            out.append({**error, "loc": loc})
            continue
        out.extend(_expand(error["ctx"]["field_errors"], loc))
        for item in error["ctx"]["problems"]:
            field = item["field"]
            at = tuple(field[1:].split(".")) if field.startswith("/") else loc + tuple(field.split("."))
            out.append({"type": "settings", "loc": at, "input": item["value"], "msg": item["message"],
                        "unset": item["value"] is None})
    return out


def _path(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _describe(error: dict[str, Any]) -> str:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-after")))
    path = _path(loc)
    if error["type"] == "extra_forbidden":
        return f"{path}: unknown setting{_did_you_mean(str(loc[-1]), _siblings(loc))}"
    if error.get("unset"):
        return f"{path}: {error['msg']}"
    message = error["msg"]
    shown = error["input"]
    if error["type"] == "url_credentials" and isinstance(shown, str):
        shown = re.sub(r"//[^/@]*@", "//***@", shown)  # never echo the credentials
    if error["type"] == "literal_error":
        message = "must be " + message.removeprefix("Input should be ")
    elif message.startswith("Input should be"):
        message = "must be" + message.removeprefix("Input should be")
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    return f"{path} = {show(shown)}: {message}"


def _did_you_mean(key: str, candidates: set[str]) -> str:
    close = difflib.get_close_matches(key, sorted(candidates), n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f"; allowed: {', '.join(sorted(candidates))}" if candidates else ""


def _siblings(loc: tuple) -> set[str]:
    """The keys allowed beside loc[-1], found by walking the models along loc."""
    model: Any = StackSettings
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = next((f for f in model.model_fields.values() if f.alias == part), None)
        if field is None:
            return set()
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        model = next((a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return set()
    return {f.alias for f in model.model_fields.values() if f.alias}



def defaults() -> dict[str, Any]:
    """Each top-level key's default, as a stack file would write it (Pulumi.yaml mirrors these)."""
    dumped = StackSettings().model_dump(by_alias=True, mode="json", exclude_none=True)
    return {key: dumped[key] for key in TOP_LEVEL_KEYS}
