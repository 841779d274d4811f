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
    job           J10 (10 ms grid +0 ms), J10B (+5 ms, and +8 ms when +5 is full), J100 (100 ms grid +3 ms)
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
torque, relays, wake, charge power; app.params; app.el: ms since the wake-up, measured at the start of the
running job). It never touches the CAN controller: the shell (`Frames`) owns buffers, counters, TX buffer
pinning and the acceptance filters, so "load, then count" and the batches are written once, here.

Lent rows are packed at configuration: the +5 ms batch, then the +8 ms batch, at most three frames each in every
10 ms cycle (three TX buffers; a batch's frames leave the bus within a millisecond), counting the +5 ms job's SEND
rows in their cycles; a slower row takes its preferred phase or the first phase where it fits. A row that fits
nowhere is not sent and is listed in `unplaced` (`stats` shows it; docs/devices.md says which profile has one).

Which devices run: `selected(app)` from the parameters (inverter, charger, spoof: HV-locked), in the order
inverter, charger, battery (the order of their rows in a batch). A change of the selection re-pins the TX
buffers and re-filters (configuration, allocates once; HV-locked, so never with a relay closed).
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


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

# TX buffers for pinned rows, in row order: on equal priority the MCP2515 sends the higher buffer first.
PIN_TXBS = (2, 1, 0)


class Device:
    """Base: empty tables, nothing to do at a wake-up. Subclasses set TX, RX, KIND and name."""

    KIND = ""     # "inverter", "charger", "battery"
    TX = ()
    RX = ()
    WATCH = ()
    link = None   # a device with WATCH rows: the link.Link its rows feed (the one the core reads)

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


class Frames:
    """Runs the enabled devices' tables for the App: `pinned()` in the +0 ms job, `lent(runs)` in the +5 ms
    job, `slow(runs)` in the 100 ms job (runs: that job's run count, for the slower rows); `rx` (id -> decoder)
    is what App.on_frame hands every received frame to (the devices' WATCH rows run in link.Links). Lists are
    built at configure(); the runs allocate nothing."""

    def __init__(self, can):
        self.can = can
        self.devs = ()
        self.pin = []     # Slots of the +0 ms batch (pinned buffers)
        self.lend = []    # Slots of the +5 ms batch (lent buffers)
        self.lend8 = []   # Slots of the +8 ms batch
        self.wake = []    # Slots sent once per wake-up, before the first 50B
        self.unplaced = ()  # ids of lent rows no batch had room for
        self._woken = 0   # wake rows sent in this wake-up
        self.send10 = []  # Slots sent one by one in the +5 ms job, after its batch
        self.send100 = []  # Slots of the 100 ms job
        self.rx = {}      # can_id -> bound decoder
        self.rx_ids = ()
        self.stop = None  # the torque request's Slot (the hard stop sends it with torque 0)
        self._pinned = [None, None, None]  # (id, dlc) each TX buffer was pinned to

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
        self.devs = tuple(devs)
        self.pin = slots
        self.lend, self.lend8, self.unplaced = _pack(lend, send10)
        for s in slots + self.lend + self.lend8:
            self.can.prepare(s, s.can_id)
        self.wake = wake
        self._woken = 0
        self.send10 = send10
        self.send100 = send100
        self.rx = rx
        self.rx_ids = tuple(ids)
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
        while i < k:
            s = sl[i]
            if s.enc(s.buf, s.n) and can.tx_load_prepared(s.txb, s):
                s.n = (s.n + 1) % s.nmod   # load, then count
            i += 1
        can.tx_commit()

    def lent(self, runs):
        """The +5 ms job: its lent rows in one batch (skipped when it has none), then its SEND rows. runs: the
        10 ms grid's count, for the rows slower than 10 ms."""
        can = self.can
        _batch(can, self.lend, runs)
        sl = self.send10
        k = len(sl)
        i = 0
        while i < k:
            _send(can, sl[i], runs)
            i += 1

    def lent8(self, runs):
        """The +8 ms job: the lent rows the +5 ms batch had no room for, in one batch (nothing when none)."""
        _batch(self.can, self.lend8, runs)

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
        """The frames stopped: the next wake-up sends the wake rows again."""
        self._woken = 0

    def slow(self, runs):
        """The 100 ms job: its rows one by one (driver.send). runs: its own count, for the slower rows."""
        can = self.can
        sl = self.send100
        k = len(sl)
        i = 0
        while i < k:
            _send(can, sl[i], runs)
            i += 1

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


def _due_at(s, c):
    return s.every == 1 or c % s.every == s.phase


def _pack(rows, send10):
    # Configuration: the lent rows into the +5 and +8 ms batches (see the module docstring). Allocates.
    load = ([0] * _CYCLES, [0] * _CYCLES)
    for s in send10:
        for c in range(_CYCLES):
            if _due_at(s, c):
                load[0][c] += 1
    out = ([], [])
    left = []
    for s in rows:
        if not _place(s, load, out):
            left.append(s.can_id)
    return out[0], out[1], tuple(left)


def _place(s, load, out):
    e = s.every
    if e > _CYCLES or _CYCLES % e:
        raise ValueError("row %03X: period %d ms does not divide 1 s" % (s.can_id, 10 * e))
    phases = [s.phase] + [p for p in range(e) if p != s.phase]
    for b in (0, 1):
        for ph in phases:
            s.phase = ph
            due = [c for c in range(_CYCLES) if _due_at(s, c)]
            if all(load[b][c] < _PER_BATCH for c in due):
                for c in due:
                    load[b][c] += 1
                out[b].append(s)
                return True
    return False


def _batch(can, sl, runs):
    # The lent rows `sl` in one batch of whole frames (no SPI at all when there are none).
    k = len(sl)
    if k:
        can.tx_begin()
        i = 0
        while i < k:
            _frame(can, sl[i], runs)
            i += 1
        can.tx_commit()


def _frame(can, s, runs):
    # A row slower than its job goes on the runs where runs modulo `every` is its phase.
    e = s.every
    if e != 1 and runs % e != s.phase:
        return
    if s.enc(s.buf, s.n) and can.tx_frame_prepared(s):
        s.n = (s.n + 1) % s.nmod


def _send(can, s, runs):
    e = s.every
    if e != 1 and runs % e != s.phase:
        return
    d = s.enc(s.buf, s.n)
    if d and can.send(s.can_id, s.buf, d):
        s.n = (s.n + 1) % s.nmod
