"""The torque chain: ramps, regen and its taper, direction changes, brake, limits and derates (cross-interpreter)."""

import unittest

from leafvcu.params import Params
from leafvcu.torque import Torque, fade, TORQUE_SCALE


class FakePedal:
    def __init__(self, demand=0, ok=True):
        self.demand = demand
        self.ok = ok

    def released(self):
        return self.ok and self.demand == 0


class FakeInputs:
    def __init__(self, fwd=True, rev=False, brake=False):
        self.fwd = fwd
        self.rev = rev
        self.brake = brake
        self.bms_dclw = -1  # the battery device's power limits (bms.py): none
        self.bms_cclw = -1


class FakeInv:
    def __init__(self, speed=0, valid=True, udc=360):
        self.speed_rpm = speed
        self.speed_valid = valid
        self.dc_voltage = udc


class FakeTemps:
    def __init__(self, inv_c=30, mot_c=30):
        self.inverter_c10 = inv_c * 10
        self.motor_c10 = mot_c * 10


class Chain:
    """A Torque chain stepped every 10 ms with fakes; engage() puts it in D (or R) at standstill."""

    def __init__(self, **params):
        self.p = Params()
        for k in params:
            err = self.p.set(k, params[k])
            assert err is None, err
        self.pedal = FakePedal()
        self.inp = FakeInputs()
        self.inv = FakeInv()
        self.temps = FakeTemps()
        self.tq = Torque(self.p, self.pedal, self.inp, self.inv, self.temps)
        self.t = 5000

    def step(self, n=1, active=True):
        for _ in range(n):
            self.t += 10
            self.tq.step(self.t, active)
        return self.tq.torque

    def engage(self, fwd=True):
        self.pedal.demand = 0
        self.inp.fwd = fwd
        self.inp.rev = not fwd
        self.step()
        assert self.tq.dir == (1 if fwd else -1)

    def settle(self):
        return self.step(400)


class Fade(unittest.TestCase):
    def test_fade(self):
        self.assertEqual(fade(10, 20, 30), 1000)
        self.assertEqual(fade(20, 20, 30), 1000)
        self.assertEqual(fade(25, 20, 30), 500)
        self.assertEqual(fade(30, 20, 30), 0)
        self.assertEqual(fade(99, 20, 30), 0)
        self.assertEqual(fade(21, 20, 20), 0)  # degenerate window: a step, no division by zero
        self.assertEqual(fade(20, 20, 10), 1000)


class Ramps(unittest.TestCase):
    def test_ramp_up_limit(self):
        c = Chain(rampup=500, maxtrq=200)
        c.engage()
        c.inv.speed_rpm = 1000
        c.pedal.demand = 1000
        c.step(1)
        self.assertEqual(c.tq.target, 200 * TORQUE_SCALE)
        self.assertEqual(c.tq.torque, 500 * TORQUE_SCALE * 10 // 1000)  # 5 Nm in 10 ms
        c.step(9)
        self.assertEqual(c.tq.torque, 50 * TORQUE_SCALE)  # 50 Nm after 100 ms
        prev = c.tq.torque
        for _ in range(100):
            c.step()
            self.assertLessEqual(c.tq.torque - prev, 20)
            prev = c.tq.torque
        self.assertEqual(c.tq.torque, 200 * TORQUE_SCALE)

    def test_ramp_down_limit(self):
        c = Chain(rampdn=1000, rampup=20000, regoff=0)
        c.engage()
        c.inv.speed_rpm = 1000
        c.pedal.demand = 1000
        c.settle()
        self.assertEqual(c.tq.torque, 250 * TORQUE_SCALE)
        c.pedal.demand = 0
        c.step(1)
        self.assertEqual(c.tq.torque, 240 * TORQUE_SCALE)  # 10 Nm per 10 ms
        c.step(24)
        self.assertEqual(c.tq.torque, 0)

    def test_slow_ramp_is_not_lost_to_rounding(self):
        c = Chain(rampup=1)
        c.engage()
        c.inv.speed_rpm = 100
        c.pedal.demand = 1000
        c.step(100)  # 1 s at 1 Nm/s
        self.assertEqual(c.tq.torque, 1 * TORQUE_SCALE)

    def test_crossing_zero_goes_through_zero_at_rampdn(self):
        c = Chain(rampup=1000, rampdn=500, regoff=50, maxregen=100)
        c.engage()
        c.inv.speed_rpm = 3000
        c.pedal.demand = 500
        c.settle()
        self.assertTrue(c.tq.torque > 0)
        c.pedal.demand = 0
        seen = []
        for _ in range(100):
            seen.append(c.step())
        self.assertEqual(seen[-1], -50 * TORQUE_SCALE)
        i0 = seen.index(0)
        self.assertTrue(all(x >= 0 for x in seen[:i0]))
        self.assertTrue(all(x <= 0 for x in seen[i0:]))

    def test_inactive_is_zero_at_once(self):
        c = Chain(rampdn=250)  # the slowest ramp allowed
        c.engage()
        c.inv.speed_rpm = 1000
        c.pedal.demand = 1000
        c.settle()
        self.assertTrue(c.tq.torque > 0)
        self.assertEqual(c.step(1, active=False), 0)
        self.assertEqual(c.tq.dir, 0)


class BatteryLimits(unittest.TestCase):
    # The battery's power limits (inp.bms_dclw / bms_cclw, W) cap drive and regen as power at the motor's speed:
    # 38 kW x 85 % at 3000 rpm is 102.8 Nm (411 raw); 7.6 kW at 3000 rpm is 24.2 Nm (96 raw).
    def test_drive_capped_by_the_discharge_power(self):
        c = Chain(rampup=20000, rampdn=20000)
        c.engage()
        c.inv.speed_rpm = 3000
        c.pedal.demand = 1000
        self.assertEqual(c.step(10), 1000)
        c.inp.bms_dclw = 38000
        self.assertEqual(c.step(10), 411)
        c.inv.speed_rpm = 6000
        self.assertEqual(c.step(10), 205)
        c.inp.bms_dclw = 0
        self.assertEqual(c.step(10), 0)

    def test_regen_capped_by_the_charge_power(self):
        c = Chain(regoff=100, maxregen=100, rampup=20000, rampdn=20000)
        c.engage()
        c.inv.speed_rpm = 3000
        self.assertEqual(c.step(10), -400)
        c.inp.bms_cclw = 7600
        self.assertEqual(c.step(10), -96)
        c.inp.bms_cclw = 0
        self.assertEqual(c.step(10), 0)


class Regen(unittest.TestCase):
    def test_off_throttle_regen_with_taper(self):
        c = Chain(regoff=40, regbrk=80, maxregen=100, regmin=100, regtaper=600, rampup=20000, rampdn=20000)
        c.engage()
        for speed, expect in ((5000, -160), (600, -160), (350, -80), (100, 0), (50, 0), (0, 0)):
            with self.subTest(speed=speed):
                c.inv.speed_rpm = speed
                self.assertEqual(c.step(2), expect)

    def test_brake_regen_capped_by_maxregen(self):
        c = Chain(regbrk=150, maxregen=100, rampup=20000, rampdn=20000)
        c.engage()
        c.inv.speed_rpm = 3000
        c.inp.brake = True
        self.assertEqual(c.step(2), -100 * TORQUE_SCALE)

    def test_brake_overrides_throttle(self):
        c = Chain(regbrk=60, rampup=20000, rampdn=20000)
        c.engage()
        c.inv.speed_rpm = 2000
        c.pedal.demand = 1000
        self.assertTrue(c.step(2) > 0)
        c.inp.brake = True
        self.assertEqual(c.step(3), -60 * TORQUE_SCALE)  # through zero: one step at 0, then away
        c.inv.speed_rpm = 0  # at standstill: no drive, no regen
        self.assertEqual(c.step(2), 0)

    def test_no_regen_when_rolling_against_the_gear(self):
        c = Chain(regoff=50, rampup=20000, rampdn=20000)
        c.engage()
        c.inv.speed_rpm = -1000  # rolling backwards in D
        self.assertEqual(c.step(2), 0)

    def test_reverse_regen_sign(self):
        c = Chain(regoff=50, rampup=20000, rampdn=20000)
        c.engage(fwd=False)
        c.inv.speed_rpm = -1000  # moving backwards in R
        self.assertEqual(c.step(2), 50 * TORQUE_SCALE)


class Direction(unittest.TestCase):
    def test_direction_change_refused_at_speed(self):
        c = Chain()
        c.engage()
        c.inv.speed_rpm = 1000
        c.pedal.demand = 600
        c.settle()
        c.inp.fwd = False
        c.inp.rev = True
        c.pedal.demand = 0
        c.step(1)
        self.assertEqual(c.tq.dir, 1)
        self.assertTrue(c.tq.refused)
        c.pedal.demand = 600  # throttle ignored while refused: only regen
        c.settle()
        self.assertTrue(c.tq.torque <= 0)
        c.inv.speed_rpm = c.p.dirspd
        c.pedal.demand = 0
        c.step(1)
        self.assertEqual(c.tq.dir, -1)
        self.assertFalse(c.tq.refused)

    def test_engage_needs_pedal_released(self):
        c = Chain()
        c.pedal.demand = 300
        c.inp.fwd = True
        c.step(10)
        self.assertEqual(c.tq.dir, 0)
        self.assertTrue(c.tq.refused)
        self.assertEqual(c.tq.torque, 0)
        c.pedal.demand = 0
        c.step(1)
        self.assertEqual(c.tq.dir, 1)

    def test_engage_along_the_motion_is_allowed(self):
        c = Chain()
        c.inp.fwd = False
        c.inv.speed_rpm = 2000  # coasting forward in neutral
        c.step(1)
        c.inp.fwd = True
        c.step(1)
        self.assertEqual(c.tq.dir, 1)
        c.inp.fwd = False
        c.step(1)
        c.inp.rev = True
        c.step(1)
        self.assertEqual(c.tq.dir, 0)
        self.assertTrue(c.tq.refused)

    def test_invalid_speed_refuses_and_zeroes(self):
        c = Chain()
        c.inv.speed_valid = False
        c.inp.fwd = True
        c.step(2)
        self.assertEqual(c.tq.dir, 0)
        c.inv.speed_valid = True
        c.engage()
        c.pedal.demand = 1000
        c.settle()
        c.inv.speed_valid = False
        self.assertEqual(c.step(1), 0)

    def test_neutral_is_zero_at_once(self):
        c = Chain()
        c.engage()
        c.inv.speed_rpm = 500
        c.pedal.demand = 1000
        c.settle()
        c.inp.fwd = False
        self.assertEqual(c.step(1), 0)
        self.assertEqual(c.tq.dir, 0)

    def test_reverse_torque_is_negative(self):
        c = Chain(rampup=20000)
        c.engage(fwd=False)
        c.inv.speed_rpm = -100
        c.pedal.demand = 500
        self.assertEqual(c.step(2), -125 * TORQUE_SCALE)

    def test_both_switch_inputs_mean_neutral(self):
        c = Chain()
        c.inp.fwd = c.inp.rev = True
        c.step(2)
        self.assertEqual(c.tq.dir, 0)

    def test_unusable_pedal_is_zero(self):
        c = Chain()
        c.engage()
        c.inv.speed_rpm = 500
        c.pedal.demand = 1000
        c.settle()
        c.pedal.ok = False
        self.assertEqual(c.step(1), 0)


class Limits(unittest.TestCase):
    def test_max_torque(self):
        c = Chain(maxtrq=120, rampup=20000)
        c.engage()
        c.inv.speed_rpm = 100
        c.pedal.demand = 1000
        self.assertEqual(c.step(2), 120 * TORQUE_SCALE)
        c.pedal.demand = 500
        c.p.rampdn = 20000
        self.assertEqual(c.step(2), 60 * TORQUE_SCALE)

    def test_speed_limit_fades_drive(self):
        c = Chain(maxspd=8000, spdwin=1000, rampup=20000, rampdn=20000, regoff=0)
        c.engage()
        c.pedal.demand = 1000
        for speed, expect in ((6000, 1000), (7000, 1000), (7500, 500), (8000, 0), (9000, 0)):
            with self.subTest(speed=speed):
                c.inv.speed_rpm = speed
                self.assertEqual(c.step(2), 250 * TORQUE_SCALE * expect // 1000)

    def test_reverse_speed_limit(self):
        c = Chain(revspd=1000, spdwin=500, rampup=20000, rampdn=20000)
        c.engage(fwd=False)
        c.pedal.demand = 1000
        c.inv.speed_rpm = -1000
        self.assertEqual(c.step(2), 0)
        c.inv.speed_rpm = -750
        self.assertEqual(c.step(2), -125 * TORQUE_SCALE)


class Derates(unittest.TestCase):
    def full(self, c):
        c.pedal.demand = 1000
        return c.step(2)

    def test_inverter_temperature(self):
        c = Chain(tinvst=60, tinvend=80, rampup=20000, rampdn=20000)
        c.engage()
        c.inv.speed_rpm = 500
        c.temps.inverter_c10 = 700
        self.assertEqual(self.full(c), 500)  # 250 Nm x 50 %
        c.temps.inverter_c10 = 800
        self.assertEqual(self.full(c), 0)

    def test_motor_temperature_and_regen(self):
        c = Chain(tmotst=100, tmotend=140, regoff=40, rampup=20000, rampdn=20000)
        c.engage()
        c.inv.speed_rpm = 3000
        c.temps.motor_c10 = 1300
        self.assertEqual(self.full(c), 250)  # 25 %
        c.pedal.demand = 0
        self.assertEqual(c.step(2), -40)  # regen derated too: 160 x 25 %

    def test_low_dc_voltage(self):
        c = Chain(udclow=300, udcmin=260, rampup=20000, rampdn=20000)
        c.engage()
        c.inv.speed_rpm = 500
        c.inv.dc_voltage = 280
        self.assertEqual(self.full(c), 500)
        c.inv.dc_voltage = 250
        self.assertEqual(self.full(c), 0)

    def test_high_dc_voltage_limits_regen_only(self):
        c = Chain(udchigh=390, udcmax=410, regbrk=100, rampup=20000, rampdn=20000)
        c.engage()
        c.inv.speed_rpm = 3000
        c.inv.dc_voltage = 400
        self.assertEqual(self.full(c), 1000)  # drive unaffected
        c.inp.brake = True
        self.assertEqual(c.step(3), -200)
        c.inv.dc_voltage = 410
        self.assertEqual(c.step(2), 0)

    def test_no_temperatures_means_no_temperature_derate(self):
        c = Chain(rampup=20000)
        c.tq.temps = None
        c.engage()
        c.inv.speed_rpm = 500
        self.assertEqual(self.full(c), 1000)


if __name__ == "__main__":
    unittest.main()
