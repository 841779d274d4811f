"""Properties of the serial console (CPython, hypothesis): whatever is typed, no exception escapes, and parameters
change only through a valid `set` (or `defaults`) line, exactly as that line says.

The stand-in app is tests/cross/console_rig.App (real Params / Vcm / Settings on an in-memory file system).
The oracle below decides "valid set" on its own terms (a regular expression for whole numbers, the table for
names, ranges and HV locks) rather than by calling the code under test.
"""

import os
import re
import sys

from hypothesis import assume, given, settings, strategies as st

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "cross"))

from console_rig import App, Term  # noqa: E402
from leafvcu import console as C  # noqa: E402
from leafvcu.params import EXCLUDES, TABLE, P_NAME, P_MIN, P_MAX, P_DEF, P_LOCK, row  # noqa: E402

NAMES = [r[P_NAME] for r in TABLE]
LIVE = [r[C.L_NAME] for r in C.LIVE]
WHOLE = re.compile(r"^[+-]?(0[xX][0-9a-fA-F]+|0[bB][01]+|[0-9]+)$")
PRINTABLE = "".join(chr(c) for c in range(32, 127))

# A tuned, non-default starting point, so that an unexpected `defaults` or load would show.
TUNED = {"maxtrq": 200, "udcnom": 355, "negcon": 1, "tinvst": -40, "potdb": 7}

SETTINGS = settings(max_examples=300)  # the rest from the suite's profile (tests/conftest.py)


def snapshot(p):
    return {n: getattr(p, n) for n in NAMES}


def whole(text):
    if not WHOLE.match(text):
        return None
    t = text.lower()
    neg = t.startswith("-")
    t = t.lstrip("+-")
    v = int(t[2:], 16) if t.startswith("0x") else int(t[2:], 2) if t.startswith("0b") else int(t, 10)
    return -v if neg else v


def oracle(line, vals, hv_on):
    """What one (ASCII, line-end free) line must do to the parameter values: a new dict, or vals itself."""
    w = line.split()
    if not w:
        return vals
    cmd = w[0].lower()
    if cmd == "defaults" and len(w) == 1 and not hv_on:
        return {r[P_NAME]: r[P_DEF] for r in TABLE}
    if cmd != "set" or len(w) != 3:
        return vals
    r = row(w[1].lower())
    v = whole(w[2])
    if r is None or v is None or not r[P_MIN] <= v <= r[P_MAX]:
        return vals
    if hv_on and r[P_LOCK] and v != vals[r[P_NAME]]:
        return vals
    out = dict(vals)
    out[r[P_NAME]] = v
    return out


def fresh(hv_on=False):
    t = Term(App())
    for k, v in TUNED.items():
        assert t.app.params.set(k, v) is None
    t.app.vcm.hv_lock = hv_on  # the flag the console reads (the lock itself is tested at the wire)
    return t


# --- strategies -------------------------------------------------------------------------------------------------
def cased(s):
    return st.lists(st.booleans(), min_size=len(s), max_size=len(s)).map(
        lambda up: "".join(c.upper() if u else c for c, u in zip(s, up)))


names = st.one_of(st.sampled_from(NAMES), st.sampled_from(LIVE), st.text(PRINTABLE.replace(" ", ""), min_size=1,
                                                                               max_size=10)).flatmap(cased)
# Tokens that put signs, prefixes and digits in every order ("-0x-5", "0x+5", "+-7", "0b", "x0", "0x_f").
value_tokens = st.lists(st.sampled_from(["+", "-", "0x", "0X", "0b", "0B", "0", "1", "7", "f", "A", "_"]),
                        min_size=1, max_size=5).map("".join)
ints = st.one_of(st.integers(-70000, 70000), st.integers(-(1 << 40), 1 << 40))
values = st.one_of(
    ints.map(str),
    ints.map(lambda v: ("-" if v < 0 else "") + "0x%x" % abs(v)),
    ints.map(lambda v: ("+" if v >= 0 else "-") + "0b{:b}".format(abs(v))),
    ints.map(lambda v: "%d.5" % v),
    ints.map(lambda v: "%d_0" % v),
    value_tokens,
    st.text("+-0123456789abcdefABCDEFxXbB_", min_size=1, max_size=8),
    st.text(PRINTABLE.replace(" ", ""), min_size=1, max_size=8),
)
spaces = st.text(" \t", min_size=1, max_size=3)


@st.composite
def set_lines(draw):
    parts = [draw(cased("set")), draw(names), draw(values)]
    if draw(st.integers(0, 9)) == 0:
        parts.append(draw(values))
    if draw(st.integers(0, 9)) == 0:
        parts.pop(draw(st.integers(1, 2)))
    out = draw(st.text(" ", max_size=2))
    for p in parts:
        out += p + draw(spaces)
    return out


command_lines = st.one_of(
    set_lines(),
    st.sampled_from(["get maxtrq", "get udc,mode", "list", "status", "errors", "json", "json full", "stats",
                     "help", "help maxtrq", "defaults", "defaults x", "clear", "reset", "save", "load", "",
                     "   "]),
    st.text(PRINTABLE, max_size=40),
)


# --- properties -------------------------------------------------------------------------------------------------
@SETTINGS
@given(line=command_lines, hv_on=st.booleans())
def test_one_line_does_exactly_what_the_oracle_says(line, hv_on):
    assume(len(line) <= C.MAX_LINE)
    assume(line.split()[:1] != ["stream"])
    t = fresh(hv_on)
    before = snapshot(t.app.params)
    out = t.type(line + "\r")  # (`load`: nothing saved on this fresh file system, so nothing changes)
    after = snapshot(t.app.params)
    assert after == oracle(line, before, hv_on), (line, out)
    assert out == "" or out.endswith("\r\n")
    w = line.split()
    if w and w[0].lower() == "set" and len(w) == 3 and row(w[1].lower()) is not None:
        v = whole(w[2])
        r = row(w[1].lower())
        if v is None:
            assert out == "value %s is not a whole number\r\n" % w[2], out
        elif not r[P_MIN] <= v <= r[P_MAX]:
            assert out.startswith("value %d out of range %d..%d" % (v, r[P_MIN], r[P_MAX])), out
        elif hv_on and r[P_LOCK] and v != before[r[P_NAME]]:
            assert out == "cannot change %s while HV is on\r\n" % r[P_NAME], out
        else:
            assert out == "OK\r\n", out


@SETTINGS
@given(name=st.sampled_from(NAMES), text=st.one_of(value_tokens, st.text("+-0123456789abcdefABCDEFxXbB_",
                                                                           min_size=1, max_size=6)))
def test_set_values_follow_the_grammar(name, text):
    # Every example a valid name, so every value token reaches the number parser: accepted exactly when the
    # grammar of docs/tuning.md (the oracle's WHOLE) says it is a whole number.
    t = fresh()
    before = snapshot(t.app.params)
    out = t.type("set %s %s\r" % (name, text))
    assert snapshot(t.app.params) == oracle("set %s %s" % (name, text), before, False), (text, out)
    if whole(text) is None:
        assert out == "value %s is not a whole number\r\n" % text, (text, out)


def _clashes(params, name, v):
    # True when name = v and a present setting are a pair of EXCLUDES (either way round)
    for a, va, b, vb, _ in EXCLUDES:
        if (name, v, getattr(params, b)) == (a, va, vb) or (name, v, getattr(params, a)) == (b, vb, va):
            return True
    return False


@SETTINGS
@given(name=st.sampled_from(NAMES), data=st.data(), hv_on=st.booleans())
def test_valid_set_lines(name, data, hv_on):
    r = row(name)
    lo, hi = r[P_MIN], r[P_MAX]
    v = data.draw(st.one_of(st.integers(lo, hi), st.integers(lo - 1000, lo - 1), st.integers(hi + 1, hi + 1000),
                            st.sampled_from([lo, hi, lo - 1, hi + 1])))
    text = data.draw(st.sampled_from(["%d", "0x%x", "%+d"])) % v if v >= 0 else "%d" % v
    t = fresh(hv_on)
    before = getattr(t.app.params, name)
    out = t.type("set %s %s\r" % (name, text))
    if not lo <= v <= hi:
        assert out == "value %d out of range %s\r\n" % (v, C.P.range_text(r))
        assert getattr(t.app.params, name) == before
    elif hv_on and r[P_LOCK] and v != before:
        assert out == "cannot change %s while HV is on\r\n" % name
        assert getattr(t.app.params, name) == before
    elif _clashes(t.app.params, name, v):
        # a pair of settings that cannot go on one bus (params.EXCLUDES): refused, named, nothing changed
        assert out.startswith("%s %d does not go with " % (name, v)), out
        assert getattr(t.app.params, name) == before
    else:
        assert out == "OK\r\n"
        assert getattr(t.app.params, name) == v
        assert t.type("get %s\r" % name) == "%d\r\n" % v


@SETTINGS
@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(0, 400), max_size=20), hv_on=st.booleans())
def test_garbage_bytes(data, cuts, hv_on):
    low = data.lower()
    t = fresh(hv_on)
    before = snapshot(t.app.params)
    pieces = []
    last = 0
    for c in sorted(set(cuts)) + [len(data)]:
        c = min(c, len(data))
        pieces.append(data[last:c])
        last = max(last, c)
    for p in pieces:
        t.con.feed_all(p)  # no exception escapes
    out = "".join(t.out)
    assert all(ord(c) < 128 for c in out)
    if b"set" not in low and b"defaults" not in low and b"load" not in low:
        assert snapshot(t.app.params) == before
    # the same bytes in one piece, or one at a time, do the same
    t2 = fresh(hv_on)
    for b in data:
        t2.con.feed_all(bytes([b]))
    assert "".join(t2.out) == out
    assert snapshot(t2.app.params) == snapshot(t.app.params)


@SETTINGS
@given(lines=st.lists(command_lines, max_size=12), ends=st.data(), hv_on=st.booleans())
def test_sessions_any_chunking(lines, ends, hv_on):
    # A session of lines, typed with random line ends and cut into random chunks, fed the way the shell's
    # reader and console tasks do (feed() passing the rest on; poll() while busy): the parameters end as the
    # oracle says.
    lines = [ln for ln in lines if len(ln) <= C.MAX_LINE and ln.split()[:1] not in (["stream"], ["load"])]
    t = fresh(hv_on)
    expect = snapshot(t.app.params)
    data = b""
    for ln in lines:
        expect = oracle(ln, expect, hv_on)
        data += ln.encode() + ends.draw(st.sampled_from([b"\r", b"\n", b"\r\n"]))
    cuts = sorted(ends.draw(st.lists(st.integers(0, len(data)), max_size=10)))
    pos = 0
    pending = b""
    for c in cuts + [len(data)]:
        pending += data[pos:c]
        pos = max(pos, c)
        while pending:
            n = t.con.feed(pending)
            assert 0 <= n <= len(pending)
            if n == 0:  # a long reply still being written: the console task polls it out
                assert t.con.busy
                while t.con.poll(t.app.now_ms()):
                    pass
            pending = pending[n:]
    assert snapshot(t.app.params) == expect
