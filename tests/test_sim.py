"""The simulator (tools/sim.py): every shipped scenario runs and holds its expectations, its bus log passes the
protocol checker, the command line's exit codes and messages, the demo's outputs, and a piped console session."""

import glob
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))

import check  # noqa: E402
import sim  # noqa: E402

from leafvcu import frames as fr  # noqa: E402

TX_IDS = [i for i, info in fr.ID_INFO.items() if info[fr.I_DIR] == "tx"]
SCENARIOS = sorted(glob.glob(os.path.join(REPO, "scenarios", "*.scn")))


def test_scenarios_are_shipped():
    names = [os.path.basename(p) for p in SCENARIOS]
    assert any("demo" in n for n in names)
    assert len(names) >= 15


@pytest.mark.parametrize("path", SCENARIOS, ids=[os.path.basename(p) for p in SCENARIOS])
def test_scenario_holds_and_its_bus_log_passes_the_checker(path):
    lines = []
    code, world = sim.run_scenario(path, quiet=True, echo=lines.append)
    assert code == 0, "\n".join(lines)
    report = check.check_frames(check.frames_from_bus_log(world.bus.log))
    # What the controller sends is always right; the inverter's or PDM's frames break the protocol only where
    # the scenario injects exactly that (a frozen counter, a bad CRC).
    ours = [p for p in report.problems if p[2] in TX_IDS]
    reset = []
    if world.boots > 1:
        # The board reset on the way (stall-watchdog: a pause past the watchdog): it boots again with its counters
        # at their start-up values, as a real VCM does, after a silence the checker sees.
        reset = [p for p in ours if "since the previous frame" in p[3]]
        ours = [p for p in ours if p not in reset]
    assert not ours, "\n".join(report.lines(os.path.basename(path)))
    injected = open(path).read()
    if not any(k in injected for k in ("inverter_frozen", "inverter_bad_crc", "can_bus_error")):
        assert report.violations == len(reset), "\n".join(report.lines(os.path.basename(path)))
    assert report.frames > 100


def _cli(args, stdin=None, timeout=300):
    return subprocess.run([sys.executable, os.path.join(REPO, "tools", "sim.py")] + args, input=stdin,
                          capture_output=True, text=True, timeout=timeout, cwd=REPO)


def test_demo_writes_log_and_plot_and_says_where(tmp_path):
    r = _cli(["demo", "--out", str(tmp_path)])
    assert r.returncode == 0, r.stdout + r.stderr
    log = tmp_path / "demo-drive.log"
    png = tmp_path / "demo-drive.png"
    assert str(log) in r.stdout and str(png) in r.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "0 violations" in r.stdout
    first = log.read_text().splitlines()[0]
    assert first.startswith("(") and " can0 " in first and "#" in first


def test_failed_expectation_exits_1_naming_line_and_time(tmp_path):
    scn = tmp_path / "bad.scn"
    scn.write_text("0.5 ignition on\n1.0 direction forward\nexpect mode drive by 1.5\n3 end\n")
    r = _cli(["run", str(scn), "--quiet"])
    assert r.returncode == 1
    assert "bad.scn:3: FAILED at 1.50 s simulated: expected mode drive by 1.5s" in r.stdout


def test_malformed_scenario_exits_2_naming_file_and_line(tmp_path):
    scn = tmp_path / "broken.scn"
    scn.write_text("0.5 ignition on\n1.0 warp drive\n3 end\n")
    r = _cli(["run", str(scn)])
    assert r.returncode == 2
    assert "broken.scn:2:" in r.stdout
    r = _cli(["run", str(tmp_path / "missing.scn")])
    assert r.returncode == 2 and "cannot read scenario" in r.stdout


def test_piped_console_session(tmp_path):
    session = "status\n.ignition on\n.wait 3\nstatus\nset maxtrq 900\nget maxtrq\n"
    r = _cli(["--flash", str(tmp_path / "flash")], stdin=session, timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0].startswith("mode=off")
    assert any(l.startswith("mode=ready hv=on") for l in out)
    assert "value 900 out of range 0..500 Nm" in out
    assert out[-1] == "250"


def _session(tmp_path, stdin):
    """A piped console session through the command line, as `printf ... | ./run sim` (stdin as bytes)."""
    r = subprocess.run([sys.executable, os.path.join(REPO, "tools", "sim.py"), "--flash", str(tmp_path / "flash")],
                       input=stdin, capture_output=True, timeout=300, cwd=REPO)
    assert "Traceback" not in r.stderr.decode(errors="replace"), r.stderr.decode(errors="replace")
    return r.returncode, r.stdout.decode("ascii").splitlines()


def _t(status_line):
    # the simulated time in a `.status` line: "t=   1.20s  off ..."
    assert status_line.startswith("t="), status_line
    return float(status_line[2:].split("s")[0])


def test_console_reset_reboots_the_simulated_board(tmp_path):
    # The board's `reset`: the firmware starts again on the same car, with the parameters of its flash (200, saved),
    # not those it had in RAM (100, unsaved), and drives the car as before.
    session = (b"set maxtrq 200\nsave\nset maxtrq 100\nget maxtrq\nreset\nget maxtrq\n"
               b".ignition on\n.wait 3\nstatus\n")
    code, out = _session(tmp_path, session)
    assert code == 0
    assert out[:4] == ["OK", "OK", "OK", "100"]
    assert out[4] == "OK, resetting"
    assert out[5].startswith("simulator: the board reset (machine.reset()) at 0.5") and "boot 2" in out[5], out
    assert out[6] == "200"
    assert out[-1].startswith("mode=ready hv=on"), out


def test_reset_in_a_scenario_reboots_and_the_run_goes_on(tmp_path, capsys):
    scn = tmp_path / "reset.scn"
    scn.write_text("0.1 type set maxtrq 200\n0.2 type save\n0.3 type reset\n0.4 type get maxtrq\n"
                   "0.5 ignition on\nexpect mode ready by 3\n3 end\n")
    assert sim.main(["run", str(scn)]) == 0
    out = capsys.readouterr().out
    assert "0.30s  > reset: simulator: the board reset (machine.reset())" in out
    assert "0.40s  > get maxtrq: 200" in out
    assert "1 expectations held, 0 failed" in out


def test_piped_bad_bytes_and_waits_are_one_line_errors_that_change_nothing(tmp_path):
    bad_waits = [b".wait nan", b".wait inf", b".wait -inf", b".wait -1", b".wait 1e308", b".wait 0x10",
                 b".wait", b".wait 1 2", b".wait \xff"]
    session = b"\n".join([b".status", b"\xff", b"set maxtrq \xff"] + bad_waits + [b".pedal \xff", b".status",
                                                                                  b"get maxtrq", b""])
    code, out = _session(tmp_path, session)
    assert code == 0
    assert len(out) == 2 + 2 + len(bad_waits) + 1 + 1, out  # one line per line typed
    assert "non-ASCII" in out[1] and "non-ASCII" in out[2]  # the firmware's console refuses the line
    usage = "usage: .wait SECONDS (a number from 0 to 1000000)"
    assert out[3:3 + len(bad_waits) - 1] == [usage] * (len(bad_waits) - 1)
    assert out[3 + len(bad_waits) - 1] == "simulator: line ignored: non-ASCII bytes in it"
    assert out[-3] == "simulator: line ignored: non-ASCII bytes in it"
    # Nothing ran the clock but the 100 ms after each line; nothing changed the parameter.
    typed = 3 + len(bad_waits) + 1
    assert _t(out[-2]) == pytest.approx(_t(out[0]) + 0.1 * typed)
    assert out[-1] == "250"


def test_piped_stream_lines_show_during_a_wait(tmp_path):
    code, out = _session(tmp_path, b"stream 100 udc,mode\n.wait 1\nstatus\n")
    assert code == 0
    # A line every 100 ms: in the 100 ms after the stream line and the 1 s of the .wait, then the .wait's status
    # line, one more in the 100 ms after it; `status` stops the stream (any byte does, on the board).
    assert out[:11] == ["0,off"] * 11, out
    assert out[11].startswith("t=   1.20s  off"), out
    assert out[12:] == ["0,off", out[13]] and out[13].startswith("mode=off"), out
