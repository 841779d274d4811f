"""The plant models: the HV circuit (tools/fakes/hv.py: RC precharge, contactors on relay pins, faults), the car
(tools/fakes/car.py), the driver's controls and the Plant that wires them (tools/fakes/plant.py).

Cross-interpreter: runs under pytest and under real MicroPython (tools/mpy_lane.mjs).
"""
import math
import unittest

from fakes import machine as fm
from fakes.clock import VirtualClock
from fakes.canbus import VirtualCANBus, RecordingNode
from fakes import hv as H
from fakes.hv import HvCircuit
from fakes.car import Car
from fakes import plant as P
from fakes.plant import Plant, Controls
from leafvcu.params import Params
from leafvcu.pedal import position


class Hw:
    """The pins and ADCs a board.Board has, built from the fake machine."""

    def __init__(self, clock):
        Pin = fm.Pin
        self.relay_pre = Pin(25, Pin.OUT, value=0, clock=clock)
        self.relay_main = Pin(26, Pin.OUT, value=0, clock=clock)
        self.relay_neg = Pin(27, Pin.OUT, value=0, clock=clock)
        self.in_ignition = Pin(14, Pin.IN, Pin.PULL_DOWN, clock=clock)
        self.in_brake = Pin(21, Pin.IN, Pin.PULL_DOWN, clock=clock)
        self.in_forward = Pin(22, Pin.IN, Pin.PULL_DOWN, clock=clock)
        self.in_reverse = Pin(15, Pin.IN, Pin.PULL_DOWN, clock=clock)
        self.pedal_a = fm.ADC(Pin(32))
        self.pedal_b = fm.ADC(Pin(33))


def rc(e, t, tau):
    return e * (1.0 - math.exp(-t / tau))


class TestPrecharge(unittest.TestCase):
    def setUp(self):
        self.clock = VirtualClock()
        self.hw = Hw(self.clock)
        self.hv = HvCircuit(self.clock, self.hw.relay_pre, self.hw.relay_main, None)

    def test_rc_charge_matches_the_exponential(self):
        hv = self.hv
        tau = (hv.r_pre + hv.r_pack) * hv.c_link
        self.assertAlmostEqual(tau, 0.045, delta=0.0005)  # the ZE0 on-off log's precharge
        self.hw.relay_pre.value(1)
        t_close = self.clock.now_us + hv.t_close_us
        for ms in (5, 20, 45, 90, 200):
            self.clock.run_until(t_close + ms * 1000)
            hv.advance(self.clock.now_us)
            with self.subTest(ms=ms):
                self.assertAlmostEqual(hv.v_link, rc(hv.pack_v, ms / 1000.0, tau), delta=0.001 * hv.pack_v)
        self.assertTrue(hv.closed("pre"))
        self.assertFalse(hv.closed("main"))

    def test_nothing_happens_before_the_contactor_has_closed(self):
        hv = self.hv
        self.hw.relay_pre.value(1)
        self.clock.advance_us(hv.t_close_us - 1000)
        hv.advance(self.clock.now_us)
        self.assertEqual(hv.v_link, 0.0)
        self.assertFalse(hv.closed("pre"))
        self.clock.advance_us(2000)
        hv.advance(self.clock.now_us)
        self.assertTrue(hv.closed("pre"))
        self.assertEqual(hv.events[0][:3], (hv.t_close_us, "pre", True))

    def test_one_big_step_equals_many_small_ones(self):
        a = HvCircuit(None, t_close_us=0)
        b = HvCircuit(None, t_close_us=0)
        a.command("pre", True, 0)
        b.command("pre", True, 0)
        a.advance(1000000)
        t = 0
        while t < 1000000:
            t += 1000
            b.advance(t)
        self.assertAlmostEqual(a.v_link, b.v_link, delta=1e-6)
        # a 10 ms step through the main contactor's 0.12 ms time constant stays put, no overshoot
        a.command("main", True, 1000000)
        a.p_load = 50000.0
        a.advance(1010000)
        a.advance(1020000)
        i = a.i_pack
        self.assertAlmostEqual(a.v_link, a.pack_v - i * a.r_pack, delta=0.01)
        self.assertAlmostEqual(i * a.v_link, 50000.0, delta=700.0)  # load current from the voltage at step start

    def test_regen_lifts_the_link_above_the_pack(self):
        hv = HvCircuit(None, t_close_us=0, v0=380.0)
        hv.command("main", True, 0)
        hv.p_load = -30000.0
        hv.advance(10000)
        self.assertAlmostEqual(hv.v_link, 380.0 + 30000.0 / 380.0 * hv.r_pack, delta=0.5)
        self.assertTrue(hv.i_pack < 0)
        # a charger's power adds to the load's, from its own input
        hv.p_load = 0.0
        hv.p_charge = 30000.0
        hv.advance(20000)
        self.assertAlmostEqual(hv.v_link, 380.0 + 30000.0 / 380.0 * hv.r_pack, delta=0.5)

    def test_contactor_events_closes_and_breaking_current(self):
        hv = self.hv
        self.hw.relay_pre.value(1)
        self.clock.advance_us(200000)
        self.hw.relay_main.value(1)
        self.clock.advance_us(100000)
        hv.advance(self.clock.now_us)
        hv.p_load = 38000.0  # ~100 A
        self.clock.advance_us(10000)
        hv.advance(self.clock.now_us)
        v = hv.v_link
        self.hw.relay_main.value(0)  # opening under load (and the link then sags through the precharge path)
        self.clock.advance_us(50000)
        hv.advance(self.clock.now_us)
        self.assertEqual(hv.closes, {"pre": 1, "main": 1, "neg": 0})
        names = [(e[1], e[2]) for e in hv.events]
        self.assertEqual(names, [("pre", True), ("main", True), ("main", False)])
        a = 38000.0 / v
        self.assertAlmostEqual(hv.events[-1][3], a, delta=1.0)
        self.assertAlmostEqual(hv.max_open_a, a, delta=1.0)

    def test_a_change_called_off_before_it_lands(self):
        hv = self.hv
        self.hw.relay_pre.value(1)
        self.clock.advance_us(5000)
        self.hw.relay_pre.value(0)
        self.clock.advance_us(50000)
        hv.advance(self.clock.now_us)
        self.assertEqual(hv.events, [])
        self.assertEqual(hv.v_link, 0.0)

    def test_negative_contactor_completes_the_circuit(self):
        hw = self.hw
        hv = HvCircuit(self.clock, hw.relay_pre, hw.relay_main, hw.relay_neg)
        hw.relay_pre.value(1)
        self.clock.advance_us(300000)
        hv.advance(self.clock.now_us)
        self.assertEqual(hv.v_link, 0.0)
        hw.relay_neg.value(1)
        self.clock.advance_us(300000)
        hv.advance(self.clock.now_us)
        self.assertTrue(hv.v_link > 370.0)

    def test_active_and_passive_discharge(self):
        hv = HvCircuit(None, v0=380.0)
        hv.advance(1000000)
        self.assertAlmostEqual(hv.v_link, 380.0 * math.exp(-1.0 / (hv.r_bleed * hv.c_link)), delta=0.01)
        hv.discharge = True
        hv.advance(2000000)
        v = 380.0 * math.exp(-1.0 / (hv.r_bleed * hv.c_link))
        g = 1.0 / hv.r_bleed + 1.0 / hv.r_dis
        self.assertAlmostEqual(hv.v_link, v * math.exp(-1.0 * g / hv.c_link), delta=0.01)
        self.assertTrue(hv.v_link < 120.0)


class TestHvFaults(unittest.TestCase):
    def setUp(self):
        self.clock = VirtualClock()
        self.hw = Hw(self.clock)
        self.hv = HvCircuit(self.clock, self.hw.relay_pre, self.hw.relay_main, None)

    def run_ms(self, ms):
        self.clock.advance_us(ms * 1000)
        self.hv.advance(self.clock.now_us)

    def test_missing_precharge_resistor_never_charges(self):
        self.hv.inject("precharge_open")
        self.hw.relay_pre.value(1)
        self.run_ms(6000)
        self.assertEqual(self.hv.v_link, 0.0)
        self.assertEqual(self.hv.tau_precharge(), float("inf"))

    def test_shorted_precharge_resistor_charges_impossibly_fast(self):
        self.hv.inject("precharge_short")
        self.hw.relay_pre.value(1)
        self.run_ms(21)  # 20 ms to close, then 1 ms
        self.assertTrue(self.hv.v_link > 0.99 * self.hv.pack_v)

    def test_welded_main_contactor_charges_the_link_before_anything_closes(self):
        self.hv.inject("main_welded")
        self.run_ms(10)
        self.assertAlmostEqual(self.hv.v_link, self.hv.pack_v, delta=0.1)
        self.assertTrue(self.hv.closed("main"))
        self.assertEqual(self.hw.relay_main.value(), 0)

    def test_no_pack(self):
        self.hv.inject("no_pack")
        self.hw.relay_pre.value(1)
        self.run_ms(1000)
        self.hw.relay_main.value(1)
        self.run_ms(1000)
        self.assertEqual(self.hv.v_link, 0.0)

    def test_dc_collapse_and_pack_open_while_running(self):
        hv = self.hv
        self.hw.relay_pre.value(1)
        self.run_ms(500)
        self.hw.relay_main.value(1)
        self.run_ms(100)
        self.assertAlmostEqual(hv.v_link, 380.0, delta=0.1)
        hv.inject("dc_collapse", 120)
        self.run_ms(1)
        self.assertAlmostEqual(hv.v_link, 120.0, delta=0.5)
        hv.restore("dc_collapse")
        self.run_ms(1)
        self.assertAlmostEqual(hv.v_link, 380.0, delta=0.5)
        hv.inject("pack_open")
        hv.p_load = 20000.0  # the link feeds the load alone: it sags within milliseconds
        self.run_ms(10)
        self.assertTrue(hv.v_link < 100.0)
        self.assertEqual(hv.i_pack, 0.0)
        with self.assertRaises(ValueError):
            hv.inject("nonsense")


class TestCar(unittest.TestCase):
    def test_acceleration_from_torque(self):
        car = Car()
        car.torque = 280.0
        car.step(0.01)
        f = 280.0 * car.gear / car.wheel_r - car.crr * car.mass * 9.81
        m_eff = car.mass + car.j_motor * (car.gear / car.wheel_r) ** 2
        self.assertAlmostEqual(car.v, f / m_eff * 0.01, delta=1e-6)
        # ZE0 full-throttle log: ~2740 rpm after ~2.7 s at 280 Nm (within 15 %)
        t = 0.01
        while t < 2.7:
            car.step(0.01)
            t += 0.01
        self.assertAlmostEqual(car.rpm, 2740.0, delta=0.15 * 2740.0)

    def test_rpm_speed_conversions(self):
        car = Car()
        car.rpm = 1000.0
        self.assertAlmostEqual(car.v, 1000.0 / 60 * 2 * math.pi / car.gear * car.wheel_r, delta=1e-9)
        self.assertAlmostEqual(car.speed_kmh, car.v * 3.6, delta=1e-9)
        car.torque = 100.0
        self.assertAlmostEqual(car.p_elec(), 100.0 * car.omega / car.eff, delta=1e-6)
        self.assertAlmostEqual(car.p_elec(-100.0), -100.0 * car.omega * car.eff, delta=1e-6)

    def test_standstill_holds_and_friction_never_reverses(self):
        car = Car()
        car.torque = 5.0  # below rolling resistance at the wheel
        for _ in range(100):
            car.step(0.01)
        self.assertEqual(car.v, 0.0)
        car.torque = 0.0
        car.v = 1.0
        car.brake = 1.0
        for _ in range(200):
            car.step(0.01)
        self.assertEqual(car.v, 0.0)
        car.v = -1.0
        for _ in range(200):
            car.step(0.01)
        self.assertEqual(car.v, 0.0)

    def test_coasts_down_and_regen_brakes(self):
        car = Car()
        car.v = 20.0
        car.step(1.0)
        coast = 20.0 - car.v
        car.v = 20.0
        car.torque = -50.0
        car.step(1.0)
        self.assertTrue(20.0 - car.v > coast)
        self.assertTrue(car.p_elec() < 0)

    def test_grade_rolls_back(self):
        car = Car()
        car.grade_pct = 10.0
        car.step(0.1)
        self.assertTrue(car.v < 0.0)


class TestControls(unittest.TestCase):
    def setUp(self):
        self.clock = VirtualClock()
        self.hw = Hw(self.clock)
        self.c = Controls(self.hw, self.clock)
        self.p = Params()

    def positions(self):
        p = self.p
        a = position(self.hw.pedal_a.read_u16(), p.pot1min, p.pot1max, p.potmarg)
        b = position(self.hw.pedal_b.read_u16(), p.pot2min, p.pot2max, p.potmarg)
        return a, b

    def test_pedal_tracks_fit_the_default_calibration(self):
        for pct in (0, 10, 40, 100):
            self.c.pedal(pct)
            a, b = self.positions()
            with self.subTest(pct=pct):
                self.assertAlmostEqual(a, pct * 10, delta=1)
                self.assertAlmostEqual(b, pct * 10, delta=1)
        self.c.pedal(0)
        self.assertEqual((self.hw.pedal_a.read_u16(), self.hw.pedal_b.read_u16()), (10000, 5000))

    def test_pins(self):
        c = self.c
        hw = self.hw
        c.ignition(True)
        c.brake(True)
        c.direction("reverse")
        self.assertEqual((hw.in_ignition.value(), hw.in_brake.value(), hw.in_forward.value(),
                          hw.in_reverse.value()), (1, 1, 0, 1))
        c.direction("forward")
        self.assertEqual((hw.in_forward.value(), hw.in_reverse.value()), (1, 0))
        c.direction("neutral")
        self.assertEqual((hw.in_forward.value(), hw.in_reverse.value()), (0, 0))

    def test_ramp(self):
        c = self.c
        c.pedal(50, over_s=2.0, now_us=0)
        c.step(1000000)
        self.assertAlmostEqual(c.pct, 25.0, delta=1e-9)
        c.step(3000000)
        self.assertEqual(c.pct, 50.0)

    def test_pedal_faults(self):
        c = self.c
        c.pedal(30)
        c.inject("pedal_a_open")
        self.assertEqual(self.positions()[0], -1)
        c.restore("pedal_a_open")
        c.inject("pedal_b_short")
        self.assertEqual(self.positions()[1], -1)
        c.restore("pedal_b_short")
        c.inject("pedal_disagree", 40)
        a, b = self.positions()
        self.assertAlmostEqual(b - a, 400, delta=2)
        self.assertTrue(b - a > 10 * self.p.pottol)
        c.restore("pedal_disagree")
        a, b = self.positions()
        self.assertAlmostEqual(a, b, delta=2)


class TestPlant(unittest.TestCase):
    def setUp(self):
        self.clock = VirtualClock()
        self.bus = VirtualCANBus(self.clock)
        self.peer = RecordingNode(self.bus)
        self.hw = Hw(self.clock)
        self.plant = Plant(self.clock, self.bus, self.hw)
        self.plant.start()

    def test_ticks_on_the_inverter_grid_and_sends(self):
        self.clock.advance_us(1000000)
        f = [t for (t, i, d) in self.peer.frames if i == 0x1DA]
        self.assertTrue(len(f) >= 80)
        self.assertTrue(self.plant.ticks >= 99)
        self.assertEqual(self.plant.signal("violations"), 0)

    def test_relay_pins_charge_the_link_the_inverter_reports(self):
        self.hw.relay_pre.value(1)
        self.clock.advance_us(500000)
        self.assertTrue(self.plant.signal("udc") > 370.0)
        self.assertEqual(self.plant.signal("pre"), 1)
        self.assertEqual(self.plant.signal("main"), 0)
        d = [d for (t, i, d) in self.peer.frames if i == 0x1DA][-1]
        self.assertAlmostEqual(d[0] * 2, self.plant.hv.v_link, delta=2.5)  # 2 V per bit

    def test_injections_by_name(self):
        with self.assertRaises(ValueError):
            self.plant.inject("pdm_silent")  # no PDM fitted yet
        pdm = self.plant.attach_pdm()
        for name in P.INJECTIONS:
            if name in P.ONE_SHOT:  # the controller's (sim.World.stall), refused by the plant
                with self.assertRaises(ValueError):
                    self.plant.inject(name)
                continue
            with self.subTest(name=name):
                self.plant.inject(name)
                self.clock.advance_us(20000)
                self.plant.restore(name)
                self.clock.advance_us(20000)
        self.plant.inject("no_pack")
        self.assertIn("no_pack", self.plant.hv.faults)
        self.plant.inject("can_loss")
        self.assertIn("mute", self.plant.inv.injected)
        self.plant.inject("pedal_a_open")
        self.assertEqual(self.hw.pedal_a.read_u16(), 0)
        self.plant.inject("can_bus_error")
        self.assertEqual(self.bus.fault, "bit_error")
        self.plant.restore("can_bus_error")
        self.assertIsNone(self.bus.fault)
        self.plant.inject("pdm_silent")
        self.assertTrue(pdm.silent)
        self.plant.inject("charger_runaway", 2000)
        self.assertEqual(pdm.stuck_w, 2000.0)
        with self.assertRaises(ValueError):
            self.plant.inject("nonsense")

    def test_signals_all_answer(self):
        for name in P.SIGNALS:
            with self.subTest(name=name):
                v = self.plant.signal(name)
                self.assertTrue(isinstance(v, (int, float)))
        with self.assertRaises(ValueError):
            self.plant.signal("nonsense")
        self.assertIn("udc", self.plant.status())

    def test_negative_contactor_from_params(self):
        p = Params()
        p.negcon = 1
        clock = VirtualClock()
        hw = Hw(clock)
        plant = Plant(clock, VirtualCANBus(clock), hw, params=p, inverter_power="ignition")
        self.assertFalse(plant.hv.closed("neg"))
        self.assertFalse(plant.inv.powered)
        plant.controls.ignition(True)
        self.assertTrue(plant.inv.powered)
        with self.assertRaises(ValueError):
            Plant(clock, VirtualCANBus(clock), Hw(clock), inverter_power="sometimes")


if __name__ == "__main__":
    unittest.main()
