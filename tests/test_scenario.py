"""The scenario file format (tools/scenario.py): every shipped scenario parses, the grammar's corners, malformed
files fail with the file and line named, and the expectation tracker's at / by / until semantics."""

import glob
import os

import pytest

import scenario as S
from fakes import plant as P
from leafvcu import faults as F
from leafvcu import vcm as V

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = sorted(glob.glob(os.path.join(REPO, "scenarios", "*.scn")))

# Controller faults the plant can provoke; each needs a shipped scenario that expects it.
PLANT_FAULTS = (F.PC_TIMEOUT, F.PC_FAST, F.PC_CHARGED, F.PC_INVALID, F.DC_COLLAPSE, F.DC_INVALID, F.CAN_LOSS,
                F.INV_ERROR, F.PEDAL_RANGE, F.PEDAL_PLAUS)


@pytest.mark.parametrize("path", SHIPPED, ids=[os.path.basename(p) for p in SHIPPED])
def test_shipped_scenario_parses(path):
    sc = S.load(path)
    assert sc.end > 0
    assert sc.expects, "a scenario without expectations checks nothing"
    assert sc.actions[-1].action == "end"
    for e in sc.expects:
        assert e.t_us <= e.deadline_us <= sc.end_us


def test_shipped_set():
    names = [os.path.basename(p) for p in SHIPPED]
    assert any("demo" in n for n in names)
    expected = set()
    for p in SHIPPED:
        expected |= {e.code for e in S.load(p).expects if e.what == "fault"}
    missing = [F.name(c) for c in PLANT_FAULTS if c not in expected]
    assert not missing, "no scenario expects %s" % missing
    assert any("reverse" in n for n in names)


def test_demo_is_about_a_minute_and_checks_the_protocol():
    sc = S.load([p for p in SHIPPED if "demo" in os.path.basename(p)][0])
    assert 40 <= sc.end <= 120
    whole = [e for e in sc.expects if e.kind == "until" and e.t_us == 0 and e.deadline_us == sc.end_us]
    assert {e.what for e in whole} >= {"nofault", "signal"}
    assert any(e.name == "violations" for e in whole)


def test_grammar():
    text = """
    # comment line
    0.5   ignition on          # trailing comment
    0.5s  direction Forward
    expect mode DRIVE by 3.5
    +1    pedal 40 % over 2s
    +0.5  brake off
    3     inject inverter_error 0x40
    3     inject dc_collapse 120.5
    3     inject can_loss
    4     restore can_loss
    5     type set MaxTrq 100
    5     expect fault can_loss
    5     expect fault inverter_can_lost by +1
    6     expect speed >= -3.5 until 7
    6     expect nofault by 8
    6     expect no fault by 8
    6     expect udc = 380 until end
    9     end
    """
    sc = S.parse(text, "g.scn")
    acts = [(a.time, a.action, a.args) for a in sc.actions]
    assert acts == [
        (0.5, "ignition", (True,)),
        (0.5, "direction", (1,)),
        (1.5, "pedal", (40.0, 2.0)),
        (2.0, "brake", (False,)),
        (3.0, "inject", ("inverter_error", 64.0)),
        (3.0, "inject", ("dc_collapse", 120.5)),
        (3.0, "inject", ("can_loss", None)),
        (4.0, "restore", ("can_loss",)),
        (5.0, "type", ("set MaxTrq 100",)),  # the console line keeps its case
        (9.0, "end", ()),
    ]
    ex = sc.expects
    assert (ex[0].kind, ex[0].what, ex[0].code, ex[0].t_us, ex[0].deadline_us) == ("by", "mode", V.DRIVE,
                                                                                   500000, 3500000)
    assert (ex[1].kind, ex[1].code, ex[1].name, ex[1].deadline) == ("at", F.CAN_LOSS, "CAN_LOSS", 5.0)
    assert (ex[2].kind, ex[2].code, ex[2].deadline) == ("by", F.CAN_LOSS, 6.0)
    assert (ex[3].what, ex[3].name, ex[3].op, ex[3].value, ex[3].kind) == ("signal", "speed", ">=", -3.5, "until")
    assert ex[4].what == ex[5].what == "nofault"
    assert (ex[6].op, ex[6].deadline) == ("==", 9.0)
    assert "mode drive by 3.5s" in ex[0].describe()


def test_every_mode_and_fault_spelling_is_accepted():
    for m in V.MODE_NAMES:
        assert S.parse("1 expect mode %s\n2 end" % m.upper()).expects[0].code == V.MODE_NAMES.index(m)
    for code in F.LATCHING:
        for spelling in (S.FAULT_NAMES[code], F.NAMES[code]):
            assert S.parse("1 expect fault %s\n2 end" % spelling).expects[0].code == code
    assert S.FAULT_NAMES[F.PDM_AC] == "PDM_AC"  # not LOG_SIZE, which shares its value


def test_every_injection_and_signal_name_is_accepted():
    for name in P.INJECTIONS:
        restore = "" if name in P.ONE_SHOT else "1 restore %s\n" % name  # (a stall ends by itself)
        assert S.parse("1 inject %s\n%s2 end" % (name, restore)).actions[0].args[0] == name
    for name in P.SIGNALS:
        assert S.parse("1 expect %s > 0\n2 end" % name).expects[0].name == name


BAD = [
    ("0.5 ignition maybe\n1 end", 1, "on or off"),
    ("0.5 fly away\n1 end", 1, "unknown action"),
    ("2 ignition on\n1 ignition off\n3 end", 2, "time goes backwards"),
    ("1 expect mode flying\n2 end", 1, "unknown mode"),
    ("1 expect fault NOPE\n2 end", 1, "unknown fault"),
    ("1.2.3 ignition on\n2 end", 1, "bad time"),
    ("-1 ignition on\n2 end", 1, "unknown action"),
    ("+x ignition on\n2 end", 1, "bad relative time"),
    ("1 pedal 140%\n2 end", 1, "bad pedal position"),
    ("1 pedal lots\n2 end", 1, "bad pedal position"),
    ("1 pedal 40% over\n2 end", 1, "over SECONDS"),
    ("1 pedal 40% over -2\n2 end", 1, "bad ramp time"),
    ("1 inject no_such_thing\n2 end", 1, "unknown injection"),
    ("1 inject can_loss 5\n2 end", 1, "takes no value"),
    ("1 inject dc_collapse lots\n2 end", 1, "bad value"),
    ("1 restore\n2 end", 1, "injection name"),
    ("# header\n\nexpect mode drive\n1 end", 3, "needs `by T`"),
    ("2 ignition on\nexpect mode drive by 1\n3 end", 2, "before the expectation starts"),
    ("1 ignition on\n\n", 2, "no `end`"),
    ("1 end\n2 ignition on", 2, "nothing may follow"),
    ("1 end\n1 end", 2, "nothing may follow"),
    ("1 expect speed >> 3\n2 end", 1, "bad comparison"),
    ("1 expect speed > fast\n2 end", 1, "bad number"),
    ("1 expect speed\n2 end", 1, "takes OP NUMBER"),
    ("1 expect happiness > 3\n2 end", 1, "unknown condition"),
    ("1 expect\n2 end", 1, "needs a condition"),
    ("1 expect mode drive by 5\n2 end", 1, "after `end`"),
    ("1 expect mode drive by end\n2 end", 1, "`by end`"),
    ("1 expect mode drive by 2 3\n4 end", 1, "one time"),
    ("ignition on\n1 end", 1, "needs a time"),
    ("1 type   \n2 end", 1, "needs a console line"),
    ("1 direction sideways\n2 end", 1, "forward, reverse or neutral"),
    ("1 end now", 1, "takes nothing"),
    ("1\n2 end", 1, "a time needs an action"),
    ("1 brake\n2 end", 1, "on or off"),
]


@pytest.mark.parametrize("text, line, words", BAD, ids=[b[2] + " %d" % i for i, b in enumerate(BAD)])
def test_malformed_names_file_and_line(text, line, words):
    with pytest.raises(S.ScenarioError) as info:
        S.parse(text, "bad.scn")
    e = info.value
    assert (e.file, e.line) == ("bad.scn", line)
    assert words in e.message
    assert str(e).startswith("bad.scn:%d: " % line)


def test_load_names_the_path(tmp_path):
    p = tmp_path / "broken.scn"
    p.write_text("0.5 ignition on\n1.0 pedal 40%\n0.7 brake on\n5 end\n")
    with pytest.raises(S.ScenarioError) as info:
        S.load(str(p))
    assert info.value.file == str(p)
    assert info.value.line == 3


def test_cli_exit_codes(tmp_path, capsys):
    good = tmp_path / "good.scn"
    good.write_text("1 ignition on\nexpect mode drive by 3\n4 end\n")
    bad = tmp_path / "bad.scn"
    bad.write_text("1 ignition on\n2 warp 9\n4 end\n")
    assert S.main([str(good)]) == 0
    assert S.main([str(good), str(bad)]) == 2
    out = capsys.readouterr().out
    assert "%s:2: unknown action" % bad in out
    assert S.main([str(tmp_path / "missing.scn")]) == 2


def _track(text, observations):
    """Runs the tracker over (t_s, value) observations; every expectation sees the same value."""
    sc = S.parse(text, "t.scn")
    tr = S.ExpectTracker(sc)
    for t, v in observations:
        tr.update(int(t * 1e6), lambda e, v=v: v)
    tr.finish(sc.end_us, lambda e: None)
    return [e.line for e, _, _ in tr.passed], [e.line for e, _, _ in tr.failed]


def test_tracker_at():
    text = "2 expect speed > 10\n5 end"
    obs = [(t / 10, 0.0) for t in range(0, 20)] + [(2.0, 11.0), (2.1, 0.0)]
    assert _track(text, obs) == ([1], [])
    assert _track(text, [(1.9, 11.0), (2.0, 9.0)]) == ([], [1])
    assert _track(text, [(1.0, 11.0)]) == ([], [1])  # never observed at 2 s: decided at the end, failing


def test_tracker_by():
    text = "1 ignition on\nexpect speed > 10 by 3\n5 end"
    assert _track(text, [(0.5, 20.0), (1.0, 0.0), (2.9, 11.0)]) == ([2], [])  # before the start does not count
    assert _track(text, [(1.0, 0.0), (3.0, 0.0), (3.1, 20.0)]) == ([], [2])
    assert _track(text, [(1.0, 0.0), (2.0, 0.0)]) == ([], [2])  # still open at the end


def test_tracker_until():
    text = "1 expect speed < 10 until 3\n5 end"
    assert _track(text, [(1.0, 0.0), (2.0, 5.0), (3.0, 9.0), (3.5, 50.0)]) == ([1], [])
    assert _track(text, [(1.0, 0.0), (2.0, 50.0), (3.0, 0.0)]) == ([], [1])
    assert _track(text, [(0.5, 50.0), (1.0, 0.0)]) == ([1], [])  # open `until` that held so far: passes at the end


def test_holds_for_each_kind():
    sc = S.parse("1 expect mode drive\n1 expect fault CAN_LOSS\n1 expect nofault\n1 expect rpm != 0\n2 end")
    mode, fault, nofault, sig = sc.expects
    assert mode.holds(V.DRIVE) and not mode.holds(V.READY)
    assert fault.holds(True) and not fault.holds(False)
    assert nofault.holds(False) and not nofault.holds(True)
    assert sig.holds(5) and not sig.holds(0)


# --- files that once ended in a traceback (exit 1) instead of the one-line error and exit 2 -----------------------
# Each runs through the simulator's command line (sim.main, as `./run sim run FILE` does) and tools/scenario.py's.
MALFORMED_FILES = [
    ("huge-time.scn", b"0.5 ignition on\n1e308 end\n", 2, "bad time '1e308'"),
    ("huge-relative.scn", b"0.5 ignition on\n+1e308 ignition off\n2 end\n", 2, "bad relative time '+1e308'"),
    ("huge-ramp.scn", b"0.5 pedal 10 over 1e308\n1 end\n", 1, "bad ramp time '1e308'"),
    ("huge-deadline.scn", b"0.5 ignition on\nexpect mode ready by +1e308\n2 end\n", 2, "bad time '+1e308'"),
    ("huge-number.scn", b"0 expect udc < 1e308 until end\n1 end\n", 1, "bad number '1e308'"),
    ("huge-value.scn", b"0.5 inject overtemp 1e308\n1 end\n", 1, "bad value '1e308'"),
    ("underscore.scn", b"1_0 ignition on\n20 end\n", 1, "bad time '1_0'"),
    ("latin1.scn", b"0.5 ignition on\n1 type set maxtrq 100  # \xe9t\xe9\n2 end\n", 2,
     "not UTF-8 text: byte 0xE9 at column 26"),
    ("binary.scn", b"0.5 ignition on\n\xff\xfe\x00\x01\n2 end\n", 2, "not UTF-8 text: byte 0xFF at column 1"),
    ("bom-inside.scn", b"0.5 ignition on\n\xef\xbb\xbf1 ignition off\n2 end\n", 2, "unknown action"),
]


@pytest.mark.parametrize("name, data, line, words", MALFORMED_FILES, ids=[m[0] for m in MALFORMED_FILES])
def test_malformed_file_is_one_line_and_exit_2(tmp_path, capsys, name, data, line, words):
    import sim

    path = tmp_path / name
    path.write_bytes(data)
    assert sim.main(["run", str(path)]) == 2
    out = capsys.readouterr().out
    assert out.splitlines() == [out.rstrip("\n")], out  # one line
    assert out.startswith("malformed scenario: %s:%d: " % (path, line)) and words in out, out
    assert S.main([str(path)]) == 2
    out = capsys.readouterr().out
    assert out.startswith("%s:%d: " % (path, line)) and words in out and len(out.splitlines()) == 1


def test_a_byte_order_mark_at_the_start_is_accepted(tmp_path, capsys):
    # Editors on Windows (Notepad) save UTF-8 with a BOM; the first word is then still the time.
    import sim

    path = tmp_path / "bom.scn"
    path.write_bytes(b"\xef\xbb\xbf0.5 ignition on\r\n0.5 expect mode off\r\n1 end\r\n")
    sc = S.load(str(path))
    assert [s.action for s in sc.actions] == ["ignition", "end"] and sc.actions[0].time == 0.5
    assert sim.main(["run", str(path), "--quiet"]) == 0
    assert capsys.readouterr().out == ""


def test_largest_time_and_number_still_parse():
    sc = S.parse("%d end" % S.MAX_SECONDS)
    assert sc.end == S.MAX_SECONDS
    assert S.parse("0 expect udc < 1e9 until end\n1 end").expects[0].value == 1e9
    assert S.parse("0 expect udc > -0x10 until end\n1 end").expects[0].value == -16
    for bad in ("1000000.5 end", "nan end", "inf end", "1e400 end"):
        with pytest.raises(S.ScenarioError):
            S.parse(bad)
