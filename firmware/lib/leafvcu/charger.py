"""Charging through the Leaf PDM: the charge power command (0x1F2), PDM supervision, the spoofed battery frames.

A pure object (DESIGN.md "functional core") that the mode machine (vcm.py) owns and steps; it never reads a
clock, sleeps or touches hardware, and a step allocates nothing. Facts: ../shared/leaf-can/PROTOCOL.md ("P§n").

What the shell feeds (the `Pdm` object, wired at construction; `Vcm.pdm`):
    pdm.s390   frames.ChargerStatus: decode_390(buf, pdm.s390, dlc) on every 0x390
    pdm.s393   frames.ChargerState: decode_393(buf, pdm.s393, dlc) on every 0x393 (shown, not supervised)
    pdm.wake() on every 0x679 (decode_679(buf, dlc) True): the PDM woke because the charge plug went in
    pdm.link   link.Link: the 390's freshness as the PDM device (dev_pdm WATCH) supervises it
and Inputs.plug (the plug is in: the shell sets it while the PDM reports AC in 0x390, see app.py), Inputs.bms_ilim
(a battery's charge current limit in A, -1 when there is none), Inputs.bms_vmax (its charge voltage limit, V,
-1 none: the target is the lower of it and chgvtgt, `vtgt`) and Inputs.bms_full (it takes no more charge: the
charge is done after tchgend), all from the battery device (bms.py). A stop request
is the parameter chgen set to 0 (console `set chgen 0`).

390 freshness is the PDM device's (dev_pdm WATCH, link.py: a frame counts when the codec's good-frame count, right
checksum and counter followed on, moves; listening time only), read from pdm.link at every step into `age_390`
(ms, -1 never; from a session's start when not heard lately: `begin` tells the link) and `fresh` (heard, age <=
pdmstale). Its fields are used only while fresh (`ac`, `out_w`, `avail_w`, `status` read 0 otherwise).

Charge power (W, ints only), recomputed every step:
    base   chgmaxw, capped by the DC current limit chgimax (or the BMS limit when lower) x pack voltage and,
           when chgacmax > 0, by chgacmax x the AC class's lowest voltage (100 / 200 V) x 90 % (efficiency);
    taper  x (chgvtgt - V) / chgtaper inside the window below the target voltage, 0 at or above it: the
           constant-voltage phase (P§2 has no CV loop in the PDM: the command is the only control);
    lim_w  that, capped by the PDM's available power (390) when chgavail = 1 and it reports one.
    cmd_w  ramps up towards lim_w at chgramp W/s (remainder kept, so slow ramps do not truncate), falls to it
           at once; 0 whenever the mode machine is not in the charging phase. Never below 0.
    power_raw = 0x64 + cmd_w // 100: the 1F2 field (0.1 kW, offset -10 kW, P§2 0x1F2), never below 0 kW.
    done   the taper alone (chgmaxw x taper) held at or below chgendw for tchgend: the pack is at its target.

Session supervision (`check`, while a charge session runs): `stop` (why the session ends: STOP_*; the first
reason wins) and `fault` (a faults.* code to latch, with fault_a / fault_b):
    any phase     STOP_REQUEST (chgen set to 0); STOP_PLUG (the plug input went away)
    charging      PDM_SILENT (390 stale), PDM_AC (390 AC class abnormal), CHG_OVERVOLT (pack above
                  chgvtgt + chgvmarg); STOP_PLUG (390 reports no AC after reporting AC in this session: the
                  EVSE or the plug went away); STOP_NOAC (no AC reported within tacwait); STOP_PDM (390 says
                  finished after saying charging); STOP_TARGET (done).
Session start (`want`): a 0x679 seen with the ignition off (the PDM also sends 679 at a key-on wake-up, P§4,
so one seen with the ignition on is dropped), or the plug input rising outside a session (at any ignition
state); each one starts at most one session (`begin` consumes it; an edge during a session arms nothing), so
nothing restarts by itself.

Hot-path functions keep their MicroPython frame within 11 words (see vcm.py); inputs are wired, not passed.
"""

from leafvcu.compat import ticks_diff, step_ms
from leafvcu.link import Link
from leafvcu import faults as F
from leafvcu.frames import (
    ChargerStatus,
    ChargerState,
    AC_ABNORMAL,
    CHARGE_CHARGING,
    CHARGE_FINISHED,
    POWER_1F2_ZERO,
)

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


STOP_NONE = const(0)
STOP_TARGET = const(1)  # pack at its target voltage (taper end)
STOP_REQUEST = const(2)  # chgen set to 0
STOP_PLUG = const(3)  # plug input gone, or 390 reports no AC after AC
STOP_NOAC = const(4)  # no AC reported within tacwait of charging
STOP_PDM = const(5)  # 390 status "finished" after "charging"
STOP_FAULT = const(6)  # a latched fault ended the session
STOP_NAMES = ("none", "target", "request", "plug", "no_ac", "pdm_finished", "fault")

# Lowest AC voltage of each 390 AC class (P§3: 1 = 100/110 V, 2 = 200/230 V, 3 abnormal; 0 none / not yet):
# the AC current limit converts with the low end, so it never lets more current through than set.
_AC_V = (100, 100, 200, 0)
_EFF_PCT = const(90)  # AC -> DC efficiency assumed by the AC current limit (guess, on the safe side)


_V_STEP = const(2)  # 1DA voltage resolution, V (P§3)


class Pdm:
    """The PDM's frames as the shell hands them in: s390 (frames.ChargerStatus), s393 (frames.ChargerState),
    wakes (count of 0x679 frames: call wake() on each), link (link.Link: the 390's freshness, supervised by the
    PDM device)."""

    def __init__(self, s390=None, s393=None):
        self.s390 = s390 if s390 is not None else ChargerStatus()
        self.s393 = s393 if s393 is not None else ChargerState()
        self.wakes = 0
        self.link = Link()

    def wake(self):
        self.wakes += 1


class Charger:
    """Outputs (plain attributes): fresh, age_390 (the PDM's link, read at every step), ac (390 AC class), out_w / avail_w (390 output / available
    power, W), status (390 charge status), v_pack (V: 1DA while HV is on, else udcnom), taper (0..1000), lim_w,
    cmd_w, power_raw (1F2), done, stop (STOP_*), fault (+ fault_a, fault_b), running."""

    def __init__(self, params, pdm, inv, inp, now_ms=0):
        self.p = params
        self.pdm = pdm
        self.inv = inv
        self.inp = inp
        self.link = pdm.link
        self.fresh = False
        self.age_390 = -1
        self.ac = 0
        self.out_w = 0
        self.avail_w = 0
        self.status = 0
        self.v_pack = params.udcnom
        self.vtgt = params.chgvtgt
        self.taper = 1000
        self.base_w = 0
        self.lim_w = 0
        self.cmd_w = 0
        self.power_raw = POWER_1F2_ZERO
        self.done = False
        self.stop = STOP_NONE
        self.fault = F.NONE
        self.fault_a = 0
        self.fault_b = 0
        self.running = False
        self._wakes = pdm.wakes
        self._pending = False
        self._plug = False
        self._armed = False
        self._plug_sess = False
        self._sess = False
        self._ac_seen = False
        self._chg_seen = False
        self._run_t = now_ms
        self._low = False
        self._low_t = now_ms
        self._acc = 0
        self._t = now_ms
        self._started = False

    # --- every step -------------------------------------------------------------------------------------
    def rx(self, now_ms, ign, hv):
        """390 freshness (read from the PDM's link: link.py) and fields, 679 / plug watching, pack voltage. hv: the
        main contactor is closed."""
        k = self.link
        self.fresh = k.fresh
        self.age_390 = k.age
        if k.fresh:
            s = self.pdm.s390
            self.ac = s.ac_class
            self.out_w = s.power_w
            self.avail_w = s.available_w
            self.status = s.status
        else:
            self.ac = 0
            self.out_w = 0
            self.avail_w = 0
            self.status = 0
        self._watch(ign)
        p = self.p
        s = self.inv  # (s: the codec's state object at hand, 390 above, 1DA here)
        self.v_pack = s.dc_voltage if hv and s.voltage_valid else p.udcnom
        # The target voltage: chgvtgt, or the battery's charge voltage limit (bms.py, 351) when lower.
        b = self.inp.bms_vmax
        self.vtgt = b if 0 <= b < p.chgvtgt else p.chgvtgt

    def _watch(self, ign):
        # A 679 counts only with the ignition off; the plug input on its rising edge outside a session (the PDM
        # reports AC only once it charges, inside the session it started). Either arms one session.
        w = self.pdm.wakes
        if w != self._wakes:
            self._wakes = w
            if not ign:
                self._pending = True
        if ign:
            self._pending = False
        pl = self.inp.plug
        if pl and not self._plug and not self._sess:
            self._armed = True
        elif not pl:
            self._armed = False
        self._plug = pl

    # --- session ----------------------------------------------------------------------------------------
    def want(self):
        """True when a charge session should start (the caller also checks mode, faults, settle time)."""
        if not self.p.chgen:
            return False
        return self._pending or (self._armed and self.inp.plug)

    def begin(self, now_ms):
        """A session starts: consumes the wake / plug edge, resets the session state."""
        self._pending = False
        self._armed = False
        self._sess = True
        self._plug_sess = self.inp.plug
        self._ac_seen = False
        self._chg_seen = False
        self._low = False
        self.done = False
        self.stop = STOP_NONE
        self.fault = F.NONE
        self.running = False
        self.cmd_w = 0
        self._acc = 0
        if not self.fresh:
            # Not heard lately: the 390 age counts from here (PDM_SILENT once charging and older than pdmstale).
            self.link.expect(now_ms)

    def halt(self):
        """A latched fault ends the session: power 0 from this step on."""
        if self.stop == STOP_NONE:
            self.stop = STOP_FAULT
        self.running = False
        self.cmd_w = 0
        self._acc = 0
        self.power_raw = POWER_1F2_ZERO

    def end(self):
        """The session is over (relays open)."""
        self._sess = False
        self.running = False
        self.cmd_w = 0
        self._acc = 0
        self.power_raw = POWER_1F2_ZERO

    def idle(self):
        """The PDM delivers (close to) nothing: 390 stale, or its output power <= chgoffw."""
        return not self.fresh or self.out_w <= self.p.chgoffw

    def check(self, now_ms, run):
        """Stop reasons and faults of a running session; run: the charging phase (HV up, power allowed)."""
        self.fault = F.NONE
        if not self.p.chgen:
            self._stop(STOP_REQUEST)
        if self.inp.plug:
            self._plug_sess = True
        elif self._plug_sess:
            self._stop(STOP_PLUG)
        if run:
            if not self._faults():
                self._ac_stops(now_ms)
                if self.done:
                    self._stop(STOP_TARGET)

    def _stop(self, why):
        if self.stop == STOP_NONE:
            self.stop = why

    def _faults(self):
        # True when one tripped (fault, fault_a, fault_b set for the caller to latch).
        p = self.p
        if self.age_390 > p.pdmstale:
            return self._trip(F.PDM_SILENT, self.age_390, p.pdmstale)
        if self.ac == AC_ABNORMAL:
            return self._trip(F.PDM_AC, self.ac, self.status)
        if self.v_pack > self.vtgt + p.chgvmarg:
            return self._trip(F.CHG_OVERVOLT, self.v_pack, self.vtgt + p.chgvmarg)
        return False

    def _trip(self, code, a, b):
        self.fault = code
        self.fault_a = a
        self.fault_b = b
        return True

    def _ac_stops(self, now_ms):
        ac = self.ac
        if ac != 0:
            self._ac_seen = True
        elif self._ac_seen:
            self._stop(STOP_PLUG)
        elif self.running and ticks_diff(now_ms, self._run_t) >= self.p.tacwait:
            self._stop(STOP_NOAC)
        st = self.status
        if st == CHARGE_CHARGING:
            self._chg_seen = True
        elif st == CHARGE_FINISHED and self._chg_seen:
            self._stop(STOP_PDM)

    # --- the power command ------------------------------------------------------------------------------
    def step(self, now_ms, run):
        """run: charging phase (HV up, no stop pending). Computes lim_w, cmd_w, power_raw, done."""
        dt = step_ms(self, now_ms)
        self._limit()
        if run and self.stop == STOP_NONE:
            if not self.running:
                self.running = True
                self._run_t = now_ms
            self._ramp(dt)
            self._done(now_ms)
            self.power_raw = POWER_1F2_ZERO + self.cmd_w // 100
        else:
            self.running = False
            self.cmd_w = 0
            self._acc = 0
            self.power_raw = POWER_1F2_ZERO  # (cmd_w 0)

    def _limit(self):
        # lim_w, in one function (it runs every step, driving too: 1DC carries it). chgmaxw, capped by the DC
        # current limit chgimax (or the BMS's, when lower) x pack voltage:
        p = self.p
        v = self.v_pack
        x = self.inp.bms_ilim
        if not 0 <= x < p.chgimax:
            x = p.chgimax
        w = x * v
        if w > p.chgmaxw:
            w = p.chgmaxw
        # with chgacmax set, by chgacmax x the AC class's lowest voltage x efficiency:
        x = p.chgacmax
        if x > 0:
            x = x * _AC_V[self.ac & 3] * _EFF_PCT // 100
            if x < w:
                w = x
        # x the taper: 1000 below the window, 0 at or above the target, linear in between (a hard cut with
        # chgtaper 0):
        t = self.vtgt - v
        if t <= 0:
            t = 0
        elif t >= p.chgtaper:
            t = 1000
        else:
            t = t * 1000 // p.chgtaper
        self.taper = t
        w = w * t // 1000
        self.base_w = w
        # capped by the PDM's available power (390) when chgavail = 1 and it reports one.
        x = self.avail_w
        if p.chgavail and 0 < x < w:
            w = x
        self.lim_w = w

    def _ramp(self, dt):
        lim = self.lim_w
        c = self.cmd_w
        if c >= lim:
            self.cmd_w = lim
            self._acc = 0
            return
        a = self._acc + self.p.chgramp * dt
        inc = a // 1000
        self._acc = a - inc * 1000
        c += inc
        self.cmd_w = c if c < lim else lim

    def _done(self, now_ms):
        # Charged: for tchgend, the taper alone (applied to chgmaxw) at or below chgendw, or the pack within one
        # 1DA step (2 V) of the target. 1DA reads in 2 V steps: near the target the reading flips between the
        # two steps around it and the taper between 0 and a fifth of chgmaxw, so the power alone may never
        # stay low (seen in the simulator).
        p = self.p
        hi = p.chgmaxw * self.taper // 1000 > p.chgendw and self.v_pack < self.vtgt - _V_STEP
        if hi and not self.inp.bms_full:  # (bms_full: the battery takes no more charge current)
            self._low = False
            return
        if not self._low:
            self._low = True
            self._low_t = now_ms
        elif ticks_diff(now_ms, self._low_t) >= p.tchgend:
            self.done = True

    # --- spoofed battery frames (P§2 0x1DB / 0x1DC), allocation-free fills -------------------------------
    def fill_1db(self, m):
        """frames.BatteryStatus: pack voltage (v_pack), current from the PDM's output power, positive as a real
        e-NV200 battery reports its charging current (+5.5 A, issue 19), usable SOC spfsoc, full_charge once done."""
        v = self.v_pack
        m.voltage_raw = 2 * v
        m.current_raw = 2 * self.out_w // v if v > 0 else 0
        m.soc = self.p.spfsoc
        m.full_charge = self.done
        m.relay_permit = True
        m.interlock = True
        m.failsafe = 0
        m.relay_cut = 0

    def fill_1dc(self, m):
        """frames.BatteryLimits: ZV's discharge / charge limits (`A0 0A 05 ..`: 160 kW, 40 kW, P§2 0x1DC) and
        the present charge power limit as "max power for charger" (0.1 kW, offset -10 kW)."""
        m.discharge_raw = 4 * self.p.spfdis   # 0.25 kW per bit (0x280 = 160 kW, the default)
        m.charge_raw = 0xA0
        m.charger_raw = 100 + self.lim_w // 100
        m.charge_status = 1

    def stop_name(self):
        return STOP_NAMES[self.stop]
