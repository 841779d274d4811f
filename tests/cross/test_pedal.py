"""The throttle pedal: calibration, deadband, out of range, plausibility (cross-interpreter)."""

import unittest

from leafvcu.params import Params
from leafvcu.pedal import Pedal, position, PEDAL_RANGE, PEDAL_PLAUS


class FakeInputs:
    pedal_a = 0
    pedal_b = 0


class Position(unittest.TestCase):
    def test_normal_track(self):
        self.assertEqual(position(10000, 10000, 20000, 500), 0)
        self.assertEqual(position(15000, 10000, 20000, 500), 500)
        self.assertEqual(position(20000, 10000, 20000, 500), 1000)
        self.assertEqual(position(9600, 10000, 20000, 500), 0)  # inside the margin: clipped
        self.assertEqual(position(20400, 10000, 20000, 500), 1000)
        self.assertEqual(position(9499, 10000, 20000, 500), -1)
        self.assertEqual(position(20501, 10000, 20000, 500), -1)

    def test_inverted_track(self):
        self.assertEqual(position(20000, 20000, 10000, 500), 0)
        self.assertEqual(position(12500, 20000, 10000, 500), 750)
        self.assertEqual(position(10000, 20000, 10000, 500), 1000)
        self.assertEqual(position(20501, 20000, 10000, 500), -1)
        self.assertEqual(position(9499, 20000, 10000, 500), -1)

    def test_degenerate_calibration_is_out_of_range(self):
        self.assertEqual(position(10000, 10000, 10000, 500), -1)


class PedalChannels(unittest.TestCase):
    def setUp(self):
        self.p = Params()
        self.inp = FakeInputs()
        self.pd = Pedal(self.p, self.inp)
        self.t = 0

    def step(self, a, b, n=1, active=True):
        self.inp.pedal_a = a
        self.inp.pedal_b = b
        for _ in range(n):
            self.t += 10
            self.pd.step(self.t, active)
        return self.pd

    def raw(self, permille):
        return 10000 + 45000 * permille // 1000, 5000 + 22500 * permille // 1000

    def test_demand_with_deadband(self):
        p = self.p
        self.assertEqual(p.potdb, 5)
        for pos, expect in ((0, 0), (50, 0), (60, 10), (550, 526), (1000, 1000)):
            with self.subTest(pos=pos):
                a, b = self.raw(pos)
                pd = self.step(a, b)
                self.assertTrue(pd.ok)
                self.assertEqual(pd.fault, 0)
                self.assertEqual(pd.demand, expect)
        self.assertFalse(pd.released())
        a, b = self.raw(20)
        self.assertTrue(self.step(a, b).released())

    def test_out_of_range_zero_at_once_fault_after_pottime(self):
        a, b = self.raw(600)
        self.step(a, b, 5)
        self.assertTrue(self.pd.demand > 0)
        pd = self.step(60000, b)
        self.assertEqual(pd.demand, 0)
        self.assertFalse(pd.ok)
        self.assertEqual(pd.fault, 0)
        self.step(60000, b, self.p.pottime // 10 - 1)
        self.assertEqual(pd.fault, 0)
        self.step(60000, b)
        self.assertEqual(pd.fault, PEDAL_RANGE)
        self.assertEqual((pd.fault_a, pd.fault_b), (1, 60000))
        # It goes away when the reading comes back (the mode machine holds the latch, not the pedal).
        self.step(a, b)
        self.assertEqual(pd.fault, 0)

    def test_channel_b_open_circuit(self):
        a, b = self.raw(0)
        pd = self.step(a, 0, 20)
        self.assertEqual(pd.fault, PEDAL_RANGE)
        self.assertEqual((pd.fault_a, pd.fault_b), (2, 0))

    def test_short_glitch_does_not_fault(self):
        a, b = self.raw(300)
        self.step(a, b, 3)
        self.step(0, b, 3)
        pd = self.step(a, b, 3)
        self.assertEqual(pd.fault, 0)
        self.assertTrue(pd.ok)

    def test_disagreement_uses_lower_then_faults(self):
        a, _ = self.raw(700)
        _, b = self.raw(400)
        pd = self.step(a, b)
        self.assertTrue(pd.ok)
        self.assertEqual(pd.demand, (400 - 50) * 1000 // 950)  # the lower channel
        self.step(a, b, self.p.pottime // 10 - 1)
        self.assertEqual(pd.fault, 0)
        self.step(a, b)
        self.assertEqual(pd.fault, PEDAL_PLAUS)
        self.assertEqual(pd.demand, 0)
        self.assertFalse(pd.ok)
        self.assertEqual((pd.fault_a, pd.fault_b), (700, 400))

    def test_within_tolerance_is_fine(self):
        a, _ = self.raw(500)
        _, b = self.raw(400)  # 10 % apart, tolerance 15 %
        pd = self.step(a, b, 100)
        self.assertEqual(pd.fault, 0)
        self.assertTrue(pd.ok)

    def test_single_channel_mode_ignores_b(self):
        self.p.set("potmode", 1)
        a, _ = self.raw(500)
        pd = self.step(a, 0, 50)
        self.assertEqual(pd.fault, 0)
        self.assertEqual(pd.demand, (500 - 50) * 1000 // 950)

    def test_inactive_checks_nothing(self):
        pd = self.step(0, 0, 100, active=False)
        self.assertEqual(pd.fault, 0)
        self.assertEqual(pd.demand, 0)
        self.assertFalse(pd.ok)
        self.assertFalse(pd.released())

    def test_inverted_channel_b_calibration(self):
        self.p.set("pot2min", 50000)
        self.p.set("pot2max", 5000)
        a, _ = self.raw(600)
        b = 50000 - 45000 * 600 // 1000
        pd = self.step(a, b, 30)
        self.assertEqual(pd.fault, 0)
        self.assertEqual(pd.a, 600)
        self.assertEqual(pd.b, 600)


if __name__ == "__main__":
    unittest.main()
