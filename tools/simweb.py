"""`./run sim web [SCENARIO]`: the firmware's dashboard served from the simulator, in real time.

The firmware (leafvcu.web: the same microdot server, JSON interface and page the board serves) runs on the host's
asyncio loop beside the simulated car (sim.World), which is kept in step with the wall clock. There is no radio
here: the access point's rules are the board's (tests/cross/test_webapi.py), the simulator serves at once.

    ./run sim web                         an idle car; the terminal is the firmware's console, "." lines drive
                                          the car (.ignition on, .direction forward, .pedal 30, ...)
    ./run sim web scenarios/X.scn         the scenario's actions at their times (real time), then the car stays
    options: --host 127.0.0.1 --port 8080 (0: any free port) --seconds N (stop after N s)

It prints the address and the dashboard's PIN (the console's `wifi` shows it again): `dashboard: URL PIN NNNNNN`.
A reset of the simulated board (the console's `reset`) boots a new firmware: a new PIN, printed again.
"""

import asyncio
import os
import sys
import time

import sim
import scenario as scn
import webbuild
from leafvcu.web import Web, make_server
from leafvcu import wifi as WF

STEP_S = 0.005  # the car is brought up to the wall clock this often


class SimWeb:
    def __init__(self, flash_dir=None, scenario=None, out=print):
        self.world = sim.World(flash_dir=flash_dir)
        self.static = webbuild.build(os.path.join(sim.OUT, "web"))
        self.out = out
        self.actions = list(scenario.actions) if scenario is not None else []
        self.web = None
        self._attach()
        self.server = make_server(self.web)

    def _attach(self):
        # A Web on the world's current App (again after a reboot of the simulated board).
        app = self.world.app
        fs = sim.DirFs(self.world.flash_dir)
        if self.web is None:
            self.web = Web(app, network=None, fs=fs, static=self.static)
        else:
            web = Web(app, network=None, fs=fs, static=self.static)
            self.web.__dict__.update(web.__dict__)
            app.web = self.web
        self.web.wifi.state = WF.SIMULATED

    def advance(self, t_us):
        w = self.world
        while self.actions and self.actions[0].t_us <= t_us:
            w.run_until(self.actions[0].t_us)
            w.act(self.actions.pop(0))
        w.run_until(t_us)
        self._follow()

    def _follow(self):
        # The simulated board rebooted (the console's `reset`): the new firmware's dashboard, with its new PIN.
        if getattr(self.world.app, "web", None) is not self.web:
            self._attach()
            self.out("simulator: new firmware boot: dashboard PIN %s" % self.web.api.pin)

    def line(self, text):
        """A terminal line: a "." command for the car or a console command; returns the reply text."""
        if text.startswith("."):
            return sim.sim_command(self.world, text)
        reply = self.world.type(text)
        self._follow()
        return reply.rstrip("\r\n")


async def serve(host, port, scenario=None, seconds=None, flash_dir=None, stdin=None, out=print):
    sw = SimWeb(flash_dir, scenario, out)
    srv = await sw.server.start_server(host=host, port=port, start_serving=False)
    await srv.start_serving()
    addr = srv.sockets[0].getsockname()
    out("dashboard: http://%s:%d/ PIN %s" % (addr[0], addr[1], sw.web.api.pin))
    loop = asyncio.get_running_loop()
    lines = []
    if stdin is not None:
        def readable():
            raw = stdin.readline()
            if not raw:
                loop.remove_reader(stdin)
                return
            lines.append(raw.rstrip("\r\n"))

        loop.add_reader(stdin, readable)
    t0 = time.monotonic()
    try:
        while seconds is None or time.monotonic() - t0 < seconds:
            sw.advance(int((time.monotonic() - t0) * 1e6))
            while lines:
                ln = lines.pop(0)
                if sim._is_quit(ln):
                    return 0
                reply = sw.line(ln)
                if reply:
                    out(reply)
            if sw.world.out:
                out("".join(sw.world.out).rstrip("\r\n"))
                del sw.world.out[:]
            await asyncio.sleep(STEP_S)
    finally:
        if stdin is not None:
            try:
                loop.remove_reader(stdin)
            except Exception:  # noqa
                pass
        sw.server.shutdown()
        srv.close()
    return 0


def main(args):
    sc = None
    if args.scenario:
        try:
            sc = scn.load(args.scenario)
        except scn.ScenarioError as e:
            print("malformed scenario: %s" % e)
            return 2
        except OSError as e:
            print("cannot read scenario %s: %s" % (args.scenario, e.strerror or e))
            return 2
    try:
        webbuild.sources()
    except webbuild.BuildError as e:
        print("sim web: %s" % e)
        return 1

    def out(text):
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    stdin = sys.stdin if not args.no_console else None
    try:
        return asyncio.run(serve(args.host, args.port, sc, args.seconds, args.flash, stdin, out))
    except KeyboardInterrupt:
        return 0
    except OSError as e:
        print("sim web: cannot serve on %s:%d: %s" % (args.host, args.port, e.strerror or e))
        return 1
