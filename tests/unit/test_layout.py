"""The house: the product, the operator commands and the test apparatus each in a place of their own; the
product never reaches into the other two; every repository path a comment or a page names exists.
"""

from __future__ import annotations

import ast
import re
import subprocess

import pytest

from support import ROOT

# Every top-level entry, by what it is for. A new one must be placed here (and in README's map).
PRODUCT = {"components", "llamastack_mcp", "provider", "policy", "schema", "examples", "__main__.py", "Pulumi.yaml",
           "Pulumi.dev.yaml", "Pulumi.prod.yaml", "pyproject.toml", "requirements.txt", "LICENSE"}
OPERATOR = {"ops", "Makefile"}
APPARATUS = {"testbed", "tests", "requirements-dev.txt", ".ci", ".github"}
WORDS = {"README.md", "docs", ".gitignore"}


def tracked() -> list[str]:
    return subprocess.run(["git", "-C", str(ROOT), "ls-files"], capture_output=True, text=True, check=True).stdout.split()


def test_every_top_level_entry_has_one_place():
    top = {path.split("/")[0] for path in tracked()}
    assert top == PRODUCT | OPERATOR | APPARATUS | WORDS, sorted(top ^ (PRODUCT | OPERATOR | APPARATUS | WORDS))


def imported_roots(folder: str) -> set[str]:
    roots = set()
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("folder", ["components", "llamastack_mcp", "provider", "policy"])
def test_the_product_never_imports_the_operator_commands_or_the_apparatus(folder):
    assert not imported_roots(folder) & {"ops", "testbed", "tests", "support"}


def test_the_operator_commands_never_import_the_apparatus():
    assert not imported_roots("ops") & {"testbed", "tests", "support"}


def test_a_given_cluster_runs_nothing_of_the_apparatus():
    """ops/pulumi.sh reaches testbed/ only for the local cluster, and for the provider release the
    toolchain it built (when the CLI on PATH is that toolchain's)."""
    script = (ROOT / "ops" / "pulumi.sh").read_text()
    uses = [line.strip() for line in script.splitlines() if "testbed/" in line and not line.lstrip().startswith("#")]
    assert uses == ['. "$root/testbed/localcluster/target.sh"', '. "$root/testbed/localcluster/versions.env"  # the provider release it built']
    local = script.index('if [[ "$target" == "local" ]]; then')
    assert script.index('. "$root/testbed/localcluster/target.sh"') > local
    assert script.index('. "$root/testbed/localcluster/versions.env"') > script.index('"$toolchain/bin/pulumi" ]]')


# A path under one of these folders, as pages and comments name them.
_PATH = re.compile(r"(?<![\w./~$@-])((?:components|ops|testbed|tests|docs|examples|provider|policy|schema|llamastack_mcp|"
                   r"\.github|\.ci)/[A-Za-z0-9_./*{}<>#-]*)")
_PAGE = re.compile(r"(?<![\w./-])([A-Za-z][A-Za-z-]*\.md)\b")
# Not repository paths although they look like one: API groups and module paths, the wheel's layout.
NOT_PATHS = {"policy/v1", "llamastack_mcp/components"}


def named_paths(text: str) -> set[str]:
    found = set()
    for match in _PATH.finditer(text):
        written = match.group(1).rstrip(".,:;")
        if "*" in written:  # a glob: it must match something
            found.add(written)
            continue
        path = re.split(r"[{}<>#]", written)[0].rstrip(".,:;/")
        if path in NOT_PATHS or re.fullmatch(r"provider/v[0-9].*", path):
            continue
        found.add(path)
    return found


def test_every_repository_path_named_in_a_comment_or_page_exists():
    missing = []
    for name in tracked():
        if name.endswith(".json") or name.startswith("tests/fixtures/") or name == "tests/unit/test_layout.py":
            continue
        try:
            text = (ROOT / name).read_text()
        except (UnicodeDecodeError, IsADirectoryError):
            continue
        missing += [(name, p) for p in named_paths(text) if not (any(ROOT.glob(p)) if "*" in p else (ROOT / p).exists())]
        pages = {p for p in _PAGE.findall(text)}
        missing += [(name, p) for p in pages if not ((ROOT / p).exists() or (ROOT / "docs" / p).exists())]
    assert missing == []


def test_the_path_check_finds_a_stale_name():
    assert named_paths("see components/settings.py and tests/test_x.py, policy/v1 and ops/") == \
        {"components/settings.py", "tests/test_x.py", "ops"}


LOCALCLUSTER = ROOT / "testbed" / "localcluster"


def test_the_cluster_scripts_write_no_kubernetes_manifest_inline():
    """The objects the local cluster needs are files (testbed/localcluster/manifests/), applied as such."""
    for script in [*LOCALCLUSTER.glob("*.sh"), *LOCALCLUSTER.glob("node/*.sh")]:
        inline = [line for line in script.read_text().splitlines() if re.search(r"\bapply\b.*<<", line)]
        assert inline == [], (script.name, inline)


def test_every_cluster_manifest_renders_to_named_objects():
    import yaml
    for path in (LOCALCLUSTER / "manifests").glob("*.yaml"):
        text = re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}", "1", path.read_text())
        documents = [d for d in yaml.safe_load_all(text) if d]
        assert documents, path.name
        for doc in documents:
            assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"], (path.name, doc)


def test_every_test_module_has_a_name_of_its_own():
    """pytest imports test modules by their base name (the folders are not packages): two alike fail collection."""
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []
