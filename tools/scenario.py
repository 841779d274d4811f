"""Scenario files for the simulator: a small readable format, one action per line (CPython only).

    # demo: key on, drive, stop
    0.5   ignition on
    expect mode drive by 3.5          # from the previous line's time (0.5 s) until 3.5 s
    3.0   pedal 40% over 2            # ramp from where the pedal is to 40 % in 2 s
    +4    pedal 0%                    # 4 s after the previous timed line
    9.0   brake on
    9.0   inject can_loss
    9.5   expect fault CAN_LOSS       # checked at 9.5 s
    10    type set maxtrq 100         # a console line, as typed
    0     expect violations == 0 until end
    20    end

Grammar (whitespace separates words; `#` starts a comment; blank lines are ignored; words are case-insensitive
except the rest of a `type` line):

    line     := [TIME] ACTION                       only `expect` may leave TIME out
    TIME     := SECONDS | SECONDS "s" | "+" SECONDS  absolute, or relative to the previous timed line
    ACTION   := "ignition" ON_OFF
              | "brake" ON_OFF
              | "direction" ("forward" | "reverse" | "neutral")      (also fwd / drive / d, rev / r, n)
              | "pedal" PERCENT ["%"] ["over" SECONDS]               0..100; "40%" and "40 %" both work
              | "plug" ("in" | "out")                                the charge plug (the car's PDM wakes)
              | "inject" NAME [NUMBER]                               NAME from fakes.plant.INJECTIONS; `stall MS`
                                                                     freezes the controller (1..60000 ms)
              | "restore" NAME                                       undoes an inject (not a stall: it ends)
              | "type" REST-OF-LINE                                  a console line (kept as written)
              | "inverter" MODEL ["all"]                             the car's inverter, at time 0 only: aze0
                                                                     (the default), ze1 (110 kW), ze1-160; "all":
                                                                     a ZE1 that wants every keep-alive (fakes/ze1.py)
              | "battery" PACK                                       the car's Leaf battery (when bmsdev 1), at time
                                                                     0 only: leaf (AZE0-era, the default), leaf62 (a
                                                                     2018+ pack: also 1C2, 1ED, 5EB; fakes/bms.py)
              | "expect" COND [WINDOW]
              | "end"                                                the run stops here; exactly one, last
    ON_OFF   := "on" | "off"
    COND     := "mode" MODE                         MODE from leafvcu.vcm.MODE_NAMES (off, precharge, ready, ...)
              | "fault" FAULT                       latched; FAULT a faults.py constant (CAN_LOSS) or its log name
                                                    (inverter_can_lost)
              | "nofault"  | "no" "fault"         nothing latched
              | SIGNAL OP NUMBER                    SIGNAL from fakes.plant.SIGNALS (speed km/h, rpm, udc V, ...);
                                                    OP one of < <= > >= == != (= means ==)
    WINDOW   := "by" T | "until" T | "until" "end"  T: SECONDS[s] or +SECONDS (relative to the line's start)
    NUMBER   := decimal (1.5, -3, 2e3) or hex (0x80), ASCII digits, at most 1e9 in size; SECONDS 0..1e6
The file is UTF-8 text; a byte order mark at its start is accepted (editors on Windows write one).

Expectations. Every expectation has a start (its TIME, or the time of the previous timed line when it has none)
and a deadline:
    at     (TIME, no WINDOW)  must hold at TIME                               deadline = start
    by     eventually: must hold at some observation in [start, deadline]
    until  always: must hold at every observation in [start, deadline]
An executor observes the system regularly (say every 10 ms) and after each observation at time t calls
`ExpectTracker.update(t_us, observe)`; `finish(t_us)` at the end fails what is still open. An `at` expectation
is decided by the first observation at or after its time. Actions and expectations share the clock but not an
order: at a time T the executor observes first (state up to T), then applies the actions of time T.

Errors: parse() raises ScenarioError(file, line, message) for anything malformed (unknown action or name, bad
or out-of-range number, time going backwards, a deadline before its start or after `end`, a missing or second
`end`, anything after `end`; load() also for bytes that are not UTF-8). str(error) is "file:line: message".

Step objects (what an executor loops over):
    Step:    time (float s), t_us (int us), action ("ignition", "brake", "direction", "pedal", "plug", "inject",
             "restore", "type", "end"), args (tuple: ignition/brake/plug (bool,), direction (-1|0|1,), pedal
             (percent, over_s), inject (name, value or None), restore (name,), type (line,), end ()), line, text
    Expect:  action "expect", kind ("at" | "by" | "until"), what ("mode" | "fault" | "nofault" | "signal"),
             name (mode / fault / signal name), code (mode int, fault code, None), op, value (signal tests),
             time / t_us (start), deadline / deadline_us; holds(observed) and describe()
    Scenario: path, steps (every step in file order), actions (Step, time order), expects (Expect), end (s),
             end_us
"""

import os
import re
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (_HERE, os.path.join(os.path.dirname(_HERE), "firmware", "lib")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from leafvcu import faults as _faults  # noqa: E402
from leafvcu import vcm as _vcm  # noqa: E402
from fakes.plant import INJECTIONS, ONE_SHOT, SIGNALS, DIRECTIONS  # noqa: E402

ACTIONS = ("ignition", "brake", "direction", "pedal", "plug", "inject", "restore", "type", "expect", "end",
           "inverter", "battery")
INVERTERS = ("aze0", "ze1", "ze1-160")   # fakes.plant.Plant.set_inverter
BATTERIES = ("leaf", "leaf62")   # fakes.bms.BmsModel.ze1 False / True
OPS = ("<", "<=", ">", ">=", "==", "!=")

MODES = {}
for _i, _n in enumerate(_vcm.MODE_NAMES):
    MODES[_n] = _i



def _fault_constants():
    # code -> the faults.py constant naming it. Several module constants can share a code's value (LOG_SIZE);
    # the code's own constant is the first one defined in the file (the codes open the module).
    try:
        with open(_faults.__file__) as f:
            src = f.read()
    except (OSError, AttributeError, TypeError):
        src = ""
    out = {}
    for k in dir(_faults):
        v = getattr(_faults, k)
        if k.startswith("_") or not k.isupper() or not isinstance(v, int) or v not in _faults.LATCHING:
            continue
        pos = src.find("\n%s = " % k)
        pos = pos if pos >= 0 else len(src)
        if v not in out or pos < out[v][0]:
            out[v] = (pos, k)
    return dict((v, out[v][1]) for v in out)


FAULT_NAMES = _fault_constants()  # code -> canonical name (the faults.py constant, e.g. CAN_LOSS)
FAULTS = {}  # accepted spellings (lower case) -> code: the constant and the log name (inverter_can_lost)
for _v in _faults.LATCHING:
    FAULTS[FAULT_NAMES[_v].lower()] = _v
    FAULTS[_faults.NAMES[_v]] = _v


class ScenarioError(Exception):
    def __init__(self, file, line, message):
        Exception.__init__(self, "%s:%s: %s" % (file, line, message))
        self.file = file
        self.line = line
        self.message = message


class Step:
    def __init__(self, t_us, action, args, line, text):
        self.t_us = t_us
        self.time = t_us / 1e6
        self.action = action
        self.args = args
        self.line = line
        self.text = text

    def __repr__(self):
        return "<Step %.3f %s %r (line %d)>" % (self.time, self.action, self.args, self.line)


class Expect(Step):
    def __init__(self, t_us, kind, what, name, code, op, value, deadline_us, line, text):
        Step.__init__(self, t_us, "expect", (kind, what, name, op, value), line, text)
        self.kind = kind
        self.what = what
        self.name = name
        self.code = code
        self.op = op
        self.value = value
        self.deadline_us = deadline_us  # None until parse() fills in `until end`
        self.deadline = deadline_us / 1e6 if deadline_us is not None else None

    def holds(self, observed):
        """observed: the mode (int) for "mode", whether the fault is latched (bool) for "fault", whether
        anything is latched (bool) for "nofault", the signal's value for "signal"."""
        w = self.what
        if w == "mode":
            return observed == self.code
        if w == "fault":
            return bool(observed)
        if w == "nofault":
            return not observed
        return compare(observed, self.op, self.value)

    def describe(self):
        w = self.what
        if w == "mode":
            c = "mode %s" % self.name
        elif w == "fault":
            c = "fault %s" % self.name
        elif w == "nofault":
            c = "no fault"
        else:
            c = "%s %s %g %s" % (self.name, self.op, self.value, SIGNALS[self.name])
        if self.kind == "at":
            return "%s at %gs" % (c, self.time)
        if self.kind == "by":
            return "%s by %gs" % (c, self.deadline)
        return "%s from %gs until %gs" % (c, self.time, self.deadline)

    def __repr__(self):
        return "<Expect %s (line %d)>" % (self.describe(), self.line)


def compare(a, op, b):
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    if op == "==":
        return a == b
    return a != b


class Scenario:
    def __init__(self, path, steps, end_us):
        self.path = path
        self.steps = steps
        self.actions = [s for s in steps if s.action != "expect"]
        self.actions.sort(key=lambda s: s.t_us)  # stable: file order within a time
        self.expects = [s for s in steps if s.action == "expect"]
        self.end_us = end_us
        self.end = end_us / 1e6

    def __repr__(self):
        return "<Scenario %s: %d actions, %d expectations, end %gs>" % (
            self.path, len(self.actions), len(self.expects), self.end)


# --- parsing ---------------------------------------------------------------------------------------------------
MAX_SECONDS = 1e6  # a time or duration (11.6 simulated days): anything longer is a typo (1e308 overflowed)
MAX_NUMBER = 1e9   # any other number: no signal, injection value or pedal position comes near it
_SECONDS_ARE = " (seconds: a decimal number from 0 to %d)" % MAX_SECONDS
_NUMBERS_ARE = " (a decimal or 0x hex number, at most %d in size)" % MAX_NUMBER
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?\Z")
_HEX = re.compile(r"-?0x[0-9a-f]+\Z")


def _number(tok):
    """float from a decimal (1.5, -3, 2e3) or 0x hex token of ASCII digits, at most MAX_NUMBER in size, or None
    (no nan / inf, no underscores or other scripts' digits, which Python's float() would take)."""
    t = tok.lower()
    if _HEX.match(t):
        v = float(int(t, 16))
    elif _DECIMAL.match(t):
        v = float(t)
    else:
        return None
    if not -MAX_NUMBER <= v <= MAX_NUMBER:
        return None
    return v


def seconds(tok):
    """Seconds from "2.5", "2.5s" (0..MAX_SECONDS), or None. (The simulator's `.wait` takes the same.)"""
    t = tok.lower()
    if t.endswith("s"):
        t = t[:-1]
    if not t or t.startswith("0x"):
        return None
    v = _number(t)
    if v is None or not 0 <= v <= MAX_SECONDS:
        return None
    return v


def us(s):
    """Seconds -> whole microseconds."""
    return int(round(s * 1e6))


def parse(text, file="<string>"):
    """Parses scenario text; returns a Scenario. Raises ScenarioError naming file and line."""
    steps = []
    last_us = 0  # time of the previous timed line
    end_us = None
    pending_end = []  # (Expect, lineno): "until end" deadlines to fill in
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()

        def err(msg, lineno=lineno):
            raise ScenarioError(file, lineno, msg)

        if end_us is not None:
            err("nothing may follow `end`")
        t_us = None
        first = words[0]
        if first[0] in "+0123456789." and first.lower() not in ACTIONS:
            if first.startswith("+"):
                d = seconds(first[1:])
                if d is None:
                    err("bad relative time %r%s" % (first, _SECONDS_ARE))
                t_us = last_us + us(d)
            else:
                s = seconds(first)
                if s is None:
                    err("bad time %r%s" % (first, _SECONDS_ARE))
                t_us = us(s)
                if t_us < last_us:
                    err("time goes backwards: %s after %gs" % (first, last_us / 1e6))
            last_us = t_us
            words = words[1:]
            if not words:
                err("a time needs an action")
        action = words[0].lower()
        args = words[1:]
        if action not in ACTIONS:
            err("unknown action %r (one of: %s)" % (words[0], ", ".join(ACTIONS)))
        if t_us is None and action != "expect":
            err("`%s` needs a time" % action)
        if action == "expect":
            start = t_us if t_us is not None else last_us
            e = _expect(args, start, t_us is not None, err, lineno, line)
            if e.deadline_us is None:
                pending_end.append(e)
            steps.append(e)
            continue
        if action in ("inverter", "battery") and t_us != 0:
            err("`%s` only at time 0 (the car is built before it runs)" % action)
        steps.append(Step(t_us, action, _args(action, args, err, line, raw), lineno, line))
        if action == "end":
            end_us = t_us
    if end_us is None:
        raise ScenarioError(file, len(text.splitlines()) or 1, "no `end` line (e.g. `30 end`)")
    for s in steps:
        if s.action != "expect":
            continue
        if s.deadline_us is None:
            s.deadline_us = end_us
            s.deadline = end_us / 1e6
        if s.deadline_us > end_us:
            raise ScenarioError(file, s.line, "deadline %gs is after `end` (%gs)" % (s.deadline, end_us / 1e6))
    return Scenario(file, steps, end_us)


def load(path):
    """Reads and parses a scenario file: UTF-8 text, a byte order mark at its start accepted (Windows editors
    write one). Raises ScenarioError naming file and line for bytes that are not UTF-8, OSError when unreadable."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ScenarioError(path, line, "not UTF-8 text: byte 0x%02X at column %d" % (data[e.start], col))
    return parse(text, path)


def _on_off(args, err, action):
    if len(args) != 1 or args[0].lower() not in ("on", "off"):
        err("`%s` takes on or off" % action)
    return (args[0].lower() == "on",)


def _args(action, args, err, line, raw):
    if action in ("ignition", "brake"):
        return _on_off(args, err, action)
    if action == "plug":
        if len(args) != 1 or args[0].lower() not in ("in", "out"):
            err("`plug` takes in or out")
        return (args[0].lower() == "in",)
    if action == "direction":
        if len(args) != 1 or args[0].lower() not in DIRECTIONS:
            err("`direction` takes forward, reverse or neutral")
        return (DIRECTIONS[args[0].lower()],)
    if action == "pedal":
        a = list(args)
        if len(a) >= 2 and a[1] == "%":
            a[0:2] = [a[0] + "%"]
        if not a:
            err("`pedal` takes a percentage, e.g. `pedal 40%`")
        p = a[0][:-1] if a[0].endswith("%") else a[0]
        v = _number(p)
        if v is None or p.lower().startswith(("0x", "-0x")) or not 0 <= v <= 100:
            err("bad pedal position %r (0..100 %%)" % a[0])
        over = 0.0
        if len(a) > 1:
            if len(a) != 3 or a[1].lower() != "over":
                err("`pedal P%` takes only `over SECONDS` after it")
            over = seconds(a[2])
            if over is None:
                err("bad ramp time %r%s" % (a[2], _SECONDS_ARE))
        return (v, over)
    if action in ("inject", "restore"):
        if not args:
            err("`%s` takes an injection name (one of: %s)" % (action, ", ".join(sorted(INJECTIONS))))
        name = args[0].lower()
        if name not in INJECTIONS:
            err("unknown injection %r (one of: %s)" % (args[0], ", ".join(sorted(INJECTIONS))))
        if action == "restore":
            if len(args) != 1:
                err("`restore` takes only the injection name")
            if name in ONE_SHOT:
                err("`%s` ends by itself: nothing to restore" % name)
            return (name,)
        if len(args) > 2:
            err("`inject %s` takes at most one value" % name)
        value = None
        if len(args) == 2:
            if INJECTIONS[name][1] is None:
                err("`inject %s` takes no value" % name)
            value = _number(args[1])
            if value is None:
                err("bad value %r%s" % (args[1], _NUMBERS_ARE))
            if name in ONE_SHOT and not ONE_SHOT[name][0] <= value <= ONE_SHOT[name][1]:
                err("`inject %s` takes %g to %g (ms)" % ((name,) + ONE_SHOT[name]))
        return (name, value)
    if action == "inverter":
        if not args or args[0].lower() not in INVERTERS or len(args) > 2 or (
                len(args) == 2 and args[1].lower() != "all"):
            err("`inverter` takes one of %s, then optionally `all`" % ", ".join(INVERTERS))
        return (args[0].lower(), len(args) == 2)
    if action == "battery":
        if len(args) != 1 or args[0].lower() not in BATTERIES:
            err("`battery` takes one of %s" % ", ".join(BATTERIES))
        return (args[0].lower(),)
    if action == "type":
        # the rest of the line after the word `type`, as written (comment stripped)
        idx = line.lower().find("type")
        cmd = line[idx + 4:].strip()
        if not cmd:
            err("`type` needs a console line")
        return (cmd,)
    if action == "end":
        if args:
            err("`end` takes nothing")
        return ()
    err("unknown action %r" % action)


def _expect(args, start, timed, err, lineno, line):
    a = [w.lower() for w in args]
    kind = "at"
    deadline = start
    # window
    for i, w in enumerate(a):
        if w in ("by", "until"):
            kind = w
            win = a[i + 1:]
            a = a[:i]
            if len(win) != 1:
                err("`%s` takes one time" % w)
            if win[0] == "end":
                if w != "until":
                    err("`by end` is not a deadline: use `until end` or a time")
                deadline = None
            elif win[0].startswith("+"):
                d = seconds(win[0][1:])
                if d is None:
                    err("bad time %r%s" % (win[0], _SECONDS_ARE))
                deadline = start + us(d)
            else:
                s = seconds(win[0])
                if s is None:
                    err("bad time %r%s" % (win[0], _SECONDS_ARE))
                deadline = us(s)
                if deadline < start:
                    err("deadline %s is before the expectation starts (%gs)" % (win[0], start / 1e6))
            break
    if kind == "at" and not timed:
        err("an `expect` without a time needs `by T` or `until T`")
    if not a:
        err("`expect` needs a condition: mode NAME, fault NAME, nofault or SIGNAL OP NUMBER")
    w = a[0]
    if w == "mode":
        if len(a) != 2 or a[1] not in MODES:
            err("unknown mode %r (one of: %s)" % (" ".join(a[1:]), ", ".join(_vcm.MODE_NAMES)))
        return Expect(start, kind, "mode", a[1], MODES[a[1]], None, None, deadline, lineno, line)
    if w == "fault":
        if len(a) != 2 or a[1] not in FAULTS:
            err("unknown fault %r (one of: %s)" % (" ".join(a[1:]), ", ".join(sorted(FAULT_NAMES.values()))))
        code = FAULTS[a[1]]
        return Expect(start, kind, "fault", FAULT_NAMES[code], code, None, None, deadline, lineno, line)
    if a == ["nofault"] or a == ["no", "fault"]:
        return Expect(start, kind, "nofault", "nofault", None, None, None, deadline, lineno, line)
    if w in SIGNALS:
        if len(a) != 3:
            err("`expect %s` takes OP NUMBER, e.g. `expect %s > 10`" % (w, w))
        op = "==" if a[1] == "=" else a[1]
        if op not in OPS:
            err("bad comparison %r (one of: %s)" % (a[1], " ".join(OPS)))
        v = _number(a[2])
        if v is None:
            err("bad number %r%s" % (a[2], _NUMBERS_ARE))
        return Expect(start, kind, "signal", w, None, op, v, deadline, lineno, line)
    err("unknown condition %r (mode, fault, nofault, or a signal: %s)" % (args[0], ", ".join(sorted(SIGNALS))))


# --- checking ---------------------------------------------------------------------------------------------------
class ExpectTracker:
    """Decides a scenario's expectations from observations. observe(expect) -> the observed value for that
    expectation (see Expect.holds). Results: `passed` and `failed` lists of (Expect, t_us, observed)."""

    def __init__(self, scenario):
        self.waiting = sorted(scenario.expects, key=lambda e: e.t_us)  # not started yet
        self.open = []  # started, undecided
        self.passed = []
        self.failed = []

    def update(self, t_us, observe):
        w = self.waiting
        while w and w[0].t_us <= t_us:
            self.open.append(w.pop(0))
        still = []
        for e in self.open:
            v = observe(e)
            ok = e.holds(v)
            if e.kind == "at":
                (self.passed if ok else self.failed).append((e, t_us, v))
            elif e.kind == "by":
                if ok:
                    self.passed.append((e, t_us, v))
                elif t_us >= e.deadline_us:
                    self.failed.append((e, t_us, v))
                else:
                    still.append(e)
            else:  # until
                if not ok:
                    self.failed.append((e, t_us, v))
                elif t_us >= e.deadline_us:
                    self.passed.append((e, t_us, v))
                else:
                    still.append(e)
        self.open = still

    def finish(self, t_us, observe=None):
        """End of the run: an open `until` that held so far passes; anything else still open fails."""
        for e in self.open + self.waiting:
            if e.kind == "until" and e.t_us <= t_us:
                self.passed.append((e, t_us, None))
            else:
                self.failed.append((e, t_us, observe(e) if observe is not None else None))
        self.open = []
        self.waiting = []
        return not self.failed


def main(argv=None):
    """`python tools/scenario.py FILE...`: parses the files, prints a summary or the error; exit 2 on error."""
    argv = sys.argv[1:] if argv is None else argv
    code = 0
    for path in argv:
        try:
            sc = load(path)
        except ScenarioError as e:
            print(e)
            code = 2
            continue
        except OSError as e:
            print("%s: %s" % (path, e))
            code = 2
            continue
        print(sc)
    return code


if __name__ == "__main__":
    sys.exit(main())
