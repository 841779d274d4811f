"""The throttle pedal: two ADC channels -> one demand, with calibration, plausibility and a deadband.

Positions are ints in 0.1 % of travel (0..1000). Each channel has its own calibration points (raw at released,
raw at full; a full point below the released point is an inverted track), so the common dual-track pedals
(B = A / 2, or B = 5 V - A) both fit. Checks, each filtered by `pottime`:
  * out of range: a raw reading beyond its calibration by more than `potmarg` -> demand 0 at once, and the
    PEDAL_RANGE fault once it lasts `pottime`;
  * disagreement: the channels differ by more than `pottol` % -> the lower one is used meanwhile, and the
    PEDAL_PLAUS fault once it lasts `pottime`.
The pedal only reports (`fault`, `fault_a`, `fault_b`); the mode machine latches and logs. While a fault is
reported `ok` is False and `demand` 0. Nothing is checked while the pedal is inactive (ignition off: the
sensors may be unpowered).

The raw readings come from `inp.pedal_a` / `inp.pedal_b` (the shell's Inputs, wired at construction).
Hot-path functions keep their MicroPython frame within 11 words (see vcm.py), hence the small helpers.
"""

from leafvcu.compat import ticks_diff
from leafvcu import faults as _f

PEDAL_RANGE = _f.PEDAL_RANGE
PEDAL_PLAUS = _f.PEDAL_PLAUS


def position(raw, lo, hi, marg):
    """0..1000 (0.1 %) for raw between the calibration points lo (released) and hi (full), clipped at the ends;
    -1 when raw lies beyond them by more than marg or the calibration is degenerate (lo == hi)."""
    if hi > lo:
        if raw < lo - marg or raw > hi + marg:
            return -1
        if raw <= lo:
            return 0
        if raw >= hi:
            return 1000
        return (raw - lo) * 1000 // (hi - lo)
    if hi < lo:
        if raw > lo + marg or raw < hi - marg:
            return -1
        if raw >= lo:
            return 0
        if raw <= hi:
            return 1000
        return (lo - raw) * 1000 // (lo - hi)
    return -1


class Pedal:
    """Outputs after step(): a, b (channel positions, -1 out of range), demand (0..1000 after the deadband),
    ok (demand usable), fault (0, PEDAL_RANGE or PEDAL_PLAUS), fault_a / fault_b (the values to log)."""

    def __init__(self, params, inp):
        self.p = params
        self.inp = inp
        self.a = 0
        self.b = 0
        self.demand = 0
        self.ok = False
        self.fault = 0
        self.fault_a = 0
        self.fault_b = 0
        self._bad = False
        self._bad_t = 0
        self._dis = False
        self._dis_t = 0

    def released(self):
        """True when the pedal reads valid and sits in its deadband (start and D/R engagement need it)."""
        return self.ok and self.demand == 0

    def step(self, now_ms, active):
        if not active:
            self.demand = 0
            self.ok = False
            self.fault = 0
            self._bad = False
            self._dis = False
            return
        # The channels' positions (channel B follows A in single mode).
        p = self.p
        a = position(self.inp.pedal_a, p.pot1min, p.pot1max, p.potmarg)
        b = position(self.inp.pedal_b, p.pot2min, p.pot2max, p.potmarg) if p.potmode == 0 else a
        self.a = a
        self.b = b
        if a < 0 or b < 0:
            self._out_of_range(now_ms)
            return
        self._bad = False
        if -10 * p.pottol <= a - b <= 10 * p.pottol:
            self._dis = False
        elif self._disagree(now_ms):
            self.demand = 0
            self.ok = False
            self.fault = PEDAL_PLAUS
            self.fault_a = a
            self.fault_b = b
            return
        self.fault = 0
        self.ok = True
        # The demand: the lower channel, less the deadband, rescaled to 0..1000. (Inline: it runs every step.)
        if b < a:
            a = b
        a -= p.potdb * 10
        self.demand = 0 if a <= 0 else a * 1000 // (1000 - p.potdb * 10)

    def _disagree(self, now_ms):
        # The channels differ by more than pottol: True once that has lasted pottime.
        if not self._dis:
            self._dis = True
            self._dis_t = now_ms
        return ticks_diff(now_ms, self._dis_t) >= self.p.pottime

    def _out_of_range(self, now_ms):
        # Zero demand at once; the fault once it has lasted pottime.
        self.demand = 0
        self.ok = False
        self._dis = False
        if not self._bad:
            self._bad = True
            self._bad_t = now_ms
        if ticks_diff(now_ms, self._bad_t) < self.p.pottime:
            self.fault = 0
            return
        self.fault = PEDAL_RANGE
        if self.a < 0:
            self.fault_a = 1
            self.fault_b = self.inp.pedal_a
        else:
            self.fault_a = 2
            self.fault_b = self.inp.pedal_b
