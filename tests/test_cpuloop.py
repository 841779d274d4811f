"""tools/fakes/cpuloop.CpuLoop: steps cost virtual time by the lines they run, sleeps follow MicroPython's
millisecond ticks, a flag set by a model's timer wakes its task at that virtual time."""

import os

from fakes.clock import VirtualClock
from fakes.cpuloop import CpuLoop

HERE = os.path.abspath(__file__)


def work(n):
    i = 0
    while i < n:  # two lines a turn: the test and the body
        i += 1
    return i


def test_a_step_costs_its_lines_and_the_clock_moves_while_it_runs():
    clock = VirtualClock()
    loop = CpuLoop(clock, 5, HERE)
    seen = []

    async def task():
        t0 = clock.now_us
        work(100)
        seen.append(clock.now_us - t0)  # the task's own clock read sees its work take time
        await loop.sleep_ms(50)

    loop.spawn("t", task())
    loop.run_for(10000)
    lines = loop.stats["t"].max_lines
    assert 200 <= lines <= 210  # the loop's 2 x 100 lines, the function's own few
    assert seen[0] >= 200 * 5
    assert loop.stats["t"].steps == 1


def test_sleep_wakes_on_the_millisecond_grid_and_sleep_0_yields_behind_ready_tasks():
    clock = VirtualClock()
    loop = CpuLoop(clock, 5, HERE)
    order = []

    async def a():
        work(150)  # ~1.5 ms
        order.append(("a", clock.now_us))
        await loop.sleep_ms(2)  # from the current whole ms (1 ms): wakes at 3 ms
        order.append(("a", clock.now_us))
        await loop.sleep_ms(1000)

    async def b():
        order.append(("b", clock.now_us))
        await loop.sleep_ms(0)
        order.append(("b", clock.now_us))
        await loop.sleep_ms(1000)

    loop.spawn("a", a())
    loop.spawn("b", b())
    loop.run_for(5000)
    names = [n for n, _ in order]
    assert names == ["a", "b", "b", "a"]
    assert 3000 <= order[3][1] <= 3010  # (+ the line that read the clock)
    assert order[0][1] >= 1500  # a's 150 turns of work


def test_a_flag_set_by_a_model_timer_wakes_the_waiting_task_then():
    clock = VirtualClock()
    loop = CpuLoop(clock, 5, HERE)
    flag = loop.flag()
    woke = []
    clock.call_at(7300, flag.set)

    async def waiter():
        await flag.wait()
        woke.append(clock.now_us)
        await loop.sleep_ms(1000)

    loop.spawn("w", waiter())
    loop.run_for(20000)
    assert 7300 <= woke[0] <= 7310 and len(woke) == 1  # (+ the line that read the clock)


def test_awaiting_something_else_is_an_error():
    import asyncio

    import pytest

    clock = VirtualClock()
    loop = CpuLoop(clock, 5, HERE)

    async def wrong():
        await asyncio.sleep(0)

    loop.spawn("x", wrong())
    with pytest.raises(RuntimeError, match="awaited"):
        loop.run_for(1000)
