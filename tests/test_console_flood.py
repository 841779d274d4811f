"""A terminal flooding the console (garbage, long lines, json/list/help dumps, a stream) does not make the
10 ms job miss a deadline: the console task does bounded work per turn (leafvcu/term.py).

Real time on CPython's asyncio: the jobs' deadlines are measured with the host's clock (sched.Periodic without
a virtual clock), the plant (chip model, bus, inverter) runs on a virtual clock kept in step with it. A second
test runs a console task that does NOT bound its work, and the same measurement catches the missed deadlines,
so the first test's zero is a measurement, not a blind spot."""

import asyncio
import gc
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "cross"))

from app_rig import AppRig, MiniInverter  # noqa: E402
from leafvcu.sched import Periodic  # noqa: E402
from leafvcu import term  # noqa: E402
from leafvcu import vcm as V  # noqa: E402

FLOOD_S = 2.0


class Stop(Exception):
    pass


class FloodPort:
    """Types as fast as the port can deliver: random bytes mixed with real commands."""

    def __init__(self, seed=1):
        self.rng = random.Random(seed)
        self.written = 0
        commands = [b"json\r", b"list\r", b"help\r", b"status\r", b"stats\r", b"get udc,mode\r",
                    b"set maxtrq 200\r", b"stream 50 udc,mode\r", b"x" * 300 + b"\r", b"errors\r"]
        self.commands = commands

    def read_some(self, n):
        if self.rng.random() < 0.5:
            return bytes(self.rng.getrandbits(8) for _ in range(n))
        return self.rng.choice(self.commands)[:n]

    def write(self, text):
        self.written += len(text)


def _real_time_jobs(app):
    app.t10 = Periodic("10ms", 10, app.tick10)
    app.t10b = Periodic("10ms+5", 10, app.tick10b)
    app.t100 = Periodic("100ms", 100, app.tick100)
    app.tasks = (app.t10, app.t10b, app.t100)


def _run(rig, console_coro):
    t0 = time.monotonic()
    clock = rig.clock
    base = clock.now_us

    async def plant():
        while True:
            clock.run_until(base + int((time.monotonic() - t0) * 1e6))
            await asyncio.sleep(0.0005)

    async def stop():
        await asyncio.sleep(FLOOD_S)
        raise Stop

    # CPython's cyclic collector would add its own pauses (the host models allocate a lot): not the board's.
    gc.disable()
    try:
        asyncio.run(rig.app.main((plant(), console_coro, stop())))
    except Stop:
        pass
    finally:
        gc.enable()


def _ready_rig():
    rig = AppRig()
    MiniInverter(rig)
    rig.key(True)
    rig.run_ms(4000)
    assert rig.app.vcm.mode == V.READY
    _real_time_jobs(rig.app)
    return rig


def test_flood_does_not_delay_the_10ms_job():
    rig = _ready_rig()
    port = FloodPort()
    con = rig.app.attach_console(port, echo=True)
    rig.app.console = None  # main() would start its own task; this test hands in the coroutine itself
    _run(rig, term.console_task(con, port, rig.app.outbox, rig.app.now_ms))
    t10 = rig.app.t10
    assert t10.runs >= FLOOD_S * 100 * 0.9
    assert con.lines + con.refused > 50  # the flood really was processed
    assert port.written > 10000
    assert t10.overruns == 0, "10 ms job missed %d deadlines, worst lateness %d us" % (t10.overruns, t10.worst_late_us)


def test_the_measurement_sees_a_console_that_blocks():
    rig = _ready_rig()
    port = FloodPort()
    con = rig.app.attach_console(port)
    rig.app.console = None

    async def unbounded():
        while True:
            for _ in range(40):
                con.feed_all(b"list\rjson\rhelp\r")
            await asyncio.sleep(0.001)

    _run(rig, unbounded())
    assert rig.app.t10.overruns > 0
