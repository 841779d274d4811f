"""A charging rig: core_rig's Rig (Vcm, inputs, DC link, 1DA frames) plus the PDM model stepped without a bus.

Not a test module (no test_ prefix). Every 10 ms step: the Rig's plant and 1DA, vcm.step, then the VCM's frames
for the PDM go through the real codec into the model (1F2 and 1D4 every step, 50B every 10th, while
`frames_enabled`), the model advances 10 ms, and whatever it sent (679, 390, 393) is decoded into the Vcm's Pdm
(`vcm.pdm`) the way the shell would. The pack is a fakes.pdm.SimplePack: the Rig's `pack` (what the DC link
reaches through the contactors) follows its terminal voltage, and the PDM's output goes into it.

Switches: `to_pdm` False: the VCM's frames do not reach the PDM; `no_1d4` True: 1D4 does not (ZV issue 91).
Records: `wire` the last encoded 1F2 / 1D4 / 11A / 50B bytes by id; `chg_trace` (t, mode, cmd_w, pdm out_w,
pack V) each step.
"""

from core_rig import Rig
from fakes.pdm import PdmModel, SimplePack
from leafvcu.frames import (
    ChargeCommand,
    TorqueRequest,
    VcmState,
    VcmWake,
    BatteryStatus,
    BatteryLimits,
    encode_1f2,
    encode_1d4,
    encode_11a,
    encode_50b,
    encode_1db,
    encode_1dc,
    decode_390,
    decode_393,
    decode_679,
)


class _Link:
    # The PDM's view of the pack: it sees the DC link (only what the contactors connect) and charges the pack.
    def __init__(self, rig):
        self.rig = rig

    @property
    def voltage(self):
        return self.rig.udc

    def charge(self, watts, dt_s):
        self.rig.bat.charge(watts, dt_s)


class ChargeRig(Rig):
    def __init__(self, t0=1000, soc=0.5, capacity_wh=50.0, pdm_kw=None, **params):
        Rig.__init__(self, t0, **params)
        self.bat = SimplePack(soc=soc, capacity_wh=capacity_wh)
        self.pack = self.bat.voltage
        kw = {} if pdm_kw is None else dict(pdm_kw)
        # The instant, lenient PDM (this rig hands it 1F2 and 1D4 only): the charger's logic is under test here,
        # not the PDM's start-up and checks (test_pdm_model.py, scenarios/charge-pdm-startup.scn).
        kw.setdefault("strict", False)
        kw.setdefault("startup", False)
        self.pdm = PdmModel(pack=_Link(self), **kw)
        self.to_pdm = True
        self.no_1d4 = False
        self.n10 = 0
        self.m1f2 = ChargeCommand()
        self.m1d4 = TorqueRequest()
        self.m11a = VcmState()
        self.m50b = VcmWake()
        self.m1db = BatteryStatus()
        self.m1dc = BatteryLimits()
        self.wire = {}
        self.chg_trace = []

    def step(self, n=1, dt=10):
        for _ in range(n):
            Rig.step(self, 1, dt)
            self._exchange(dt)
        return self.vcm

    def _encode(self):
        v = self.vcm
        k = self.n10
        b = bytearray(8)
        v.fill_1f2(self.m1f2)
        encode_1f2(b, self.m1f2, k)
        self.wire[0x1F2] = bytes(b)
        b = bytearray(8)
        v.fill_1d4(self.m1d4)
        encode_1d4(b, self.m1d4, k)
        self.wire[0x1D4] = bytes(b)
        b = bytearray(8)
        v.fill_11a(self.m11a)
        encode_11a(b, self.m11a, k)
        self.wire[0x11A] = bytes(b)
        b = bytearray(8)
        v.fill_50b(self.m50b)
        encode_50b(b, self.m50b)
        self.wire[0x50B] = bytes(b[: self.m50b.dlc])
        b = bytearray(8)
        v.fill_1db(self.m1db)
        encode_1db(b, self.m1db, k)
        self.wire[0x1DB] = bytes(b)
        b = bytearray(8)
        v.fill_1dc(self.m1dc)
        encode_1dc(b, self.m1dc, k)
        self.wire[0x1DC] = bytes(b)

    def _exchange(self, dt):
        v = self.vcm
        pdm = self.pdm
        if v.frames_enabled:
            self._encode()
            if self.to_pdm:
                pdm.on_frame(None, 0x1F2, self.wire[0x1F2])
                if not self.no_1d4:
                    pdm.on_frame(None, 0x1D4, self.wire[0x1D4])
                if self.n10 % 10 == 0:
                    pdm.on_frame(None, 0x50B, self.wire[0x50B])
            self.n10 += 1
        pdm.step(dt)
        self.pack = self.bat.voltage
        self.deliver()
        self.chg_trace.append((self.t, v.mode, v.chg.cmd_w, pdm.out_w, self.bat.voltage))

    def deliver(self):
        """Hands what the PDM sent to the Vcm's Pdm, as the shell's receive task would."""
        d = self.vcm.pdm
        for can_id, data in self.pdm.outbox:
            if can_id == 0x390:
                decode_390(data, d.s390, len(data))
            elif can_id == 0x393:
                decode_393(data, d.s393, len(data))
            elif can_id == 0x679 and decode_679(data, len(data)):
                d.wake()
        del self.pdm.outbox[:]

    def to_charging(self, limit_ms=20000):
        """Plug in (679), wait for the charging phase; returns the vcm."""
        from leafvcu import vcm as V

        self.pdm.plug_in()
        self.run_until(lambda v: v.mode == V.CHARGE and v.cphase == V.C_RUN, limit_ms)
        return self.vcm
