"""The HV side: traction pack, contactors, precharge resistor and the inverter's DC-link capacitor.

A host model (CPython 3.11 and MicroPython 1.27): floats, no allocation worries, small per-step work.

Circuit: one node, the DC link.

    pack EMF e_pack, internal resistance r_pack
      +-- main contactor (0 ohm) --------------------+
      +-- precharge relay + r_pre -------------------+--> DC link: c_link, passive bleed r_bleed,
    negative contactor in series (when fitted)            active discharge r_dis (the inverter's, on request),
                                                          load: p_load watts drawn by the inverter (< 0: regen),
                                                          p_charge watts fed in by a charger (the PDM)

    c_link dV/dt = g_src (E - V) - g_par V - I_load,   g_src = 1 / (r_pack + r_path), g_par = 1/r_bleed (+ 1/r_dis)

With E and I_load held over a step this is linear and first order, so each step uses the exact solution
V(t+dt) = V_inf + (V - V_inf) exp(-dt g / c_link), V_inf = (g_src E - I_load) / g: a 10 ms step through the
0.1 ms time constant of a closed main contactor is as stable as a 1 us one, and the precharge curve is exactly
V(t) = E (1 - exp(-t / ((r_pre + r_pack) c_link))). I_load = p_load / max(V, V_LOAD_FLOOR) at the start of each
segment, with P = p_load - p_charge. V is kept within 0..V_PHYS_MAX. The plant sets p_load every step; p_charge
belongs to a charger model (fakes.pdm), so the two never overwrite each other.

Contactors follow their relay pins (fakes.machine.Pin outputs the firmware drives; the model watches them): a
pin change takes effect after t_close_us / t_open_us (contactor mechanics), the integration is split exactly at
that instant. A relay without a pin (neg_pin=None: no negative contactor fitted) is always closed.

Values (defaults; "guess" where no source gives one):
    PACK_V 380 V        EMF of a 96-cell pack at mid charge (ZE0 logs 392 V, e-NV200 360 V; params udcnom 360)
    R_PACK 0.12 ohm     ZE0 full-throttle log: 392 V -> 364 V at ~80 kW (~215 A)
    R_PRE * C_LINK      45 ms: the ZE0 on-off log's precharge (1DA 36 -> 110 -> 166 -> 212 V in 10 ms steps
                        towards 392 V) fits tau = 43..45 ms. The split is a guess: C_LINK 1 mF, R_PRE 45 ohm
    R_BLEED 150 kohm    passive discharge, tau 150 s (guess)
    R_DIS 850 ohm       the inverter's active discharge, tau 0.85 s: ZE0 on-off log, 392 V -> 62 V in 1.5 s
    T_CLOSE_US 20 ms, T_OPEN_US 10 ms   contactor close / release times (typical EV contactor datasheets)

Faults (inject(name, value=None) / restore(name)):
    precharge_open   missing / open precharge resistor: the link never charges through it
    precharge_short  shorted precharge resistor (r_pre -> R_SHORT): the link charges impossibly fast
    main_welded      welded main contactor: closed whatever its pin says (link at pack voltage before precharge)
    no_pack          no pack connected: EMF 0 V
    dc_collapse      the pack voltage collapses to `value` V (default COLLAPSE_V), e.g. a failing cell string
    pack_open        the pack path opens (a blown fuse, a service plug pulled): the link is on its own

Records: `events` (t_us, name, closed, current_a) at every physical contactor change (current through that
contactor just before it opened; 0 when closing), `closes` {name: count}, `max_open_a` (largest current any
contactor broke), `i_pack` (A, + = discharging the pack), `ah` (charge drawn from the pack).
"""

import math

PACK_V = 380.0
R_PACK = 0.12
R_PRE = 45.0
C_LINK = 0.001
R_BLEED = 150000.0
R_DIS = 850.0
R_SHORT = 0.05  # a shorted precharge resistor: wiring only
T_CLOSE_US = 20000
T_OPEN_US = 10000
COLLAPSE_V = 100.0
V_LOAD_FLOOR = 50.0  # power -> current below this link voltage (the inverter refuses torque long before)
V_PHYS_MAX = 1000.0

FAULTS = ("precharge_open", "precharge_short", "main_welded", "no_pack", "dc_collapse", "pack_open")
CONTACTORS = ("pre", "main", "neg")


class _Contactor:
    def __init__(self, name, pin, closed):
        self.name = name
        self.pin = pin
        self.cmd = closed  # what the pin asks for
        self.closed = closed  # physical state
        self.due = -1  # when the pending change lands (us), -1 = none


class HvCircuit:
    """clock: fakes.clock.VirtualClock (needed when pins are given: pin changes are timed by it).
    pre_pin / main_pin / neg_pin: relay outputs (high = closed); neg_pin None = no negative contactor.
    Inputs: p_load (W, + = motoring; the plant), p_charge (W into the link; a charger model), discharge (bool: the
    inverter's active discharge).
    Outputs: v_link (V), i_pack (A), contactor states closed("main"), events, closes, ah."""

    def __init__(self, clock=None, pre_pin=None, main_pin=None, neg_pin=None, pack_v=PACK_V, r_pack=R_PACK,
                 r_pre=R_PRE, c_link=C_LINK, r_bleed=R_BLEED, r_dis=R_DIS, t_close_us=T_CLOSE_US,
                 t_open_us=T_OPEN_US, v0=0.0):
        self.clock = clock
        self.pack_v = float(pack_v)
        self.r_pack = float(r_pack)
        self.r_pre = float(r_pre)
        self.c_link = float(c_link)
        self.r_bleed = float(r_bleed)
        self.r_dis = float(r_dis)
        self.t_close_us = t_close_us
        self.t_open_us = t_open_us
        self.v_link = float(v0)
        self.p_load = 0.0
        self.p_charge = 0.0
        self.discharge = False
        self.i_pack = 0.0
        self.i_load = 0.0
        self.ah = 0.0
        self.faults = {}  # name -> value (None when the fault takes none)
        self.events = []
        self.closes = {"pre": 0, "main": 0, "neg": 0}
        self.max_open_a = 0.0
        self._t = clock.now_us if clock is not None else 0
        self._c = {}
        for name, pin in (("pre", pre_pin), ("main", main_pin), ("neg", neg_pin)):
            if pin is None:
                c = _Contactor(name, None, name == "neg")
            else:
                c = _Contactor(name, pin, pin.value() == 1)
                pin.watch(self._watcher(c))
            self._c[name] = c

    # --- inputs ---------------------------------------------------------------------------------------------
    def _watcher(self, c):
        def cb(level):
            self.command(c.name, level == 1)
        return cb

    def command(self, name, closed, now_us=None):
        """The relay of contactor `name` is driven closed / open at now_us (default: the clock's now)."""
        c = self._c[name]
        if c.pin is None and name == "neg":
            return  # not fitted: always closed
        if now_us is None:
            now_us = self.clock.now_us if self.clock is not None else self._t
        self.advance(now_us)
        closed = bool(closed)
        if closed == c.cmd:
            return
        c.cmd = closed
        if closed == c.closed:
            c.due = -1  # a change that had not landed yet is called off
            return
        c.due = now_us + (self.t_close_us if closed else self.t_open_us)
        if c.due <= now_us:
            self._apply(c, now_us)

    def inject(self, name, value=None):
        if name not in FAULTS:
            raise ValueError("unknown HV fault %s" % name)
        if self.clock is not None:
            self.advance(self.clock.now_us)
        self.faults[name] = value

    def restore(self, name):
        if self.clock is not None:
            self.advance(self.clock.now_us)
        self.faults.pop(name, None)

    # --- state ----------------------------------------------------------------------------------------------
    def closed(self, name):
        """Physical state of a contactor ("pre", "main", "neg"), welding included."""
        if name == "main" and "main_welded" in self.faults:
            return True
        return self._c[name].closed

    @property
    def e_pack(self):
        """The pack EMF after faults."""
        f = self.faults
        if "no_pack" in f:
            return 0.0
        if "dc_collapse" in f:
            v = f["dc_collapse"]
            return COLLAPSE_V if v is None else float(v)
        return self.pack_v

    def tau_precharge(self):
        """Precharge RC time constant in seconds with the present resistor (inf when open)."""
        r = self._r_pre()
        return r * self.c_link if r is not None else float("inf")

    def _r_pre(self):
        f = self.faults
        if "precharge_open" in f:
            return None
        if "precharge_short" in f:
            return R_SHORT
        return self.r_pre

    def _g_src(self):
        # Conductance pack -> link (0: no path).
        if "pack_open" in self.faults or not self._c["neg"].closed:
            return 0.0
        if self.closed("main"):
            return 1.0 / self.r_pack
        if self._c["pre"].closed:
            r = self._r_pre()
            if r is not None:
                return 1.0 / (self.r_pack + r)
        return 0.0

    # --- time -----------------------------------------------------------------------------------------------
    def advance(self, now_us):
        """Integrate up to now_us, landing pending contactor changes at their exact times."""
        t = self._t
        while True:
            c = self._next_due()
            if c is None or c.due > now_us:
                break
            if c.due > t:
                self._integrate(c.due - t)
                t = c.due
                self._t = t
            self._apply(c, t)
        if now_us > t:
            self._integrate(now_us - t)
            self._t = now_us

    def _next_due(self):
        best = None
        for c in self._c.values():
            if c.due >= 0 and (best is None or c.due < best.due):
                best = c
        return best

    def _apply(self, c, t):
        c.due = -1
        closed = c.cmd
        if closed == c.closed:
            return
        a = 0.0
        if not closed:
            a = self._current_through(c.name)
            if abs(a) > self.max_open_a:
                self.max_open_a = abs(a)
        else:
            self.closes[c.name] += 1
        c.closed = closed
        self.events.append((t, c.name, closed, a))

    def _current_through(self, name):
        # Current a contactor carries now (before it opens).
        g = self._g_src()
        i = g * (self.e_pack - self.v_link)
        if name == "pre" and self.closed("main"):
            return 0.0  # the main contactor shorts the precharge path
        if name == "main" and "main_welded" in self.faults:
            return 0.0  # the welded contact carries it, this one just reports
        return i

    def _integrate(self, dt_us):
        dt = dt_us * 1e-6
        v = self.v_link
        g_src = self._g_src()
        g = g_src + 1.0 / self.r_bleed
        if self.discharge:
            g += 1.0 / self.r_dis
        e = self.e_pack
        vl = v if v > V_LOAD_FLOOR else V_LOAD_FLOOR
        i_load = (self.p_load - self.p_charge) / vl
        v_inf = (g_src * e - i_load) / g
        k = dt * g / self.c_link
        v = v_inf + (v - v_inf) * (math.exp(-k) if k < 700.0 else 0.0)
        if v < 0.0:
            v = 0.0
        elif v > V_PHYS_MAX:
            v = V_PHYS_MAX
        self.v_link = v
        self.i_load = i_load
        i = g_src * (e - v)
        self.i_pack = i
        self.ah += i * dt / 3600.0

    def __repr__(self):
        return "<HvCircuit %.1f V pre=%d main=%d neg=%d>" % (
            self.v_link, self.closed("pre"), self.closed("main"), self.closed("neg"))
