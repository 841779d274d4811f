"""The device seam: one module per CAN peer, each owning a table of its frames; the shell runs the tables.

A device (dev_*.py) is a class with two declarative tables and the methods they name:

    TX = ((can_id, dlc, period_ms, phase_ms, job, how, encoder, n0, nmod), ...)   what it sends
    RX = ((can_id, decoder), ...)                                               what it receives

    can_id, dlc   the frame (dlc: the longest; the encoder returns the DLC it filled, 0 = not this time)
    period_ms     10, or a multiple of the job's period (a slower frame rides a faster job on some runs); 0: once
                  per wake-up, before the first 50B (J10B rows only: one per +5 ms run, in table order; the 100 ms
                  job's wake-up waits for them)
    phase_ms      which run of the job within the period: the frame goes when the job's run count times its
                  period, modulo period_ms, equals phase_ms (0: the runs 0, period, 2 period ...). For a lent row a
                  preference: the packer below may move it to another phase or to the +8 ms batch
    job           J10 (10 ms grid +0 ms), J10B (+5 ms, else +8 or +4 ms: see the packer below), J100 (100 ms grid
                  +3 ms)
    how           PIN: a pinned TX buffer, loaded data-only in the job's batch (J10 only, at most three in all
                  the enabled devices: TXB2, TXB1, TXB0 in table order, so the first leaves first);
                  PIN_LEND: pinned at +0 when a buffer is left after the PIN rows, else LEND at +5;
                  LEND: a whole frame into a buffer the driver lends, all of a batch's rows with one READ STATUS
                  and one RTS; SEND: driver.send(), after the job's batch (own READ STATUS, RTS)
    encoder       name of a method enc(buf, n) -> DLC or 0: fills buf (8 bytes, the row's own) from the core's
                  published decisions and the device's state; n is the row's counter. Allocation-free. PIN / LEND
                  rows always go with the row's DLC (their buffer is a prepared SPI transfer, mcp2515
                  tx_*_prepared); SEND rows with the DLC the encoder returns (50B: 6 or 7).
    n0, nmod      counter: the first frame carries n0, each frame that was LOADED advances it by one modulo
                  nmod ("load, then count": a receiver sees +1 per frame it gets); nmod 0 = no counter
    decoder       name of a method dec(data, dlc) called for every received frame of can_id. Allocation-free.

Supervision of what a device receives is the device's too, declared next to RX (link.py says how it counts):

    WATCH = ((can_id, state, limit), ...)   the frames that say its peer is alive, into its link (`self.link`)

    can_id        a frame of RX; state: the name of the device's attribute holding its decoded state object (the
                  codec's good-frame count); limit: the name of the parameter that is its stale limit (ms)

The first row is the heartbeat, further rows must keep up with it (a ZE1: 1DA, then 0x120). The shell runs the
watches (link.Links: `supervise(now_ms)` before every step of the core, `paused(ms)` after the controller's own
pause, `limits()` when parameters changed: the stale limits are read then); the device's link is the object the
core reads (fresh, age, and `mask`, the error bits that are a fault, which the device sets), so the core computes
no freshness of its own.

The device also has `woke()` (the first 50B of a wake-up: start-up order begins again), `name` (what `status`
and the selftest report) and whatever supervision it owns. It reads the core through `app` (app.vcm: mode,
torque, relays, wake, charge power; app.params; app.elapsed(): ms since the wake-up, measured at the start of
the running job). It never touches the CAN controller: the shell (`Frames`) owns buffers, counters, TX buffer
pinning and the acceptance filters, so "load, then count" and the batches are written once, here.

Lent rows are packed at configuration into three batches: +5 ms, then +8 ms, then +4 ms (App.tick10d), at most
three frames each in every 10 ms cycle (three TX buffers; a batch's frames leave the bus within a millisecond).
The 10 ms rows are placed first (a slower row can dodge a full cycle, a 10 ms row cannot), each slower row at its
preferred phase or the first phase where it fits; the +5 ms job's SEND rows count in their cycles. A row that
fits nowhere is not sent and is listed in `unplaced` (`stats` shows it). The result is a plan: for each batch and
each of the 100 cycles of a second, the tuple of slots due then, so a batch runs exactly its due frames with no
test per row. A frame whose batch finds no TX buffer free (the bus has not taken the batch before: a job that
ran late, a busy bus) goes with the next lent batch (Frames._keep).

Which devices run: `selected(app)` from the parameters (inverter, charger, spoof: HV-locked), in the order
inverter, charger, battery (the order of their rows in a batch). A change of the selection re-pins the TX
buffers and re-filters (configuration, allocates once; HV-locked, so never with a relay closed).
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


from leafvcu.compat import ticks_add, ticks_diff
from leafvcu.faults import FRAME_MISSING


# Row fields (TX)
T_ID = const(0)
T_DLC = const(1)
T_PERIOD = const(2)
T_PHASE = const(3)
T_JOB = const(4)
T_HOW = const(5)
T_ENC = const(6)
T_N0 = const(7)
T_NMOD = const(8)

# Jobs (the App's schedule) and their periods
J10 = const(0)
J10B = const(1)
J100 = const(2)
JOB_NAMES = ("10ms", "10ms+5", "100ms")
_JOB_MS = (10, 10, 100)

# How a frame reaches the controller
PIN = const(0)
PIN_LEND = const(1)
LEND = const(2)
SEND = const(3)
HOW_NAMES = ("pinned", "pinned-or-lent", "lent", "send")

_CARRY = const(6)   # lent frames that may wait for a next batch (Frames._keep)
_TRIES = const(2)   # how many next batches
EXPECT_GRACE_MS = const(1000)   # a watched frame's sender may take this long after a wake-up to start

# TX buffers for pinned rows, in row order: on equal priority the MCP2515 sends the higher buffer first.
PIN_TXBS = (2, 1, 0)


class Device:
    """Base: empty tables, nothing to do at a wake-up. Subclasses set TX, RX, KIND and name."""

    KIND = ""     # "inverter", "charger", "battery"
    TX = ()
    RX = ()
    WATCH = ()    # ((can_id, state, limit), ...): the frames that say its peer is alive (link.py)
    link = None   # a device with WATCH rows: the link.Link its rows feed (the one the core reads)
    EXPECT = ()   # ((can_id, period_ms), ...): frames another node must send for a peer's sake (Heard)
    RX_FIRST = ()  # received ids that open a burst (the peer sends another frame right after): for RXB0

    def __init__(self, app):
        self.app = app
        self.vcm = app.vcm
        self.p = app.params
        self.name = ""

    def woke(self):
        pass

    def state(self):
        """One short word for `status` (allocates: console only)."""
        return self.name


class Slot:
    """One TX row of an enabled device, made at configuration: its own 8-byte buffer and counter."""

    def __init__(self, dev, row, txb):
        self.dev = dev
        self.can_id = row[T_ID]
        self.dlc = row[T_DLC]
        self.period_ms = row[T_PERIOD]
        self.every = row[T_PERIOD] // _JOB_MS[row[T_JOB]]
        self.phase = row[T_PHASE] // _JOB_MS[row[T_JOB]]
        self.enc = getattr(dev, row[T_ENC])   # bound method made once
        # A prepared frame for the driver (mcp2515 tx_*_prepared): the encoder writes the data straight into the
        # SPI transfer, nothing is copied on the way to the chip.
        dlc = self.dlc
        raw = self.raw = bytearray(14)
        self.buf = memoryview(raw)[6:]
        self.vfull = memoryview(raw)[:6 + dlc]
        self.vdata = memoryview(raw)[5:6 + dlc]
        self.n = row[T_N0]
        self.nmod = row[T_NMOD] or 1   # no counter: n stays 0
        self.txb = txb
        # Supervision (Frames.check): when the frame last went, or its device chose not to send it (ms ticks);
        # how long it may be away; whether it is reported missing now.
        self.ok = 0
        self.late = _late_ms(row[T_PERIOD])
        self.gone = False
        self.tries = 0    # lent batches it was carried to (Frames._keep)
        h = self.can_id | (dlc << 11) | 0x8000
        self.hdr = bytes((h & 0xFF, h >> 8))   # the recorder's header word (id, DLC, sent), little endian


class Heard:
    """A frame another node must send (a Device's EXPECT row: a 62 kWh pack's 1C2 / 1ED / 5EB for a ZE1): its
    decoder only counts; Frames.check ages it, as a TX row's."""

    def __init__(self, can_id, period_ms):
        self.can_id = can_id
        self.late = _late_ms(period_ms)
        self.n = 0        # frames received
        self.seen = 0     # n at the last check
        self.ok = 0       # ms tick when n last moved (or the wake-up, plus the start-up grace)
        self.gone = False

    def dec(self, data, dlc):
        self.n += 1


def _shift(sl, ms):
    i = 0
    while i < len(sl):
        s = sl[i]
        s.ok = ticks_add(s.ok, ms)
        i += 1


def _late_ms(period_ms):
    # Missing: not on the bus for three periods and 100 ms (a frame one batch late is not missing).
    return 3 * period_ms + 100


class Frames:
    """Runs the enabled devices' tables for the App: `pinned()` in the +0 ms job, `batch(0, runs)` and
    `sends(runs)` in the +5 ms job, `batch(1, runs)` at +8 ms, `batch(2, runs)` at +4 ms, `slow(runs)` in the
    100 ms job (runs: that job's run count, for the slower rows); `rx` (id -> decoder) is what App.on_frame hands
    every received frame to (the devices' WATCH rows run in link.Links). Lists are built at configure(); the
    runs allocate nothing."""

    def __init__(self, can):
        self.can = can
        self.devs = ()
        self.pin = []     # Slots of the +0 ms batch (pinned buffers)
        self.lend = []    # Slots of the +5 ms batch (lent buffers)
        self.lend8 = []   # Slots of the +8 ms batch
        self.lend4 = []   # Slots of the +4 ms batch
        self.plan = _EMPTY_PLAN   # per batch (+5, +8, +4): per cycle of a second, the tuple of Slots due then
        self.carry = [None] * _CARRY   # lent frames a batch found no buffer for, for the next batch
        self.nc = 0
        self.carried = 0  # times a frame was carried to a later batch (no buffer free in its own)
        self.lost = 0     # frames that found no buffer in their batch nor in the two after it
        self.now = 0      # ms tick of the running job (the App sets it): when a frame went (Slot.ok)
        self.tx = ()      # every TX row but the wake-up ones, for check()
        self.heard = ()   # the devices' EXPECT rows (Heard)
        self.faults = None  # the App's fault log (check() notes a missing frame there)
        self.wake = []    # Slots sent once per wake-up, before the first 50B
        self.unplaced = ()  # ids of lent rows no batch had room for
        self._woken = 0   # wake rows sent in this wake-up
        self.send10 = []  # Slots sent one by one in the +5 ms job, after its batch
        self.send100 = []  # Slots of the 100 ms job
        self.rx = {}      # can_id -> bound decoder
        self.rx_ids = ()
        self.rx_first = ()  # the devices' RX_FIRST (mcp2515.plan_filters)
        self.stop = None  # the torque request's Slot (the hard stop sends it with torque 0)
        self._pinned = [None, None, None]  # (id, dlc) each TX buffer was pinned to
        # tap(slots, went): each batch's loaded frames, slots[i] for each bit i of went (recorder.batch; the
        # driver's own tap does not see prepared frames). Allocation-free.
        self.tap = None

    def configure(self, devs):
        """Builds the job lists from the devices' tables (allocates: configuration only). Raises ValueError for a
        table the shell cannot run (more than three pinned rows, a PIN row outside the +0 ms job)."""
        pin = []
        lend = []
        send10 = []
        send100 = []
        wake = []
        rx = {}
        ids = []
        left = []
        heard = []
        for d in devs:
            for row in d.TX:
                how = row[T_HOW]
                job = row[T_JOB]
                if row[T_PERIOD] == 0:
                    wake.append(Slot(d, (row[T_ID], row[T_DLC], 10, 0, J10B, SEND, row[T_ENC], row[T_N0],
                                         row[T_NMOD]), -1))
                elif how == PIN or how == PIN_LEND:
                    if job != J10 or row[T_PERIOD] != 10:
                        raise ValueError("pinned row %03X: 10 ms rows of the +0 ms job only" % row[T_ID])
                    (pin if how == PIN else left).append((d, row))
                elif how == LEND:
                    lend.append(Slot(d, row, -1))
                elif job == J100:
                    send100.append(Slot(d, row, -1))
                else:
                    send10.append(Slot(d, row, -1))
            for can_id, dec in d.RX:
                rx[can_id] = getattr(d, dec)
                ids.append(can_id)
            for can_id, period in d.EXPECT:
                h = Heard(can_id, period)
                heard.append(h)
                rx[can_id] = h.dec
                ids.append(can_id)
        if len(pin) > len(PIN_TXBS):
            raise ValueError("%d pinned rows, %d TX buffers" % (len(pin), len(PIN_TXBS)))
        slots = []
        for d, row in pin:
            slots.append(Slot(d, row, PIN_TXBS[len(slots)]))
        k = 0
        for d, row in left:
            # A buffer left after the PIN rows: pinned at +0 ms; else lent at +5 ms, ahead of the other lent rows
            # of the later devices (the order the batch hands out buffers in).
            if len(slots) < len(PIN_TXBS):
                slots.append(Slot(d, row, PIN_TXBS[len(slots)]))
            else:
                lend.insert(k, Slot(d, (row[T_ID], row[T_DLC], row[T_PERIOD], row[T_PHASE], J10B, LEND, row[T_ENC],
                                        row[T_N0], row[T_NMOD]), -1))
                k += 1
        # The counters go on across a new selection (a row of the same id keeps its count): a receiver that
        # heard the frame before would read a restart as lost frames.
        was = {}
        for s in self.tx + tuple(self.wake):
            was[s.can_id] = s.n
        for s in slots + lend + send10 + send100 + wake:
            if s.can_id in was:
                s.n = was[s.can_id] % s.nmod
        self.devs = tuple(devs)
        self.pin = slots
        self.lend, self.lend8, self.lend4, self.plan, self.unplaced = _pack(lend, send10)
        for s in slots + self.lend + self.lend8 + self.lend4:
            self.can.prepare(s, s.can_id)
        self.wake = wake
        self._woken = 0
        self._drop_carry()
        self.send10 = send10
        self.send100 = send100
        self.tx = tuple(slots + self.lend + self.lend8 + self.lend4 + send10 + send100)
        self.heard = tuple(heard)
        self.rx = rx
        self.rx_ids = tuple(ids)
        first = []
        for d in devs:
            first += d.RX_FIRST
        self.rx_first = tuple(first)
        self.stop = None
        for s in slots:
            if s.can_id == 0x1D4:
                self.stop = s

    def rows(self):
        """(job name, how, can_id, period, txb, device name) of every TX row as configured (allocates)."""
        out = []
        for s in self.pin:
            out.append(("10ms", "pinned", s.can_id, 10 * s.every, s.txb, s.dev.name))
        for s in self.lend:
            out.append(("10ms+5", "lent", s.can_id, 10 * s.every, -1, s.dev.name))
        for s in self.lend8:
            out.append(("10ms+8", "lent", s.can_id, 10 * s.every, -1, s.dev.name))
        for s in self.lend4:
            out.append(("10ms+4", "lent", s.can_id, 10 * s.every, -1, s.dev.name))
        for s in self.wake:
            out.append(("10ms+5", "wake", s.can_id, 0, -1, s.dev.name))
        for s in self.send10:
            out.append(("10ms+5", "send", s.can_id, 10 * s.every, -1, s.dev.name))
        for s in self.send100:
            out.append(("100ms", "send", s.can_id, 100 * s.every, -1, s.dev.name))
        return out

    def pin_buffers(self, all_=True):
        """Pins the TX buffers to the +0 ms rows' ids (configuration: the driver makes a header once each).
        all_ False: only the buffers whose id changed (pinning drops a pending request of that buffer)."""
        can = self.can
        for s in self.pin:
            if all_ or self._pinned[s.txb] != (s.can_id, s.dlc):
                can.pin(s.txb, s.can_id, s.dlc)
                self._pinned[s.txb] = (s.can_id, s.dlc)

    # --- the jobs ------------------------------------------------------------------------------------------------
    # Loops written out (no helper per row, no method call to count): every line here runs for every frame.
    def pinned(self):
        """The +0 ms batch: one READ STATUS, a data-only LOAD TX BUFFER per pinned row, one RTS."""
        can = self.can
        can.tx_begin()
        sl = self.pin
        k = len(sl)
        i = 0
        went = 0   # bit i: sl[i] loaded (for the tap; self.now below, not a local: the frame stays in 11 words)
        while i < k:
            s = sl[i]
            if not s.enc(s.buf, s.n):
                s.ok = self.now            # not this time, by the device's choice
            elif can.tx_load_prepared(s.txb, s):
                s.n = (s.n + 1) % s.nmod   # load, then count
                s.ok = self.now
                went |= 1 << i
            i += 1
        if went and self.tap is not None:
            self.tap(sl, went)
        can.tx_commit()

    def batch(self, b, runs):
        """Lent batch b (0: the +5 ms job's, 1: +8 ms, 2: +4 ms): the rows the plan has due in this cycle (runs:
        the 10 ms grid's count, App.cycles) in one batch of whole frames, after the frames an earlier batch had
        no buffer for; no SPI at all when there is nothing. Load, then count: a frame the driver had no buffer
        for keeps its counter and waits for the next batch (_keep)."""
        sl = self.plan[b][runs % _CYCLES]   # (the plan's tuple for this cycle: every one is due)
        runs = len(sl)   # (runs done with: the count; the names are reused so the frame stays within 11 words)
        if not runs and not self.nc:
            return
        can = self.can
        can.tx_begin()
        if self.nc:
            self._late()
        i = 0
        b = 0   # (b done with: bit i = sl[i] loaded, for the tap)
        while i < runs:
            s = sl[i]
            if s.tries:
                pass       # still carried (no buffer again just now): it stands for this one, its buffer kept
            elif not s.enc(s.buf, s.n):
                s.ok = self.now
            elif can.tx_frame_prepared(s):
                s.n = (s.n + 1) % s.nmod
                s.ok = self.now
                b |= 1 << i
            else:
                self._keep(s)
            i += 1
        if b and self.tap is not None:
            self.tap(sl, b)
        can.tx_commit()

    def sends(self, runs):
        """The +5 ms job's SEND rows due at this run, one by one after its batch (App.tick10b calls it only when
        there are any: `send10`)."""
        self._sends(self.send10, runs)

    def _late(self):
        # The carried frames first, as they are (encoded already).
        c = self.carry
        k = self.nc
        self.nc = 0
        i = 0
        while i < k:
            s = c[i]
            if self.can.tx_frame_prepared(s):
                s.n = (s.n + 1) % s.nmod
                s.ok = self.now
                s.tries = 0
                if self.tap is not None:
                    self.tap(c, 1 << i)
                c[i] = None
            else:
                c[i] = None
                self._keep(s)   # (writes at most at index i: the entries before it are done)
            i += 1

    def _keep(self, s):
        # No buffer free for s: the bus had not yet taken the frames of the batch before (a job that ran late, a
        # busy bus). It goes with one of the next two lent batches, a few ms late, instead of not at all; two
        # batches on, its row's own batch is not yet due again (the three lent batches come in turn), so a frame
        # never goes twice. Then, or with the carry full, it is lost (counted).
        if s.tries < _TRIES and self.nc < _CARRY:
            s.tries += 1
            self.carry[self.nc] = s
            self.nc += 1
            self.carried += 1
        else:
            s.tries = 0
            self.lost += 1

    def waking(self):
        """Before the first 50B of a wake-up (the +5 ms job): the next wake row, if any is left. True once every
        wake row went out (the 100 ms job may send 50B)."""
        sl = self.wake
        i = self._woken
        if i >= len(sl):
            return True
        s = sl[i]
        d = s.enc(s.buf, s.n)
        if not d or self.can.send(s.can_id, s.buf, d):
            self._woken = i + 1
        return False

    def woken(self):
        """True once the wake rows of this wake-up went out (at once when there are none)."""
        return self._woken >= len(self.wake)

    def asleep(self):
        """The frames stopped: the next wake-up sends the wake rows again; nothing carried goes."""
        self._woken = 0
        self._drop_carry()

    def _drop_carry(self):
        i = 0
        while i < self.nc:
            self.carry[i].tries = 0
            self.carry[i] = None
            i += 1
        self.nc = 0

    def slow(self, runs):
        """The 100 ms job: its rows one by one (driver.send). runs: its own count, for the slower rows."""
        self._sends(self.send100, runs)

    def _sends(self, sl, runs):
        # SEND rows one by one (driver.send: its own READ STATUS and RTS each), those due at this run.
        i = 0
        while i < len(sl):
            _send(self.can, sl[i], runs, self.now)
            i += 1

    # --- supervision: every frame a peer needs on the bus, the controller's own and the watched ones ------------
    def started(self, now):
        """A wake-up (the first 50B): every row and watched frame counts from now; a watched one gets
        EXPECT_GRACE_MS more (its sender wakes with the bus)."""
        sl = self.tx
        i = 0
        while i < len(sl):
            s = sl[i]
            s.ok = now
            s.gone = False
            i += 1
        sl = self.heard
        i = 0
        t = ticks_add(now, EXPECT_GRACE_MS)
        while i < len(sl):
            h = sl[i]
            h.seen = h.n
            h.ok = t
            h.gone = False
            i += 1

    def paused(self, ms):
        """The controller itself was frozen for about ms (sched.py): that time does not count as a frame away."""
        _shift(self.tx, ms)
        _shift(self.heard, ms)

    def check(self, now):
        """The 100 ms job, while the frames run: a row that has not gone for its `late` (three periods and
        100 ms: no free TX buffer, a full bus) or a watched frame that has not come is missing; the first check
        that finds it so notes it in the fault log (`faults`, the App's: FRAME_MISSING, a = id, b = ms away).
        Allocation-free."""
        sl = self.heard
        i = 0
        while i < len(sl):
            h = sl[i]
            if h.n != h.seen:
                h.seen = h.n
                h.ok = now
            i += 1
        self._aged(self.tx, now)
        self._aged(self.heard, now)

    def _aged(self, sl, now):
        i = 0
        while i < len(sl):
            s = sl[i]
            if ticks_diff(now, s.ok) > s.late:
                if not s.gone:
                    self._gone(s, now)
            elif s.gone:
                s.gone = False   # back (written only then: this runs for every row every 100 ms)
            i += 1

    def _gone(self, s, now):
        # Missing from now on: noted once, until it is back.
        s.gone = True
        self.faults.note(FRAME_MISSING, now, s.can_id, ticks_diff(now, s.ok))

    def missing(self):
        """"1ED,5EB": the frames missing now, or "" (allocates only when one is: `status` asks at every call)."""
        out = None
        for sl in (self.tx, self.heard):
            for s in sl:
                if s.gone:
                    if out is None:
                        out = []
                    out.append("%03X" % s.can_id)
        return ",".join(out) if out else ""

    def hard_stop(self):
        """Last resort (App._hard_stop): the torque request once more with torque 0, through its pinned buffer."""
        s = self.stop
        if s is None:
            return
        s.dev.zero_torque()
        if s.enc(s.buf, s.n):
            self.can.send_pinned(s.txb, s.buf)  # the counter stays: the last frame of this run


_CYCLES = 100   # the packer's horizon: 100 cycles of 10 ms hold every period that divides 1 s
_PER_BATCH = 3
_BATCHES = 3    # +5, +8, +4 ms
_EMPTY_PLAN = (((),) * _CYCLES,) * _BATCHES


def _due_at(s, c):
    return s.every == 1 or c % s.every == s.phase


def _pack(rows, send10):
    # Configuration: the lent rows into the +5, +8 and +4 ms batches (see the module docstring). Allocates.
    load = [[0] * _CYCLES for _ in range(_BATCHES)]
    for s in send10:
        for c in range(_CYCLES):
            if _due_at(s, c):
                load[0][c] += 1
    out = ([], [], [])
    left = []
    for s in _ten_first(rows):
        if not _place(s, load, out):
            left.append(s.can_id)
    return out[0], out[1], out[2], _plan(out), tuple(left)


def _plan(out):
    # Configuration: per batch, per cycle of a second, the tuple of its slots due then (allocates). Cycles with
    # the same slots share one tuple (a ZE1's +5 ms batch: one for all 100): less heap for a collection to walk.
    plan = []
    seen = {}
    for sl in out:
        cycles = []
        for c in range(_CYCLES):
            t = tuple([s for s in sl if _due_at(s, c)])
            cycles.append(seen.setdefault(t, t))
        plan.append(tuple(cycles))
    return tuple(plan)


def _ten_first(rows):
    # The 10 ms rows, then the slower ones, each in table order (a slower row can dodge a full cycle).
    return [r for r in rows if r.every == 1] + [r for r in rows if r.every != 1]


def _place(s, load, out):
    e = s.every
    if e > _CYCLES or _CYCLES % e:
        raise ValueError("row %03X: period %d ms does not divide 1 s" % (s.can_id, 10 * e))
    phases = [s.phase] + [p for p in range(e) if p != s.phase]
    for b in range(_BATCHES):
        for ph in phases:
            s.phase = ph
            due = [c for c in range(_CYCLES) if _due_at(s, c)]
            if all(load[b][c] < _PER_BATCH for c in due):
                for c in due:
                    load[b][c] += 1
                out[b].append(s)
                return True
    return False


def _send(can, s, runs, now):
    e = s.every
    if e != 1 and runs % e != s.phase:
        return
    d = s.enc(s.buf, s.n)
    if not d:
        s.ok = now
    elif can.send(s.can_id, s.buf, d):
        s.n = (s.n + 1) % s.nmod
        s.ok = now
