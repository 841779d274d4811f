"""The battery device on the hot path under real MicroPython: receiving each frame of the CAN BMS set (351, 355,
356, 35A, 35C, 373) and of the Leaf battery (1DB, 1DC, 55B) through the driver allocates 0 bytes, and so do the
10 ms / +5 ms / 100 ms jobs in DRIVE with the BMS's limits capping the torque. SPI per received frame: the same
transactions and bytes as a 1DA's (the driver's receive path does not care which id it reads).

The hardware is hot_rig's allocation-free stubs. On CPython (no gc.mem_alloc) the allocation checks are skipped;
the SPI counts and the torque cap are checked on both."""

import gc
import unittest

from hot_rig import DriveRig, alloc_per_job, BMS_FRAMES
from leafvcu import bms as B
from leafvcu.compat import ticks_add


class BmsRig(DriveRig):
    """DriveRig with bmsdev 2 and a BMS whose frames arrive before every 10th cycle (100 ms, SimpBMS's period)."""

    def __init__(self):
        DriveRig.__init__(self)
        self.app.params.bmsdev = B.P_CAN35X

    def feed(self, can_id, data):
        self.spi.present(can_id, data, len(data))
        self.app.can.irq_pending = True
        self.app.service_rx()

    def cycle(self):
        if self.k % 10 == 0:
            for can_id, data in BMS_FRAMES:
                self.feed(can_id, data)
        DriveRig.cycle(self)

    def to_drive(self):
        i = 0
        while i < 600 and self.app.vcm.mode_name() != "drive":
            self.cycle()
            i += 1
        self.hw.pedal_a.v = 55000
        self.hw.pedal_b.v = 27500
        i = 0
        while i < 200:
            self.cycle()
            i += 1


def spi_per_rx(rig, can_id, data, n):
    """(transactions, bytes) of n receptions of one frame through service_rx."""
    spi = rig.spi
    t0 = spi.transactions
    b0 = spi.nbytes
    k = 0
    while k < n:
        rig.feed(can_id, data)
        k += 1
    return (spi.transactions - t0) // n, (spi.nbytes - b0) // n


class TestBmsHotPath(unittest.TestCase):
    def setUp(self):
        self.rig = BmsRig()
        self.rig.to_drive()

    def test_the_limits_reach_the_torque(self):
        app = self.rig.app
        self.assertEqual(app.vcm.mode_name(), "drive")
        self.assertEqual(app.vcm.bms.state, B.S_OK)
        self.assertEqual(app.inp.bms_dclw, 3 * app.inv.dc_voltage)
        # full pedal would ask for maxtrq (250 Nm = 1000 raw); 3 A x ~380 V x 85 % at the 100 rpm floor is less
        self.assertTrue(app.vcm.torque < 1000, app.vcm.torque)
        self.assertEqual(app.vcm.torque, B.cap(1000, app.inp.bms_dclw, 0, app.params.bmseff))

    def test_spi_per_bms_frame_is_a_1da_s(self):
        rig = self.rig
        ref = spi_per_rx(rig, 0x1DA, rig.next_1da(), 1)
        for can_id, data in BMS_FRAMES:
            got = spi_per_rx(rig, can_id, data, 10)
            self.assertEqual(got, ref, hex(can_id))
        print("SPI per received BMS frame (351..373): %d transactions, %d bytes (as a 1DA)" % ref)

    def test_receiving_each_bms_frame_allocates_nothing(self):
        if not hasattr(gc, "mem_alloc"):
            self.skipTest("gc.mem_alloc: MicroPython only")
        rig = self.rig
        mem = gc.mem_alloc
        out = [0, 0, 0, 0, 0, 0]
        gc.collect()
        k = 0
        while k < 20:
            i = 0
            while i < 6:
                f = BMS_FRAMES[i]
                a = mem()
                rig.feed(f[0], f[1])
                out[i] += mem() - a
                i += 1
            k += 1
        print("heap bytes per received BMS frame over 20 each (351, 355, 356, 35A, 35C, 373): %s" % (out,))
        self.assertEqual(out, [0, 0, 0, 0, 0, 0])

    def test_jobs_in_drive_with_bms_limits_allocate_nothing(self):
        if not hasattr(gc, "mem_alloc"):
            self.skipTest("gc.mem_alloc: MicroPython only")
        rig = self.rig
        # the BMS's frames first, outside the measurement (alloc_per_job measures the jobs)
        gc.collect()
        a = gc.mem_alloc()
        k = 0
        while k < 100:
            rig.cycle()
            k += 1
        used = gc.mem_alloc() - a
        d10, d10b, d100, total = alloc_per_job(rig, 100)
        self.assertEqual((used, d10, d10b, d100, total), (0, 0, 0, 0, 0))
        self.assertEqual(rig.app.vcm.bms.state, B.S_OK)


class TestLeafBatteryHotPath(unittest.TestCase):
    def test_receiving_the_leaf_battery_frames_allocates_nothing(self):
        from leafvcu import frames as fr

        rig = DriveRig()
        rig.app.params.bmsdev = B.P_LEAF
        rig.app.params.spoof = 0
        s = fr.BatteryStatus()
        s.voltage_raw = 760
        f1db = bytearray(8)
        lim = fr.BatteryLimits()
        f1dc = bytearray(8)
        f55b = bytearray((0x30, 0x40, 0xAA, 0, 0, 0, 0, 0))

        def feed(can_id, data):
            rig.spi.present(can_id, data, 8)
            rig.app.can.irq_pending = True
            rig.app.service_rx()

        def one(n):
            fr.encode_1db(f1db, s, n)
            fr.encode_1dc(f1dc, lim, n)
            f55b[6] = n
            f55b[7] = fr.crc8(f55b, 7)
            feed(0x1DB, f1db)
            feed(0x1DC, f1dc)
            feed(0x55B, f55b)

        one(0)
        rig.app.tick10(ticks_add(rig.now, 0))
        self.assertEqual(rig.app.vcm.bms.state, B.S_OK)
        if not hasattr(gc, "mem_alloc"):
            self.skipTest("gc.mem_alloc: MicroPython only")
        gc.collect()
        a = gc.mem_alloc()
        k = 1
        while k < 41:
            one(k & 3)
            k += 1
        self.assertEqual(gc.mem_alloc() - a, 0)
        self.assertEqual(rig.app.vcm.bms.s1db.frames, 41)


if __name__ == "__main__":
    unittest.main()


def bench(n=200):
    """Figures for docs/performance.md (node tools/mpy_lane.mjs --run test_bms_alloc.bench): per received frame
    the heap bytes, SPI transactions and bytes, and the median time of one reception through service_rx against
    a 1DA's and against the reference loop (hot_rig.ref_loop(1000)); tick10's median with bmsdev 2 and 0."""
    from hot_rig import clock_us, _median, time_ref_us, time_jobs_us

    rig = BmsRig()
    rig.to_drive()
    ref = _median([time_ref_us(1000) for _ in range(51)])
    rows = [(0x1DA, rig.next_1da())] + list(BMS_FRAMES)
    for can_id, data in rows:
        ts = []
        k = 0
        while k < n:
            if can_id == 0x1DA:
                data = rig.next_1da()
            t0 = clock_us()
            rig.feed(can_id, data)
            ts.append(clock_us() - t0)
            k += 1
        tr, nb = spi_per_rx(rig, can_id, data, 1)
        print("rx %03X: %.1f us median (%.2f x ref_loop(1000) = %.1f us), SPI %d transactions %d bytes"
              % (can_id, _median(ts), _median(ts) / ref, ref, tr, nb))
    t = time_jobs_us(rig, n)
    plain = DriveRig()
    plain.reach_drive()
    u = time_jobs_us(plain, n)
    print("tick10 in DRIVE: bmsdev 2 %.1f us, bmsdev 0 %.1f us (ref_loop(1000) %.1f / %.1f us)"
          % (t[0], u[0], t[4], u[4]))
