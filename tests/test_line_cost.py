"""The heaviest device profile (a ZE1 with the spoofed battery: 10 frames every 10 ms from three TX buffers) with
the firmware's own time counted: tools/bench.py's line-costed run (tools/fakes/cpuloop.CpuLoop: the App's tasks as
on the board, every line of firmware code costing virtual time). At 3 us a line (60 % of the bench's ESP32 estimate,
where the jobs still take a few ms and the batches overlap the bus) no frame is lost and every row keeps its
period's count: the +4 ms batch, the carry to a later batch and the filters' burst openers at work. The figures at
5 and 4 us a line are the bench's (`./run bench profiles`, docs/performance.md). Deterministic: virtual time."""

import bench


def test_a_ze1_with_the_spoofed_battery_loses_no_frame_when_the_jobs_take_time():
    f = bench.line_cost_run(3, run_us=1000000)
    assert f["mode"] == "drive"
    assert f["lost"] == 0 and f["short"] == [], f
    assert f["sent"] >= 995, f   # 10 frames per 10 ms and the slower ones
