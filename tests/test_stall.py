"""What the firmware does after its own pause (issue 22: a garbage collection, a flash write), at the wire: the real
App in the simulator (tools/sim.World), frozen by World.stall while the bus, the MCP2515, the car and the inverter
go on. No burst of stale frames, counters that go on, frames back on their grid, and the 1DA timeout that judges
the inverter, not the controller's own pause (link.Links.paused tells the devices' watches: the age
counts only the time the firmware listened; a ZE1's 0x120 too)."""

import io
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))

import scenario as scn  # noqa: E402
import sim  # noqa: E402
from leafvcu import faults as F  # noqa: E402
from leafvcu import vcm as V  # noqa: E402

S = 1000000
# The controller's periodic frames: id -> (period us, byte and mask of its 2-bit counter or None)
OURS = {0x11A: (10000, (6, 3)), 0x1D4: (10000, (4, 0xC0)), 0x1DB: (10000, (6, 3)), 0x1F2: (10000, (6, 3)),
        0x1DC: (10000, (6, 3)), 0x50B: (100000, None), 0x55B: (100000, (6, 3))}


def _driving(world, pedal=30):
    c = world.plant.controls
    world.run_until(S // 2)
    c.ignition(True)
    world.run_until(1 * S)
    c.direction("forward")
    world.run_until(4 * S)
    c.pedal(pedal, 1.0, now_us=world.clock.now_us)
    world.run_until(7 * S)
    assert world.app.vcm.mode == V.DRIVE


def _frames(world, can_id, t0=0, t1=None):
    return [(t, bytes(d)) for t, i, d in world.bus.log if i == can_id and t >= t0 and (t1 is None or t < t1)]


def _counter(data, where):
    byte, mask = where
    v = data[byte] & mask
    return v >> 6 if mask == 0xC0 else v


def test_after_a_stall_no_burst_counters_go_on_and_the_grid_is_the_same():
    w = sim.World()
    _driving(w)
    t_stall = w.clock.now_us + 3000
    w.run_until(t_stall)
    w.stall(500)
    w.run_until(t_stall + S)
    end = t_stall + 500000
    for can_id, (period, ctr) in OURS.items():
        fs = _frames(w, can_id, t_stall - 10 * period, end + 10 * period)
        before = [f for f in fs if f[0] < t_stall]
        after = [f for f in fs if f[0] >= t_stall]
        assert before and after, hex(can_id)
        # Nothing of ours while frozen; the first frame after it within one period of the end.
        assert after[0][0] >= end, hex(can_id)
        assert after[0][0] < end + period, hex(can_id)
        # No burst: never two frames of one id closer than its period (the bus may shift one by a frame time).
        gaps = [b[0] - a[0] for a, b in zip(fs, fs[1:])]
        assert min(gaps) >= period - 600, (hex(can_id), min(gaps))
        # The same grid: the phase in the period before and after the pause (within a few frame times).
        ph0 = before[-1][0] % period
        ph1 = after[0][0] % period
        assert abs(ph1 - ph0) < 600, (hex(can_id), ph0, ph1)
        # Counters go on: the first frame after the pause carries the last one's counter + 1.
        if ctr is not None:
            assert _counter(after[0][1], ctr) == (_counter(before[-1][1], ctr) + 1) & 3, hex(can_id)
    t10 = w.app.t10
    assert t10.pauses == 1 and t10.worst_pause_us >= 490000
    assert not w.app.faults.latched
    assert w.app.vcm.mode == V.DRIVE


def test_a_pause_while_charging_is_no_inverter_or_pdm_loss():
    # A 400 ms pause in a charge: longer than tstale (1DA) and than the inverter's own receive timeout; the
    # inverter and the PDM talked all along, so the firmware latches nothing and the charge goes on.
    w = sim.World()
    w.type("set chgvtgt 395")
    w.run_until(S)
    w.plant.plug(True)
    w.run_until(8 * S)
    assert w.app.vcm.mode == V.CHARGE
    t0 = w.clock.now_us
    w.stall(400)  # (the PDM model's own 1D4 / 1F2 timeout is 500 ms: then it stays in fail-safe)
    w.run_until(t0 + 400000 + 2 * S)
    assert not w.app.faults.latched, w.app.faults.codes()
    assert w.app.vcm.mode == V.CHARGE
    assert w.plant.pdm.out_w > 0 and not w.plant.pdm.failsafe


def test_an_inverter_that_falls_silent_during_a_pause_is_caught_tstale_after_it():
    w = sim.World()
    _driving(w)
    t0 = w.clock.now_us
    w.stall(500)
    w.run_until(t0 + 100000)
    w.plant.inject("can_loss")  # silent from 100 ms into the pause
    w.run_until(t0 + 500000)
    assert not w.app.faults.latched
    # The firmware's buffers held two 1DA from the pause's start: it heard the inverter at the pause's start,
    # then listens tstale (100 ms) and latches.
    w.run_until(t0 + 500000 + 80000)
    assert not w.app.faults.is_latched(F.CAN_LOSS)
    w.run_until(t0 + 500000 + 140000)
    assert w.app.faults.is_latched(F.CAN_LOSS)


def test_an_inverter_silent_before_the_pause_is_caught_after_only_the_rest_of_tstale():
    # Silent 60 ms before the pause: 60 ms of tstale (100 ms) were used up while listening; the pause does not
    # count, so the fault comes about 40 ms after it, neither at once (the pause taken for silence) nor a full
    # tstale later (the silence before it forgotten).
    w = sim.World()
    _driving(w)
    _silent_60ms_then_a_pause(w, lambda: w.plant.inject("can_loss"))


def _silent_60ms_then_a_pause(w, silence):
    # silence() now; 60 ms later a 500 ms pause: no CAN_LOSS 20 ms after it, CAN_LOSS 70 ms after it (tstale
    # 100 ms: 60 ms used before the pause, the pause itself not counted). Returns when the pause ended (us).
    t0 = w.clock.now_us
    silence()
    w.run_until(t0 + 60000)
    assert not w.app.faults.latched
    w.stall(500)
    end = t0 + 560000
    w.run_until(end + 20000)
    assert not w.app.faults.is_latched(F.CAN_LOSS)
    w.run_until(end + 70000)
    assert w.app.faults.is_latched(F.CAN_LOSS)
    return end


class _No120:
    """The ZE1 model's view of the bus with its own 0x120 dropped: 1DA and everything else go on."""

    def __init__(self, bus):
        self.bus = bus

    def send(self, sender, can_id, data):
        if can_id != 0x120:
            self.bus.send(sender, can_id, data)

    def __getattr__(self, name):
        return getattr(self.bus, name)


def _ze1_driving():
    w = sim.World()
    w.plant.set_inverter("ze1")
    assert w.type("set inverter 1").strip() == "OK"
    _driving(w)
    return w


def test_a_pause_with_a_ze1_is_no_inverter_loss_and_its_0x120_ages_in_listening_time_too():
    # The ZE1 device watches 1DA and 0x120 (dev_ze1 WATCH); the shell tells both watches of the controller's own
    # pause. A 500 ms pause while driving: no fault. Then 0x120 alone falls silent 60 ms before a second pause: the
    # fault comes about 40 ms after it (the rest of tstale), not at once (the pause counted as silence).
    w = _ze1_driving()
    t0 = w.clock.now_us
    w.stall(500)
    w.run_until(t0 + 500000 + S)
    assert not w.app.faults.latched, w.app.faults.codes()
    inv = w.plant.inv

    def drop_120():
        inv.bus = _No120(inv.bus)

    end = _silent_60ms_then_a_pause(w, drop_120)
    assert [f for f in w.bus.log if f[1] == 0x1DA and f[0] > end]   # 1DA went on: it was the 0x120


def test_a_pause_longer_than_the_watchdog_resets_the_board():
    w = sim.World()
    _driving(w)
    t0 = w.clock.now_us
    w.stall(1500)
    w.run_until(t0 + 1100000)
    assert w.boots == 2
    assert w.stalls[-1][2] == "watchdog"
    assert w.app.faults.is_latched(F.WATCHDOG)
    assert not (w.board.relay_main.value() or w.board.relay_pre.value())
    assert w.plant.inv.errors == 0  # talked to again long before its ~1.9 s VCM-loss flag


def test_stall_in_a_scenario_and_piped():
    sc = scn.parse("1 inject stall 250\n2 end\n", "<t>")
    assert sc.actions[0].args == ("stall", 250.0)
    for bad, why in (("1 restore stall\n2 end\n", "ends by itself"), ("1 inject stall 0\n2 end\n", "1 to 60000"),
                     ("1 inject stall 70000\n2 end\n", "1 to 60000")):
        with pytest.raises(scn.ScenarioError) as e:
            scn.parse(bad, "<t>")
        assert why in str(e.value)
    out = io.StringIO()
    sim.piped(io.StringIO(".inject stall 300\n.status\n"), out)
    text = out.getvalue()
    assert "OK (simulator)" in text
    with pytest.raises(ValueError):
        sim.World().plant.inject("stall", 100)
