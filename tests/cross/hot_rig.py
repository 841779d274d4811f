"""The controller's hot path on allocation-free stub hardware, for heap and bytecode-time measurements under real
MicroPython (not a test module: test_app_alloc.py imports it, and tools/bench.py runs `bench()` through
`node tools/mpy_lane.mjs --run hot_rig.bench`).

The host models (fakes.machine SPI, the MCP2515 chip model) allocate on their side of the bus, which a
gc.mem_alloc() delta would count against the firmware; so here the hardware is a set of stubs that allocate
nothing: pins, ADCs and a watchdog as plain objects, and an SPI bus that answers like an MCP2515 with free TX
buffers and, when `present()` put one there, a received frame in RXB0 (READ STATUS reports RX0IF until the
READ RX BUFFER that takes the frame out, as the chip clears RX0IF when CS rises).

Loops are `while` loops over preallocated ints: nothing but the measured calls can allocate.
"""

import gc
import sys

from leafvcu.app import App
from leafvcu import frames as fr
from leafvcu import vcm as V
from leafvcu.compat import ticks_us, ticks_add
from memfs import MemFs

MICROPYTHON = sys.implementation.name == "micropython"

_READ_STATUS = 0xA0
_READ_RXB0 = 0x90


class StubPin:
    IRQ_FALLING = 2

    def __init__(self, level=0):
        self.level = level

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = v

    def irq(self, handler=None, trigger=2):
        pass


class StubSPI:
    """An MCP2515 as the driver's hot path sees it: READ STATUS answers `status` (TX buffers always free;
    RX0IF while a presented frame waits), READ RX BUFFER 0 answers the presented frame and clears RX0IF;
    writes are dropped. Reads of anything else leave the driver's (zeroed, preallocated) buffer as it is."""

    def __init__(self):
        self.status = 0
        # READ RX BUFFER answer: instruction slot, SIDH SIDL EID8 EID0 DLC D0..D7.
        self.rx = bytearray(14)
        self.rx_view = memoryview(self.rx)
        self.rx_tail = self.rx_view[1:]
        self.transactions = 0
        self.nbytes = 0

    def present(self, can_id, data, dlc=8):
        """Puts a standard frame into RXB0 (as if it had just been received)."""
        rx = self.rx
        rx[1] = (can_id >> 3) & 0xFF
        rx[2] = (can_id << 5) & 0xE0
        rx[5] = dlc
        i = 0
        while i < dlc:
            rx[6 + i] = data[i]
            i += 1
        self.status |= 1

    def write(self, buf):
        self.transactions += 1
        self.nbytes += len(buf)

    def write_readinto(self, w, r):
        self.transactions += 1
        n = len(w)
        self.nbytes += n
        c = w[0]
        if c == _READ_STATUS:
            r[1] = self.status
        elif c == _READ_RXB0:
            # one slice copy (C, allocation-free): the board's SPI fills r in C too, so a Python copy loop here
            # would count as the driver's time
            r[1:n] = self.rx_view[1:n] if n != 14 else self.rx_tail
            self.status &= 0xFE


class StubADC:
    def __init__(self, v):
        self.v = v

    def read_u16(self):
        return self.v


class StubWDT:
    def feed(self):
        pass


class CPin:
    """A write-only pin whose value(x) is a C builtin (id), as machine.Pin.value is on the board: for timing
    runs only (DriveRig.c_stubs), where a Python stub's call would count as firmware time."""

    value = id   # a builtin as a class attribute is not bound: pin.value(1) is id(1)


class CPinHigh:
    """An input pin at level 1 whose value() is a C builtin of no argument (gc.isenabled(): True, and True == 1):
    timing runs only, as CPin."""

    value = gc.isenabled


class CPinLow:
    """An input pin at level 0 whose value() is a C builtin (int(): 0): timing runs only, as CPin."""

    value = int


class CWdt:
    """A watchdog whose feed() is a C builtin (int()), as machine.WDT.feed is on the board: timing runs only."""

    feed = int


class StubHW:
    def __init__(self):
        self.spi = StubSPI()
        self.can_cs = StubPin(1)
        self.can_int = StubPin(1)
        self.relay_pre = StubPin()
        self.relay_main = StubPin()
        self.relay_neg = StubPin()
        self.in_ignition = StubPin(1)
        self.in_brake = StubPin()
        self.in_forward = StubPin(1)
        self.in_reverse = StubPin()
        self.pedal_a = StubADC(10000)
        self.pedal_b = StubADC(5000)

    def watchdog(self, ms):
        return StubWDT()


class DriveRig:
    """The App on StubHW, pinned as App.start() pins it, key on and forward selected, with an inverter reduced
    to one 1DA per 10 ms cycle whose DC voltage follows the relays. `cycle()` is one 10 ms grid step: the 1DA
    arrives in RXB0 (INT seen), tick10 (drains it, decides, sends 11A / 1D4 / 1DB), tick10b at +5 ms (1F2, 1DC;
    59E every 500 ms), tick100 at +3 ms every 10th cycle (50B, 55B, 5BC, error counters)."""

    def __init__(self, ze1=False):
        hw = self.hw = StubHW()
        self.spi = hw.spi
        app = self.app = App(hw, fs=MemFs())
        self.ze1 = ze1
        if ze1:
            # The ZE1 profile (inverter 1, spoofed battery): its devices and tables, as `set inverter 1` makes them
            app.params.set("inverter", 1)
            app._rechoose()
        app.frames.pin_buffers()   # as App.start() pins them (1D4 TXB2, 11A TXB1, 1DB TXB0)
        # and attaches the INT pin: high here (the rig presents one frame at a time and says so by irq_pending),
        # so a drain stops after the frame without the READ STATUS that would say nothing more waits
        app.can.attach_irq(hw.can_int)
        app.can_ok = True
        self.b120 = bytearray(4)   # a ZE1's heartbeat, refilled in place
        self.n120 = 0
        self.now = 0
        self.udc = 0
        self.b1da = bytearray(8)   # the inverter's frame, refilled in place
        self.n = 0
        self.k = 0                 # cycles run

    def c_stubs(self):
        """From now on the chip select, relay and input pins, the watchdog's feed and SPI.write are C builtins
        (CPin, CPinHigh, CPinLow, CWdt, len), as machine.Pin, WDT and SPI are on the board: the time of a timing
        run is then the firmware's, not the stubs' Python (about 40 us of the ESP32 estimate per SPI transaction
        otherwise).
        SPI.write no longer counts: count first. READ STATUS / READ RX BUFFER (write_readinto) stay Python: they
        answer like the chip (profiles() measures what that costs, for bench.py to take off)."""
        c = CPin()
        self.app.can._cs = c
        hw = self.hw
        hw.relay_pre = hw.relay_main = hw.relay_neg = c
        self.spi.write = len
        # the inputs as they stand (key on, forward, no brake): levels that no longer change
        for name in ("in_ignition", "in_brake", "in_forward", "in_reverse"):
            setattr(hw, name, CPinHigh() if getattr(hw, name).value() else CPinLow())
        if self.app.wdt is not None:
            self.app.wdt = CWdt()
        self.app.can._int_pin = CPinHigh()   # the INT pin (attached in __init__): high, as a C pin

    def next_1da(self):
        """Fills b1da with the next inverter status (DC voltage following the relays, counter, CRC)."""
        app = self.app
        b = self.b1da
        v = self.udc
        if app.vcm.relay_pre or app.vcm.relay_main:
            v = v + (380 - v) * 15 // 100 + 1
            if v > 380:
                v = 380
        self.udc = v
        b[0] = v >> 1
        b[6] = self.n
        b[7] = fr.crc8(b, 7)
        self.n = (self.n + 1) & 3
        return b

    def arrive_1da(self):
        if self.ze1:
            # the ZE1's 0x120 first (drained as the RX task would), then the 1DA that tick10 drains
            self.arrive_120()
            self.app.service_rx()
        self.spi.present(0x1DA, self.next_1da())
        self.app.can.irq_pending = True   # what the INT pin's handler does

    def arrive_120(self):
        """A ZE1's heartbeat 0x120 in RXB0, INT seen (App.service_rx drains it)."""
        b = self.b120
        b[2] = self.n120
        b[3] = fr.crc8(b, 3)
        self.n120 = (self.n120 + 1) & 15
        self.spi.present(0x120, b, 4)
        self.app.can.irq_pending = True

    def cycle(self):
        app = self.app
        self.arrive_1da()
        app.tick10(self.now)
        if self.k % 10 == 0:
            app.tick100(ticks_add(self.now, 3))
        app.tick10d(ticks_add(self.now, 4))
        app.tick10b(ticks_add(self.now, 5))
        app.tick10c(ticks_add(self.now, 8))
        self.now = ticks_add(self.now, 10)
        self.k += 1

    def cycles(self, n):
        i = 0
        while i < n:
            self.cycle()
            i += 1

    def reach_drive(self, pedal=(30000, 15000), settle=200):
        """Cycles until DRIVE, then presses the pedal and runs `settle` more cycles (torque requested).
        Returns the mode name reached."""
        i = 0
        while i < 600 and self.app.vcm.mode != V.DRIVE:
            self.cycle()
            i += 1
        name = self.app.vcm.mode_name()
        self.hw.pedal_a.v = pedal[0]
        self.hw.pedal_b.v = pedal[1]
        self.cycles(settle)
        return name


# --- measurements (MicroPython: gc.mem_alloc) ---------------------------------------------------------------------
def alloc_per_job(rig, n):
    """Heap bytes allocated over n steady cycles, attributed to each job by gc.mem_alloc() deltas around it:
    (tick10 incl. the 1DA drain, tick10b with tick10c, tick100, whole cycles). tick100 runs n // 10 times."""
    app = rig.app
    mem = gc.mem_alloc
    d10 = 0
    d10b = 0
    d100 = 0
    gc.collect()
    start = mem()
    i = 0
    while i < n:
        rig.arrive_1da()
        now = rig.now
        a = mem()
        app.tick10(now)
        b = mem()
        app.tick10b(ticks_add(now, 5))
        app.tick10c(ticks_add(now, 8))
        c = mem()
        d10 += b - a
        d10b += c - b
        if rig.k % 10 == 0:
            a = mem()
            app.tick100(ticks_add(now, 3))
            d100 += mem() - a
        rig.now = ticks_add(now, 10)
        rig.k += 1
        i += 1
    total = mem() - start
    return d10, d10b, d100, total


def rx_frames():
    """One valid frame per received id the App decodes in DRIVE or CHARGE: 1DA (CRC, counter), 55A,
    390 (nibble checksum, counter); each a bytearray, the counters stepped by step_rx()."""
    f1da = bytearray(8)
    f1da[0] = 190
    f55a = bytearray((0, 80, 90, 20, 85, 0, 0, 0))
    f390 = bytearray((0x04, 30, 0, 0xB3, 0, 0x80 | (4 << 1), 33, 0xC0))
    return f1da, f55a, f390


def step_rx(f1da, f390, k):
    n = k & 3
    f1da[6] = n
    f1da[7] = fr.crc8(f1da, 7)
    f390[7] = 0xC0 | (n << 4)
    f390[7] |= fr.nibble_checksum(f390, fr.NIB_390)


def alloc_per_rx_frame(rig, n):
    """Heap bytes over n receptions of each of 1DA, 55A, 390 through the driver (READ STATUS, READ RX BUFFER,
    READ STATUS, App.on_frame -> decoder), as the RX task does when INT fired. Returns (d1da, d55a, d390)."""
    app = rig.app
    spi = rig.spi
    can = app.can
    mem = gc.mem_alloc
    f1da, f55a, f390 = rx_frames()
    frames0 = can.stats.rx_frames
    d = [0, 0, 0]   # made before the measurement; item stores of small ints do not allocate
    gc.collect()
    k = 0
    while k < n:
        step_rx(f1da, f390, k)
        spi.present(0x1DA, f1da)
        can.irq_pending = True
        a = mem()
        app.service_rx()
        d[0] += mem() - a
        spi.present(0x55A, f55a)
        can.irq_pending = True
        a = mem()
        app.service_rx()
        d[1] += mem() - a
        spi.present(0x390, f390)
        can.irq_pending = True
        a = mem()
        app.service_rx()
        d[2] += mem() - a
        k += 1
    if can.stats.rx_frames - frames0 != 3 * n:
        raise AssertionError("the driver read %d frames, expected %d" % (can.stats.rx_frames - frames0, 3 * n))
    return d[0], d[1], d[2]


# --- bytecode time ------------------------------------------------------------------------------------------------
# The wasm build's ticks_us() counts whole milliseconds; its `js` module reaches performance.now() (microsecond
# resolution, a few us per call, allocates: timing runs only). Elsewhere ticks_us().
try:
    import js

    _perf = js.performance

    def clock_us():
        return _perf.now() * 1000.0

    CLOCK = "performance.now()"
except ImportError:

    def clock_us():
        return ticks_us()

    CLOCK = "ticks_us()"


def _median(xs):
    s = sorted(xs)
    return s[len(s) // 2]


def ref_loop(n, a=1234, b=5678):
    """The reference loop: n iterations of an int addition in a for-range loop, locals only (the "add test"
    quoted for MicroPython boards: 1,000,000 iterations took about 2 s on an ESP32, 3 s with SPIRAM)."""
    s = 0
    for i in range(n):
        s = a + b
    return s


def time_ref_us(n):
    t0 = clock_us()
    ref_loop(n)
    return clock_us() - t0


def time_jobs_us(rig, n, ref=1000):
    """Median microseconds of tick10 (incl. the 1DA drain), tick10b and tick100 over n steady cycles, each
    measured around its call, less the median of an empty clock pair; and the median of ref_loop(ref) timed in
    every cycle between the jobs, so that both see the same host (its load, its clock speed). Medians: a GC pass
    (the timing itself allocates) or host noise inside one span does not move them."""
    app = rig.app
    e = []
    t10 = []
    t10b = []
    t100 = []
    tr = []
    i = 0
    while i < n:
        t0 = clock_us()
        ref_loop(ref)
        tr.append(clock_us() - t0)
        rig.arrive_1da()
        now = rig.now
        t0 = clock_us()
        t1 = clock_us()
        app.tick10(now)
        t2 = clock_us()
        app.tick10b(ticks_add(now, 5))
        t3 = clock_us()
        e.append(t1 - t0)
        t10.append(t2 - t1)
        t10b.append(t3 - t2)
        if rig.k % 10 == 0:
            t0 = clock_us()
            app.tick100(ticks_add(now, 3))
            t100.append(clock_us() - t0)
        rig.now = ticks_add(now, 10)
        rig.k += 1
        i += 1
    z = _median(e)
    return _median(t10) - z, _median(t10b) - z, _median(t100) - z, z, _median(tr) - z


def time_rx_us(rig, n):
    """Median microseconds of one 1DA reception through the driver (service_rx), less an empty clock pair."""
    app = rig.app
    spi = rig.spi
    can = app.can
    f1da, f55a, f390 = rx_frames()
    e = []
    t = []
    k = 0
    while k < n:
        step_rx(f1da, f390, k)
        spi.present(0x1DA, f1da)
        can.irq_pending = True
        t0 = clock_us()
        t1 = clock_us()
        app.service_rx()
        t2 = clock_us()
        e.append(t1 - t0)
        t.append(t2 - t1)
        k += 1
    return _median(t) - _median(e)


def count_stub_calls(rig, n):
    """Calls into the stub hardware per job over n cycles: (tick10 pin/ADC/WDT calls, tick10 SPI transfers,
    tick10b SPI transfers), the 1DA drain included in tick10. Counted by swapping counting methods into the
    stub classes for the run (the timing runs use the plain ones)."""
    calls = [0]

    def pin_value(self, v=None):
        calls[0] += 1
        if v is None:
            return self.level
        self.level = v

    def adc_read(self):
        calls[0] += 1
        return self.v

    def feed(self):
        calls[0] += 1

    saved = (StubPin.value, StubADC.read_u16, StubWDT.feed)
    StubPin.value = pin_value
    StubADC.read_u16 = adc_read
    StubWDT.feed = feed
    app = rig.app
    spi = rig.spi
    p10 = 0
    s10 = 0
    s10b = 0
    try:
        i = 0
        while i < n:
            rig.arrive_1da()
            now = rig.now
            c0 = calls[0]
            x0 = spi.transactions
            app.tick10(now)
            x1 = spi.transactions
            p10 += calls[0] - c0
            app.tick10b(ticks_add(now, 5))
            s10 += x1 - x0
            s10b += spi.transactions - x1
            if rig.k % 10 == 0:
                app.tick100(ticks_add(now, 3))
            rig.now = ticks_add(now, 10)
            rig.k += 1
            i += 1
    finally:
        StubPin.value, StubADC.read_u16, StubWDT.feed = saved
    return p10, s10, s10b


def time_stub_calls_us(n):
    """Median microseconds of one stub pin write (pin.value(1)) and one stub SPI write (spi.write of a
    9-byte LOAD TX BUFFER), each timed over a block of n calls, less an empty block's time."""
    pin = StubPin(1)
    spi = StubSPI()
    buf = bytearray(9)
    e = []
    tp = []
    ts = []
    r = 0
    while r < 5:
        i = 0
        t0 = clock_us()
        while i < n:
            i += 1
        t1 = clock_us()
        i = 0
        while i < n:
            pin.value(1)
            i += 1
        t2 = clock_us()
        i = 0
        while i < n:
            spi.write(buf)
            i += 1
        t3 = clock_us()
        e.append(t1 - t0)
        tp.append(t2 - t1)
        ts.append(t3 - t2)
        r += 1
    z = _median(e)
    return (_median(tp) - z) / n, (_median(ts) - z) / n


def time_recorder_us(rig, n, rounds=9):
    """The flight recorder's share (leafvcu/recorder.py): one recorded frame (the driver's tap: Recorder.frame for
    an 8-byte 1D4) and one 10 ms signals sample with the fault check (Recorder.tick), each timed over a block of n
    calls less an empty block, in reference-loop iterations: ref_loop(n) is timed in the same round, so both see
    the same host; medians over the rounds. Also the records the ring takes per 10 ms cycle in DRIVE (100 cycles)
    and one ticks_us() call in reference iterations (each record takes one: in the wasm build a call into
    JavaScript, on the ESP32 a read of a hardware timer). Returns (frame, tick, records per cycle, clock)."""
    app = rig.app
    rec = app.recorder
    buf = rig.b1da
    now = rig.now
    us = rec._us
    rf = []
    rt = []
    rc = []
    r = 0
    while r < rounds:
        i = 0
        t0 = clock_us()
        while i < n:
            i += 1
        t1 = clock_us()
        ref_loop(n)
        t2 = clock_us()
        i = 0
        while i < n:
            us()
            i += 1
        t3 = clock_us()
        i = 0
        while i < n:
            rec.frame(0x1D4, buf, 8, 1)
            i += 1
        t4 = clock_us()
        i = 0
        while i < n:
            rec.tick(now)
            i += 1
        t5 = clock_us()
        z = t1 - t0
        ref = t2 - t1
        rc.append((t3 - t2 - z) / ref)
        rf.append((t4 - t3 - z) / ref)
        rt.append((t5 - t4 - z) / ref)
        r += 1
    o0 = rec.o
    rig.cycles(100)
    d = rec.o - o0
    if d < 0:
        d += rec.size
    return _median(rf), _median(rt), d / 16 / 100, _median(rc)


def spi_without_tap(rig, cycles):
    """Stub SPI transactions and bytes over `cycles` cycles with the taps off (no recorder), to set beside
    the same figures with it on: the recorder adds no SPI traffic."""
    can = rig.app.can
    frames = rig.app.frames
    tap = can.tap
    taps = frames.tap
    spi = rig.spi
    can.tap = None
    frames.tap = None
    try:
        t0 = spi.transactions
        b0 = spi.nbytes
        rig.cycles(cycles)
        return spi.transactions - t0, spi.nbytes - b0
    finally:
        can.tap = tap
        frames.tap = taps


def le(*words):
    """Little-endian 16-bit words as bytes (negative words as two's complement): the 0x35x set's layout (P7.2);
    tests/cross/test_bms.py uses it too."""
    out = bytearray()
    for w in words:
        w &= 0xFFFF
        out.append(w & 0xFF)
        out.append(w >> 8)
    return bytes(out)


# One frame of each id of the CAN BMS set (bms.py, bmsdev 2): what a SimpBMS-style BMS sends every 100 ms.
BMS_FRAMES = (
    (0x351, le(3936, 600, 30, 3000)),  # CCL 60 A, DCL 3 A: caps the torque at standstill (the 100 rpm floor)
    (0x355, le(75, 100, 750, 0)),
    (0x356, le(38000, -50, 250, 0)),
    (0x35A, bytearray(8)),
    (0x35C, bytearray((0xC0, 0))),
    (0x373, le(3950, 3970, 298, 299)),
)


def bms_rx(rig, n):
    """The battery device's reception (bmsdev 2) through the driver as the RX task does it, n rounds of the six
    frames: (heap bytes in all, or -1 on CPython; SPI transactions, bytes; median us of one reception). The rig
    is left with bmsdev as it was."""
    app = rig.app
    spi = rig.spi
    can = app.can
    was = app.params.bmsdev
    app.params.bmsdev = 2
    mem = gc.mem_alloc if MICROPYTHON else None
    d = [0]
    t = []
    t0 = spi.transactions
    b0 = spi.nbytes
    frames0 = can.stats.rx_frames
    gc.collect()
    k = 0
    while k < n:  # the heap, with nothing else between the two readings
        for can_id, data in BMS_FRAMES:
            spi.present(can_id, data, len(data))
            can.irq_pending = True
            a = mem() if mem else 0
            app.service_rx()
            if mem:
                d[0] += mem() - a
        k += 1
    tx = spi.transactions - t0
    nb = spi.nbytes - b0
    k = 0
    while k < n:  # the time (the list of times grows here, outside the heap readings above)
        for can_id, data in BMS_FRAMES:
            spi.present(can_id, data, len(data))
            can.irq_pending = True
            c0 = clock_us()
            app.service_rx()
            t.append(clock_us() - c0)
        k += 1
    got = (can.stats.rx_frames - frames0) // 2
    app.params.bmsdev = was
    if got != n * len(BMS_FRAMES):
        raise RuntimeError("%d BMS frames read of %d" % (got, n * len(BMS_FRAMES)))
    return (d[0] if mem else -1), tx, nb, _median(t)


def _emit(key, value):
    # One machine-readable line per figure for tools/bench.py.
    print("@@BENCH %s %s" % (key, value))


def bench(cycles=1000, rx=300, ref=1000000, rounds=3, ref_chunk=1000):
    """What tools/bench.py reads, one `@@BENCH key value` line per figure: heap bytes per job and per received
    frame (MicroPython only), the stub SPI's traffic per cycle, bytecode times (medians over `cycles`, with
    ref_loop(ref_chunk) timed in every cycle beside the jobs; a ref-iteration block alone, best of `rounds`),
    and the stub hardware's share of the time (calls per job, cost per call)."""
    rig = DriveRig()
    mode = rig.reach_drive()
    _emit("mode", mode)
    _emit("torque", rig.app.vcm.torque)
    _emit("micropython", "%s %s" % (sys.implementation.name, ".".join(str(x) for x in sys.implementation.version)))
    rig.cycles(100)   # warm: every path of the steady state taken once (59E, 100 ms job, counters)
    if MICROPYTHON:
        d10, d10b, d100, total = alloc_per_job(rig, cycles)
        _emit("alloc_cycles", cycles)
        _emit("alloc_tick10", d10)
        _emit("alloc_tick10b", d10b)
        _emit("alloc_tick100", d100)
        _emit("alloc_total", total)
        a, b, c = alloc_per_rx_frame(rig, rx)
        _emit("alloc_rx_n", rx)
        _emit("alloc_rx_1da", a)
        _emit("alloc_rx_55a", b)
        _emit("alloc_rx_390", c)
    spi = rig.spi
    t0 = spi.transactions
    b0 = spi.nbytes
    rig.cycles(100)
    _emit("stub_spi_transactions_100", spi.transactions - t0)
    _emit("stub_spi_bytes_100", spi.nbytes - b0)
    t, b = spi_without_tap(rig, 100)
    _emit("stub_spi_transactions_100_notap", t)
    _emit("stub_spi_bytes_100_notap", b)
    _emit("clock", CLOCK)
    best = None
    r = 0
    while r < rounds:
        t = time_ref_us(ref)
        if best is None or t < best:
            best = t
        r += 1
    _emit("ref_block_n", ref)
    _emit("ref_block_us", best)
    t10, t10b, t100, z, tr = time_jobs_us(rig, cycles, ref_chunk)
    _emit("ref_n", ref_chunk)
    _emit("ref_us", tr)
    _emit("time_cycles", cycles)
    _emit("time_tick10_us", t10)
    _emit("time_tick10b_us", t10b)
    _emit("time_tick100_us", t100)
    _emit("time_clock_pair_us", z)
    _emit("time_rx_1da_us", time_rx_us(rig, rx))
    p10, s10, s10b = count_stub_calls(rig, 100)
    _emit("stub_calls_tick10_pins", p10 / 100)
    _emit("stub_calls_tick10_spi", s10 / 100)
    _emit("stub_calls_tick10b_spi", s10b / 100)
    tp, ts = time_stub_calls_us(20000)
    _emit("stub_pin_call_us", tp)
    _emit("stub_spi_call_us", ts)
    fref, sref, per, cref = time_recorder_us(rig, 2000)
    _emit("rec_clock_ref", cref)
    _emit("rec_frame_ref", fref)
    _emit("rec_tick_ref", sref)
    _emit("rec_records_per_cycle", per)
    _emit("rec_ring_bytes", rig.app.recorder.size)
    a, tx, nb, us = bms_rx(rig, 50)
    _emit("bms_rx_frames", 50 * len(BMS_FRAMES))
    _emit("bms_rx_alloc", a)
    _emit("bms_rx_spi_transactions", tx)
    _emit("bms_rx_spi_bytes", nb)
    _emit("bms_rx_us", us)
    _emit("mode_after", rig.app.vcm.mode_name())
    _emit("done", 1)


# --- per device profile (tools/bench.py profiles) -------------------------------------------------------------------
PROFILES = (("aze0+spoof", False, 1), ("aze0+leafbatt", False, 0), ("ze1+leafbatt", True, 0), ("ze1+spoof", True, 1))


def _job_us(f, now, n):
    # median us of f(now) over n runs (the rig's state moves on as it would: one run per cycle below)
    t0 = clock_us()
    f(now)
    return clock_us() - t0


def _rx_task(app):
    app.service_rx()


def _stub_read_us(spi, n=500, rounds=9):
    # Median over rounds of (n READ STATUS answers of the stub - n calls of max(), a C builtin of two arguments)
    # / n: what a stub read costs beyond what machine.SPI's C call would. The cheapest form of the stub's answer
    # (a READ RX BUFFER answer also copies 13 bytes): taking it off understates the correction.
    w = bytearray((_READ_STATUS, 0))
    r = bytearray(2)
    f = spi.write_readinto
    d = []
    k = 0
    while k < rounds:
        t0 = clock_us()
        i = 0
        while i < n:
            f(w, r)
            i += 1
        t1 = clock_us()
        i = 0
        while i < n:
            max(w, r)
            i += 1
        t2 = clock_us()
        d.append(((t1 - t0) - (t2 - t1)) / n)
        k += 1
    spi.transactions -= n * rounds
    spi.nbytes -= 2 * n * rounds
    return _median(d)


def profiles(cycles=300, ref_chunk=1000):
    """Per device profile, one `@@BENCH PROFILE.key value` line per figure: CAN frames the controller sends per
    10 ms, SPI transactions and bytes per 10 ms (the stub's counts: what the driver writes), and the median
    bytecode time of each job with the reference loop timed beside them (tools/bench.py scales it to the ESP32)."""
    for name, ze1, spoof in PROFILES:
        rig = DriveRig(ze1=ze1)
        app = rig.app
        app.params.set("spoof", spoof)
        app._rechoose()
        rig.reach_drive()
        rig.cycles(100)
        _emit(name + ".mode", app.vcm.mode_name())
        _emit(name + ".unplaced", len(app.frames.unplaced))
        spi = rig.spi
        f0 = app.can.stats.tx_frames
        t0 = spi.transactions
        b0 = spi.nbytes
        rig.cycles(100)
        _emit(name + ".frames_100", app.can.stats.tx_frames - f0)
        _emit(name + ".spi_transactions_100", spi.transactions - t0)
        _emit(name + ".spi_bytes_100", spi.nbytes - b0)
        rig.c_stubs()
        t = ([], [], [], [], [], [], [], [])
        i = 0
        w0 = spi.transactions
        while i < cycles:
            t1 = clock_us()
            ref_loop(ref_chunk)
            t[4].append(clock_us() - t1)
            t1 = clock_us()
            t[7].append(clock_us() - t1)   # an empty clock pair: each job's figure less this is the job's own
            if ze1:
                rig.arrive_120()   # the RX task drains a ZE1's 0x120: its time counts (us_rx)
                t[6].append(_job_us(_rx_task, app, 1))
            else:
                t[6].append(0)
            rig.spi.present(0x1DA, rig.next_1da())   # tick10 drains the 1DA
            app.can.irq_pending = True
            now = rig.now
            t[0].append(_job_us(app.tick10, now, 1))
            if rig.k % 10 == 0:
                t[3].append(_job_us(app.tick100, ticks_add(now, 3), 1))
            t[5].append(_job_us(app.tick10d, ticks_add(now, 4), 1))
            t[1].append(_job_us(app.tick10b, ticks_add(now, 5), 1))
            t[2].append(_job_us(app.tick10c, ticks_add(now, 8), 1))
            rig.now = ticks_add(now, 10)
            rig.k += 1
            i += 1
        if app.vcm.mode != V.DRIVE or not app.vcm.torque:
            raise AssertionError("%s: %s, torque %d after the timing run" % (name, app.vcm.mode_name(),
                                                                             app.vcm.torque))
        for k, key in enumerate(("tick10", "tick10b", "tick10c", "tick100", "ref", "tick10d", "rx", "pair")):
            _emit(name + ".us_" + key, _median(t[k]))
        _emit(name + ".ref_n", ref_chunk)
        # The stub's READ STATUS / READ RX BUFFER answer is Python (it answers like the chip): per call, its time
        # beyond a C builtin's of two arguments, for tools/bench.py to take off (on the board it is machine.SPI's C)
        _emit(name + ".spi_reads_per_cycle", (spi.transactions - w0) / cycles)
        _emit(name + ".us_stub_read", _stub_read_us(spi))
