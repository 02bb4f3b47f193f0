"""The program `pulumi up` runs: read the stack file's settings once, build the one component, export its outputs."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from .kubeconfig import FleetSources
from .llamastack_mcp import LlamaStackMcp, fleet_sources
from .settings import PROJECT, SECRET_KEYS, SettingsError, StackSettings, load_settings, parse_value


def read_settings() -> tuple[StackSettings, dict[str, pulumi.Output[str]], FleetSources]:
    """Validate every setting before any resource exists; RunError lists all problems."""
    config = pulumi.Config(PROJECT)
    prefix = f"{PROJECT}:"
    present = {k[len(prefix):] for k in (*runtime_config.CONFIG.get(), *runtime_config.get_config_env())
               if k.startswith(prefix)}
    held_as_secret = {k for k in present if runtime_config.is_config_secret(prefix + k)}
    raw: dict[str, Any] = {}
    for key in sorted(present - set(SECRET_KEYS) - held_as_secret):
        raw[key] = parse_value(config.get(key))
    # Secret values stay Outputs marked secret; settings only learn which are set,
    # and whether one is held in clear or empty (looked at here, never kept or shown).
    secret_keys = present & set(SECRET_KEYS)
    plain = {k for k in secret_keys if k not in held_as_secret}
    empty = {k for k in secret_keys - plain if runtime_config.get_config(prefix + k) == ""}
    secrets = {key: value for key in sorted(secret_keys - plain - empty)
               if (value := config.get_secret(key)) is not None}
    fleet = fleet_sources(raw, runtime_config.get_config(f"{PROJECT}:fleetKubeconfigs")
                          if "fleetKubeconfigs" in secrets else None)
    try:
        settings = load_settings(raw, set(secrets) | empty, held_as_secret=held_as_secret - set(SECRET_KEYS),
                                 plain_secrets=plain, empty_secrets=empty, fleet=fleet)
    except SettingsError as err:
        raise pulumi.RunError(err.report()) from None
    return settings, secrets, fleet


def deploy(settings: StackSettings, secrets: dict[str, pulumi.Output[str]],
           fleet: FleetSources = FleetSources()) -> dict[str, Any]:
    """The stack's one component, and the stack outputs it has (the optional ones only where they exist)."""
    product = LlamaStackMcp.from_settings("llamastack-mcp", settings, secrets, fleet)
    exports: dict[str, Any] = {
        "namespace": product.namespace,
        "mcpServerUrl": product.mcp_server_url,
        "mcpServiceAccount": product.mcp_service_account,
        "llamaStackInternalUrl": product.llama_stack_internal_url,
        "mcpServerRouteUrl": product.mcp_server_route_url,
        "llamaStackUrl": product.llama_stack_url,
        "fleetContexts": product.fleet_contexts,
    }
    return {k: v for k, v in exports.items() if product.exposed.get(k, True)}


def main() -> None:
    settings, secrets, fleet = read_settings()
    for name, value in deploy(settings, secrets, fleet).items():
        pulumi.export(name, value)
