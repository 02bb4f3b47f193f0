"""CrossGuard pack: `pulumi preview --policy-pack policy`. Rules live in rules.py (tested directly)."""

from pulumi_policy import PolicyPack

from pack import policies

PolicyPack(name="llamastack-mcp", policies=policies())
