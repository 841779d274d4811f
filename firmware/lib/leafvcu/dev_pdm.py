"""The Leaf PDM (on-board charger + DC/DC converter) as a device on the bus.

Sends 1F2 (charge power / DC-DC command, nibble checksum, counter from 1) every 10 ms, also while driving: the
DC/DC needs it (PROTOCOL.md section 2). Its row is pinned-or-lent: with the battery spoofed the three pinned
buffers carry 1D4, 11A and 1DB and 1F2 goes in the +5 ms batch; with a Leaf battery on the bus it takes the third
pinned buffer and goes with the +0 ms batch. Receives 390 and 393 (status, nibble checksums) and 679 (the wake-up
when the plug goes in) into the core's charger.Pdm (app.vcm.pdm). Supervision: 390 is the PDM's heartbeat (WATCH:
a good frame, right checksum and counter, within pdmstale), kept in the link the charger reads (pdm.link: fresh,
age; PDM_SILENT while charging, and the 390 fields count only while fresh).
"""

from leafvcu import frames as fr
from leafvcu.devices import Device, J10, PIN_LEND


class LeafPdm(Device):
    KIND = "charger"
    TX = ((0x1F2, 8, 10, 0, J10, PIN_LEND, "enc_1f2", 1, 4),)
    RX = ((0x390, "dec_390"), (0x393, "dec_393"), (0x679, "dec_679"))
    WATCH = ((0x390, "s390", "pdmstale"),)
    RX_FIRST = (0x390,)   # 393 comes 0.24 ms after it (both every 100 ms)

    def __init__(self, app):
        Device.__init__(self, app)
        self.name = "pdm"
        self.pdm = app.vcm.pdm
        self.s390 = self.pdm.s390
        self.link = self.pdm.link
        self.m1f2 = fr.RawChargeCommand()

    def enc_1f2(self, buf, n):
        m = self.m1f2
        self.vcm.fill_1f2(m)
        fr.encode_1f2(buf, m, n)
        return 8

    def dec_390(self, data, n):
        fr.decode_390(data, self.pdm.s390, n)

    def dec_393(self, data, n):
        fr.decode_393(data, self.pdm.s393, n)

    def dec_679(self, data, n):
        if fr.decode_679(data, n):
            self.pdm.wake()
