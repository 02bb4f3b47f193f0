"""Mandatory rules for what this program deploys, as plain functions over Kubernetes manifests.

The CrossGuard pack (policy/__main__.py, `pulumi preview --policy-pack policy`)
and the offline gate (`make policy`) both call these, so they are tested once,
directly. A resource rule takes one manifest and returns violation messages; a
stack rule takes every manifest.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable

Manifest = dict[str, Any]
ALLOW_UNAUTHENTICATED = "llamastack-mcp.io/allow-unauthenticated"  # set by components/mcp_server.py
ALLOW_CLUSTER_ADMIN_EQUIVALENT = "llamastack-mcp.io/allow-cluster-admin-equivalent"  # likewise
# The pack runs on its own (no import of the program); tests/unit/test_policy.py keeps
# these equal to components/settings/'s lists.
ESCALATING_VERBS = ("escalate", "bind", "impersonate", "*")
ESCALATING_RESOURCES = ("pods/exec", "pods/attach", "pods/portforward", "nodes/proxy", "serviceaccounts/token",
                        "certificatesigningrequests/approval", "*")
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection", "*")
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "default")
MCP_SERVICE = "kubernetes-mcp-server"
_DIGEST = re.compile(r"@sha256:[a-f0-9]{64}$")


def _pod_spec(m: Manifest) -> dict[str, Any] | None:
    kind = m.get("kind")
    spec = m.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return (spec.get("template") or {}).get("spec") or {}
    if kind == "CronJob":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    return None


def _containers(m: Manifest) -> Iterable[dict[str, Any]]:
    spec = _pod_spec(m)
    if spec is None:
        return []
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def _where(m: Manifest, c: dict[str, Any] | None = None) -> str:
    meta = m.get("metadata") or {}
    where = f"{m.get('kind')} {meta.get('namespace', '')}/{meta.get('name')}".replace(" /", " ")
    return f"{where} container {c.get('name')}" if c else where


def mutable_image(image: str) -> bool:
    """True when the reference can change under the same name: no tag, or `latest` (digests never)."""
    if _DIGEST.search(image):
        return False
    last = image.rsplit("/", 1)[-1]
    return ":" not in last or last.rsplit(":", 1)[1] == "latest"


def no_mutable_images(m: Manifest) -> list[str]:
    return [f"{_where(m, c)}: image {c.get('image')!r} is mutable (no tag or :latest); "
            "pin a release tag or, better, a digest (@sha256:...)"
            for c in _containers(m) if mutable_image(str(c.get("image", "")))]


def resources_set(m: Manifest) -> list[str]:
    out = []
    for c in _containers(m):
        resources = c.get("resources") or {}
        missing = [f"{kind}.{res}" for kind in ("requests", "limits") for res in ("cpu", "memory")
                   if not (resources.get(kind) or {}).get(res)]
        if missing:
            out.append(f"{_where(m, c)}: missing resources {', '.join(missing)}")
    return out


def no_privilege(m: Manifest) -> list[str]:
    spec = _pod_spec(m)
    if spec is None:
        return []
    pod = spec.get("securityContext") or {}
    out = []
    for c in _containers(m):
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            out.append(f"{_where(m, c)}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{_where(m, c)}: allowPrivilegeEscalation must be false")
        if not (sc.get("runAsNonRoot", pod.get("runAsNonRoot"))):
            out.append(f"{_where(m, c)}: runAsNonRoot must be true")
        if sc.get("runAsUser", pod.get("runAsUser")) == 0:
            out.append(f"{_where(m, c)}: runs as root (runAsUser 0)")
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag):
            out.append(f"{_where(m)}: {flag}")
    return out


def rbac_no_wildcards(m: Manifest) -> list[str]:
    if m.get("kind") not in ("Role", "ClusterRole"):
        return []
    out = []
    for i, rule in enumerate(m.get("rules") or []):
        for field in ("verbs", "resources", "apiGroups"):
            if "*" in (rule.get(field) or []):
                out.append(f"{_where(m)}: rules[{i}].{field} contains '*'; name what is needed")
    return out


def no_cluster_admin_equivalent(m: Manifest) -> list[str]:
    """Rules that let the holder take over the cluster, unless the settings opted in (annotation)."""
    if m.get("kind") not in ("Role", "ClusterRole"):
        return []
    meta = m.get("metadata") or {}
    if (meta.get("annotations") or {}).get(ALLOW_CLUSTER_ADMIN_EQUIVALENT) == "true":
        return []
    namespace = meta.get("namespace") or ""
    system = namespace in SYSTEM_NAMESPACES or namespace.startswith(("openshift-", "kube-"))
    out = []
    for i, rule in enumerate(m.get("rules") or []):
        verbs, resources = set(rule.get("verbs") or []), set(rule.get("resources") or [])
        groups = {"apiGroups *"} if "*" in (rule.get("apiGroups") or []) else set()
        found = sorted((verbs & set(ESCALATING_VERBS)) | (resources & set(ESCALATING_RESOURCES)) | groups)
        if found:
            out.append(f"{_where(m)}: rules[{i}] grants {found}: cluster-admin equivalent "
                       "(mcpServer.rbac.allowClusterAdminEquivalent opts in)")
        elif system and verbs & set(WRITE_VERBS):
            out.append(f"{_where(m)}: rules[{i}] writes in system namespace {namespace}: cluster-admin "
                       "equivalent (mcpServer.rbac.allowClusterAdminEquivalent opts in)")
    return out


def tls_everywhere(m: Manifest) -> list[str]:
    spec = m.get("spec") or {}
    if m.get("kind") == "Route":
        tls = spec.get("tls") or {}
        if tls.get("termination") not in ("edge", "reencrypt", "passthrough"):
            return [f"{_where(m)}: no TLS termination"]
        if tls.get("insecureEdgeTerminationPolicy") == "Allow":
            return [f"{_where(m)}: insecureEdgeTerminationPolicy Allow serves plain HTTP; use Redirect"]
    if m.get("kind") == "Ingress":
        covered = {h for t in spec.get("tls") or [] for h in t.get("hosts") or []}
        hosts = {r.get("host") for r in spec.get("rules") or []}
        if not spec.get("tls") or not hosts <= covered:
            return [f"{_where(m)}: TLS must cover every host ({', '.join(sorted(map(str, hosts - covered)))})"]
    return []


def mcp_not_exposed_without_oauth(manifests: list[Manifest]) -> list[str]:
    """A Route, Ingress or HTTPRoute to the MCP Service needs the server to require OAuth, or an explicit opt-out."""
    oauth = any("--require-oauth" in (c.get("args") or []) for m in manifests
                if m.get("kind") == "Deployment" and (m.get("metadata") or {}).get("name") == MCP_SERVICE
                for c in _containers(m))
    out = []
    for m in manifests:
        spec = m.get("spec") or {}
        if m.get("kind") == "Route":
            targets = {(spec.get("to") or {}).get("name")}
        elif m.get("kind") == "Ingress":
            targets = {p["backend"]["service"]["name"] for r in spec.get("rules") or []
                       for p in (r.get("http") or {}).get("paths") or [] if "service" in p.get("backend", {})}
        elif m.get("kind") == "HTTPRoute":
            targets = {b.get("name") for r in spec.get("rules") or [] for b in r.get("backendRefs") or []
                       if b.get("kind", "Service") == "Service" and not b.get("group")}
        else:
            continue
        allowed = ((m.get("metadata") or {}).get("annotations") or {}).get(ALLOW_UNAUTHENTICATED) == "true"
        if MCP_SERVICE in targets and not oauth and not allowed:
            out.append(f"{_where(m)} exposes the MCP server, which does not require OAuth "
                       "(set mcpServer.oauth, or mcpServer.route.allowUnauthenticated: true to accept the risk)")
    return out


RESOURCE_RULES: dict[str, tuple[str, Callable[[Manifest], list[str]]]] = {
    "no-mutable-images": ("Images are pinned: a release tag or a digest, never untagged or :latest.",
                          no_mutable_images),
    "resources-set": ("Every container sets CPU and memory requests and limits.", resources_set),
    "no-privilege": ("No privileged container, privilege escalation, host namespaces or root.", no_privilege),
    "rbac-no-wildcards": ("RBAC rules name their verbs, resources and API groups (no '*').", rbac_no_wildcards),
    "tls-everywhere": ("Every Route and Ingress terminates TLS.", tls_everywhere),
    "no-cluster-admin-equivalent-rbac": ("No RBAC that amounts to cluster-admin (escalate, bind, impersonate, "
                                         "pods/exec, nodes/proxy, tokens, writes in system "
                                         "namespaces) unless the settings opt in.", no_cluster_admin_equivalent),
}
STACK_RULES: dict[str, tuple[str, Callable[[list[Manifest]], list[str]]]] = {
    "mcp-not-exposed-without-oauth": ("The MCP server is not exposed outside the cluster without OAuth "
                                      "(unless explicitly allowed in settings).", mcp_not_exposed_without_oauth),
}


def violations(manifests: list[Manifest]) -> list[tuple[str, str]]:
    """(rule, message) for every violation in a set of manifests."""
    out = [(name, msg) for m in manifests for name, (_, rule) in RESOURCE_RULES.items() for msg in rule(m)]
    out += [(name, msg) for name, (_, rule) in STACK_RULES.items() for msg in rule(manifests)]
    return out
