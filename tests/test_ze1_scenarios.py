"""The shipped ZE1 scenarios (scenarios/ze1-*.scn) on the simulator, judged at the wire: each runs clean, its bus
log passes tools/check.py (CRC, counters, DLCs, periods of every ZE1 frame), the simulated ZE1's 0x120 follows
the rules of the shared ZE1 recording, the AC-charge pause leaves only 4B9 of the extra frames, and the 160 kW
stack gives more torque than an AZE0 can (CPython: the simulator and check.py)."""

import os

import pytest

import check
import sim
from leafvcu import frames as fr

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOGS = os.path.normpath(os.path.join(REPO, "..", "shared", "leaf-can", "logs"))
ZE1_LOG = os.path.join(LOGS, "ze1-inverter-alone_cold-start.log")
EXTRA = (0x108, 0x1CB, 0x355, 0x3B8, 0x4B9, 0x5C5, 0x625, 0x5EC, 0x5CD)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("ze1")
    out = {}
    for name in ("ze1-demo-drive", "ze1-160kw", "ze1-charge", "ze1-keepalive-missing"):
        log = str(d / (name + ".log"))
        said = []
        code, world = sim.run_scenario(os.path.join(REPO, "scenarios", name + ".scn"), log, None, False,
                                       echo=said.append)
        out[name] = (code, world, check.read_log(log))
        out[name + ":said"] = "\n".join(said)
    return out


def test_every_ze1_scenario_holds_and_its_bus_log_checks_clean(runs):
    for name, (code, world, frames) in [r for r in runs.items() if ":" not in r[0]]:
        assert code == 0, name
        rep = check.check_frames(frames)
        assert rep.violations == 0, (name, rep.lines(name))
        for can_id in (0x108, 0x1CB, 0x120, 0x4B9):
            r = rep.ids[can_id]
            assert r.frames > 0 and r.bad_crc == 0 and r.counter_faults == 0, (name, hex(can_id))
            # (a key cycle's sleep is a gap check.py counts as lost frames when the counter goes on across it)
            assert r.lost == 0 or name == "ze1-keepalive-missing", (name, hex(can_id))


def test_periods_of_the_extra_frames(runs):
    rep = check.check_frames(runs["ze1-demo-drive"][2])
    for can_id in EXTRA + (0x1C2, 0x5EB):
        r = rep.ids[can_id]
        assert abs(r.period - fr.ID_INFO[can_id][fr.I_PERIOD] / 1000.0) < 0.002, (hex(can_id), r.period)


def test_the_simulated_ze1_heartbeat_is_the_recordings(runs):
    # The shared recording (a ZE1 alone): 0x120 DLC 4, bytes 0..1 zero, counter +1 modulo 16, CRC-8 over 0..2.
    def rules(frames):
        hb = [f[2] for f in frames if f[1] == 0x120]
        assert hb and all(len(d) == 4 and d[0] == 0 and d[1] == 0 and fr.crc8(d, 3) == d[3] for d in hb)
        steps = set((b[2] - a[2]) & 15 for a, b in zip(hb, hb[1:]))
        return steps

    assert rules(check.read_log(ZE1_LOG)) == {1}
    assert rules(runs["ze1-demo-drive"][2]) == {1}
    # 1DA byte 6 of a ZE1 in a car: 0x08 and the counter, in every running frame (P6.5)
    b6 = set(f[2][6] & 0xFC for f in runs["ze1-demo-drive"][2] if f[1] == 0x1DA and f[0] - 1.7e9 > 1.0)
    assert b6 == {0x08}


def test_ac_charge_pause_leaves_4b9_only(runs):
    frames = runs["ze1-charge"][2]
    normal = [f[0] for f in frames if f[1] == 0x1F2 and (f[2][2] >> 5) & 3 == fr.TRANSITION_NORMAL]
    assert normal and normal[-1] - normal[0] > 20
    inside = [f[1] for f in frames if normal[0] + 0.05 < f[0] < normal[-1] - 0.05]
    assert set(inside) & set(EXTRA + (0x1C2, 0x1ED, 0x5EB)) == {0x4B9}
    # (the session asks for normal charging from its wake-up on); once it asks to stop, they run again
    after = set(f[1] for f in frames if f[0] > normal[-1])
    assert {0x108, 0x1CB, 0x4B9} <= after


def test_160kw_stack_torque(runs):
    _, world, frames = runs["ze1-160kw"]
    req = [fr.TorqueRequest() for _ in range(1)][0]
    top = 0
    for f in frames:
        if f[1] == 0x1D4 and fr.decode_1d4(f[2], req, 8):
            top = max(top, req.torque_raw)
            assert f[2][0] == 0x88   # the e+ VCM's limit byte
    assert top * 0.25 >= 330


def test_missing_keepalive_is_recorded_and_named(runs):
    # An AZE0-era Leaf battery in a ZE1 conversion: nobody sends 1C2 / 1ED / 5EB until ze1batt 1 (from 7 s)
    _, world, frames = runs["ze1-keepalive-missing"]
    said = runs["ze1-keepalive-missing:said"]
    t0 = 1.7e9   # the logs' time base (sim.py)
    ze1pack = [f for f in frames if f[1] in (0x1C2, 0x1ED, 0x5EB)]
    assert ze1pack and min(f[0] - t0 for f in ze1pack) >= 6.5   # `set ze1batt 1` at 6.5 s
    # the simulated ZE1 records the fault code the bridge's notes give for 5EB, once
    assert list(world.plant.inv.dtcs.values())[0][1] == 0x5EB and len(world.plant.inv.dtcs) == 1
    # the controller names the three in `status` and notes each in the fault log, by id
    lines = [ln for ln in said.splitlines() if "> status:" in ln]
    assert lines[0].endswith(" missing=1C2,1ED,5EB") and "missing" not in lines[1], lines
    for can_id in ("1C2", "1ED", "5EB"):
        assert "frame_missing (27) id=%s" % can_id in said, can_id
    # ... and sends them itself after the key cycle: 1C2 / 1ED every 10 ms, 5EB every 500 ms, with their rules
    rep = check.check_frames([f for f in frames if f[0] - t0 > 7.5])
    for can_id, period in ((0x1C2, 0.010), (0x1ED, 0.010), (0x5EB, 0.5)):
        r = rep.ids[can_id]
        assert abs(r.period - period) < 0.002 and r.bad_crc == 0 and r.counter_faults == 0, hex(can_id)
