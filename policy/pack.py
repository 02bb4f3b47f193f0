"""The CrossGuard policies, built from policy/rules.py. Constructing them starts nothing."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

if __package__:
    from . import rules
else:  # run by `pulumi preview --policy-pack policy` as a top-level script
    rules = importlib.import_module("rules")


def _plain(value: Any) -> Any:
    """Policy props arrive as read-only proxies, not dicts and lists: make them plain."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [_plain(v) for v in value]
    return value


def _manifest(resource_type: str, props: Any) -> dict[str, Any] | None:
    """Kubernetes resources' props are the object itself (camelCase, like a manifest)."""
    if not resource_type.startswith("kubernetes:") or not isinstance(props, Mapping):
        return None
    return _plain(props)


def _resource_policy(name: str, description: str, rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation) -> None:
        manifest = _manifest(args.resource_type, args.props)
        for message in rule(manifest) if manifest else []:
            report_violation(message, args.urn)
    return ResourceValidationPolicy(name=name, description=description, validate=validate,
                                    enforcement_level=EnforcementLevel.MANDATORY)


def _stack_policy(name: str, description: str, rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation) -> None:
        manifests = [m for r in args.resources if (m := _manifest(r.resource_type, r.props))]
        for message in rule(manifests):
            report_violation(message, None)
    return StackValidationPolicy(name=name, description=description, validate=validate,
                                 enforcement_level=EnforcementLevel.MANDATORY)


def policies() -> list:
    return ([_resource_policy(n, d, r) for n, (d, r) in rules.RESOURCE_RULES.items()]
            + [_stack_policy(n, d, r) for n, (d, r) in rules.STACK_RULES.items()])
