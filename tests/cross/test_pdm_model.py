"""The PDM model (tools/fakes/pdm.py) on the virtual CAN bus: 679 on plug-in, 390 / 393 with checksums and
counters every 100 ms, output power following the 1F2 command and the available power, fail-safe without 1D4
or 1F2, sleep on 50B, fault injection (cross-interpreter)."""

import unittest

from fakes.clock import VirtualClock
from fakes.canbus import VirtualCANBus, RecordingNode
from fakes.pdm import PdmModel, SimplePack, HvPack
from leafvcu.frames import (
    ChargeCommand,
    TorqueRequest,
    ChargerStatus,
    ChargerState,
    encode_1f2,
    encode_1d4,
    decode_390,
    decode_393,
    nibble_ok,
    NIB_390,
    NIB_393,
    AC_110V,
    AC_230V,
    AC_ABNORMAL,
    CHARGE_CHARGING,
    CHARGE_FINISHED,
    TRANSITION_NORMAL,
    TRANSITION_STOP,
)


class Vcm:
    """A stand-in VCM: sends 1F2 (and 1D4) every 10 ms on the bus, records everything."""

    def __init__(self, pack_v=370.0, **pdm_kw):
        self.clock = VirtualClock()
        self.bus = VirtualCANBus(self.clock)
        self.node = RecordingNode(self.bus, name="vcm")
        self.pack = SimplePack(soc=0.5, capacity_wh=1e6)
        self.pdm = PdmModel(self.clock, self.bus, pack=self.pack, **pdm_kw)
        self.cmd = ChargeCommand()
        self.cmd.transition = TRANSITION_NORMAL
        self.cmd.power_raw = 0x64
        self.tq = TorqueRequest()
        self.send_1f2 = True
        self.send_1d4 = True
        self.n = 0

    def run(self, ms):
        for _ in range(ms // 10):
            self.clock.advance_ms(10)
            b = bytearray(8)
            if self.send_1f2:
                encode_1f2(b, self.cmd, self.n)
                self.node.send(0x1F2, bytes(b))
            if self.send_1d4:
                encode_1d4(b, self.tq, self.n)
                self.node.send(0x1D4, bytes(b))
            self.n += 1
        self.bus.run_until()

    def frames(self, can_id):
        return [f for f in self.node.frames if f[1] == can_id]

    def last_390(self):
        st = ChargerStatus()
        f = self.frames(0x390)[-1]
        self.assert_ok = decode_390(f[2], st, len(f[2]))
        return st


class Wake(unittest.TestCase):
    def test_plug_in_sends_679_once_then_390_393_every_100ms(self):
        v = Vcm()
        v.run(50)
        self.assertEqual(v.node.frames, [])
        v.pdm.plug_in()
        v.run(1010)  # (the 390 due at exactly +1000 ms would still be on the wire at +1000)
        f679 = v.frames(0x679)
        self.assertEqual(len(f679), 1)
        self.assertEqual(f679[0][2], b"\x00")
        f390 = v.frames(0x390)
        f393 = v.frames(0x393)
        self.assertEqual(len(f390), 10)
        self.assertEqual(len(f393), 10)
        self.assertTrue(f679[0][0] < f390[0][0])
        for i in range(1, len(f390)):
            dt = f390[i][0] - f390[i - 1][0]
            self.assertTrue(99000 <= dt <= 101000, dt)

    def test_checksums_and_counters_decode_strictly(self):
        v = Vcm()
        v.pdm.plug_in()
        v.run(2010)
        s390 = ChargerStatus()
        s393 = ChargerState()
        for _, cid, data in v.frames(0x390):
            self.assertTrue(nibble_ok(data, NIB_390))
            self.assertTrue(decode_390(data, s390, 8))
        for _, cid, data in v.frames(0x393):
            self.assertTrue(nibble_ok(data, NIB_393))
            self.assertTrue(decode_393(data, s393, 8))
        self.assertEqual(s390.frames, 20)
        self.assertEqual(s390.bad_counter, 0)
        self.assertEqual(s393.bad_counter, 0)
        self.assertEqual([d[7] >> 4 & 3 for _, _, d in v.frames(0x390)][:5], [0, 1, 2, 3, 0])
        self.assertEqual(v.frames(0x390)[0][2][7] & 0xC0, 0xC0)  # bits 7..6 set, as in the real frames

    def test_idle_and_charging_frames_look_like_the_real_ones(self):
        v = Vcm(avail_w=2100, max_w=2100)
        v.pdm.plug_in()
        v.cmd.power_raw = 0x64 + 21
        v.run(3000)
        d = v.frames(0x390)[-1][2]
        # Real AZE0-era charging: 04 15 00 B3 00 88 15 xx (P§3)
        self.assertEqual(bytes(d[:7]), b"\x04\x15\x00\xb3\x00\x88\x15")
        self.assertEqual(v.frames(0x393)[-1][2][1], 0x53)
        v.cmd.power_raw = 0x64
        v.run(2000)
        self.assertEqual(v.frames(0x393)[-1][2][1], 0x20)

    def test_vcm_wake_also_sends_679(self):
        v = Vcm()
        v.node.send(0x50B, b"\x00\x00\x00\xc0\x00\x00\x00")
        v.run(300)
        self.assertEqual(len(v.frames(0x679)), 1)
        self.assertTrue(v.pdm.awake)
        self.assertFalse(v.pdm.plugged)
        st = v.last_390()
        self.assertEqual((st.ac_class, st.power_w, st.available_w), (0, 0, 0))


class Power(unittest.TestCase):
    def test_output_follows_the_command_with_a_slew(self):
        v = Vcm(slew_w_s=2000)
        v.pdm.plug_in()
        v.cmd.power_raw = 0x64 + 30  # 3.0 kW
        v.run(500)
        st = v.last_390()
        self.assertTrue(0 < st.power_w < 3000, st.power_w)
        v.run(2000)
        st = v.last_390()
        self.assertEqual(st.power_w, 3000)
        self.assertEqual(st.status, CHARGE_CHARGING)
        self.assertEqual(st.ac_class, AC_230V)
        v.cmd.power_raw = 0x64 + 10
        v.run(500)
        self.assertEqual(v.last_390().power_w, 1000)
        self.assertTrue(v.pack.wh_in > 1.0)

    def test_capped_by_available_power(self):
        v = Vcm(avail_w=3300, avail_110_w=1400, max_w=3300)
        v.pdm.plug_in(ac_class=AC_110V)
        v.cmd.power_raw = 0x64 + 60
        v.run(3000)
        st = v.last_390()
        self.assertEqual(st.available_w, 1400)
        self.assertEqual(st.power_w, 1400)
        self.assertEqual(st.ac_class, AC_110V)

    def test_nothing_without_a_normal_request_or_hv(self):
        v = Vcm()
        v.pdm.plug_in()
        v.cmd.power_raw = 0x64 + 30
        v.cmd.transition = 0
        v.run(1000)
        self.assertEqual(v.last_390().power_w, 0)
        v.cmd.transition = TRANSITION_NORMAL
        v.pack.v_empty = 0.0  # no HV at the PDM's terminals
        v.pack.v_full = 0.0
        v.run(1000)
        self.assertEqual(v.last_390().power_w, 0)

    def test_stop_request_after_charging_reports_finished(self):
        v = Vcm()
        v.pdm.plug_in()
        v.cmd.power_raw = 0x64 + 20
        v.run(2000)
        v.cmd.transition = TRANSITION_STOP
        v.run(1000)
        st = v.last_390()
        self.assertEqual(st.power_w, 0)
        self.assertEqual(st.status, CHARGE_FINISHED)

    def test_hv_pack_adapter(self):
        class Hv:
            v_link = 370.0
            pack_v = 370.0
            p_load = 0.0
            p_charge = 0.0

        hv = Hv()
        p = HvPack(hv, v_per_kwh=3.0)
        p.charge(3600.0, 1000.0)  # 1 kWh
        self.assertEqual(hv.p_charge, 3600.0)  # the charger's own input: the plant owns p_load (the motor)
        self.assertEqual(hv.p_load, 0.0)
        self.assertAlmostEqual(hv.pack_v, 373.0)
        self.assertEqual(p.voltage, 370.0)


class FailSafe(unittest.TestCase):
    def test_no_1d4_while_charging_is_fail_safe(self):
        v = Vcm(timeout_ms=500)
        v.pdm.plug_in()
        v.cmd.power_raw = 0x64 + 30
        v.run(3000)
        self.assertEqual(v.last_390().power_w, 3000)
        v.send_1d4 = False
        v.run(400)
        self.assertFalse(v.pdm.failsafe)
        v.run(400)
        self.assertTrue(v.pdm.failsafe)
        v.run(500)
        st = v.last_390()
        self.assertEqual((st.power_w, st.status, st.available_w), (0, 0, 0))
        v.send_1d4 = True  # latched until unplugged / asleep
        v.run(1000)
        self.assertEqual(v.last_390().power_w, 0)
        v.pdm.unplug()
        v.pdm.plug_in()
        v.run(3000)
        self.assertEqual(v.last_390().power_w, 3000)

    def test_no_1f2_is_fail_safe(self):
        v = Vcm(timeout_ms=500)
        v.pdm.plug_in()
        v.cmd.power_raw = 0x64 + 30
        v.run(2000)
        v.send_1f2 = False
        v.run(1000)
        self.assertTrue(v.pdm.failsafe)
        self.assertEqual(v.last_390().power_w, 0)

    def test_not_before_being_asked_to_charge(self):
        v = Vcm(timeout_ms=500)
        v.send_1d4 = False
        v.send_1f2 = False
        v.pdm.plug_in()
        v.run(1500)
        self.assertFalse(v.pdm.failsafe)


class Injection(unittest.TestCase):
    def test_silent(self):
        v = Vcm()
        v.pdm.plug_in()
        v.cmd.power_raw = 0x64 + 30
        v.run(1010)
        n = len(v.frames(0x390))
        v.pdm.silent = True
        v.run(1000)
        self.assertEqual(len(v.frames(0x390)), n)
        self.assertEqual(len(v.frames(0x393)), n)
        self.assertTrue(v.pdm.out_w > 0)  # it goes on charging, just does not say so

    def test_ac_abnormal(self):
        v = Vcm()
        v.pdm.plug_in()
        v.cmd.power_raw = 0x64 + 30
        v.run(2000)
        v.pdm.set_ac(AC_ABNORMAL)
        v.run(300)
        st = v.last_390()
        self.assertEqual((st.ac_class, st.power_w, st.available_w), (AC_ABNORMAL, 0, 0))

    def test_unplug(self):
        v = Vcm()
        v.pdm.plug_in()
        v.cmd.power_raw = 0x64 + 30
        v.run(2000)
        v.pdm.unplug()
        v.run(300)
        st = v.last_390()
        self.assertEqual((st.ac_class, st.power_w, st.status), (0, 0, 0))
        self.assertTrue(v.pdm.awake)  # still talking while the VCM does

    def test_frozen_counter(self):
        v = Vcm()
        v.pdm.plug_in()
        v.run(310)
        v.pdm.frozen = True
        v.run(500)
        s = ChargerStatus()
        for _, _, d in v.frames(0x390):
            decode_390(d, s, 8)
        self.assertTrue(s.bad_counter >= 4)

    def test_stuck_output(self):
        v = Vcm()
        v.pdm.plug_in()
        v.pdm.stuck_w = 2000
        v.cmd.power_raw = 0x64
        v.run(2000)
        self.assertEqual(v.last_390().power_w, 2000)


class Sleep(unittest.TestCase):
    def test_50b_sleep_stops_it(self):
        v = Vcm()
        v.pdm.plug_in()
        v.run(500)
        v.node.send(0x50B, b"\x00" * 7)
        v.run(110)
        n = len(v.frames(0x390))
        v.run(1000)
        self.assertEqual(len(v.frames(0x390)), n)
        self.assertFalse(v.pdm.awake)

    def test_unplugged_and_vcm_silent_sleeps(self):
        v = Vcm(sleep_ms=1000)
        v.pdm.plug_in()
        v.run(500)
        v.pdm.unplug()
        v.send_1d4 = v.send_1f2 = False
        v.run(1500)
        self.assertFalse(v.pdm.awake)
        self.assertEqual(v.clock.pending_timers(), 0)


class Stepped(unittest.TestCase):
    def test_without_a_bus_frames_collect_in_the_outbox(self):
        pdm = PdmModel(pack=SimplePack())
        pdm.plug_in()
        pdm.step(250)
        ids = [cid for cid, _ in pdm.outbox]
        self.assertEqual(ids, [0x679, 0x390, 0x393, 0x390, 0x393])
        s = ChargerStatus()
        self.assertTrue(decode_390(pdm.outbox[1][1], s, 8))
        self.assertEqual(s.ac_class, AC_230V)


if __name__ == "__main__":
    unittest.main()
