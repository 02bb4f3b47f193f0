"""The pages a user reads: every relative link in the README and docs/ points at a file that exists,
and every #anchor at a heading of that file (GitHub's anchors), so moving a section breaks the tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from support import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    found = set()
    in_code = False
    for line in page.read_text().splitlines():
        in_code ^= line.startswith("```")
        heading = re.match(r"^#+ (.*)", line)
        if heading and not in_code:
            found.add(re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-"))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves(page):
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):  # http(s), mailto: not ours to check offline
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no file {file.relative_to(ROOT) if file.is_relative_to(ROOT) else file}")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.relative_to(ROOT)}")
    assert broken == [], "\n".join(broken)


def test_the_readme_maps_every_page_in_docs():
    readme = (ROOT / "README.md").read_text()
    unmapped = [p.name for p in PAGES[1:] if f"](docs/{p.name})" not in readme]
    assert unmapped == [], f"README's documentation map lacks {unmapped}"
