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
    VcmState,
    BatteryStatus,
    BatteryLimits,
    VcmWake,
    encode_11a,
    encode_1db,
    encode_1dc,
    encode_55b,
    encode_50b,
    GEAR_P,
    GEAR_D,
    MODE_1F2_AC,
)


class Vcm:
    """A stand-in VCM: sends 1F2 (and 1D4) every 10 ms on the bus, records everything."""

    def __init__(self, pack_v=370.0, **pdm_kw):
        # The lenient model with no start-up delays unless a test asks for them (class Strict below does): this
        # stand-in sends only 1F2 and 1D4.
        pdm_kw.setdefault("strict", False)
        pdm_kw.setdefault("startup", False)
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


class RealVcm(Vcm):
    """The stand-in VCM with everything a real one sends during an AC charge: 1F2 (mode 0x3C), 1D4, 11A (park),
    50B (awake) and the battery's 1DB, 1DC (10 ms) and 55B (100 ms); any of them can be left out. The PDM as in the
    simulator: strict, with its start-up delays."""

    def __init__(self, **pdm_kw):
        pdm_kw.setdefault("strict", True)
        pdm_kw.setdefault("startup", True)
        Vcm.__init__(self, **pdm_kw)
        self.cmd.mode = MODE_1F2_AC
        self.m11a = VcmState()
        self.m11a.gear = GEAR_P
        self.m1db = BatteryStatus()
        self.m1dc = BatteryLimits()
        self.m50b = VcmWake()
        self.m50b.wake = 3  # 00 00 00 C0 00 00 00: awake, as a real VCM while AC charging
        self.skip = set()

    def run(self, ms):
        for _ in range(ms // 10):
            Vcm.run(self, 10)
            b = bytearray(8)
            for can_id, enc, m in ((0x11A, encode_11a, self.m11a), (0x1DB, encode_1db, self.m1db),
                                   (0x1DC, encode_1dc, self.m1dc)):
                if can_id not in self.skip:
                    enc(b, m, self.n & 3)
                    self.node.send(can_id, bytes(b))
            if self.n % 10 == 0 and 0x55B not in self.skip:
                encode_55b(b, (self.n // 10) & 3)
                self.node.send(0x55B, bytes(b))
            if self.n % 10 == 0 and 0x50B not in self.skip:
                encode_50b(b, self.m50b)
                self.node.send(0x50B, bytes(b[:7]))
        self.bus.run_until()

    def series(self, can_id, byte):
        """[(ms from the first frame of can_id, byte value)] at every change of that byte."""
        out = []
        fs = self.frames(can_id)
        for t, _, d in fs:
            if not out or out[-1][1] != d[byte]:
                out.append(((t - fs[0][0]) // 1000, d[byte]))
        return out


class StartUp(unittest.TestCase):
    """The start-up of a real AZE0-era PDM after the plug goes in (issue 19's recordings)."""

    def test_390_and_393_step_through_the_real_start_up(self):
        v = RealVcm()
        v.pdm.plug_in()
        v.run(5000)
        self.assertEqual([b for _, b in v.series(0x390, 3)], [0x00, 0x60, 0xA0, 0xA2, 0xB2, 0xB3])
        t_ac = [t for t, b in v.series(0x390, 3) if b == 0xB2][0]
        self.assertTrue(2700 <= t_ac <= 2850, t_ac)  # the first 390 comes 100 ms after the 679
        b0 = v.series(0x390, 0)
        self.assertEqual([b for _, b in b0], [0x04, 0x06, 0x04])
        self.assertEqual(b0[2][0] - b0[1][0], 1000)
        self.assertEqual([b for _, b in v.series(0x390, 6)], [0x3C, 0x00, 3300 // 100])
        self.assertEqual([b for _, b in v.series(0x393, 1)], [0x10, 0x51])
        # AC class 2 (200/230 V) only from B2 on
        st = ChargerStatus()
        for t, _, d in v.frames(0x390):
            decode_390(d, st, 8)
            self.assertEqual(st.ac_class, AC_230V if d[3] & 0xF0 == 0xB0 else 0)

    def test_output_comes_3_3_s_after_the_first_power_command(self):
        v = RealVcm()
        v.pdm.plug_in()
        v.run(4000)  # AC known
        v.cmd.power_raw = 0x64 + 20
        v.run(3200)
        self.assertEqual(v.pdm.out_w, 0.0)
        self.assertEqual(v.pdm.why, "starting")
        self.assertEqual(v.series(0x393, 1)[-1][1], 0x52)
        v.run(300)
        self.assertTrue(v.pdm.out_w > 0)
        v.run(1000)
        self.assertEqual(v.series(0x393, 1)[-1][1], 0x53)

    def test_a_command_before_the_ac_class_counts_from_the_command(self):
        v = RealVcm()
        v.pdm.plug_in()
        v.run(500)
        v.cmd.power_raw = 0x64 + 20
        v.run(3200)
        self.assertEqual(v.pdm.out_w, 0.0)
        v.run(200)
        self.assertTrue(v.pdm.out_w > 0)

    def test_woken_by_a_vcm_with_no_plug_as_the_e_nv200_log(self):
        v = RealVcm()
        w = VcmWake()
        w.wake = 3
        b = bytearray(7)
        encode_50b(b, w)
        v.node.send(0x50B, bytes(b[:7]))
        v.run(100)
        for _ in range(30):
            v.node.send(0x50B, bytes(b[:7]))
            v.run(100)
        self.assertEqual([b for _, b in v.series(0x390, 3)], [0x00, 0x03])
        self.assertEqual([b for _, b in v.series(0x390, 6)], [0x3C, 0x00])
        self.assertEqual([b for _, b in v.series(0x393, 1)], [0x10, 0x20])
        t = [t for t, b in v.series(0x393, 1) if b == 0x20][0]
        self.assertTrue(2600 <= t <= 2750, t)


class Checks(unittest.TestCase):
    """strict: output only while the VCM's 1F2 says AC charging, 11A park, and its 50B and the battery's frames
    come."""

    def charging(self, **kw):
        v = RealVcm(**kw)
        v.pdm.plug_in()
        v.cmd.power_raw = 0x64 + 20
        v.run(8000)
        return v

    def test_everything_a_real_vcm_sends_charges(self):
        v = self.charging()
        self.assertEqual(v.pdm.why, "")
        self.assertTrue(v.pdm.out_w > 1500)

    def test_each_missing_piece_holds_the_output_and_its_return_resumes_it(self):
        for what, why in (("mode", "1f2_mode"), ("gear", "11a_gear"), (0x11A, "11a_gear"), (0x1DB, "battery"),
                          (0x1DC, "battery"), (0x55B, "battery"), (0x50B, "50b")):
            v = self.charging()
            if what == "mode":
                v.cmd.mode = 0x1E
            elif what == "gear":
                v.m11a.gear = GEAR_D
            else:
                v.skip.add(what)
            v.run(1500)
            self.assertEqual(v.pdm.why, why, what)
            self.assertEqual(v.pdm.out_w, 0.0, what)
            self.assertFalse(v.pdm.failsafe)
            v.cmd.mode = MODE_1F2_AC
            v.m11a.gear = GEAR_P
            v.skip.clear()
            v.run(3000)
            self.assertTrue(v.pdm.out_w > 1500, what)

    def test_lenient_checks_none_of_them(self):
        v = self.charging(strict=False)
        v.cmd.mode = 0x1E
        v.skip.update((0x11A, 0x1DB, 0x1DC, 0x55B, 0x50B))
        v.run(1500)
        self.assertTrue(v.pdm.out_w > 1500)


class Stepped(unittest.TestCase):
    def test_without_a_bus_frames_collect_in_the_outbox(self):
        pdm = PdmModel(pack=SimplePack(), startup=False)
        pdm.plug_in()
        pdm.step(250)
        ids = [cid for cid, _ in pdm.outbox]
        self.assertEqual(ids, [0x679, 0x390, 0x393, 0x390, 0x393])
        s = ChargerStatus()
        self.assertTrue(decode_390(pdm.outbox[1][1], s, 8))
        self.assertEqual(s.ac_class, AC_230V)


if __name__ == "__main__":
    unittest.main()
