"""The flight recorder's files (firmware/lib/leafvcu/recorder.py) on the host: read one, write it out as a candump
`-L` log (what ./run check, python-can and SavvyCAN read), the controller's signals as CSV beside it, and a PNG
plot of the window (the simulator's plotter).

    ./run python tools/recording.py FILE.bin [OUTDIR]     one recording -> OUTDIR/NAME.{log,csv,png}

tools/deploy.py `recorder pull` and tools/sim.py `run --recorder DIR` use `export()`.

Times: the board's ticks_us() wrap every 2**30 us; a recording has a record at least every 10 ms (the signals),
so each record's time is unwrapped from the newest backwards. The candump times are seconds of the board's
microsecond clock (the simulator's recording: simulated seconds + its log epoch, the same as its bus log).
"""

import csv
import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for _p in (HERE, os.path.join(REPO, "firmware", "lib")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from leafvcu import recorder as R  # noqa: E402
from leafvcu import faults as F  # noqa: E402
from leafvcu import vcm as V  # noqa: E402

PERIOD = 1 << 30
SIG = 15


class BadRecording(Exception):
    pass


class Recording:
    """A decoded file: seq, code, fault (name), boot, a, b, t_ms, t_us (the fault's ticks), post_ms; frames
    [(t_us, can_id, data bytes, tx bool)]; samples [(t_us, mode, main, pre, neg, pedal %, torque Nm, udc V,
    speed rpm)]; fault_us: the fault on the same (unwrapped) time axis."""

    def __init__(self, data, name="recording"):
        self.name = name
        if len(data) < R.HEADER + 4 or data[:6] != R.MAGIC:
            raise BadRecording("%s: not a flight recording" % name)
        hsize = data[6]
        rsize = data[7]
        body_end = len(data) - 4
        if zlib.crc32(data[:body_end]) & 0xFFFFFFFF != struct.unpack_from("<I", data, body_end)[0]:
            raise BadRecording("%s: checksum wrong (a damaged or incomplete file)" % name)
        (self.seq, self.code, self.boot, _, self.a, self.b, self.t_ms, self.t_us, n, self.post_ms) = \
            struct.unpack_from("<IBBHiiIIII", data, 8)
        self.fault = F.name(self.code)
        if hsize + n * rsize != body_end:
            raise BadRecording("%s: %d records announced, %d bytes present" % (name, n, body_end - hsize))
        raw = [data[hsize + k * rsize: hsize + (k + 1) * rsize] for k in range(n)]
        raw = [r for r in raw if r[4:6] != b"\xff\xff"]  # never written (a ring that had not yet wrapped)
        times = unwrap([struct.unpack_from("<I", r, 0)[0] for r in raw])
        self.frames = []
        self.samples = []
        for t, r in zip(times, raw):
            w = r[4] | (r[5] << 8)
            dlc = (w >> 11) & 15
            if dlc == SIG:
                mode, relays = r[6], r[7]
                pedal, torque, udc, speed = struct.unpack_from("<HhHh", r, 8)
                self.samples.append((t, mode, relays & 1, (relays >> 1) & 1, (relays >> 2) & 1, pedal / 10.0,
                                     torque / 4.0, udc, speed))
            else:
                self.frames.append((t, w & 0x7FF, bytes(r[6:6 + min(dlc, 8)]), bool(w >> 15)))
        # the fault's microsecond tick on the unwrapped axis: the newest time at or before it
        self.fault_us = None
        if times:
            last = times[-1]
            self.fault_us = last - ((last - self.t_us) % PERIOD)

    @property
    def start_us(self):
        ts = [s[0] for s in self.samples] + [f[0] for f in self.frames]
        return min(ts) if ts else 0

    @property
    def end_us(self):
        ts = [s[0] for s in self.samples] + [f[0] for f in self.frames]
        return max(ts) if ts else 0

    def basename(self):
        return "rec%04d-%s" % (self.seq, self.fault)


def unwrap(ticks):
    """ticks_us values (oldest first, wrapping at 2**30) -> microseconds on one axis, the newest at its own
    value (so a recording that did not wrap keeps the board's ticks)."""
    if not ticks:
        return []
    out = [0] * len(ticks)
    t = ticks[-1]
    out[-1] = t
    for k in range(len(ticks) - 2, -1, -1):
        t -= (ticks[k + 1] - ticks[k]) % PERIOD
        out[k] = t
    return out


def read(path):
    with open(path, "rb") as f:
        return Recording(f.read(), os.path.basename(path))


def write_candump(rec, path, epoch=0.0, channel="can0"):
    """Every frame as candump -L: `(seconds) can0 ID#DATA`; sent and received alike, as a bus logger sees them."""
    with open(path, "w") as f:
        for t, can_id, data, _tx in rec.frames:
            f.write("(%.6f) %s %03X#%s\n" % (epoch + t / 1e6, channel, can_id, data.hex().upper()))


def write_csv(rec, path, epoch=0.0):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time_s", "mode", "relay_main", "relay_pre", "relay_neg", "pedal_pct", "torque_req_nm",
                    "udc_v", "speed_rpm"])
        for t, mode, m, p, n, pedal, tq, udc, speed in rec.samples:
            w.writerow(["%.6f" % (epoch + t / 1e6), V.MODE_NAMES[mode] if mode < len(V.MODE_NAMES) else mode,
                        m, p, n, "%.1f" % pedal, "%.2f" % tq, udc, speed])


def write_plot(rec, path, epoch=0.0):
    """The simulator's plotter (tools/sim.py plot()) over the window; time 0 = the fault. The effective torque is
    what the inverter reports in the recorded 1DA frames."""
    import sim
    from leafvcu import frames as fr

    t0 = rec.fault_us if rec.fault_us is not None else rec.start_us
    st = fr.InverterStatus()
    inv = []
    for t, can_id, data, tx in rec.frames:
        if can_id == 0x1DA and not tx and len(data) == 8:
            fr.decode_1da(data, st, 8)
            inv.append((t, st.torque_raw * 0.5))
    rows = []
    k = 0
    tq = float("nan")
    for t, mode, m, p, n, pedal, req, udc, speed in rec.samples:
        while k < len(inv) and inv[k][0] <= t:
            tq = inv[k][1]
            k += 1
        rows.append(((t - t0) / 1e6, pedal, req, tq, speed, udc, mode, 0, 0, 0))
    sim.plot(rows, path, "%s: %s a=%d b=%d (time 0: the fault)" % (rec.basename(), rec.fault, rec.a, rec.b),
             speed_label="speed rpm", xlabel="time s (0 = the fault)")


def export(rec, outdir, epoch=0.0, plot=True):
    """NAME.log (candump -L), NAME.csv, NAME.png in outdir; returns the paths written."""
    os.makedirs(outdir, exist_ok=True)
    base = os.path.join(outdir, rec.basename())
    out = [base + ".log", base + ".csv"]
    write_candump(rec, out[0], epoch)
    write_csv(rec, out[1], epoch)
    if plot:
        write_plot(rec, base + ".png", epoch)
        out.append(base + ".png")
    return out


def describe(rec):
    return "%s: %s a=%d b=%d, %d frames, %d signal samples, %.1f s before the fault, %.1f s after" % (
        rec.basename(), rec.fault, rec.a, rec.b, len(rec.frames), len(rec.samples),
        ((rec.fault_us or 0) - rec.start_us) / 1e6, (rec.end_us - (rec.fault_us or 0)) / 1e6)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or len(argv) > 2:
        print(__doc__.split("\n\n")[1])
        return 2
    try:
        rec = read(argv[0])
    except (OSError, BadRecording) as e:
        print("recording: %s" % e, file=sys.stderr)
        return 1
    for p in export(rec, argv[1] if len(argv) > 1 else "."):
        print(p)
    print(describe(rec))
    return 0


if __name__ == "__main__":
    sys.exit(main())
