"""The mode machine: start, precharge, contactors, shutdown, every fault path and recovery (cross-interpreter)."""

import unittest

from core_rig import Rig
from leafvcu import vcm as V
from leafvcu import faults as F
from leafvcu.compat import ticks_diff, ticks_add
from leafvcu.frames import (
    TorqueRequest,
    VcmState,
    VcmWake,
    encode_1d4,
    encode_11a,
    encode_50b,
    GEAR_P,
    GEAR_D,
    GEAR_R,
    CAR_ON,
    CAR_OFF,
    VCM_SLEEP,
    VCM_WAKE,
    VCM_READY,
)


def wire_1d4(v):
    m = TorqueRequest()
    v.fill_1d4(m)
    b = bytearray(8)
    encode_1d4(b, m, 0)
    return b


def wire_11a(v):
    m = VcmState()
    v.fill_11a(m)
    b = bytearray(8)
    encode_11a(b, m, 0)
    return b


def wire_50b(v):
    m = VcmWake()
    v.fill_50b(m)
    b = bytearray(8)
    encode_50b(b, m)
    return bytes(b[: m.dlc])


class StartSequence(unittest.TestCase):
    def test_start_relays_in_order_with_timing(self):
        r = Rig()
        p = r.p
        r.key(True)
        t_on = r.t
        r.run_until(lambda v: v.mode == V.READY)
        v = r.vcm
        ev = r.events
        self.assertEqual([(e[1], e[2]) for e in ev], [("pre", True), ("main", True)])
        t_pre = ev[0][0]
        t_main = ev[1][0]
        # The precharge relay closes once the settle time after ignition on has passed (first 10 ms step).
        self.assertGreaterEqual(ticks_diff(t_pre, t_on), p.tsettle)
        self.assertLessEqual(ticks_diff(t_pre, t_on), p.tsettle + 10)
        # The main contactor: after tpcmin, and only with the link within udcdelta of udcnom.
        self.assertGreaterEqual(ticks_diff(t_main, t_pre), p.tpcmin)
        self.assertLessEqual(ticks_diff(t_main, t_pre), p.tpcmin + 10)
        self.assertGreaterEqual(r.inv.dc_voltage, p.udcnom - p.udcdelta)
        self.assertTrue(v.hv_on)
        self.assertTrue(v.relay_pre)  # stays closed, bridged by the main contactor, opens after it
        self.assertEqual(v.faults.latched, 0)

    def test_main_waits_for_voltage(self):
        # Slow precharge (tau 600 ms): the main contactor waits for the voltage, not just tpcmin.
        r = Rig()
        r.tau_ms = 600
        r.key(True)
        r.run_until(lambda v: v.relay_pre)
        t_pre = r.t
        r.run_until(lambda v: v.relay_main, 6000)
        self.assertGreaterEqual(r.inv.dc_voltage, r.p.udcnom - r.p.udcdelta)
        self.assertGreaterEqual(ticks_diff(r.t, t_pre), 1300)

    def test_negative_contactor_order(self):
        r = Rig(negcon=1)
        r.to_ready()
        self.assertEqual([(e[1], e[2]) for e in r.events], [("neg", True), ("pre", True), ("main", True)])
        self.assertEqual(ticks_diff(r.events[1][0], r.events[0][0]), r.p.tgap)

    def test_start_works_across_tick_wrap(self):
        r = Rig(t0=(1 << 30) - 1500)
        v = r.to_drive()
        self.assertEqual(v.faults.latched, 0)
        self.assertTrue(r.t < (1 << 29))  # wrapped

    def test_no_start_with_pedal_pressed(self):
        r = Rig()
        r.set_pedal(300)
        r.key(True)
        r.step(300)
        self.assertEqual(r.vcm.mode, V.OFF)
        self.assertEqual(r.closings["pre"], 0)
        r.set_pedal(0)
        r.step(2)
        self.assertEqual(r.vcm.mode, V.PRECHARGE)

    def test_no_start_without_ignition_or_start(self):
        r = Rig()
        r.key(False, start=True)
        r.step(300)
        self.assertEqual(r.vcm.mode, V.OFF)
        r.key(True, start=False)
        r.step(300)
        self.assertEqual(r.vcm.mode, V.OFF)
        self.assertEqual(r.events, [])

    def test_settle_time_after_boot_and_ignition(self):
        r = Rig(tsettle=2000)
        r.key(True)
        r.step(150)  # 1.5 s after boot and ignition
        self.assertEqual(r.vcm.mode, V.OFF)
        r.step(51)
        self.assertEqual(r.vcm.mode, V.PRECHARGE)


class FramesPerMode(unittest.TestCase):
    def test_1d4_11a_50b_through_the_modes(self):
        r = Rig()
        v = r.vcm
        # Asleep at boot: nothing to send.
        r.step()
        self.assertFalse(v.frames_enabled)
        r.key(True)
        r.step()
        self.assertTrue(v.frames_enabled)
        b = wire_1d4(v)
        self.assertEqual((b[0], b[1]), (0x6E, 0x6E))  # AZE0 limits (params lim1d4h / lim1d4l)
        self.assertEqual(b[4] & 0x0F, 2)  # precharge not started
        self.assertEqual(b[5], 0x06)  # relay off, P
        self.assertEqual(b[6], 0x40)  # b1d4wake: e-NV200 VCM before HV
        self.assertEqual(wire_11a(v)[0] >> 4, GEAR_P)
        self.assertEqual(v.onoff, CAR_ON)
        self.assertEqual(wire_50b(v), b"\x00\x00\x00\xc0\x00\x00\x00")  # wake, AZE0 DLC 7
        r.run_until(lambda v: v.mode == V.PRECHARGE)
        b = wire_1d4(v)
        self.assertEqual(b[4] & 0x0F, 3)
        self.assertEqual(b[5], 0x46)
        self.assertEqual(v.wake, VCM_WAKE)
        r.run_until(lambda v: v.mode == V.READY)
        b = wire_1d4(v)
        self.assertEqual(b[4] & 0x0F, 7)
        self.assertEqual(b[5], 0x46)
        self.assertEqual((b[2], b[3]), (0, 0))
        self.assertEqual(b[6], 0x00)  # b1d4park
        self.assertEqual(wire_50b(v), b"\x00\x00\x00\xc0\x00\x00\x00")  # not yet: 02 comes 150 ms later
        r.inp.fwd = True
        r.step()
        self.assertEqual(v.mode, V.READY)  # D does not engage before 50B says ready
        r.inp.fwd = False
        r.run_until(lambda v: v.wake != VCM_WAKE)
        self.assertEqual(wire_50b(v), b"\x00\x00\x02\xc0\x00\x00\x00")
        r.inp.fwd = True
        r.set_pedal(500)
        r.step()  # pedal pressed: D not engaged
        self.assertEqual(v.mode, V.READY)
        r.set_pedal(0)
        r.step()
        self.assertEqual(v.mode, V.DRIVE)
        self.assertEqual(wire_1d4(v)[5], 0x40)  # shifting: no inhibitor bits, 11A 0x0D, no torque
        self.assertEqual(wire_11a(v)[0], 0x0D)
        r.step(10)
        self.assertEqual(wire_1d4(v)[5], 0x44)
        self.assertEqual(wire_11a(v)[0], 0x4E)
        self.assertEqual(wire_11a(v)[0] >> 4, GEAR_D)
        r.set_pedal(500)
        r.step(20)
        b = wire_1d4(v)
        self.assertTrue(b[2] != 0 and b[2] < 0x80)  # positive torque on the wire
        r.set_pedal(0)
        r.step(50)
        r.inp.fwd = False
        r.inp.rev = True
        r.step()
        self.assertEqual(v.mode, V.DRIVE)
        self.assertEqual(wire_1d4(v)[5], 0x42)
        self.assertEqual(v.gear, GEAR_R)
        self.assertEqual(wire_11a(v)[0], 0x2E)  # D -> R directly
        r.step(10)
        r.inp.rev = False
        r.step()
        self.assertEqual(v.mode, V.READY)
        self.assertEqual(wire_1d4(v)[5], 0x40)  # shifting: 2E -> 3E -> 3D -> 11, each 100 ms
        self.assertEqual(wire_11a(v)[0], 0x3E)
        r.step(10)
        self.assertEqual(wire_11a(v)[0], 0x3D)
        r.step(10)
        self.assertEqual(wire_11a(v)[0], 0x11)
        self.assertEqual(wire_1d4(v)[5], 0x46)

    def test_ze0_50b_dlc(self):
        r = Rig(gen=1)
        r.key(True)
        r.step()
        self.assertEqual(wire_50b(r.vcm), b"\x00\x00\x00\xc0\x00\x60")

    def test_limit_and_status_bytes_follow_params(self):
        r = Rig(lim1d4h=0xF7, lim1d4l=0x07, b1d4run=0x01, b1d4park=0x21, b1d4wake=0x60, b11apark=0x10)
        r.key(True)
        r.step()
        b = wire_1d4(r.vcm)
        self.assertEqual((b[0], b[1], b[6]), (0xF7, 0x07, 0x60))
        self.assertEqual(wire_11a(r.vcm)[0], 0x10)
        r.to_drive()
        r.step(10)
        self.assertEqual(wire_1d4(r.vcm)[6], 0x01)
        self.assertEqual(wire_11a(r.vcm)[0], 0x4E)
        r.inp.fwd = False
        r.step(25)
        self.assertEqual(wire_1d4(r.vcm)[6], 0x21)
        self.assertEqual(wire_11a(r.vcm)[0], 0x10)  # 0x10 | 0x10 after a shift


class Shutdown(unittest.TestCase):
    def test_shutdown_order_timing_and_frame_tail(self):
        r = Rig()
        v = r.to_drive()
        p = r.p
        r.speed = 2000
        r.set_pedal(600)
        r.step(30)
        self.assertTrue(v.torque > 0)
        r.key(False)
        r.step()
        t_off = r.t
        self.assertEqual(v.mode, V.SHUTDOWN)
        self.assertEqual(v.torque, 0)
        self.assertEqual(v.onoff, CAR_ON)  # as real VCMs, 11A stays on while 1D4 still says precharged (7)
        r.step(50)  # still fast: contactors stay closed
        self.assertTrue(v.relay_main)
        r.speed = 100
        r.step()
        t_low = r.t
        r.run_until(lambda v: v.mode == V.OFF, 1000)
        ev = r.events_after(t_off)
        self.assertEqual([(e[1], e[2]) for e in ev], [("main", False), ("pre", False)])
        self.assertLessEqual(ticks_diff(ev[0][0], t_low), 10)
        self.assertEqual(ticks_diff(ev[1][0], ev[0][0]), p.tgap)
        t_open = ev[1][0]
        # Frames go on with WAKE for tkeep, then SLEEP for tsleep, then silence.
        r.run_until(lambda v: v.wake == VCM_SLEEP, p.tkeep + 100)
        self.assertTrue(v.frames_enabled)
        self.assertGreaterEqual(ticks_diff(r.t, t_open), p.tkeep)
        self.assertLessEqual(ticks_diff(r.t, t_open), p.tkeep + 10)
        self.assertEqual(wire_50b(v), b"\x00" * 7)
        r.run_until(lambda v: not v.frames_enabled, p.tsleep + 100)
        self.assertGreaterEqual(ticks_diff(r.t, t_open), p.tkeep + p.tsleep)
        r.step(100)
        self.assertFalse(v.frames_enabled)
        self.assertEqual(v.faults.latched, 0)
        self.assertEqual(v.faults.count, 0)

    def test_shutdown_wait_is_bounded(self):
        r = Rig(negcon=1)
        v = r.to_drive()
        r.speed = 5000
        r.key(False)
        r.step()
        t_off = r.t
        r.run_until(lambda v: v.mode == V.OFF, 5000)
        ev = r.events_after(t_off)
        self.assertEqual([(e[1], e[2]) for e in ev], [("main", False), ("pre", False), ("neg", False)])
        self.assertGreaterEqual(ticks_diff(ev[0][0], t_off), r.p.toffmax - 10)
        self.assertLessEqual(ticks_diff(ev[0][0], t_off), r.p.toffmax + 10)
        self.assertEqual(ticks_diff(ev[2][0], ev[1][0]), r.p.tgap)
        self.assertEqual(v.faults.latched, 0)

    def test_shutdown_waits_for_inverter_torque(self):
        r = Rig()
        r.to_drive()
        r.inv_torque = 200  # 100 Nm still reported
        r.key(False)
        r.step(20)
        self.assertTrue(r.vcm.relay_main)
        r.inv_torque = 4
        r.step(2)
        self.assertFalse(r.vcm.relay_main)

    def test_key_off_during_precharge(self):
        r = Rig()
        r.key(True)
        r.run_until(lambda v: v.relay_pre)
        r.step(20)
        r.key(False)
        r.step()
        self.assertFalse(r.vcm.relay_pre)
        self.assertEqual(r.vcm.mode, V.OFF)
        self.assertEqual(r.closings["main"], 0)

    def test_inverter_silent_at_key_off_opens_at_once(self):
        # An inverter whose 12 V follows the key stops talking: no speed to wait for, no fault either.
        r = Rig()
        r.to_ready()
        r.key(False)
        r.talk = False
        r.step()
        t_off = r.t
        r.run_until(lambda v: v.mode == V.OFF, 1000)
        self.assertLessEqual(ticks_diff(r.events_after(t_off)[0][0], t_off), r.p.tstale + 20)
        self.assertEqual(r.vcm.faults.latched, 0)


class FaultPaths(unittest.TestCase):
    """Each fault: torque 0 within two 10 ms steps, contactors open main -> precharge (-> negative) tgap apart,
    latched and logged, nothing closes again however long the condition stays."""

    def assert_fault_path(self, r, code, t_cause, hold_ms=30000):
        v = r.vcm
        r.run_until(lambda v: v.mode == V.FAULT, 5000)
        t_fault = r.t
        self.assertTrue(v.faults.is_latched(code), F.name(v.faults.first))
        self.assertEqual(v.torque, 0)
        # torque 0 within two cycles of the fault (and from the cause: the detection time plus two cycles)
        last_nonzero = None
        for t, mode, tq in r.trace:
            if tq != 0:
                last_nonzero = t
        if last_nonzero is not None:
            self.assertLessEqual(ticks_diff(last_nonzero, t_fault), 0)
        closed_at_fault = (v.relay_main, v.relay_pre, v.relay_neg)
        r.step(1)
        before = dict(r.closings)
        r.step(hold_ms // 10)
        self.assertEqual(r.closings, before)  # nothing closed again
        self.assertFalse(v.relay_main or v.relay_pre or v.relay_neg)
        self.assertEqual(v.mode, V.FAULT)
        ev = r.events_after(t_fault)
        self.assertTrue(all(not e[2] for e in ev))
        names = [e[1] for e in ev]
        order = [n for n in ("main", "pre", "neg") if n in names]
        self.assertEqual(names, order)
        # Timing: main tgap after the fault (one torque-0 frame first), then tgap apart.
        t_prev = t_fault
        gap = r.p.tgap if closed_at_fault[0] else 0
        for e in ev:
            self.assertLessEqual(ticks_diff(e[0], t_prev), max(gap, 10) + 10)
            t_prev = e[0]
            gap = r.p.tgap
        entries = [e for e in v.faults.entries() if e[0] == code]
        self.assertEqual(len(entries), 1)
        self.assertEqual(entries[0][2], t_fault)
        self.assertLessEqual(ticks_diff(t_fault, t_cause), r.p.tstale + 30)
        return entries[0]

    def test_precharge_timeout(self):
        r = Rig()
        r.pack = 300  # never reaches 340 V
        r.key(True)
        r.run_until(lambda v: v.relay_pre)
        t_pre = r.t
        e = self.assert_fault_path(r, F.PC_TIMEOUT, r.t + r.p.tpcto, hold_ms=20000)
        self.assertTrue(290 <= e[3] <= 300)
        self.assertGreaterEqual(e[4], r.p.tpcto)
        self.assertEqual(r.closings["main"], 0)
        self.assertEqual(r.closings["pre"], 1)
        self.assertTrue(ticks_diff(e[2], t_pre) <= r.p.tpcto + 10)

    def test_precharge_too_fast_shorted_resistor(self):
        r = Rig()
        r.tau_ms = 1  # the link jumps to pack voltage as the precharge relay closes
        r.key(True)
        r.run_until(lambda v: v.relay_pre)
        e = self.assert_fault_path(r, F.PC_FAST, r.t)
        self.assertGreaterEqual(e[3], 300)
        self.assertEqual(r.closings["main"], 0)

    def test_real_leaf_precharge_is_not_too_fast(self):
        # The ZE0 on-off log: ~42 ms RC, 36 -> 110 V in 10 ms. Faster than this real car must still pass.
        r = Rig()
        r.tau_ms = 35
        r.pack = 400
        r.to_ready()
        self.assertEqual(r.vcm.faults.latched, 0)

    def test_welded_main_with_negative_contactor(self):
        r = Rig(negcon=1)
        r.welded = True
        r.key(True)
        r.run_until(lambda v: v.relay_neg)
        self.assert_fault_path(r, F.PC_FAST, r.t)
        self.assertEqual(r.closings["pre"], 0)
        self.assertEqual(r.closings["main"], 0)

    def test_welded_main_without_negative_contactor(self):
        r = Rig()
        r.welded = True
        r.udc = float(r.pack)
        r.key(True)
        t = r.t + r.p.tsettle
        e = self.assert_fault_path(r, F.PC_CHARGED, t)
        self.assertEqual(e[3], 380)
        self.assertEqual(sum(r.closings.values()), 0)

    def test_inverter_silent_at_start(self):
        r = Rig()
        r.talk = False
        r.key(True)
        e = self.assert_fault_path(r, F.PC_INVALID, r.t + r.p.tsettle)
        self.assertEqual(e[3], -1)  # never heard
        self.assertEqual(sum(r.closings.values()), 0)

    def test_voltage_invalid_during_precharge(self):
        r = Rig()
        r.key(True)
        r.run_until(lambda v: v.relay_pre)
        r.step(10)
        r.valid = False
        t = r.t
        e = self.assert_fault_path(r, F.PC_INVALID, t)
        self.assertEqual(e[4], 0)

    def test_1da_stale_during_precharge(self):
        r = Rig()
        r.key(True)
        r.run_until(lambda v: v.relay_pre)
        r.step(10)
        r.talk = False
        t = r.t
        e = self.assert_fault_path(r, F.PC_INVALID, t)
        self.assertGreaterEqual(e[3], r.p.tstale)

    def test_dc_collapse_while_driving(self):
        r = Rig()
        r.to_drive()
        r.speed = 1500
        r.set_pedal(800)
        r.step(50)
        self.assertTrue(r.vcm.torque > 0)
        r.collapse = 120
        r.step(1)
        t = r.t
        self.assertEqual(r.vcm.mode, V.FAULT)
        self.assertEqual(r.vcm.torque, 0)
        e = self.assert_fault_path(r, F.DC_COLLAPSE, t)
        self.assertEqual((e[3], e[4]), (120, r.p.udccol))

    def test_dc_voltage_invalid_while_ready(self):
        r = Rig()
        r.to_ready()
        r.valid = False
        r.step(1)
        self.assert_fault_path(r, F.DC_INVALID, r.t)

    def test_can_loss_while_driving(self):
        r = Rig()
        r.to_drive()
        r.speed = 1000
        r.set_pedal(800)
        r.step(50)
        self.assertTrue(r.vcm.torque > 0)
        r.talk = False
        t_lost = r.t
        e = self.assert_fault_path(r, F.CAN_LOSS, t_lost)
        self.assertGreaterEqual(e[3], r.p.tstale)
        self.assertLessEqual(e[3], r.p.tstale + 10)
        self.assertEqual(e[4], r.p.tstale)

    def test_the_controllers_own_pause_is_not_can_loss(self):
        # The shell says the board was frozen (sched.py: a whole period missed) and read nothing meanwhile: no
        # 1DA reached the core for 500 ms (tstale 100) although the inverter talked (none left in the MCP2515's
        # buffers either). The core's 1DA age counts only listening time, so no fault; the same gap without the
        # shell's word is CAN_LOSS.
        for told in (True, False):
            r = Rig()
            r.to_drive()
            r.step(5)
            r.t = ticks_add(r.t, 500)
            if told:
                r.paused(500)
            r.talk = False
            r.step(1)
            r.talk = True
            r.step(3)
            self.assertEqual(r.vcm.faults.is_latched(F.CAN_LOSS), not told)
            self.assertEqual(r.vcm.mode, V.DRIVE if told else V.FAULT)

    def test_silence_across_a_pause_is_can_loss_after_the_rest_of_tstale(self):
        # Silent 60 ms before a 500 ms pause and after it: the fault comes once 100 ms (tstale) of listening
        # time have passed: 40 ms after the pause, not at once and not a whole tstale later.
        r = Rig()
        r.to_drive()
        r.talk = False
        r.step(6)
        r.t = ticks_add(r.t, 500)
        r.paused(500)
        t_back = r.t
        el = r.run_until(lambda v: v.faults.is_latched(F.CAN_LOSS), 1000)
        self.assertGreaterEqual(el, 30)
        self.assertLessEqual(el, 60)
        self.assertNotEqual(t_back, r.t)

    def test_frozen_inverter_counts_as_can_loss(self):
        # The same 1DA frame again and again: right CRC, counter not moving -> stale.
        r = Rig()
        r.to_drive()
        r.frozen = True
        r.set_pedal(500)
        self.assert_fault_path(r, F.CAN_LOSS, r.t)

    def test_corrupt_1da_counts_as_can_loss(self):
        r = Rig()
        r.to_ready()
        r.corrupt = True  # bad CRC from now on: the codec rejects every frame
        self.assert_fault_path(r, F.CAN_LOSS, r.t)
        self.assertTrue(r.inv.bad_crc > 0)

    def test_inverter_error_bits(self):
        r = Rig()
        r.to_drive()
        r.errors = 0x04  # not in inverr (0xB0): no fault
        r.step(20)
        self.assertEqual(r.vcm.mode, V.DRIVE)
        r.errors = 0x80
        r.step(1)
        e = self.assert_fault_path(r, F.INV_ERROR, r.t)
        self.assertEqual(e[3], 0x80)

    def test_pedal_out_of_range_while_driving(self):
        r = Rig()
        r.to_drive()
        r.speed = 800
        r.set_pedal(700)
        r.step(50)
        self.assertTrue(r.vcm.torque > 0)
        r.inp.pedal_a = 65535  # channel A shorted to the supply
        r.step(1)
        self.assertEqual(r.vcm.torque, 0)  # zero at once, before the fault latches
        t = r.t
        e = self.assert_fault_path(r, F.PEDAL_RANGE, t)
        self.assertEqual((e[3], e[4]), (1, 65535))

    def test_pedal_disagree_while_driving(self):
        r = Rig()
        r.to_drive()
        r.speed = 800
        r.set_pedal(700)
        r.step(50)
        r.inp.pedal_b = 5000 + 22500 * 300 // 1000  # B says 30 %, A 70 %
        r.step(1)
        t = r.t
        e = self.assert_fault_path(r, F.PEDAL_PLAUS, t)
        self.assertEqual((e[3], e[4]), (700, 300))

    def test_pedal_fault_blocks_start(self):
        r = Rig()
        r.inp.pedal_b = 0  # B open circuit
        r.key(True)
        e = self.assert_fault_path(r, F.PEDAL_RANGE, r.t)
        self.assertEqual(e[3], 2)
        self.assertEqual(sum(r.closings.values()), 0)

    def test_shell_trip_keyboard_interrupt(self):
        r = Rig(negcon=1)
        r.to_drive()
        r.speed = 500
        r.set_pedal(500)
        r.step(30)
        r.vcm.trip(F.KBD_INT, r.t)
        self.assertEqual(r.vcm.torque, 0)
        self.assert_fault_path(r, F.KBD_INT, r.t)
        ev = [e[1] for e in r.events if not e[2]]
        self.assertEqual(ev, ["main", "pre", "neg"])

    def test_fault_in_shutdown(self):
        r = Rig()
        r.to_drive()
        r.speed = 3000
        r.key(False)
        r.step(5)
        r.collapse = 100
        r.step(1)
        self.assertTrue(r.vcm.faults.is_latched(F.DC_COLLAPSE))
        r.step(20)
        self.assertFalse(r.vcm.relay_main or r.vcm.relay_pre)
        # Ignition already off: once open, that counts as the key cycle.
        self.assertEqual(r.vcm.mode, V.OFF)
        self.assertEqual(r.vcm.faults.latched, 0)


class Recovery(unittest.TestCase):
    def test_key_cycle_recovers(self):
        r = Rig()
        r.to_drive()
        r.errors = 0x80
        r.step(10)
        self.assertEqual(r.vcm.mode, V.FAULT)
        r.step(200)  # ignition still on: stays latched
        self.assertEqual(r.vcm.mode, V.FAULT)
        r.errors = 0
        r.key(False)
        r.step(1)
        self.assertEqual(r.vcm.mode, V.OFF)
        self.assertEqual(r.vcm.faults.latched, 0)
        codes = [e[0] for e in r.vcm.faults.entries()]
        self.assertEqual(codes, [F.INV_ERROR, F.CLEARED])
        r.step(10)
        r.to_drive()
        self.assertEqual(r.closings["main"], 2)

    def test_key_cycle_during_opening(self):
        r = Rig(negcon=1)
        r.to_ready()
        r.vcm.trip(F.TASK_EXC, r.t)
        r.key(False)
        r.step(1)
        r.key(True)
        r.step(1)
        self.assertEqual(r.vcm.mode, V.FAULT)  # relays still opening
        r.step(20)
        self.assertEqual(r.vcm.mode, V.OFF)
        self.assertFalse(r.vcm.relay_neg)

    def test_clear_only_when_open(self):
        r = Rig()
        r.to_ready()
        r.vcm.trip(F.TASK_EXC, r.t)
        self.assertIsNotNone(r.vcm.clear(r.t))
        r.step(20)
        self.assertIsNone(r.vcm.clear(r.t))
        self.assertEqual(r.vcm.mode, V.OFF)
        self.assertEqual(r.vcm.faults.latched, 0)
        self.assertIsNone(r.vcm.clear(r.t))  # nothing to clear

    def test_clear_allows_one_more_attempt_only(self):
        # A persisting cause: each clear() gives exactly one more attempt; no oscillation in between.
        r = Rig()
        r.pack = 300
        r.key(True)
        r.run_until(lambda v: v.mode == V.FAULT, 10000)
        r.step(1000)
        self.assertEqual(r.closings["pre"], 1)
        r.step(10)
        self.assertIsNone(r.vcm.clear(r.t))
        r.step(3000)
        self.assertEqual(r.closings["pre"], 2)
        self.assertEqual(r.vcm.mode, V.FAULT)
        codes = [e[0] for e in r.vcm.faults.entries()]
        self.assertEqual(codes, [F.PC_TIMEOUT, F.CLEARED, F.PC_TIMEOUT])

    def test_no_oscillation_with_flapping_inverter(self):
        # 1DA comes and goes every 150 ms for a minute: one fault, the relays never move again.
        r = Rig()
        r.to_ready()
        for i in range(400):
            r.talk = (i % 2) == 0
            r.step(15)
        self.assertEqual(r.closings, {"pre": 1, "main": 1, "neg": 0})
        self.assertEqual(r.vcm.mode, V.FAULT)
        self.assertEqual(len([e for e in r.vcm.faults.entries() if e[0] == F.CAN_LOSS]), 1)


if __name__ == "__main__":
    unittest.main()
