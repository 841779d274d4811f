"""tools/bench.py's simulator row: how many runs it takes, which one counts, what it reports. The demo itself is
replaced by a stand-in that spends a chosen wall time on a fake clock (the real one is timed by the bench)."""

import pytest

import bench


class FakeWall:
    """time.perf_counter for bench.py, and a run_scenario that takes `costs[i]` seconds of it for run i."""

    def __init__(self, costs, codes=None):
        self.now = 1000.0
        self.costs = list(costs)
        self.codes = list(codes or [])
        self.runs = 0

    def perf_counter(self):
        return self.now

    def run_scenario(self, path, quiet=False, echo=None):
        assert path == bench.DEMO and quiet
        cost = self.costs[min(self.runs, len(self.costs) - 1)]
        code = self.codes[self.runs] if self.runs < len(self.codes) else 0
        self.runs += 1
        self.now += cost
        return code, None


@pytest.fixture
def wall(monkeypatch):
    def make(costs, codes=None):
        w = FakeWall(costs, codes)
        monkeypatch.setattr(bench.time, "perf_counter", w.perf_counter)
        monkeypatch.setattr(bench.sim, "run_scenario", w.run_scenario)
        monkeypatch.setattr(bench.accel, "active", lambda: False)  # no second, pure-model measurement
        return w

    return make


def test_runs_at_least_n_then_until_the_window_is_over(wall):
    w = wall([0.75])                       # 60 s simulated in 0.75 s: 80x
    best, ratios = bench.sim_speed(runs=3, seconds=10)
    assert w.runs == 14                    # 13 runs end at 9.75 s, the 14th at 10.5 s
    assert ratios == [80.0] * 14 and best == 80.0
    w = wall([0.75])
    assert len(bench.sim_speed(runs=3, seconds=0)[1]) == 3
    w = wall([5.0])
    assert len(bench.sim_speed(runs=3, seconds=1)[1]) == 3   # a short window still gives the N runs


def test_the_best_run_counts_and_every_run_is_reported(wall):
    wall([1.5, 1.2, 0.8, 1.5, 1.25])       # 40x, 50x, 75x, 40x, 48x
    row = bench.sim_row(5, 0)
    assert row.status == "ok" and row.measured.startswith("75 x (best of 5 in 6 s")
    assert "best 75.0, median 48.0, slowest 40.0; 1 of 5 at or above 60" in row.notes[0]
    assert row.notes[1] == "runs in order: 40, 50, 75, 40, 48"
    assert any(n.startswith("unsteady host: the runs differ by 88 %") for n in row.notes)


def test_under_budget_fails(wall):
    wall([1.02])                           # 58.8x every time: steady, and too slow
    row = bench.sim_row(4, 0)
    assert row.status == "FAIL" and row.budget == ">= 60"
    assert "0 of 4 at or above 60" in row.notes[0]
    assert not any(n.startswith("unsteady") for n in row.notes)


def test_a_failing_demo_is_an_error_not_a_speed(wall):
    wall([0.5], codes=[0, 1])
    with pytest.raises(RuntimeError, match="demo scenario failed"):
        bench.sim_speed(runs=3)
