"""The simulated battery (tools/fakes/bms.py): limits that fall with SOC and temperature, SimpBMS's frame layout
(read back with the byte positions of PROTOCOL.md section 7.2, not with the firmware's decoder), and a Leaf battery
that wakes with the VCM's frames (cross-interpreter)."""

import unittest

from fakes.bms import BmsModel
from fakes.clock import VirtualClock
from fakes.canbus import VirtualCANBus, RecordingNode
from leafvcu import frames as fr


class FakeHv:
    def __init__(self, v=380.0, i=0.0):
        self.pack_v = v
        self.i_pack = i


def u16(b, i):
    return b[i] | (b[i + 1] << 8)


def s16(b, i):
    v = u16(b, i)
    return v - 65536 if v & 0x8000 else v


class Limits(unittest.TestCase):
    def test_soc_follows_the_emf(self):
        m = BmsModel(None, hv=FakeHv(360.0))
        self.assertEqual(m.soc, 50.0)
        m.hv.pack_v = 300.0
        self.assertEqual(m.soc, 0.0)

    def test_charge_limit_falls_near_full_and_in_the_cold(self):
        m = BmsModel(None, hv=FakeHv())
        for soc, ccl in ((50, 60.0), (90, 60.0), (95, 30.0), (100, 0.0)):
            m.soc_force = soc
            self.assertAlmostEqual(m.ccl, ccl)
        m.soc_force = 50
        for t, ccl in ((-5, 0.0), (0, 0.0), (5, 30.0), (25, 60.0), (50, 30.0), (56, 0.0)):
            m.temp_c = t
            self.assertAlmostEqual(m.ccl, ccl)

    def test_discharge_limit_falls_near_empty_and_at_extremes(self):
        m = BmsModel(None, hv=FakeHv())
        for soc, dcl in ((50, 300.0), (20, 300.0), (12.5, 150.0), (5, 0.0)):
            m.soc_force = soc
            self.assertAlmostEqual(m.dcl, dcl)
        m.soc_force = 50
        m.temp_c = -15
        self.assertAlmostEqual(m.dcl, 150.0)
        m.temp_c = 60
        self.assertAlmostEqual(m.dcl, 0.0)


class Frames35x(unittest.TestCase):
    def test_simpbms_layout(self):
        m = BmsModel(None, hv=FakeHv(381.5, 12.3))  # 12.3 A out of the pack
        m.alarms.add(1)
        f = dict(m.frames_35x())
        self.assertEqual(sorted(f), [0x351, 0x355, 0x356, 0x35A, 0x373])
        b = f[0x351]
        self.assertEqual((u16(b, 0), u16(b, 2), u16(b, 4), u16(b, 6)), (3936, 600, 3000, 3000))
        b = f[0x355]
        self.assertEqual((u16(b, 0), u16(b, 2), u16(b, 4)), (76, 100, 769))  # 76.875 %
        b = f[0x356]
        self.assertEqual((u16(b, 0), s16(b, 2), s16(b, 4)), (38150, -123, 250))
        self.assertEqual(f[0x35A], bytes((0x04, 0, 0, 0, 0, 0, 0, 0)))  # SB: 0x04 = high voltage
        b = f[0x373]
        self.assertEqual((u16(b, 4), u16(b, 6)), (298, 299))
        self.assertEqual(u16(b, 2) - u16(b, 0), 20)

    def test_on_the_bus_every_period_and_silent_on_demand(self):
        clock = VirtualClock()
        bus = VirtualCANBus(clock)
        rec = RecordingNode(bus, acks=True, name="rec")
        m = BmsModel(clock, bus, hv=FakeHv(), profile=2)
        clock.run_until(1005000)
        self.assertEqual(m.sent.get(0x351), 10)
        m.silent = True
        clock.run_until(2005000)
        self.assertEqual(m.sent.get(0x351), 10)
        self.assertTrue(rec is not None)


class LeafBattery(unittest.TestCase):
    def test_wakes_with_the_vcm_and_sleeps_after_it(self):
        clock = VirtualClock()
        bus = VirtualCANBus(clock)
        vcm = RecordingNode(bus, acks=True, name="vcm")
        m = BmsModel(clock, bus, hv=FakeHv(380.0, -5.0), profile=1)
        clock.run_until(500000)
        self.assertEqual(m.sent, {})  # asleep: no VCM yet
        t = 500000
        while t < 1500000:
            bus.send(vcm, 0x11A, bytes(8))
            t += 10000
            clock.run_until(t)
        n = m.sent[0x1DB]
        self.assertTrue(90 <= n <= 95, n)  # from 60 ms after the first VCM frame
        self.assertTrue(8 <= m.sent[0x55B] <= 10)
        st = fr.BatteryStatus()
        frames = [d for (_, i, d) in bus.log if i == 0x1DB]
        self.assertTrue(fr.decode_1db(frames[-1], st, 8))
        self.assertEqual((st.voltage_raw, st.current_raw, st.soc), (760, 10, 75))  # + 5 A: charging
        clock.run_until(2500000)
        k = m.sent[0x1DB] - n
        self.assertTrue(48 <= k <= 50, k)  # 500 ms on after the VCM's last frame, then asleep


if __name__ == "__main__":
    unittest.main()
