"""Garbage collection where the schedule chooses (leafvcu/collector.py), under real MicroPython.

The console flooded with commands, long replies, a stream and garbage while the controller drives, then faults
(the inverter falls silent): through the App's own schedule (sched.Periodic with the collector's slot after the
10 ms job) and the firmware's console task. While the schedule runs, MicroPython's automatic collection is off
(gc.isenabled(), read from the interpreter), so no collection can run inside a job or anywhere but the slot; the
slot keeps the heap bounded: the bytes allocated since the last collection, read step by step (gc_rig.AutoGc),
never reach HEAP_MARGIN. Without the slot the same flood grows the heap without end, and with MicroPython left to
collect by itself (its gc.threshold rule applied to the same allocation) collections land inside console turns:
both show the measurement can see what it guards against. On CPython (no gc.mem_alloc) the flood still runs
through the same code, and only the measurement is skipped."""

import gc
import unittest

from gc_rig import FloodRig, AutoGc, FloodPort, MICROPYTHON
from leafvcu.collector import Collector, STEP
from leafvcu import vcm as V

FLOOD_MS = 6000
# The most the controller's heap may need above its live data (~210 KB) between two slot collections. The split
# heap grows by doubling areas from 56 KB; the TinyPICO's 4 MB of SPIRAM hold this many times over.
HEAP_MARGIN = 262144


class CountingGc:
    """A gc module's shape for the collector's own logic on both interpreters: mem_alloc() grows by what the
    test says was allocated, collect() takes it back to `live`."""

    def __init__(self, live=1000):
        self.live = live
        self.alloc = live
        self.collects = 0
        self.auto = True

    def enable(self):
        self.auto = True

    def disable(self):
        self.auto = False

    def mem_alloc(self):
        return self.alloc

    def mem_free(self):
        return 100000 - self.alloc

    def collect(self):
        self.collects += 1
        self.alloc = self.live


class TestCollectorRule(unittest.TestCase):
    def test_the_slot_collects_only_at_every_check_with_step_bytes_allocated(self):
        g = CountingGc()
        c = Collector(gcmod=g, ticks=lambda: 0, step=100, check_every=10)
        if not c.enabled:  # MicroPython in WebAssembly: left alone unless told
            c.manage()
        self.assertEqual(g.collects, 1)  # at first: the heap's figures
        c.take()
        self.assertFalse(g.auto)
        g.alloc += 150
        ran = [c.slot() for _ in range(20)]
        # The first check comes half-way (5 slots in), then every 10th.
        self.assertEqual([i for i, r in enumerate(ran) if r], [4])
        self.assertEqual(g.collects, 2)
        g.alloc += 99
        self.assertFalse(any(c.slot() for _ in range(30)))  # below step: never
        self.assertEqual((c.collections, c.live, c.size), (2, 1000, 100000))
        c.release()
        self.assertTrue(g.auto)

    def test_stats_line_through_the_console(self):
        rig = FloodRig(port=FloodPort())
        out = rig.con
        text = []
        out.write = text.append
        out.execute("stats")
        line = [t for t in text if t.startswith("gc: ")]
        self.assertEqual(len(line), 1, text)
        if MICROPYTHON:
            self.assertIn("collections=1 ", line[0])
            self.assertIn("step=%d" % STEP, line[0])
        else:
            self.assertIn("not managed", line[0])


class TestSlotPlace(unittest.TestCase):
    def test_collections_run_right_after_the_10ms_job_between_two_100ms_jobs(self):
        # The App's own wiring (the collector's slot on its 10 ms Periodic) with a gc whose collections are
        # recorded: each one falls on the +0 ms phase of the grid, after tick10 ran and before tick10b, in the
        # cycles half-way between two runs of the 100 ms job (on both interpreters).
        rig = FloodRig(port=FloodPort())
        app = rig.app
        g = CountingGc()
        seen = []

        def collect():
            seen.append((rig.clock.now_us % 10000, app.t10.runs, app.t10b.runs, app.t100.runs))
            g.alloc = g.live

        g.collect = collect
        col = app.collector
        col.gc = g
        col.enabled = True
        col.base = g.alloc

        def allocate(r):
            g.alloc += 7000  # the console's garbage: a collection due at every check (STEP every ~5 ms)

        i = 0
        while i < 300:
            rig.run_ms(1, console=False)
            allocate(rig)
            i += 1
        self.assertTrue(len(seen) >= 2, seen)
        for phase, r10, r10b, r100 in seen:
            self.assertEqual(phase, 0)          # the +0 ms batch's slot
            self.assertEqual(r10b, r10 - 1)     # tick10 of this cycle ran, its +5 ms job not yet
            self.assertEqual(r10 % 10, 5)       # half-way between two 100 ms jobs (they run with the 1st, 11th, ..)


class TestNoAutomaticCollection(unittest.TestCase):
    def test_the_slot_allocates_nothing_when_it_does_not_collect(self):
        if not MICROPYTHON:
            self.skipTest("gc.mem_alloc: MicroPython only")
        rig = FloodRig(port=FloodPort())
        col = rig.col
        col.base = gc.mem_alloc() + (1 << 20)  # far from its step: it only checks
        n0 = col.collections
        a = gc.mem_alloc()
        i = 0
        while i < 1000:
            col.slot()
            i += 1
        self.assertEqual(gc.mem_alloc() - a, 0)
        self.assertEqual(col.collections, n0)

    def _flood(self, slot, ms=FLOOD_MS, threshold=HEAP_MARGIN):
        rig = FloodRig(port=FloodPort(), slot=slot)
        self.assertEqual(rig.reach_drive(), "drive")
        if not MICROPYTHON:
            rig.run_ms(ms)
            return rig, None
        self.assertFalse(gc.isenabled())  # the schedule runs: MicroPython does not collect by itself
        auto = AutoGc(threshold, rig.col.base)
        rig.run_ms(ms // 2, auto)
        rig.talk = False  # the inverter falls silent: a fault is latched and logged inside the jobs
        rig.run_ms(ms // 2, auto)
        self.assertEqual(rig.app.vcm.mode, V.FAULT)
        self.assertFalse(gc.isenabled())
        rig.col.release()
        return rig, auto

    def test_flooded_console_collections_only_in_the_slot_and_the_heap_bounded(self):
        rig, auto = self._flood(slot=True)
        self.assertTrue(rig.con.lines + rig.con.refused > 100)  # the flood was processed
        self.assertTrue(rig.port.written > 20000)
        if auto is None:
            self.skipTest("gc.mem_alloc: MicroPython only (the flood ran through the same code)")
        print("flood %d ms: %d slot collections, at most %d bytes allocated between two (%d heap readings)" % (
            FLOOD_MS, rig.col.collections - 1, auto.peak, auto.readings))
        self.assertTrue(rig.col.collections - 1 >= 10, rig.col.collections)  # the flood allocated plenty
        self.assertEqual(auto.automatic(), 0)  # never HEAP_MARGIN since the last collection
        self.assertTrue(auto.peak < HEAP_MARGIN, auto.peak)

    def test_without_the_slot_the_heap_grows_without_end(self):
        rig, auto = self._flood(slot=False, ms=2000)
        if auto is None:
            self.skipTest("gc.mem_alloc: MicroPython only")
        self.assertEqual(rig.col.collections, 1)  # only the one at start-up
        self.assertTrue(auto.in_console + auto.in_jobs + auto.unplaced >= 3, auto.peak)

    def test_left_to_itself_micropython_collects_inside_console_turns(self):
        # MicroPython's own rule at a threshold of STEP (what gc.threshold(STEP) would do) on the same flood,
        # no slot: its collections fall wherever the allocation crosses, here in console turns.
        rig, auto = self._flood(slot=False, ms=1000, threshold=STEP)
        if auto is None:
            self.skipTest("gc.mem_alloc: MicroPython only")
        self.assertTrue(auto.in_console > 0, (auto.in_console, auto.in_jobs, auto.unplaced))


if __name__ == "__main__":
    unittest.main()
