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
    assert not ours, "\n".join(report.lines(os.path.basename(path)))
    injected = open(path).read()
    if not any(k in injected for k in ("inverter_frozen", "inverter_bad_crc", "can_bus_error")):
        assert report.violations == 0, "\n".join(report.lines(os.path.basename(path)))
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
