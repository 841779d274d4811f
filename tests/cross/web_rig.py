"""The dashboard's JSON interface measured under real MicroPython for tools/bench.py (not a test module):
`node tools/mpy_lane.mjs --run web_rig.bench` prints `@@BENCH key value` lines: heap bytes and bytecode time
(against hot_rig.ref_loop, timed in the same run) per request, the car in DRIVE (console_rig.App).

What it covers: webapi.WebApi.handle and its reply, what the firmware itself does per request. microdot's
request parsing and reply writing are not in the wasm lane (tests/test_web_load.py counts them in lines).
"""

import gc

from console_rig import App
from memfs import MemFs
from hot_rig import clock_us, ref_loop, _median, CLOCK, _emit
from leafvcu.web import Web

HOST = {"Host": "192.168.4.1", "Cookie": "", "Origin": None}


class _Headers:
    def __init__(self, d):
        self.d = d

    def get(self, k):
        return self.d.get(k)


def _request(web, app, path):
    st, body, extra = web.api.handle("GET", path, _Headers(HOST), b"", app.now_ms())
    if not isinstance(body, str):
        for piece in body:  # the HTTP layer writes each piece
            pass
    return st


def _alloc(web, app, path, n):
    gc.collect()
    a0 = gc.mem_alloc()
    for _ in range(n):
        web.api._tokens = 30  # the rate limit is not what is measured
        _request(web, app, path)
    return (gc.mem_alloc() - a0) // n


def _time(web, app, path, n):
    ts = []
    for _ in range(n):
        web.api._tokens = 30
        t0 = clock_us()
        _request(web, app, path)
        ts.append(clock_us() - t0)
    return _median(ts)


def bench(n=200, ref=200000):
    app = App()
    app.rig.to_drive()
    web = Web(app, fs=MemFs())
    import sys

    _emit("micropython", "%d.%d.%d" % sys.implementation.version[:3])
    _emit("clock", CLOCK)
    _emit("n", n)
    for key, path in (("live", "/api/live"), ("params", "/api/params"), ("status", "/api/status")):
        _request(web, app, path)  # warm
        _emit("alloc_" + key, _alloc(web, app, path, n))
        _emit("time_" + key + "_us", _time(web, app, path, n))
    t0 = clock_us()
    ref_loop(ref)
    _emit("ref_us", clock_us() - t0)
    _emit("ref_n", ref)
    _emit("done", 1)
