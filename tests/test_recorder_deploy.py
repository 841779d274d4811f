"""`tools/deploy.py recorder pull` against the virtual board (tools/vboard.py: real MicroPython running the firmware
from its flash): a recording the simulator's board left is put on the virtual board's flash, the running
controller lists it on its console (`rec`), and recorder pull fetches it as the candump -L log, CSV and PNG the
simulator writes for the same recording. The controller runs again afterwards."""

import os
import shutil
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))
sys.path.insert(0, os.path.join(REPO, "tests"))

import sim  # noqa: E402
from test_deploy import FAST, assert_running, console, copy_firmware, run_deploy  # noqa: E402
from vboard import VirtualBoard  # noqa: E402

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None
    or not os.path.isdir(os.path.join(REPO, "node_modules", "@micropython", "micropython-webassembly-pyscript")),
    reason="the virtual board needs node and node_modules (./run sets them up)")


def test_recorder_pull_fetches_what_the_board_recorded(tmp_path):
    code, world = sim.run_scenario(os.path.join(REPO, "scenarios", "fault-can-loss.scn"), quiet=True,
                                   recorder=str(tmp_path / "sim"))
    assert code == 0
    # the virtual board's flash: the firmware as .py files, and the simulated board's recording
    flash = tmp_path / "flash"
    fw = copy_firmware(tmp_path / "fw")
    shutil.copytree(fw, flash)
    shutil.copy(os.path.join(world.flash_dir, "rec0.bin"), flash / "rec3.bin")
    with VirtualBoard(flash) as vb:
        vb.wait_log("leafvcu")
        reply = console(vb, "rec")
        reply = reply[[k for k, ln in enumerate(reply) if ln.startswith("recorder:")][0]:]
        assert reply[0].startswith("recorder: recording; window 8192 records (128 KB)"), reply
        assert len(reply) == 2 and reply[1].startswith("#1 boot 0 t=") and "inverter_can_lost a=110 b=100" in reply[1] \
            and "8192 records, 129 KB (/rec3.bin)" in reply[1], reply
        out = tmp_path / "pulled"
        r = run_deploy("--port", vb.port, *FAST, "recorder", "pull", str(out))
        assert r.returncode == 0, r.out
        assert "rec0001-inverter_can_lost: inverter_can_lost a=110 b=100" in r.out
        assert_running(vb)
        # `rec clear` on the running board, then nothing to pull
        assert console(vb, "rec clear") == ["OK, 1 removed"]
        r2 = run_deploy("--port", vb.port, *FAST, "recorder", "pull", str(tmp_path / "none"))
        assert r2.returncode == 0 and "no recordings on the board" in r2.out, r2.out
    names = sorted(os.listdir(out))
    assert names == sorted(os.listdir(tmp_path / "sim"))
    for n in names:
        if n.endswith((".csv", ".log")):
            # the same recording: the simulator's export puts it on its bus log's clock, the board's on its own
            a = (out / n).read_text().splitlines()
            b = (tmp_path / "sim" / n).read_text().splitlines()
            assert len(a) == len(b)
            assert [x.split(" ", 1)[1] if x.startswith("(") else x.split(",", 1)[-1] for x in a] == \
                [x.split(" ", 1)[1] if x.startswith("(") else x.split(",", 1)[-1] for x in b]
