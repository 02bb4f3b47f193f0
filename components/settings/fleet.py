"""The fleet's settings (`fleet`): member clusters the hub's MCP server reaches, each with its own RBAC."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from ..kubeconfig import FleetSources, KubeconfigError
from .base import Settings
from .fields import Count, DnsLabel, show
from .rbac import MemberRbac


def https_url(value: str) -> str:
    if value and not re.fullmatch(r"https://[^\s/@]+(/\S*)?", value):
        raise PydanticCustomError("url", "must be empty or an https:// URL without credentials "
                                         "(an API server such as https://api.staging.example.com:6443)")
    return value


class FleetMember(Settings):
    """One member cluster: how Pulumi reaches it, how the hub reaches it, what the hub may do there."""

    name: DnsLabel
    """The member's name: its context in the hub's kubeconfig, what the agent passes as a tool's `context`."""
    context: str = ""
    """How Pulumi reaches the member: a context of the kubeconfig Pulumi uses (`kubernetes:kubeconfig`,
    $KUBECONFIG or ~/.kube/config). With the secret `fleetKubeconfigs.<name>`, a context inside that kubeconfig
    (default: its current context)."""
    server: Annotated[str, AfterValidator(https_url)] = ""
    """The API server URL the hub's MCP server uses (default: the one Pulumi reaches the member by). Set it when
    the hub reaches the member by another address; the CA is then the member's own (`ca.crt` of its token)."""
    platform: Optional[Literal["openshift", "kubernetes"]] = None
    """openshift or kubernetes (default: the stack's platform); OpenShift members also grant listing projects."""
    rbac: MemberRbac = MemberRbac()
    """The member's RBAC preset and scope: read-only by default; full only where the agent may change things."""
    token_generation: Count = 1
    """Raise it to rotate the member's token: `up` creates a new token Secret on the member, rolls the MCP pods
    onto it, then deletes the old Secret, which revokes the old token."""


class FleetSettings(Settings):
    """Member clusters the one MCP server reaches besides its own (`fleet`)."""

    hub_name: DnsLabel = "hub"
    """The hub's context name: the stack's own cluster, reached in-cluster with the MCP server's own
    ServiceAccount and mcpServer.rbac. It is the default context of every tool."""
    members: list[FleetMember] = []
    """Member clusters by name: each gets a ServiceAccount with its RBAC and a token, and becomes a context of
    the hub's MCP server (`--cluster-provider kubeconfig`)."""


def raw_problems(fleet: Any, sources: Optional[FleetSources]) -> list[str]:
    """Member names and how each member is reached: checked on the raw settings, so they are
    reported together with a member's own invalid fields (a model validator would not run then).
    Without `sources` (a caller that reads no kubeconfig, such as `make promote`) only names."""
    if not isinstance(fleet, dict) or not isinstance(fleet.get("members", []), list):
        return []
    hub = fleet.get("hubName", "hub")
    problems: list[str] = []
    seen: dict[str, int] = {}
    servers: dict[str, str] = {}
    for i, member in enumerate(fleet.get("members", [])):
        if not isinstance(member, dict) or not isinstance(member.get("name"), str):
            continue
        name, context, where = member["name"], str(member.get("context") or ""), f"fleet.members[{i}]"
        if name == hub:
            problems.append(f"{where}.name = {show(name)}: is the hub's context name (fleet.hubName): the hub is "
                            "always a context; name the member otherwise")
        if name in seen:
            problems.append(f"{where}.name = {show(name)}: names members[{seen[name]}] too: each member needs its "
                            "own name")
        seen.setdefault(name, i)
        if sources is None:
            continue
        at = f"{where}.context = {show(context)}" if context else f"{where} = {show(name)}"
        try:
            endpoint = sources.endpoint(name, context)
        except KubeconfigError as err:
            problems.append(f"{at}: {err}")
            continue
        server = str(member.get("server") or endpoint.server)
        if sources.hub_server and server == sources.hub_server:
            problems.append(f"{at}: reaches {server}, the hub's own cluster, which is already the context {hub!r}: "
                            "a member must be another cluster")
        elif server in servers:
            problems.append(f"{at}: reaches {server} like member {servers[server]!r}: each cluster is one member")
        servers.setdefault(server, name)
    if sources is None:
        return problems
    for name in sorted(set(sources.secret) - set(seen)):
        problems.append(f"fleetKubeconfigs.{name} (secret, not shown): names no fleet member (members: "
                        f"{', '.join(seen) or 'none'}): remove it (pulumi config rm --path fleetKubeconfigs.{name}) "
                        "or add the member")
    if sources.secret_error:
        problems.append(f"fleetKubeconfigs (secret, not shown): {sources.secret_error}")
    return problems
