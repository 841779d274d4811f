"""The board's side of the dashboard as main.py runs it (web.Web.task): no server while Wi-Fi is off, a server once
`wifi` is 1 and saved with the key off, none again after `set wifi 0`; and the simulator's web mode (tools/simweb.py)
following a reboot of the simulated board with a new PIN."""

import asyncio
import http.client
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "cross"))

from console_rig import App, Term  # noqa: E402
from memfs import MemFs  # noqa: E402
from test_webapi import FakeNetwork  # noqa: E402
from leafvcu import web as WEB  # noqa: E402
from leafvcu import wifi as WF  # noqa: E402


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _answers(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/api/live", headers={"Host": "192.168.4.1"})
        return c.getresponse().status
    except OSError:
        return None


def test_task_serves_only_while_the_access_point_is_up():
    app = App()
    net = FakeNetwork()
    web = WEB.Web(app, network=net, fs=MemFs())
    t = Term(app)
    port = _free_port()
    seen = []

    turns = [0]

    async def fast_sleep(ms):
        turns[0] += 1
        await asyncio.sleep(0.02)

    async def probe(ms):
        return await asyncio.get_running_loop().run_in_executor(None, _answers, port)

    async def until(cond, polls=3000):
        # waits for the condition and then three more of the task's own turns (the server's start_server runs
        # between them), not for a span of the host's time
        while polls and not cond():
            await asyncio.sleep(0.01)
            polls -= 1
        n = turns[0] + 3
        while polls and turns[0] < n:
            await asyncio.sleep(0.01)
            polls -= 1

    async def main():
        task = asyncio.ensure_future(web.task(sleep_ms=fast_sleep, port=port))
        await until(lambda: turns[0] >= 1)
        seen.append((web.wifi.state, web.server is not None, await probe(0)))
        t.cmd("set wifi 1")
        t.cmd("save")
        await until(lambda: web.server is not None)
        seen.append((web.wifi.state, web.server is not None, await probe(0)))
        t.cmd("set wifi 0")
        await until(lambda: web.server is None)
        seen.append((web.wifi.state, web.server is not None, await probe(0)))
        task.cancel()

    asyncio.run(main())
    assert seen[0] == (WF.OFF, False, None)
    assert seen[1] == (WF.ON, True, 200)
    assert seen[2] == (WF.OFF, False, None)
    assert not net.ap.on


def test_sim_web_follows_a_reboot_with_a_new_pin(tmp_path):
    import simweb

    said = []
    sw = simweb.SimWeb(flash_dir=str(tmp_path), out=said.append)
    pin = sw.web.api.pin
    sw.advance(200000)
    assert "dashboard PIN %s" % pin in sw.line("wifi")
    sw.line("reset")
    sw.advance(400000)
    assert sw.web.app is sw.world.app and sw.world.app.web is sw.web
    assert said == ["simulator: new firmware boot: dashboard PIN %s" % sw.web.api.pin]
    assert "dashboard PIN %s" % sw.web.api.pin in sw.line("wifi")
    assert sw.line(".status").startswith("t=")
