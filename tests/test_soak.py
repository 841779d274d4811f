"""The soak in small (tools/bench.py soak runs the hour): two short episodes of driving (two segments, a stop, a
reverse crawl), key off, a plug-in charge and console lines in between, through tools/sim.World with the real
firmware, the clock starting 30 s before a ticks_us wrap so that the wrap falls while driving. Zero deadline
misses, zero firmware heap growth after the first episode (CPython tracemalloc, allocations made in
firmware/lib), every scenario expectation held, and a bus log tools/check.py passes."""

import bench


def test_short_soak():
    r = bench.soak(2 * bench.SHORT_EPISODE_S / 60, short=True, start_us=bench.TICKS_PERIOD_US - 30000000,
                   echo=lambda s: None)
    assert bench.soak_problems(r) == []
    assert r["episodes"] == 2
    assert r["failed"] == [] and r["expects"] >= 14
    for name, runs, overruns, late, run in r["tasks"]:
        assert overruns == 0, name
        assert runs > 0, name
    assert len(r["wraps"]) == 1
    t, gap, mode = r["wraps"][0]
    assert mode == "drive" and 0 < gap <= 0.0105
    assert len(r["series"]) == 2 and r["series"][1][1] - r["series"][0][1] == 0
    assert r["violations"] == 0 and r["frames"] > 50000
    assert r["typed"] >= 20 and r["bad_replies"] == []


def test_spi_figures_and_naive_drivers():
    rows = {row.figure.split(",")[1].strip() if "," in row.figure else row.figure: row for row in bench.spi_rows()}
    pinned = [r for f, r in rows.items() if f.startswith("pinned set")][0]
    assert pinned.measured.startswith("10.0 (30 B / 3 frames)") and pinned.status == "ok"
    full = [r for f, r in rows.items() if f.startswith("10 ms set as configured")][0]
    assert "14.2 typical (71 B / 5)" in full.measured and full.status == "floor"
    txn = [r for f, r in rows.items() if f.startswith("SPI transactions per 10 ms")][0]
    assert txn.status == "report" and txn.measured.startswith("9 vs 69 (register) / 20 (frame load)")
    assert not any("DIFFER" in n for n in txn.notes)
    rx = rows["SPI transactions per received frame (INT -> drain)"]
    assert rx.measured.startswith("2.00 (") and rx.status == "report"   # READ STATUS + READ RX BUFFER, no third
