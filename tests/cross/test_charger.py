"""The charge power command and PDM supervision (leafvcu.charger), stepped directly (cross-interpreter)."""

import unittest

from leafvcu.params import Params
from leafvcu.vcm import Inputs
from leafvcu.charger import (
    Charger,
    Pdm,
    STOP_NONE,
    STOP_TARGET,
    STOP_REQUEST,
    STOP_PLUG,
    STOP_NOAC,
    STOP_PDM,
    STOP_FAULT,
)
from leafvcu import faults as F
from leafvcu.compat import ticks_add
from leafvcu.link import Links
from leafvcu.frames import (
    InverterStatus,
    BatteryStatus,
    BatteryLimits,
    encode_1db,
    decode_1db,
    encode_1dc,
    decode_1dc,
    AC_110V,
    AC_230V,
    AC_ABNORMAL,
    CHARGE_CHARGING,
    CHARGE_FINISHED,
    POWER_1F2_ZERO,
)


class Bench:
    """A Charger with its inputs: the 1DA state (pack voltage), a PDM whose 390 fields the bench sets and whose
    good-frame count it moves every 100 ms (as decode_390 would), its link supervised as the shell does, and the
    time."""

    def __init__(self, t0=5000, **params):
        self.p = Params()
        for k in params:
            err = self.p.set(k, params[k])
            if err is not None:
                raise ValueError(err)
        self.t = t0
        self.inp = Inputs()
        self.inv = InverterStatus()
        self.inv.voltage_valid = True
        self.inv.dc_voltage = 360
        self.pdm = Pdm()
        s = self.pdm.s390
        s.ac_class = AC_230V
        s.available_w = 6600
        s.status = CHARGE_CHARGING
        self.c = Charger(self.p, self.pdm, self.inv, self.inp, t0)
        self.pdm.link.watch(self.pdm.s390, self.p, "pdmstale")  # the PDM device's WATCH row, as the shell builds it
        self.sv = Links()
        self.sv.links = (self.pdm.link,)
        self.talk = True
        self.hv = True
        self.ign = False
        self._k = 0

    def step(self, n=1, run=True, check=True):
        c = self.c
        for _ in range(n):
            self.t = ticks_add(self.t, 10)
            self._k += 1
            if self.talk and self._k % 10 == 0:
                self.pdm.s390.frames += 1
            self.sv.supervise(self.t)  # the shell, before the core's step
            c.rx(self.t, self.ign, self.hv)
            if check:
                c.check(self.t, run)
            c.step(self.t, run)
        return c

    def begin(self):
        self.step(10, run=False, check=False)  # a 390 heard
        self.c.begin(self.t)
        return self.c


class PowerCommand(unittest.TestCase):
    def test_ramp_up_at_chgramp(self):
        b = Bench(chgramp=500, chgmaxw=3300, chgimax=100)
        c = b.begin()
        b.step(1)
        self.assertEqual(c.cmd_w, 5)  # 500 W/s x 10 ms
        b.step(99)
        self.assertEqual(c.cmd_w, 500)
        self.assertEqual(c.power_raw, POWER_1F2_ZERO + 5)
        b.step(600)
        self.assertEqual(c.cmd_w, 3300)  # 6.6 s: at chgmaxw, stays there
        b.step(100)
        self.assertEqual(c.cmd_w, 3300)
        self.assertEqual(c.power_raw, POWER_1F2_ZERO + 33)

    def test_slow_ramp_keeps_the_remainder(self):
        b = Bench(chgramp=3)
        c = b.begin()
        b.step(100)
        self.assertEqual(c.cmd_w, 3)  # 3 W/s: 0.03 W per step, not truncated away
        b.step(100)
        self.assertEqual(c.cmd_w, 6)

    def test_falls_at_once_when_the_limit_drops(self):
        b = Bench(chgramp=20000)
        c = b.begin()
        b.step(30)
        self.assertEqual(c.cmd_w, 3300)
        b.pdm.s390.available_w = 1200
        b.step(10)  # the next 390
        self.assertEqual(c.cmd_w, 1200)

    def test_zero_outside_the_charging_phase(self):
        b = Bench(chgramp=20000)
        c = b.begin()
        b.step(30)
        self.assertEqual(c.cmd_w, 3300)
        b.step(1, run=False)
        self.assertEqual(c.cmd_w, 0)
        self.assertEqual(c.power_raw, POWER_1F2_ZERO)
        b.step(1)
        self.assertTrue(c.cmd_w < 3300)  # ramps again from 0

    def test_taper_in_the_voltage_window(self):
        b = Bench(chgvtgt=390, chgtaper=10, chgramp=20000, chgmaxw=3000, chgimax=100)
        c = b.begin()
        for v, want in ((370, 3000), (380, 3000), (382, 2400), (386, 1200), (388, 600), (390, 0), (396, 0)):
            b.inv.dc_voltage = v
            b.step(20)  # 200 W per step at chgramp 20000
            self.assertEqual(c.lim_w, want, v)
            self.assertEqual(c.cmd_w, want, v)
        b.inv.dc_voltage = 384
        b.step(1)
        self.assertEqual(c.lim_w, 1800)

    def test_hard_cut_without_a_window(self):
        b = Bench(chgvtgt=390, chgtaper=0, chgramp=20000, chgimax=100)
        c = b.begin()
        b.inv.dc_voltage = 388
        b.step(20)
        self.assertEqual(c.cmd_w, 3300)
        b.inv.dc_voltage = 390
        b.step(1)
        self.assertEqual(c.cmd_w, 0)

    def test_never_negative(self):
        for setup in ("over", "bms0", "avail0", "maxw0", "imax0", "acabn"):
            b = Bench(chgramp=20000)
            c = b.begin()
            if setup == "over":
                b.inv.dc_voltage = 500
            elif setup == "bms0":
                b.inp.bms_ilim = 0
            elif setup == "avail0":
                b.pdm.s390.available_w = 0  # 0 = not reported: no cap, but never below 0
            elif setup == "maxw0":
                b.p.chgmaxw = 0
            elif setup == "imax0":
                b.p.chgimax = 0
            elif setup == "acabn":
                b.p.chgacmax = 16
                b.pdm.s390.ac_class = AC_ABNORMAL
            b.step(20, check=False)
            self.assertGreaterEqual(c.lim_w, 0, setup)
            self.assertGreaterEqual(c.cmd_w, 0, setup)
            self.assertGreaterEqual(c.power_raw, POWER_1F2_ZERO, setup)

    def test_dc_current_limit_and_bms(self):
        b = Bench(chgimax=5, chgramp=20000)
        c = b.begin()
        b.step(1)
        self.assertEqual(c.lim_w, 5 * 360)
        b.inp.bms_ilim = 2
        b.step(1)
        self.assertEqual(c.lim_w, 2 * 360)  # the BMS's lower limit wins
        b.inp.bms_ilim = 50
        b.step(1)
        self.assertEqual(c.lim_w, 5 * 360)  # a higher one does not raise chgimax
        b.inp.bms_ilim = -1
        b.inv.dc_voltage = 380
        b.step(1)
        self.assertEqual(c.lim_w, 5 * 380)  # scales with the pack voltage

    def test_pack_voltage_is_udcnom_without_hv(self):
        b = Bench(chgimax=5, udcnom=350)
        c = b.begin()
        b.hv = False
        b.step(1)
        self.assertEqual(c.v_pack, 350)
        b.hv = True
        b.inv.voltage_valid = False
        b.step(1)
        self.assertEqual(c.v_pack, 350)
        b.inv.voltage_valid = True
        b.step(1)
        self.assertEqual(c.v_pack, 360)

    def test_ac_current_limit_by_class(self):
        b = Bench(chgacmax=10, chgramp=20000, chgimax=100)
        c = b.begin()
        b.step(1)
        self.assertEqual(c.lim_w, 10 * 200 * 90 // 100)  # 230 V class counted as 200 V, 90 % efficiency
        b.pdm.s390.ac_class = AC_110V
        b.step(10)
        self.assertEqual(c.lim_w, 10 * 100 * 90 // 100)
        b.p.chgacmax = 0
        b.step(1)
        self.assertEqual(c.lim_w, 3300)

    def test_available_power_cap(self):
        b = Bench(chgramp=20000, chgimax=100)
        c = b.begin()
        b.pdm.s390.available_w = 2100
        b.step(10)
        self.assertEqual(c.lim_w, 2100)
        b.p.chgavail = 0
        b.step(1)
        self.assertEqual(c.lim_w, 3300)

    def test_stale_390_fields_read_zero(self):
        b = Bench()
        c = b.begin()
        b.pdm.s390.power_w = 1500
        b.step(10, check=False)
        self.assertEqual(c.out_w, 1500)
        self.assertEqual(c.ac, AC_230V)
        b.talk = False
        b.step(60, check=False)
        self.assertFalse(c.fresh)
        self.assertEqual((c.out_w, c.ac, c.avail_w, c.status), (0, 0, 0, 0))
        self.assertTrue(c.idle())

    def test_frozen_390_counter_goes_stale(self):
        b = Bench()
        c = b.begin()
        b.step(10, check=False)
        self.assertTrue(c.fresh)
        s = b.pdm.s390
        b.talk = False
        for _ in range(8):  # the same counter again and again: frames and bad_counter move together
            s.frames += 1
            s.bad_counter += 1
            b.step(10, check=False)
        self.assertFalse(c.fresh)
        self.assertGreaterEqual(c.age_390, b.p.pdmstale)


class Completion(unittest.TestCase):
    def test_within_one_1da_step_of_the_target_counts_as_there(self):
        # 1DA reads in 2 V steps: a reading one step below the target, where the taper still asks 20 %, counts.
        b = Bench(chgvtgt=390, chgtaper=10, chgendw=300, tchgend=2000, chgmaxw=3000, chgimax=100)
        c = b.begin()
        b.inv.dc_voltage = 388
        b.step(500)
        self.assertTrue(c.done)

    def test_done_after_tchgend_at_the_target(self):
        b = Bench(chgvtgt=390, chgtaper=10, chgendw=300, tchgend=2000, chgmaxw=3000, chgimax=100)
        c = b.begin()
        b.inv.dc_voltage = 386  # taper 40 %: 1200 W > chgendw, two 1DA steps below the target
        b.step(500)
        self.assertFalse(c.done)
        b.inv.dc_voltage = 390
        b.step(199)
        self.assertFalse(c.done)
        b.inv.dc_voltage = 386  # a dip resets the timer
        b.step(1)
        b.inv.dc_voltage = 390
        b.step(199)
        self.assertFalse(c.done)
        self.assertEqual(c.stop, STOP_NONE)
        b.step(2)
        self.assertTrue(c.done)
        b.step(1)  # check() runs before step(): the reason shows on the next cycle
        self.assertEqual(c.stop, STOP_TARGET)

    def test_done_ignores_the_pdm_and_current_caps(self):
        # Little available power or a low current limit is not "full".
        b = Bench(tchgend=1000, chgimax=0)
        c = b.begin()
        b.pdm.s390.available_w = 100
        b.step(300)
        self.assertFalse(c.done)
        self.assertEqual(c.stop, STOP_NONE)


class Supervision(unittest.TestCase):
    def test_stop_request_and_chgen(self):
        b = Bench()
        c = b.begin()
        b.step(10)
        self.assertEqual(c.stop, STOP_NONE)
        b.p.chgen = 0  # the stop request
        b.step(1)
        self.assertEqual(c.stop, STOP_REQUEST)
        self.assertEqual(c.cmd_w, 0)
        b = Bench()
        c = b.begin()
        b.p.chgen = 0
        b.step(1, run=False)  # any phase
        self.assertEqual(c.stop, STOP_REQUEST)

    def test_plug_input_gone(self):
        b = Bench()
        b.inp.plug = True
        c = b.begin()
        b.step(10)
        self.assertEqual(c.stop, STOP_NONE)
        b.inp.plug = False
        b.step(1, run=False)
        self.assertEqual(c.stop, STOP_PLUG)

    def test_no_plug_input_is_not_a_pull(self):
        b = Bench()
        c = b.begin()
        b.step(100)
        self.assertEqual(c.stop, STOP_NONE)

    def test_ac_gone_after_ac_is_plug_pulled(self):
        b = Bench()
        c = b.begin()
        b.step(20)
        b.pdm.s390.ac_class = 0
        b.step(10)
        self.assertEqual(c.stop, STOP_PLUG)

    def test_no_ac_within_tacwait(self):
        b = Bench(tacwait=3000)
        b.pdm.s390.ac_class = 0
        c = b.begin()
        b.step(299)
        self.assertEqual(c.stop, STOP_NONE)
        b.step(2)
        self.assertEqual(c.stop, STOP_NOAC)

    def test_ac_late_but_within_tacwait(self):
        b = Bench(tacwait=3000)
        b.pdm.s390.ac_class = 0
        c = b.begin()
        b.step(200)
        b.pdm.s390.ac_class = AC_230V
        b.step(300)
        self.assertEqual(c.stop, STOP_NONE)

    def test_pdm_finished_after_charging(self):
        b = Bench()
        s = b.pdm.s390
        s.status = CHARGE_FINISHED  # finished before charging in this session: not a reason
        c = b.begin()
        b.step(30)
        self.assertEqual(c.stop, STOP_NONE)
        s.status = CHARGE_CHARGING
        b.step(10)
        s.status = CHARGE_FINISHED
        b.step(10)
        self.assertEqual(c.stop, STOP_PDM)

    def test_first_reason_wins(self):
        b = Bench()
        c = b.begin()
        b.p.chgen = 0  # the stop request
        b.step(1)
        b.pdm.s390.ac_class = 0
        b.step(20)
        self.assertEqual(c.stop, STOP_REQUEST)

    def test_pdm_silent(self):
        b = Bench(pdmstale=500)
        c = b.begin()
        b.step(20)
        self.assertEqual(c.fault, F.NONE)
        b.talk = False
        b.step(40)  # last 390 at most 100 ms before: 500 ms not yet passed
        self.assertEqual(c.fault, F.NONE)
        b.step(20)
        self.assertEqual(c.fault, F.PDM_SILENT)
        self.assertGreaterEqual(c.fault_a, 500)
        self.assertEqual(c.fault_b, 500)

    def test_pdm_never_heard_counts_from_begin(self):
        b = Bench(pdmstale=500)
        b.talk = False
        c = b.c
        c.begin(b.t)
        b.step(49)
        self.assertFalse(c.fresh)  # nothing heard: not fresh, yet the fault waits for pdmstale
        self.assertEqual(c.fault, F.NONE)
        b.step(2)
        self.assertEqual(c.fault, F.PDM_SILENT)

    def test_ac_abnormal(self):
        b = Bench()
        c = b.begin()
        b.step(10)
        b.pdm.s390.ac_class = AC_ABNORMAL
        b.step(10)
        self.assertEqual(c.fault, F.PDM_AC)
        self.assertEqual(c.fault_a, AC_ABNORMAL)

    def test_over_voltage(self):
        b = Bench(chgvtgt=390, chgvmarg=8)
        c = b.begin()
        b.inv.dc_voltage = 398
        b.step(1)
        self.assertEqual(c.fault, F.NONE)
        b.inv.dc_voltage = 400
        b.step(1)
        self.assertEqual(c.fault, F.CHG_OVERVOLT)
        self.assertEqual((c.fault_a, c.fault_b), (400, 398))

    def test_faults_only_while_charging(self):
        b = Bench()
        c = b.begin()
        b.talk = False
        b.inv.dc_voltage = 480
        b.pdm.s390.ac_class = AC_ABNORMAL
        b.step(100, run=False)
        self.assertEqual(c.fault, F.NONE)

    def test_halt(self):
        b = Bench(chgramp=20000)
        c = b.begin()
        b.step(5)
        self.assertTrue(c.cmd_w > 0)
        c.halt()
        self.assertEqual((c.cmd_w, c.power_raw, c.stop), (0, POWER_1F2_ZERO, STOP_FAULT))
        self.assertEqual(c.stop_name(), "fault")


class SessionStart(unittest.TestCase):
    def test_679_with_ignition_off_arms_one_session(self):
        b = Bench()
        c = b.c
        b.step(1, run=False, check=False)
        self.assertFalse(c.want())
        b.pdm.wake()
        b.step(1, run=False, check=False)
        self.assertTrue(c.want())
        b.step(5, run=False, check=False)
        self.assertTrue(c.want())  # stays until a session takes it
        c.begin(b.t)
        b.step(1, run=False, check=False)
        self.assertFalse(c.want())

    def test_679_with_ignition_on_is_dropped(self):
        b = Bench()
        c = b.c
        b.ign = True
        b.pdm.wake()
        b.step(1, run=False, check=False)
        self.assertFalse(c.want())
        b.ign = False
        b.step(1, run=False, check=False)
        self.assertFalse(c.want())
        b.pdm.wake()
        b.ign = True  # pending, then the key goes on: dropped
        b.step(1, run=False, check=False)
        self.assertFalse(c.want())

    def test_plug_input_edge(self):
        b = Bench()
        c = b.c
        b.inp.plug = True
        b.ign = True  # the plug input works at any ignition state
        b.step(1, run=False, check=False)
        self.assertTrue(c.want())
        c.begin(b.t)
        b.step(10, run=False, check=False)
        self.assertFalse(c.want())  # still plugged: no second session
        b.inp.plug = False
        b.step(1, run=False, check=False)
        b.inp.plug = True
        b.step(1, run=False, check=False)
        self.assertFalse(c.want())  # an edge inside a session arms nothing (the PDM reports AC once charging)
        c.end()
        b.inp.plug = False
        b.step(1, run=False, check=False)
        b.inp.plug = True
        b.step(1, run=False, check=False)
        self.assertTrue(c.want())

    def test_disabled_or_stop_request(self):
        b = Bench(chgen=0)
        b.pdm.wake()
        b.step(1, run=False, check=False)
        self.assertFalse(b.c.want())
        b.p.chgen = 1
        self.assertTrue(b.c.want())
        b.p.chgen = 0  # the stop request
        self.assertFalse(b.c.want())


class BatterySpoof(unittest.TestCase):
    def test_1db_from_pack_and_pdm(self):
        b = Bench(spfsoc=80)
        c = b.begin()
        b.pdm.s390.power_w = 3600
        b.step(10, check=False)
        m = BatteryStatus()
        c.fill_1db(m)
        buf = bytearray(8)
        self.assertEqual(encode_1db(buf, m, 2), 0)
        d = BatteryStatus()
        self.assertTrue(decode_1db(buf, d))
        self.assertEqual(d.voltage_raw, 720)  # 360 V from 1DA
        # 3600 W / 360 V = 10 A charging, 0.5 A per bit; positive, as a real e-NV200 battery reports charging
        self.assertEqual(d.current_raw, 20)
        self.assertEqual(d.soc, 80)
        self.assertTrue(d.relay_permit and d.interlock)
        self.assertFalse(d.full_charge)
        b.hv = False
        b.talk = False
        b.step(60, check=False)
        c.fill_1db(m)
        self.assertEqual((m.voltage_raw, m.current_raw), (2 * b.p.udcnom, 0))

    def test_1dc_limits(self):
        b = Bench(chgimax=100, chgramp=20000)
        c = b.begin()
        b.pdm.s390.available_w = 2000
        b.step(10)
        m = BatteryLimits()
        c.fill_1dc(m)
        buf = bytearray(8)
        self.assertEqual(encode_1dc(buf, m, 0), 0)
        self.assertEqual(bytes(buf[:2]), b"\xa0\x0a")  # ZV's discharge / charge limits
        d = BatteryLimits()
        self.assertTrue(decode_1dc(buf, d))
        self.assertEqual(d.charger_raw, 100 + 20)  # 2.0 kW
        self.assertEqual(d.charge_status, 1)


if __name__ == "__main__":
    unittest.main()
