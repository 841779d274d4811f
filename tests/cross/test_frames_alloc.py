"""The 10 ms frame set (11A, 1D4, 1DB, 1DC, 1F2) encodes without touching the heap, and the 1DA decode too.

Under MicroPython: gc.mem_alloc() delta over a warm loop must be 0 (skipped on CPython, which has no
gc.mem_alloc). What the frames cost in time is the bench's figure (tools/bench.py: tick10 against a reference
loop), not a test's.
The loops are while loops over preallocated ints: a `for ... in range()` is allocation-free inside a function on
MicroPython too, but a while loop leaves no doubt about what is measured."""

import gc
import unittest

from leafvcu import frames as F


class _Set:
    # Everything the loop touches, built before the measurement.
    def __init__(self):
        self.b11a = bytearray(8)
        self.b1d4 = bytearray(8)
        self.b1db = bytearray(8)
        self.b1dc = bytearray(8)
        self.b1f2 = bytearray(8)
        self.vcm = F.VcmState()
        self.vcm.gear = F.GEAR_D
        self.tq = F.TorqueRequest()
        self.tq.precharge = F.PRECHARGED
        self.tq.relay = True
        self.tq.inhibitor = F.INHIBIT_D
        self.bat = F.BatteryStatus()
        self.bat.voltage_raw = 720
        self.lim = F.BatteryLimits()
        self.chg = F.ChargeCommand()
        self.inv = F.InverterStatus()
        self.rx = bytearray(b"\xc8\x32\x18\x00\x00\x01\x01\x59")
        self.flags = 0


def encode_sets(s, count):
    # One iteration = the 10 ms frame set, with the fields that change every cycle changing.
    i = 0
    while i < count:
        n = i & 3
        s.tq.torque_raw = (i & 4095) - 2048
        s.bat.current_raw = (i & 255) - 128
        s.chg.power_raw = 100 + (i & 63)
        f = F.encode_11a(s.b11a, s.vcm, n)
        f |= F.encode_1d4(s.b1d4, s.tq, n)
        f |= F.encode_1db(s.b1db, s.bat, n)
        f |= F.encode_1dc(s.b1dc, s.lim, n)
        f |= F.encode_1f2(s.b1f2, s.chg, n)
        s.flags |= f
        i += 1


def decode_1da(s, count):
    i = 0
    while i < count:
        F.decode_1da(s.rx, s.inv)
        i += 1


def set_physical_ints(s, count):
    # Physical-unit setters with int arguments are allocation-free too.
    i = 0
    while i < count:
        s.tq.torque_nm = (i & 255) - 128
        s.bat.voltage_v = 300 + (i & 63)
        s.chg.power_kw = i & 7
        i += 1


def set_physical_floats(s, count):
    # The control: float arithmetic does allocate on MicroPython (floats are heap objects).
    i = 0
    while i < count:
        s.tq.torque_nm = 12.5
        i += 1


def _heap_delta(fn, s, count):
    fn(s, 4)  # warm: first calls may intern or cache
    gc.collect()
    a = gc.mem_alloc()
    fn(s, count)
    return gc.mem_alloc() - a


class TestAllocation(unittest.TestCase):
    def setUp(self):
        if not hasattr(gc, "mem_alloc"):
            self.skipTest("gc.mem_alloc is MicroPython only")
        self.s = _Set()

    def test_10ms_frame_set_allocates_nothing(self):
        d = _heap_delta(encode_sets, self.s, 2000)
        print("10 ms frame set x2000: heap delta %d bytes" % d)
        self.assertEqual(d, 0)
        self.assertEqual(self.s.flags, 0)

    def test_1da_decode_allocates_nothing(self):
        d = _heap_delta(decode_1da, self.s, 2000)
        print("decode_1da x2000: heap delta %d bytes" % d)
        self.assertEqual(d, 0)
        self.assertEqual(self.s.inv.dc_voltage, 400)

    def test_int_physical_setters_allocate_nothing(self):
        d = _heap_delta(set_physical_ints, self.s, 2000)
        print("physical setters with ints x2000: heap delta %d bytes" % d)
        self.assertEqual(d, 0)

    def test_the_meter_sees_allocation(self):
        # Without this, a 0 above could mean the measurement is blind.
        d = _heap_delta(set_physical_floats, self.s, 200)
        print("physical setter with a float x200: heap delta %d bytes" % d)
        self.assertNotEqual(d, 0)

    def test_baseline_loop_allocates_nothing(self):
        # The measurement itself: an empty loop of the same shape reads 0, so a non-zero above is the codec.
        d = _heap_delta(lambda s, count: decode_1da(s, 0), self.s, 2000)
        self.assertEqual(d, 0)


if __name__ == "__main__":
    unittest.main()
