"""`pulumi up` as CI runs it: make ci-deploy STACK=prod.

    python -m ops.ci.deploy --stack prod

Through ops/pulumi.sh, as `make up`: the cluster named and refused if the stack is pinned elsewhere, the recovery
guard before and after, with the policy pack, refreshing first (what someone changed by hand is put back, as the
gate's preview showed: ops/ci/plan.py). Pulumi's checkpoints stay on whatever the environment says: a CI
runner is gone after a cancelled job, and with it anything the guard kept on its disk, so the state must record
every finished step itself.

A cancelled job: GitHub sends SIGINT to the step's own process, SIGTERM 7.5 s later, and kills the whole process
tree 2.5 s after that. Neither bash nor make passes a signal on, so the workflow `exec`s this module and this module
passes the first signal to Pulumi as an interrupt (Ctrl-C: Pulumi cancels the steps in flight, saves its state and
releases its lock), and only that one, since a second interrupt makes Pulumi stop at once. The next deploy then
converges from that state: it compares the cluster with the state first, so a create that was in flight at the
cancel, on the cluster but not recorded, is taken over or deleted (tests/cluster/test_cluster_ci.py).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys

from ops.ci import actions
from ops.recovery import guard


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="the stack (Pulumi.STACK.yaml)")
    args = parser.parse_args(argv)
    refused = actions.require_cluster()
    if refused:
        actions.say(refused)
        return 2
    if os.environ.get("PULUMI_SKIP_CHECKPOINTS", "false") != "false":
        actions.say("PULUMI_SKIP_CHECKPOINTS is ignored here: a CI deploy keeps Pulumi's checkpoints")
    os.environ["PULUMI_SKIP_CHECKPOINTS"] = "false"
    # Even with checkpoints, a create in flight when a deploy was cancelled can land on the cluster unrecorded:
    # every CI deploy compares the cluster with the state, takes over what the program declares and, once it
    # succeeded, deletes the rest (ops/recovery/guard.py).
    os.environ[guard.ALWAYS_COMPARE] = "1"
    # --yes: CI cannot answer a prompt; the guard may then also remove a lock whose process is gone.
    command = actions.pulumi_sh(args.stack, "up", "--yes", "--skip-preview", "--refresh", "--non-interactive",
                                "--policy-pack", "policy")
    # Its own process group: a signal meant for this job reaches Pulumi once, from here, not also from a terminal.
    child = subprocess.Popen(command, start_new_session=True)
    interrupted = []

    def interrupt(signum, _frame) -> None:
        if not interrupted:
            interrupted.append(signum)
            actions.say(f"{signal.Signals(signum).name}: asking Pulumi to stop (it finishes the steps in flight "
                        "and saves its state)")
            os.killpg(child.pid, signal.SIGINT)

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    rc = child.wait()
    actions.summary(f"### {args.stack}: `pulumi up` {'succeeded' if rc == 0 else f'failed (exit {rc})'}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
