"""The asyncio layer on CPython: App.main's tasks keep the schedule, and an exception in a task or a
KeyboardInterrupt (mpremote's Ctrl-C) ends in the safe state before propagating. The virtual clock advances in
lockstep with asyncio's real time (1 ms per ms), so the scheduler sleeps for real."""

import asyncio
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "cross"))

from app_rig import AppRig, MiniInverter  # noqa: E402
from leafvcu import app as app_mod  # noqa: E402
from leafvcu import faults as flt  # noqa: E402
from leafvcu import vcm as V  # noqa: E402


def _clock_task(rig):
    async def tick():
        while True:
            await asyncio.sleep(0.001)
            rig.clock.advance_us(1000)

    return tick()


def _run(rig, stop_at_ms, exc):
    state = {}

    async def stopper():
        while rig.clock.now_us < stop_at_ms * 1000:
            await asyncio.sleep(0.005)
        state["mode"] = rig.app.vcm.mode
        state["t"] = rig.clock.now_us
        raise exc

    def extra(app):
        return (_clock_task(rig), stopper())

    with pytest.raises(type(exc)):
        app_mod.run(rig.app, extra)
    return state


@pytest.mark.parametrize("exc, code", [(KeyboardInterrupt(), flt.KBD_INT), (RuntimeError("bug"), flt.TASK_EXC)])
def test_interrupt_or_exception_in_a_task_ends_safe(exc, code):
    rig = AppRig(start=True)
    MiniInverter(rig)
    rig.key(True)
    state = _run(rig, 3500, exc)
    assert state["mode"] == V.READY  # the schedule ran for real and brought HV up
    b = rig.board
    assert (b.relay_main.value(), b.relay_pre.value(), b.relay_neg.value()) == (0, 0, 0)
    assert rig.app.faults.is_latched(code)
    after = rig.frames(0x1D4, state["t"])
    assert after and all((f[2], f[3] & 0xF0) == (0, 0) for f in after)
    main_events = [e for e in rig.relay_log if e[1] == "main"]
    assert main_events[-1][2] == 0 and len(main_events) == 2
    stats = rig.app.t10
    assert stats.runs >= 300
