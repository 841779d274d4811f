"""Garbage collection where the schedule chooses, never where an allocation happens to find the heap full.

The hot path allocates nothing, but the console does (every line, every reply, `json`, `stream`). Left alone,
MicroPython collects inside whichever allocation finds no room (and, with gc.threshold set, inside the one that
crosses it): a console turn just before the +0 ms deadline, or a job that allocates once (a fault being logged).
On the ESP32 the split heap grows only after such a collection failed to make room, so it stays just above the
live data and the console's garbage fills it within seconds. A collection of this firmware's heap takes
milliseconds on the TinyPICO's SPIRAM build (docs/pauses.md: the figures, their sources, and the board's own
measurement by `deploy.py selftest`), so the firmware decides where it happens:

  * gc.disable() while the schedule runs (`take()`, from App.start_schedule): MicroPython then never collects by itself; an allocation that finds
    no room grows the heap by a new area instead (py/gc.c gc_alloc: with automatic collection off it goes
    straight to gc_try_add_heap), which costs a system malloc, not a collection.
  * `slot()` runs right after the +0 ms batch (sched.Periodic.after on the 10 ms job): the torque frames
    (11A, 1D4) have just gone and the next ones are a whole period away; a collection longer than the gap to
    the +5 ms job makes 1F2 / 1DC late first, never the torque request.
  * Every CHECK_EVERY-th slot (100 ms, half-way between two 100 ms jobs) it reads gc.mem_alloc(), which
    walks the heap's allocation table (too dear for every 10 ms: the selftest times it on the board), and
    collects when STEP bytes or more were allocated since the last collection. So the heap needs at most the
    live data plus STEP plus one check interval's allocation: a console flooded with a turn every millisecond
    allocates under 200 KB in 100 ms (tests/cross/test_collector.py measures it under real MicroPython;
    docs/performance.md has the rates of typing and streaming), the TinyPICO has 4 MB.
  * `release()` gives MicroPython its own collection back when the controller stops (the REPL allocates freely).

Counters for `stats` (plain ints, allocation-free to update): collections, worst_us, total_us, last_us (the
slot's whole work: the collection and the two heap readings after it), and the heap as the last collection left
it: live (gc.mem_alloc) and size (alloc + free: the split heap's current areas). CPython (the simulator, the host
tests) has no gc.mem_alloc, and MicroPython in WebAssembly (the test lane, the virtual board) frees nothing in a
collection started from Python code while its gc.mem_alloc() walks a heap of 100+ MB (milliseconds): there the
collector does nothing unless told to (`manage()`, as tests/cross/gc_rig.py does to test it there).
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


import gc
import sys

from leafvcu.compat import ticks_us, ticks_diff

STEP = const(32768)        # the slot collects once this many bytes were allocated since the last collection
CHECK_EVERY = const(10)    # the slot reads the heap every 10th +0 ms batch (100 ms)
# What the schedule affords a collection in the slot (docs/pauses.md; tick10 ~3.0 ms and tick10b ~0.9 ms on the
# ESP32 by the bench's estimate, docs/performance.md): up to SLOT_US no frame is late; beyond, the +5 ms frames
# (1F2, 1DC) are late by the excess, and beyond GAP_US the next +0 ms batch (11A, 1D4) too. LATE_BUDGET_US: the
# lateness accepted, what real VCMs show (ZE0 recordings: 1D4 / 11A gaps of up to 20 ms, one 10 ms period late).
SLOT_US = const(2000)
GAP_US = const(6000)
LATE_BUDGET_US = const(10000)


class Collector:
    """gcmod: the gc module (tests hand in their own); ticks: the microsecond clock (ticks_us)."""

    def __init__(self, gcmod=gc, ticks=ticks_us, step=STEP, check_every=CHECK_EVERY):
        self.gc = gcmod
        self._ticks = ticks
        self.step = step
        self.check_every = check_every
        # Half-way between two runs of the 100 ms job (it runs with the 1st, 11th, ... 10 ms job).
        self._n = check_every // 2
        self.enabled = False
        self.base = 0
        self.reset_stats()
        if hasattr(gcmod, "mem_alloc") and sys.platform != "webassembly":
            self.manage()

    def manage(self):
        """Takes the heap in hand: one collection now (the heap's figures), the slot's from then on."""
        self.enabled = True
        self.collect()

    def reset_stats(self):
        self.collections = 0
        self.worst_us = 0
        self.total_us = 0
        self.last_us = 0
        self.live = 0
        self.size = 0

    def slot(self):
        """The schedule's slot for a collection (right after the +0 ms batch). Allocation-free unless it collects.
        Returns True when it collected."""
        if not self.enabled:
            return False
        self._n += 1
        if self._n < self.check_every:
            return False
        self._n = 0
        if self.gc.mem_alloc() - self.base < self.step:
            return False
        self.collect()
        return True

    def collect(self):
        """One collection and the heap's figures read after it, timed together (start-up, the slot, the
        selftest). Returns the microseconds it took."""
        g = self.gc
        t0 = self._ticks()
        g.collect()
        live = g.mem_alloc()
        size = live + g.mem_free()
        dt = ticks_diff(self._ticks(), t0)
        self.base = live
        self.live = live
        self.size = size
        self.collections += 1
        self.last_us = dt
        self.total_us += dt
        if dt > self.worst_us:
            self.worst_us = dt
        return dt

    def take(self):
        """The schedule starts: from now on only the slot collects."""
        if self.enabled:
            self.gc.disable()

    def release(self):
        """The controller stopped: MicroPython collects by itself again (the REPL, a deploy)."""
        if self.enabled:
            self.gc.enable()

    def text(self):
        """The `stats` line (allocates: console only)."""
        if not self.enabled:
            return "gc: not managed on this interpreter"
        return "gc: collections=%d worst=%dus total=%dus last=%dus heap=%d live=%d step=%d" % (
            self.collections, self.worst_us, self.total_us, self.last_us, self.size, self.live, self.step)
