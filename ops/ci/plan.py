"""Would `pulumi up` change STACK's cluster? The gate before prod's approval, and the nightly drift check.

    make ci-plan STACK=prod      # python -m ops.ci.plan --stack prod: exit 0 either way, the answer in outputs
    make ci-drift STACK=prod     # python -m ops.ci.plan --stack prod --drift: refresh first; exit 1 naming what drifted

`pulumi preview --refresh --json` with the policy pack, through ops/pulumi.sh (the cluster named and checked, the recovery
guard around it). A preview changes nothing: it runs with a credential that can only read (docs/operations.md).
Prints one line per object that would change; in GitHub Actions also writes `changes=N` and `deploy=true|false`
to the step's outputs and a table to the job summary. A failed preview (a policy pack's mandatory rule, a cluster
that refuses) exits 2 with Pulumi's own messages, whatever steps it printed.

The refresh reads the cluster first, so an object someone changed by hand shows as a change back to what the stack
declares: the gate then asks for prod's deploy, which refreshes too and puts it back. --drift adds
`--expect-no-changes`. A preview writes no state.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass

from ops.ci import actions

QUIET_OPS = ("same", "refresh", "read")  # steps that change nothing on the cluster


@dataclass(frozen=True)
class Change:
    op: str         # create, update, replace, delete, ...
    kind: str       # the Pulumi type's last part: Deployment, ClusterRole, LlamaStackMcp
    name: str       # the resource's name: deployment:llama-stack/llama-stack
    fields: tuple[str, ...]  # the changed properties Pulumi names (spec.replicas), when it does

    def line(self) -> str:
        where = f" ({', '.join(self.fields)})" if self.fields else ""
        return f"{self.op} {self.kind} {self.name}{where}"


def changes(preview: dict) -> list[Change]:
    """The steps of `pulumi preview --json` that would change something, the stack itself left out."""
    found = []
    for step in preview.get("steps", []):
        if step.get("op") in QUIET_OPS or step.get("type", "").startswith("pulumi:pulumi:Stack"):
            continue
        urn = step["urn"]
        kind = urn.split("::")[-2].split("$")[-1].rsplit(":", 1)[-1]
        fields = tuple(sorted((step.get("detailedDiff") or {}).keys())) or tuple(step.get("diffReasons") or ())
        found.append(Change(step["op"], kind, urn.split("::")[-1], fields))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="the stack (Pulumi.STACK.yaml)")
    parser.add_argument("--drift", action="store_true", help="refresh first and fail when anything differs")
    args = parser.parse_args(argv)
    refused = actions.require_cluster()
    if refused:
        actions.say(refused)
        return 2
    extra = ["--expect-no-changes"] if args.drift else []
    proc = subprocess.run(actions.pulumi_sh(args.stack, "preview", "--refresh", "--json", "--policy-pack", "policy",
                                          *extra),
                          stdout=subprocess.PIPE, stderr=None, text=True)
    try:
        preview = json.loads(proc.stdout)
    except json.JSONDecodeError:
        preview = None
    if preview is None or "steps" not in preview:
        actions.say(f"the preview of stack {args.stack} failed (exit {proc.returncode}); nothing was decided")
        for diagnostic in (preview or {}).get("diagnostics", []):
            print(diagnostic.get("message", "").rstrip(), file=sys.stderr)
        actions.summary(f"### {args.stack}: the preview failed (exit {proc.returncode}); see the job's log")
        return 2
    found = changes(preview)
    # A failed preview (a policy pack's mandatory rule, a refused request) still prints its steps: only a drift
    # check's own --expect-no-changes may end non-zero, and then only because something would change.
    if proc.returncode != 0 and not (args.drift and found):
        # `--json` leaves the policy pack's findings out: the same rules, offline, say which broke.
        subprocess.run([sys.executable, "-m", "ops.policy_check", "--stack", args.stack], stdout=sys.stderr,
                       cwd=actions.ROOT)
        actions.say(f"the preview of stack {args.stack} failed (exit {proc.returncode}); nothing was decided")
        actions.summary(f"### {args.stack}: the preview failed (exit {proc.returncode}); see the job's log")
        return 2
    what = "drift" if args.drift else "changes"
    actions.set_output(changes=len(found), deploy=bool(found))
    if not found:
        print(f"{args.stack}: no {what}: the cluster matches what this commit declares")
        actions.summary(f"### {args.stack}: no {what}")
        return 0
    heading = (f"{args.stack}: {len(found)} object(s) differ from what this commit declares (changed by hand, or a "
               "change not deployed yet)"
               if args.drift else f"{args.stack}: `pulumi up` would change {len(found)} object(s)")
    print(heading + ":")
    for change in found:
        print(f"  {change.line()}")
    rows = "\n".join(f"| {c.op} | {c.kind} | `{c.name}` | {', '.join(c.fields)} |" for c in found)
    actions.summary(f"### {heading}\n\n| step | kind | object | fields |\n|---|---|---|---|\n{rows}")
    return 1 if args.drift else 0


if __name__ == "__main__":
    sys.exit(main())
