"""CHARGE in the mode machine with the PDM model stepped alongside (cross-interpreter): wake, precharge, charge,
taper to the target, plug pulled, PDM silent, AC abnormal, over-voltage, and the interlocks with driving.
Relays and the 1D4 / 11A / 50B / 1F2 bytes on the wire (through the codec) are asserted. The plug signal is the
shell's (the PDM's AC report, app.py): its interlocks are tested through the App in test_safety.py (ChargePlug,
DriveAwayInterlock)."""

import unittest

from charge_rig import ChargeRig
from leafvcu import vcm as V
from leafvcu import faults as F
from leafvcu import charger as C
from leafvcu.compat import ticks_diff
from leafvcu.frames import AC_ABNORMAL, CAR_OFF, CAR_ON

WAKE_50B = b"\x00\x00\x00\xc0\x00\x00\x00"


def quick(**kw):
    # Short completion time so that a charge to the target runs in a few thousand steps.
    p = {"tchgend": 2000}
    p.update(kw)
    return p


def power_raw(b):
    # 1F2 charge power command field (byte 0 bits 1..0 + byte 1).
    return ((b[0] & 3) << 8) | b[1]


class Session(unittest.TestCase):
    def test_plug_in_wakes_precharges_and_charges(self):
        r = ChargeRig(**quick())
        p = r.p
        r.step(150)  # past the settle time after boot; asleep
        v = r.vcm
        self.assertFalse(v.frames_enabled)
        r.pdm.plug_in()
        t_plug = r.t
        r.step(1)  # the 679 reaches the Vcm's Pdm after this step's decision (as a shell's receive task)
        self.assertEqual(v.mode, V.OFF)
        r.step(1)
        self.assertEqual(v.mode, V.CHARGE)
        self.assertEqual(v.phase_name(), "waking")
        self.assertTrue(v.frames_enabled)
        w = r.wire
        self.assertEqual(w[0x50B], WAKE_50B)
        self.assertEqual(w[0x1D4][6], 0xE0)  # b1d4chg
        self.assertEqual(w[0x1D4][4] & 0x0F, 2)  # precharge not started
        self.assertEqual(w[0x11A][1], 0x80)  # car OFF while charging (ZV)
        f = w[0x1F2]
        # byte 0 0x00 until precharged; DC/DC bit set: HV off; byte 5 04 at wake (then 0A, 32; 34 with HV, 3C
        # once power is commanded: the real e-NV200 VCM)
        self.assertEqual((f[0], f[1], f[2], f[3], f[5]), (0x00, 0x64, 0x24, 0xAC, 0x04))
        self.assertEqual(w[0x1D4][3] & 0x0F, 0x04)  # 1D4 byte 3 0x04 while charging (real e-NV200 VCM)
        r.run_until(lambda v: v.mode == V.PRECHARGE)
        self.assertEqual(r.wire[0x1D4][4] & 0x0F, 3)  # the precharge relay closes as PRECHARGE begins
        self.assertEqual(r.wire[0x1D4][5], 0x46)
        r.run_until(lambda v: v.mode == V.CHARGE and v.cphase == V.C_RUN)
        # The drive's precharge and contactor sequence, with its timing.
        self.assertEqual([(e[1], e[2]) for e in r.events], [("pre", True), ("main", True)])
        self.assertGreaterEqual(ticks_diff(r.events[1][0], r.events[0][0]), p.tpcmin)
        self.assertLessEqual(ticks_diff(r.events[0][0], t_plug), p.tsettle + 20)
        r.step(1)
        w = r.wire
        self.assertEqual(w[0x1D4][4] & 0x0F, 7)
        self.assertEqual(w[0x1D4][5], 0x46)  # relay +, P
        self.assertEqual(w[0x1D4][6], 0xE0)
        self.assertEqual((w[0x1D4][2], w[0x1D4][3] & 0xF0), (0, 0))  # torque 0 (byte 3 low nibble: 0x04 charging)
        self.assertEqual(w[0x11A][1], 0x80)
        self.assertEqual(w[0x50B], WAKE_50B)  # AZE0 VCM while AC charging (P§2 50B)
        f = w[0x1F2]
        # normal charge request, DC/DC bit clear with HV up; byte 0 0x30 once precharged; byte 5 0x34 until power
        # is commanded (then 0x3C, the real e-NV200 VCM)
        self.assertEqual((f[0] & 0xFC, f[2], f[5]), (0x30, 0x20, 0x34))
        self.assertEqual(v.onoff, CAR_OFF)
        # The command ramps at chgramp and the PDM follows.
        r.step(200)
        f = r.wire[0x1F2]
        self.assertEqual(f[5], 0x3C)
        self.assertTrue(0x64 + 9 <= power_raw(f) <= 0x64 + 10, power_raw(f))  # ~1 kW after 2 s at 500 W/s
        self.assertTrue(r.pdm.out_w >= 800)
        self.assertTrue(v.chg.out_w >= 800)  # read back from 390
        self.assertEqual(v.faults.latched, 0)

    def test_charge_to_target_tapers_then_stops_and_sleeps(self):
        r = ChargeRig(**quick(chgvtgt=386, chgtaper=10))
        r.step(150)
        v = r.to_charging()
        r.run_until(lambda v: v.chg.cmd_w == r.p.chgmaxw, 20000)
        r.run_until(lambda v: v.chg.taper < 1000, 200000)
        seen_below = v.chg.cmd_w
        self.assertTrue(seen_below < r.p.chgmaxw)
        t = r.run_until(lambda v: v.mode == V.OFF, 300000)
        self.assertEqual(v.chg.stop, C.STOP_TARGET)
        self.assertEqual(v.faults.latched, 0)
        self.assertEqual(v.faults.count, 0)
        # Power was zero before the contactors opened; main first, then precharge.
        opened = [e for e in r.events if not e[2]]
        self.assertEqual([e[1] for e in opened], ["main", "pre"])
        t_main = opened[0][0]
        outs = [x[3] for x in r.chg_trace if ticks_diff(x[0], t_main) == -10]
        self.assertTrue(outs and outs[0] <= r.p.chgoffw)
        # Never above the target + margin; it ended within the taper window.
        self.assertLessEqual(max(x[4] for x in r.chg_trace), r.p.chgvtgt + 2)
        self.assertGreaterEqual(r.bat.voltage, r.p.chgvtgt - r.p.chgtaper)
        # Frames wind down: wake for tkeep, then sleep, then silence; the PDM goes to sleep.
        r.step(r.p.tkeep // 10 + 5)
        self.assertEqual(r.wire[0x50B], b"\x00" * 7)
        r.run_until(lambda v: not v.frames_enabled, 5000)
        self.assertFalse(r.pdm.awake)
        # Still plugged in, but nothing restarts by itself.
        r.step(2000)
        self.assertEqual(r.closings["pre"], 1)
        self.assertEqual(v.mode, V.OFF)

    def test_stop_request(self):
        r = ChargeRig(**quick())
        r.step(150)
        v = r.to_charging()
        r.step(300)
        r.p.chgen = 0  # the stop request (console: set chgen 0)
        r.step(1)
        self.assertEqual(v.phase_name(), "stopping")
        self.assertEqual(power_raw(r.wire[0x1F2]), 0x64)
        self.assertEqual(r.wire[0x1F2][2] & 0x60, 0x60)  # transition request: stop
        r.run_until(lambda v: v.mode == V.OFF, 5000)
        self.assertEqual(v.chg.stop, C.STOP_REQUEST)
        self.assertEqual(v.faults.latched, 0)

    def test_no_ac_stops_after_tacwait_once(self):
        r = ChargeRig(**quick(tacwait=3000))
        r.step(150)
        r.pdm.plug_in(ac_class=0)  # plugged, but the EVSE never delivers
        r.run_until(lambda v: v.mode == V.CHARGE and v.cphase == V.C_RUN, 10000)
        el = r.run_until(lambda v: v.mode == V.OFF, 10000)
        self.assertTrue(2900 <= el <= 3300, el)
        self.assertEqual(r.vcm.chg.stop, C.STOP_NOAC)
        r.step(1000)
        self.assertEqual(r.closings, {"pre": 1, "main": 1, "neg": 0})

    def test_negative_contactor_order(self):
        r = ChargeRig(negcon=1, **quick())
        r.step(150)
        r.to_charging()
        self.assertEqual([(e[1], e[2]) for e in r.events], [("neg", True), ("pre", True), ("main", True)])
        r.p.chgen = 0  # the stop request (console: set chgen 0)
        r.run_until(lambda v: v.mode == V.OFF, 5000)
        self.assertEqual([e[1] for e in r.events if not e[2]], ["main", "pre", "neg"])


class PlugPulled(unittest.TestCase):
    def test_plug_pulled_stops_without_latching(self):
        r = ChargeRig(**quick())
        r.step(150)
        v = r.to_charging()
        r.step(400)
        self.assertTrue(r.pdm.out_w > 1000)
        r.pdm.unplug()
        r.step(11)  # the next 390 reports no AC
        self.assertEqual(v.phase_name(), "stopping")
        self.assertEqual(power_raw(r.wire[0x1F2]), 0x64)
        r.run_until(lambda v: v.mode == V.OFF, 5000)
        self.assertEqual(v.chg.stop, C.STOP_PLUG)
        self.assertEqual(v.faults.latched, 0)
        self.assertEqual([e[0] for e in v.faults.entries()], [F.PLUG_PULLED])
        self.assertEqual([e[1] for e in r.events if not e[2]], ["main", "pre"])
        # Plugged in again: a new 679, a new session.
        r.step(300)
        r.pdm.plug_in()
        r.run_until(lambda v: v.mode == V.CHARGE and v.cphase == V.C_RUN, 10000)
        self.assertEqual(r.closings["main"], 2)

class ChargeFaults(unittest.TestCase):
    def assert_fault_path(self, r, code, t_trip):
        v = r.vcm
        self.assertEqual(v.mode, V.FAULT)
        self.assertTrue(v.faults.is_latched(code))
        self.assertEqual(power_raw(r.wire[0x1F2]), 0x64)
        self.assertEqual(r.wire[0x1F2][2] & 0x60, 0x60)  # stop request
        r.step(r.p.tchgoff // 10 + 10)
        self.assertFalse(v.relay_main or v.relay_pre or v.relay_neg)
        t_main = [e[0] for e in r.events if e[1] == "main" and not e[2]][0]
        self.assertLessEqual(ticks_diff(t_main, t_trip), r.p.tchgoff + 10)
        self.assertGreaterEqual(ticks_diff(t_main, t_trip), r.p.tgap)
        # Latched with the ignition off: frames wind down, but the fault stays.
        r.step(r.p.tkeep // 10 + r.p.tsleep // 10 + 10)
        self.assertEqual(v.mode, V.FAULT)
        self.assertFalse(v.frames_enabled)
        return t_main

    def trip_and_wait(self, r, code):
        v = r.vcm
        r.run_until(lambda v: v.mode == V.FAULT, 20000)
        self.assertTrue(v.faults.is_latched(code), v.faults.codes())
        return r.t

    def test_pdm_silent(self):
        r = ChargeRig(**quick())
        r.step(150)
        r.to_charging()
        r.step(300)
        r.pdm.silent = True
        t0 = r.t
        t = self.trip_and_wait(r, F.PDM_SILENT)
        # The last 390 came up to 100 ms before t0; the fault once its age passes pdmstale.
        self.assertTrue(r.p.pdmstale - 100 <= ticks_diff(t, t0) <= r.p.pdmstale + 20, ticks_diff(t, t0))
        self.assert_fault_path(r, F.PDM_SILENT, t)

    def test_ac_abnormal(self):
        r = ChargeRig(**quick())
        r.step(150)
        r.to_charging()
        r.step(300)
        r.pdm.set_ac(AC_ABNORMAL)
        t = self.trip_and_wait(r, F.PDM_AC)
        t_main = self.assert_fault_path(r, F.PDM_AC, t)
        # The PDM's output was already zero: the main contactor did not wait for tchgoff.
        self.assertLessEqual(ticks_diff(t_main, t), r.p.tgap + 10)

    def test_over_voltage_with_a_runaway_pdm(self):
        r = ChargeRig(tchgend=60000, chgvtgt=376, chgvmarg=4)
        r.step(150)
        r.to_charging()
        r.pdm.stuck_w = 3300  # delivers whatever it is told
        t = self.trip_and_wait(r, F.CHG_OVERVOLT)
        e = [x for x in r.vcm.faults.entries() if x[0] == F.CHG_OVERVOLT][0]
        self.assertEqual(e[4], 380)
        self.assertGreaterEqual(e[3], 381)
        t_main = self.assert_fault_path(r, F.CHG_OVERVOLT, t)
        # The PDM never went idle: the main contactor opened at tchgoff.
        self.assertTrue(r.p.tchgoff <= ticks_diff(t_main, t) <= r.p.tchgoff + 10)

    def test_charge_fault_needs_a_key_cycle_and_never_restarts_by_itself(self):
        r = ChargeRig(**quick())
        r.step(150)
        v = r.to_charging()
        r.step(100)
        r.pdm.silent = True
        self.trip_and_wait(r, F.PDM_SILENT)
        r.step(500)
        r.pdm.silent = False
        r.pdm.unplug()
        r.step(300)
        r.pdm.plug_in()  # a fresh 679: still latched, no restart
        r.step(1000)
        self.assertEqual(v.mode, V.FAULT)
        self.assertEqual(r.closings, {"pre": 1, "main": 1, "neg": 0})
        r.key(True)
        r.step(5)
        self.assertEqual(v.mode, V.FAULT)
        r.key(False)
        r.step(1)
        self.assertEqual(v.mode, V.OFF)
        self.assertEqual(v.faults.latched, 0)
        self.assertFalse(v.session)
        r.step(500)
        self.assertEqual(r.closings["pre"], 1)  # the 679 seen while latched does not start anything

    def test_clear_command_recovers_a_charge_fault(self):
        r = ChargeRig(**quick())
        r.step(150)
        v = r.to_charging()
        r.pdm.set_ac(AC_ABNORMAL)
        self.trip_and_wait(r, F.PDM_AC)
        self.assertIsNotNone(v.clear(r.t))  # still opening
        r.step(200)
        self.assertIsNone(v.clear(r.t))
        self.assertEqual(v.mode, V.OFF)

    def test_shell_fault_while_charging_opens_without_the_wait(self):
        # KeyboardInterrupt / a task exception: the shell's safe state is short and its frames may not go out,
        # so the usual tgap spacing, not the wait for the PDM's output.
        r = ChargeRig(**quick())
        r.step(150)
        v = r.to_charging()
        r.step(300)
        self.assertTrue(r.pdm.out_w > 1000)
        t = r.t
        v.trip(F.KBD_INT, t)
        self.assertEqual(v.chg.power_raw, 0x64)
        r.step(3 * r.p.tgap // 10 + 1)
        opened = [e for e in r.events if not e[2]]
        self.assertEqual([e[1] for e in opened], ["main", "pre"])
        self.assertLessEqual(ticks_diff(opened[0][0], t), r.p.tgap + 10)

    def test_inverter_silent_while_charging(self):
        # The DC-link voltage comes from the inverter's 1DA: it must stay powered while charging.
        r = ChargeRig(**quick())
        r.step(150)
        r.to_charging()
        r.talk = False
        self.trip_and_wait(r, F.CAN_LOSS)

    def test_inverter_unpowered_at_charge_start(self):
        r = ChargeRig(**quick())
        r.talk = False
        r.step(150)
        r.pdm.plug_in()
        self.trip_and_wait(r, F.PC_INVALID)
        self.assertEqual(r.closings["pre"], 0)


class DriveInterlocks(unittest.TestCase):
    def test_679_at_key_on_is_not_a_charge(self):
        r = ChargeRig()
        r.key(True)
        r.pdm.plug_in(ac_class=0)  # a PDM woken with the car: 679, no AC
        r.pdm.unplug()
        v = r.run_until(lambda v: v.mode == V.READY, 10000)
        v = r.vcm
        self.assertFalse(v.session)
        self.assertEqual(v.onoff, CAR_ON)
        f = r.wire[0x1F2]
        self.assertEqual((f[0], f[1], f[2], f[3], f[5]), (0x10, 0x64, 0x00, 0xAC, 0x1E))  # drive, DC/DC on
        r.key(False)
        r.run_until(lambda v: v.mode == V.OFF, 5000)
        r.step(300)
        self.assertEqual(r.vcm.mode, V.OFF)
        self.assertEqual(r.closings["main"], 1)

    def test_charge_right_after_a_drive_waits_for_the_dc_link(self):
        r = ChargeRig(**quick())
        r.to_ready()
        r.key(False)
        r.step(1)
        r.pdm.plug_in()  # the plug goes in during the shutdown
        r.run_until(lambda v: v.mode == V.CHARGE and v.cphase == V.C_RUN, 20000)
        self.assertEqual(r.vcm.faults.count, 0)  # no PC_CHARGED from the not yet discharged link
        self.assertEqual(r.closings["main"], 2)


class PdmFrames(unittest.TestCase):
    def test_dcdc_bit_follows_hv_and_params(self):
        r = ChargeRig(dcdcbit=0, dcdcreq=0xA8, **quick())
        r.step(150)
        r.pdm.plug_in()
        r.step(2)
        f = r.wire[0x1F2]
        self.assertEqual((f[2], f[3]), (0x20, 0xA8))  # bit 2 never set with dcdcbit 0
        r.p.dcdcbit = 1
        r.step(1)
        self.assertEqual(r.wire[0x1F2][2], 0x24)
        r.run_until(lambda v: v.hv_on, 10000)
        r.step(1)
        self.assertEqual(r.wire[0x1F2][2], 0x20)

    def test_spoofed_battery_frames(self):
        r = ChargeRig(spfsoc=50, **quick())
        r.step(150)
        r.to_charging()
        r.step(600)
        b = r.wire[0x1DB]
        volts = ((b[2] << 2) | (b[3] >> 6)) // 2
        self.assertEqual(volts, r.inv.dc_voltage)
        cur = (b[0] << 3) | (b[1] >> 5)
        cur -= (cur & 0x400) << 1
        self.assertTrue(cur > 0)  # charging: positive, as a real e-NV200 battery reports it
        self.assertEqual(b[4], 50)
        d = r.wire[0x1DC]
        self.assertEqual(d[0:2], b"\xa0\x0a")


if __name__ == "__main__":
    unittest.main()
