"""A Leaf battery on the bus (`spoof 0`): it sends 1DB, 1DC, 55B, 59E and 5BC itself, so the controller sends
none of them. The controller reads nothing from it yet (the DC link voltage comes from the inverter's 1DA; its
limits are read by bms.py when bmsdev = 1).

With a ZE1 inverter, the frames a 2018+ pack adds for it (1C2, 1ED, 5EB: dev_ze1pack): `ze1batt 0` (default),
the pack sends them and the controller watches that they come (devices.Heard: `status` names a missing one, the
fault log notes it); `ze1batt 1`, the controller sends them (an AZE0-era pack, which does not, in a ZE1
conversion). Two senders of one id on the bus corrupt each other's frames: with a 62 kWh pack keep 0.
"""

from leafvcu.dev_ze1pack import Ze1Pack, EXPECT_ZE1


class LeafBattery(Ze1Pack):
    def __init__(self, app):
        Ze1Pack.__init__(self, app)
        self.name = "leaf"
        if self.p.inverter == 1:
            if self.p.ze1batt:
                self.TX = Ze1Pack.TX_ZE1
            else:
                self.EXPECT = EXPECT_ZE1
