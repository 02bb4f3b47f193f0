#!/usr/bin/env python3
"""The policy pack's rules over a stack's objects, offline: exits non-zero on any mandatory violation.

    make policy STACK=prod
    python -m ops.policy_check --stack path/to/Pulumi.other.yaml
"""

from __future__ import annotations

import argparse
import sys


from ops import offline
from policy.rules import RESOURCE_RULES, STACK_RULES, violations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="prod", help="stack name or stack file path")
    args = parser.parse_args(argv)
    try:
        result = offline.run_stack(args.stack, fill_missing_secrets=True)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if result.error:
        print(f"error: {result.error}", file=sys.stderr)
        return 2
    # Each cluster on its own (a fleet member holds only its own objects), as the rules see a stack.
    found = []
    for cluster in sorted({r.cluster for r in result.all_objects}):
        where = f"[fleet member {cluster}] " if cluster else ""
        found += [(rule, where + message) for rule, message in violations(result.manifests(cluster=cluster))]
    for rule, message in found:
        print(f"MANDATORY  {rule}: {message}")
    rules = len(RESOURCE_RULES) + len(STACK_RULES)
    print(f"{len(result.all_objects)} objects, {rules} rules, {len(found)} violation(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
