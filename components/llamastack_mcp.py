"""`LlamaStackMcp`: the whole product as one Pulumi component, for other Pulumi programs.

Three users build the same objects through it: the standalone program (`components/program.py`,
from the stack files), a Python program that imports it (`from llamastack_mcp import LlamaStackMcp`)
and any Pulumi language through the component package (`provider/`, `pulumi package add`). Its args
are the stack settings (`component_args.py`, generated from the settings model); they are validated
by the same model, every problem at once, before any resource is registered.
"""

# No `from __future__ import annotations`: Pulumi's analyzer reads these annotations as types.
import json
import re
import sys
import typing
from typing import Any, Optional

import pulumi

from .component_args import LlamaStackMcpArgs
from . import deferred
from .facts import derive
from .fleet import deploy_members
from .kubeconfig import FleetSources
from .llama_stack import LlamaStack
from .mcp_server import KubernetesMcpServer
from .monitoring import Monitoring
from .network_policy import NetworkPolicies
from .settings import SECRET_KEYS, SettingsError, StackSettings, load_settings

TYPE = "llamastack-mcp:index:LlamaStackMcp"
# The standalone program's components were registered at the stack's root under these names
# before this component existed; its stacks keep their URNs through aliases.
CHILDREN = ("mcp-server", "llama-stack", "network-policies", "monitoring")


class LlamaStackMcp(pulumi.ComponentResource):
    """The Kubernetes MCP server and Llama Stack (or OGX), wired together, on OpenShift or Kubernetes:
    Llama Stack reaches the MCP server as its `kubernetes` tool connector. Every arg is a setting of the
    stack files (docs/settings.md), validated all at once before anything is registered."""

    namespace: pulumi.Output[str]
    """The namespace everything namespaced is in."""
    mcp_server_url: pulumi.Output[str]
    """The MCP server's in-cluster URL (Streamable HTTP, `/mcp`)."""
    mcp_service_account: pulumi.Output[str]
    """The MCP server's ServiceAccount (`system:serviceaccount:<namespace>:<name>`)."""
    llama_stack_internal_url: pulumi.Output[str]
    """Llama Stack's in-cluster URL."""
    mcp_server_route_url: pulumi.Output[Optional[str]]
    """The MCP server's public URL, when its Route or Ingress is on."""
    llama_stack_url: pulumi.Output[Optional[str]]
    """Llama Stack's public URL, when its Route or Ingress is on."""
    fleet_contexts: pulumi.Output[Optional[list[str]]]
    """The kubeconfig contexts the MCP server reaches, the hub's first, when fleet members are set."""

    def __init__(self, name: str, args: LlamaStackMcpArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        settings, secrets, fleet = settings_from_args(args)
        self._build(name, settings, secrets, fleet, opts, child_names={c: f"{name}-{c}" for c in CHILDREN})

    @classmethod
    def from_settings(cls, name: str, settings: StackSettings, secrets: dict[str, pulumi.Output[str]],
                      fleet: FleetSources, opts: Optional[pulumi.ResourceOptions] = None) -> "LlamaStackMcp":
        """The standalone program's way in: settings it has already read from the stack files and
        validated. Its components keep the names and URNs they had at the stack's root."""
        self = cls.__new__(cls)
        self._build(name, settings, secrets, fleet, opts, child_names={c: c for c in CHILDREN},
                    aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)])
        return self

    def _build(self, name: str, settings: StackSettings, secrets: dict[str, pulumi.Output[str]],
               fleet: FleetSources, opts: Optional[pulumi.ResourceOptions], child_names: dict[str, str],
               aliases: Optional[list[pulumi.Alias]] = None) -> None:
        super().__init__(TYPE, name, None, opts)
        facts = derive(settings)
        here = pulumi.ResourceOptions(parent=self, aliases=aliases)
        # Members first: the hub's kubeconfig Secret is made of what they return.
        access = deploy_members(facts, fleet, secrets.get("fleetKubeconfigs"),
                                pulumi.Config("kubernetes").get("kubeconfig"), opts=here)
        mcp = KubernetesMcpServer(child_names["mcp-server"], facts, access, opts=here)
        # Only the namespace orders the rest: the two servers roll out side by side (Llama Stack
        # reaches the MCP server per request, at a URL known before anything is created, so previews
        # show the whole config), so `up` waits for the slower rollout, not their sum.
        after_namespace = pulumi.ResourceOptions.merge(here, pulumi.ResourceOptions(depends_on=mcp.namespace_resources))
        stack = LlamaStack(child_names["llama-stack"], facts, secrets=secrets, opts=after_namespace)
        NetworkPolicies(child_names["network-policies"], facts, opts=after_namespace)
        Monitoring(child_names["monitoring"], facts, opts=after_namespace)

        self.namespace = pulumi.Output.from_input(mcp.namespace)
        self.mcp_server_url = pulumi.Output.from_input(mcp.url)
        self.mcp_service_account = pulumi.Output.from_input(mcp.service_account)
        self.llama_stack_internal_url = pulumi.Output.from_input(stack.internal_url)
        self.mcp_server_route_url = pulumi.Output.from_input(mcp.route_url)
        self.llama_stack_url = pulumi.Output.from_input(stack.url)
        members = settings.fleet.members
        self.fleet_contexts = pulumi.Output.from_input(
            [settings.fleet.hub_name] + [m.name for m in members] if members else None)
        # Which optional outputs this stack has is known before anything is created.
        self.exposed = {"mcpServerRouteUrl": mcp.route_url is not None, "llamaStackUrl": stack.url is not None,
                        "fleetContexts": bool(members)}
        self.register_outputs({camel_case(k): getattr(self, k) for k in LlamaStackMcp.__annotations__})


# ------------------------------------------------------------------ args in

def camel_case(name: str) -> str:
    """Pulumi's snake_case -> camelCase of a component's property names (pulumi.provider.experimental.util),
    here so that the standalone program need not import the provider machinery."""
    first, *rest = name.split("_")
    return first + "".join(w[:1].upper() + w[1:] for w in rest)


def _hosted() -> bool:
    """Whether the component package's provider is constructing this component for a consumer."""
    host = sys.modules.get("pulumi.provider.experimental.host")
    return bool(host and host.is_hosting)


def settings_from_args(args: LlamaStackMcpArgs) -> tuple[StackSettings, dict[str, pulumi.Output[str]], FleetSources]:
    """Validate the args as the program validates a stack file; pulumi.RunError lists every problem,
    each named as the caller wrote it."""
    raw = stack_config(dict(args or {}), LlamaStackMcpArgs)
    secret_values = {key: raw.pop(key) for key in SECRET_KEYS if raw.get(key) is not None}
    empty = {key for key, value in secret_values.items() if value == ""}
    # Outputs where a value only goes into objects: stand-ins now, the values once known (deferred.py).
    raw, problems = deferred.swap_outputs(raw, StackSettings, _as_written)
    member_texts = secret_values.get("fleetKubeconfigs")
    if member_texts is not None and not isinstance(member_texts, dict):
        # Through the package a secret arrives as an Output: its endpoints cannot be read before registering.
        problems.append("fleetKubeconfigs: must be a plain mapping of member name to kubeconfig here; through the "
                        "component package give members a context of the provider's kubeconfig instead")
        member_texts = None
    fleet = fleet_sources(raw, json.dumps(member_texts) if member_texts else None)
    try:
        settings = load_settings(raw, set(secret_values) - empty, empty_secrets=empty, fleet=fleet)
    except SettingsError as err:
        problems = err.problems + problems
    if problems:
        raise pulumi.RunError(SettingsError([_as_written(p) for p in problems]).report())
    secrets = {key: pulumi.Output.secret(json.dumps(value) if isinstance(value, dict) else value)
               for key, value in secret_values.items() if key not in empty}
    return settings, secrets, fleet


def fleet_sources(raw: dict[str, Any], member_kubeconfigs: Optional[str]) -> FleetSources:
    """The kubeconfigs Pulumi reaches fleet members by, read for their endpoints only: the Kubernetes
    provider's own (`kubernetes:kubeconfig`/`context`, else the environment's) and `member_kubeconfigs`
    (the secret `fleetKubeconfigs` as JSON text, looked at here and never kept)."""
    if not raw.get("fleet") and not member_kubeconfigs:
        return FleetSources()
    provider = pulumi.Config("kubernetes")
    return FleetSources.read(provider.get("kubeconfig"), provider.get("context"), member_kubeconfigs)


def stack_config(value: Any, typ: Any) -> Any:
    """Args as a stack file holds them: each TypedDict's keys in camelCase; map keys (labels, node
    selectors) and values as given."""
    origin = typing.get_origin(typ)
    if typing.is_typeddict(typ) and isinstance(value, dict):
        hints = typ.__annotations__
        return {camel_case(k): stack_config(v, hints.get(k, Any)) for k, v in value.items()}
    if origin is list and isinstance(value, list):
        return [stack_config(v, typing.get_args(typ)[0]) for v in value]
    if origin is dict and isinstance(value, dict):
        return {k: stack_config(v, typing.get_args(typ)[1]) for k, v in value.items()}
    if typ is int and isinstance(value, float) and value.is_integer():
        return int(value)  # the engine carries every number as a double
    return value


def _python_names() -> dict[str, str]:
    """Stack-file name -> Python key, for every arg whose two spellings differ."""
    from . import component_args
    names: dict[str, str] = {}
    for type_name in component_args.__all__:
        for key in getattr(component_args, type_name).__annotations__:
            if camel_case(key) != key:
                names[camel_case(key)] = key
    return names


_PYTHON_NAMES = _python_names()
_NAME = re.compile(r"\b[a-z][a-zA-Z0-9]*[A-Z][a-zA-Z0-9]*\b")
_CONFIG_SET = re.compile(r"`pulumi config set --secret (?:--path )?([A-Za-z.]+)[^`]*`")


def _as_written(problem: str) -> str:
    """A problem named in the caller's casing. Through the package (any language) the schema's names
    are the stack files' camelCase; a Python program that imports the component wrote snake_case.
    A secret is an arg here, not stack config."""
    problem = _CONFIG_SET.sub(lambda m: f"the secret arg `{m.group(1).split('.')[0]}`", problem)
    if _hosted():
        return problem
    return _NAME.sub(lambda m: _PYTHON_NAMES.get(m.group(0), m.group(0)), problem)
