"""A Leaf battery on the bus (`spoof 0`): it sends 1DB, 1DC, 55B, 59E and 5BC itself, so the controller sends
none of them. The controller reads nothing from it yet (the DC link voltage comes from the inverter's 1DA): the
device is here so that the choice has a module, and a reader of 1DB / 1DC (pack voltage, limits) has its home."""

from leafvcu.devices import Device


class LeafBattery(Device):
    KIND = "battery"

    def __init__(self, app):
        Device.__init__(self, app)
        self.name = "leaf"
