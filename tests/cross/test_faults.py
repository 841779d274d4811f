"""Fault latch and the fault log ring with its serialisation (cross-interpreter)."""

import gc
import sys
import unittest

from leafvcu import faults as F
from leafvcu.faults import Faults


class Latch(unittest.TestCase):
    def test_trip_latches_and_logs_once(self):
        f = Faults()
        self.assertTrue(f.trip(F.CAN_LOSS, 1000, 120, 100))
        self.assertFalse(f.trip(F.CAN_LOSS, 1010, 130, 100))
        self.assertTrue(f.is_latched(F.CAN_LOSS))
        self.assertFalse(f.is_latched(F.DC_COLLAPSE))
        self.assertEqual(f.first, F.CAN_LOSS)
        self.assertTrue(f.trip(F.DC_COLLAPSE, 1020, 150, 200))
        self.assertEqual(f.first, F.CAN_LOSS)
        self.assertEqual(f.codes(), [F.DC_COLLAPSE, F.CAN_LOSS] if F.DC_COLLAPSE < F.CAN_LOSS else
                         [F.CAN_LOSS, F.DC_COLLAPSE])
        self.assertEqual(f.entries(), [(F.CAN_LOSS, 0, 1000, 120, 100), (F.DC_COLLAPSE, 0, 1020, 150, 200)])

    def test_clear_keeps_log(self):
        f = Faults()
        f.trip(F.PC_TIMEOUT, 5, 300, 5000)
        self.assertEqual(f.clear(7, 2), 1 << F.PC_TIMEOUT)
        self.assertEqual(f.latched, 0)
        self.assertEqual(f.first, F.NONE)
        self.assertEqual(f.entries()[-1], (F.CLEARED, 0, 7, 1 << F.PC_TIMEOUT, 2))

    def test_note_does_not_latch(self):
        f = Faults()
        f.note(F.RESET_CAUSE, 0, 3)
        self.assertEqual(f.latched, 0)
        self.assertEqual(f.entries(), [(F.RESET_CAUSE, 0, 0, 3, 0)])

    def test_names(self):
        for c in F.LATCHING:
            self.assertTrue(F.name(c) != "code_%d" % c)
        self.assertEqual(F.name(99), "code_99")
        self.assertEqual(len(set(F.NAMES.values())), len(F.NAMES))

    def test_bad_code_becomes_task_exception(self):
        f = Faults()
        f.trip(0, 1)
        f.trip(99, 1)
        self.assertTrue(f.is_latched(F.TASK_EXC))


class Ring(unittest.TestCase):
    def test_wraps_keeping_newest(self):
        f = Faults(size=4)
        for i in range(10):
            f.note(F.RESET_CAUSE, i * 10, i)
        e = f.entries()
        self.assertEqual([x[3] for x in e], [6, 7, 8, 9])
        self.assertEqual(f.count, 10)

    def test_routine_entries_never_push_a_fault_out(self):
        f = Faults(size=4)
        f.trip(F.INV_ERROR, 10, 1, 2)
        for i in range(20):  # a maintenance run each: stopped, reset, started again
            f.note(F.MAINT_STOP, 100 + i, 0)
            f.note(F.RESET_CAUSE, 101 + i, 5)
        e = f.entries()
        self.assertEqual([x[0] for x in e], [F.INV_ERROR, F.RESET_CAUSE, F.MAINT_STOP, F.RESET_CAUSE])
        self.assertEqual([x[2] for x in e], [10, 119, 119, 120])  # the newest routine ones, in order

    def test_a_new_fault_takes_the_place_of_the_oldest_routine_entry(self):
        f = Faults(size=4)
        f.trip(F.CAN_LOSS, 1)
        f.note(F.RESET_CAUSE, 2)
        f.trip(F.DC_COLLAPSE, 3)
        f.note(F.CLEARED, 4)
        f.trip(F.PEDAL_RANGE, 5)
        self.assertEqual([x[2] for x in f.entries()], [1, 3, 4, 5])
        f.trip(F.PC_FAST, 6)
        self.assertEqual([x[2] for x in f.entries()], [1, 3, 5, 6])
        self.assertEqual(f.count, 6)

    def test_a_log_of_nothing_but_faults_drops_routine_entries_and_wraps_on_faults(self):
        f = Faults(size=3)
        for code in (F.CAN_LOSS, F.DC_COLLAPSE, F.PEDAL_RANGE):
            f.trip(code, code)
        f.note(F.RESET_CAUSE, 99)
        f.note(F.MAINT_STOP, 99)
        self.assertEqual([x[0] for x in f.entries()], [F.CAN_LOSS, F.DC_COLLAPSE, F.PEDAL_RANGE])
        self.assertEqual(f.count, 3)  # dropped, not written
        f.trip(F.PC_FAST, 100)
        self.assertEqual([x[0] for x in f.entries()], [F.DC_COLLAPSE, F.PEDAL_RANGE, F.PC_FAST])

    def test_the_policy_survives_a_round_trip(self):
        f = Faults()
        f.trip(F.WATCHDOG, 1)
        for i in range(F.LOG_SIZE):
            f.note(F.RESET_CAUSE, 2 + i)
        g = Faults()
        self.assertTrue(g.from_bytes(f.to_bytes()))
        g.note(F.MAINT_STOP, 50)
        self.assertEqual(g.entries()[0][0], F.WATCHDOG)
        self.assertEqual(g.entries()[-1][0], F.MAINT_STOP)

    def test_values_clipped_to_small_int(self):
        f = Faults()
        f.note(F.CAN_BUS, 1 << 40, -(1 << 40), 5)
        e = f.entries()[0]
        self.assertEqual(e[2], 0x3FFFFFFF)
        self.assertEqual(e[3], -0x3FFFFFFF)

    def test_serialise_round_trip_counts_boot(self):
        f = Faults()
        f.trip(F.INV_ERROR, 123456, 0x80, 360)
        f.note(F.RESET_CAUSE, 1, -5)
        blob = f.to_bytes()
        g = Faults()
        self.assertTrue(g.from_bytes(blob))
        self.assertEqual(g.entries(), f.entries())
        self.assertEqual(g.boot, 1)
        self.assertEqual(g.latched, 0)  # a reset is an explicit recovery
        g.note(F.RESET_CAUSE, 2, 1)
        self.assertEqual(g.entries()[-1][1], 1)
        h = Faults()
        self.assertTrue(h.from_bytes(g.to_bytes()))
        self.assertEqual(h.boot, 2)
        self.assertEqual(len(h.entries()), 3)

    def test_corrupt_or_truncated_blob_is_refused(self):
        f = Faults()
        f.note(F.RESET_CAUSE, 1, 1)
        blob = bytearray(f.to_bytes())
        g = Faults()
        g.note(F.PARAM_FILE, 9, 9)
        for bad in (None, b"", bytes(blob[:-1]), bytes(blob[:10])):
            self.assertFalse(g.from_bytes(bad))
        for i in (0, 4, 20, len(blob) - 1):
            b = bytearray(blob)
            b[i] ^= 0x10
            self.assertFalse(g.from_bytes(bytes(b)))
        self.assertEqual(g.entries(), [(F.PARAM_FILE, 0, 9, 9, 0)])  # kept its own
        self.assertFalse(Faults(size=8).from_bytes(bytes(blob)))  # another size


class NoAlloc(unittest.TestCase):
    """A trip on the 10 ms path may meet a full log: making room (the oldest routine entry out, the older ones
    moved up) allocates nothing either."""

    def test_a_full_log_takes_entries_without_allocating(self):
        if sys.implementation.name != "micropython":
            self.skipTest("heap accounting is MicroPython's")
        f = Faults()
        f.trip(F.INV_ERROR, 1, 2, 3)
        i = 0
        while i < F.LOG_SIZE:
            f.note(F.RESET_CAUSE, 10 + i, 1)
            i += 1
        f.trip(F.CAN_LOSS, 100, 120, 100)  # warm up
        gc.collect()
        a = gc.mem_alloc()
        f.trip(F.DC_COLLAPSE, 200, 40, 50)
        f.note(F.MAINT_STOP, 201, 0)
        f.trip(F.PEDAL_RANGE, 202, 1, 2)
        used = gc.mem_alloc() - a
        self.assertEqual(used, 0)
        self.assertEqual(f.entries()[0][0], F.INV_ERROR)


if __name__ == "__main__":
    unittest.main()
