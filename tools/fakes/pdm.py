"""The Leaf AZE0 PDM (on-board charger + DC/DC) as a CAN node, and a simple pack for it to charge.

A host model (CPython 3.11 and MicroPython 1.27). Facts: ../shared/leaf-can/PROTOCOL.md ("P§n"); the frames go
through the codec's checksum (frames.nibble_checksum), never a copy of it.

What it does
    plug_in()   0x679 `00` once (P§3), then 0x390 + 0x393 every period_ms (100 ms, P§1) while awake.
                A 50B wake from a VCM while asleep also wakes it and sends 0x679 (the AZE0-era e-NV200 start-up
                log has the PDM's 679 at a key-on wake, P§4): a controller must tell that from a plug-in.
    output      follows the 1F2 command (0.1 kW, offset -10 kW, P§2) while the transition request is "normal",
                capped by the available power of the AC class (avail_w for 200/230 V, avail_110_w for 100/110 V,
                0 for none / abnormal) and by max_w; slews up at slew_w_s, down 5x faster; 0 without HV at the
                pack terminals (pack.voltage < hv_min_v). The power goes into `pack` (pack.charge(w, dt_s)).
    390         output power (0.1 kW, floor), AC class, charge status (4 charging / interrupted while the VCM asks
                "normal" with AC; 2 finished once asked "stop" after charging; 0 otherwise), available power,
                counter bits 5..4 of byte 7 (bits 7..6 set, as in the real frames), checksum -4.
    393         byte 1 0x53 while delivering power, else 0x20 (DBC comment); byte 4 0x20; counter; checksum -1.
    fail-safe   once it has been asked to charge (a 1F2 with transition "normal"), a missing 1D4 (ZV issue 91,
                P§2) or 1F2 for more than timeout_ms drops it to fail-safe: output 0, status 0, `failsafe` True
                until it is unplugged / sleeps.
    sleep       a 50B all zero (P§2: go to sleep) or, unplugged, no VCM frame for sleep_ms: it stops sending.
    start-up    (startup=True, the default) as a real AZE0-era PDM after it wakes (times from the wake, STARTUP_*
                below; issue 19's outside recordings of e-NV200 AC charges, the key-on part checked against
                ../shared/leaf-can/logs/env200-2015_aze0-era_startup.log, see docs/conformance.md): 390 byte 0
                04 -> 06 for a second -> 04; byte 3 00 -> 60 -> A0 -> A2 -> B2 (the AC class, 2.85 s) -> B3;
                available power 3C -> 00 -> the AC class's; 393 byte 1 10 -> 51 (AC) -> 52 (power commanded) ->
                53 (delivering); output only OUTPUT_DELAY_MS (3.3 s) after the first power command. Woken by a VCM
                with no plug (key-on): byte 3 00 -> 03 and available power 3C -> 00 at 1.9 s, 393 byte 1 10 -> 20
                at 2.75 s (the e-NV200 log). startup=False: final values from the first frame (the old model).
    checks      (strict=True, the default; the evidence is thin: ZV/BE's list of "IDs required" by the PDM, the
                VCM's frames of real AC charges): output only while 1F2 byte 5 says AC charging (0x3C), 11A says
                park, the VCM's 50B (awake, 100 ms) and the battery's 1DB, 1DC (10 ms) and 55B (100 ms) keep
                coming (BATTERY_TIMEOUT_MS; twice that for the 100 ms frames);
                otherwise output 0 (not fail-safe: it follows again when they do). `why` says what holds the
                output back ("" = delivering or allowed to). strict=False: none of these.
Fault injection: silent (no 390/393, it goes on charging), set_ac(AC_ABNORMAL) (output 0, available 0),
unplug() (plug pulled: AC class 0, output 0), stuck_w (delivers this power whatever it is told: a runaway
charger for over-voltage tests), frozen (390/393 repeat their counter: a hung PDM).

Two ways to run it:
    on a fakes.canbus.VirtualCANBus: PdmModel(clock, bus): it attaches, receives with on_frame and sends with
        bus.send on a clock timer (clock.call_at) every period_ms while awake;
    stepped by a test without a bus: PdmModel() then step(dt_ms) to advance its time, on_frame(None, id, data)
        to hand it the VCM's frames; what it sends collects in `outbox` [(can_id, bytes)] (drain it).

The pack it charges is any object with `voltage` (V at the PDM's output, i.e. the DC link) and
`charge(watts, dt_s)`: SimplePack here, or HvPack around fakes.hv.HvCircuit.
"""

from fakes.codec import (  # the firmware's codec (fakes/codec.py says why this name)
    nibble_checksum,
    NIB_390,
    NIB_393,
    ChargeCommand,
    decode_1f2,
    TorqueRequest,
    decode_1d4,
    VcmState,
    decode_11a,
    MODE_1F2_AC,
    AC_110V,
    AC_230V,
    AC_ABNORMAL,
    CHARGE_CHARGING,
    CHARGE_FINISHED,
    TRANSITION_NORMAL,
    TRANSITION_STOP,
)

ID_679 = 0x679
ID_390 = 0x390
ID_393 = 0x393
ID_1F2 = 0x1F2
ID_1D4 = 0x1D4
ID_50B = 0x50B
ID_11A = 0x11A
ID_1DB = 0x1DB
ID_1DC = 0x1DC
ID_55B = 0x55B

# Start-up (ms from the wake), see the module docstring. Times between the recorded steps are this model's choice:
# only their order, the AC class at 2.85 s, byte 0's one second of 06 and the output 3.3 s after the command are
# from the recordings.
STARTUP_B3 = ((0, 0x00), (300, 0x60), (1000, 0xA0), (1500, 0xA2))  # then 0xB2 - ish (AC class) and the final
AC_CLASS_MS = 2850      # AC class reported from here (byte 3 B2 for 230 V), final byte 3 FINAL_B3_MS later
FINAL_B3_MS = 3200
B0_06_MS = (1000, 2000)  # 390 byte 0 = 0x06 in this window
AVAIL_3C_MS = 1000       # available power 0x3C (6 kW) until here, then 0 until the AC class
OUTPUT_DELAY_MS = 3300   # first output this long after the first power command
KEYON_B3_MS = 1900       # woken with no plug: byte 3 00 -> 03, available 3C -> 00 (e-NV200 log 1.95 s)
KEYON_393_MS = 2750      # woken with no plug: 393 byte 1 10 -> 20 (e-NV200 log 2.75 s)
BATTERY_TIMEOUT_MS = 500  # strict: 1DB / 1DC missing this long, 55B twice this long: no output (choice)


class SimplePack:
    """A pack for charging tests: open-circuit voltage linear in SOC from v_empty to v_full (and on beyond
    full, so that an over-charge shows), plus r_ohm x the charge current. voltage: terminal volts now."""

    def __init__(self, soc=0.5, v_empty=340.0, v_full=400.0, capacity_wh=20000.0, r_ohm=0.15):
        self.soc = float(soc)
        self.v_empty = float(v_empty)
        self.v_full = float(v_full)
        self.capacity_wh = float(capacity_wh)
        self.r_ohm = float(r_ohm)
        self.i = 0.0
        self.wh_in = 0.0

    @property
    def ocv(self):
        return self.v_empty + (self.v_full - self.v_empty) * self.soc

    @property
    def voltage(self):
        return self.ocv + self.i * self.r_ohm

    def charge(self, watts, dt_s):
        v = self.ocv
        self.i = watts / v if v > 1.0 else 0.0
        wh = watts * dt_s / 3600.0
        self.wh_in += wh
        self.soc += wh / self.capacity_wh


class HvPack:
    """Adapter: the PDM charging fakes.hv.HvCircuit. voltage = the DC link (hv.v_link); charge() feeds the power
    in (hv.p_charge: the plant owns hv.p_load, the motor's draw) and raises the pack EMF by v_per_kwh per kWh
    (hv.pack_v), so the voltage rises with energy in."""

    def __init__(self, hv, v_per_kwh=3.0):
        self.hv = hv
        self.v_per_kwh = float(v_per_kwh)
        self.wh_in = 0.0

    @property
    def voltage(self):
        return self.hv.v_link

    def charge(self, watts, dt_s):
        self.hv.p_charge = float(watts)
        wh = watts * dt_s / 3600.0
        self.wh_in += wh
        self.hv.pack_v += wh / 1000.0 * self.v_per_kwh


class PdmModel:
    def __init__(self, clock=None, bus=None, pack=None, max_w=3300, avail_w=3300, avail_110_w=1400,
                 ac_class=AC_230V, slew_w_s=2000, timeout_ms=500, sleep_ms=2000, period_ms=100, hv_min_v=200.0,
                 name="pdm", strict=True, startup=True):
        self.clock = clock
        self.strict = strict
        self.startup = startup
        self.why = "asleep"
        self._t_wake = 0
        self._t_cmd = None   # the first power command since the wake (ms)
        self._last_b = {ID_11A: None, ID_1DB: None, ID_1DC: None, ID_55B: None, ID_50B: None}
        self._gear_p = False
        self._gear = VcmState(strict=False)
        self.bus = bus
        self.pack = pack if pack is not None else SimplePack()
        self.max_w = max_w
        self.avail_230_w = avail_w
        self.avail_110_w = avail_110_w
        self.ac_plugged = ac_class  # AC class while plugged
        self.slew_w_s = slew_w_s
        self.timeout_ms = timeout_ms
        self.sleep_ms = sleep_ms
        self.period_ms = period_ms
        self.hv_min_v = hv_min_v
        self.name = name
        self.acks = True
        # state
        self.awake = False
        self.plugged = False
        self.ac = 0
        self.out_w = 0.0
        self.failsafe = False
        self.armed = False  # asked to charge at least once since waking
        self.charged = False  # delivered power since plugged in
        self.cmd_w = 0
        self.transition = 0
        self.status = 0
        self.wake_679 = True  # send 679 on a VCM wake as well
        # fault injection
        self.silent = False
        self.stuck_w = None
        self.frozen = False
        # bookkeeping
        self.t_ms = clock.now_us // 1000 if clock is not None else 0
        self.last_1f2 = None
        self.last_1d4 = None
        self.last_vcm = None
        self.n390 = 0
        self.n393 = 0
        self.sent = {ID_679: 0, ID_390: 0, ID_393: 0}
        self.outbox = []
        self.history = []  # (t_ms, cmd_w, out_w, pack V) every period: for plots
        self._cmd = ChargeCommand(strict=False)
        self._tq = TorqueRequest(strict=False)
        self._buf = bytearray(8)
        self._t_upd = self.t_ms
        self._t_tx = self.t_ms
        self._timer = None
        if bus is not None:
            bus.attach(self)

    # --- host controls ----------------------------------------------------------------------------------
    def plug_in(self, ac_class=None):
        """The charge plug goes in: AC of the given class (default the constructor's), 679 once, awake."""
        if ac_class is not None:
            self.ac_plugged = ac_class
        self.plugged = True
        self.ac = self.ac_plugged
        self.failsafe = False
        self.charged = False
        self._wake(True)
        self._t_wake = self.clock.now_us // 1000 if self.clock is not None else self.t_ms  # (also when awake)
        self._t_cmd = None

    def unplug(self):
        """The plug is pulled: no AC, output 0 at once (it stays awake while the VCM talks)."""
        self.plugged = False
        self.ac = 0
        self.out_w = 0.0

    def set_ac(self, ac_class):
        """Fault injection: the AC class reported from now on (AC_ABNORMAL: output and available power 0)."""
        self.ac = ac_class
        if ac_class == AC_ABNORMAL or ac_class == 0:
            self.out_w = 0.0

    @property
    def avail_w(self):
        if not self.plugged or self.failsafe:
            return 0
        if self.ac == AC_230V:
            return min(self.avail_230_w, self.max_w)
        if self.ac == AC_110V:
            return min(self.avail_110_w, self.max_w)
        return 0

    # --- the bus side -----------------------------------------------------------------------------------
    def on_frame(self, t_us, can_id, data, sender=None):
        t = self.t_ms if t_us is None else t_us // 1000
        if can_id == ID_1F2:
            if len(data) == 8 and decode_1f2(data, self._cmd, 8):
                self.last_1f2 = t
                self.last_vcm = t
                raw = self._cmd.power_raw
                self.cmd_w = (raw - 100) * 100 if raw > 100 else 0
                self.transition = self._cmd.transition
                if self._t_cmd is None and self.cmd_w > 0 and self.transition == TRANSITION_NORMAL:
                    self._t_cmd = t
                if self.transition == TRANSITION_NORMAL:
                    if not self.armed:
                        self.armed = True
                        self.last_1d4 = t if self.last_1d4 is None else self.last_1d4
        elif can_id == ID_1D4:
            if len(data) == 8 and decode_1d4(data, self._tq, 8):
                self.last_1d4 = t
                self.last_vcm = t
        elif can_id == ID_11A:
            if len(data) == 8 and decode_11a(data, self._gear, 8):
                self._last_b[ID_11A] = t
                self._gear_p = self._gear.gear <= 1  # park: 0x01, 0x11 after a shift, the e-NV200's 0x10
        elif can_id in (ID_1DB, ID_1DC, ID_55B):
            if len(data) == 8:
                self._last_b[can_id] = t
        elif can_id == ID_50B:
            self.last_vcm = t
            if all(b == 0 for b in data):
                self._sleep()
                return
            self._last_b[ID_50B] = t
            if not self.awake:
                self._wake(self.wake_679)

    def on_bus_error(self, t_us, can_id, kind, sender):
        pass

    # --- time ---------------------------------------------------------------------------------------------
    def step(self, dt_ms):
        """Without a bus: advance the model's time by dt_ms; 390/393 go to `outbox` every period_ms."""
        self.t_ms += dt_ms
        while self.awake and self.t_ms - self._t_tx >= self.period_ms:
            self._t_tx += self.period_ms
            self._period(self._t_tx)

    def _on_timer(self):
        self._timer = None
        if not self.awake:
            return
        t = self.clock.now_us // 1000
        self.t_ms = t
        self._period(t)
        if self.awake:
            self._timer = self.clock.call_later(self.period_ms * 1000, self._on_timer)

    def _period(self, t):
        self.update(t)
        if not self.awake:
            return
        if not self.silent:
            self.frame_390(self._buf)
            self._send(ID_390, self._buf)
            self.frame_393(self._buf)
            self._send(ID_393, self._buf)
            if not self.frozen:
                self.n390 += 1
                self.n393 += 1
        v = self.pack.voltage
        self.history.append((t, self.cmd_w if self._cmd_fresh(t) else 0, self.out_w, v))

    def update(self, t):
        """Advance the physics to t (ms): fail-safe, target, slew, energy into the pack, status."""
        dt = t - self._t_upd
        self._t_upd = t
        if dt <= 0:
            return
        if self.armed and not self.failsafe:
            if self._stale(self.last_1d4, t) or self._stale(self.last_1f2, t):
                self.failsafe = True
        if not self.plugged and (self.last_vcm is None or t - self.last_vcm > self.sleep_ms):
            self._sleep()
            return
        target = self._target(t)
        w = self.out_w
        up = self.slew_w_s * dt / 1000.0
        if target > w:
            w = min(target, w + up)
        else:
            w = max(target, w - 5 * up)
        self.out_w = w
        if w > 0:
            self.charged = True
            self.pack.charge(w, dt / 1000.0)
        else:
            self.pack.charge(0.0, dt / 1000.0)
        self.status = self._status()

    def _stale(self, last, t):
        return last is None or t - last > self.timeout_ms

    def _cmd_fresh(self, t):
        return self.last_1f2 is not None and t - self.last_1f2 <= self.timeout_ms

    def _target(self, t):
        self.why = self._held(t)
        if self.stuck_w is not None and self.plugged:
            return float(self.stuck_w)
        if self.why:
            return 0.0
        return float(min(self.cmd_w, self.avail_w, self.max_w))

    def _held(self, t):
        # What keeps the output at 0 ("" = nothing): the physics and the command first, then the start-up delays
        # (startup) and the checks of a real PDM (strict).
        if not self.plugged:
            return "unplugged"
        if self.failsafe:
            return "failsafe"
        if self.ac not in (AC_110V, AC_230V) or not self._ac_known(t):
            return "no_ac"
        if self.pack.voltage < self.hv_min_v:
            return "no_hv"
        if not self._cmd_fresh(t) or self.transition != TRANSITION_NORMAL or self.cmd_w <= 0:
            return "no_command"
        if self.startup and (self._t_cmd is None or t - self._t_cmd < OUTPUT_DELAY_MS):
            return "starting"
        if self.strict:
            if self._cmd.mode != MODE_1F2_AC:
                return "1f2_mode"
            if not self._gear_p or self._stale(self._last_b[ID_11A], t):
                return "11a_gear"
            for can_id in (ID_1DB, ID_1DC):
                if self._stale_b(can_id, t, BATTERY_TIMEOUT_MS):
                    return "battery"
            if self._stale_b(ID_55B, t, 2 * BATTERY_TIMEOUT_MS):
                return "battery"
            if self._stale_b(ID_50B, t, 2 * BATTERY_TIMEOUT_MS):
                return "50b"
        return ""

    def _stale_b(self, can_id, t, ms):
        last = self._last_b[can_id]
        return last is None or t - last > ms

    def _since_wake(self, t):
        return t - self._t_wake

    def _ac_known(self, t):
        return not self.startup or self._since_wake(t) >= AC_CLASS_MS

    def _status(self):
        if self.failsafe or not self.plugged:
            return 0
        if self.transition == TRANSITION_NORMAL and self.ac in (AC_110V, AC_230V) and self._ac_known(self.t_ms):
            return CHARGE_CHARGING
        if self.transition == TRANSITION_STOP and self.charged:
            return CHARGE_FINISHED
        return 0

    def _wake(self, send_679):
        was = self.awake
        self.awake = True
        if send_679:
            self._send(ID_679, b"\x00")
        if not was:
            t = self.clock.now_us // 1000 if self.clock is not None else self.t_ms
            self.t_ms = t
            self._t_wake = t
            self._t_cmd = None
            self._t_upd = t
            self._t_tx = t
            self.armed = False
            self.last_1d4 = None
            self.last_1f2 = None
            self.last_vcm = t
            if self.bus is not None and self.clock is not None and self._timer is None:
                self._timer = self.clock.call_later(self.period_ms * 1000, self._on_timer)

    def _sleep(self):
        self.awake = False
        self.out_w = 0.0
        self.armed = False
        self.failsafe = False
        if self._timer is not None and self.clock is not None:
            self.clock.cancel(self._timer)
        self._timer = None

    def _send(self, can_id, data):
        data = bytes(data)
        self.sent[can_id] = self.sent.get(can_id, 0) + 1
        if self.bus is not None:
            self.bus.send(self, can_id, data)
        else:
            self.outbox.append((can_id, data))

    # --- frames -------------------------------------------------------------------------------------------
    def frame_390(self, buf):
        """Fills buf[0:8] with the 390 of the present state (counter n390, checksum by the codec)."""
        p = int(self.out_w) // 100
        if p > 511:
            p = 511
        t = self._since_wake(self.t_ms)
        a = self._avail_raw(t)
        b0 = 0x06 if self.startup and B0_06_MS[0] <= t < B0_06_MS[1] else 0x04
        buf[0] = b0 | (p >> 8)
        buf[1] = p & 0xFF
        buf[2] = 0
        buf[3] = self._byte3(t)
        buf[4] = 0
        buf[5] = 0x80 | ((self.status & 0x3F) << 1) | (a >> 8)
        buf[6] = a & 0xFF
        buf[7] = 0xC0 | ((self.n390 & 3) << 4)
        buf[7] |= nibble_checksum(buf, NIB_390)
        return buf

    def _byte3(self, t):
        # AC class in bits 4..3 (P§3) with the status bits a real PDM shows around it; the start-up steps first.
        ac = self.ac & 3
        final = (0xA0 if ac else 0) | (ac << 3) | 0x03
        if not self.startup:
            return final
        if not self.plugged:
            return 0x00 if t < KEYON_B3_MS else final
        if t >= FINAL_B3_MS:
            return final
        if t >= AC_CLASS_MS:
            return final & 0xFE
        v = 0
        for ms, b in STARTUP_B3:
            if t >= ms:
                v = b
        return v

    def _avail_raw(self, t):
        a = self.avail_w // 100
        if self.startup:
            if t < (AVAIL_3C_MS if self.plugged else KEYON_B3_MS):
                a = 0x3C
            elif not self._ac_known(self.t_ms):
                a = 0
        return a if a <= 511 else 511

    def frame_393(self, buf):
        """Fills buf[0:8] with the 393 (counter n393, checksum by the codec)."""
        buf[0] = 0
        buf[1] = self._byte1_393()
        buf[2] = 0
        buf[3] = 0
        buf[4] = 0x20
        buf[5] = 0
        buf[6] = 0
        buf[7] = (self.n393 & 3) << 4
        buf[7] |= nibble_checksum(buf, NIB_393)
        return buf

    def _byte1_393(self):
        # 0x53 while delivering (DBC comment), else 0x20; the start-up steps 10 -> 51 -> 52 -> 53 (issue 19).
        if self.out_w > 0:
            return 0x53
        if not self.startup:
            return 0x20
        t = self.t_ms
        if not self.plugged:
            return 0x10 if self._since_wake(t) < KEYON_393_MS else 0x20
        if not self._ac_known(t) or self.ac not in (AC_110V, AC_230V):
            return 0x10
        return 0x52 if self._t_cmd is not None else 0x51

    def __repr__(self):
        return "<PdmModel %s awake=%d plugged=%d ac=%d out=%d W fs=%d>" % (
            self.name, self.awake, self.plugged, self.ac, int(self.out_w), self.failsafe)
