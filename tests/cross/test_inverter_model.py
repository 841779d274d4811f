"""The simulated AZE0 inverter (tools/fakes/inverter.py): what it sends (boot markers, periods, CRC and counters
through the codec, error bits alone), how its torque follows the 1D4, and how it rejects a controller that breaks
the protocol (bad CRC, stuck counter, late 1D4, missing 50B, torque beyond limits) by counting, refusing torque and
raising its error bits.

Cross-interpreter: runs under pytest and under real MicroPython (tools/mpy_lane.mjs).
"""
import unittest

from fakes.clock import VirtualClock
from fakes.canbus import VirtualCANBus, RecordingNode
from fakes import inverter as I
from fakes.inverter import Inverter
from leafvcu import frames as fr


def hexb(b):
    return "".join("%02X" % x for x in b)


class FakeVcm:
    """A VCM on the bus: 11A + 1D4 every 10 ms, 50B every 100 ms, built by the codec. Knobs for breaking the
    protocol: bad_crc_1d4 (count of frames to corrupt, -1 = all), stuck_1d4, pause_1d4 (skip until a time),
    send_50b, sleep_50b, torque_nm, inhibitor, precharge, upper_raw / lower_raw, onoff."""

    def __init__(self, clock, bus, start_us=0):
        self.clock = clock
        self.bus = bus
        self.acks = True
        bus.attach(self)
        self.m11a = fr.VcmState()
        self.m1d4 = fr.TorqueRequest()
        self.m50b = fr.VcmWake()
        self.n11a = 0
        self.n1d4 = 0
        self.bad_crc_1d4 = 0
        self.stuck_1d4 = False
        self.pause_until = -1
        self.send_50b = True
        self.sleep_50b = False
        self.silent = False
        self.torque_nm = 0.0
        self.inhibitor = fr.INHIBIT_D
        self.precharge = fr.PRECHARGED
        self.onoff = fr.CAR_ON
        self.gear = None    # 11A gear: None = the one the inhibitor says
        self.b1d4_6 = None  # 1D4 byte 6: None = the codec's default
        self.got = []
        self._k = 0
        clock.call_at(start_us, self._tick)

    def on_frame(self, t_us, can_id, data, sender):
        self.got.append((t_us, can_id, bytes(data)))

    def _tick(self):
        now = self.clock.now_us
        self.clock.call_at(now + 10000, self._tick)
        k = self._k
        self._k = k + 1
        if self.silent:
            return
        b = bytearray(8)
        self.m11a.onoff = self.onoff
        if self.gear is not None:
            self.m11a.gear = self.gear
        else:
            self.m11a.gear = (fr.GEAR_D if self.inhibitor == fr.INHIBIT_D else
                              (fr.GEAR_R if self.inhibitor == fr.INHIBIT_R else fr.GEAR_P))
        fr.encode_11a(b, self.m11a, self.n11a)
        self.n11a = (self.n11a + 1) & 3
        self.bus.send(self, 0x11A, b)
        if now >= self.pause_until:
            m = self.m1d4
            m.torque_nm = self.torque_nm
            m.inhibitor = self.inhibitor
            m.precharge = self.precharge
            m.relay = self.precharge == fr.PRECHARGED
            if self.b1d4_6 is not None:
                m.status = self.b1d4_6
            b = bytearray(8)
            fr.encode_1d4(b, m, self.n1d4)
            if not self.stuck_1d4:
                self.n1d4 = (self.n1d4 + 1) & 3
            if self.bad_crc_1d4:
                b[7] ^= 0x01
                if self.bad_crc_1d4 > 0:
                    self.bad_crc_1d4 -= 1
            self.bus.send(self, 0x1D4, b)
        if k % 10 == 3 and self.send_50b:
            self.m50b.set(fr.VCM_SLEEP if self.sleep_50b else fr.VCM_READY)
            b = bytearray(7)
            fr.encode_50b(b, self.m50b)
            self.bus.send(self, 0x50B, b)


class Rig:
    def __init__(self, vcm=True, v_dc=380.0, powered=True, strict=True):
        self.clock = VirtualClock()
        self.bus = VirtualCANBus(self.clock)
        self.peer = RecordingNode(self.bus, name="peer")
        self.inv = Inverter(self.clock, self.bus, powered=powered, strict=strict)
        self.inv.v_dc = v_dc
        self.inv.start()
        self.vcm = FakeVcm(self.clock, self.bus, 1000) if vcm else None

    def run_ms(self, ms):
        self.clock.advance_us(ms * 1000)

    def frames(self, can_id):
        return [(t, d) for (t, i, d) in self.peer.frames if i == can_id]


class TestWhatItSends(unittest.TestCase):
    def test_first_frames_are_the_logs_boot_markers(self):
        r = Rig(vcm=False, v_dc=0.0)
        r.run_ms(600)
        f = r.frames(0x1DA)
        # ze0_on-off.log / env200 / ze1 logs: the inverter's first two frames, byte for byte
        self.assertEqual(hexb(f[0][1]), "FF0000007FFE0197")
        self.assertEqual(hexb(f[1][1]), "FF0000007FFE029D")
        st = fr.InverterStatus()
        for k in range(len(f)):
            self.assertTrue(fr.decode_1da(f[k][1], st))
            raw = (f[k][1][4] << 8) | f[k][1][5]
            if k < I.BOOT_FF_FRAMES:
                self.assertFalse(st.voltage_valid)
            else:
                self.assertTrue(st.voltage_valid)
            if k < I.BOOT_7FFE_FRAMES:
                self.assertEqual(raw, 0x7FFE)
            elif k < I.BOOT_7FFF_FRAMES:
                self.assertEqual(raw, 0x7FFF)
            else:
                self.assertTrue(st.speed_valid)
        # first frame BOOT_DELAY after power-on (on the tick grid)
        self.assertGreaterEqual(f[0][0], I.BOOT_DELAY_US)
        self.assertLessEqual(f[0][0], I.BOOT_DELAY_US + I.PERIOD_US + 500)

    def test_every_1da_passes_the_codec_and_keeps_10ms(self):
        r = Rig()
        r.vcm.torque_nm = 50.0
        r.inv.rpm = 1234.0
        r.run_ms(3000)
        f = r.frames(0x1DA)
        self.assertGreaterEqual(len(f), 280)
        st = fr.InverterStatus()
        for t, d in f:
            self.assertTrue(fr.decode_1da(d, st))
        self.assertEqual(st.bad_crc, 0)
        self.assertEqual(st.bad_counter, 0)
        self.assertEqual(st.frames, len(f))
        for k in range(1, len(f)):
            dt = f[k][0] - f[k - 1][0]
            self.assertGreaterEqual(dt, 10000 - 60)  # frame ends: bit stuffing moves them by a few bits
            self.assertLessEqual(dt, 10000 + 60)
        self.assertEqual(st.speed_rpm, 1234)
        self.assertEqual(st.dc_voltage, 380)
        self.assertEqual(st.errors, 0)

    def test_55a_every_100ms_with_temperatures(self):
        r = Rig()
        r.run_ms(2000)
        f = r.frames(0x55A)
        self.assertGreaterEqual(len(f), 18)
        for k in range(1, len(f)):
            dt = f[k][0] - f[k - 1][0]
            self.assertGreaterEqual(dt, 100000 - 200)
            self.assertLessEqual(dt, 100000 + 200)
        st = fr.InverterTemps()
        self.assertTrue(fr.decode_55a(f[-1][1], st))
        self.assertAlmostEqual(st.inverter_c10 / 10, 20.0, delta=1.0)
        self.assertAlmostEqual(st.motor_c10 / 10, 20.0, delta=1.0)

    def test_alone_it_raises_the_gen2_error_bits(self):
        r = Rig(vcm=False)
        r.run_ms(500)
        self.assertEqual(r.inv.errors, 0)
        r.run_ms(400)  # past ALONE_ERR_US
        self.assertEqual(r.inv.errors, I.ERR_NO_VCM)
        r.run_ms(1500)  # past BOOT_CAN_TIMEOUT_US
        d = r.frames(0x1DA)[-1][1]
        self.assertEqual(d[6] & 0xFC, 0xE0)  # P§1: a Gen2 inverter alone sends E0..E3
        self.assertEqual((d[4], d[5]), (0, 0))
        st = fr.InverterStatus()
        fr.decode_1da(d, st)
        self.assertTrue(st.fault)
        self.assertEqual(r.inv.violation_count(), 0)  # nobody broke the protocol: nobody spoke

    def test_alone_bits_clear_when_a_vcm_speaks(self):
        r = Rig(vcm=False)
        r.run_ms(2500)
        self.assertEqual(r.inv.errors, 0xE0)
        FakeVcm(r.clock, r.bus, r.clock.now_us + 1000)
        r.run_ms(500)
        self.assertEqual(r.inv.errors, 0)
        self.assertEqual(r.inv.violation_count(), 0)

    def test_status_bits_and_speed_flag_with_hv_up(self):
        r = Rig()
        r.run_ms(1000)
        d = r.frames(0x1DA)[-1][1]
        self.assertEqual(d[2] & 0xF8, I.STATUS_HV)
        self.assertEqual(d[5] & 1, 1)  # car ON heard
        self.assertEqual(d[6] & 0xFC, 0)

    def test_power_off_means_silent_and_no_ack(self):
        r = Rig()
        r.run_ms(500)
        r.inv.set_power(False)
        self.assertFalse(r.inv.acks)
        n = len(r.frames(0x1DA))
        r.run_ms(200)
        self.assertEqual(len(r.frames(0x1DA)), n)
        r.inv.set_power(True)
        r.run_ms(200)
        f = r.frames(0x1DA)
        self.assertEqual(hexb(f[n][1]), "FF0000007FFE0197")  # a fresh boot


class TestTorque(unittest.TestCase):
    def test_follows_the_request_with_a_first_order_lag(self):
        r = Rig()
        r.run_ms(1000)
        self.assertEqual(r.inv.why, "")
        r.vcm.torque_nm = 100.0
        r.run_ms(300)
        self.assertAlmostEqual(r.inv.torque_nm, 100.0, delta=0.5)
        st = fr.InverterStatus()
        fr.decode_1da(r.frames(0x1DA)[-1][1], st)
        self.assertAlmostEqual(st.torque_nm, 100.0, delta=0.5)
        # the step response: ~63 % one time constant after the request reached the inverter
        r.vcm.torque_nm = 0.0
        r.run_ms(250)
        self.assertAlmostEqual(r.inv.torque_nm, 0.0, delta=0.1)
        inv = r.inv
        inv.request_nm = 100.0
        inv.torque_nm = 0.0
        inv._torque()  # one 10 ms tick, directly
        a = 1.0 - 2.718281828459045 ** (-I.PERIOD_US / I.TAU_TORQUE_US)
        self.assertAlmostEqual(inv.torque_nm, 100.0 * a, delta=0.01)
        self.assertEqual(r.inv.violation_count(), 0)

    def test_limits_inverter_max_and_power(self):
        r = Rig()
        r.vcm.m1d4.upper_raw = 0xF7  # 617 Nm allowed by the VCM: the inverter's own limit applies
        r.run_ms(1000)
        r.vcm.torque_nm = 400.0
        r.run_ms(300)
        self.assertAlmostEqual(r.inv.torque_nm, I.T_MAX_NM, delta=0.5)
        r.inv.rpm = 6000.0
        r.run_ms(300)
        w = 6000.0 * 2 * 3.141592653589793 / 60
        self.assertAlmostEqual(r.inv.torque_nm, I.P_MAX_W / w, delta=0.5)
        self.assertEqual(r.inv.violation_count(), 0)

    def test_refuses_unless_every_condition_holds(self):
        cases = (("inhibitor", fr.INHIBIT_P, "park"), ("precharge", fr.PRECHARGING, "precharge"),
                 ("onoff", fr.CAR_OFF, "car_off"))
        for attr, value, why in cases:
            with self.subTest(attr=attr):
                r = Rig()
                r.run_ms(1000)
                r.vcm.torque_nm = 50.0
                setattr(r.vcm, attr, value)
                r.run_ms(200)
                self.assertEqual(r.inv.why, why)
                self.assertEqual(r.inv.torque_nm, 0.0)
                self.assertGreaterEqual(r.inv.violations["torque_not_ready"], 10)
        r = Rig(v_dc=150.0)
        r.run_ms(1000)
        r.vcm.torque_nm = 50.0
        r.run_ms(200)
        self.assertEqual(r.inv.why, "undervolt")
        self.assertEqual(r.inv.torque_nm, 0.0)
        self.assertEqual(r.inv.violation_count(), 0)  # low voltage is not the controller's protocol fault

    def test_torque_beyond_the_1d4_limits_is_counted_and_clamped(self):
        r = Rig()
        r.vcm.m1d4.upper_raw = 20  # 50 Nm
        r.vcm.m1d4.lower_raw = 8  # 20 Nm regen
        r.run_ms(1000)
        r.vcm.torque_nm = 80.0
        r.run_ms(300)
        self.assertAlmostEqual(r.inv.torque_nm, 50.0, delta=0.5)
        n = r.inv.violations["torque_limit"]
        self.assertGreaterEqual(n, 25)
        r.vcm.torque_nm = -40.0
        r.run_ms(300)
        self.assertAlmostEqual(r.inv.torque_nm, -20.0, delta=0.5)
        # in R the limits turn with the direction (ZE0 reverse log): -40 Nm is motoring, within 50 Nm
        r.vcm.inhibitor = fr.INHIBIT_R
        m = r.inv.violations["torque_limit"]
        r.run_ms(300)
        self.assertAlmostEqual(r.inv.torque_nm, -40.0, delta=0.5)
        self.assertEqual(r.inv.violations["torque_limit"], m)

    def test_active_discharge_after_key_off(self):
        r = Rig()
        r.run_ms(1000)
        self.assertFalse(r.inv.discharging)
        r.vcm.onoff = fr.CAR_OFF
        r.run_ms(100)
        self.assertFalse(r.inv.discharging)  # still reported precharged: contactors closed
        r.vcm.precharge = fr.DISCHARGE  # 7 -> 5: the real VCMs' cue (the link falls right after it)
        r.run_ms(100)
        self.assertTrue(r.inv.discharging)
        self.assertEqual(r.frames(0x1DA)[-1][1][2] & 0xF8, I.STATUS_DISCHARGE)
        r.inv.v_dc = 30.0
        r.run_ms(20)
        self.assertFalse(r.inv.discharging)
        self.assertEqual(r.inv.violation_count(), 0)

    def test_strict_discharges_only_on_5_and_checks_the_nibble_order(self):
        r = Rig()
        r.run_ms(1000)
        r.vcm.onoff = fr.CAR_OFF
        r.vcm.precharge = fr.PRECHARGING  # 7 -> 3: what the controller did before issue 19
        r.run_ms(100)
        self.assertFalse(r.inv.discharging)
        self.assertEqual(r.inv.violations["nibble_order"], 1)
        r.vcm.precharge = fr.DISCHARGE
        r.run_ms(30)
        self.assertTrue(r.inv.discharging)

    def test_lenient_discharges_as_soon_as_the_nibble_leaves_7(self):
        r = Rig(strict=False)
        r.run_ms(1000)
        r.vcm.onoff = fr.CAR_OFF
        r.vcm.precharge = fr.PRECHARGE_NOT_STARTED
        r.run_ms(100)
        self.assertTrue(r.inv.discharging)
        self.assertEqual(r.inv.violation_count(), 0)

    def test_hv_status_0x08_then_0x18_after_nibble_7(self):
        r = Rig()
        r.vcm.precharge = fr.PRECHARGING
        r.run_ms(1000)
        self.assertEqual(r.frames(0x1DA)[-1][1][2] & 0xF8, I.STATUS_HV_PRESENT)  # HV present, not yet 7
        t = r.clock.now_us
        r.vcm.precharge = fr.PRECHARGED
        r.run_ms(100)
        t18 = [ft for ft, d in r.frames(0x1DA) if d[2] & 0xF8 == I.STATUS_HV][0]
        self.assertTrue(10000 <= t18 - t <= 30000, t18 - t)


class TestAsTheRecordings(unittest.TestCase):
    """1DA byte 1 and 55A as real AZE0-era inverters send them (issue 19; ../shared/leaf-can/logs)."""

    def test_1da_byte_1_is_00_40_until_acknowledged_then_32_72_and_never_bit_7(self):
        r = Rig()
        r.vcm.precharge = fr.PRECHARGING
        r.run_ms(1000)
        before = set(d[1] for t, d in r.frames(0x1DA))
        self.assertTrue(before <= set((0x00, 0x40)), before)
        r.vcm.precharge = fr.PRECHARGED
        for v in (380.0, 380.5, 381.0, 381.5):
            r.inv.v_dc = v
            r.run_ms(30)
        run = [d[1] for t, d in r.frames(0x1DA) if d[2] & 0xF8 == I.STATUS_HV]
        self.assertEqual(set(run), set((0x32, 0x72)))
        self.assertFalse([b for t, d in r.frames(0x1DA) for b in (d[1],) if b & 0x80])

    def test_55a_byte_4_never_below_5f_and_the_start_up_steps_of_bytes_6_7(self):
        r = Rig()
        r.vcm.precharge = fr.PRECHARGING
        r.run_ms(1000)
        r.vcm.precharge = fr.PRECHARGED
        r.run_ms(1000)
        f = r.frames(0x55A)
        self.assertTrue(all(d[4] >= 0x5F for t, d in f))
        seq6 = []
        seq7 = []
        for t, d in f:
            if not seq6 or seq6[-1] != d[6]:
                seq6.append(d[6])
            if not seq7 or seq7[-1] != d[7]:
                seq7.append(d[7])
        self.assertEqual(seq6, [0x3A, 0x42, 0x4A, 0x5A, 0x5B])
        self.assertEqual(seq7, [0xA8, 0xC8, 0x48])


class TestStrictChecks(unittest.TestCase):
    """strict: the 11A gear must agree with the 1D4 inhibitor, and no torque while 1D4 byte 6 asks to inhibit
    a shift (0x40); lenient: neither."""

    def _driving(self, strict=True):
        r = Rig(strict=strict)
        r.run_ms(1000)
        r.vcm.torque_nm = 60.0
        r.run_ms(200)
        self.assertAlmostEqual(r.inv.torque_nm, 60.0, delta=0.5)
        return r

    def test_gear_disagreeing_with_the_inhibitor_refuses_torque(self):
        for gear in (fr.GEAR_P, fr.GEAR_R, fr.GEAR_N):
            r = self._driving()
            r.vcm.gear = gear
            r.run_ms(200)
            self.assertEqual(r.inv.torque_nm, 0.0)
            self.assertTrue(r.inv.violations["gear_11a"] > 0)
            r.vcm.gear = None
            r.run_ms(200)
            self.assertAlmostEqual(r.inv.torque_nm, 60.0, delta=0.5)

    def test_shift_inhibit_request_refuses_torque(self):
        r = self._driving()
        r.vcm.b1d4_6 = 0x40
        r.run_ms(200)
        self.assertEqual(r.inv.torque_nm, 0.0)
        self.assertTrue(r.inv.violations["inhibit_1d4"] > 0)

    def test_lenient_checks_neither(self):
        r = self._driving(strict=False)
        r.vcm.gear = fr.GEAR_P
        r.vcm.b1d4_6 = 0x40
        r.run_ms(200)
        self.assertAlmostEqual(r.inv.torque_nm, 60.0, delta=0.5)
        self.assertEqual(r.inv.violations["gear_11a"] + r.inv.violations["inhibit_1d4"], 0)

    def test_reverse_limits_turn_with_the_direction_as_the_recordings(self):
        # ZE0 reverse log: in R (1D4 byte 5 0x42, 11A 2E) the requests go to -39.75 Nm and the inverter delivers
        # up to -45 Nm while 1D4 byte 1 (the lower limit) says 17.5 Nm: negative torque is motoring in R, bounded
        # by byte 0. The model clamps per direction: -40 Nm passes, +40 Nm (braking in R) stops at 17.5 Nm.
        r = self._driving()
        r.vcm.torque_nm = 0.0
        r.run_ms(100)
        r.vcm.inhibitor = fr.INHIBIT_R
        r.vcm.m1d4.lower_raw = 7
        r.vcm.torque_nm = -40.0
        r.run_ms(300)
        self.assertAlmostEqual(r.inv.torque_nm, -40.0, delta=0.5)
        r.vcm.torque_nm = 40.0
        r.run_ms(300)
        self.assertAlmostEqual(r.inv.torque_nm, 17.5, delta=0.5)


class TestRejectsABrokenController(unittest.TestCase):
    def _ready(self):
        r = Rig()
        r.run_ms(1000)
        r.vcm.torque_nm = 60.0
        r.run_ms(200)
        self.assertAlmostEqual(r.inv.torque_nm, 60.0, delta=0.5)
        self.assertEqual(r.inv.violation_count(), 0)
        return r

    def test_bad_crc_on_every_1d4(self):
        r = self._ready()
        r.vcm.bad_crc_1d4 = -1
        r.run_ms(200)
        v = r.inv.violations
        self.assertGreaterEqual(v["crc_1d4"], 19)
        self.assertEqual(v["timeout_1d4"], 1)  # good frames stopped: one timeout
        self.assertEqual(r.inv.torque_nm, 0.0)
        self.assertEqual(r.inv.why, "comm")
        self.assertEqual(r.inv.errors & I.ERR_COMM, 0)  # the real inverters' tolerance: 0x80 only after ~2 s
        r.run_ms(I.VCM_LOSS_US // 1000)
        d = r.frames(0x1DA)[-1][1]
        self.assertEqual(d[6] & I.ERR_COMM, I.ERR_COMM)
        st = fr.InverterStatus()
        fr.decode_1da(d, st)
        self.assertTrue(st.fault)

    def test_a_single_bad_crc_is_counted_not_fatal(self):
        r = self._ready()
        r.vcm.bad_crc_1d4 = 1
        r.run_ms(200)
        self.assertEqual(r.inv.violations["crc_1d4"], 1)
        self.assertEqual(r.inv.violation_count(), 1)  # the next frame's counter jump is not counted again
        self.assertEqual(r.inv.errors, 0)
        self.assertAlmostEqual(r.inv.torque_nm, 60.0, delta=0.5)

    def test_stuck_counter(self):
        r = self._ready()
        r.vcm.stuck_1d4 = True
        r.run_ms(200)
        v = r.inv.violations
        self.assertGreaterEqual(v["counter_1d4"], 18)
        self.assertEqual(v["timeout_1d4"], 1)  # frozen data is no data
        self.assertEqual(r.inv.torque_nm, 0.0)
        r.run_ms(I.VCM_LOSS_US // 1000)
        self.assertEqual(r.inv.errors & I.ERR_COMM, I.ERR_COMM)

    def test_late_1d4_then_recovery(self):
        r = self._ready()
        t = r.clock.now_us
        r.vcm.pause_until = t + 80000  # an 80 ms gap: beyond RX_TIMEOUT_US
        r.run_ms(70)
        self.assertEqual(r.inv.violations["timeout_1d4"], 1)
        self.assertEqual(r.inv.torque_nm, 0.0)
        r.run_ms(100)
        self.assertEqual(r.inv.why, "comm")  # frames are back, recovery takes RECOVER_US
        self.assertEqual(r.inv.errors, 0)  # an 80 ms gap is well inside the real ~2 s before 0x80
        r.run_ms(I.RECOVER_US // 1000 + 100)
        self.assertEqual(r.inv.why, "")
        self.assertEqual(r.inv.errors, 0)
        self.assertAlmostEqual(r.inv.torque_nm, 60.0, delta=0.5)
        self.assertEqual(r.inv.violations["timeout_1d4"], 1)
        self.assertEqual(r.inv.violation_count(), 1)
        self.assertEqual(r.inv.violation_log[0][1], "timeout_1d4")

    def test_a_gap_just_over_the_timeout_between_ticks_still_counts(self):
        r = self._ready()
        r.inv.rx_timeout_us = 25000  # 30 ms gaps below fall between two 10 ms ticks often
        r.vcm.pause_until = r.clock.now_us + 25000
        r.run_ms(100)
        self.assertEqual(r.inv.violations["timeout_1d4"], 1)

    def test_missing_50b(self):
        r = Rig()
        r.vcm.send_50b = False
        r.vcm.torque_nm = 60.0
        r.run_ms(450)  # booted (26 frames after BOOT_DELAY), 50B timeout not yet
        self.assertEqual(r.inv.violations["timeout_50b"], 0)
        self.assertEqual(r.inv.why, "no_50b")
        self.assertEqual(r.inv.torque_nm, 0.0)
        r.run_ms(300)
        self.assertEqual(r.inv.violations["timeout_50b"], 1)
        self.assertGreaterEqual(r.inv.violations["torque_not_ready"], 1)
        r.run_ms(I.VCM_LOSS_US // 1000)
        self.assertEqual(r.inv.errors & I.ERR_COMM, I.ERR_COMM)

    def test_50b_sleep_then_silence_is_no_violation(self):
        r = self._ready()
        r.vcm.torque_nm = 0.0
        r.vcm.onoff = fr.CAR_OFF
        r.vcm.precharge = fr.DISCHARGE  # 7 -> 5 -> 0, as real VCMs shut down
        r.run_ms(40)
        r.vcm.precharge = fr.SHUT_OFF
        r.run_ms(60)
        r.vcm.sleep_50b = True
        r.run_ms(300)
        r.vcm.silent = True
        r.run_ms(3000)
        self.assertEqual(r.inv.violation_count(), 0)
        self.assertEqual(r.inv.why, "asleep")
        # and it wakes again when the VCM does
        r.vcm.silent = False
        r.vcm.sleep_50b = False
        r.vcm.onoff = fr.CAR_ON
        r.vcm.precharge = fr.PRECHARGED
        r.vcm.torque_nm = 30.0
        r.run_ms(300)
        self.assertEqual(r.inv.why, "")
        self.assertEqual(r.inv.violations["counter_1d4"], 0)

    def test_silence_without_goodbye_is_a_timeout_of_each_frame(self):
        r = self._ready()
        r.vcm.silent = True
        r.run_ms(1000)
        v = r.inv.violations
        self.assertEqual((v["timeout_11a"], v["timeout_1d4"], v["timeout_50b"]), (1, 1, 1))
        self.assertEqual(r.inv.torque_nm, 0.0)

    def test_wrong_dlc(self):
        r = self._ready()
        r.bus.send(r.vcm, 0x1D4, b"\x00\x00")
        r.bus.send(r.vcm, 0x11A, b"\x00")
        r.bus.send(r.vcm, 0x50B, b"\x00\x00\x00\xc0")
        r.run_ms(20)
        v = r.inv.violations
        self.assertEqual((v["dlc_1d4"], v["dlc_11a"], v["dlc_50b"]), (1, 1, 1))

    def test_hv_missing_bit_after_ten_seconds(self):
        r = Rig(v_dc=100.0)
        r.vcm.precharge = fr.PRECHARGING
        r.run_ms(9000)
        self.assertEqual(r.inv.errors, 0)
        r.run_ms(2000)
        self.assertEqual(r.inv.errors, I.ERR_HV)
        r.inv.v_dc = 300.0
        r.run_ms(20)
        self.assertEqual(r.inv.errors, 0)


class TestInjections(unittest.TestCase):
    def test_mute_frozen_bad_crc_error_off_vinvalid(self):
        r = Rig()
        r.run_ms(1000)
        r.inv.inject("mute")
        n = len(r.frames(0x1DA))
        r.run_ms(100)
        self.assertEqual(len(r.frames(0x1DA)), n)
        r.inv.restore("mute")
        r.inv.inject("frozen")
        r.run_ms(100)
        f = r.frames(0x1DA)[-5:]
        for t, d in f:
            self.assertEqual(d, f[0][1])
        r.inv.restore("frozen")
        r.inv.inject("bad_crc")
        r.run_ms(50)
        self.assertFalse(fr.crc_ok(r.frames(0x1DA)[-1][1]))
        r.inv.restore("bad_crc")
        r.inv.inject("error", 0x40)
        r.run_ms(50)
        self.assertEqual(r.frames(0x1DA)[-1][1][6] & 0xFC, 0x40)
        self.assertEqual(r.inv.why, "error")
        r.inv.restore("error")
        r.inv.inject("vinvalid")
        r.run_ms(50)
        self.assertEqual(r.frames(0x1DA)[-1][1][0], 0xFF)
        r.inv.restore("vinvalid")
        r.inv.inject("off")
        self.assertFalse(r.inv.acks)
        r.inv.restore("off")
        self.assertTrue(r.inv.acks)
        with self.assertRaises(ValueError):
            r.inv.inject("nonsense")

    def test_overtemp_shows_in_55a(self):
        r = Rig()
        r.inv.inject("overtemp", 90)
        r.run_ms(300)
        st = fr.InverterTemps()
        fr.decode_55a(r.frames(0x55A)[-1][1], st)
        self.assertAlmostEqual(st.inverter_c10 / 10, 90.0, delta=0.6)


if __name__ == "__main__":
    unittest.main()
