"""The 2018+ Leaf ZE1 inverter (EM57, 110 kW; 160 kW in the e+) as a device on the bus (PROTOCOL.md section 6).

The core frames are the AZE0 set (dev_leafinv: 11A, 1D4, 50B; 1DA, 55A). On top, what a ZE1 car's VCM sends
and a ZE1 inverter misses without (it logs fault codes, P§6.1), on the controller's own timers (a stand-alone
VCU has no AZE0 VCM to clock them, as the bridge does): 10 ms 108 and 1CB, 40 ms 355, 100 ms 3B8, 4B9, 5C5, 625,
500 ms 5EC, 1 s 5CD, and at every wake-up 605, 607, 603 before the first 50B (the real car's order; the bridge
sends them after 603). The battery's share (1C2, 1ED, 5EB: a 62 kWh pack sends them) goes with the spoofed
battery (dev_spoof). Where the bridge (DU) and real ZE1 cars disagree (1CB, 355, 3B8, 5C5, 5CD) the contents
follow the real cars unless ze1src = 1 (the bridge's, used in cars since 2022).

AC-charge pause (P§6.3; decided): while a charge session asks the PDM for normal charging (the request the bridge
pauses on, 1F2 byte 2 = 0x20, taken here from the controller's own decision instead of an exact byte match) and
ze1pause = 1, the extra frames stop except 4B9, as the bridge does for 62 kWh Leafs whose charging it otherwise
interrupts (no ZE1 charging recording confirms it: a setting, default on).

Received: 1DA (as the AZE0's; byte 6 = 0x08 is what a ZE1 in a car always sends: the fault mask is inverrz) and
0x120, the ZE1's own heartbeat (counter 0..15, CRC-8), watched with 1DA (WATCH): the link's age is the older of
the two, and either going stale (tstale) makes the link stale, which the core takes as an inverter link loss.
Torque: the controller asks for the torque it wants (1D4, limit bytes lim1d4h / lim1d4l up to the e+ VCM's 0x88 =
340 Nm): no multipliers.
"""

from leafvcu import frames as fr
from leafvcu.dev_leafinv import LeafInverter
from leafvcu.devices import J10B, LEND, SEND
from leafvcu.frames import TRANSITION_NORMAL, VCM_ACTIVE, VCM_READY

_WAKING_3B8_MS = 400   # a real car's first 0.4 s of 3B8 (byte 1 low nibble F, byte 2 F0)
_STEP_3B8 = 3          # a real car steps 3B8 byte 2 every 2-4 frames (about 0.3 s); the bridge every frame


def paused(p, vcm):
    """The AC-charge pause of the ZE1's extra frames (4B9 excepted): ze1pause and a normal-charge request (the
    core asks for it only in a charge session). The 10 ms rows ask it in line (the same two tests, no call)."""
    return vcm.transition == TRANSITION_NORMAL and p.ze1pause == 1


class Ze1Inverter(LeafInverter):
    TX = LeafInverter.TX + (
        (0x108, 3, 10, 0, J10B, LEND, "enc_108", 0, 16),
        (0x1CB, 7, 10, 0, J10B, LEND, "enc_1cb", 0, 4),
        (0x355, 8, 40, 10, J10B, LEND, "enc_355", 0, 0),
        (0x3B8, 5, 100, 10, J10B, LEND, "enc_3b8", 0, 0),
        (0x4B9, 1, 100, 30, J10B, LEND, "enc_4b9", 0, 16),
        (0x5C5, 8, 100, 50, J10B, LEND, "enc_5c5", 0, 0),
        (0x625, 6, 100, 70, J10B, LEND, "enc_625", 0, 0),
        (0x5EC, 1, 500, 90, J10B, LEND, "enc_zero", 0, 0),
        (0x5CD, 5, 1000, 190, J10B, LEND, "enc_5cd", 0, 0),
        (0x605, 1, 0, 0, J10B, SEND, "enc_zero", 0, 0),
        (0x607, 1, 0, 0, J10B, SEND, "enc_zero", 0, 0),
        (0x603, 1, 0, 0, J10B, SEND, "enc_zero", 0, 0),
    )
    RX = LeafInverter.RX + ((0x120, "dec_120"),)
    WATCH = LeafInverter.WATCH + ((0x120, "hb", "tstale"),)

    def __init__(self, app):
        LeafInverter.__init__(self, app)
        self.name = "ze1"
        self.hb = fr.Heartbeat()
        self.link.mask = self.p.inverrz
        self.alt = False    # 3B8 byte 1 bit 5
        self.k3b8 = 0       # 3B8 frames since its byte 2 last stepped
        self.s3b8 = 0       # 3B8 byte 2
        self.x5cd = -1      # 5CD byte 1 (-1: the first frame of this wake-up)
        self.h1cb = None    # the 1CB head (bytes 0..4) in b1cb, the row's buffer, and its CRC-8 state c1cb
        self.b1cb = None
        self.c1cb = 0
        self.f1cb = 0       # 1CB byte 5's flags (bits 7..2)

    def state(self):
        return "ze1"

    def woke(self):
        self.x5cd = -1
        self.k3b8 = 0

    def _off(self):
        return paused(self.p, self.vcm)

    # --- sent (each returns the DLC, 0 while paused)
    def enc_108(self, buf, n):
        if self.vcm.transition == TRANSITION_NORMAL and self.p.ze1pause == 1:   # paused(), in line
            return 0
        return fr.encode_108(buf, n)

    def enc_1cb(self, buf, n):
        if self.vcm.transition == TRANSITION_NORMAL and self.p.ze1pause == 1:   # paused(), in line
            return 0
        head = self._head_1cb()
        if head is not self.h1cb or buf is not self.b1cb:
            self._put_1cb(buf, head)
        n = self.f1cb | (n & 3)
        buf[5] = n
        buf[6] = fr.crc8_more(self.c1cb, n)
        return 7

    def _put_1cb(self, buf, head):
        # The head changes a few times per wake-up: copied then, with its CRC-8 state (fr.encode_1cb's frame).
        self.c1cb = fr.crc8(buf, fr.copy_frame(buf, head))
        self.h1cb = head
        self.b1cb = buf

    def _head_1cb(self):
        # 1CB bytes 0..4 now, and byte 5's flags into f1cb: the bridge's, or a real car's waking / running
        if self.p.ze1src:
            self.f1cb = 0x88
            return fr.FRAME_1CB_BRIDGE
        w = self.vcm.wake
        if w == VCM_ACTIVE or w == VCM_READY:
            self.f1cb = 0
            return fr.FRAME_1CB_RUN
        self.f1cb = 0x80
        return fr.FRAME_1CB_WAKE

    def enc_355(self, buf, n):
        if self._off():
            return 0
        return fr.copy_frame(buf, fr.FRAME_355_BRIDGE if self.p.ze1src else fr.FRAME_355_REAL)

    def enc_3b8(self, buf, n):
        if self._off():
            return 0
        bridge = self.p.ze1src
        self._step_3b8(bridge)
        return fr.encode_3b8(buf, self.alt, self.s3b8, not bridge and self.app.elapsed() < _WAKING_3B8_MS)

    def _step_3b8(self, bridge):
        k = self.k3b8 + 1
        if bridge or k >= _STEP_3B8:
            k = 0
            self.s3b8 = self.s3b8 + 1 if self.s3b8 < 14 else 0
        self.k3b8 = k
        self.alt = not self.alt

    def enc_4b9(self, buf, n):
        return fr.encode_nib(buf, 0x40, n)   # never paused (the bridge sends it before its pause test)

    def enc_5c5(self, buf, n):
        if self._off():
            return 0
        return fr.copy_frame(buf, fr.FRAME_5C5_BRIDGE if self.p.ze1src else fr.FRAME_5C5_REAL)

    def enc_625(self, buf, n):
        return 0 if self._off() else fr.copy_frame(buf, fr.FRAME_625)

    def enc_zero(self, buf, n):
        # 5EC, 605, 607, 603: one byte 00 (5EC pauses with the others)
        if self._off():
            return 0
        buf[0] = 0
        return 1

    def enc_5cd(self, buf, n):
        if self._off():
            return 0
        bridge = self.p.ze1src
        x = self.x5cd
        if x < 0:
            x = 0 if bridge else 3
        elif bridge:
            x = x + 4 if x + 4 <= 238 else 2
        else:
            x = (x + 4) & 0xFF
        self.x5cd = x
        fr.copy_frame(buf, fr.FRAME_5CD_BRIDGE if bridge else fr.FRAME_5CD_REAL)
        buf[1] = x
        return 5

    # --- received
    def dec_1da(self, data, n):
        fr.decode_1da(data, self.inv, n)
        self.link.mask = self.p.inverrz   # follows a change of the parameter

    def dec_120(self, data, n):
        fr.decode_120(data, self.hb, n)
