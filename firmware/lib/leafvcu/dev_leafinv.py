"""The 2011-2017 Leaf inverter (AZE0 "Gen2", and the ZE0 VCM's variant with `gen 1`) as a device on the bus.

What the controller sends it (PROTOCOL.md section 2): 11A (state / gear) and 1D4 (torque request) every 10 ms,
both pinned to TX buffers (1D4 in TXB2: on equal priority the MCP2515 sends the higher buffer first, so the
torque request leaves first); 50B (wake / ready) every 100 ms, DLC 7 (AZE0) or 6 (ZE0: the parameter gen). The
counters of 11A and 1D4 start at 1 (9 of 9 real start-ups, issue 19). What it receives: 1DA (status: DC voltage,
torque, speed, error bits; CRC-8 and counter) and 55A (temperatures, reading chosen by tmp55a) into the state
objects the core was wired to (app.inv, app.temps). Supervision: 1DA is the inverter's heartbeat (WATCH: a good
frame, right CRC and counter, within tstale), kept in the link the core reads (app.vcm.link: fresh, age; the core
trips CAN_LOSS / PC_INVALID on it); the 1DA byte 6 bits that are a fault are the parameter inverr (mask -1).
"""

from leafvcu import frames as fr
from leafvcu.devices import Device, J10, J100, PIN, SEND


class LeafInverter(Device):
    KIND = "inverter"
    TX = (
        (0x1D4, 8, 10, 0, J10, PIN, "enc_1d4", 1, 4),
        (0x11A, 8, 10, 0, J10, PIN, "enc_11a", 1, 4),
        (0x50B, 7, 100, 0, J100, SEND, "enc_50b", 0, 0),
    )
    RX = ((0x1DA, "dec_1da"), (0x55A, "dec_55a"))
    WATCH = ((0x1DA, "inv", "tstale"),)
    RX_FIRST = (0x1DA,)   # 55A (every 100 ms) and a ZE1's 0x120 (every 10 ms) come right after a 1DA

    def __init__(self, app):
        Device.__init__(self, app)
        self.name = "aze0"
        self.inv = app.inv
        self.temps = app.temps
        self.m1d4 = fr.RawTorqueRequest()
        self.m11a = fr.VcmState()
        self.m50b = fr.VcmWake()
        self._zero = False
        self.link = self.vcm.link
        self.link.mask = -1   # the fault bits of 1DA byte 6: the parameter inverr

    def state(self):
        return "ze0" if self.p.gen else "aze0"

    # --- sent
    def enc_1d4(self, buf, n):
        m = self.m1d4
        if self._zero:
            # The shell's hard stop: the last request with torque 0, without asking the core (it may be what
            # failed).
            self._zero = False
            m.torque_raw = 0
        else:
            self.vcm.fill_1d4(m)
        fr.encode_1d4(buf, m, n)
        return 8

    def zero_torque(self):
        # The next 1D4 this device encodes (the hard stop's) asks for torque 0.
        self._zero = True

    def enc_11a(self, buf, n):
        m = self.m11a
        self.vcm.fill_11a(m)
        fr.encode_11a(buf, m, n)
        return 8

    def enc_50b(self, buf, n):
        m = self.m50b
        self.vcm.fill_50b(m)
        fr.encode_50b(buf, m)
        return m.dlc

    # --- received
    def dec_1da(self, data, n):
        fr.decode_1da(data, self.inv, n)

    def dec_55a(self, data, n):
        fr.decode_55a(data, self.temps, n)
