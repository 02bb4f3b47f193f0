"""Run the production linters over a stack's rendered objects and hold their findings against accepted.yaml.

    make review STACK=prod          # kube-score and checkov over prod's objects; exit 1 on an unexplained finding
    python -m ops.review.lint --docs    # rewrite docs/review.md from accepted.yaml (make docs does it too)

kube-score is built from its Go module by testbed/localcluster/toolchain.sh; checkov is installed by testbed/e2e/deps.sh.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

import yaml

ROOT = Path(__file__).resolve().parents[2]
ACCEPTED = Path(__file__).with_name("accepted.yaml")
DOC = ROOT / "docs" / "review.md"
CACHE = Path(os.environ.get("E2E_CACHE", Path.home() / ".cache" / "llamastack-mcp-e2e"))
KUBE_SCORE = Path(os.environ.get("TOOLCHAIN", CACHE / "toolchain")) / "bin" / "kube-score"
CHECKOV = CACHE / "venv-checkov" / "bin" / "checkov"
# kube-score grades: 1 critical, 5 warning (7 "almost OK" and 10 OK are not findings).
SEVERITY = {1: "critical", 5: "warning"}
KUBERNETES_VERSION = "v1.31"  # OpenShift 4.18's level, as kubernetes-validate checks


@dataclass(frozen=True)
class Finding:
    linter: str
    check: str
    severity: str
    target: str  # Kind/name (container)
    message: str


def accepted() -> dict[str, list[dict[str, Any]]]:
    return yaml.safe_load(ACCEPTED.read_text())


def _tool(path: Path, how: str) -> str:
    found = path if path.exists() else shutil.which(path.name)
    if not found:
        raise FileNotFoundError(f"{path.name} is not installed: {how}")
    return str(found)


def kube_score(objects: list[dict[str, Any]]) -> list[Finding]:
    binary = _tool(KUBE_SCORE, "run `make toolchain` (testbed/localcluster/toolchain.sh builds it)")
    stream = yaml.safe_dump_all(objects, sort_keys=False)
    proc = subprocess.run([binary, "score", "-", "--output-format", "json", "--kubernetes-version", KUBERNETES_VERSION,
                           "--enable-optional-test", "container-seccomp-profile"],
                          input=stream, capture_output=True, text=True, timeout=120)
    if proc.returncode not in (0, 1):  # 1: it found something
        raise RuntimeError(f"kube-score failed ({proc.returncode}): {proc.stderr[-2000:]}")
    findings = []
    for obj in json.loads(proc.stdout):
        kind, name = obj["type_meta"]["kind"], obj["object_meta"]["name"]
        for check in obj["checks"]:
            severity = SEVERITY.get(check["grade"])
            if check["skipped"] or severity is None:
                continue
            for comment in check.get("comments") or [{"path": "", "summary": check["check"]["comment"]}]:
                where = f" ({comment['path']})" if comment.get("path") else ""
                findings.append(Finding("kube-score", check["check"]["id"], severity, f"{kind}/{name}{where}",
                                        comment["summary"]))
    return findings


def checkov(directory: Path) -> tuple[list[Finding], int]:
    """Failed checks, and how many passed (a scan that ran nothing is not a clean one)."""
    binary = _tool(CHECKOV, "run `make e2e-deps` (testbed/e2e/deps.sh checkov)")
    proc = subprocess.run([binary, "-d", str(directory), "--framework", "kubernetes", "--output", "json", "--quiet",
                           "--compact"], capture_output=True, text=True, timeout=600)
    report = json.loads(proc.stdout or "{}")
    if not isinstance(report, dict):
        return [], 0
    failed = report.get("results", {}).get("failed_checks", [])
    findings = [Finding("checkov", c["check_id"], "failed", c["resource"], c["check_name"]) for c in failed]
    return findings, report.get("summary", {}).get("passed", 0)


def unexplained(findings: Iterable[Finding], platform: str) -> list[Finding]:
    """The findings accepted.yaml does not accept for this platform."""
    table = accepted()
    ok = {(linter, entry["check"]) for linter, entries in table.items() for entry in entries
          if platform in entry.get("platforms", [platform])}
    return [f for f in findings if (f.linter, f.check) not in ok]


def render_doc() -> str:
    table = accepted()
    lines = ["# What a production review flags, and why it stays", "",
             "<!-- generated from ops/review/accepted.yaml by `make docs`; edit that file -->", "",
             "The rendered objects of every variant the tests build are scored by "
             "[kube-score](https://github.com/zegl/kube-score) (built from its Go module), and prod's by "
             "[checkov](https://www.checkov.io/). Every finding either is fixed or is listed here with its "
             "verdict: **deliberate** (the check's advice would be wrong here) or **mitigated** (the risk is "
             "real and handled another way). Anything else fails the tests; `make review STACK=prod` runs the "
             "same review on a stack.", ""]
    for linter, entries in table.items():
        lines += [f"## {linter}", "", "| Check | Verdict | Where | Why |", "|---|---|---|---|"]
        for e in entries:
            where = ", ".join(e["platforms"]) if "platforms" in e else "everywhere"
            why = " ".join(e["why"].split())
            lines.append(f"| `{e['check']}`: {e['title']} | {e['verdict']} | {where} | {why} |")
        lines.append("")
    return "\n".join(lines)


def stack_objects(stack: str) -> tuple[list[dict[str, Any]], str]:
    """A stack's objects as `make render` writes them (secrets masked), and its platform."""
    from ops import offline
    from components.settings import StackSettings
    run = offline.run_stack(stack, fill_missing_secrets=True)
    if run.error:
        raise SystemExit(run.error)
    platform = offline.stack_settings(stack)[0].get("platform", StackSettings().platform)
    return run.manifests(masked=True), platform


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--docs", action="store_true", help="rewrite docs/review.md")
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/review.md is stale")
    args = parser.parse_args(argv)
    if args.docs or args.check:
        current = DOC.read_text() if DOC.exists() else ""
        if args.check:
            if current != render_doc():
                print(f"{DOC.relative_to(ROOT)} is stale: run `make docs`", file=sys.stderr)
                return 1
            return 0
        DOC.write_text(render_doc())
        print(f"wrote {DOC.relative_to(ROOT)}")
        return 0
    objects, platform = stack_objects(args.stack)
    findings = kube_score(objects)
    with tempfile.TemporaryDirectory() as tmp:
        for i, obj in enumerate(objects):
            (Path(tmp) / f"{i:03d}.yaml").write_text(yaml.safe_dump(obj, sort_keys=False))
        found, _ = checkov(Path(tmp))
    findings += found
    bad = set(unexplained(findings, platform))
    for f in findings:
        print(f"{'UNEXPLAINED' if f in bad else 'accepted   '} {f.linter:10} {f.check:45} {f.target}: {f.message}")
    print(f"{len(findings)} finding(s), {len(bad)} not in ops/review/accepted.yaml")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
