"""The battery device (leafvcu.bms): the 0x35x decoders and their sender variants, the Leaf battery's frames,
supervision against bmsto, the limits it publishes into Inputs, and the power -> torque limit (cross-interpreter).

Frames are written byte by byte from PROTOCOL.md section 7.2 (little-endian words), not by the module's own code;
the torque oracle is the physics (P = T x omega) in floats."""

import unittest

from leafvcu.params import Params
from leafvcu.vcm import Inputs
from leafvcu import bms as B
from leafvcu import frames as fr


from hot_rig import le  # noqa: E402 (little-endian 16-bit words: the 0x35x set's layout)


class Dev:
    """A Bms with its Params, Inputs and 1DA state; `t` the time in ms."""

    def __init__(self, profile=B.P_CAN35X, **params):
        self.p = Params()
        self.p.bmsdev = profile
        for k in params:
            self.p.set(k, params[k])
        self.inp = Inputs()
        self.inv = fr.InverterStatus()
        self.b = B.Bms(self.p, self.inp, self.inv, 0)
        self.t = 0

    def rx(self, can_id, data):
        return self.b.rx(can_id, data, len(data))

    def step(self, ms=10):
        self.t += ms
        self.b.step(self.t)

    def limits(self, cvl=3936, ccl=500, dcl=2000, dvl=3000):
        self.rx(0x351, le(cvl, ccl, dcl, dvl))

    def link(self, volts):
        self.inv.voltage_valid = True
        self.inv.dc_voltage = volts


class Decoders(unittest.TestCase):
    def test_351_limits(self):
        d = Dev()
        self.assertTrue(d.rx(0x351, le(3936, 1234, 2500, 3000)))
        b = d.b
        self.assertEqual((b.cvl10, b.ccl10, b.dcl10, b.dvl10), (3936, 1234, 2500, 3000))
        # Battery-Emulator's Pylon-LV sends DLC 6: no discharge voltage
        d.rx(0x351, le(3936, 1234, 2500))
        self.assertEqual((b.dcl10, b.dvl10), (2500, -1))

    def test_351_negative_limit_reads_as_none_allowed(self):
        d = Dev()
        d.link(380)
        d.rx(0x351, le(3936, -50, -2500, 3000))  # AJ's comment: discharge as -5000..0
        d.step()
        self.assertEqual((d.inp.bms_dclw, d.inp.bms_cclw, d.inp.bms_ilim), (0, 0, 0))

    def test_short_frames_are_refused_and_change_nothing(self):
        d = Dev()
        d.limits()
        for can_id, n in ((0x351, 5), (0x355, 1), (0x356, 5), (0x35A, 3), (0x373, 7)):
            self.assertTrue(d.rx(can_id, bytes(n)))
        self.assertEqual(d.b.bad, 5)
        self.assertEqual(d.b.dcl10, 2000)
        self.assertEqual(d.b.n_lim, 1)

    def test_ids_of_other_devices_are_not_taken(self):
        d = Dev()
        for can_id in (0x359, 0x35E, 0x1DA, 0x1DB, 0x390):
            self.assertFalse(d.rx(can_id, bytes(8)))
        self.assertFalse(Dev(B.P_NONE).rx(0x351, bytes(8)))
        self.assertFalse(Dev(B.P_LEAF).rx(0x351, bytes(8)))

    def test_355_soc_sources(self):
        frame = le(87, 99, 873)  # SimpBMS: SOC 87 %, SOH 99 %, SOC x 10 in bytes 4-5
        d = Dev()
        d.rx(0x355, frame)
        self.assertEqual((d.b.soc10, d.b.soh), (870, 99))
        d = Dev(bmssocr=1)
        d.rx(0x355, frame)
        self.assertEqual(d.b.soc10, 873)
        d = Dev(bmssocr=2)
        d.rx(0x355, le(87, 99, 8734))  # Safiery / SMA: 0.01 %
        self.assertEqual(d.b.soc10, 873)
        d = Dev(bmssocr=1)
        d.rx(0x355, le(55))  # DLC 2 (diyBMS): bytes 0-1 whatever the setting
        self.assertEqual(d.b.soc10, 550)

    def test_356_voltage_unsigned_current_sign_and_scale(self):
        d = Dev()
        d.rx(0x356, le(39512, -123, 251))  # 395.12 V (above 327.67: would overflow a signed read), -12.3 A, 25.1 C
        self.assertEqual((d.b.v10, d.b.i10, d.b.t10), (3951, -123, 251))
        d = Dev(bmsisgn=1, bmsvres=1)
        d.rx(0x356, le(3951, -123, -52))  # SimpBMS VictronHV: 0.1 V; + = discharging; -5.2 C
        self.assertEqual((d.b.v10, d.b.i10, d.b.t10), (3951, 123, -52))

    def test_373_cell_extremes(self):
        d = Dev()
        d.rx(0x373, le(3712, 3731, 298, 301))
        self.assertEqual((d.b.cmin, d.b.cmax, d.b.tmin, d.b.tmax), (3712, 3731, 25, 28))


# Each 35A condition (P§7.2 order) and what it must stop, written from its meaning.
EXPECTED = (
    ("general", B.A_STOP), ("high_voltage", B.A_CHG), ("low_voltage", B.A_DIS),
    ("high_temp", B.A_CHG | B.A_DIS), ("low_temp", B.A_CHG | B.A_DIS), ("high_temp_charging", B.A_CHG),
    ("low_temp_charging", B.A_CHG), ("high_discharge_current", B.A_DIS), ("high_charge_current", B.A_CHG),
    ("contactor", B.A_STOP), ("short_circuit", B.A_STOP), ("bms_internal", B.A_STOP), ("cell_imbalance", B.A_CHG),
)


class Alarms(unittest.TestCase):
    def frame(self, k, pair):
        b = bytearray(8)
        b[k // 4] = pair << (2 * (k % 4))
        return b

    def test_each_condition_in_simpbms_polarity(self):
        for k in range(13):
            d = Dev()
            d.rx(0x35A, self.frame(k, 1))  # SimpBMS sets the pair's low bit
            self.assertEqual(d.b.alarm_bits, 1 << k)
            self.assertEqual(B.ALARM_NAMES[k], EXPECTED[k][0])
            self.assertEqual(B.alarm_class(d.b.alarm_bits), EXPECTED[k][1], EXPECTED[k][0])

    def test_simpbms_examples(self):
        # SB: 0x04 over-voltage, 0x10 under-voltage, 0x40 over-temperature, byte 1 0x01 under-temperature
        for b0, b1, name in ((0x04, 0, "high_voltage"), (0x10, 0, "low_voltage"), (0x40, 0, "high_temp"),
                             (0, 0x01, "low_temp")):
            d = Dev()
            d.rx(0x35A, bytes((b0, b1, 0, 0, 0, 0, 0, 0)))
            self.assertEqual(d.b.alarm_bits, 1 << B.ALARM_NAMES.index(name))

    def test_safiery_polarity(self):
        ok = bytes((0x55, 0x55, 0x55, 0x01, 0x55, 0x55, 0x55, 0x01))  # every pair "01 OK" (Safiery)
        d = Dev(bmsapol=1)
        d.rx(0x35A, ok)
        self.assertEqual((d.b.alarm_bits, d.b.warn_bits), (0, 0))
        d.rx(0x35A, bytes((0x59, 0x55, 0x55, 0x01, 0x55, 0x55, 0x55, 0x01)))  # pair 1 = 10: high voltage
        self.assertEqual(d.b.alarm_bits, 2)
        # The same "all OK" frame read with the default polarity: every alarm active (the loud mistake)
        d = Dev()
        d.rx(0x35A, ok)
        self.assertEqual(d.b.alarm_bits, (1 << 13) - 1)

    def test_warnings_are_shown_not_acted_on(self):
        d = Dev()
        d.link(380)
        d.limits()
        d.rx(0x35A, bytes((0, 0, 0, 0, 0x55, 0x55, 0x55, 0x01)))
        d.step()
        self.assertEqual((d.b.alarm_bits, d.b.warn_bits, d.b.alarm), (0, (1 << 13) - 1, 0))
        self.assertTrue(d.inp.bms_dclw > 0)


class Supervision(unittest.TestCase):
    def test_never_heard_waits_with_no_charge_current(self):
        d = Dev()
        d.step()
        self.assertEqual(d.inp.bms_state, B.S_WAIT)
        self.assertEqual((d.inp.bms_ilim, d.inp.bms_cclw), (0, 0))
        self.assertFalse(d.b.ready())

    def test_fresh_then_lost_after_bmsto(self):
        d = Dev(bmsto=1000)
        d.link(380)
        d.limits()
        d.step()
        self.assertEqual(d.inp.bms_state, B.S_OK)
        self.assertTrue(d.b.ready())
        d.step(1000)
        self.assertEqual((d.inp.bms_state, d.b.age), (B.S_OK, 1000))
        d.step(10)
        self.assertEqual((d.inp.bms_state, d.b.age), (B.S_LOST, 1010))
        self.assertEqual(d.inp.bms_dclw, d.p.bmslimp * 1000)
        self.assertEqual((d.inp.bms_cclw, d.inp.bms_ilim, d.inp.bms_vmax), (0, 0, -1))
        d.limits()
        d.step()
        self.assertEqual(d.inp.bms_state, B.S_OK)

    def test_only_the_limits_frame_keeps_it_fresh(self):
        d = Dev(bmsto=500)
        d.limits()
        d.step()
        for _ in range(10):
            for can_id in (0x355, 0x356, 0x35A, 0x373):
                d.rx(can_id, bytes(8))
            d.step(100)
        self.assertEqual(d.inp.bms_state, B.S_LOST)

    def test_no_device_publishes_no_limits(self):
        d = Dev(B.P_NONE)
        d.step()
        inp = d.inp
        self.assertEqual((inp.bms_state, inp.bms_ilim, inp.bms_dclw, inp.bms_cclw, inp.bms_vmax),
                         (B.S_NONE, -1, -1, -1, -1))
        self.assertTrue(d.b.ready())


class Limits(unittest.TestCase):
    def test_currents_become_power_at_the_dc_link_voltage(self):
        d = Dev()
        d.link(380)
        d.limits(cvl=3904, ccl=205, dcl=1000)  # 390.4 V, 20.5 A, 100 A
        d.step()
        self.assertEqual((d.inp.bms_dclw, d.inp.bms_cclw, d.inp.bms_ilim, d.inp.bms_vmax), (38000, 7790, 20, 390))
        self.assertFalse(d.inp.bms_full)

    def test_without_a_link_voltage_the_bms_voltage_counts(self):
        d = Dev()
        d.rx(0x356, le(36000, 0, 250))
        d.limits(dcl=1000)
        d.step()
        self.assertEqual(d.inp.bms_dclw, 36000)

    def test_alarm_classes_zero_their_side(self):
        for k, (name, cls) in enumerate(EXPECTED):
            d = Dev()
            d.link(380)
            d.limits()
            b = bytearray(8)
            b[k // 4] = 1 << (2 * (k % 4))
            d.rx(0x35A, b)
            d.step()
            chg_zero = bool(cls & (B.A_CHG | B.A_STOP))
            dis_zero = bool(cls & (B.A_DIS | B.A_STOP))
            self.assertEqual(d.inp.bms_cclw == 0, chg_zero, name)
            self.assertEqual(d.inp.bms_ilim == 0, chg_zero, name)
            self.assertEqual(d.inp.bms_dclw == 0, dis_zero, name)
            self.assertEqual(d.inp.bms_full, chg_zero, name)
            self.assertEqual(d.b.ready(), not cls & B.A_STOP, name)

    def test_pylontech_35c_enable_bits(self):
        for flags, chg, dis in ((0xC0, True, True), (0x80, True, False), (0x40, False, True), (0x00, False, False)):
            d = Dev()
            d.link(380)
            d.limits()
            d.rx(0x35C, bytes((flags, 0)))
            d.step()
            self.assertEqual(d.inp.bms_cclw > 0, chg, hex(flags))
            self.assertEqual(d.inp.bms_dclw > 0, dis, hex(flags))

    def test_charge_limit_zero_means_full(self):
        d = Dev()
        d.link(390)
        d.limits(ccl=0)
        d.step()
        self.assertTrue(d.inp.bms_full)


class TorqueFromPower(unittest.TestCase):
    def physics_raw(self, w, rpm, eff):
        omega = max(abs(rpm), 100) * 2 * 3.141592653589793 / 60
        return w * eff / 100 / omega * 4  # 0.25 Nm per raw

    def test_cap_is_power_over_speed(self):
        for w, rpm, eff in ((38000, 3000, 85), (38000, 6000, 85), (7790, 2000, 100), (100000, 9000, 90),
                            (1000, -1500, 100), (500, 0, 85)):
            c = B.cap(2047, w, rpm, eff)
            want = self.physics_raw(w, rpm, eff)
            if want >= 2047:
                self.assertEqual(c, 2047)
            else:
                self.assertLessEqual(abs(c - want), 1.5, (w, rpm, c, want))
                self.assertLessEqual(c, want + 0.5)  # never more than the power allows (rounded down)

    def test_no_limit_and_lower_requests_pass(self):
        self.assertEqual(B.cap(1000, -1, 5000, 85), 1000)
        self.assertEqual(B.cap(10, 38000, 3000, 85), 10)
        self.assertEqual(B.cap(1000, 0, 3000, 85), 0)

    def test_huge_power_stays_a_small_int(self):
        self.assertEqual(B.cap(2047, 2 ** 29, 100, 100), 2047)


class LeafBattery(unittest.TestCase):
    def frames(self, n=0, cut=0, full=False):
        s = fr.BatteryStatus()
        s.current_raw = -61  # -30.5 A: discharging
        s.voltage_raw = 761  # 380.5 V
        s.soc = 77
        s.relay_cut = cut
        s.full_charge = full
        b1db = bytearray(8)
        fr.encode_1db(b1db, s, n)
        lim = fr.BatteryLimits()
        lim.discharge_raw = 320  # 80 kW
        lim.charge_raw = 100  # 25 kW
        lim.charger_raw = 100 + 33  # 3.3 kW
        b1dc = bytearray(8)
        fr.encode_1dc(b1dc, lim, n)
        b55b = bytearray((0x30, 0x40, 0xAA, 0, 0, 0, n, 0))  # SOC raw 0xC1 = 19.3 %
        b55b[7] = fr.crc8(b55b, 7)
        return b1db, b1dc, b55b

    def test_values_and_power_limits(self):
        d = Dev(B.P_LEAF)
        d.link(380)
        b1db, b1dc, b55b = self.frames()
        self.assertTrue(d.rx(0x1DB, b1db))
        self.assertTrue(d.rx(0x1DC, b1dc))
        d.step()
        self.assertEqual((d.b.v10, d.b.i10, d.b.soc10), (3805, -305, 770))
        self.assertEqual((d.b.dcl10, d.b.ccl10), (2105, 657))  # 80 kW, 25 kW at 380 V, as currents
        self.assertEqual((d.inp.bms_dclw, d.inp.bms_cclw, d.inp.bms_ilim, d.inp.bms_vmax), (80000, 25000, 8, -1))
        d.rx(0x55B, b55b)
        self.assertEqual(d.b.soc10, 193)

    def test_bad_crc_does_not_count(self):
        d = Dev(B.P_LEAF)
        b1db = bytearray(self.frames()[0])
        b1db[7] ^= 1
        d.rx(0x1DB, b1db)
        d.step()
        self.assertEqual(d.inp.bms_state, B.S_WAIT)

    def test_relay_cut_request_stops_and_full_flag(self):
        d = Dev(B.P_LEAF)
        d.link(380)
        b1db, b1dc, _ = self.frames(cut=1, full=True)
        d.rx(0x1DB, b1db)
        d.rx(0x1DC, b1dc)
        d.step()
        self.assertEqual(d.b.alarm, B.A_STOP)
        self.assertFalse(d.b.ready())
        self.assertTrue(d.inp.bms_full)


class SpoofedFrames(unittest.TestCase):
    def test_1db_1dc_carry_the_bms_values(self):
        d = Dev()
        d.link(380)
        d.rx(0x356, le(38050, 55, 250))
        d.rx(0x355, le(64))
        d.limits(ccl=200, dcl=1000)
        d.step()
        m = fr.BatteryStatus()
        d.b.fill_1db(m)
        self.assertEqual((m.voltage_raw, m.current_raw, m.soc), (761, 11, 64))
        lim = fr.BatteryLimits()
        d.b.fill_1dc(lim)
        self.assertEqual((lim.discharge_raw, lim.charge_raw), (152, 30))  # 38 kW, 7.6 kW at 0.25 kW

    def test_nothing_overridden_before_it_talks(self):
        d = Dev()
        d.step()
        m = fr.BatteryStatus()
        m.voltage_raw = 123
        d.b.fill_1db(m)
        lim = fr.BatteryLimits()
        d.b.fill_1dc(lim)
        self.assertEqual((m.voltage_raw, lim.discharge_raw), (123, 0x280))


if __name__ == "__main__":
    unittest.main()
