"""tools/check.py against the real recordings in ../shared/leaf-can/logs and corrupted copies of them (CPython)."""

import os
import random
import subprocess
import sys

import pytest

import check
from leafvcu import frames as F

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.normpath(os.path.join(REPO, "..", "shared"))
LOGS = os.path.join(SHARED, "leaf-can", "logs")
CHECK = os.path.join(REPO, "tools", "check.py")

if not os.path.isdir(LOGS):
    raise RuntimeError("the shared recordings are missing: expected %s (<repo>/../shared)" % LOGS)

ALL_LOGS = sorted(os.path.join(LOGS, f) for f in os.listdir(LOGS) if f.endswith(".log"))
ENV200 = os.path.join(LOGS, "env200-2015_aze0-era_startup.log")  # AZE0 era, the recorder lost almost half
ZE0 = os.path.join(LOGS, "ze0_full-throttle-in-D.log")  # ZE0, nothing lost, jittery VCM timing
ZE1 = os.path.join(LOGS, "ze1-inverter-alone_cold-start.log")  # small: used for the CLI runs on copies
assert len(ALL_LOGS) >= 7, ALL_LOGS

_CACHE = {}


def frames_of(path):
    """Frames of a log, parsed once per test session (the big logs take a second each)."""
    if path not in _CACHE:
        _CACHE[path] = check.read_log(path)
    return _CACHE[path]


def baseline(path):
    key = ("report", path)
    if key not in _CACHE:
        _CACHE[key] = check.check_frames(frames_of(path))
    return _CACHE[key]


def run_cli(*paths):
    p = subprocess.run([sys.executable, CHECK] + [str(x) for x in paths], capture_output=True, text=True,
                       timeout=120)
    return p.returncode, p.stdout, p.stderr


def write_log(path, frames):
    """Write frames in candump -L form."""
    with open(path, "w") as f:
        for t, can_id, data, _ in frames:
            f.write("(%.6f) can0 %03X#%s\n" % (t, can_id, data.hex().upper()))


# ---------------------------------------------------------------------------------------------------------
# The real recordings


def test_real_logs_pass_the_cli():
    rc, out, err = run_cli(*ALL_LOGS)
    total = 0
    for p in ALL_LOGS:
        with open(p) as f:
            total += sum(1 for line in f if line.strip())
    assert rc == 0, out[-3000:] + err
    assert out.splitlines()[-1] == "%d frames, 0 violations" % total
    assert "Traceback" not in err


def test_env200_losses_are_lost_frames_not_violations():
    rep = baseline(ENV200)
    assert rep.violations == 0
    # The recorder dropped almost half: received + lost of a 10 ms id spans the recording.
    r = rep.ids[0x1DA]
    span = r.times[-1] - r.times[0]
    assert abs(r.frames + r.lost - (span / 0.010 + 1)) < 0.01 * span / 0.010
    assert rep.lost > 10000
    assert sum(len(r.gaps) for r in rep.ids.values()) > 0


def test_ze0_jitter_is_not_a_fault():
    rep = baseline(ZE0)
    assert rep.violations == 0 and rep.lost == 0
    assert rep.ids[0x50B].dlcs == {6: rep.ids[0x50B].frames}  # ZE0 50B is DLC 6, which belongs to the id


def test_invalid_markers_and_ranges_reported():
    rep = baseline(ZE1)  # inverter alone from cold: speed invalid throughout, voltage 0xFF at boot
    r = rep.ids[0x1DA]
    assert r.invalid["speed 0x7FFE/0x7FFF"] == r.frames
    assert r.invalid["voltage 0xFF"] >= 1
    # The ZE1's own heartbeat 0x120 is known (CRC-8, counter 0..15 judged by its low two bits): every frame of the
    # shared recording passes.
    assert rep.unknown == {}
    h = rep.ids[0x120]
    assert h.frames == r.frames and h.violations == 0 and h.lost == 0
    text = "\n".join(rep.lines("ze1"))
    assert "invalid voltage 0xFF" in text and "ze1_inverter_heartbeat" in text
    rz = baseline(ZE0).ids[0x1DA]
    assert rz.ranges["torque"][1] >= 280 and rz.ranges["speed"][1] > 1000


# ---------------------------------------------------------------------------------------------------------
# Corrupted copies


def _streams(frames):
    """Per counter id, the indices of its frames in order."""
    out = {}
    for i, fr in enumerate(frames):
        info = F.ID_INFO.get(fr[1])
        if info is not None and info[F.I_CBYTE] >= 0 and fr[2] is not None:
            out.setdefault(fr[1], []).append(i)
    return out


def isolated(frames, k, rng):
    """k frames (indices), each inside a regular stretch of its id: the two frames before and after it advance
    the counter by one at about one period, and no two chosen frames are within three frames of each other."""
    candidates = []
    for can_id, idx in _streams(frames).items():
        period = F.ID_INFO[can_id][F.I_PERIOD] / 1000.0
        for j in range(2, len(idx) - 2):
            run = [frames[i] for i in idx[j - 2:j + 3]]
            ok = True
            for a, b in zip(run, run[1:]):
                step = (F.counter_of(can_id, b[2], len(b[2])) - F.counter_of(can_id, a[2], len(a[2]))) & 3
                if step != 1 or not 0.8 * period <= b[0] - a[0] <= 1.2 * period:
                    ok = False
                    break
            if ok:
                candidates.append((can_id, j, idx[j]))
    rng.shuffle(candidates)
    chosen, used = [], set()
    for can_id, j, i in candidates:
        if any((can_id, j + d) in used for d in range(-3, 4)):
            continue
        used.add((can_id, j))
        chosen.append(i)
        if len(chosen) == k:
            return chosen
    raise AssertionError("not enough isolated frames")


def _with(frames, index, data):
    out = list(frames)
    t, can_id, _, where = out[index]
    out[index] = check.Frame(t, can_id, bytes(data), where)
    return out


def corrupt_crc(frames, k, rng):
    """Flip bits in the CRC / checksum field of k random frames that have one."""
    pool = [i for i, fr in enumerate(frames) if fr[1] in F.ID_INFO and F.ID_INFO[fr[1]][F.I_INTEGRITY]
            and fr[2] is not None]
    out = frames
    for i in rng.sample(pool, k):
        info = F.ID_INFO[frames[i][1]]
        d = bytearray(frames[i][2])
        pos = info[F.I_ARG] if info[F.I_INTEGRITY] == "crc" else 7
        d[pos] ^= rng.randrange(1, 256) if info[F.I_INTEGRITY] == "crc" else rng.randrange(1, 16)
        out = _with(out, i, d)
    return out


def corrupt_counter(frames, indices, rng):
    """Give each frame a wrong counter and a CORRECT CRC / checksum: a transmitter's counter bug."""
    out = frames
    for i in indices:
        can_id, data = frames[i][1], frames[i][2]
        info = F.ID_INFO[can_id]
        cb, sh = info[F.I_CBYTE], info[F.I_CSHIFT]
        d = bytearray(data)
        n = F.counter_of(can_id, d, len(d))
        d[cb] = (d[cb] & ~(3 << sh) & 0xFF) | (((n + rng.randrange(1, 4)) & 3) << sh)
        if info[F.I_INTEGRITY] == "crc":
            d[info[F.I_ARG]] = F.crc8(d, info[F.I_ARG])
        else:
            d[7] = (d[7] & 0xF0) | F.nibble_checksum(d, info[F.I_ARG])
        assert F.integrity_ok(can_id, d, len(d)) is True
        out = _with(out, i, d)
    return out


CASES = [(log, k, seed) for log in (ENV200, ZE0) for k, seed in ((1, 1), (3, 2), (10, 3), (40, 4))]


@pytest.mark.parametrize("log,k,seed", CASES, ids=lambda v: os.path.basename(v) if isinstance(v, str) else str(v))
def test_k_corrupted_crcs_are_k_violations(log, k, seed):
    rep = check.check_frames(corrupt_crc(frames_of(log), k, random.Random(seed)))
    assert rep.violations == k
    assert sum(r.bad_crc for r in rep.ids.values()) == k
    assert rep.lost == baseline(log).lost  # a corrupt frame was there: not lost


@pytest.mark.parametrize("log,k,seed", CASES, ids=lambda v: os.path.basename(v) if isinstance(v, str) else str(v))
def test_k_removed_frames_are_k_lost(log, k, seed):
    frames = frames_of(log)
    gone = set(isolated(frames, k, random.Random(seed)))
    rep = check.check_frames([fr for i, fr in enumerate(frames) if i not in gone])
    assert rep.violations == 0
    assert rep.lost == baseline(log).lost + k


@pytest.mark.parametrize("log,k,seed", CASES, ids=lambda v: os.path.basename(v) if isinstance(v, str) else str(v))
def test_k_corrupted_counters_are_k_to_2k_faults(log, k, seed):
    rng = random.Random(seed)
    frames = frames_of(log)
    rep = check.check_frames(corrupt_counter(frames, isolated(frames, k, rng), rng))
    faults = sum(r.counter_faults for r in rep.ids.values())
    assert k <= faults <= 2 * k
    assert rep.violations == faults


def test_cli_on_corrupted_copies(tmp_path):
    frames = frames_of(ZE1)
    rng = random.Random(7)
    bad = tmp_path / "crc.log"
    write_log(bad, corrupt_crc(frames, 3, rng))
    rc, out, err = run_cli(bad)
    assert rc == 1 and out.splitlines()[-1] == "%d frames, 3 violations" % len(frames)
    assert "CRC failure" in out
    gone = set(isolated(frames, 5, rng))
    holes = tmp_path / "holes.log"
    write_log(holes, [fr for i, fr in enumerate(frames) if i not in gone])
    rc, out, err = run_cli(holes)
    assert rc == 0 and out.splitlines()[-1] == "%d frames, 0 violations" % (len(frames) - 5)
    assert "0 violations, 5 lost frames" in out


def test_dlc_that_does_not_belong_is_a_violation():
    frames = list(frames_of(ZE1)[:200])
    i = next(i for i, fr in enumerate(frames) if fr[1] == 0x1DA)
    frames[i] = check.Frame(frames[i][0], 0x1DA, frames[i][2][:7], 1)
    rep = check.check_frames(frames)
    assert rep.violations == 1 and rep.ids[0x1DA].bad_dlc == 1
    assert rep.lost == 0  # the short frame was there


# ---------------------------------------------------------------------------------------------------------
# The counter rule itself


@pytest.mark.parametrize("step,gap,lost,fault", [
    (1, 0.010, 0, False),   # normal
    (1, 0.020, 0, False),   # a late frame (ZE0 VCM jitter): the counter says nothing is missing
    (1, 0.001, 0, False),   # bunched
    (1, 0.050, 4, False),   # four lost, counter wrapped
    (2, 0.020, 1, False),   # one lost
    (3, 0.030, 2, False),
    (0, 0.040, 3, False),   # three lost
    (0, 0.080, 7, False),
    (0, 0.010, 0, True),    # repeated counter
    (2, 0.010, 0, True),    # skipped counter, no time for a lost frame
    (3, 0.020, 0, True),    # the clock says one, the counter two
])
def test_counter_step(step, gap, lost, fault):
    assert check.counter_step(step, gap, 0.010) == (lost, fault)


@pytest.mark.parametrize("step,gap,between,lost,fault", [
    (2, 0.020, 1, 0, False),  # one unreadable frame in between: present, not lost
    (2, 0.010, 1, 0, False),  # ... even when the two arrived bunched
    (3, 0.030, 1, 1, False),  # one unreadable, one lost
    (1, 0.020, 1, 0, True),   # one unreadable frame, yet the counter says nothing came in between
])
def test_counter_step_with_unreadable_frames_between(step, gap, between, lost, fault):
    assert check.counter_step(step, gap, 0.010, between) == (lost, fault)


def test_bus_log_helper():
    buf = bytearray(8)
    log = []
    for n in range(6):
        F.encode_1d4(buf, F.TorqueRequest(), n)
        log.append((n * 10000, 0x1D4, bytes(buf)))
    rep = check.check_frames(check.frames_from_bus_log(log))
    assert rep.frames == 6 and rep.violations == 0 and rep.ids[0x1D4].period == pytest.approx(0.010)


# ---------------------------------------------------------------------------------------------------------
# Other formats and bad input


def test_reads_other_python_can_formats(tmp_path):
    import can

    frames = frames_of(ZE1)[:500]
    path = tmp_path / "copy.asc"
    with can.ASCWriter(str(path)) as w:
        for t, can_id, data, _ in frames:
            w.on_message_received(can.Message(timestamp=t, arbitration_id=can_id, data=data,
                                              is_extended_id=False))
    rep = check.check_frames(check.read_log(path))
    assert rep.frames == 500 and rep.violations == 0
    assert rep.ids[0x1DA].frames == sum(1 for fr in frames if fr[1] == 0x1DA)


def _lines(n):
    with open(ZE1) as f:
        return [next(f) for _ in range(n)]


BAD = {
    "truncated.log": ("".join(_lines(40)) + "(1700000000.400000) can0 1DA#C8321800000", "line 41", "truncated"),
    "truncated-mid.log": ("".join(_lines(10)) + "(1700000000.1\n" + "".join(_lines(20)[10:]), "line 11",
                          "truncated"),
    "garbage.log": ("".join(_lines(5)) + "this is not a CAN frame\n" + "".join(_lines(8)[5:]), "line 6",
                    "not a candump"),
    "empty.log": ("", None, "empty"),
    "binary.log": (bytes(range(256)) * 8, "line 1", "binary"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_exits_2_naming_file_and_line(tmp_path, name):
    content, line, word = BAD[name]
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    rc, out, err = run_cli(path)
    assert rc == 2
    assert str(path) in err and word in err
    if line:
        assert line in err
    assert "Traceback" not in err
    with pytest.raises(check.LogError):
        check.read_log(path)


def test_missing_file_exits_2(tmp_path):
    path = tmp_path / "nope.log"
    rc, out, err = run_cli(path, ZE1)
    assert rc == 2 and str(path) in err and "cannot open" in err and "Traceback" not in err
    assert out.splitlines()[-1] == "%d frames, 0 violations" % len(frames_of(ZE1))  # the good file still checked


# ---------------------------------------------------------------------------------------------------------
# Time: equal timestamps, time going backwards, a clock too coarse for the period; logs without EV-CAN frames.
# None of the real recordings has two frames with one timestamp or a step back (their smallest step is 10 us),
# so these logs are made from them.


def _retimed(frames, f):
    return [check.Frame(f(fr[0]), fr[1], fr[2], fr[3]) for fr in frames]


def _duplicate_first(frames, can_id, after=100):
    """The first frame of can_id after index `after` sent twice, with the same timestamp (a repeated counter).
    Returns the frames and the index of the copy."""
    i = next(i for i, fr in enumerate(frames) if fr[1] == can_id and i > after)
    return frames[:i + 1] + [frames[i]] + frames[i + 1:], i + 1


@pytest.mark.parametrize("resolution", [0.001, 0.010])
def test_equal_timestamps_of_a_coarse_clock_are_not_faults(resolution):
    # A recorder with a 1 ms or 10 ms clock stamps neighbouring frames alike (ZE0: 11A 50 us after 1D4, 1DA ...).
    frames = _retimed(frames_of(ZE0), lambda t: round(t / resolution) * resolution)
    assert sum(1 for a, b in zip(frames, frames[1:]) if a[0] == b[0]) > 1000
    rep = check.check_frames(frames)
    assert rep.violations == 0 and rep.lost == 0 and rep.cannot_judge() == []
    # ... and the counters are still judged there: a repeated 1DA, with the time of the one before, is a fault.
    rep = check.check_frames(_duplicate_first(frames, 0x1DA)[0])
    assert rep.violations == 1 and rep.ids[0x1DA].counter_faults == 1 and rep.cannot_judge() == []


def test_cli_time_going_backwards_says_where_and_by_how_much(tmp_path):
    # The last two thirds of a recording, then its first third (two logs concatenated in the wrong order). Before,
    # the seam gave counter "violations" and never said that time went backwards.
    frames = frames_of(ZE0)[:3000]
    swapped = tmp_path / "swapped.log"
    write_log(swapped, frames[1000:] + frames[:1000])
    rc, out, err = run_cli(swapped, ZE1)
    assert rc == 2
    back = "line 2001: %.3f s before line 2000" % (frames[2999][0] - frames[0][0])
    assert "  time goes backwards: 1 time (counters and periods are judged between those points" in out
    assert "    %s (-%.3f s)" % (back, frames[1000][0] - frames[0][0]) in out
    assert "  => 3000 frames, 0 violations, 0 lost frames" in out  # no counter faults or losses at the seam
    assert "  cannot judge: time goes backwards 1 time, first at %s" % back in out
    assert err.strip() == "check.py: %s: cannot judge: time goes backwards 1 time, first at %s" % (swapped, back)
    assert out.splitlines()[-1] == "%d frames, 0 violations" % (3000 + len(frames_of(ZE1)))  # ZE1 still checked


def test_small_reorderings_are_each_reported():
    # Two frames of different ids written in the wrong order, three times: each is a step back of that gap.
    frames = list(frames_of(ZE0)[:3000])
    swaps = [500, 1500, 2500]
    for i in swaps:
        frames[i], frames[i + 1] = frames[i + 1], frames[i]
    rep = check.check_frames(frames)
    assert [(w, wp) for _, w, _, wp in rep.backwards] == [(i + 1, i + 2) for i in swaps]  # (lines as read)
    assert [round(tp - t, 6) for t, _, tp, _ in rep.backwards] == [
        round(frames[i][0] - frames[i + 1][0], 6) for i in swaps]
    assert rep.violations == 0 and rep.lost == 0
    assert rep.cannot_judge()[0].startswith("time goes backwards 3 times, first at line 501: ")


def test_cli_no_ev_can_frames_cannot_be_judged(tmp_path):
    # Another bus (or bit rate, or filter): "0 violations" would mean nothing.
    path = tmp_path / "body-can.log"
    path.write_text("".join("(%.6f) can0 %s#0011223344556677\n" % (1700000000 + i * 0.01, ("123", "5A0")[i % 2])
                            for i in range(100)))
    rc, out, err = run_cli(path)
    assert rc == 2
    assert "  cannot judge: no EV-CAN frames (none of its 100 frames has an id the checker knows)" in out
    assert err.strip() == "check.py: %s: cannot judge: no EV-CAN frames (none of its 100 frames has an id the " \
                          "checker knows)" % path
    assert out.splitlines()[-1] == "100 frames, 0 violations"


def test_cli_timestamps_that_do_not_resolve_the_period(tmp_path):
    # Every frame with one timestamp (a converter that drops them): the counters are still checked (the repeated
    # 1DA is a violation), but lost frames cannot be told from faults, so the log cannot be judged. Before, the
    # median step of 0 ms silently switched the counter checks off: "0 violations", exit 0.
    frames, copy = _duplicate_first(_retimed(frames_of(ZE0)[:3000], lambda t: 1700000000.0), 0x1DA)
    path = tmp_path / "no-time.log"
    write_log(path, frames)
    rc, out, err = run_cli(path)
    assert rc == 2
    assert "    1DA line %d, +0.000 s: counter " % (copy + 1) in out and "(repeated)" in out
    assert "  => 3001 frames, 1 violations, 0 lost frames" in out
    assert "cannot judge: the timestamps do not resolve the period of 11A, 1D4, 1DA, 1DB, 1DC, 1F2, 50B, 50C, " \
           "55A, 55B (most of its frames carry" in err
    assert out.splitlines()[-1] == "3001 frames, 1 violations"


def test_help_defines_what_cannot_be_judged():
    p = subprocess.run([sys.executable, CHECK, "--help"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0
    for words in ("A log cannot be judged", "no EV-CAN frames", "time goes backwards",
                  "do not resolve an id's period", "2 unreadable input or a log that cannot be judged"):
        assert words in p.stdout
