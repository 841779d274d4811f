"""Every shipped scenario's bus log, through tools/conformance.py against the AZE0-era recording (the 2015
e-NV200, the only AZE0-generation VCM recorded), differs from it only by the deliberate deviations listed in
docs/conformance.md, and every row of that table is still needed by some scenario. `./run check --conformance`
is tools/conformance.py."""

import glob
import os
import re

import pytest

import check
import conformance as C
import sim

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The ZE1 scenarios (ze1-*.scn) drive a 2018+ inverter: an AZE0-era car is not their reference (their 1D4 limits,
# 1DC and extra frames differ on purpose); tests/test_ze1_scenarios.py checks them.
SCENARIOS = sorted(p for p in glob.glob(os.path.join(REPO, "scenarios", "*.scn"))
                   if not os.path.basename(p).startswith("ze1-"))
DOC = os.path.join(REPO, "docs", "conformance.md")
CAR = "env200-2015"

_VALUE = re.compile(r"^(\w+)\s+([0-9A-F]{3}) byte (\d)(?: & [0-9A-F]{2})?: sent ([0-9A-F]{2}) ")
_CHANGE = re.compile(r"^(\w+)\s+([0-9A-F]{3}) byte (\d): went ([0-9A-F]{2}) -> ([0-9A-F]{2}) ")


def deviations():
    """The table of docs/conformance.md: [(states, id, byte, {sent values or 'A -> B'})]."""
    text = open(DOC, encoding="utf-8").read()
    body = text.split("<!-- deviations:begin -->")[1].split("<!-- deviations:end -->")[0]
    rows = []
    for line in body.strip().splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        states = {s.strip() for s in cells[0].split(",")}
        sent = {s.strip() for s in cells[3].split(",")}
        rows.append((states, int(cells[1], 16), int(cells[2]), sent))
    return rows


def allowed_by(line, rows):
    """The index of the row that allows a difference line, or None."""
    m = _VALUE.match(line)
    if m:
        key = m.group(4)
    else:
        m = _CHANGE.match(line)
        if not m:
            return None
        key = "%s -> %s" % (m.group(4), m.group(5))
    state, can_id, byte = m.group(1), int(m.group(2), 16), int(m.group(3))
    for i, (states, i_id, i_byte, sent) in enumerate(rows):
        if state in states and can_id == i_id and byte == i_byte and key in sent:
            return i
    return None


@pytest.fixture(scope="module")
def differences(tmp_path_factory):
    """{scenario name: [difference lines]} for every shipped scenario against the e-NV200."""
    ref = C.load_reference(C.DEFAULT_REFERENCE)
    out = {}
    d = tmp_path_factory.mktemp("conformance")
    for path in SCENARIOS:
        name = os.path.basename(path)
        log = str(d / (name + ".log"))
        code, _ = sim.run_scenario(path, log, None, True, echo=lambda *a: None)
        assert code == 0, name
        lines = C.compare(C.observe(check.read_log(log)), ref, {CAR})
        out[name] = [ln for ln in lines if "not judged" not in ln]
    return out


def test_the_table_parses():
    rows = deviations()
    assert len(rows) >= 10
    for states, can_id, byte, sent in rows:
        assert states <= set(C.STATES), states
        assert can_id in C.BYTES and byte in C.BYTES[can_id], (hex(can_id), byte)


def test_every_scenario_conforms_but_for_the_documented_deviations(differences):
    rows = deviations()
    unexplained = ["%s: %s" % (name, ln) for name, lines in differences.items() for ln in lines
                   if allowed_by(ln, rows) is None]
    assert unexplained == []


def test_every_documented_deviation_is_still_needed(differences):
    rows = deviations()
    used = {allowed_by(ln, rows) for lines in differences.values() for ln in lines}
    unused = [rows[i] for i in range(len(rows)) if i not in used]
    assert unused == []


def test_a_difference_outside_the_table_is_caught():
    rows = deviations()
    assert allowed_by("ready     11A byte 0: sent 0E (10 frames, from 1.00 s); real cars send 10 (env200-2015)",
                      rows) is None
    assert allowed_by("wake      11A byte 0: sent 01 (10 frames, from 1.00 s); real cars send 10 (env200-2015)",
                      rows) is not None
    assert allowed_by("shutdown  1D4 byte 4: went 07 -> 03 (1x, first at 4.00 s); real cars go 07 -> 05",
                      rows) is None


def test_check_conformance_runs_conformance_py(tmp_path, capsys):
    # `./run check --conformance` is tools/conformance.py: same lines, same exit status.
    log = str(tmp_path / "demo.log")
    code, _ = sim.run_scenario(os.path.join(REPO, "scenarios", "demo-drive.scn"), log, None, True,
                               echo=lambda *a: None)
    assert code == 0
    a = check.main(["--conformance", "--car", CAR, log])
    out_check = capsys.readouterr().out
    b = C.main(["--car", CAR, log])
    out_conf = capsys.readouterr().out
    assert (a, out_check) == (b, out_conf)
    assert a == 1 and "differences from real cars (env200-2015)" in out_check
    assert check.main(["--conformance", "--car", "nosuchcar", log]) == 2
