"""A fleet: one MCP server in the hub cluster reaching member clusters, each with its own least privilege.

Per member, through the member's own explicit provider: a ServiceAccount, the
RBAC of the member's preset and scope, and a service-account-token Secret the
member's token controller fills. Why that credential and not TokenRequest: the
hub's MCP server reads a static kubeconfig, and a bound token from
TokenRequest expires (at most the member API server's
--service-account-max-token-expiration) with nothing in the hub to renew it
between two `up`s. The token Secret is what Kubernetes documents for a
long-lived credential held outside the cluster: it lives exactly as long as
the Secret, so deleting the Secret (removing the member, or raising
tokenGeneration) revokes it on the member's API server at once.

In the hub: one Secret holding the kubeconfig (a context per member, named
after it, plus the hub's own in-cluster context) and each member's token as a
file. The kubeconfig names the tokens by path (`tokenFile`), so it holds no
credential: the server's `configuration_view` tool, which shows the agent the
whole kubeconfig, shows paths, never tokens (checked against v0.0.67, which
prints inline tokens in full).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import yaml

from . import meta, rbac, workload
from .facts import StackFacts
from .kubeconfig import Endpoint, FleetSources
from .mcp_server import ClusterAccess, namespace
from .meta import Manifest
from .registry import KubernetesProvider, register_all
from .settings import FleetMember, StackSettings

SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"
SA_TOKEN_TYPE = "kubernetes.io/service-account-token"
# How the hub's pods reach their own API server: the projected ServiceAccount token, which the
# kubelet rotates and client-go re-reads from the file.
IN_CLUSTER_SERVER = "https://kubernetes.default.svc"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# In the hub: the kubeconfig and the members' tokens, one Secret mounted into the MCP pods.
SECRET_NAME = f"{meta.MCP_SERVER}-fleet"
MOUNT_DIR = "/etc/kubernetes-mcp-server-fleet"
CHECKSUM_ANNOTATION = "checksum/fleet"


def token_secret_name(member: FleetMember) -> str:
    return f"{meta.MCP_SERVER}-token-{member.token_generation}"


def token_file(member: str) -> str:
    return f"{MOUNT_DIR}/{member}.token"


# ------------------------------------------------------------ on a member

def member_manifests(facts: StackFacts, member: FleetMember) -> list[Manifest]:
    """What one member cluster holds: [namespace,] ServiceAccount, RBAC, token Secret."""
    a = facts.mcp.app
    # A member's namespace holds only the hub's account and token, no data: destroy deletes it.
    out = [namespace(facts.namespace, keep=False)] if facts.settings.namespace.create else []
    # No pod runs as this account on the member: nothing mounts its token.
    out.append(workload.service_account(a, automount=False))
    out += rbac.grants(a, member.rbac, member.platform or facts.settings.platform)
    out.append(meta.manifest("v1", "Secret", a.metadata(token_secret_name(member),
                                                        annotations={SA_NAME_ANNOTATION: a.name}),
                             type=SA_TOKEN_TYPE))
    return out


# ------------------------------------------------------------- in the hub

@dataclass(frozen=True)
class MemberAccess:
    """How the hub's MCP server reaches one member."""

    name: str
    server: str
    ca_pem: Any  # str, or an Output[str] (the member's own ca.crt)


def hub_kubeconfig(settings: StackSettings, members: list[MemberAccess]) -> str:
    """The hub's kubeconfig: its own in-cluster context first (the default), then one per member.
    Credentials are files beside it, never inline."""
    hub = settings.fleet.hub_name
    clusters = [{"name": hub, "cluster": {"server": IN_CLUSTER_SERVER, "certificate-authority": f"{SA_DIR}/ca.crt"}}]
    users = [{"name": hub, "user": {"tokenFile": f"{SA_DIR}/token"}}]
    for m in members:
        clusters.append({"name": m.name, "cluster": {
            "server": m.server, "certificate-authority-data": base64.b64encode(m.ca_pem.encode()).decode()}})
        users.append({"name": m.name, "user": {"tokenFile": token_file(m.name)}})
    names = [hub] + [m.name for m in members]
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": hub,
                           "clusters": clusters, "users": users,
                           "contexts": [{"name": n, "context": {"cluster": n, "user": n}} for n in names]},
                          sort_keys=False)


def hub_secret(facts: StackFacts, kubeconfig: Any, tokens: dict[str, Any]) -> Manifest:
    """The kubeconfig and the members' tokens (values may be secret Outputs)."""
    data = {"kubeconfig": kubeconfig, **{f"{name}.token": token for name, token in tokens.items()}}
    return meta.manifest("v1", "Secret", facts.mcp.app.metadata(SECRET_NAME), type="Opaque", stringData=data)


def hub_access(facts: StackFacts, kubeconfig: Any, tokens: dict[str, Any], pods_checksum: Any) -> ClusterAccess:
    """What the hub's MCP server runs with: the Secret mounted, one kubeconfig with a context per member
    and the hub's own, and a checksum that rolls the pods when a member is added, removed or rotated."""
    return ClusterAccess(
        objects=[hub_secret(facts, kubeconfig, tokens)],
        volume={"name": "fleet", "secret": {"secretName": SECRET_NAME}},
        mount={"name": "fleet", "mountPath": MOUNT_DIR, "readOnly": True},
        args=["--cluster-provider", "kubeconfig", "--kubeconfig", f"{MOUNT_DIR}/kubeconfig"],
        annotations={CHECKSUM_ANNOTATION: pods_checksum})


def checksum(kubeconfig: str, settings: StackSettings) -> str:
    """Changes with the kubeconfig and with every token Secret's name (rotation): never with a
    token's value, so the annotation is not derived from a secret."""
    tokens = ",".join(f"{m.name}={token_secret_name(m)}" for m in settings.fleet.members)
    return hashlib.sha256(f"{kubeconfig}\n{tokens}".encode()).hexdigest()


# ------------------------------------------------------------- components

class FleetMemberCluster(pulumi.ComponentResource):
    """One member cluster's ServiceAccount, RBAC and token, through the member's own provider."""

    token: pulumi.Output[str]
    ca_pem: pulumi.Output[str]

    def __init__(self, facts: StackFacts, member: FleetMember, kubeconfig: Optional[pulumi.Input[str]],
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("llamastack-mcp:index:FleetMember", member.name, None, opts)
        provider = KubernetesProvider(member.name, kubeconfig, member.context or None,
                                      pulumi.ResourceOptions(parent=self))
        objects = member_manifests(facts, member)

        def register(kinds: set[str], depends_on: list[pulumi.Resource]) -> dict:
            return register_all([m for m in objects if m["kind"] in kinds], pulumi.ResourceOptions(
                parent=self, provider=provider, depends_on=depends_on), cluster=member.name)

        namespace = list(register({"Namespace"}, []).values())
        created = register({m["kind"] for m in objects} - {"Namespace", "Secret"}, namespace)
        a = facts.mcp.app
        # The token controller fills the Secret only once its ServiceAccount exists; the
        # provider waits until it has.
        secret = register({"Secret"}, [created[("ServiceAccount", a.namespace, a.name)]])[
            ("Secret", a.namespace, token_secret_name(member))]
        data = secret.data
        self.token = pulumi.Output.secret(data.apply(lambda d: _decoded(d, "token")))
        # A CA certificate is public: unsecret it so the kubeconfig (and the pods' checksum) is not secret.
        self.ca_pem = pulumi.Output.unsecret(data.apply(lambda d: _decoded(d, "ca.crt")))
        self.register_outputs({"context": member.name})


def _decoded(data: Optional[dict[str, str]], key: str) -> str:
    return base64.b64decode((data or {}).get(key, "")).decode()


def deploy_members(facts: StackFacts, sources: FleetSources,
                   member_kubeconfigs: Optional[pulumi.Output[str]],
                   pulumi_kubeconfig: Optional[str],
                   opts: Optional[pulumi.ResourceOptions] = None) -> Optional[ClusterAccess]:
    """Register every member; return what the hub's MCP server runs with (None without members).

    `member_kubeconfigs`: the secret `fleetKubeconfigs` (JSON, name -> kubeconfig);
    `pulumi_kubeconfig`: `kubernetes:kubeconfig`, which context members are looked up in;
    `opts`: the members' parent (and its aliases).
    """
    settings = facts.settings
    members = settings.fleet.members
    if not members:
        return None
    accesses, tokens = [], {}
    for member in members:
        if member.name in sources.secret and member_kubeconfigs is not None:
            kubeconfig: Optional[pulumi.Input[str]] = pulumi.Output.secret(
                member_kubeconfigs.apply(lambda text, name=member.name: json.loads(text)[name]))
        else:
            kubeconfig = pulumi_kubeconfig
        cluster = FleetMemberCluster(facts, member, kubeconfig, opts)
        endpoint: Endpoint = sources.endpoint(member.name, member.context)
        # The kubeconfig's CA vouches for the server Pulumi reached; another address gets the member's own CA.
        ca = endpoint.ca_pem if endpoint.ca_pem and not member.server else cluster.ca_pem
        accesses.append(MemberAccess(member.name, member.server or endpoint.server, ca))
        tokens[member.name] = cluster.token
    cas = [a.ca_pem for a in accesses]
    kubeconfig_text = pulumi.Output.all(*cas).apply(lambda resolved: hub_kubeconfig(
        settings, [MemberAccess(a.name, a.server, ca) for a, ca in zip(accesses, resolved)]))
    return hub_access(facts, kubeconfig_text, tokens, kubeconfig_text.apply(lambda t: checksum(t, settings)))
