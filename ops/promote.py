#!/usr/bin/env python3
"""Carry the release-defining settings from one stack file to another.

    make promote FROM=dev TO=prod            # edit Pulumi.prod.yaml, print the diff
    make promote FROM=dev TO=prod ARGS=--check   # exit 1 if a promotion would change anything

Release-defining: the MCP server's image and Llama Stack's distribution,
version and image. Everything else (replicas, resources, RBAC, hosts,
storage, secrets) is the target environment's own and is left alone. The
target keeps its comments, key order and formatting. A mutable image
reference (no tag, or `latest`) is never promoted into a protected stack.
"""

from __future__ import annotations

import argparse
import difflib
import io
import sys
from typing import Any


from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from ops import offline
from components.settings import SECRET_KEYS, SettingsError, load_settings
from policy.rules import mutable_image

PROJECT = "llamastack-mcp"
RELEASE_KEYS: tuple[tuple[str, str], ...] = (
    ("mcpServer", "image"),
    ("llamaStack", "distribution"),
    ("llamaStack", "version"),
    ("llamaStack", "image"),
)
IMAGE_KEYS = {("mcpServer", "image"), ("llamaStack", "image")}
PROTECTED = {"prod"}


class PromotionError(Exception):
    pass


def _yaml() -> YAML:
    y = YAML()  # round-trip: comments, order, quoting and flow style survive
    y.preserve_quotes = True
    y.width = 4096
    return y


def _dump(y: YAML, doc: Any) -> str:
    buf = io.StringIO()
    y.dump(doc, buf)
    return buf.getvalue()


def promote(source_text: str, target_text: str, target_name: str) -> str:
    """The target file's text with the source's release settings; raises PromotionError."""
    y = _yaml()
    source, target = y.load(source_text) or {}, y.load(target_text)
    src_cfg, dst_cfg = source.get("config") or {}, target.get("config")
    if dst_cfg is None:
        raise PromotionError("the target stack file has no `config:` section")
    problems = []
    for section, key in RELEASE_KEYS:
        value = (src_cfg.get(f"{PROJECT}:{section}") or {}).get(key)
        if value is None:
            continue  # not set in the source: the target keeps what it has
        if (section, key) in IMAGE_KEYS and value and target_name in PROTECTED and mutable_image(str(value)):
            problems.append(f"{section}.{key} = {value!s} is a mutable image reference (no tag or :latest); "
                            f"{target_name} takes only pinned references: a release tag or, better, a digest")
            continue
        block = dst_cfg.get(f"{PROJECT}:{section}")
        if block is None:
            block = dst_cfg[f"{PROJECT}:{section}"] = CommentedMap()
        if block.get(key) != value:
            block[key] = value  # the source's scalar keeps its quoting ("0.7.3" stays a string)
    if problems:
        raise PromotionError("\n".join(problems))
    return _dump(y, target)


def _validate(text: str, target_name: str) -> None:
    """The promoted file must still be valid settings (e.g. a version the target can run)."""
    y = _yaml()
    config = (y.load(text) or {}).get("config") or {}
    values = {k.split(":", 1)[1]: _plain(v) for k, v in config.items()
              if k.startswith(f"{PROJECT}:") and not (isinstance(v, dict) and set(v) == {"secure"})}
    try:
        load_settings({**offline.project_defaults(), **values}, set(SECRET_KEYS))
    except SettingsError as err:
        raise PromotionError(f"the promoted Pulumi.{target_name}.yaml would be invalid:\n{err.report()}") from None


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", required=True, help="source stack name or file")
    parser.add_argument("--to", dest="target", required=True, help="target stack name or file")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a promotion would")
    args = parser.parse_args(argv)
    source_path, target_path = offline.stack_path(args.source), offline.stack_path(args.target)
    target_name = offline.stack_name(args.target)
    for path in (source_path, target_path):
        if not path.exists():
            print(f"error: no stack file {path}", file=sys.stderr)
            return 2
    before = target_path.read_text()
    try:
        after = promote(source_path.read_text(), before, target_name)
        _validate(after, target_name)
    except PromotionError as err:
        print(f"error: not promoting {source_path.name} -> {target_path.name}:\n{err}", file=sys.stderr)
        return 2
    diff = "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                        f"a/{target_path.name}", f"b/{target_path.name}"))
    if not diff:
        print(f"{target_path.name} already has {source_path.name}'s release settings")
        return 0
    print(diff, end="")
    if args.check:
        print(f"{target_path.name} differs from {source_path.name} in release settings (--check: unchanged)")
        return 1
    target_path.write_text(after)
    print(f"promoted {source_path.name} -> {target_path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
