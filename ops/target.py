"""Name the cluster a Pulumi command is about to change, and refuse the wrong one, before anything changes.

    python -m ops.target --stack-file Pulumi.prod.yaml [--command up] [--kubectl kubectl]

Prints the kubeconfig context and the API server URL that Pulumi's provider will use (the stack file's
`kubernetes:context`, else the current context). Exits 3, naming the setting as written, when:
- the stack pins `target.context` or `target.apiServer` and the kubeconfig points elsewhere;
- for up, preview and refresh, the server is older than a setting needs (components/server_version.py).
Reads the kubeconfig with `kubectl config` (no request); only the version check asks the server.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

from components import server_version
from components.settings import SECRET_KEYS, SettingsError, load_settings
from ops.offline import stack_file, stack_settings

REFUSED = 3


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def kubectl_out(kubectl: list[str], *args: str) -> str:
    done = subprocess.run([*kubectl, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"`kubectl {' '.join(args)}`: {done.stderr.strip()}")
    return done.stdout.strip()


def with_stack_kubeconfig(kubectl: str, config: dict[str, Any], scratch: Path) -> list[str]:
    """kubectl reading the kubeconfig the provider reads: the stack file's `kubernetes:kubeconfig` (a path or
    the file's text) when it sets one, else $KUBECONFIG or ~/.kube/config."""
    value = config.get("kubernetes:kubeconfig")
    if not value:
        return [kubectl]
    if not isinstance(value, str):
        raise RuntimeError("the stack file's kubernetes:kubeconfig is a secret: set the cluster by KUBECONFIG or "
                           "kubernetes:context instead, so that it can be named before anything changes")
    path = Path(os.path.expanduser(value))
    if not path.is_file():
        path = scratch / "kubeconfig"
        path.write_text(value)
        path.chmod(0o600)
    return [kubectl, "--kubeconfig", str(path)]


def cluster_of(kubectl: list[str], context: str) -> tuple[str, str]:
    """(context, API server URL) that the provider will use."""
    if not context:
        context = kubectl_out(kubectl, "config", "current-context")
    server = kubectl_out(kubectl, "config", "view", "--minify", "--context", context,
                         "-o", "jsonpath={.clusters[0].cluster.server}")
    return context, server


def server_minor(kubectl: list[str], context: str) -> tuple[tuple[int, int], str]:
    out = json.loads(kubectl_out(kubectl, "version", "-o", "json", "--context", context, "--request-timeout=20s"))
    found = out["serverVersion"]
    return (int(found["major"]), int(re.match(r"\d+", found["minor"]).group())), found["gitVersion"]


def pin_problems(pin: dict[str, Any], context: str, server: str, path: str) -> list[str]:
    out = []
    if pin.get("context") and pin["context"] != context:
        out.append(f"target.context = {pin['context']!r} in {path}, but Pulumi would use context {context!r}")
    if pin.get("apiServer") and pin["apiServer"].rstrip("/") != server.rstrip("/"):
        out.append(f"target.apiServer = {pin['apiServer']!r} in {path}, but context {context!r} points at {server}")
    return out


def version_problems(values: dict[str, Any], found: tuple[int, int], version: str, server: str) -> list[str]:
    try:
        settings = load_settings(values, set(SECRET_KEYS))
    except SettingsError:
        return []  # the program reports bad settings itself, every one, before registering anything
    return [f"{need.setting or 'this stack'} needs Kubernetes >= {need.version[0]}.{need.version[1]} (OpenShift >= "
            f"{server_version.openshift_release(need.version)}) for {need.why}; the server at {server} runs {version}"
            for need in server_version.too_old(settings, found)]


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack-file", required=True)
    parser.add_argument("--command", default="up")
    parser.add_argument("--kubectl", default="kubectl")
    args = parser.parse_args(argv)
    config = stack_file(args.stack_file).get("config") or {}
    with tempfile.TemporaryDirectory() as scratch:
        try:
            kubectl = with_stack_kubeconfig(args.kubectl, config, Path(scratch))
            context, server = cluster_of(kubectl, str(config.get("kubernetes:context") or ""))
        except RuntimeError as err:
            say(f"refused: no cluster to name: {err}")
            return REFUSED
        return check(args, config, kubectl, context, server)


def check(args: argparse.Namespace, config: dict[str, Any], kubectl: list[str], context: str, server: str) -> int:
    say(f"target: context {context!r}, API server {server}")
    problems = pin_problems(config.get("llamastack-mcp:target") or {}, context, server, args.stack_file)
    if not problems and args.command in ("up", "preview", "refresh"):
        values, _ = stack_settings(args.stack_file)
        try:
            found, version = server_minor(kubectl, context)
        except (RuntimeError, KeyError, ValueError, AttributeError) as err:
            say(f"refused: could not read the server's version before changing it: {err}")
            return REFUSED
        say(f"server: Kubernetes {version}")
        problems = version_problems(values, found, version, server)
    for problem in problems:
        say(f"refused: {problem}")
    if problems:
        say("nothing was changed")
    return REFUSED if problems else 0


if __name__ == "__main__":
    sys.exit(main())
