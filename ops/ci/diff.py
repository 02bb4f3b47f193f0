"""The Kubernetes objects each stack would have, at a base commit and here, as one diff: make ci-diff BASE=origin/main.

    python -m ops.ci.diff --base origin/main [--stacks dev prod]

Renders every stack offline (`make render`) twice: in a worktree of BASE, with BASE's own code and stack files, and in
this checkout. Prints `diff -ru` of the two, and in GitHub Actions writes it to the job summary. Exits 0 whatever the
diff; 2 when this checkout's render fails (a settings error: the message names the setting). A stack BASE cannot
render (new in this change, or broken there) is said so and compared with nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ops.ci import actions


def render(checkout: Path, stack: str, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    return subprocess.run([sys.executable, "-m", "ops.render", "--stack", stack, "--out", str(out)],
                          cwd=checkout, env=env, capture_output=True, text=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="origin/main", help="the commit to compare with (a branch, tag or SHA)")
    parser.add_argument("--stacks", nargs="+", default=["dev", "prod"])
    args = parser.parse_args(argv)
    root = actions.ROOT
    with tempfile.TemporaryDirectory(prefix="ci-diff-") as scratch:
        base_tree, out = Path(scratch) / "base", Path(scratch) / "out"
        subprocess.run(["git", "-C", str(root), "worktree", "add", "--detach", "--quiet", str(base_tree), args.base],
                       check=True)
        try:
            for stack in args.stacks:
                head = render(root, stack, out / "head" / stack)
                if head.returncode != 0:
                    print(head.stdout + head.stderr, file=sys.stderr)
                    actions.say(f"stack {stack} does not render here; nothing was compared")
                    return 2
                if not (base_tree / f"Pulumi.{stack}.yaml").exists():
                    actions.say(f"stack {stack} is new: {args.base} has no Pulumi.{stack}.yaml")
                    (out / "base" / stack).mkdir(parents=True)
                elif render(base_tree, stack, out / "base" / stack).returncode != 0:
                    actions.say(f"stack {stack} does not render at {args.base}: compared with nothing")
                    (out / "base" / stack).mkdir(parents=True, exist_ok=True)
        finally:
            subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(base_tree)], check=False)
        diff = subprocess.run(["diff", "-ru", "base", "head"], cwd=out, capture_output=True, text=True).stdout
    files = sum(line.startswith(("diff ", "Only in ")) for line in diff.splitlines())
    print(diff, end="")
    heading = (f"Kubernetes objects: {args.base} -> this commit: {files} file(s) differ" if diff
               else f"Kubernetes objects: no difference from {args.base}")
    print(heading)
    actions.summary(f"### {heading}\n\n```diff\n{diff}```" if diff else f"### {heading}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
