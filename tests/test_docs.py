"""The documentation holds together: every `docs/...` page that code, messages or documents name exists, and every
relative link in README.md and docs/*.md resolves to a file of the repository."""

import pathlib
import re
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[1]
DOC_PATH = re.compile(r"\bdocs/[\w./-]+\.md\b")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def tracked_text_files():
    names = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for name in names:
        path = REPO / name
        if path.suffix in (".py", ".md", ".mjs", ".scn", ".json", ".toml", ".txt") and path.is_file():
            yield path


def test_every_docs_page_named_anywhere_exists():
    missing = []
    for path in tracked_text_files():
        for m in DOC_PATH.finditer(path.read_text(encoding="utf-8", errors="replace")):
            if not (REPO / m.group(0)).is_file():
                missing.append("%s names %s" % (path.relative_to(REPO), m.group(0)))
    assert not missing, "pages that do not exist: %s" % "; ".join(sorted(set(missing)))


def test_every_relative_link_resolves():
    pages = [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md"))
    assert len(pages) > 5
    broken = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for target in LINK.findall(text):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue  # a web address, or an anchor in the same page
            file_part = target.split("#", 1)[0]
            if not (page.parent / file_part).resolve().exists():
                broken.append("%s -> %s" % (page.relative_to(REPO), target))
    assert not broken, "links that lead nowhere: %s" % "; ".join(broken)


def test_the_simulators_injection_table_lists_every_injection():
    import sys

    for sub in ("tools", "firmware/lib"):
        if str(REPO / sub) not in sys.path:
            sys.path.insert(0, str(REPO / sub))
    from fakes.plant import INJECTIONS

    text = (REPO / "docs" / "simulator.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `([a-z_0-9]+)` \|", text, re.M)
    assert sorted(listed) == sorted(INJECTIONS)
