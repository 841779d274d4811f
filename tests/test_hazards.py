"""docs/safety.md, the hazard table: every hazard the project must answer for has a row, every row names at least
one proof, and every test node id or scenario it names exists (a renamed or deleted test fails here)."""

import ast
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(REPO, "docs", "safety.md")

# The hazards issue 16 lists: a row's first cell must start with each of these (case-insensitive).
HAZARDS = (
    "unintended torque", "torque not removed", "main contactor closing on an uncharged link", "opening under load",
    "welded contactor", "precharge resistor overheating", "loss of inverter can", "pedal faults",
    "brake and pedal together", "direction change at speed", "tuning with hv on", "wrong configuration",
    "driving away while plugged in", "overcharge", "a hung task",
)

_TOKEN = re.compile(r"`((?:tests|scenarios)/[^`]+)`")


def rows(text=None):
    """(hazard, [proof tokens]) of every table row under the header."""
    if text is None:
        with open(DOC, encoding="utf-8") as f:
            text = f.read()
    out = []
    seen_header = False
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if cells and cells[0] == "Hazard":
            seen_header = True
            continue
        if not seen_header or set(cells[0]) <= set("-: "):
            continue
        out.append((cells[0], _TOKEN.findall(cells[-1])))
    return out


def _defined(path, parts):
    # True when parts (class, method / function) are defined in the Python file.
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    scope = tree.body
    for name in parts:
        hit = None
        for node in scope:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name == name:
                hit = node
        if hit is None:
            return False
        scope = hit.body
    return True


def missing(token):
    """None when the test / scenario a token names exists, else why not."""
    path, _, rest = token.partition("::")
    full = os.path.join(REPO, path)
    if not os.path.isfile(full):
        return "no file %s" % path
    if path.startswith("scenarios/"):
        return None if path.endswith(".scn") and not rest else "not a scenario: %s" % token
    if not os.path.basename(path).startswith("test_") or not path.endswith(".py"):
        return "not a test module: %s" % path
    if rest and not _defined(full, rest.split("::")):
        return "no test %s" % token
    return None


def test_every_hazard_has_a_row_with_a_proof():
    table = rows()
    firsts = [h.lower() for h, _ in table]
    for hz in HAZARDS:
        assert any(f.startswith(hz) for f in firsts), "no row for %r" % hz
    for hz, proofs in table:
        assert proofs, "row %r names no test or scenario" % hz


def test_every_named_proof_exists():
    bad = []
    for hz, proofs in rows():
        for tok in proofs:
            why = missing(tok)
            if why:
                bad.append("%s: %s" % (hz, why))
    assert not bad, bad


def test_the_check_fails_on_a_missing_proof():
    text = ("| Hazard | Safeguard | Proof |\n|---|---|---|\n"
            "| Overcharge | x | `tests/cross/test_safety.py::Crystal::test_hv_locked`, "
            "`tests/cross/test_safety.py::Crystal::test_no_such_test`, `scenarios/no-such.scn` |\n")
    (hz, proofs), = rows(text)
    assert hz == "Overcharge"
    assert [missing(t) for t in proofs] == [
        None, "no test tests/cross/test_safety.py::Crystal::test_no_such_test", "no file scenarios/no-such.scn"]
