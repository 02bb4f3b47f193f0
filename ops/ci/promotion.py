"""Promote FROM's release to TO by pull request: make ci-promote FROM=dev TO=prod.

    python -m ops.ci.promotion --from dev --to prod [--base main] [--remote origin]

1. `make promote` edits Pulumi.TO.yaml (the release settings only) and the policy pack's rules must pass over TO's
   objects; with nothing to promote it says so and stops.
2. Commits that one file on a new branch `promote/FROM-to-TO-<short sha>` and pushes it. With $GH_TOKEN set (the job's
   own token in GitHub Actions) the token goes to this one push as a header: the checkout keeps no credentials.
3. Opens the pull request with `gh`, the promotion's diff as its body. A pull request opened with the job's token
   starts no `pull_request` workflow (GitHub's rule against recursive runs), so it then starts the checks itself:
   `gh workflow run pull-request.yml --ref <branch>`, a workflow_dispatch run whose checks land on the branch's commit,
   the commit the pull request shows. Nothing beyond the job's own token is needed; the repository must allow
   GitHub Actions to create pull requests (docs/operations.md#promotion-pr--dev--prod). Without that setting the
   branch is still pushed and the link to open its pull request by hand is printed: its checks then run as for any.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import subprocess
import sys

from ops.ci import actions

CHECKS_WORKFLOW = "pull-request.yml"


def git(*args: str, capture: bool = False) -> str:
    proc = subprocess.run(["git", "-C", str(actions.ROOT), *args], check=True, text=True,
                          stdout=subprocess.PIPE if capture else None)
    return (proc.stdout or "").strip()


def push(remote: str, branch: str) -> None:
    token = os.environ.get("GH_TOKEN")
    auth = []
    if token:
        url = git("remote", "get-url", remote, capture=True)
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        auth = ["-c", f"http.{url}.extraheader=AUTHORIZATION: basic {basic}"]
    git(*auth, "push", "--quiet", remote, f"HEAD:refs/heads/{branch}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", required=True)
    parser.add_argument("--to", dest="target", required=True)
    parser.add_argument("--base", default="main", help="the branch the pull request goes to")
    parser.add_argument("--remote", default="origin")
    args = parser.parse_args(argv)
    for name, value in (("--from", args.source), ("--to", args.target), ("--base", args.base)):
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,62}", value):
            actions.say(f"refused: {name} {value!r} is not a stack or branch name (a-z, 0-9, . _ -); nothing was done")
            return 2
    py = [sys.executable, "-m"]
    promoted = subprocess.run([*py, "ops.promote", "--from", args.source, "--to", args.target],
                              cwd=actions.ROOT, capture_output=True, text=True)
    sys.stderr.write(promoted.stderr)
    if promoted.returncode != 0:
        return promoted.returncode
    stack_file = f"Pulumi.{args.target}.yaml"
    if not git("status", "--porcelain", "--", stack_file, capture=True):
        print(promoted.stdout, end="")
        actions.summary(f"### nothing to promote: {stack_file} already has {args.source}'s release")
        return 0
    if subprocess.run([*py, "ops.policy_check", "--stack", args.target], cwd=actions.ROOT).returncode != 0:
        actions.say(f"refused: {args.target}'s objects break the policy pack's rules after the promotion; "
                    "nothing was pushed")
        git("checkout", "--", stack_file)
        return 1
    title = f"Promote {args.source} to {args.target}"
    run = os.environ.get("GITHUB_RUN_ID", "")  # a re-run on the same commit gets a branch of its own
    branch = (f"promote/{args.source}-to-{args.target}-{git('rev-parse', '--short=8', 'HEAD', capture=True)}"
              + (f"-{run}" if run.isdigit() else ""))
    git("switch", "--quiet", "-c", branch)
    git("-c", "user.name=github-actions[bot]", "-c",
        "user.email=41898282+github-actions[bot]@users.noreply.github.com",
        "commit", "--quiet", "-m", title, "--", stack_file)
    push(args.remote, branch)
    actions.say(f"pushed {branch}: {stack_file} with {args.source}'s release settings")
    body = f"`make promote FROM={args.source} TO={args.target}`:\n\n```diff\n{promoted.stdout}```\n"
    opened = subprocess.run(["gh", "pr", "create", "--base", args.base, "--head", branch, "--title", title,
                             "--body", body], capture_output=True, text=True)
    if opened.returncode != 0:
        sys.stderr.write(opened.stderr)
        server, repository = os.environ.get("GITHUB_SERVER_URL", ""), os.environ.get("GITHUB_REPOSITORY", "")
        where = f"{server}/{repository}/compare/{args.base}...{branch}?expand=1" if server and repository else branch
        actions.say("could not open the pull request (does the repository allow GitHub Actions to create pull "
                    f"requests? Settings > Actions > General). Open it by hand: {where}; its checks run as for any")
        actions.summary(f"### {title}: branch `{branch}` pushed; open its pull request by hand: {where}")
        return 1
    url = opened.stdout.strip()
    checks = subprocess.run(["gh", "workflow", "run", CHECKS_WORKFLOW, "--ref", branch])
    print(f"{title}: {url}")
    actions.summary(f"### {title}: {url}\n\nchecks: {CHECKS_WORKFLOW} on `{branch}`")
    return checks.returncode


if __name__ == "__main__":
    sys.exit(main())
