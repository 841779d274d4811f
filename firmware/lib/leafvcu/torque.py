"""The torque chain: pedal demand -> the 1D4 torque request.

Units: torque in 1D4 raw units, 0.25 Nm per unit (TORQUE_SCALE per Nm, P§2), speeds in rpm, voltages in V,
temperatures in 0.1 degC (the codec's InverterTemps), factors in 0.1 % (0..1000). Ints only: no float is made
on this path. Sign convention: positive torque and positive speed are forward.

Per step, in this order:
  1. direction: the switch (fwd / rev / neither) engages D or R only with the pedal released and either near
     standstill (|speed| <= dirspd) or along the present motion; otherwise the engaged direction stays and
     `refused` is set (throttle ignored meanwhile). Neutral is taken at once. Invalid speed refuses changes.
  2. target: drive = demand x maxtrq, faded to 0 over `spdwin` below the speed limit (maxspd / revspd), derated
     by inverter / motor temperature and by low DC voltage, capped by the battery's discharge power limit at this
     speed (bms.cap: inp.bms_dclw x bmseff); regen (brake: regbrk, pedal released or throttle
     ignored: regoff) capped by maxregen, only while moving in the engaged direction, tapered in between
     regmin..regtaper, derated by temperature and by high DC voltage, capped by the battery's charge power limit
     (inp.bms_cclw). Brake overrides throttle. Target =
     direction x (drive - regen).
  3. ramp: away from zero at most `rampup` Nm/s, toward zero at most `rampdn` Nm/s (a sign change stops at zero
     for one step). Kept in 1/1000 units so that slow ramps do not truncate to nothing at 10 ms steps.
     Brake override: with the brake pressed, drive torque (along the engaged direction) falls at least as fast
     as full scale (2048 raw, 512 Nm) in BRAKE_MS, whatever rampdn says: any drive request is 0 within BRAKE_MS
     plus the 10 ms cycle that reads the switch, 150 ms in all (docs/safety.md says why 150).
Inactive (not READY / DRIVE), neutral, invalid speed or an unusable pedal: torque 0 at once (`kill`).

Inputs are wired at construction: pedal (demand, ok, released()), inp (fwd, rev, brake), inv (the codec's 1DA
state: speed_rpm, speed_valid, dc_voltage) and temps (the 55A state: inverter_c10, motor_c10; None = no
temperature derate). Hot-path functions keep their MicroPython frame within 11 words (see vcm.py).
"""

from leafvcu.compat import ticks_diff, step_ms
from leafvcu.bms import cap

TORQUE_SCALE = 4  # 1D4 raw units per Nm
TORQUE_RAW_MAX = 2047
TORQUE_RAW_MIN = -2048
BRAKE_MS = 140  # brake override: full-scale drive torque to 0 in this long (+ one 10 ms cycle to see the brake)
_BRAKE_STEP = (TORQUE_RAW_MAX + 1) * 1000 // BRAKE_MS  # ramp units (raw x 1000) per ms


def fade(x, start, end):
    """1000 at x <= start, 0 at x >= end, linear in between (a step at start when end <= start)."""
    if x <= start:
        return 1000
    if x >= end:
        return 0
    return (end - x) * 1000 // (end - start)


class Torque:
    """Outputs after step(): torque (raw, what 1D4 carries), target (before the ramp), dir (1 D, -1 R, 0 none),
    refused (the switch asks for a direction that is not allowed now), derate (temperature factor, 0..1000),
    drive / regen (the last unramped magnitudes, raw)."""

    def __init__(self, params, pedal, inp, inv, temps=None):
        self.p = params
        self.pedal = pedal
        self.inp = inp
        self.inv = inv
        self.temps = temps
        self.torque = 0
        self.target = 0
        self.dir = 0
        self.refused = False
        self.derate = 1000
        self.drive = 0
        self.regen = 0
        self._m = 0  # ramp state: raw x 1000
        self._thr = False
        self._t = 0
        self._started = False
        # Two spare attributes: with 16 this object's attribute table (17 slots) is nearly full, and every
        # self.method() lookup in the step then probes most of it (tests/test_instance_maps.py; the Vcm's 73 in
        # 73 slots cost the 10 ms job ~180 us on the ESP32 estimate). 18 attributes sit in 23 slots.
        self._spare1 = 0
        self._spare2 = 0

    def kill(self):
        """Torque 0 at once (faults, leaving DRIVE)."""
        self._m = 0
        self.torque = 0
        self.target = 0
        self.drive = 0
        self.regen = 0

    def reset(self):
        """Torque 0 and no direction engaged."""
        self.kill()
        self.dir = 0
        self.refused = False

    def step(self, now_ms, active):
        """active: HV is on and driving is allowed (READY / DRIVE)."""
        dt = step_ms(self, now_ms)
        if not active:
            self.reset()
            return
        self._select()
        d = self.dir
        if d == 0 or not self.inv.speed_valid or not self.pedal.ok:
            self.kill()
            return
        self._derate()
        s = self.inv.speed_rpm * d  # speed along the engaged direction
        t = self._drive(s)
        t = (t - self._regen(s)) * d
        if t > TORQUE_RAW_MAX:
            t = TORQUE_RAW_MAX
        elif t < TORQUE_RAW_MIN:
            t = TORQUE_RAW_MIN
        self.target = t
        self._ramp(t * 1000, dt)

    def _select(self):
        # The switch (1 forward, -1 reverse, 0 neither or both), read once per step: engages, keeps or refuses a
        # direction, and sets _thr, whether the throttle counts (the switch agrees with the engaged direction
        # and no brake), for _drive and _regen.
        inp = self.inp
        sw = (0 if inp.rev else 1) if inp.fwd else (-1 if inp.rev else 0)
        if sw == self.dir:
            self.refused = False
        elif sw == 0:
            self.dir = 0
            self.refused = False
        elif self._may_engage(sw):
            self.dir = sw
            self.refused = False
        else:
            self.refused = True
        self._thr = sw == self.dir and not inp.brake

    def _may_engage(self, sw):
        inv = self.inv
        if not inv.speed_valid or not self.pedal.released():
            return False
        s = inv.speed_rpm
        return -self.p.dirspd <= s <= self.p.dirspd or s * sw > 0

    def _derate(self):
        temps = self.temps
        if temps is None:
            self.derate = 1000
            return
        p = self.p
        a = temps.inverter_c10
        b = temps.motor_c10
        if a <= p.tinvst * 10 and b <= p.tmotst * 10:
            self.derate = 1000  # both below their derate windows (fade() would say 1000 twice)
            return
        a = fade(a, p.tinvst * 10, p.tinvend * 10)
        b = fade(b, p.tmotst * 10, p.tmotend * 10)
        self.derate = a if a < b else b

    # _drive and _regen skip a fade() whose factor is 1000 at this point (x <= start: d * 1000 // 1000 is d) and a
    # cap() without a battery limit (w < 0: cap returns its t): the same result without the calls.
    def _drive(self, s):
        p = self.p
        if not self._thr:
            self.drive = 0
            return 0
        d = self.pedal.demand * p.maxtrq * TORQUE_SCALE // 1000
        lim = p.maxspd if self.dir > 0 else p.revspd
        if s > lim - p.spdwin:
            d = d * fade(s, lim - p.spdwin, lim) // 1000
        d = d * self.derate // 1000
        if self.inv.dc_voltage < p.udclow:
            d = d * fade(-self.inv.dc_voltage, -p.udclow, -p.udcmin) // 1000
        lim = self.inp.bms_dclw  # the battery's discharge limit (W), as power at this speed
        if lim >= 0:
            d = cap(d, lim, s, p.bmseff)
        self.drive = d
        return d

    def _regen(self, s):
        p = self.p
        r = 0
        if s > 0:
            if self.inp.brake:
                r = p.regbrk
            elif not self._thr or self.pedal.demand == 0:  # pedal released, or throttle ignored
                r = p.regoff
            if r > p.maxregen:
                r = p.maxregen
        if r > 0:  # (0 stays 0 through the taper, the derates and cap)
            r = r * TORQUE_SCALE * (1000 - fade(s, p.regmin, p.regtaper)) // 1000
            r = r * self.derate // 1000
            r = r * fade(self.inv.dc_voltage, p.udchigh, p.udcmax) // 1000
            r = cap(r, self.inp.bms_cclw, s, 100)  # the battery's charge limit (no loss counted: the safe side)
        self.regen = r
        return r

    def _ramp(self, t, dt):
        # t: target x 1000. Away from zero at rampup, toward zero (and to zero when crossing) at rampdn.
        m = self._m
        if m == t:
            return  # at the target (cruising): _m and torque stay as they are
        if (m >= 0 and t > m) or (m <= 0 and t < m):
            m = _toward(m, t, self.p.rampup * TORQUE_SCALE * dt)
        elif m > 0:
            m = _toward(m, t if t > 0 else 0, self._down(m) * dt)
        else:
            m = _toward(m, t if t < 0 else 0, self._down(m) * dt)
        self._m = m
        self.torque = m // 1000 if m >= 0 else -((-m) // 1000)

    def _down(self, m):
        # Ramp units per ms toward zero: rampdn, or with the brake pressed and m driving along the engaged
        # direction, at least _BRAKE_STEP (the brake override).
        s = self.p.rampdn * TORQUE_SCALE
        if s < _BRAKE_STEP and self.inp.brake and ((m > 0 and self.dir > 0) or (m < 0 and self.dir < 0)):
            return _BRAKE_STEP
        return s


def _toward(m, t, step):
    # m moved toward t by at most step.
    if t > m:
        m += step
        return t if m > t else m
    m -= step
    return t if m < t else m
