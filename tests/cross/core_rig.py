"""A test rig for the decision core: a Vcm, its inputs and a small plant (DC link, inverter 1DA frames).

Not a test module (no test_ prefix): the cross tests import it; under MicroPython it sits in /tests with them.
Time is a plain ticks_ms value advanced by the rig (10 ms per step) with ticks_add, so it wraps like the board's.
The inverter's 1DA frames go through the real codec: the rig encodes bytes (CRC-8, counter) and the codec's
decode_1da fills the InverterStatus that the Vcm reads, so freshness, counters and CRC behave as on the bus.
The rig plays the shell's part in supervision (the default devices' WATCH rows run by a link.Links:
`watch_links`): the Vcm's link watches 1DA, its PDM's link 390, both supervised before every step; `paused(ms)`
is what the shell tells them after the controller's own pause.

Plant: the DC link charges through the precharge relay with time constant `tau_ms` towards `pack` (only with
the negative contactor closed when one is fitted), sits at `pack` with the main contactor closed, and decays
(the inverter's discharge) when nothing is closed. Fault injection: `welded` (main contactor welded: link at
pack whenever the negative side is connected), `tau_ms` tiny (shorted resistor), `talk` False (no 1DA),
`frozen` (1DA repeats one frame), `corrupt` (1DA CRC wrong), `valid` False (voltage 0xFF), `collapse` (link forced to a voltage),
`errors` (1DA byte 6 bits 7..2 in place), `speed`, `inv_torque` (0.5 Nm raw).
"""

from leafvcu.compat import ticks_add, ticks_diff
from leafvcu.params import Params
from leafvcu.vcm import Vcm, Inputs
from leafvcu.link import Links
from leafvcu import vcm as V
from leafvcu.frames import InverterStatus, InverterTemps, decode_1da, crc8, VCM_WAKE

# Pedal raw readings for the default calibration (pot1 10000..55000, pot2 5000..27500).
PEDAL_REST = (10000, 5000)


def pedal_raw(permille):
    """Raw A, B for a pedal position in 0.1 % with the default calibration."""
    return 10000 + 45000 * permille // 1000, 5000 + 22500 * permille // 1000


def watch_links(vcm, p):
    """What link.Links builds from dev_leafinv's and dev_pdm's WATCH rows, for a Vcm without an App: 1DA
    against tstale into vcm.link, 390 against pdmstale into vcm.pdm.link. Returns the link.Links that runs them (its
    supervise(now_ms) before every step, paused(ms))."""
    vcm.link.watch(vcm.inv, p, "tstale")
    vcm.pdm.link.watch(vcm.pdm.s390, p, "pdmstale")
    sv = Links()
    sv.links = (vcm.link, vcm.pdm.link)
    return sv


class Rig:
    def __init__(self, t0=1000, **params):
        self.p = Params()
        for k in params:
            err = self.p.set(k, params[k])
            if err is not None:
                raise ValueError(err)
        self.t = t0
        self.inp = Inputs()
        self.inv = InverterStatus()
        self.temps = InverterTemps()
        self.temps.inverter_c10 = 300
        self.temps.motor_c10 = 300
        self.vcm = Vcm(self.p, self.inp, self.inv, self.temps, t0)
        self.links = watch_links(self.vcm, self.p)
        self.pack = 380
        self.udc = 0.0
        self.tau_ms = 60
        self.welded = False
        self.talk = True
        self.frozen = False
        self.corrupt = False
        self.valid = True
        self.collapse = None
        self.errors = 0
        self.speed = 0
        self.inv_torque = 0
        self._n = 0
        self._buf = bytearray(8)
        self.events = []  # (t, "pre"/"main"/"neg", level) at every relay change
        self.trace = []  # (t, mode, torque) every step
        self.closings = {"pre": 0, "main": 0, "neg": 0}
        self._last = (False, False, False)
        self.set_pedal(0)

    # --- inputs
    def set_pedal(self, permille):
        self.inp.pedal_a, self.inp.pedal_b = pedal_raw(permille)

    def key(self, on, start=None):
        self.inp.ign = on
        self.inp.start = on if start is None else start

    # --- plant
    def _plant(self, dt):
        v = self.vcm
        neg_ok = v.relay_neg or not self.p.negcon
        if self.collapse is not None:
            self.udc = float(self.collapse)
        elif neg_ok and (v.relay_main or self.welded):
            self.udc = float(self.pack)
        elif neg_ok and v.relay_pre:
            if self.tau_ms <= 1:
                self.udc = float(self.pack)
            else:
                self.udc += (self.pack - self.udc) * dt / self.tau_ms
        else:
            self.udc -= self.udc * dt / 300.0

    def _frame(self):
        b = self._buf
        if not self.frozen or self.inv.frames == 0:
            u = int(self.udc + 0.5) // 2
            b[0] = 0xFF if not self.valid else (u if u < 0xFF else 0xFE)
            b[1] = 0
            tq = self.inv_torque & 0x7FF
            b[2] = tq >> 8
            b[3] = tq & 0xFF
            s = (self.speed * 2) & 0xFFFF
            b[4] = s >> 8
            b[5] = s & 0xFF
            b[6] = (self.errors & 0xFC) | (self._n & 3)
            b[7] = crc8(b, 7) ^ (0x55 if self.corrupt else 0)
            self._n += 1
        decode_1da(b, self.inv)

    def step(self, n=1, dt=10):
        for _ in range(n):
            self.t = ticks_add(self.t, dt)
            self._plant(dt)
            if self.talk:
                self._frame()
            v = self.vcm
            self.links.supervise(self.t)
            v.step(self.t)
            now = (v.relay_pre, v.relay_main, v.relay_neg)
            for i, name in ((0, "pre"), (1, "main"), (2, "neg")):
                if now[i] != self._last[i]:
                    self.events.append((self.t, name, now[i]))
                    if now[i]:
                        self.closings[name] += 1
            self._last = now
            self.trace.append((self.t, v.mode, v.torque))
        return self.vcm

    def paused(self, ms):
        """The shell's word after the controller's own pause of ms (App.tick10 -> link.Links.paused)."""
        self.links.paused(ms)

    def run_until(self, cond, limit_ms=20000, dt=10):
        """Steps until cond(vcm) is true; returns the elapsed ms; raises AssertionError at the limit."""
        el = 0
        while el <= limit_ms:
            if cond(self.vcm):
                return el
            self.step(1, dt)
            el += dt
        raise AssertionError("condition not reached in %d ms (mode %s)" % (limit_ms, self.vcm.mode_name()))

    def since(self, t):
        return ticks_diff(self.t, t)

    # --- scenarios
    def to_ready(self):
        """Key on (direction switch in neutral), wait for READY and 50B saying so (02: D / R may engage from
        then on, as with real VCMs); returns the vcm."""
        self.inp.fwd = self.inp.rev = False
        self.key(True)
        self.run_until(lambda v: v.mode == V.READY and v.wake != VCM_WAKE, 20000)
        return self.vcm

    def to_drive(self, fwd=True):
        self.to_ready()
        self.inp.fwd = fwd
        self.inp.rev = not fwd
        self.step()
        assert self.vcm.mode == V.DRIVE, self.vcm.mode_name()
        return self.vcm

    def events_after(self, t):
        return [e for e in self.events if ticks_diff(e[0], t) >= 0]
