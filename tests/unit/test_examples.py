"""Every code block of the README and docs/ that is a command or a program is marked, on the line before
its fence, either `<!-- example: KIND -->` and run here as the page shows it (extracted from the page), or
`<!-- illustrative: WHY -->` (it needs your cluster, your backend or your credentials; the reason names
the test that walks its equivalent).

Kinds run here: `python` (a program using the component, under Pulumi's mocks), `pulumi-yaml` (the
resources of a Pulumi YAML program, through the component package's provider), `stack-file` (settings
loaded as a stack file's), `settings-error` (the report the program prints for the settings named in
it), `offline` (shell lines that need no cluster, run in a copy of the checkout).
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from components.llamastack_mcp import TYPE
from components.settings import SECRET_KEYS, SettingsError, load_settings
from ops import offline
from support import ROOT, deep_merge
from support.programs import hosted_program, program

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^(?:<!-- (example|illustrative): ?(.*?) -->\n)?```(\w*)\n(.*?)^```", re.S | re.M)
KINDS = {"python", "pulumi-yaml", "stack-file", "settings-error", "offline"}  # the first word of the argument


def blocks() -> list[tuple[str, str, str, str]]:
    """(where, marker, argument, text) of every fenced block; marker "" when unmarked."""
    found = []
    for page in PAGES:
        text = page.read_text()
        for m in _BLOCK.finditer(text):
            line = text[:m.start()].count("\n") + 1
            found.append((f"{page.relative_to(ROOT)}:{line}", m.group(1) or "", (m.group(2) or "").strip(), m.group(4)))
    return found


def examples(kind: str) -> list[tuple[str, str]]:
    return [(where, text) for where, marker, arg, text in blocks() if marker == "example" and arg == kind]


def test_every_block_is_run_or_marked_illustrative():
    unmarked = [where for where, marker, _, text in blocks() if not marker]
    assert unmarked == [], f"mark each: <!-- example: KIND --> or <!-- illustrative: WHY --> ({unmarked})"
    for where, marker, arg, _ in blocks():
        if marker == "example":
            assert arg.split(" ", 1)[0] in KINDS, (where, arg)
        else:
            assert len(arg) > 10, (where, "say why it is illustrative")


def test_the_readme_runs_examples():
    assert {kind for where, marker, kind, _ in blocks() if where.startswith("README") and marker == "example"} \
        >= {"python", "pulumi-yaml"}


@pytest.mark.parametrize("where,text", examples("python"), ids=lambda v: v if ":" in str(v) else "")
def test_a_python_example_runs_under_mocks(where, text, tmp_path, preview):
    # The secrets it reads from its project's config (`pulumi config set --secret dbPassword ...`).
    secrets = {name: "from-the-consumers-config" for name in re.findall(r"require_secret\(\"(\w+)\"\)", text)}
    run = offline.run({}, secrets, preview=preview, program=program(tmp_path, text))
    assert run.error is None, (where, run.error)
    assert run.find("Deployment") and run.find("Service"), where


@pytest.mark.parametrize("where,text", examples("pulumi-yaml"), ids=lambda v: v if ":" in str(v) else "")
def test_a_pulumi_yaml_example_runs_through_the_provider(where, text, tmp_path, preview):
    project = yaml.safe_load(text)
    (resource,) = [r for r in project["resources"].values() if r["type"] == TYPE]
    properties = json.loads(json.dumps(resource["properties"]))
    secrets = tuple(k for k, v in properties.items() if k in SECRET_KEYS and isinstance(v, str) and v.startswith("${"))
    for key in secrets:  # a config reference (`${dbPassword}`): a secret the consumer passes
        properties[key] = "from-the-consumers-config"
    run = offline.run({}, preview=preview, program=hosted_program(tmp_path, properties, secrets))
    assert run.error is None, (where, run.error)
    assert run.find("Deployment"), where


@pytest.mark.parametrize("where,text", examples("stack-file"), ids=lambda v: v if ":" in str(v) else "")
def test_a_stack_file_example_is_valid_settings(where, text):
    config = yaml.safe_load(text)["config"]
    values = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("llamastack-mcp:")}
    secrets = {k for k, v in values.items() if isinstance(v, dict) and set(v) == {"secure"}}
    merged = deep_merge(offline.project_defaults(), {k: v for k, v in values.items() if k not in secrets})
    load_settings(merged, secrets)


def settings_errors() -> list[tuple[str, str, str]]:
    return [(where, arg.split(" ", 1)[1], text) for where, marker, arg, text in blocks()
            if marker == "example" and arg.split(" ", 1)[0] == "settings-error"]


@pytest.mark.parametrize("where,settings,text", settings_errors(), ids=lambda v: v if ":" in str(v)[:30] else "")
def test_a_settings_error_example_is_what_the_program_reports(where, settings, text):
    """`<!-- example: settings-error SETTINGS -->`: the page shows the report for SETTINGS (JSON, over the
    project's defaults), line for line."""
    header, *lines = text.strip().splitlines()
    with pytest.raises(SettingsError) as err:
        load_settings(deep_merge(offline.project_defaults(), json.loads(settings)))
    report = err.value.report()
    for line in lines:
        assert line.strip() in report, (where, line, report)
    assert header.removeprefix("error: ") == report.splitlines()[0], (header, report)


@pytest.mark.parametrize("where,text", examples("offline"), ids=lambda v: v if ":" in str(v) else "")
def test_an_offline_command_example_runs_as_written(where, text):
    """Each line as the page writes it, in the checkout (what it writes goes to build/, ignored by git)."""
    for line in text.strip().splitlines():
        command = line.split("  #")[0].strip()
        result = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=600)
        if command.startswith("diff "):  # 1: the files differ, which is what the page shows
            assert result.returncode == 1 and result.stdout, (where, command, result.stderr)
        else:
            assert result.returncode == 0, (where, command, result.stdout[-2000:], result.stderr[-2000:])
