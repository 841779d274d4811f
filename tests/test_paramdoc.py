"""The docs say what the firmware does: the parameter reference in docs/tuning.md is exactly what tools/paramdoc.py
generates from params.TABLE, and the example console session there is what the console really answers, replayed
here against the stand-in app (tests/cross/console_rig.py)."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "cross"))
sys.path.insert(0, os.path.join(REPO, "tools"))

import paramdoc  # noqa: E402
from leafvcu import vcm as V  # noqa: E402
from leafvcu.params import TABLE, P_NAME  # noqa: E402

TUNING = os.path.join(REPO, "docs", "tuning.md")
SESSION = ("<!-- session:begin -->", "<!-- session:end -->")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# --- the parameter reference ----------------------------------------------------------------------------------
def test_table_has_every_parameter():
    out = paramdoc.params_table()
    lines = out.splitlines()
    assert len(lines) == len(TABLE) + 2
    for r, ln in zip(TABLE, lines[2:]):
        assert ln.startswith("| %d | `%s` |" % (r[0], r[P_NAME]))
        assert ln.count("|") == 9 + ln.count("\\|")
    assert "| 60 | `maxtrq` | Nm | 0 | 500 | 250 |  | motor torque at full pedal" in out
    assert "| 7 | `negcon` | 0=Absent, 1=Present | 0 | 1 | 0 | yes |" in out


def test_tool_runs_as_a_script():
    run = subprocess.run([sys.executable, os.path.join(REPO, "tools", "paramdoc.py")], capture_output=True,
                         text=True, check=True)
    assert run.stdout == paramdoc.params_table()


def test_write_then_check(tmp_path):
    f = tmp_path / "x.md"
    f.write_text("# x\n\n<!-- params:begin -->\nstale\n<!-- params:end -->\n\n<!-- live:begin -->\n<!-- live:end -->\n")
    assert paramdoc.main(["--check", str(f)]) == 1
    assert paramdoc.main(["--write", str(f)]) == 0
    assert paramdoc.main(["--check", str(f)]) == 0
    text = f.read_text()
    assert text.startswith("# x\n\n<!-- params:begin -->\n| id | name |")
    assert paramdoc.live_table() in text
    f.write_text("no markers\n")
    assert paramdoc.main(["--check", str(f)]) == 1


def test_tuning_page_parameter_reference():
    text = read(TUNING)
    got = paramdoc.between(text, "params")
    assert got is not None, "docs/tuning.md has lost its <!-- params:begin --> / <!-- params:end --> markers"
    assert got.strip() == paramdoc.params_table().strip(), "run ./run python tools/paramdoc.py --write docs/tuning.md"
    live = paramdoc.between(text, "live")
    if live is not None:
        assert live.strip() == paramdoc.live_table().strip()


# --- the example session ----------------------------------------------------------------------------------------
# What the comment lines of a session transcript do before the next typed line: f(term) -> console output lines.
def _key_on(t):
    t.app.rig.to_ready()
    return []


def _drive(t):
    # D engaged, then the pedal at 30 % for 300 ms; the console task polls every 10 ms meanwhile
    rig = t.app.rig
    rig.inp.fwd = True
    rig.step()
    rig.set_pedal(300)
    del t.out[:]
    for _ in range(30):
        rig.step()
        t.con.poll(rig.t)
    return "".join(t.out).split("\r\n")[:-1]


def _enter(t):
    assert t.type("\r") == ""
    return []


def _unplug(t):
    t.app.rig.talk = False
    t.app.rig.step(50)
    return []


def _key_off(t):
    rig = t.app.rig
    rig.key(False)
    rig.talk = True
    rig.step(300)
    assert rig.vcm.mode == V.OFF
    return []


ACTIONS = {
    "# key on: precharge, then READY (HV on)": _key_on,
    "# D engaged, pedal at 30 %, 300 ms of driving:": _drive,
    "# Enter stops the stream": _enter,
    "# the inverter's CAN plug is pulled": _unplug,
    "# key off (a key cycle clears the latched fault)": _key_off,
}


def replay(transcript_lines, record=False):
    """Types each "> " line into a console on a fresh stand-in app and runs the action lines ("# ...");
    returns the transcript that makes (typed lines, replies, action lines). Other lines (the expected output)
    are skipped: replay(doc) == doc means the doc shows real output."""
    from console_rig import Term

    t = Term()
    out = []
    for ln in transcript_lines:
        if ln.startswith("> "):
            out.append(ln)
            out.extend(t.lines(ln[2:]))
        elif ln.startswith("#"):
            if ln not in ACTIONS:
                raise AssertionError("unknown action line in the session: %r (tests/test_paramdoc.py ACTIONS)" % ln)
            out.append(ln)
            out.extend(ACTIONS[ln](t))
    return out


def sessions():
    found = []
    for path in (TUNING,):
        text = read(path)
        i = text.find(SESSION[0])
        j = text.find(SESSION[1])
        if i >= 0 and j > i:
            block = text[i + len(SESSION[0]):j]
            lines = [ln for ln in block.splitlines() if ln and not ln.startswith("```")]
            found.append((path, lines))
    return found


def test_example_session_is_real_output():
    found = sessions()
    assert found, "docs/tuning.md has lost its <!-- session:begin --> / <!-- session:end --> block"
    for path, lines in found:
        assert replay(lines) == lines, path


if __name__ == "__main__":
    # Prints the transcript for the lines given on stdin ("> command" and action comments).
    for ln in replay([x.rstrip("\n") for x in sys.stdin], record=True):
        print(ln)
