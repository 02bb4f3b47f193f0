"""The settings models' base: strict parsing, camelCase keys, and cross-field rules run after the fields.

A cross-field rule (`rules.py`) is registered for a model class with `@rule(Model)`.
Every model runs its rules once its own fields are validated, whatever their order.
When some fields fail, the rules still run on the rest (the failed fields take their
defaults for the moment), and a rule's findings are kept only if it read none of the
failed fields: every problem is reported at once, none made up from a default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError


class Problems:
    """Cross-field problems found by one model's rules, raised with its field errors as one error.

    Each problem names its field relative to the model (or, with a leading '/', from the
    top of the stack config), so the report points at the key the user has to change.
    """

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, field: str, value: Any, message: str) -> None:
        self.items.append({"field": field, "value": value, "message": message})


# A rule reads one model (and what the validation context carries: the secrets that are set).
RuleCheck = Callable[[Any, Problems, dict[str, Any]], None]


@dataclass(frozen=True)
class Rule:
    model: type
    check: RuleCheck


_RULES: dict[type, list[Rule]] = {}


def rule(model: type) -> Callable[[RuleCheck], RuleCheck]:
    """Register a cross-field rule for `model` and its subclasses."""
    def register(check: RuleCheck) -> RuleCheck:
        _RULES.setdefault(model, []).append(Rule(model, check))
        return check
    return register


def rules_for(model: type) -> list[Rule]:
    return [r for base in reversed(model.__mro__) for r in _RULES.get(base, [])]


class _Reading:
    """A model seen through a rule: records which of its attributes the rule reads."""

    def __init__(self, model: BaseModel) -> None:
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "read", set())

    def __getattr__(self, name: str) -> Any:
        self.read.add(name)
        return getattr(self._model, name)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True,
                              frozen=True, strict=False,
                              # rules must see defaults too
                              validate_default=True)
    # The docstring under a field is its description: the docs and schemas read it
    # (testbed/devtools/descriptions.py), nothing that deploys does, so the models skip parsing their source.

    @model_validator(mode="wrap")
    @classmethod
    def _cross_field_rules(cls, data: Any, handler: Any, info: ValidationInfo) -> Any:
        checks = rules_for(cls)
        if not checks:
            return handler(data)
        field_errors: list[dict[str, Any]] = []
        try:
            model = handler(data)
        except ValidationError as err:
            field_errors = err.errors(include_url=False)
            model = cls._without_failed(data, handler, field_errors)
        failed = cls._field_names({e["loc"][0] for e in field_errors if e["loc"]})
        problems = Problems()
        for check in checks if model is not None else ():
            seen = _Reading(model)
            found = Problems()
            check.check(seen, found, info.context or {})
            # Read a field that failed (or a property, which may read one): its default spoke, not the user.
            if not failed or not (seen.read - set(cls.model_fields)) and not (seen.read & failed):
                problems.items += found.items
        if field_errors or problems.items:
            raise PydanticCustomError("settings", "{count} problem(s)",
                                      {"count": len(field_errors) + len(problems.items),
                                       "problems": problems.items, "field_errors": field_errors})
        return model

    @classmethod
    def _field_names(cls, keys: set[Any]) -> set[str]:
        by_alias = {f.alias or n: n for n, f in cls.model_fields.items()}
        return {by_alias.get(k, k) for k in keys if isinstance(k, str)}

    @classmethod
    def _without_failed(cls, data: Any, handler: Any, errors: list[dict[str, Any]]) -> Optional[BaseModel]:
        """The model with every failed field at its default, for the rules that do not read it; None
        when that is not possible (a required field failed, or the input is not a mapping)."""
        if not isinstance(data, dict):
            return None
        failed = {e["loc"][0] for e in errors if e["loc"]}
        failed |= cls._field_names(failed)
        kept = {k: v for k, v in data.items() if k not in failed and cls._field_names({k}) & set(cls.model_fields)
                and not cls._field_names({k}) & failed}
        try:
            return handler(kept)
        except ValidationError:
            return None
