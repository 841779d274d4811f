"""The devices on the bus, chosen by parameters (inverter, charger, spoof: HV-locked), at the wire: which frames the
whole App sends (frames on the simulated bus), which received frames reach the core, what `status` says, and
that the choice cannot change with HV on."""

import unittest

from app_rig import AppRig, MiniInverter
from leafvcu import frames as fr
from leafvcu import vcm as V


def ids_since(rig, t_us):
    return set(f[1] for f in rig.bus.log if f[0] >= t_us)


def pdm_390(rig, n=0):
    """A valid 0x390 from the PDM (charging, 3.3 kW available), counter n."""
    b = bytearray((0x04, 30, 0, 0xB3, 0, 0x80 | (4 << 1), 33, 0xC0 | ((n & 3) << 4)))
    b[7] |= fr.nibble_checksum(b, fr.NIB_390)
    rig.bus.send(rig.peer, 0x390, bytes(b))


class TestChoice(unittest.TestCase):
    def awake(self, *settings):
        rig = AppRig()
        rig.console()
        self.type = rig.type
        self.rig = rig
        for line in settings:
            self.assertEqual(self.type(line), "OK")
        MiniInverter(rig)
        rig.key(True)
        rig.run_ms(3000)
        return rig

    def test_default_devices_and_their_frames(self):
        rig = self.awake()
        self.assertTrue(self.type("status").endswith(" dev=aze0,pdm,spoofed"))
        t = rig.clock.now_us
        rig.run_ms(1000)
        self.assertEqual(ids_since(rig, t), {0x11A, 0x1D4, 0x50B, 0x1F2, 0x1DB, 0x1DC, 0x55B, 0x5BC, 0x59E, 0x1DA})

    def test_no_charger_sends_no_1f2_and_reads_no_390(self):
        rig = self.awake("set charger 0")
        self.assertTrue(self.type("status").endswith(" dev=aze0,none,spoofed"))
        t = rig.clock.now_us
        pdm_390(rig)
        rig.run_ms(1000)
        got = ids_since(rig, t)
        self.assertFalse(0x1F2 in got)
        self.assertTrue({0x11A, 0x1D4, 0x1DB, 0x1DC}.issubset(got))
        self.assertEqual(rig.app.vcm.pdm.s390.frames, 0)   # filtered out: no device reads it
        self.assertEqual(rig.app.vcm.mode, V.READY)   # drives without a charger

    def test_pdm_reads_390(self):
        rig = self.awake()
        pdm_390(rig)
        rig.run_ms(20)
        self.assertEqual(rig.app.vcm.pdm.s390.frames, 1)

    def test_leaf_battery_on_the_bus_and_the_ze0_vcm(self):
        rig = self.awake("set spoof 0", "set gen 1")
        self.assertTrue(self.type("status").endswith(" dev=ze0,pdm,leaf"))
        t = rig.clock.now_us
        rig.run_ms(1000)
        got = ids_since(rig, t)
        self.assertEqual(got, {0x11A, 0x1D4, 0x50B, 0x1F2, 0x1DA})
        self.assertEqual(set(len(f) for f in rig.frames(0x50B, t)), {6})

    def test_choice_is_hv_locked(self):
        rig = self.awake()
        self.assertEqual(rig.app.vcm.mode, V.READY)
        self.assertEqual(self.type("set charger 0"), "cannot change charger while HV is on")
        self.assertEqual(self.type("set spoof 0"), "cannot change spoof while HV is on")
        t = rig.clock.now_us
        rig.run_ms(200)
        self.assertIn(0x1F2, ids_since(rig, t))
        self.assertTrue(self.type("status").endswith(" dev=aze0,pdm,spoofed"))

    def test_get_dev(self):
        self.awake("set charger 0", "set spoof 0")
        self.assertEqual(self.type("get dev"), "aze0,none,leaf")


if __name__ == "__main__":
    unittest.main()
