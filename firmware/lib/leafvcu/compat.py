"""The few things MicroPython and CPython spell differently, in one place (DESIGN.md: cross-interpreter).

On the board this is `time`'s ticks functions and `asyncio.sleep_ms` themselves; on CPython, stand-ins
with MicroPython's semantics: ticks wrap at 2**30 and `ticks_diff` gives the signed shortest distance.
"""
try:
    from time import ticks_ms, ticks_us, ticks_add, ticks_diff, sleep_ms, sleep_us
except ImportError:
    import time as _time

    _PERIOD = 1 << 30
    _HALF = 1 << 29

    def ticks_ms():
        return int(_time.monotonic() * 1000) & (_PERIOD - 1)

    def ticks_us():
        return int(_time.monotonic() * 1000000) & (_PERIOD - 1)

    def ticks_add(ticks, delta):
        return (ticks + delta) & (_PERIOD - 1)

    def ticks_diff(a, b):
        return ((a - b + _HALF) & (_PERIOD - 1)) - _HALF

    def sleep_ms(ms):
        _time.sleep(ms / 1000)

    def sleep_us(us):
        _time.sleep(us / 1000000)

try:
    from asyncio import sleep_ms as async_sleep_ms
except ImportError:
    async_sleep_ms = None

if async_sleep_ms is None:
    import asyncio as _asyncio

    async def async_sleep_ms(ms):
        await _asyncio.sleep(ms / 1000)


def step_ms(obj, now_ms):
    """ms since `obj`'s previous step (kept in obj._t / obj._started), 10 for the first, clipped to 0..100: the
    dt of a controller stepped every 10 ms, robust to a late or repeated step."""
    t = obj._t
    obj._t = now_ms
    if not obj._started:
        obj._started = True
        return 10
    dt = ticks_diff(now_ms, t)
    if dt < 0:
        return 0
    return dt if dt < 100 else 100
