"""sched.Periodic: absolute deadlines that never drift, overruns counted and skipped, self-measurement."""

import unittest

from fakes.clock import VirtualClock
from leafvcu.sched import Periodic


class TestPeriodic(unittest.TestCase):
    def setUp(self):
        self.clock = VirtualClock()
        self.runs_at = []
        self.cost_us = 0

    def job(self, now_ms):
        self.runs_at.append(self.clock.now_us)
        if self.cost_us:
            self.clock.advance_us(self.cost_us)

    def drive(self, p, until_us, jitter_us=0):
        # Sleep as an event loop would: until the deadline, plus some lateness.
        while self.clock.now_us < until_us:
            wait = p.poll()
            self.clock.advance_us(max(1, wait) + jitter_us)

    def test_no_drift_however_long_each_run_takes(self):
        p = Periodic("t", 10, self.job, self.clock)
        p.start()
        self.cost_us = 3000
        self.drive(p, 10_000_000, jitter_us=700)
        # 1000 runs in 10 s, each started within the jitter after its own slot k * 10 ms.
        self.assertGreaterEqual(p.runs, 999)
        for k, t in enumerate(self.runs_at):
            self.assertGreaterEqual(t, k * 10000)
            self.assertLessEqual(t - k * 10000, 700 + 1)
        self.assertEqual(p.overruns, 0)
        self.assertGreaterEqual(p.worst_run_us, 3000)
        self.assertLessEqual(p.worst_late_us, 701)

    def test_missed_deadlines_are_counted_and_skipped_not_burst(self):
        p = Periodic("t", 10, self.job, self.clock)
        p.start()
        self.drive(p, 50_000)
        runs = p.runs
        self.clock.advance_us(35_000)  # the loop was blocked for 3.5 periods
        wait = p.poll()
        # No run now: the slots at 50, 60, 70 and 80 ms are missed, the next run is at the 90 ms slot.
        self.assertEqual(p.runs, runs)
        self.assertEqual(p.overruns, 4)
        self.assertEqual(p.pauses, 1)
        self.assertEqual(self.clock.now_us + wait, 90_000)
        self.assertGreaterEqual(p.worst_late_us, 30_000)
        self.assertEqual(p.worst_pause_us, p.pause_us)
        before = len(self.runs_at)
        self.drive(p, self.clock.now_us + 20_000)
        # Back on the original 10 ms grid, never two runs closer than a period.
        self.assertEqual(self.runs_at[before:], [90_000, 100_000])

    def test_the_first_run_after_a_pause_says_so(self):
        seen = []
        p = Periodic("t", 10, lambda now: seen.append((p.resumed, p.pause_us)), self.clock)
        p.start()
        self.drive(p, 30_000)
        self.clock.advance_us(500_000)
        self.drive(p, self.clock.now_us + 30_000)
        flags = [r for r, _ in seen]
        k = flags.index(True)
        self.assertEqual(flags.count(True), 1)  # only the first run after the pause
        self.assertEqual(k, 3)                  # runs at 0, 10, 20 ms before it
        self.assertGreaterEqual(seen[k][1], 490_000)
        # A run late by less than a period is no pause: it runs at once.
        runs = p.runs
        self.clock.advance_us(p.next_us - self.clock.now_us + 9_000)
        p.poll()
        self.assertEqual(p.runs, runs + 1)
        self.assertEqual(p.pauses, 1)
        self.assertFalse(p.resumed)

    def test_poll_before_deadline_does_nothing_and_says_how_long(self):
        p = Periodic("t", 100, self.job, self.clock)
        p.start(5)
        self.assertEqual(p.poll(), 5000)
        self.assertEqual(p.runs, 0)
        self.clock.advance_us(5000)
        self.assertEqual(p.poll(), 100_000)
        self.assertEqual(p.runs, 1)
