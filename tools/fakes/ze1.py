"""A simulated ZE1 (2018+, EM57) Leaf inverter: the AZE0 model (fakes/inverter.py) with what a ZE1 does
differently, as far as the evidence goes (PROTOCOL.md section 6; "L-INV" = ze1-inverter-alone_cold-start.log).

    inv = Ze1Inverter(clock, bus, kw=110)        or kw=160 (the e+ stack)
    inv.dtcs                                     {code: (first time us, frame id)} of missing keep-alives

* 0x120 (DLC 4, `00 00 n CRC`, counter 0..15 from power-up) with every 1DA, from the first one (P§6.5: real
  e+ 1DA and 120 start together; L-INV 4146 frames, every CRC and counter step good).
* 1DA byte 6 = 0x08 in every frame while a VCM talks (every ZE1-in-a-car frame of P§6.5); alone the AZE0 model's
  bits (0x60 then 0x80: L-INV shows E0 / 60).
* Torque and power: 110 kW and 320 Nm (the 110 kW VCM's limit is unknown; 0x80 = 320 Nm is P§6.4's guess), or
  160 kW and 340 Nm (the e+ VCM's 0x88; a real e+ reported 334.5 Nm).
* Keep-alives (P§6.2's DTC notes from the bridge, DU): 4B9 (P3197, P318E), 625 (U215B), 5C5 (U214E, U1000),
  3B8 and 5EB (U1000, P318E). One missing for KEEPALIVE_US while a VCM talks (and the AC-charge pause is not on:
  1F2 asks for normal charging) is a violation `keepalive` and a DTC in `dtcs`, as the real inverter "logs fault
  codes". evidence="notes" (default) checks only those five; evidence="all" also 108, 1CB, 355, 1C2, 1ED, 5EC,
  5CD, which no source ties to a DTC. What a DTC does to the real inverter's torque is not known: the model
  goes on driving and only records it.
"""

from fakes import codec as fr
from fakes.inverter import Inverter

KEEPALIVE_US = 1000000   # choice: ten 100 ms periods (no source gives the inverter's timeout)
# id -> DTC codes the bridge's notes name for it
NOTED = {0x4B9: "P3197,P318E", 0x625: "U215B", 0x5C5: "U214E,U1000", 0x3B8: "U1000,P318E", 0x5EB: "U1000,P318E"}
UNNOTED = (0x108, 0x1CB, 0x355, 0x1C2, 0x1ED, 0x5EC, 0x5CD)
ERR_ZE1_OK = 0x08
_ID_120 = 0x120
_ID_1F2 = 0x1F2


class Ze1Inverter(Inverter):
    def __init__(self, clock, bus=None, kw=110, evidence="notes", **kwargs):
        Inverter.__init__(self, clock, bus, **kwargs)
        self.kw = kw
        self.t_max_nm = 340.0 if kw >= 160 else 320.0
        self.p_max_w = kw * 1000.0
        self.violations["keepalive"] = 0
        self.dtcs = {}
        self.ids = tuple(NOTED) + (UNNOTED if evidence == "all" else ())
        self.seen = {}
        self.charging = False
        self._armed = -1
        self._b120 = bytearray(4)
        self._n120 = 0

    def on_frame(self, t_us, can_id, data, sender):
        Inverter.on_frame(self, t_us, can_id, data, sender)
        if self.powered:
            self.seen[can_id] = t_us
            if can_id == _ID_1F2 and len(data) == 8:
                self.charging = (data[2] >> 5) & 3 == fr.TRANSITION_NORMAL

    def _tick(self, t):
        Inverter._tick(self, t)
        if self._k > 0 and "mute" not in self.injected and self.bus is not None:
            b = self._b120
            b[0] = 0
            b[1] = 0
            b[2] = self._n120
            b[3] = fr.crc8(b, 3)
            self._n120 = (self._n120 + 1) & 15
            self.bus.send(self, _ID_120, bytes(b))
        self._keepalives(t)

    def _supervise(self, t):
        Inverter._supervise(self, t)
        if self._heard and self.errors == 0:
            self.errors = ERR_ZE1_OK

    def _keepalives(self, t):
        # Armed while a VCM talks in a session (from the first tick of it), not during the AC-charge pause.
        if not self._heard or not self._session or self.charging:
            self._armed = -1
            return
        if self._armed < 0:
            self._armed = t
        noted = [v[1] for v in self.dtcs.values()]
        for i in self.ids:
            last = self.seen.get(i, self._armed)
            if last < self._armed:
                last = self._armed
            if t - last > KEEPALIVE_US and i not in noted:
                self.dtcs[NOTED.get(i, "none:%03X" % i)] = (t, i)
                self._violate(t, "keepalive")
