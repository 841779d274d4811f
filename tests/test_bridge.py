"""The hardware bridge (tools/bridge.py) on python-can's `virtual` interface: the simulated inverter answers a
VCM on a python-can bus as it does on the virtual one, follows the board's 1D4 for its DC link, and reports the
protocol violations it sees. Time is stepped (Bridge.step(wall_s)), so the test does not depend on the host's
speed."""

import os
import sys

import can
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))

import bridge as br  # noqa: E402
from leafvcu import frames as fr  # noqa: E402


class Vcm:
    """A minimal VCM on the board's side of the bus: 11A + 1D4 every 10 ms, 50B every 100 ms."""

    def __init__(self, bus):
        self.bus = bus
        self.n = 0
        self.m11a = fr.VcmState()
        self.m1d4 = fr.TorqueRequest()
        self.m50b = fr.VcmWake()
        self.b = bytearray(8)
        self.bad_crc = False

    def send_10ms(self, precharge, relay, k):
        self.m11a.gear = fr.GEAR_P
        fr.encode_11a(self.b, self.m11a, self.n)
        self.bus.send(can.Message(arbitration_id=0x11A, data=bytes(self.b), is_extended_id=False))
        m = self.m1d4
        m.precharge = precharge
        m.relay = relay
        fr.encode_1d4(self.b, m, self.n)
        if self.bad_crc:
            self.b[7] ^= 0xFF
        self.bus.send(can.Message(arbitration_id=0x1D4, data=bytes(self.b), is_extended_id=False))
        self.n = (self.n + 1) & 3
        if k % 10 == 0:
            self.m50b.set(fr.VCM_WAKE)
            fr.encode_50b(self.b, self.m50b)
            self.bus.send(can.Message(arbitration_id=0x50B, data=bytes(self.b[:7]), is_extended_id=False))


def _pair(name):
    a = can.Bus(interface="virtual", channel=name)
    b = can.Bus(interface="virtual", channel=name)
    return a, b


def _drive(bridge, vcm, board_bus, steps, phase):
    got = []
    k = 0
    while k < steps:
        precharge, relay = phase(k)
        vcm.send_10ms(precharge, relay, k)
        bridge.step((k + 1) * 0.01)
        msg = board_bus.recv(0.0)
        while msg is not None:
            got.append(msg)
            msg = board_bus.recv(0.0)
        k += 1
    return got


def test_inverter_answers_and_follows_the_board_precharge():
    side_a, side_b = _pair("bench1")
    try:
        bridge = br.Bridge(side_a)
        vcm = Vcm(side_b)

        def phase(k):
            if k < 100:
                return fr.PRECHARGE_NOT_STARTED, False
            if k < 300:
                return fr.PRECHARGING, True
            return fr.PRECHARGED, True

        got = _drive(bridge, vcm, side_b, 400, phase)
        frames_1da = [bytes(m.data) for m in got if m.arbitration_id == 0x1DA]
        assert len(frames_1da) >= 350
        assert all(fr.crc_ok(d) for d in frames_1da)
        st = fr.InverterStatus()
        volts = []
        for d in frames_1da:
            if fr.decode_1da(d, st) and st.voltage_valid:
                volts.append(st.dc_voltage)
        assert volts[0] < 20             # DC link empty before the board closes anything
        assert max(volts) >= 340         # precharged through the mirrored relays
        assert bridge.plant.inv.violation_count() == 0
    finally:
        side_a.shutdown()
        side_b.shutdown()


def test_violations_seen_through_the_bridge():
    side_a, side_b = _pair("bench2")
    try:
        bridge = br.Bridge(side_a)
        vcm = Vcm(side_b)
        vcm.bad_crc = True
        _drive(bridge, vcm, side_b, 50, lambda k: (fr.PRECHARGE_NOT_STARTED, False))
        names = [v[1] for v in bridge.new_violations()]
        assert "crc_1d4" in names
    finally:
        side_a.shutdown()
        side_b.shutdown()


def test_missing_adapter_is_a_clear_message(capsys):
    import io

    out = io.StringIO()
    code = br.run("socketcan", "nosuchcan0", 500000, seconds=0.1, out=out)
    assert code == 2
    assert "cannot open socketcan channel nosuchcan0" in out.getvalue()
