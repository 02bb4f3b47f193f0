#!/usr/bin/env python3
"""Write every Kubernetes object a stack would create as YAML, offline.

Runs the real program (the `__main__.py` that `pulumi up` runs) under Pulumi's
mocks with the stack's settings (Pulumi.yaml defaults, then Pulumi.<stack>.yaml).
One file per object; secret values are replaced by a visible placeholder.
What it cannot show: server-side defaults and live state (that is `pulumi preview`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


import yaml

from ops import offline


def file_name(manifest: dict) -> str:
    meta = manifest["metadata"]
    parts = [manifest["kind"].lower(), meta.get("namespace"), meta["name"]]
    return ".".join(p for p in parts if p) + ".yaml"


def ordered(manifest: dict) -> dict:
    """apiVersion, kind, metadata first, the rest sorted: stable, diffable files."""
    meta = manifest["metadata"]
    head = {k: meta[k] for k in ("name", "namespace", "labels", "annotations") if k in meta}
    return {"apiVersion": manifest["apiVersion"], "kind": manifest["kind"],
            "metadata": {**head, **{k: v for k, v in sorted(meta.items()) if k not in head}},
            **{k: v for k, v in sorted(manifest.items()) if k not in ("apiVersion", "kind", "metadata")}}


class _ReviewDumper(yaml.SafeDumper):
    """Multi-line strings (the Llama Stack config.yaml in its ConfigMap) as block scalars,
    so a dev -> prod diff shows their lines rather than one escaped string."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and not any(line != line.rstrip() for line in value.splitlines()) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ReviewDumper.add_representer(str, _str)


def dump(manifest: dict) -> str:
    return yaml.dump(ordered(manifest), Dumper=_ReviewDumper, sort_keys=False)


def write(folder: Path, manifests: list[dict]) -> list[dict]:
    """One file per object; the folder holds exactly these objects afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.yaml"):
        stale.unlink()
    for manifest in manifests:
        (folder / file_name(manifest)).write_text(dump(manifest))
    return manifests


def render(stack: str, out: Path) -> int:
    result = offline.run_stack(stack, fill_missing_secrets=True)
    if result.error:
        print(f"error: {result.error}", file=sys.stderr)
        return 1
    manifests = write(out, result.manifests(masked=True))
    print(f"rendered {len(manifests)} objects of stack {stack} into {out}/")
    # A fleet member's objects go to their own directory: the same names live on every member.
    for member in sorted({r.cluster for r in result.all_objects} - {""}):
        objects = write(out / "fleet" / member, result.manifests(masked=True, cluster=member))
        print(f"rendered {len(objects)} objects of fleet member {member} into {out / 'fleet' / member}/")
        manifests = manifests + objects
    if any(m["kind"] == "Secret" for m in manifests):
        print(f"secret values are replaced by {offline.SECRET_PLACEHOLDER!r}")
    for key in result.filled:
        print(f"note: {key} is not set in Pulumi.{stack}.yaml; rendered with the placeholder. "
              f"`pulumi up` needs it: pulumi config set --secret {key} <value> --stack {stack}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    try:
        return render(args.stack, args.out or Path("build") / args.stack)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
