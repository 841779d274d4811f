"""A stand-in for the shell's App, for the console tests (not a test module).

It has exactly the attributes leafvcu.console programs against: params, vcm, inv, temps, inp (a core_rig.Rig's
real Params / Vcm / InverterStatus / InverterTemps / Inputs, so the car can really be driven to READY), can (a
stand-in with the real mcp2515.Stats and tec / rec / eflg), tasks (real sched.Periodic on a VirtualClock),
now_ms() (the rig's time), settings (a real Settings on an in-memory file system), request_reset() (counted).

`Term(app)` types into a Console as a user would: `type("set maxtrq 200\\r")` returns everything written back.
"""

from core_rig import Rig
from memfs import MemFs
from fakes.clock import VirtualClock
from mcp2515 import Stats
from leafvcu.console import Console
from leafvcu.sched import Periodic
from leafvcu.settings import Settings
from leafvcu import choice


class FakeCan:
    def __init__(self):
        self.stats = Stats()
        self.tec = 0
        self.rec = 0
        self.eflg = 0

class App:
    def __init__(self, rig=None, fs=None, can=True):
        self.rig = rig if rig is not None else Rig()
        r = self.rig
        self.params = r.p
        self.vcm = r.vcm
        self.inv = r.inv
        self.temps = r.temps
        self.inp = r.inp
        self.can = FakeCan() if can else None
        self.clock = VirtualClock()
        self.tasks = (Periodic("ctl", 10, self._job, self.clock), Periodic("console", 20, self._job, self.clock))
        self.fs = fs if fs is not None else MemFs()
        self.settings = Settings(self.params, self.vcm.faults, "/params.dat", self.fs)
        self.resets = 0
        self.devs = tuple(choice.build(self))   # the devices the parameters name, as the real App makes them

    def _job(self, now_ms):
        pass

    def now_ms(self):
        return self.rig.t

    def request_reset(self):
        self.resets += 1

    def run_tasks(self, ms):
        """Polls the tasks over ms of virtual time, 1 ms at a time (gives them counters)."""
        end = self.clock.now_us + ms * 1000
        while self.clock.now_us < end:
            for t in self.tasks:
                t.poll()
            self.clock.advance_us(1000)


class Term:
    def __init__(self, app=None, echo=False):
        self.app = app if app is not None else App()
        self.out = []
        self.con = Console(self.app, self.out.append, echo)

    def type(self, text):
        """Types text (str or bytes) into the console; returns what it wrote back."""
        del self.out[:]
        self.con.feed_all(text)
        return "".join(self.out)

    def lines(self, line):
        """Types one command line (+ CR); returns the reply lines."""
        s = self.type(line + "\r")
        assert s.endswith("\r\n") or s == "", repr(s)
        return s.split("\r\n")[:-1] if s else []

    def cmd(self, line):
        """Types one command line; returns its single reply line."""
        ls = self.lines(line)
        assert len(ls) == 1, ls
        return ls[0]
