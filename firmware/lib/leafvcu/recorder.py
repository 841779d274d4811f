"""The flight recorder: the last seconds of the bus and of the controller's own signals, always, in RAM; frozen on
a fault with a few seconds after it, then written to flash once no HV relay is closed.

One preallocated ring of RECORDS records of 16 bytes (little endian), one timeline:
    (a record never written has the header word 0xFFFF: the file holds the whole ring, readers skip those)
    0..3    ticks_us() when the driver moved the frame (TX: loaded for sending, a batch's frames at one time; RX:
            read out of the chip)
    4..5    bits 0..10 CAN id, bits 11..14 DLC (0..8; 15 = a signals record), bit 15 = sent by the controller
    6..13   the data bytes (a frame) / mode, relays, pedal (0.1 %, u16), torque request (0.25 Nm, s16),
            DC voltage (V, u16) (a signals record)
    14..15  unused (a frame) / motor speed (rpm, s16) (a signals record)
The signals record, one per 10 ms job, is also what keeps the timeline readable: ticks_us() wraps every 17.9
minutes, and with a record at least every 10 ms the host unwraps the times from the newest backwards.
Extended-id frames (none on a Leaf bus: the acceptance filters admit standard ids only) are not recorded.

Hooks (the shell wires them; see `attach`): the MCP2515 driver's `tap` calls frame() for every frame it loads
for sending and every frame it reads out, but the devices' prepared frames, which devices.Frames hands to
batch() a batch at a time; the 10 ms job calls tick() after the core stepped; the 100 ms job calls idle(); the
safe state and a maintenance stop call flush() once every relay pin is low. frame(), batch() and tick() allocate
nothing (tests/cross/test_recorder_alloc.py).

States: RUN (recording) -> a new latching fault in the fault log -> POST (recording POST_MS more, but at most half the ring, so at
least half of it is from before the fault) -> HELD (frozen: frames are no longer recorded) -> SAVING once no HV
relay is closed (vcm.hv_lock and every relay output off: a flash write stalls the ESP32 for tens of ms), one
CHUNK per 100 ms job, pausing whenever HV comes back -> RUN. Another fault while POST, HELD or SAVING is in the
same recording or not recorded at all (the first fault's window is what the recording is about).

On flash: at most SLOTS recordings, /rec0.bin .. /rec{SLOTS-1}.bin. A save writes /rec.tmp whole (header, the
records oldest first, CRC-32 of everything before it), closes it and renames it over the slot of the oldest
recording (or a free slot). LittleFS renames atomically; on FAT the old slot is removed first. A power cut loses
at most the recording being written (a /rec.tmp left over is overwritten by the next save and never listed), or
on FAT the oldest one it was replacing. The file header (HEADER bytes):
    0..5  b"LVREC1"   6 header size   7 record size   8..11 sequence number (1, 2, ...; the oldest is the lowest)
    12 fault code   13 boot count (faults.boot)   14..15 0   16..19 fault a   20..23 fault b (s32)
    24..27 ticks_ms at the fault   28..31 ticks_us at the fault   32..35 records   36..39 POST_MS
A recording of RECORDS records is 128 KB + 44 bytes.
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


from leafvcu.compat import ticks_diff
from struct import pack_into as _pack_into
from leafvcu.faults import LATCHING

RECORDS = const(8192)     # ring size: 128 KB, ~10.5 s at ~780 records/s (see docs/recorder.md for the choice)
RECORDS_SMALL = const(1024)  # what a board without PSRAM gets when the big ring does not fit
REC = const(16)
POST_MS = const(2000)     # recorded after the fault: the safe state (torque 0, contactors opening) and after
SLOTS = const(5)          # recordings kept on flash
CHUNK = const(4096)       # bytes written per 100 ms job while saving
HEADER = const(40)
MAGIC = b"LVREC1"
TMP = "/rec.tmp"

_SIG = const(15)          # the DLC field of a signals record (a frame's DLC is 0..8)
_ID_MAX = const(0x7FF)

RUN = const(0)
POST = const(1)
HELD = const(2)
SAVING = const(3)
STATE_NAMES = ("recording", "recording after a fault", "frozen, waiting for every HV relay to open",
               "saving to flash")


def slot_path(k):
    return "/rec%d.bin" % k


def _put32(b, o, v):
    b[o] = v & 0xFF
    b[o + 1] = (v >> 8) & 0xFF
    b[o + 2] = (v >> 16) & 0xFF
    b[o + 3] = (v >> 24) & 0xFF


def _get32(b, o):
    v = b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)
    return v - (1 << 32) if v & 0x80000000 else v


def _crc(data, crc=0):
    # binascii.crc32 where the port has it (the ESP32 and CPython do), else settings' fallback
    try:
        from binascii import crc32
    except ImportError:
        from leafvcu.settings import crc32_py

        if crc:
            raise ValueError("incremental CRC needs binascii")
        return crc32_py(data)
    return crc32(data, crc) & 0xFFFFFFFF


class Recorder:
    """clock: the time API (ticks_us); vcm, inv: the core and the decoded 1DA the signals come from; faults: the
    latched set that triggers a recording (vcm.faults); fs: the file system (settings.OsFs's interface), None for
    a recorder that never writes (the host's tests that give the App no file system)."""

    def __init__(self, clock, vcm, inv, fs=None, records=RECORDS, post_ms=POST_MS, slots=SLOTS):
        self._us = clock.ticks_us
        self.vcm = vcm
        self.inv = inv
        self.faults = vcm.faults
        self.fs = fs
        try:
            self.buf = bytearray(records * REC)
        except MemoryError:  # an ESP32 without PSRAM: a short window rather than no controller
            records = RECORDS_SMALL
            self.buf = bytearray(records * REC)
        self.records = records
        self.size = records * REC
        self.post_ms = post_ms
        self.post_max = records // 2
        self.slots = slots
        self.o = 0            # byte offset of the next record; the oldest is there too once the ring wrapped
        self._tb = bytearray(4)   # batch(): the batch's time, little endian, copied into each of its records
        b = self.buf
        k = 4
        while k < self.size:  # every record empty (header word 0xFFFF) until written: no wrap flag to keep
            b[k] = 0xFF
            b[k + 1] = 0xFF
            k += REC
        self.state = RUN
        self._seen = 0        # the latched set at the last tick (a new bit triggers)
        self._count = -1      # the fault log's count at the last tick; -1: no tick yet
        self._li = -1         # the triggering fault's log index
        self._o_fault = 0     # where the ring was at the fault
        self.code = 0
        self.a = 0
        self.b = 0
        self.boot = 0
        self.t_ms = 0
        self.t_us = 0
        self.skipped = 0      # frames not recorded: extended ids, or while frozen
        self.saved = []       # sequence numbers of the recordings written since boot (their times are this boot's)
        self.error = None     # why the last save failed
        self._f = None
        self._pos = 0
        self._crcv = 0
        self._n = 0
        self._seq = 0

    # --- the hot path: allocation-free ----------------------------------------------------------------------
    def frame(self, can_id, data, dlc, tx):
        """The driver's tap: one frame moved (tx 1: loaded for sending, 0: read out of the chip). Inline and short:
        it runs for every frame, about 6 per 10 ms cycle (its cost: tools/bench.py). tick() notes the wrap."""
        if self.state >= HELD or can_id > _ID_MAX:
            self.skipped += 1
            return
        can_id |= (dlc << 11) | (tx << 15)   # the record's header word
        tx = self.o                           # (tx reused: the record's offset)
        self.o = tx + REC if tx + REC < self.size else 0
        _pack_into("<IH", self.buf, tx, self._us(), can_id)
        if len(data) == dlc:
            self.buf[tx + 6:tx + 6 + dlc] = data  # a slice of a built-in type is not put on the heap (MicroPython >= 1.22)
        else:
            self._copy(tx + 6, data, dlc)

    def batch(self, sl, went):
        """Frames' tap (devices.Frames): one batch of prepared frames loaded for sending, sl[i] (a devices.Slot:
        its header word `hdr` as 2 bytes, its data `buf`) for each bit i of `went`, with the batch's time (the
        frames of a batch are loaded within a few hundred us; one call per batch instead of one per frame).
        Three slice copies per frame, of fixed lengths (the call frame stays within 11 words: no pack_into)."""
        if self.state >= HELD:
            while went:
                self.skipped += went & 1
                went >>= 1
            return
        o = self._us()   # (o: the time first, then the offset)
        _pack_into("<I", self._tb, 0, o)
        b = self.buf
        o = self.o
        i = 0
        while went:
            if went & 1:
                b[o:o + 4] = self._tb
                b[o + 4:o + 6] = sl[i].hdr
                b[o + 6:o + 14] = sl[i].buf   # all 8 bytes (a reader takes the DLC's)
                o += REC
                if o >= self.size:
                    o = 0
            went >>= 1
            i += 1
        self.o = o

    def _copy(self, o, data, dlc):
        # A data buffer longer than the DLC (a 7-byte 50B from an 8-byte buffer): byte by byte, as a slice
        # assignment of another length would resize the ring.
        b = self.buf
        k = 0
        while k < dlc:
            b[o + k] = data[k]
            k += 1

    def tick(self, now_ms):
        """The 10 ms job, after the core stepped: a signals record, and the fault trigger."""
        st = self.state
        if st >= HELD:
            return
        self._sample()
        f = self.faults
        if f.count != self._count or f.latched != self._seen:
            f = self._new_fault()
            if f and st == RUN:
                self._trigger(now_ms, f)
                return
        if st == POST and (ticks_diff(now_ms, self.t_ms) >= self.post_ms or self.post_records() >= self.post_max):
            self.state = HELD

    def post_records(self):
        """Records taken since the fault (less than a ring: POST ends at half of one)."""
        d = self.o - self._o_fault
        return (d + self.size if d < 0 else d) // REC

    def _new_fault(self):
        # The first latching fault logged since the last tick (0: none). By the log, not the latched set: a code
        # cleared and latched again between two ticks, or latched and already cleared again by the step (a key
        # cycle with the key off), changes no bit that the tick sees, but its trip wrote a log entry. The latched
        # set is the fallback once the log's count saturates (65535 entries).
        f = self.faults
        code = 0
        k = f.count - self._count
        if self._count < 0:
            pass  # the first tick: what start() latched (a watchdog reset, no CAN chip) has no window before it
        elif k > 0:
            n = f.size if f.count >= f.size else f.count
            if k > n:
                k = n
            i = f.head - k
            if i < 0:
                i += f.size
            while k > 0:
                c = f._code[i]
                if c in LATCHING:
                    code = c
                    self._li = i
                    break
                i += 1
                if i >= f.size:
                    i = 0
                k -= 1
        elif f.latched & ~self._seen:
            new = f.latched & ~self._seen
            self._li = -1
            while not (new >> code) & 1:
                code += 1
        self._seen = f.latched
        self._count = f.count
        return code

    def _sample(self):
        # One signals record (the record-taking of frame(), inline).
        o = self.o
        self.o = o + REC if o + REC < self.size else 0
        v = self.vcm
        w = v.mode | (v.relay_main << 8) | (v.relay_pre << 9) | (v.relay_neg << 10)  # (bools shift as 0 / 1)
        _pack_into("<IHH", self.buf, o, self._us(), _SIG << 11, w)  # mode, then the relay bits
        _pack_into("<hh", self.buf, o + 8, v.pedal.demand, v.torque)
        v = self.inv
        _pack_into("<hh", self.buf, o + 12, v.dc_voltage, v.speed_rpm)

    def _trigger(self, now_ms, code):
        f = self.faults
        self.code = code
        i = self._li
        self.a = f._a[i] if i >= 0 else 0  # the log entry: what caused it
        self.b = f._b[i] if i >= 0 else 0
        self.boot = f.boot & 0xFF
        self.t_ms = now_ms
        self.t_us = self._us()
        self._o_fault = self.o
        self.state = POST

    # --- saving: the 100 ms job, HV off only -----------------------------------------------------------------
    def hv_closed(self):
        v = self.vcm
        return v.hv_lock or v.relay_main or v.relay_pre or v.relay_neg

    def idle(self, now_ms):
        """The 100 ms job: one step of a pending save, when no HV relay is closed."""
        if self.state >= HELD and not self.hv_closed():
            self._save_step()

    def _save_step(self):
        if self.fs is None:
            self._resume()
            return
        try:
            if self.state == HELD:
                self._open()
            else:
                self._write_step()
        except OSError as e:
            self._abandon("save failed: %s" % ("filesystem full" if e.args and e.args[0] == 28 else e))

    def flush(self):
        """The shell stopped for good (Ctrl-C, an exception, a reset) and every relay pin is low: the pending
        recording (frozen, or still recording after its fault) goes to flash at once, blocking."""
        if self.state == RUN or self.fs is None:
            return
        if self.state == POST:
            self.state = HELD
        n = self.size // CHUNK + 4
        while self.state != RUN and n > 0:
            self._save_step()
            n -= 1

    def _open(self):
        fs = self.fs
        n = self.records
        h = bytearray(HEADER)
        self._seq = self._next_seq()
        h[0:6] = MAGIC
        h[6] = HEADER
        h[7] = REC
        _put32(h, 8, self._seq)
        h[12] = self.code
        h[13] = self.boot
        _put32(h, 16, self.a)
        _put32(h, 20, self.b)
        _put32(h, 24, self.t_ms)
        _put32(h, 28, self.t_us)
        _put32(h, 32, n)
        _put32(h, 36, self.post_ms)
        self._f = fs.open(TMP, "wb")
        self._f.write(h)
        self._crcv = _crc(h)
        self._pos = 0
        self._n = n * REC
        self.state = SAVING

    def _write_step(self):
        # The whole ring, oldest first: from o to the end, then from 0 to o (records never written are empty:
        # header word 0xFFFF, skipped by the readers).
        mv = memoryview(self.buf)
        start = self.o
        left = self._n - self._pos
        if left > 0:
            k = CHUNK if left > CHUNK else left
            a = (start + self._pos) % self.size
            if a + k > self.size:
                k = self.size - a
            part = mv[a:a + k]
            self._f.write(part)
            self._crcv = _crc(part, self._crcv)
            self._pos += k
            return
        t = bytearray(4)
        _put32(t, 0, self._crcv)
        f = self._f
        f.write(t)
        f.close()
        self._f = None
        slot = self._slot()
        fs = self.fs
        try:
            fs.rename(TMP, slot_path(slot))  # LittleFS: replaces the old recording in one step
        except OSError:
            try:
                fs.remove(slot_path(slot))  # FAT: a rename does not replace; the oldest goes first
            except OSError:
                pass
            fs.rename(TMP, slot_path(slot))
        self.saved.append(self._seq)
        self.error = None
        self._resume()

    def _abandon(self, why):
        self.error = why
        f = self._f
        self._f = None
        if f is not None:
            try:
                f.close()
            except OSError:
                pass
        try:
            self.fs.remove(TMP)
        except OSError:
            pass
        self._resume()

    def _resume(self):
        self.state = RUN
        self._seen = self.faults.latched  # what is latched now does not trigger again
        self._count = self.faults.count

    # --- the recordings on flash (console; allocates) --------------------------------------------------------
    def headers(self):
        """[(slot, seq, code, boot, a, b, t_ms, records, bytes)] of the complete recordings on flash, by
        sequence number (oldest first)."""
        out = []
        if self.fs is None:
            return out
        k = 0
        while k < self.slots:
            h = self._header(slot_path(k))
            if h is not None:
                out.append((k,) + h)
            k += 1
        out.sort(key=lambda r: r[1])
        return out

    def _header(self, path):
        fs = self.fs
        try:
            size = fs.stat(path)[6]
            f = fs.open(path, "rb")
        except OSError:
            return None
        try:
            h = f.read(HEADER)
        finally:
            f.close()
        if len(h) < HEADER or h[0:6] != MAGIC:
            return None
        return (_get32(h, 8), h[12], h[13], _get32(h, 16), _get32(h, 20), _get32(h, 24), _get32(h, 32), size)

    def _next_seq(self):
        seq = 0
        for r in self.headers():
            if r[1] > seq:
                seq = r[1]
        return seq + 1

    def _slot(self):
        # A free slot, else the oldest recording's.
        used = self.headers()
        taken = [r[0] for r in used]
        k = 0
        while k < self.slots:
            if k not in taken:
                return k
            k += 1
        return used[0][0]

    def clear(self):
        """Removes every recording (the console refuses this while HV is on). Returns how many went."""
        n = 0
        k = 0
        while k < self.slots:
            try:
                self.fs.remove(slot_path(k))
                n += 1
            except OSError:
                pass
            k += 1
        return n

    def status(self):
        """One line: what the recorder does now."""
        text = STATE_NAMES[self.state]
        if self.state == SAVING and self._n:
            text += " %d %%" % (self._pos * 100 // self._n)
        if self.state != RUN:
            from leafvcu import faults as F

            text += " (%s)" % F.name(self.code)
        return "recorder: %s; window %d records (%d KB)%s" % (
            text, self.records, self.size // 1024, "; " + self.error if self.error else "")


def attach(app, fs=None):
    """Builds the recorder of an App and wires the driver's tap (the two other hooks are calls in the 10 ms and
    100 ms jobs). fs None: the board's own flash under MicroPython; on CPython (host tests that give the App no
    file system) nothing is written, the recording stays in RAM."""
    if fs is None:
        import sys

        if sys.implementation.name == "micropython":
            from leafvcu.settings import OsFs

            fs = OsFs()
    rec = Recorder(app.clock, app.vcm, app.inv, fs)
    wire(app, rec)
    return rec


def wire(app, rec):
    """The taps: the driver's (every frame it moves but the prepared ones) and the devices' batches of prepared
    frames (devices.Frames.tap)."""
    app.can.tap = rec.frame
    app.frames.tap = rec.batch
