"""Reading kubeconfigs for the fleet: where each member's API server is and which CA it presents.

Only endpoints are kept (context -> server URL and CA); users, tokens and keys
are never read into these objects, so nothing here can leak a credential into
settings, errors or logs. Merging follows client-go's rules for $KUBECONFIG
(a list of files; the first file to define a name wins), which is how the
Kubernetes provider itself finds a context.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import yaml


class KubeconfigError(ValueError):
    """A kubeconfig that cannot be used; the message never quotes its content."""


@dataclass(frozen=True)
class Endpoint:
    server: str
    ca_pem: Optional[str]  # None: the kubeconfig names no CA (system roots or insecure)


@dataclass(frozen=True)
class Kubeconfig:
    source: str  # for messages: a path, or the secret's key
    current_context: str = ""
    # context name -> (cluster name); cluster name -> endpoint (or why it is unusable)
    contexts: dict[str, str] = field(default_factory=dict)
    clusters: dict[str, Endpoint | str] = field(default_factory=dict)

    def endpoint(self, context: str = "") -> Endpoint:
        name = context or self.current_context
        if not name:
            raise KubeconfigError(f"{self.source} has no current-context: name a context")
        if name not in self.contexts:
            known = ", ".join(sorted(self.contexts)) or "none"
            raise KubeconfigError(f"{self.source} has no context {name!r} (contexts: {known})")
        cluster = self.clusters.get(self.contexts[name])
        if cluster is None:
            raise KubeconfigError(f"context {name!r} in {self.source} names a cluster it does not define")
        if isinstance(cluster, str):
            raise KubeconfigError(f"context {name!r} in {self.source}: {cluster}")
        return cluster


def parse(text: str, source: str, base_dir: Optional[Path] = None) -> Kubeconfig:
    try:
        data = yaml.safe_load(text) or {}  # an empty file is an empty kubeconfig, as for client-go
    except yaml.YAMLError:
        raise KubeconfigError(f"{source} is not YAML (content not shown)") from None
    if not isinstance(data, dict) or data.get("kind", "Config") != "Config":
        raise KubeconfigError(f"{source} is not a kubeconfig (kind: Config with clusters and contexts)")
    contexts = {c["name"]: (c.get("context") or {}).get("cluster", "")
                for c in data.get("contexts") or [] if isinstance(c, dict) and c.get("name")}
    clusters = {c["name"]: _endpoint(c.get("cluster") or {}, base_dir)
                for c in data.get("clusters") or [] if isinstance(c, dict) and c.get("name")}
    return Kubeconfig(source, str(data.get("current-context") or ""), contexts, clusters)


def _endpoint(cluster: Mapping[str, Any], base_dir: Optional[Path]) -> Endpoint | str:
    server = str(cluster.get("server") or "")
    if not server.startswith("https://"):
        return f"server {server!r} is not an https:// URL"
    if cluster.get("certificate-authority-data"):
        try:
            ca = base64.b64decode(cluster["certificate-authority-data"], validate=True).decode()
        except ValueError:
            return "certificate-authority-data is not base64"
        return Endpoint(server, ca)
    if cluster.get("certificate-authority"):
        path = Path(os.path.expanduser(cluster["certificate-authority"]))
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            return Endpoint(server, path.read_text())
        except OSError as err:
            return f"certificate-authority {str(path)!r} cannot be read ({err.strerror})"
    return Endpoint(server, None)


def merge(configs: list[Kubeconfig], source: str) -> Kubeconfig:
    """client-go's merge: the first definition of a name wins, and the first current-context."""
    contexts: dict[str, str] = {}
    clusters: dict[str, Endpoint | str] = {}
    current = ""
    for config in configs:
        current = current or config.current_context
        for name, value in config.contexts.items():
            contexts.setdefault(name, value)
        for name, endpoint in config.clusters.items():
            clusters.setdefault(name, endpoint)
    return Kubeconfig(source, current, contexts, clusters)


def ambient(pulumi_kubeconfig: Optional[str], environ: Mapping[str, str] = os.environ) -> Optional[Kubeconfig]:
    """The kubeconfig the Kubernetes provider uses: `kubernetes:kubeconfig` (a path or the content),
    else $KUBECONFIG (a list of paths), else ~/.kube/config. None when there is none."""
    if pulumi_kubeconfig:
        path = Path(os.path.expanduser(pulumi_kubeconfig))
        if "\n" not in pulumi_kubeconfig and path.is_file():
            return parse(path.read_text(), f"kubernetes:kubeconfig ({path})", path.parent)
        return parse(pulumi_kubeconfig, "kubernetes:kubeconfig")
    if environ.get("KUBECONFIG"):
        paths = [Path(p) for p in environ["KUBECONFIG"].split(os.pathsep) if p]
        source = f"$KUBECONFIG ({environ['KUBECONFIG']})"
    else:
        paths = [Path(environ.get("HOME", "~")).expanduser() / ".kube" / "config"]
        source = str(paths[0])
    found = [p for p in paths if p.is_file()]
    if not found:
        return None
    return merge([parse(p.read_text(), str(p), p.parent) for p in found], source)


@dataclass(frozen=True)
class FleetSources:
    """What Pulumi reaches fleet members by: the ambient kubeconfig and the members' secret ones
    (endpoints only), and the hub's own API server (so the hub is not added as a member)."""

    ambient: Optional[Kubeconfig] = None
    ambient_error: str = ""
    hub_server: str = ""
    secret: dict[str, Kubeconfig | str] = field(default_factory=dict)  # member -> endpoints, or the problem
    secret_error: str = ""

    def endpoint(self, member: str, context: str) -> Endpoint:
        if member in self.secret:
            found = self.secret[member]
            if isinstance(found, str):
                raise KubeconfigError(found)
            return found.endpoint(context)
        if not context:
            raise KubeconfigError(
                "has no credentials: set its context (a context of the kubeconfig Pulumi uses), or hold its "
                f"kubeconfig as a secret: pulumi config set --secret --path fleetKubeconfigs.{member} "
                f"\"$(cat {member}.kubeconfig)\"")
        if self.ambient_error:
            raise KubeconfigError(self.ambient_error)
        if self.ambient is None:
            raise KubeconfigError("names a context, but Pulumi has no kubeconfig (kubernetes:kubeconfig, "
                                  "$KUBECONFIG, ~/.kube/config)")
        return self.ambient.endpoint(context)

    @classmethod
    def read(cls, pulumi_kubeconfig: Optional[str], pulumi_context: Optional[str], secret_text: Optional[str],
             environ: Mapping[str, str] = os.environ) -> "FleetSources":
        ambient_config, ambient_error, hub_server = None, "", ""
        try:
            ambient_config = ambient(pulumi_kubeconfig, environ)
        except KubeconfigError as err:
            ambient_error = str(err)
        if ambient_config is not None:
            try:
                hub_server = ambient_config.endpoint(pulumi_context or "").server
            except KubeconfigError:
                pass  # no usable hub context here: the default provider reports that itself
        secret: dict[str, Kubeconfig | str] = {}
        secret_error = ""
        if secret_text:
            try:
                texts = json.loads(secret_text)
            except ValueError:
                texts = None
            if not isinstance(texts, dict) or not all(isinstance(v, str) for v in texts.values()):
                secret_error = ("must map member names to kubeconfigs: pulumi config set --secret --path "
                                "fleetKubeconfigs.NAME \"$(cat NAME.kubeconfig)\"")
            else:
                for name, text in texts.items():
                    try:
                        secret[name] = parse(text, f"fleetKubeconfigs.{name}")
                    except KubeconfigError as err:
                        secret[name] = str(err)
        return cls(ambient_config, ambient_error, hub_server, secret, secret_error)
