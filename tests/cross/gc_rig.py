"""The controller's schedule with its console flooded, for the garbage-collection tests and the bench (not a test
module: test_collector.py imports it; tools/bench.py runs `bench_*` through `node tools/mpy_lane.mjs --run`).

`FloodRig` is the App on hot_rig's allocation-free stub hardware with a VirtualClock, so its own schedule decides
when the jobs and the collector's slot run (App.poll: sched.Periodic with the slot hung on the 10 ms job), an
inverter that answers every 10 ms cycle, and the console task (term.console_task, the firmware's own coroutine)
fed by a port that types as fast as a turn takes it. Virtual time advances 1 ms per console turn: a turn costs
0.5-4 ms on the board (tests/test_console_flood.py counts up to ~840 lines of firmware code at ~5 us a line),
so this is at least as many turns, and as much console allocation, per second as the board can do.

Automatic collections under MicroPython-wasm cannot be watched directly: that port collects only between calls
into the interpreter (a gc.collect() inside Python code frees nothing there) and never inside an allocation. So
gc.mem_alloc() is a counter of every byte allocated, and `AutoGc` applies MicroPython's own rule to it (py/gc.c:
gc_alloc collects when gc_alloc_amount, the allocation since the last collection, reaches gc.threshold; every
collection resets it): it adds each step's allocation, resets at the collector's collections, and counts a step
that crosses the threshold as an automatic collection inside that step (a job, the slot, a console turn).
"""

import gc
import sys

from hot_rig import StubHW, DriveRig
from leafvcu.app import App
from leafvcu import term
from fakes.clock import VirtualClock
from memfs import MemFs

MICROPYTHON = sys.implementation.name == "micropython"

class _Sleep:
    """The console task's sleep_ms: one preallocated awaitable (as MicroPython's asyncio.sleep_ms is), so the rig
    allocates nothing of its own between the firmware's steps. Awaiting it hands `ms` to whoever steps the task."""

    def __init__(self):
        self.ms = 0
        self.pending = False
        self.stop = StopIteration()

    def __call__(self, ms):
        self.ms = ms
        self.pending = True
        return self

    def __await__(self):
        return self

    __iter__ = __await__

    def __next__(self):
        if self.pending:
            self.pending = False
            return self.ms
        self.stop.__traceback__ = None
        raise self.stop


_sleep = _Sleep()


class Lcg:
    """A small deterministic random source, the same on both interpreters."""

    def __init__(self, seed):
        self.s = seed

    def next(self, n):
        self.s = (self.s * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.s >> 8) % n


# What a user types: the console's vocabulary, with typos, a long line, garbage and a stream.
COMMANDS = (b"status\r", b"get udc,mode,speed,torque\r", b"json\r", b"json full\r", b"list\r", b"help\r",
            b"stats\r", b"errors\r", b"set maxtrq 200\r", b"get maxtrq\r", b"help udcnom\r", b"stream 50 udc,mode,"
            b"speed,torque,pedal,tinv,tmot,age\r", b"x" * 120 + b"\r", b"bogus command\r", b"set potdb 999\r")


class FloodPort:
    """Types as fast as the console task reads (READ_CHUNK bytes a turn): real commands and random bytes."""

    def __init__(self, seed=7, garbage=True):
        self.rng = Lcg(seed)
        self.garbage = garbage
        self.pending = b""
        self.written = 0

    def read_some(self, n):
        if not self.pending:
            r = self.rng
            if self.garbage and r.next(4) == 0:
                self.pending = bytes([r.next(256) for _ in range(n)])
            else:
                self.pending = COMMANDS[r.next(len(COMMANDS))]
        got = self.pending[:n]
        self.pending = self.pending[n:]
        return got

    def write(self, text):
        self.written += len(text)


class TypingPort:
    """A user at a terminal: `line` typed one character every `char_ms`, then `pause_ms` of reading the reply."""

    def __init__(self, clock, line, char_ms=200, pause_ms=3000):
        self.clock = clock
        self.line = line
        self.char_ms = char_ms
        self.pause_ms = pause_ms
        self.i = 0
        self.next_ms = 0
        self.written = 0

    def read_some(self, n):
        now = self.clock.now_us // 1000
        if now < self.next_ms:
            return b""
        c = self.line[self.i:self.i + 1]
        self.i += 1
        if self.i >= len(self.line):
            self.i = 0
            self.next_ms = now + self.pause_ms
        else:
            self.next_ms = now + self.char_ms
        return c

    def write(self, text):
        self.written += len(text)


class AutoGc:
    """MicroPython's gc.threshold rule applied to the measured allocation (see the module's text).

    gc.mem_alloc() walks the whole heap in this port (milliseconds), so the allocation is read at the end of every
    10 ms cycle, and step by step (each App.poll, each console turn) once the bytes since the last collection come
    within `fine` of the threshold, where a crossing is attributed to the step it happened in. A crossing seen by
    a cycle-end reading (more than `fine` allocated within one cycle) counts as `unplaced`."""

    def __init__(self, threshold, base, fine=16384):
        self.threshold = threshold
        self.fine_from = threshold - fine
        self.base = base         # gc.mem_alloc() just after the last collection
        self.last = base
        self.peak = 0            # the most bytes allocated between two collections
        self.in_jobs = 0         # automatic collections that would have run inside App.poll (jobs, RX, the slot)
        self.in_console = 0      # ... inside a console turn
        self.unplaced = 0        # ... somewhere in a cycle
        self.readings = 0

    def fine(self):
        return self.last - self.base >= self.fine_from

    def sample(self, where):
        m = gc.mem_alloc()
        self.readings += 1
        self.last = m
        amount = m - self.base
        if amount > self.peak:
            self.peak = amount
        if amount >= self.threshold:
            if where == "console":
                self.in_console += 1
            elif where == "jobs":
                self.in_jobs += 1
            else:
                self.unplaced += 1
            self.base = m        # MicroPython would have collected here: the count starts again

    def collected(self, base):
        # The collector's slot collected (its base: gc.mem_alloc() right after).
        self.base = base
        self.last = base

    def automatic(self):
        return self.in_jobs + self.in_console + self.unplaced


class FloodRig:
    """The App on stub hardware and a virtual clock, its console task fed by `port` (FloodPort by default)."""

    def __init__(self, port=None, slot=True):
        self.clock = VirtualClock()
        self.hw = StubHW()
        self.spi = self.hw.spi
        app = self.app = App(self.hw, clock=self.clock, fs=MemFs())
        can = app.can
        can.pin(0, 0x1DB, 8)
        can.pin(1, 0x11A, 8)
        can.pin(2, 0x1D4, 8)
        app.can_ok = True
        if not slot:
            app.t10.after = None
        self.col = app.collector
        if MICROPYTHON:
            self.col.manage()  # as on the board (the collector leaves the WebAssembly port alone by itself)
        self.port = port if port is not None else FloodPort()
        self.con = app.attach_console(self.port, echo=True)
        self.task = None         # the console task's coroutine, made at its first turn
        self.task_due = 0        # virtual us when the console task runs again
        self.talk = True         # the inverter answers
        self.udc = 0
        self.b1da = bytearray(8)
        self.n = 0
        self.turns = 0
        app.start_schedule()
        self._next_1da = 0

    # the inverter's next status, as hot_rig's DriveRig makes it (same fields: app, udc, b1da, n)
    next_1da = DriveRig.next_1da

    def _arrive_1da(self):
        self.spi.present(0x1DA, self.next_1da())
        self.app.can.irq_pending = True

    def run_ms(self, ms, auto=None, console=True):
        """ms of virtual time, 1 ms a step: the inverter's 1DA every 10 ms, App.poll (jobs and the collector's
        slot), a console turn when its task is due. auto: an AutoGc that reads the allocation as it goes."""
        clock = self.clock
        app = self.app
        col = self.col
        end = clock.now_us + ms * 1000
        while clock.now_us < end:
            now = clock.now_us
            if self.talk and now >= self._next_1da:
                self._arrive_1da()
                self._next_1da = now + 10000
            c0 = col.collections
            app.poll()
            if auto is not None:
                if col.collections != c0:
                    auto.collected(col.base)
                elif auto.fine():
                    auto.sample("jobs")
            if console and now >= self.task_due:
                if self.task is None:
                    self.task = term.console_task(self.con, self.port, app.outbox, app.now_ms, sleep_ms=_sleep)
                ms_next = self.task.send(None)
                if auto is not None and auto.fine():
                    auto.sample("console")
                self.turns += 1
                self.task_due = now + 1000 + ms_next * 1000
            if auto is not None and (now // 1000) % 10 == 9:
                auto.sample("cycle")
            clock.advance_us(1000)

    def reach_drive(self):
        """Key on (StubHW: ignition and forward on), pedal pressed once READY: DRIVE within a few seconds."""
        self.run_ms(3000, console=False)
        self.hw.pedal_a.v = 30000
        self.hw.pedal_b.v = 15000
        self.run_ms(1500, console=False)
        return self.app.vcm.mode_name()


# --- bench figures (MicroPython: node tools/mpy_lane.mjs --run gc_rig.bench_build,gc_rig.bench_heap,...) --------
RIG = []


def _out(key, value):
    print("@@BENCH %s %s" % (key, value))


def bench_build():
    """Step 1: the controller in DRIVE with its console attached, kept in RIG; a second interpreter call then
    collects at the top level, where the wasm port's collector can free (mpy_lane.mjs runs one between steps)."""
    rig = FloodRig(port=FloodPort(), slot=False)
    RIG.append(rig)
    _out("mode", rig.reach_drive())
    _out("micropython", sys.version)


def bench_heap():
    """Step 2 (after a top-level collection): the live heap, and what gc.mem_alloc() costs in this port (it walks
    the whole heap: over 100 MB here)."""
    _out("live", gc.mem_alloc())
    _out("free", gc.mem_free())
    try:
        import js

        perf = js.performance
        t0 = perf.now()
        i = 0
        while i < 20:
            gc.mem_alloc()
            i += 1
        _out("mem_alloc_us", "%.2f" % ((perf.now() - t0) * 1000.0 / 20))
    except ImportError:
        pass


def bench_ref():
    """Steps between the top-level collections the lane times: the reference loop, timed in the same stretch of the
    host's speed as the collections around it (the bench takes the medians of both)."""
    from hot_rig import ref_loop, clock_us

    t0 = clock_us()
    ref_loop(100000)
    _out("ref_us", "%.4f" % ((clock_us() - t0) / 100000))


def _rate(rig, ms):
    # Bytes the controller allocates over ms of virtual time, the slot off: nothing is collected, so the
    # difference of two gc.mem_alloc() readings is what was allocated (less the few explicit frees).
    a = gc.mem_alloc()
    rig.run_ms(ms)
    return gc.mem_alloc() - a, rig.turns


def bench_rates():
    """Step 3: allocation per second of virtual time: a user typing, a stream, and the flood; collections the
    slot ran meanwhile."""
    rig = RIG[0]
    typing = TypingPort(rig.clock, b"get udc,speed,torque\r")
    rig.con.feed_all(b"\r")
    rig.port = typing
    rig.task = term.console_task(rig.con, typing, rig.app.outbox, rig.app.now_ms, sleep_ms=_sleep)
    a, _ = _rate(rig, 30000)
    _out("typing_bps", a * 1000 // 30000)
    rig.con.feed_all(b"\rstream 100 udc,speed,torque,mode\r")
    typing.next_ms = 1 << 40  # the user watches the stream
    a, _ = _rate(rig, 30000)
    _out("stream100_bps", a * 1000 // 30000)
    rig.con.feed_all(b"\rstream 50 udc,mode,speed,torque,pedal,tinv,tmot,age,dir,brake,ign,derate,faults,tec,rec,"
                     b"potb\r")
    a, _ = _rate(rig, 30000)
    _out("stream50x16_bps", a * 1000 // 30000)
    rig.con.feed_all(b"\r")
    flood = FloodPort()
    rig.task = term.console_task(rig.con, flood, rig.app.outbox, rig.app.now_ms, sleep_ms=_sleep)
    t0 = rig.turns
    a, t = _rate(rig, 10000)
    _out("flood_bps", a * 1000 // 10000)
    _out("flood_turns", t - t0)
    _out("step", rig.col.step)
    _out("done", 1)
