"""The flight recorder in the simulator: a fault scenario leaves a recording on the simulated board's flash, and
`sim run SCENARIO --recorder DIR` writes it out as `deploy.py recorder pull` would (candump -L, CSV, PNG). The
recording is compared frame for frame with the simulator's own bus log over the same window."""

import csv
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))

import check  # noqa: E402
import recording  # noqa: E402
import sim  # noqa: E402

from leafvcu import faults as F  # noqa: E402
from leafvcu import frames as fr  # noqa: E402
from leafvcu import recorder as R  # noqa: E402

SCN = os.path.join(REPO, "scenarios", "fault-can-loss.scn")
TX_IDS = set(i for i, info in fr.ID_INFO.items() if info[fr.I_DIR] == "tx")
TX_LATENCY_US = 2000   # loaded into a TX buffer -> end of the frame on the bus (queueing behind others + frame time)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("rec")
    lines = []
    code, world = sim.run_scenario(SCN, quiet=False, echo=lines.append, recorder=str(out))
    assert code == 0, "\n".join(lines)
    return world, str(out), lines


def test_a_fault_scenario_leaves_one_recording_on_the_simulated_flash(run):
    world, out, lines = run
    assert sorted(f for f in os.listdir(world.flash_dir) if f.startswith("rec")) == ["rec0.bin"]
    recs = world.recordings()
    assert len(recs) == 1
    rec = recs[0]
    assert (rec.seq, rec.code, rec.fault) == (1, F.CAN_LOSS, "inverter_can_lost")
    # the window: at least 8 s before the fault (the ring is about 10.5 s of this traffic), POST_MS after it
    assert (rec.fault_us - rec.start_us) / 1e6 > 8.0
    assert abs((rec.end_us - rec.fault_us) / 1e3 - R.POST_MS) <= 20
    assert len(rec.frames) + len(rec.samples) == R.RECORDS
    names = sorted(os.listdir(out))
    assert names == ["rec0001-inverter_can_lost.csv", "rec0001-inverter_can_lost.log",
                     "rec0001-inverter_can_lost.png"]
    assert any(ln.startswith("flight recordings: ") and "rec0001-inverter_can_lost.log" in ln for ln in lines)


def test_the_recording_is_the_bus_log_frame_for_frame_over_its_window(run):
    world, out, _ = run
    rec = world.recordings()[0]
    off = rec.offset_us
    mine = [(t + off, can_id, data, tx) for t, can_id, data, tx in rec.frames]
    t0 = mine[0][0]
    t1 = mine[-1][0]
    # what the controller's MCP2515 sees: every frame it sends, and the frames its acceptance filters admit
    admitted = set(world.app.rx_ids)
    bus = [(t, can_id, bytes(d)) for t, can_id, d in world.bus.log
           if (can_id in TX_IDS or can_id in admitted) and t0 <= t <= t1 + TX_LATENCY_US]
    ids = sorted(set(c for _, c, _ in bus) | set(c for _, c, _, _ in mine))
    assert {0x1D4, 0x11A, 0x1DB, 0x1DC, 0x1F2, 0x50B, 0x55B, 0x5BC, 0x1DA, 0x55A} <= set(ids)
    for can_id in ids:
        a = [(t, d, tx) for t, c, d, tx in mine if c == can_id]
        b = [(t, d) for t, c, d in bus if c == can_id]
        # a frame the controller loaded just before the window's end is on the bus after it; one received is
        # read out in the same instant (the simulator's INT task runs at once)
        if a and a[0][2]:
            b = [x for x in b if x[0] - a[0][0] >= 0]
        assert len(a) == len(b), "%03X: %d recorded, %d on the bus" % (can_id, len(a), len(b))
        for (ta, da, tx), (tb, db) in zip(a, b):
            assert da == db, "%03X at %.6f s: recorded %s, bus %s" % (can_id, ta / 1e6, da.hex(), db.hex())
            assert tx == (can_id in TX_IDS)
            lat = tb - ta
            assert (0 <= lat <= TX_LATENCY_US) if tx else lat == 0, "%03X at %.6f s: %d us" % (can_id, ta / 1e6, lat)
    # the fault's 1DA gap is in it: no 1DA in the last tstale before the fault, and the torque-0 1D4s after it
    p = world.app.params
    tf = rec.fault_us + off
    assert not [t for t, c, _, _ in mine if c == 0x1DA and tf - p.tstale * 1000 + 20000 < t <= tf]
    assert [t for t, c, _, _ in mine if c == 0x1DA and t < tf - p.tstale * 1000]
    after = [d for t, c, d, _ in mine if c == 0x1D4 and t > rec.fault_us + off]
    assert len(after) > 150 and all((d[2], d[3] & 0xF0) == (0, 0) for d in after)


def test_the_written_log_reads_in_python_can_and_the_checker_and_the_csv_has_every_sample(run):
    world, out, _ = run
    import can

    rec = world.recordings()[0]
    base = os.path.join(out, "rec0001-inverter_can_lost")
    msgs = list(can.LogReader(base + ".log"))
    assert len(msgs) == len(rec.frames)
    for m, (t, can_id, data, _) in zip(msgs, rec.frames):
        assert (m.arbitration_id, bytes(m.data)) == (can_id, data)
        assert abs(m.timestamp - (sim.LOG_EPOCH + (t + rec.offset_us) / 1e6)) < 1e-6
    report = check.check_frames(check.read_log(base + ".log"))
    assert report.frames == len(rec.frames)
    assert not [p for p in report.problems if p[2] in TX_IDS], "\n".join(report.lines("recording"))
    with open(base + ".csv") as f:
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["time_s", "mode", "relay_main"]
    assert len(rows) - 1 == len(rec.samples)
    modes = [r[1] for r in rows[1:]]
    changes = [m for k, m in enumerate(modes) if k == 0 or m != modes[k - 1]]
    assert changes[-2:] == ["drive", "fault"], changes
    assert any(r[2] == "1" for r in rows[1:]) and rows[-1][2:5] == ["0", "0", "0"]
    with open(base + ".png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_the_recording_tool_refuses_a_damaged_file(tmp_path, run):
    world, _, _ = run
    with open(os.path.join(world.flash_dir, "rec0.bin"), "rb") as f:
        data = bytearray(f.read())
    data[1000] ^= 1
    p = tmp_path / "bad.bin"
    p.write_bytes(bytes(data))
    assert recording.main([str(p), str(tmp_path)]) == 1
    p.write_bytes(bytes(data[:5000]))
    with pytest.raises(recording.BadRecording):
        recording.read(str(p))


def test_a_window_across_the_wrap_of_ticks_us_reads_back_on_one_time_axis(monkeypatch):
    # ticks_us() wraps every 2**30 us (17.9 min): a car whose fault comes 1.5 s after the wrap. The recording's
    # times unwrap onto one axis (the newest keeps its tick), and every frame is on the bus at that time.
    monkeypatch.syspath_prepend(os.path.join(REPO, "tests", "cross"))
    import app_rig
    import test_recorder as TR

    clock = app_rig.VirtualClock
    monkeypatch.setattr(app_rig, "VirtualClock", lambda: clock(start_us=recording.PERIOD - 1500000))
    rig, rec = TR.rig_with(2000, 500)
    TR.ready(rig).talk = False
    rig.run_ms(3000)
    r = recording.Recording(bytes(rig.fs.disk.files["/rec0.bin"]))
    assert r.start_us < 0 < r.fault_us < r.end_us  # the window spans the wrap
    ts = [s[0] for s in r.samples]
    assert all(b - a == 10000 for a, b in zip(ts, ts[1:]))
    bus = {}
    for t, can_id, data in rig.bus.log:
        bus.setdefault((can_id, bytes(data)), []).append(t)
    for t, can_id, data, tx in r.frames:
        t += recording.PERIOD  # the bus log's clock does not wrap
        assert any(0 <= (b - t if tx else t - b) <= 2000 for b in bus[(can_id, data)]), (hex(can_id), t)
