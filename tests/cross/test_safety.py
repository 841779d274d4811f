"""The safeguards of docs/safety.md, each proven at the wire: the real App on the fake board, its MCP2515 driver
on the chip model and the virtual CAN bus, a MiniInverter (and where charging matters the PDM model) on the other
side; what is asserted is what a user or the car sees: relay pin levels, 1D4 bytes on the bus, console replies.
docs/safety.md names these tests by id (tests/test_hazards.py checks that every name it gives exists)."""

import unittest

from app_rig import AppRig, MiniInverter
from memfs import MemFs
from fakes import machine as fm
from leafvcu import faults as flt
from leafvcu import frames as fr
from leafvcu import vcm as V
from leafvcu.params import Params
from leafvcu.settings import Settings, encode, crc32


def torque_1d4(f):
    """The 1D4 torque request of a frame, raw (0.25 Nm per bit, signed 12 bit)."""
    v = (f[2] << 4) | (f[3] >> 4)
    return v - ((v & 0x800) << 1)


def closes(rig, name):
    return [e[0] for e in rig.relay_log if e[1] == name and e[2] == 1]


def pins(rig):
    b = rig.board
    return (b.relay_pre.value(), b.relay_main.value(), b.relay_neg.value())


def ready_rig(**kw):
    rig = AppRig(**kw)
    inv = MiniInverter(rig)
    rig.console()
    rig.key(True)
    # READY, and 50B saying so (02): D / R engage from then on (real VCMs never in the frame that says precharged)
    rig.run_until(lambda r: r.app.vcm.mode == V.READY and r.app.vcm.wake != fr.VCM_WAKE, 5000)
    return rig, inv


class HvLock(unittest.TestCase):
    """Tuning with HV on: the console's lock holds from the moment precharge begins until every relay is open."""

    REFUSED = (
        ("set udcnom 100", "cannot change udcnom while HV is on"),
        ("set udcdelta 50", "cannot change udcdelta while HV is on"),
        ("set tpcmin 0", "cannot change tpcmin while HV is on"),
        ("set canxtal 16", "cannot change canxtal while HV is on"),
        ("defaults", "cannot load defaults while HV is on"),
        ("load", "cannot load while HV is on"),
        ("save", "cannot save while HV is on"),
        ("stats mem", "cannot scan the heap while HV is on"),
        ("reset", "cannot reset while HV is on"),
    )

    def _refused_now(self, rig):
        for line, reply in self.REFUSED:
            self.assertEqual(rig.type(line), reply, line)

    def test_refused_from_the_precharge_relay_on(self):
        # The review's case: typed 1 ms into precharge, these made main close onto a link below 50 V.
        rig = AppRig()
        inv = MiniInverter(rig, tau_ms=200)
        rig.console()
        rig.key(True)
        rig.run_until(lambda r: r.board.relay_pre.value() == 1, 3000)
        rig.run_ms(1)
        self.assertEqual(rig.board.relay_main.value(), 0)
        self._refused_now(rig)
        p = rig.app.params
        self.assertEqual((p.udcnom, p.udcdelta, p.tpcmin), (360, 20, 1000))
        rig.run_until(lambda r: r.board.relay_main.value() == 1, 5000)
        self.assertTrue(inv.udc >= 340 - 2, inv.udc)  # main closed on a charged link (1DA reads 2 V steps)
        self.assertFalse(rig.app.faults.latched)

    def test_refused_while_ready_and_through_shutdown_until_every_relay_is_open(self):
        rig, inv = ready_rig()
        self._refused_now(rig)
        rig.key(False)
        rig.run_ms(20)  # shutdown: the main contactor waits for low speed / tgap steps
        self.assertEqual(rig.app.vcm.mode, V.SHUTDOWN)
        self.assertTrue(rig.board.relay_pre.value() or rig.board.relay_main.value())
        self.assertEqual(rig.type("set udcnom 300"), "cannot change udcnom while HV is on")
        rig.run_until(lambda r: pins(r) == (0, 0, 0), 5000)
        rig.run_ms(10)
        self.assertEqual(rig.type("set udcnom 300"), "OK")

    def test_negative_contactor_alone_locks(self):
        # negcon: the negative contactor closes first, tgap before the precharge relay: locked already.
        rig = AppRig()
        MiniInverter(rig)
        rig.console()
        self.assertEqual(rig.type("set negcon 1"), "OK")
        rig.key(True)
        rig.run_until(lambda r: r.board.relay_neg.value() == 1, 3000)
        self.assertEqual(rig.board.relay_pre.value(), 0)
        self.assertEqual(rig.type("set tgap 10"), "cannot change tgap while HV is on")


class BrakeOverride(unittest.TestCase):
    """Brake and pedal together / torque not removed: the brake takes drive torque to 0 within 150 ms, whatever
    the ramp parameters allow."""

    def _driving(self, rampdn):
        rig, inv = ready_rig()
        self.assertEqual(rig.type("set rampdn %d" % rampdn), "OK")
        rig.switch(1)
        rig.run_ms(50)
        rig.pedal_pct(100)
        rig.run_ms(1500)
        self.assertEqual(rig.app.vcm.mode, V.DRIVE)
        return rig

    def _check_cut(self, rig):
        before = [torque_1d4(f) for f in rig.frames(0x1D4)[-3:]]
        self.assertTrue(min(before) >= 250 * 4, before)  # 250 Nm requested (ramped at rampup 500 Nm/s)
        t_brake = rig.clock.now_us
        rig.brake(True)
        rig.run_ms(400)
        after = [(t, torque_1d4(d)) for (t, i, d) in rig.bus.log if i == 0x1D4 and t >= t_brake]
        zero = [t for (t, q) in after if q <= 0]
        self.assertTrue(zero, after[:20])
        self.assertTrue(zero[0] - t_brake <= 150000, (zero[0] - t_brake))
        self.assertTrue(all(q <= 0 for (t, q) in after if t >= zero[0]))

    def test_brake_cuts_full_torque_at_the_slowest_ramp(self):
        self._check_cut(self._driving(250))

    def test_brake_cuts_at_the_default_ramp(self):
        self._check_cut(self._driving(1000))

    def test_ramp_floor(self):
        rig = AppRig()
        rig.console()
        self.assertEqual(rig.type("set rampdn 1"), "value 1 out of range 250..20000 Nm/s")
        self.assertEqual(rig.type("set rampdn 249"), "value 249 out of range 250..20000 Nm/s")


class PrechargeInverterError(unittest.TestCase):
    """Main contactor closing onto an inverter that reports an error; precharge resistor overheating."""

    def test_error_bits_before_start_close_nothing(self):
        rig = AppRig()
        inv = MiniInverter(rig)
        inv.errors = 0x80
        rig.key(True)
        rig.run_ms(4000)
        self.assertTrue(rig.app.faults.is_latched(flt.INV_ERROR))
        self.assertEqual(rig.relay_log, [])

    def test_error_during_precharge_never_closes_main(self):
        rig = AppRig()
        inv = MiniInverter(rig)
        rig.key(True)
        rig.run_until(lambda r: r.board.relay_pre.value() == 1, 3000)
        rig.run_ms(100)
        inv.errors = 0x10
        rig.run_ms(3000)
        self.assertTrue(rig.app.faults.is_latched(flt.INV_ERROR))
        self.assertEqual(closes(rig, "main"), [])
        self.assertEqual(pins(rig), (0, 0, 0))

    def test_error_bits_outside_inverr_are_not_a_fault(self):
        rig = AppRig()
        inv = MiniInverter(rig)
        rig.console()
        inv.errors = 0x04  # not in inverr (0xB0)
        rig.key(True)
        rig.run_until(lambda r: r.app.vcm.mode == V.READY, 5000)
        self.assertIn(" inv=ok ", rig.type("status"))
        inv.errors = 0x20
        rig.run_ms(30)
        self.assertIn(" inv=fault ", rig.type("status"))

    def test_status_follows_inverr(self):
        rig = AppRig()
        inv = MiniInverter(rig)
        rig.console()
        inv.errors = 0x40  # outside the default inverr 0xB0: the old fixed mask said ok, so does inverr
        rig.run_ms(50)
        self.assertIn(" inv=ok ", rig.type("status"))
        self.assertEqual(rig.type("set inverr 0x40"), "OK")
        self.assertIn(" inv=fault ", rig.type("status"))
        rig.key(True)
        rig.run_ms(3000)
        self.assertTrue(rig.app.faults.is_latched(flt.INV_ERROR))  # what status says is what the core trips on

    def _failed_precharge(self, rig, inv):
        # Key on; the inverter reports an error 100 ms into precharge; the fault opens; key off (a key cycle).
        inv.errors = 0
        rig.key(True)
        rig.run_until(lambda r: r.board.relay_pre.value() == 1 or r.app.vcm.mode == V.FAULT, 3000)
        if rig.board.relay_pre.value():
            rig.run_ms(100)
            inv.errors = 0x80
            rig.run_ms(200)
        rig.key(False)
        rig.run_ms(500)

    def test_retry_limit_locks_precharge_out_until_clear(self):
        rig = AppRig()
        inv = MiniInverter(rig)
        rig.console()
        for _ in range(3):  # pctries 3
            self._failed_precharge(rig, inv)
        self.assertEqual(len(closes(rig, "pre")), 3)
        self.assertTrue(rig.app.faults.is_latched(flt.PC_LOCKOUT))
        self.assertIn("latched: inverter_error+precharge_locked_out", rig.type("errors"))
        # A key cycle does not clear it: nothing closes again.
        rig.key(True)
        rig.run_ms(3000)
        rig.key(False)
        rig.run_ms(200)
        rig.key(True)
        rig.run_ms(3000)
        self.assertEqual(len(closes(rig, "pre")), 3)
        self.assertEqual(rig.app.vcm.mode, V.FAULT)
        # `clear` (someone looked): precharge again, and it succeeds with the error gone.
        inv.errors = 0
        rig.run_ms(50)  # the inverter's next 1DA says so
        self.assertEqual(rig.type("clear"), "OK")
        rig.run_until(lambda r: r.app.vcm.mode == V.READY, 5000)
        self.assertEqual(len(closes(rig, "main")), 1)

    def test_success_resets_the_count(self):
        rig = AppRig()
        inv = MiniInverter(rig)
        for _ in range(2):
            self._failed_precharge(rig, inv)
        inv.errors = 0
        rig.key(True)
        rig.run_until(lambda r: r.app.vcm.mode == V.READY, 5000)
        rig.key(False)
        rig.run_ms(4000)
        for _ in range(2):
            self._failed_precharge(rig, inv)
        self.assertFalse(rig.app.faults.is_latched(flt.PC_LOCKOUT))
        self.assertEqual(rig.app.vcm.pc_fails, 2)


class BootFaults(unittest.TestCase):
    """A fault latched at boot stays latched until `clear` or an off -> on edge of the ignition after boot."""

    def test_missing_chip_stays_latched_with_the_key_off(self):
        rig = AppRig(present=False)
        rig.console()
        rig.run_ms(2000)
        self.assertTrue(rig.app.faults.is_latched(flt.CAN_BUS))
        self.assertTrue(rig.type("errors").startswith("latched: can_bus_error;"))

    def test_watchdog_stays_latched_until_a_key_on_edge(self):
        rig = AppRig(reset_cause=fm.WDT_RESET)
        MiniInverter(rig)
        rig.console()
        rig.run_ms(2000)  # key off all along: no key cycle
        self.assertTrue(rig.app.faults.is_latched(flt.WATCHDOG))
        self.assertEqual(rig.type("get faults"), "watchdog")
        rig.key(True)  # off -> on seen after boot: the key cycle
        rig.run_until(lambda r: r.app.vcm.mode == V.READY, 4000)
        self.assertFalse(rig.app.faults.latched)

    def test_watchdog_with_the_key_on_at_boot_needs_off_then_on(self):
        rig = AppRig(reset_cause=fm.WDT_RESET)
        MiniInverter(rig)
        rig.key(True)
        rig.run_ms(3000)
        self.assertTrue(rig.app.faults.is_latched(flt.WATCHDOG))
        rig.key(False)
        rig.run_ms(500)
        self.assertTrue(rig.app.faults.is_latched(flt.WATCHDOG))  # off alone is half a cycle
        rig.key(True)
        rig.run_until(lambda r: r.app.vcm.mode == V.READY, 4000)

    def test_clear_on_the_console(self):
        rig = AppRig(reset_cause=fm.WDT_RESET)
        rig.console()
        rig.run_ms(100)
        self.assertEqual(rig.type("clear"), "OK")
        self.assertFalse(rig.app.faults.latched)


class Crystal(unittest.TestCase):
    """Wrong configuration: the MCP2515 runs at the saved crystal parameter, HV-locked, effective at once."""

    def test_a_16mhz_module_with_the_default_setting_cannot_drive(self):
        rig = AppRig(crystal=16000000)
        MiniInverter(rig)
        rig.key(True)
        rig.run_ms(4000)
        self.assertEqual(closes(rig, "main"), [])
        self.assertEqual(rig.frames(0x1D4), [])  # nothing readable on the bus: the bit rate is off

    def test_set_canxtal_takes_effect_at_once(self):
        rig = AppRig(crystal=16000000)
        MiniInverter(rig)
        rig.console()
        self.assertEqual(rig.app.crystal, 8000000)
        self.assertEqual(rig.type("set canxtal 16"), "OK")
        self.assertEqual(rig.app.crystal, 16000000)
        rig.key(True)
        rig.run_until(lambda r: r.app.vcm.mode == V.READY, 5000)
        self.assertTrue(len(rig.frames(0x1D4)) > 100)

    def test_saved_canxtal_is_used_at_boot(self):
        p = Params()
        p.canxtal = 16
        fs = MemFs()
        self.assertIsNone(Settings(p, None, "/params.dat", fs).save())
        rig = AppRig(crystal=16000000, fs=fs)
        MiniInverter(rig)
        self.assertEqual(rig.app.crystal, 16000000)
        rig.key(True)
        rig.run_until(lambda r: r.app.vcm.mode == V.READY, 5000)

    def test_hv_locked(self):
        rig, inv = ready_rig()
        self.assertEqual(rig.type("set canxtal 16"), "cannot change canxtal while HV is on")
        self.assertEqual(rig.app.crystal, 8000000)


class DriveAwayInterlock(unittest.TestCase):
    """Driving away while plugged in: the PDM reporting AC (0x390) is the plug signal on this board."""

    def _pdm(self, rig):
        from fakes.pdm import PdmModel

        # The instant, lenient PDM: the interlock is under test here, not the PDM's start-up (test_pdm_model.py
        # StartUp, scenarios/charge-pdm-startup.scn).
        return PdmModel(rig.clock, rig.bus, strict=False, startup=False)

    def test_no_drive_start_while_the_pdm_reports_ac(self):
        rig = AppRig()
        MiniInverter(rig)
        pdm = self._pdm(rig)
        pdm.plug_in()
        rig.run_ms(300)
        self.assertTrue(rig.app.inp.plug)
        rig.key(True)
        rig.switch(1)
        rig.pedal_pct(50)
        rig.run_ms(6000)
        self.assertFalse(rig.app.vcm.mode in (V.READY, V.DRIVE))
        self.assertTrue(all(torque_1d4(f) == 0 for f in rig.frames(0x1D4)))

    def test_ready_does_not_engage_while_plugged(self):
        rig, inv = ready_rig()
        pdm = self._pdm(rig)
        pdm.plug_in()
        rig.run_ms(300)
        self.assertTrue(rig.app.inp.plug)
        rig.switch(1)
        rig.run_ms(100)
        rig.pedal_pct(50)
        rig.run_ms(1000)
        self.assertEqual(rig.app.vcm.mode, V.READY)
        self.assertTrue(all(torque_1d4(f) == 0 for f in rig.frames(0x1D4)))
        pdm.unplug()
        rig.run_ms(300)
        self.assertFalse(rig.app.inp.plug)


class ChargePlug(unittest.TestCase):
    """The plug signal (the PDM's AC report) in a charge session and around driving, at the wire."""

    def _rig(self):
        from fakes.pdm import PdmModel

        rig = AppRig()
        inv = MiniInverter(rig)
        pdm = PdmModel(rig.clock, rig.bus, strict=False, startup=False)  # (as _pdm above)
        return rig, inv, pdm

    def test_plug_pulled_during_precharge_opens_at_once(self):
        rig, inv, pdm = self._rig()
        rig.run_ms(1500)
        pdm.plug_in()
        rig.run_until(lambda r: r.board.relay_pre.value() == 1, 5000)
        rig.run_ms(300)  # the PDM's 390s report AC (every 100 ms)
        self.assertEqual(rig.app.vcm.mode, V.PRECHARGE)
        self.assertTrue(rig.app.inp.plug)
        pdm.unplug()
        rig.run_until(lambda r: r.board.relay_pre.value() == 0, 300)
        self.assertEqual(closes(rig, "main"), [])
        self.assertEqual(rig.app.faults.latched, 0)

    def test_plugged_in_while_driving_torque_stays_then_charges_after_key_off(self):
        rig, inv, pdm = self._rig()
        rig.key(True)
        rig.run_until(lambda r: r.app.vcm.mode == V.READY and r.app.vcm.wake != fr.VCM_WAKE, 5000)
        rig.switch(1)
        rig.run_ms(50)
        rig.pedal_pct(30)
        rig.run_ms(500)
        self.assertEqual(rig.app.vcm.mode, V.DRIVE)
        tq = torque_1d4(rig.frames(0x1D4)[-1])
        self.assertTrue(tq > 0)
        pdm.plug_in()  # 679 with the key on: not a charge; AC reported: the plug signal
        rig.run_ms(300)
        self.assertTrue(rig.app.inp.plug)
        self.assertEqual(rig.app.vcm.mode, V.DRIVE)  # a plug signal never cuts torque once driving
        self.assertTrue(torque_1d4(rig.frames(0x1D4)[-1]) >= tq)
        rig.pedal_pct(0)
        rig.switch(0)
        rig.run_ms(1500)
        self.assertEqual(rig.app.vcm.mode, V.READY)
        rig.switch(1)
        rig.run_ms(100)
        self.assertEqual(rig.app.vcm.mode, V.READY)  # the plug keeps D from engaging
        rig.switch(0)
        rig.key(False)
        rig.run_until(lambda r: r.app.vcm.mode == V.CHARGE and r.app.vcm.cphase == V.C_RUN, 20000)
        self.assertEqual(len(closes(rig, "main")), 2)

    def test_plug_with_key_on_charges_and_no_drive_after_until_a_key_cycle(self):
        rig, inv, pdm = self._rig()
        pdm.plug_in()
        rig.key(True)
        rig.run_until(lambda r: r.app.vcm.mode == V.CHARGE and r.app.vcm.cphase == V.C_RUN, 20000)
        self.assertEqual(rig.frames(0x11A)[-1][1], 0x80)  # car OFF in 11A while charging
        pdm.unplug()
        rig.run_until(lambda r: r.app.vcm.mode == V.OFF, 5000)
        rig.run_ms(3000)  # key still on: no drive start after a charge until the key is cycled
        self.assertEqual(rig.app.vcm.mode, V.OFF)
        rig.key(False)
        rig.run_ms(20)
        rig.key(True)
        rig.run_until(lambda r: r.app.vcm.mode == V.READY, 5000)


class ConsoleSmall(unittest.TestCase):
    def test_reset_logs_no_fault_and_leaves_every_relay_open(self):
        rig = AppRig()
        MiniInverter(rig)
        rig.console()
        rig.run_ms(100)
        n = rig.app.faults.count
        try:
            rig.type("reset")
            self.assertTrue(False, "the board did not reset")
        except fm.MachineReset:
            pass
        self.assertTrue(rig.app.reset_requested)
        self.assertEqual(pins(rig), (0, 0, 0))
        self.assertEqual(rig.app.faults.count, n)
        self.assertFalse(flt.KBD_INT in [e[0] for e in rig.app.faults.entries()])

    def test_tmp55a_takes_effect_without_a_reboot(self):
        rig = AppRig()
        inv = MiniInverter(rig)
        rig.console()
        frame = bytes([0, 100, 122, 0, 140, 0, 0, 0])  # byte 2 = 122 degF = 50.0 degC; DBC: 61.0 degC
        rig.bus.send(inv, 0x55A, frame)
        rig.run_ms(20)
        self.assertEqual(rig.type("get tinv"), "50.0")
        self.assertEqual(rig.type("set tmp55a 1"), "OK")
        rig.bus.send(inv, 0x55A, frame)
        rig.run_ms(20)
        self.assertEqual(rig.type("get tinv"), "61.0")


def _file(lines):
    body = ("leafvcu-params 1\n" + "".join(ln + "\n" for ln in lines)).encode()
    return body + ("crc %08x\n" % crc32(body)).encode()


class SettingsNumbers(unittest.TestCase):
    """A saved file reads the same on MicroPython and CPython: only -?[0-9]+ numbers."""

    def _boot_with(self, text_line):
        fs = MemFs()
        f = fs.open("/params.dat", "wb")
        f.write(_file([text_line]))
        f.close()
        rig = AppRig(fs=fs)
        rig.console()
        return rig

    def test_plain_number_loads(self):
        rig = self._boot_with("60 200")
        self.assertEqual(rig.type("get maxtrq"), "200")

    def test_numbers_only_cpython_would_read_are_a_bad_file(self):
        for v in ("1_23", "+60", " 60", "\u0661\u0662", "0x10", "60 "):
            rig = self._boot_with("60 " + v)
            self.assertEqual(rig.type("get maxtrq"), "250", v)
            self.assertTrue("param_file_bad" in rig.type("errors"), v)

    def test_encode_round_trip(self):
        p = Params()
        p.tinvst = -40
        fs = MemFs()
        s = Settings(p, None, "/params.dat", fs)
        self.assertIsNone(s.save())
        self.assertEqual(fs.disk.files["/params.dat"], encode(p))
        q = Params()
        self.assertTrue(Settings(q, None, "/params.dat", fs).load()[0])
        self.assertEqual(q.tinvst, -40)


if __name__ == "__main__":
    unittest.main()
