"""The few things a GitHub Actions runner hands over, read and written in one place.

Outside Actions each is a no-op or a plain print, so every `make ci-*` target runs the same on a laptop.
"""

from __future__ import annotations

import atexit
import os
import sys
import tempfile
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[2]


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def set_output(**values: object) -> None:
    """Step outputs (`steps.X.outputs.NAME`, a job's `outputs:`), when $GITHUB_OUTPUT is set."""
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as out:
        for key, value in values.items():
            out.write(f"{key}={str(value).lower() if isinstance(value, bool) else value}\n")


def summary(markdown: str) -> None:
    """The job's summary page, when $GITHUB_STEP_SUMMARY is set."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(markdown.rstrip("\n") + "\n")


def kubeconfig_from_env() -> Optional[str]:
    """$KUBECONFIG_DATA (an environment secret's text) as a private file that is removed at exit,
    named in $KUBECONFIG for this process and its children; nothing is written to ~/.kube. Returns its path."""
    data = os.environ.pop("KUBECONFIG_DATA", None)
    if not data:
        return None
    directory = os.environ.get("RUNNER_TEMP") or None
    handle, path = tempfile.mkstemp(prefix="kubeconfig-", dir=directory)  # mode 0600
    with os.fdopen(handle, "w") as out:
        out.write(data)
    atexit.register(lambda: Path(path).unlink(missing_ok=True))
    os.environ["KUBECONFIG"] = path
    return path


def require_cluster() -> Optional[str]:
    """The kubeconfig CI uses: $KUBECONFIG_DATA's (written to a private file), else $KUBECONFIG as given. With
    neither, an error message: a CI command never falls back to the local cluster (ops/pulumi.sh's default when no
    kubeconfig is given), which on a runner would be a throwaway cluster, not yours."""
    if kubeconfig_from_env() or os.environ.get("KUBECONFIG"):
        return None
    return ("refused: no cluster credential: KUBECONFIG_DATA is empty or unset (is the secret set in this job's "
            "environment?) and KUBECONFIG is unset; nothing was run")


def pulumi_sh(stack: str, command: str, *args: str) -> list[str]:
    """ops/pulumi.sh, what `make up/preview` run: the cluster named and checked, the recovery guard around it."""
    return ["bash", str(ROOT / "ops" / "pulumi.sh"), stack, command, *args]
