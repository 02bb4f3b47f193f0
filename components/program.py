"""The program `pulumi up` runs: read settings once, build the components, return the exports."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from .facts import derive
from .fleet import deploy_members
from .kubeconfig import FleetSources
from .llama_stack import LlamaStack
from .mcp_server import KubernetesMcpServer
from .monitoring import Monitoring
from .network_policy import NetworkPolicies
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
    fleet = fleet_sources(raw, "fleetKubeconfigs" in secrets)
    try:
        settings = load_settings(raw, set(secrets) | empty, held_as_secret=held_as_secret - set(SECRET_KEYS),
                                 plain_secrets=plain, empty_secrets=empty, fleet=fleet)
    except SettingsError as err:
        raise pulumi.RunError(err.report()) from None
    return settings, secrets, fleet


def fleet_sources(raw: dict[str, Any], member_kubeconfigs: bool) -> FleetSources:
    """The kubeconfigs Pulumi reaches fleet members by, read for their endpoints only (local files
    and the secret `fleetKubeconfigs`, looked at here and never kept)."""
    if not raw.get("fleet") and not member_kubeconfigs:
        return FleetSources()
    provider = pulumi.Config("kubernetes")
    text = runtime_config.get_config(f"{PROJECT}:fleetKubeconfigs") if member_kubeconfigs else None
    return FleetSources.read(provider.get("kubeconfig"), provider.get("context"), text)


def deploy(settings: StackSettings, secrets: dict[str, pulumi.Output[str]],
           fleet: FleetSources = FleetSources()) -> dict[str, Any]:
    facts = derive(settings)
    # Members first: the hub's kubeconfig Secret is made of what they return.
    access = deploy_members(facts, fleet, secrets.get("fleetKubeconfigs"), pulumi.Config("kubernetes").get("kubeconfig"))
    mcp = KubernetesMcpServer("mcp-server", facts, access)
    # Only the namespace orders the rest: the two servers roll out side by side (Llama Stack
    # reaches the MCP server per request, at a URL known before anything is created, so previews
    # show the whole config), so `up` waits for the slower rollout, not their sum.
    after_namespace = pulumi.ResourceOptions(depends_on=mcp.namespace_resources)
    stack = LlamaStack("llama-stack", facts, secrets=secrets, opts=after_namespace)
    NetworkPolicies("network-policies", facts, opts=after_namespace)
    Monitoring("monitoring", facts, opts=after_namespace)

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
    if settings.fleet.members:
        exports["fleetContexts"] = [settings.fleet.hub_name] + [m.name for m in settings.fleet.members]
    return exports


def main() -> None:
    settings, secrets, fleet = read_settings()
    for name, value in deploy(settings, secrets, fleet).items():
        pulumi.export(name, value)
