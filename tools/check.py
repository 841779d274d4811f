"""Check a recording of the Leaf EV-CAN bus against the protocol: python tools/check.py LOG [LOG ...]

For a user with a USB-CAN sniffer. Reads candump `-L` logs (`(seconds) can0 ID#DATA`, through python-can's
CanutilsLogReader, one line at a time so that a bad line can be named) and every other format python-can's
`can.LogReader` reads (.asc, .blf, .csv, .trc, .mf4, .db). A file whose suffix python-can does not know is read
as candump -L.

Per identifier the codec knows (leafvcu.frames.ID_INFO) it prints: frame count, period (median, p99, max), DLCs
seen, CRC / checksum failures, counter faults, lost frames, timing gaps, invalid-value markers and the decoded
ranges. Unknown identifiers are counted, not judged.

A violation is a CRC / checksum failure, a DLC that does not belong to the id, or a counter fault. Recorders drop
frames under load, so a counter that does not advance by one is a fault only when the time since the previous
good frame of that id does not explain it: with a 2-bit counter the frames missing by the clock,
round(gap / period) - 1, must agree with the counter's step modulo 4 (counter_step). Frames the clock explains
are reported as lost, not as violations. Gaps longer than three periods are listed separately.

Frames are judged in the order of the file. Equal timestamps are normal (a recorder that reads several frames
at once stamps them alike): a frame stamped with the time of its id's previous frame follows that one with no
time between, so its counter must advance by exactly one. Where time goes backwards the file's order and its timestamps disagree:
the report says where and by how much, and counters and periods are judged between those points, never across.

A log cannot be judged, and says why (`cannot judge: ...`), when
  - it holds no EV-CAN frames: not one frame of an id the codec knows (another bus, bit rate or filter);
  - its time goes backwards anywhere;
  - its timestamps do not resolve an id's period (most of that id's frames carry the time of the one before):
    lost frames cannot be told from counter faults. Its counters are still checked, against the nominal period.

Exit status: 0 no violation, 1 violations, 2 unreadable input or a log that cannot be judged (a message naming
the file, and the line where known, goes to stderr; 2 wins over 1). The last line of the output is always
`<frames> frames, <violations> violations`.

`check.py --conformance [--car CAR] LOG [LOG ...]` asks the other question, whether the controller sends what a
real VCM sends state by state: it runs tools/conformance.py (its --help says how).

Reusable parts (the simulator checks its own bus log with them):
    read_log(path) -> list of Frame            raises LogError with a message naming file and line
    check_frames(frames) -> Report             frames: iterable of (t_s, can_id, data[, where]), pure
    frames_from_bus_log(bus_log) -> frames     fakes.canbus.VirtualCANBus.log: (t_us, can_id, data)
    counter_step(step, gap, period, between=0) -> (lost, fault)
    Report.violations, Report.lost, Report.frames, Report.lines(name), Report.cannot_judge() -> [reason]
CPython only (python-can).
"""

import gzip
import os
import re
import statistics
import sys

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_REPO, "firmware", "lib"))

from leafvcu import frames as F  # noqa: E402  (the codec: CRC, checksums, counters, decoders)

EXT_FLAG = 0x80000000  # an extended (29-bit) id is kept as id | EXT_FLAG: never one of the Leaf's 11-bit ids
GAP_PERIODS = 3  # a timing gap is longer than this many periods
MIN_STEPS_FOR_PERIOD = 8  # measure the period from the log when at least this many +1 counter steps exist
SHOW = 20  # list at most this many violations / gaps per file


class LogError(Exception):
    """Unreadable input; str() names the file and, where known, the line."""


class Frame(tuple):
    """(t seconds, can_id, data bytes or None for a remote frame, where: the line number (int), another
    position such as "message 12" (str), or None). can_id -1 is an error frame."""

    __slots__ = ()

    def __new__(cls, t, can_id, data, where=None):
        return tuple.__new__(cls, (t, can_id, data, where))


# ---------------------------------------------------------------------------------------------------------
# Reading

_CANDUMP = re.compile(
    r"\(\d+(?:\.\d+)?\)\s+\S+\s+([0-9A-Fa-f]{3}|[0-9A-Fa-f]{8})#"
    r"(R\d*|#[0-9A-Fa-f][0-9A-Fa-f]*|[0-9A-Fa-f]*)(?:\s+[RTrt])?\Z"
)
# What a candump -L line looks like when it was cut short somewhere.
_CANDUMP_PREFIX = re.compile(
    r"\(\d*(?:\.\d*)?(?:\)(?:\s+(?:\S+(?:\s+(?:[0-9A-Fa-f]{1,8}(?:#[0-9A-Fa-f]*)?)?)?)?)?)?\Z"
)


def _line_problem(text):
    # Why a candump -L line is not acceptable, or None.
    m = _CANDUMP.match(text)
    if m is None:
        if _CANDUMP_PREFIX.match(text):
            return "truncated line"
        return "not a candump -L line"
    data = m.group(2)
    if data[:1] in ("R", "r"):
        return None
    hexdigits = data[2:] if data.startswith("#") else data
    if len(hexdigits) % 2:
        return "truncated line (odd number of hex digits)"
    limit = 64 if data.startswith("#") else 8
    if len(hexdigits) // 2 > limit:
        return "%d data bytes (at most %d)" % (len(hexdigits) // 2, limit)
    return None


class _CheckedLines:
    """The text lines of a candump -L file for CanutilsLogReader, each checked first; `lineno` is the line
    being parsed, so that an error can name it."""

    def __init__(self, path, raw):
        self.path = path
        self.raw = raw
        self.lineno = 0
        self.nonblank = 0

    def fail(self, why, text=None):
        msg = "%s line %d: %s" % (self.path, self.lineno, why)
        if text is not None:
            msg += ": %r" % (text[:60] + ("..." if len(text) > 60 else ""))
        raise LogError(msg)

    def __iter__(self):
        for raw in self.raw:
            self.lineno += 1
            if b"\0" in raw:
                self.fail("binary data (NUL byte), not a text CAN log")
            try:
                text = raw.decode("ascii")
            except UnicodeDecodeError:
                self.fail("binary data (non-ASCII bytes), not a text CAN log")
            text = text.strip()
            if not text:
                continue
            why = _line_problem(text)
            if why is not None:
                self.fail(why, text)
            self.nonblank += 1
            yield text + "\n"

    def close(self):
        self.raw.close()


def _read_candump(path):
    import can

    try:
        raw = gzip.open(path, "rb") if path.lower().endswith(".gz") else open(path, "rb")
    except OSError as e:
        raise LogError("%s: cannot open: %s" % (path, e.strerror or e))
    lines = _CheckedLines(path, raw)
    out = []
    try:
        reader = can.io.CanutilsLogReader(lines)
        for msg in reader:
            out.append(_frame(msg, lines.lineno))
    except LogError:
        raise
    except (OSError, EOFError) as e:  # a damaged .gz
        lines.fail("cannot read (%s)" % e)
    except Exception as e:  # python-can's own parse errors
        lines.fail("cannot parse (%s: %s)" % (type(e).__name__, e))
    finally:
        raw.close()
    if lines.nonblank == 0:
        raise LogError("%s: empty: no CAN frames in the file" % path)
    return out


def _frame(msg, where):
    if msg.is_error_frame:
        return Frame(msg.timestamp, -1, None, where)
    can_id = msg.arbitration_id | (EXT_FLAG if msg.is_extended_id else 0)
    data = None if msg.is_remote_frame else bytes(msg.data)
    return Frame(msg.timestamp, can_id, data, where)


def read_log(path):
    """All frames of a log file as a list of Frame. Raises LogError (naming file and line) when unreadable."""
    import can

    path = os.fspath(path)
    name = path[:-3] if path.lower().endswith(".gz") else path
    suffix = os.path.splitext(name)[1].lower()
    if suffix == ".log" or suffix not in getattr(can.io.player, "MESSAGE_READERS", {}):
        return _read_candump(path)
    if not os.path.isfile(path):
        raise LogError("%s: cannot open: %s" % (path, "not a file" if os.path.exists(path) else "no such file"))
    out = []
    try:
        with can.LogReader(path) as reader:
            for msg in reader:
                out.append(_frame(msg, "message %d" % (len(out) + 1)))
    except Exception as e:
        raise LogError("%s message %d: cannot read as %s (%s: %s)"
                       % (path, len(out) + 1, suffix, type(e).__name__, e))
    if not out:
        raise LogError("%s: empty: no CAN frames in the file" % path)
    return out


def frames_from_bus_log(bus_log):
    """fakes.canbus.VirtualCANBus.log entries (t_us, can_id, data) -> frames for check_frames."""
    return [Frame(t_us / 1e6, can_id, bytes(data), i + 1) for i, (t_us, can_id, data) in enumerate(bus_log)]


# ---------------------------------------------------------------------------------------------------------
# Checking


def counter_step(step, gap, period, between=0):
    """Judge one 2-bit counter step. step = (n - previous n) mod 4; gap: seconds since the previous good frame;
    period: seconds; between: frames of the id that did arrive in between but could not be read (CRC, DLC).
    Returns (frames lost, fault).

    The clock says round(gap / period) - 1 - between frames are missing; the counter says
    (step - 1 - between) mod 4, modulo 4. When the counter says none (mod 4) it is never a fault (lost: the
    clock's count rounded to a multiple of 4, ties down: 0 for a late frame). Otherwise the step is explained
    when both counts agree modulo 4, else it is a fault (a repeated counter, or a skip the clock does not show)
    and nothing is counted as lost.
    """
    by_clock = int(round(gap / period)) - 1 - between if gap > 0 else 0
    if by_clock < 0:
        by_clock = 0
    by_counter = (step - 1 - between) & 3
    if by_counter == 0:
        return 4 * ((by_clock + 1) // 4), False
    if by_clock & 3 == by_counter:
        return by_clock, False
    return 0, True


def _percentile(sorted_values, q):
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, int(round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


# Decoded ranges worth printing: id -> ((label, unit, getter(state) -> number or None), ...)
def _v1da(st):
    return st.dc_voltage if st.voltage_valid else None


def _s1da(st):
    return st.speed_rpm if st.speed_valid else None


_RANGES = {
    0x1DA: (("voltage", "V", _v1da), ("torque", "Nm", lambda s: s.torque_nm), ("speed", "rpm", _s1da)),
    0x1D4: (("torque request", "Nm", lambda s: s.torque_nm),),
    0x1DB: (("voltage", "V", lambda s: s.voltage_v), ("current", "A", lambda s: s.current_a)),
    0x55A: (("motor", "degC", lambda s: s.motor_c), ("inverter", "degC", lambda s: s.inverter_c)),
    0x390: (("output", "kW", lambda s: s.power_w / 1000),),
}


class IdReport:
    """What one identifier did in one log."""

    def __init__(self, can_id):
        self.can_id = can_id
        info = F.ID_INFO[can_id]
        self.name = info[F.I_NAME]
        self.dlcs_allowed = info[F.I_DLCS]
        self.nominal_s = info[F.I_PERIOD] / 1000.0
        self.has_counter = info[F.I_CBYTE] >= 0
        self.times = []
        self.dlcs = {}
        self.bad_crc = 0
        self.bad_dlc = 0
        self.remote = 0
        self.counter_faults = 0
        self.lost = 0
        self.gaps = []  # (t, gap s)
        self.period = 0.0  # the period counters and gaps were judged against
        self.invalid = {}  # marker -> count
        self.ranges = {}  # label -> [min, max]
        self.steps = []  # (t, counter or None for a bad frame, where, stretch) in order
        self.stretches = []  # per frame in times: the stretch of the log it is in (see Report.backwards)
        self.intervals = []  # the times between consecutive frames of the id within a stretch
        self.unresolved = False  # the log's timestamps do not resolve this id's period (see _judge_timing)
        codec = F.CODECS.get(can_id)
        self.state = codec[0]() if codec else None
        self.decode = codec[1] if codec else None

    @property
    def frames(self):
        return len(self.times)

    @property
    def violations(self):
        return self.bad_crc + self.bad_dlc + self.counter_faults


class Report:
    """The result of check_frames: per known id an IdReport; unknown ids counted; the violations listed."""

    def __init__(self):
        self.ids = {}
        self.unknown = {}
        self.error_frames = 0
        self.frames = 0
        self.t0 = None  # the first frame's time (what "+x s" in the report counts from)
        self.t_min = None
        self.t_max = None
        self.problems = []  # (t, where, can_id, text): every violation
        # Where time goes backwards: (t, where, t of the frame before, where it was). Each starts a new stretch
        # of the log: counters and periods are judged within a stretch, never across.
        self.backwards = []

    @property
    def violations(self):
        return len(self.problems)

    @property
    def lost(self):
        return sum(r.lost for r in self.ids.values())

    def cannot_judge(self):
        """Why the log cannot be judged, as a list of short reasons (empty: it can). A log cannot be judged when
        it holds no frame of an id the checker knows (another bus, bit rate or recorder setting: "0 violations"
        would mean nothing), when its time goes backwards (the order of the file and its timestamps disagree:
        which frame followed which, and after how long, is unknown where that happens), or when its timestamps
        do not resolve an id's period (most of its frames stamped with the time of the one before: lost frames
        and counter faults cannot be told apart). Equal timestamps as such are no reason: a recorder reading
        several frames at once stamps them alike."""
        why = []
        if not self.ids:
            why.append("no EV-CAN frames (none of its %d frames has an id the checker knows)" % self.frames)
        if self.backwards:
            t, where, t_prev, where_prev = self.backwards[0]
            why.append("time goes backwards %d time%s, first at %s: %s before %s" % (
                len(self.backwards), "" if len(self.backwards) == 1 else "s", _at(where, "frame"),
                _duration(t_prev - t), _at(where_prev, "the frame before")))
        coarse = [r for _, r in sorted(self.ids.items()) if r.unresolved]
        if coarse:
            why.append("the timestamps do not resolve the period of %s (most of its frames carry the time of "
                       "the one before: lost frames cannot be told from counter faults)"
                       % ", ".join("%03X" % r.can_id for r in coarse))
        return why

    def lines(self, name="log"):
        """The human-readable report as a list of lines."""
        return _format(self, name)


def check_frames(frames):
    """Check a sequence of (t_seconds, can_id, data[, where]) against the protocol. Pure; returns a Report."""
    rep = Report()
    stretch = 0  # +1 where time goes backwards
    prev_t = prev_where = None
    for fr in frames:
        t, can_id, data = fr[0], fr[1], fr[2]
        where = fr[3] if len(fr) > 3 else None
        rep.frames += 1
        if rep.t0 is None:
            rep.t0 = rep.t_min = rep.t_max = t
        elif t < prev_t:
            stretch += 1
            rep.backwards.append((t, where, prev_t, prev_where))
        if t < rep.t_min:
            rep.t_min = t
        if t > rep.t_max:
            rep.t_max = t
        prev_t, prev_where = t, where
        if can_id < 0:
            rep.error_frames += 1
            continue
        if can_id not in F.ID_INFO:
            rep.unknown[can_id] = rep.unknown.get(can_id, 0) + 1
            continue
        r = rep.ids.get(can_id)
        if r is None:
            r = rep.ids[can_id] = IdReport(can_id)
        r.times.append(t)
        r.stretches.append(stretch)
        if data is None:
            r.remote += 1
            continue
        dlc = len(data)
        r.dlcs[dlc] = r.dlcs.get(dlc, 0) + 1
        if dlc not in r.dlcs_allowed:
            r.bad_dlc += 1
            rep.problems.append((t, where, can_id, "DLC %d, expected %s" % (dlc, _dlcs(r.dlcs_allowed))))
            r.steps.append((t, None, where, stretch))
            continue
        if F.integrity_ok(can_id, data, dlc) is False:
            r.bad_crc += 1
            kind = "CRC" if F.ID_INFO[can_id][F.I_INTEGRITY] == "crc" else "checksum"
            rep.problems.append((t, where, can_id, "%s failure: %s" % (kind, data.hex(" ").upper())))
            r.steps.append((t, None, where, stretch))
            continue
        r.steps.append((t, F.counter_of(can_id, data, dlc) if r.has_counter else None, where, stretch))
        if r.decode is not None and r.decode(data, r.state, dlc):
            _note_values(r)
    for r in rep.ids.values():
        _judge_timing(rep, r)
    rep.problems.sort(key=lambda p: p[0])
    return rep


def _note_values(r):
    st = r.state
    if r.can_id == 0x1DA:
        if not st.voltage_valid:
            r.invalid["voltage 0xFF"] = r.invalid.get("voltage 0xFF", 0) + 1
        if not st.speed_valid:
            r.invalid["speed 0x7FFE/0x7FFF"] = r.invalid.get("speed 0x7FFE/0x7FFF", 0) + 1
    for label, _unit, get in _RANGES.get(r.can_id, ()):
        v = get(st)
        if v is None:
            continue
        lo_hi = r.ranges.get(label)
        if lo_hi is None:
            r.ranges[label] = [v, v]
        elif v < lo_hi[0]:
            lo_hi[0] = v
        elif v > lo_hi[1]:
            lo_hi[1] = v


def _judge_timing(rep, r):
    # Only consecutive frames of one stretch (see Report.backwards) are compared.
    # The period: from the log when the id has enough +1 counter steps (robust to lost frames), else the median
    # gap when the id has no counter, else the codec's nominal period. A measured period of 0 (most frames
    # stamped with the time of the one before) says the timestamps are too coarse to judge lost frames by: the
    # counters are then judged against the nominal period (a step the counter says was skipped is a fault, as
    # no time passed), and the log cannot be judged (Report.cannot_judge).
    t, st = r.times, r.stretches
    r.intervals = [t[i] - t[i - 1] for i in range(1, len(t)) if st[i] == st[i - 1]]
    good = [s for s in r.steps if s[1] is not None]
    plus_one = [b[0] - a[0] for a, b in zip(good, good[1:]) if (b[1] - a[1]) & 3 == 1 and a[3] == b[3]]
    measured = None
    if r.has_counter and len(plus_one) >= MIN_STEPS_FOR_PERIOD:
        measured = statistics.median(plus_one)
    elif not r.has_counter and len(r.intervals) >= MIN_STEPS_FOR_PERIOD:
        measured = statistics.median(r.intervals)
    if measured is not None and measured <= 0 < r.nominal_s:
        r.unresolved = True
        measured = None
    period = measured if measured is not None else r.nominal_s
    if period <= 0:
        return  # an event frame (0x679): no period
    r.period = period
    if not r.unresolved:  # (with a clock coarser than the period every tick would look like a gap)
        for i in range(1, len(t)):
            if st[i] == st[i - 1] and t[i] - t[i - 1] > GAP_PERIODS * period:
                r.gaps.append((t[i], t[i] - t[i - 1]))
    if not r.has_counter:
        return
    prev = None
    bad_since = 0
    stretch = 0
    for t, n, where, s in r.steps:
        if s != stretch:  # time went backwards since the id's previous frame: start again
            stretch = s
            prev = None
            bad_since = 0
        if n is None:  # a frame that was there but unusable: not lost
            bad_since += 1
            continue
        if prev is not None:
            lost, fault = counter_step((n - prev[1]) & 3, t - prev[0], period, bad_since)
            if fault:
                r.counter_faults += 1
                what = "repeated" if n == prev[1] else "expected %d" % ((prev[1] + 1 + bad_since) & 3)
                rep.problems.append(
                    (t, where, r.can_id, "counter %d after %d (%s); %.1f ms since the previous frame does not "
                     "explain it" % (n, prev[1], what, (t - prev[0]) * 1000))
                )
            else:
                r.lost += lost
        prev = (t, n)
        bad_since = 0


# ---------------------------------------------------------------------------------------------------------
# Output


def _dlcs(dlcs):
    return "/".join(str(d) for d in sorted(dlcs))


def _num(v):
    return ("%.1f" % v).rstrip("0").rstrip(".") if isinstance(v, float) else str(v)


def _where(rep, t, where):
    if where is None:
        w = ""
    else:
        w = ("line %d, " % where) if isinstance(where, int) else ("%s, " % where)
    return "%s%+.3f s" % (w, t - rep.t0)


def _at(where, otherwise):
    # "line 12", "message 12", or `otherwise` where the position is not known
    if where is None:
        return otherwise
    return ("line %d" % where) if isinstance(where, int) else str(where)


def _duration(s):
    return "%.3f ms" % (s * 1e3) if s < 1 else "%.3f s" % s


def _format(rep, name):
    span = (rep.t_max - rep.t_min) if rep.frames else 0.0
    unknown_frames = sum(rep.unknown.values())
    out = ["%s: %d frames in %.2f s, %d known ids, %d unknown ids (%d frames)"
           % (name, rep.frames, span, len(rep.ids), len(rep.unknown), unknown_frames)]
    out.append("  id   name                frames  period ms med/p99/max    DLC    crc  dlc  ctr  lost  gaps")
    for can_id in sorted(rep.ids):
        r = rep.ids[can_id]
        g = sorted(r.intervals)
        per = ("%.1f/%.1f/%.1f" % (statistics.median(g) * 1e3, _percentile(g, 0.99) * 1e3, g[-1] * 1e3)) if g else "-"
        ctr = str(r.counter_faults) if r.has_counter else "-"
        lost = str(r.lost) if r.has_counter else "-"
        out.append("  %03X  %-18s %7d  %-22s %-6s %4d %4d %4s %5s %5d"
                   % (can_id, r.name, r.frames, per, _dlcs(r.dlcs) or "-", r.bad_crc, r.bad_dlc, ctr, lost,
                      len(r.gaps)))
    for can_id in sorted(rep.ids):
        r = rep.ids[can_id]
        parts = []
        for label, unit, _get in _RANGES.get(can_id, ()):
            if label in r.ranges:
                lo, hi = r.ranges[label]
                parts.append("%s %s..%s %s" % (label, _num(lo), _num(hi), unit))
        for marker, count in sorted(r.invalid.items()):
            parts.append("invalid %s: %d" % (marker, count))
        if r.remote:
            parts.append("remote frames: %d (EV-CAN uses data frames only)" % r.remote)
        if parts:
            out.append("  %03X  %s" % (can_id, ", ".join(parts)))
    if rep.unknown:
        top = sorted(rep.unknown.items(), key=lambda kv: -kv[1])
        out.append("  unknown ids (counted, not checked): " + ", ".join(
            "%s %d" % (_idstr(i), n) for i, n in top[:12]) + (" ..." if len(top) > 12 else ""))
    if rep.error_frames:
        out.append("  error frames: %d" % rep.error_frames)
    gaps = sorted(((t, r.can_id, gap, r.period) for r in rep.ids.values() for t, gap in r.gaps))
    if gaps:
        out.append("  timing gaps (longer than %d periods): %d" % (GAP_PERIODS, len(gaps)))
        for t, can_id, gap, period in gaps[:SHOW]:
            out.append("    %03X at %+.3f s: %.0f ms (%.1f periods)" % (can_id, t - rep.t0, gap * 1e3, gap / period))
        if len(gaps) > SHOW:
            out.append("    ... %d more" % (len(gaps) - SHOW))
    if rep.backwards:
        out.append("  time goes backwards: %d time%s (counters and periods are judged between those points, not "
                    "across them)" % (len(rep.backwards), "" if len(rep.backwards) == 1 else "s"))
        for t, where, t_prev, where_prev in rep.backwards[:SHOW]:
            out.append("    %s: %s before %s (%s)" % (_at(where, "a frame"), _duration(t_prev - t),
                                                     _at(where_prev, "the frame before"), _where(rep, t, None)))
        if len(rep.backwards) > SHOW:
            out.append("    ... %d more" % (len(rep.backwards) - SHOW))
    if rep.problems:
        out.append("  violations: %d" % len(rep.problems))
        for t, where, can_id, text in rep.problems[:SHOW]:
            out.append("    %03X %s: %s" % (can_id, _where(rep, t, where), text))
        if len(rep.problems) > SHOW:
            out.append("    ... %d more" % (len(rep.problems) - SHOW))
    out.append("  => %d frames, %d violations, %d lost frames" % (rep.frames, rep.violations, rep.lost))
    for why in rep.cannot_judge():
        out.append("  cannot judge: %s" % why)
    return out


def _idstr(can_id):
    return "%08X" % (can_id & ~EXT_FLAG) if can_id & EXT_FLAG else "%03X" % can_id


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        if argv:  # the user's part of the docstring: what is read, judged, when a log cannot be judged, exits
            print(__doc__.split("\nReusable parts")[0].rstrip())
        else:
            print(__doc__.split("\n\n")[0])
            print("usage: python tools/check.py LOG [LOG ...]   (--help: what it checks, exit status)")
            print("       python tools/check.py --conformance LOG [LOG ...]   (against real cars: conformance.py)")
        return 0 if argv else 2
    if argv[0] == "--conformance":
        import conformance  # (tools/ is on the path: this file's directory)

        return conformance.main(argv[1:])
    frames = violations = 0
    unreadable = False
    for path in argv:
        try:
            log = read_log(path)
        except LogError as e:
            print("check.py: %s" % e, file=sys.stderr)
            unreadable = True
            continue
        rep = check_frames(log)
        for line in rep.lines(os.path.basename(path)):
            print(line)
        frames += rep.frames
        violations += rep.violations
        why = rep.cannot_judge()
        if why:
            print("check.py: %s: cannot judge: %s" % (path, "; ".join(why)), file=sys.stderr)
            unreadable = True
    print("%d frames, %d violations" % (frames, violations))
    if unreadable:
        return 2
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
