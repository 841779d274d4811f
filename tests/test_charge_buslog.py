"""A charge session on the virtual CAN bus passes tools/check.py (issue 7: "the bus log passes check.py").

The decision core (Vcm, through tests/cross/charge_rig's plant for the DC link and 1DA) sends 1F2, 1D4, 11A, 1DB,
1DC every 10 ms and 50B every 100 ms with their own counters onto a fakes.canbus.VirtualCANBus; the PDM model
sits on the same bus (679, 390, 393) and its frames come back through the codec. Plug-in to the target, a second
session ended by pulling the plug, and a PDM fault: the whole log is checked for CRC / checksum, DLC and counter
violations, and the PDM ids are present with their periods. CPython only (check.py uses python-can).
"""

import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "cross"))

import check  # noqa: E402
from charge_rig import ChargeRig  # noqa: E402
from fakes.canbus import VirtualCANBus, RecordingNode  # noqa: E402
from fakes.clock import VirtualClock  # noqa: E402
from fakes.pdm import PdmModel  # noqa: E402
from leafvcu import vcm as V  # noqa: E402
from leafvcu import faults as F  # noqa: E402
from leafvcu import frames as fr  # noqa: E402


class BusRig(ChargeRig):
    """ChargeRig with the VCM <-> PDM traffic on a virtual bus instead of direct calls."""

    def __init__(self, **kw):
        ChargeRig.__init__(self, **kw)
        self.clock = VirtualClock()
        self.bus = VirtualCANBus(self.clock)
        self.node = RecordingNode(self.bus, name="vcm")
        self.node.on_frame = self._rx
        self.pdm = PdmModel(self.clock, self.bus, pack=self.pdm.pack, strict=False, startup=False)  # (ChargeRig)
        self.n = {}

    def _rx(self, t_us, can_id, data, sender):
        d = self.vcm.pdm
        if can_id == 0x390:
            fr.decode_390(data, d.s390, len(data))
        elif can_id == 0x393:
            fr.decode_393(data, d.s393, len(data))
        elif can_id == 0x679 and fr.decode_679(data, len(data)):
            d.wake()

    def _count(self, can_id):
        k = self.n.get(can_id, 0)
        self.n[can_id] = (k + 1) & 3
        return k

    def _exchange(self, dt):
        v = self.vcm
        if v.frames_enabled:
            for can_id, msg, fill, enc in (
                (0x1D4, self.m1d4, v.fill_1d4, fr.encode_1d4),
                (0x11A, self.m11a, v.fill_11a, fr.encode_11a),
                (0x1DB, self.m1db, v.fill_1db, fr.encode_1db),
                (0x1DC, self.m1dc, v.fill_1dc, fr.encode_1dc),
                (0x1F2, self.m1f2, v.fill_1f2, fr.encode_1f2),
            ):
                b = bytearray(8)
                fill(msg)
                enc(b, msg, self._count(can_id))
                self.node.send(can_id, bytes(b))
            if self.n10 % 10 == 0:
                b = bytearray(8)
                v.fill_50b(self.m50b)
                fr.encode_50b(b, self.m50b)
                self.node.send(0x50B, bytes(b[: self.m50b.dlc]))
            self.n10 += 1
        self.clock.advance_ms(dt)
        self.bus.run_until()
        self.pack = self.bat.voltage
        self.chg_trace.append((self.t, v.mode, v.chg.cmd_w, self.pdm.out_w, self.bat.voltage))


def test_charge_sessions_pass_the_protocol_checker():
    r = BusRig(tchgend=2000, chgvtgt=384)
    r.step(150)
    r.pdm.plug_in()
    r.run_until(lambda v: v.mode == V.CHARGE and v.cphase == V.C_RUN, 10000)
    r.run_until(lambda v: v.mode == V.OFF, 200000)
    assert r.vcm.chg.stop_name() == "target"
    r.step(400)  # frame tail, 50B sleep: the PDM sleeps
    assert not r.pdm.awake
    r.bat.soc = 0.4
    r.pdm.plug_in()
    r.run_until(lambda v: v.mode == V.CHARGE and v.cphase == V.C_RUN, 10000)
    r.step(300)
    r.pdm.unplug()
    r.run_until(lambda v: v.mode == V.OFF, 10000)
    assert r.vcm.chg.stop_name() == "plug"
    r.step(400)
    r.pdm.plug_in()
    r.run_until(lambda v: v.mode == V.CHARGE and v.cphase == V.C_RUN, 10000)
    r.step(200)
    r.pdm.silent = True
    r.run_until(lambda v: v.mode == V.FAULT, 5000)
    assert r.vcm.faults.is_latched(F.PDM_SILENT)
    r.step(400)

    rep = check.check_frames(check.frames_from_bus_log(r.bus.log))
    assert rep.violations == 0, "\n".join(rep.lines("charge"))
    ids = {f[1] for f in r.bus.log}
    assert {0x1F2, 0x1D4, 0x11A, 0x1DB, 0x1DC, 0x50B, 0x390, 0x393, 0x679} <= ids
    assert len([f for f in r.bus.log if f[1] == 0x679]) == 3
    p390 = rep.ids[0x390]
    assert p390.frames > 100
    assert r.bus.frames_failed == 0
