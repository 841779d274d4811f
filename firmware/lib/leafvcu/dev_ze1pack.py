"""What a 2018+ Leaf's battery sends that a ZE1 inverter wants (PROTOCOL.md section 6.1: the 62 kWh pack powered
alone sends 1C2, 1ED every 10 ms and 5EB every 500 ms; the bridge sends them itself), for both battery devices:

* the spoofed battery (dev_spoof, `spoof 1`) always sends them with a ZE1;
* with a Leaf battery on the bus (dev_leafbatt, `spoof 0`), `ze1batt` says who does: 0 the pack (a 62 kWh ZE1
  pack: the controller watches that they come, devices.Heard), 1 the controller (an older pack in a ZE1
  conversion, which sends none of them).

All three pause with the ZE1's extra frames while AC charging (dev_ze1.paused). No source ties 1C2 or 1ED to a
fault code; the bridge's notes tie 5EB (with 3B8) to U1000 and P318E.
"""

from leafvcu import frames as fr
from leafvcu.devices import Device, J10B, LEND
from leafvcu.dev_ze1 import paused
from leafvcu.frames import TRANSITION_NORMAL

# (can_id, period ms): the frames watched when the pack is to send them (devices.Heard)
EXPECT_ZE1 = ((0x1C2, 10), (0x1ED, 10), (0x5EB, 500))


class Ze1Pack(Device):
    KIND = "battery"
    TX_ZE1 = (
        (0x1C2, 1, 10, 0, J10B, LEND, "enc_1c2", 0, 16),
        (0x1ED, 3, 10, 0, J10B, LEND, "enc_1ed", 0, 4),
        (0x5EB, 8, 500, 250, J10B, LEND, "enc_5eb", 0, 0),
    )

    def enc_1c2(self, buf, n):
        if self.vcm.transition == TRANSITION_NORMAL and self.p.ze1pause == 1:   # paused(), in line (10 ms)
            return 0
        return fr.encode_nib(buf, 0x50, n)

    def enc_1ed(self, buf, n):
        if self.vcm.transition == TRANSITION_NORMAL and self.p.ze1pause == 1:   # paused(), in line (10 ms)
            return 0
        return fr.encode_1ed(buf, n)

    def enc_5eb(self, buf, n):
        return 0 if paused(self.p, self.vcm) else fr.copy_frame(buf, fr.FRAME_5EB)
