"""Reads MicroPython call-frame sizes out of a compiled .mpy (mpy v6), for the tests and the bench.

MicroPython without a pystack (the ESP32 port) gives a Python function its frame on the C stack only when
n_state (arguments + locals + value stack) words plus 3 words per exception-handler level fit in 11 machine words
(py/objfun.c VM_MAX_STATE_ON_STACK); a bigger frame is taken from the heap and freed at EVERY call. The
WebAssembly build the cross tests run on has a pystack, so gc.mem_alloc() there cannot see this: this reads
n_state from the compiled .mpy instead (the bytecode prelude signature of every raw code).
"""

import os
import subprocess
import tempfile

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


def words(n_state, n_exc):
    """Machine words a call frame takes: n_state plus EXC_STACK_WORDS per exception-handler level."""
    return n_state + EXC_STACK_WORDS * n_exc


def compile_frames(source, mpy_cross):
    """mpy_frames() of `source` compiled by the mpy-cross binary at `mpy_cross`."""
    with tempfile.TemporaryDirectory() as tmp:
        dest = os.path.join(tmp, "m.mpy")
        subprocess.run([mpy_cross, "-o", dest, source], check=True, timeout=120)
        with open(dest, "rb") as f:
            return mpy_frames(f.read())
