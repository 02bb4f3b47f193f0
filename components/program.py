"""The program `pulumi up` runs: read settings once, build the components, return the exports."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from .llama_stack import LlamaStack
from .mcp_server import KubernetesMcpServer
from .mcp_server import url as mcp_url  # known before anything is created: previews show the whole config
from .monitoring import Monitoring
from .network_policy import NetworkPolicies
from .settings import PROJECT, SECRET_KEYS, SettingsError, StackSettings, load_settings, parse_value


def read_settings() -> tuple[StackSettings, dict[str, pulumi.Output[str]]]:
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
    try:
        settings = load_settings(raw, set(secrets) | empty, held_as_secret=held_as_secret - set(SECRET_KEYS),
                                 plain_secrets=plain, empty_secrets=empty)
    except SettingsError as err:
        raise pulumi.RunError(err.report()) from None
    return settings, secrets


def deploy(settings: StackSettings, secrets: dict[str, pulumi.Output[str]]) -> dict[str, Any]:
    mcp = KubernetesMcpServer("mcp-server", settings)
    # Only the namespace orders the rest: the two servers roll out side by side (Llama Stack
    # reaches the MCP server per request), so `up` waits for the slower rollout, not their sum.
    after_namespace = pulumi.ResourceOptions(depends_on=mcp.namespace_resources)
    stack = LlamaStack("llama-stack", settings, mcp_url=mcp_url(settings), secrets=secrets, opts=after_namespace)
    NetworkPolicies("network-policies", settings, opts=after_namespace)
    Monitoring("monitoring", settings, opts=after_namespace)

    exports: dict[str, Any] = {
        "namespace": mcp.namespace,
        "mcpServerUrl": mcp.url,
        "mcpServiceAccount": mcp.service_account,
        "llamaStackInternalUrl": stack.internal_url,
    }
    if mcp.route_url is not None:
        exports["mcpServerRouteUrl"] = mcp.route_url
    if stack.url is not None:
        exports["llamaStackUrl"] = stack.url
    return exports


def main() -> None:
    settings, secrets = read_settings()
    for name, value in deploy(settings, secrets).items():
        pulumi.export(name, value)
