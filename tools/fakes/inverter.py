"""A simulated AZE0 ("Gen2") Leaf inverter on the virtual CAN bus: speaks EV-CAN as the real one does and checks
what the controller sends it.

A host model (CPython 3.11 and MicroPython 1.27): floats are fine, per-step work is small. Frames go through the
firmware's codec (leafvcu.frames, as fakes.codec: crc8, decode_1d4 / decode_11a / decode_50b), never a CRC of its
own. Sources: PROTOCOL.md ("P§n") and the real recordings in leaf-can/logs ("ZE0 on-off" = ze0_on-off.log,
"e-NV200" = env200-2015_aze0-era_startup.log, "ZE1 alone" = ze1-inverter-alone_cold-start.log, "ZE0 WOT" =
ze0_full-throttle-in-D.log, "ZE0 reverse" = ze0_reverse-x3-drive-x1.log).

Wiring
    inv = Inverter(clock, bus)                   attaches to the bus (acks while powered), boots powered
    inv = Inverter(clock, bus, power_pin=pin)    12 V follows a fake Pin (e.g. the ignition input)
    inv.v_dc, inv.rpm                            inputs, set by the plant before each step (DC link V, motor rpm)
    inv.step(now_us)                             runs every 10 ms tick due up to now_us (sends 1DA, 55A)
    inv.start()                                  or let it schedule itself on the clock (standalone use)
    inv.torque_nm, inv.discharging               outputs for the plant (effective torque, active discharge on)
    inv.violations, inv.violation_count()        what the controller did wrong (see VIOLATIONS)
    inv.inject(name, value) / inv.restore(name)  INJECTIONS below

What it sends (every 10 ms tick on its own grid: phase_us + k x 10 ms; counter and CRC by the codec)
  * First 1DA BOOT_DELAY_US after power-on (e-NV200: 50B wake 0.072 s, first 1DA 0.232 s), then every 10 ms; 55A
    every 100 ms from the 10th frame on (ZE0 on-off: first 55A 90 ms after the first 1DA).
  * 1DA counter starts at 1 (first frame `FF 00 00 00 7F FE 01 97` in all three logs that show a power-on).
  * Boot markers (ZE0 on-off, e-NV200): frames 0-1 voltage 0xFF; frames 0-3 speed 0x7FFE; frames 4-25 0x7FFF;
    speed valid from frame 26 (260 ms; ZE0 on-off 0.33 -> 0.59 s). Valid speed: byte 4..5 = rpm x 2, bit 0 of
    byte 5 set while a VCM says car ON (every running frame of every log has it; it drops at key-off, ZE0 on-off
    42.73 s). Alone (never heard a VCM) speed reads 0x0000, as the Gen2 bench frame `01 40 00 00 00 00 E0 E9` (P§1).
  * Byte 0..1: DC voltage as the 10-bit 0.5 V reading (byte 0 = V / 2, byte 1 bits 7..6 = the 0.5 V LSBs): both
    published decodings (2 V / bit, DM's 10-bit) read it right.
  * Byte 2 bits 7..3 status, not documented anywhere; reproduced as seen: 0 while booting, 0x18 while the DC link
    is above UDC_MIN_V and the VCM says car ON (ZE0 on-off 0.97-1.11 s, e-NV200 1.26 s, P§3 example
    `C8 32 18 ..`), 0x20 during the active discharge after key-off (ZE0 on-off 42.80-44.34 s). Bits 2..0 + byte 3:
    effective torque, 0.5 Nm.
  * Byte 6 error bits (names are this model's; no source decodes them):
      ERR_NO_VCM 0x60  no VCM frame heard ALONE_ERR_US after power-on (ZE1 alone: 0x60 from 0.61 s)
      ERR_COMM   0x80  no VCM frame BOOT_CAN_TIMEOUT_US after power-on (DBC: "CAN messages not detected within 2s
                       after poweron"; ZE1 alone: 2.81 s; Gen2 alone E0..E3, P§1), or a receive fault (below)
      ERR_HV     0x10  the 1D4 reports precharging / precharged but the DC link stays below UDC_MIN_V for
                       HV_MISSING_US (DBC: "HV missing (180V within 10s)"); bit chosen inside the references'
                       0xB0 fault mask
    With a VCM talking properly the byte is 0 (every frame of the ZE0 and e-NV200 logs).
  * Active discharge (`discharging`, for the HV model): after a VCM that said car ON says car OFF (or sleeps) and
    the 1D4 precharge report is no longer "precharged", down to DISCHARGE_STOP_V (ZE0 on-off: 11A OFF at 42.75 s,
    392 V -> 36 V by 44.44 s, byte 2 = 0x20 meanwhile).

What it checks (VIOLATIONS: every one is counted in `violations` and logged in `violation_log` with its time)
  crc_11a, crc_1d4            CRC-8 wrong (frames.crc_ok): the frame is ignored, and so is the next frame's counter
                              (the corrupt frame used up one)
  counter_11a, counter_1d4    counter not previous + 1 (P§1: every transmitter steps by one; the first frame of
                              a session passes). A repeated counter is frozen data (the DBC's receiver rule): the
                              frame is ignored too
  dlc_11a, dlc_1d4, dlc_50b   wrong length: ignored
  timeout_11a, timeout_1d4    no good frame for RX_TIMEOUT_US (one count per gap; a late frame that a tick missed
  timeout_50b                 is counted when it arrives); 50B: RX_TIMEOUT_50B_US
  torque_limit                request beyond the 1D4 limit bytes: motoring (along the inhibitor's direction) over
                              byte 0 x 2.5 Nm, braking over byte 1 x 2.5 Nm (ZE0 reverse: -40 Nm motoring in R with
                              a 17.5 Nm lower limit, so the limits are per direction). Clamped to the limit
  torque_not_ready            a non-zero request while the same 1D4 says P or not precharged, or 11A says car OFF,
                              or no 50B wake: refused
  gear_11a (strict)           a non-zero request in D / R (1D4 byte 5) while 11A's gear says otherwise (real VCMs send
                              them together: 4E with 44, 2E with 42): refused
  inhibit_1d4 (strict)        a non-zero request while 1D4 byte 6 bit 6 asks to inhibit a shift (real VCMs set
                              0x40 / 0x60 / 0xE0 only while waking and precharging): refused
  (the evidence for these two is thin: the recordings show the VCM's frames agreeing, not the inverter's answer
  to a disagreement; strict=False checks neither)
Sessions: the checks arm at the first good 11A / 1D4 after power-on (or a 50B wake after a sleep) and disarm when
a 50B says sleep (all zero), so a VCM that goes quiet after saying goodbye is not a timeout. A receive fault
(any timeout) refuses torque and raises ERR_COMM until good traffic has flowed for RECOVER_US (choice: the logs
never show recovery). Single bad frames are counted and ignored, not faults: the timeout decides, as receivers do.

Torque: effective torque follows the 1D4 request (clamped to its limits) with a first-order lag TAU_TORQUE_US
(ZE0 WOT: 1DA trails a ramped request by ~2 frames), limited to T_MAX_NM (P§2: the inverter stops at about
250-280 Nm; ZE0 WOT: 280 Nm request, 278-284 Nm effective), P_MAX_W motoring / P_REGEN_MAX_W braking over speed,
nothing motoring beyond RPM_MAX; and only while the request may be obeyed (`why` says what is missing: "" = ready):
powered and booted, a VCM heard, no receive fault, no injected error, in session, 50B awake, 11A car ON, 1D4
precharged (nibble 7), inhibitor D or R (byte 5), UDC_MIN_V <= DC link <= UDC_MAX_V (P§4: 180 V, C55). Otherwise
the power stage is off: torque 0 at once.

Temperatures (55A, DM/ZV reading: byte 1 motor, byte 2 inverter, degF; byte 4 the DBC's motor at 0.5 degC): a
first-order model of the losses (1 - EFF of the mechanical power); `inject("overtemp", degC)` holds the inverter
temperature.
"""

import math

from fakes import codec as fr  # the firmware's codec (fakes/codec.py says why this name)

PERIOD_US = 10000
BOOT_DELAY_US = 160000
FIRST_COUNTER = 1
BOOT_FF_FRAMES = 2
BOOT_7FFE_FRAMES = 4
BOOT_7FFF_FRAMES = 26
FRAMES_55A = 10
FIRST_55A = 9
ALONE_ERR_US = 600000
BOOT_CAN_TIMEOUT_US = 2000000
RX_TIMEOUT_US = 50000  # 11A and 1D4: five periods (choice; no source gives the inverter's own timeout)
RX_TIMEOUT_50B_US = 500000  # 50B: five periods (choice)
RECOVER_US = 200000  # good traffic needed after a receive fault before torque is obeyed again (choice)
VCM_LOSS_US = 1900000  # VCM frames lost this long before 1DA byte 6 says 0x80 (real ZE0 inverters: 1.8-2.0 s
#                        after 11A stopped in 10 of 10 logs, 2.7 s in one; issue 19)
HV_STATUS_DELAY_US = 10000  # 1DA byte 2 0x08 -> 0x18 this long after the 1D4 nibble says 7 (real: 10-20 ms)
HV_MISSING_US = 10000000
UDC_MIN_V = 180.0
UDC_MAX_V = 450.0  # over-voltage cut-off (guess; the pack's own maximum is 403 V)
T_MAX_NM = 280.0
P_MAX_W = 80000.0
P_REGEN_MAX_W = 50000.0  # guess
RPM_MAX = 10500.0
TAU_TORQUE_US = 25000
DISCHARGE_STOP_V = 36.0
PHASE_US = 7000

ERR_NO_VCM = 0x60
ERR_COMM = 0x80
ERR_HV = 0x10
STATUS_HV = 0x18
STATUS_HV_PRESENT = 0x08  # HV on the DC link, the VCM not yet reporting precharged (issue 19)
STATUS_DISCHARGE = 0x20
B1_RUNNING = 0x32  # 1DA byte 1 bits 5..0 once the VCM's precharge is acknowledged (status 0x18): AZE0-era e-NV200
#                    32/72 (bit 6 toggles), ZE0 64; 00/40 before and after (issue 19; bit 7 is never set)
# 55A bytes 6 / 7 through the start-up (ZE0 on-off and 2019 logs, from the first 55A): byte 6 3A -> 42 (300 ms)
# -> 4A (HV present, 1DA status 0x08) -> 5A (precharge acknowledged, 0x18) -> 5B (the next 55A); byte 7 A8 -> C8
# (300 ms) -> 48 (with 5B). The e-NV200 (first 55A after READY) shows only 5B / 48. Byte 4 is never below 0x5F.
B55A_6 = (0x3A, 0x42, 0x4A, 0x5A, 0x5B)
B55A_7 = (0xA8, 0xC8, 0x48)
B55A_4_MIN = 0x5F

# Thermal model (guesses): a share of the losses into each part, thermal resistance K/W, time constant s.
EFF = 0.90
INV_SHARE, INV_RTH, INV_TAU = 0.4, 0.02, 60.0
MOT_SHARE, MOT_RTH, MOT_TAU = 0.6, 0.02, 600.0
AMBIENT_C = 20.0

VIOLATIONS = ("crc_11a", "crc_1d4", "counter_11a", "counter_1d4", "dlc_11a", "dlc_1d4", "dlc_50b", "timeout_11a",
              "timeout_1d4", "timeout_50b", "torque_limit", "torque_not_ready", "nibble_order",
              "relay_in_discharge", "gear_11a", "inhibit_1d4")
# name: (what it does, default value or None)
INJECTIONS = {
    "mute": ("stops sending (1DA, 55A); still receives and acks", None),
    "frozen": ("repeats its last 1DA byte for byte (counter stuck)", None),
    "bad_crc": ("1DA CRC byte wrong", None),
    "vinvalid": ("1DA voltage byte 0xFF (the boot marker) while running", None),
    "error": ("error bits in 1DA byte 6 (value, in place; default 0x80); refuses torque", 0x80),
    "overtemp": ("holds the inverter temperature at value degC (default 90)", 90.0),
    "off": ("loses its 12 V supply: silent, no ack, state lost", None),
}
VLOG_MAX = 1000

_ID_11A = 0x11A
_ID_1D4 = 0x1D4
_ID_1DA = 0x1DA
_ID_50B = 0x50B
_ID_55A = 0x55A
_RPM_PER_RADS = 60.0 / (2.0 * math.pi)


def _deg_f(c):
    f = int(c * 1.8 + 32.5)
    return 0 if f < 0 else (255 if f > 255 else f)


class Inverter:
    """See the module docstring. clock: fakes.clock.VirtualClock; bus: fakes.canbus.VirtualCANBus or None;
    powered: 12 V at construction when there is no power_pin; power_pin: a fake Pin whose level is the 12 V;
    phase_us: offset of the 10 ms tick grid."""

    def __init__(self, clock, bus=None, powered=True, power_pin=None, phase_us=PHASE_US, strict=True):
        self.clock = clock
        self.strict = strict
        self.bus = bus
        self.phase_us = phase_us
        self.rx_timeout_us = RX_TIMEOUT_US
        self.rx_timeout_50b_us = RX_TIMEOUT_50B_US
        self.recover_us = RECOVER_US
        self.t_max_nm = T_MAX_NM  # the machine's torque and power (a ZE1 model sets its own: fakes/ze1.py)
        self.p_max_w = P_MAX_W
        # plant inputs
        self.v_dc = 0.0
        self.rpm = 0.0
        self.ambient_c = AMBIENT_C
        # outputs
        self.torque_nm = 0.0
        self.target_nm = 0.0
        self.request_nm = 0.0  # the last good 1D4 request, clamped to its limits
        self.errors = 0  # 1DA byte 6 bits 7..2 in place
        self.status = 0  # 1DA byte 2 bits 7..3
        self.why = "off"
        self.discharging = False
        self.inverter_c = AMBIENT_C
        self.motor_c = AMBIENT_C
        self.violations = {}
        for v in VIOLATIONS:
            self.violations[v] = 0
        self.violation_log = []  # (t_us, name), the first VLOG_MAX
        self.injected = {}
        self.sent = 0
        self.received = 0
        self.sessions = 0
        # received state (the codec's message objects)
        self.r1d4 = fr.TorqueRequest()
        self.r11a = fr.VcmState()
        self.r50b = fr.VcmWake()
        self._b1da = bytearray(8)
        self._b55a = bytearray(8)
        self._last1da = None
        self._alpha = 1.0 - math.exp(-PERIOD_US / TAU_TORQUE_US)
        self._timer = None
        self._auto = False
        self.powered = False
        self._dead = False
        self._supply = bool(powered)
        self._next = -1
        self._reset_state(clock.now_us)
        if power_pin is not None:
            self._supply = power_pin.value() == 1
            power_pin.watch(self._on_power_pin)
        if bus is not None:
            bus.attach(self)
        self._power_changed()

    # --- bus node -------------------------------------------------------------------------------------------
    @property
    def acks(self):
        return self.powered

    def on_frame(self, t_us, can_id, data, sender):
        if not self.powered:
            return
        if can_id == _ID_1D4:
            self._rx_1d4(t_us, data)
        elif can_id == _ID_11A:
            self._rx_11a(t_us, data)
        elif can_id == _ID_50B:
            self._rx_50b(t_us, data)

    # --- power ----------------------------------------------------------------------------------------------
    def set_power(self, on):
        """The 12 V supply (key / relay) on or off."""
        self._supply = bool(on)
        self._power_changed()

    def _on_power_pin(self, level):
        self.set_power(level == 1)

    def _power_changed(self):
        p = self._supply and not self._dead
        if p == self.powered:
            return
        self.powered = p
        now = self.clock.now_us
        self._reset_state(now)
        if p:
            self._next = self._grid(now + BOOT_DELAY_US)
            self.why = "booting"
        else:
            self._next = -1
            self.why = "off"
        if self._auto:
            self._schedule()

    def _reset_state(self, now):
        self._t_on = now
        self._k = 0
        self._n = FIRST_COUNTER
        self._heard = False
        self._session = False
        self._asleep = False
        self._awake50b = False
        self._car_on = False
        self._on_seen = False
        self._t11a = now
        self._t1d4 = now
        self._t50b = now
        self._to11a = False
        self._to1d4 = False
        self._to50b = False
        self._p11a = -1
        self._p1d4 = -1
        self._comm = False
        self._comm_t = now
        self._loss_t = now
        self._pnib = -1
        self._t7 = -1
        self._hv_low = -1
        self._last1da = None
        self._s55a = 0
        self.torque_nm = 0.0
        self.target_nm = 0.0
        self.request_nm = 0.0
        self.discharging = False
        self.errors = 0
        self.status = 0
        self.r1d4 = fr.TorqueRequest()
        self.r11a = fr.VcmState()
        self.r50b = fr.VcmWake()

    def _grid(self, t):
        # First tick time >= t on the grid phase_us + m x PERIOD_US.
        m = (t - self.phase_us + PERIOD_US - 1) // PERIOD_US
        return self.phase_us + m * PERIOD_US

    # --- faults ---------------------------------------------------------------------------------------------
    def inject(self, name, value=None):
        if name not in INJECTIONS:
            raise ValueError("unknown inverter injection %s" % name)
        if value is None:
            value = INJECTIONS[name][1]
        self.injected[name] = value
        if name == "off":
            self._dead = True
            self._power_changed()

    def restore(self, name):
        self.injected.pop(name, None)
        if name == "off":
            self._dead = False
            self._power_changed()

    # --- violations -----------------------------------------------------------------------------------------
    def _violate(self, t, name):
        self.violations[name] += 1
        if len(self.violation_log) < VLOG_MAX:
            self.violation_log.append((t, name))

    def violation_count(self):
        """Every protocol violation seen since construction."""
        n = 0
        for k in self.violations:
            n += self.violations[k]
        return n

    def clear_violations(self):
        for k in self.violations:
            self.violations[k] = 0
        del self.violation_log[:]

    # --- receive --------------------------------------------------------------------------------------------
    def _vcm(self, t):
        # A good VCM frame: heard; arm the checks unless a 50B said sleep.
        self._heard = True
        if not self._session and not self._asleep:
            self._arm(t)

    def _arm(self, t):
        self._session = True
        self.sessions += 1
        self._t11a = t
        self._t1d4 = t
        self._t50b = t
        self._to11a = False
        self._to1d4 = False
        self._to50b = False
        self._p11a = -1
        self._p1d4 = -1

    def _rx_1d4(self, t, d):
        self.received += 1
        if len(d) != 8:
            self._violate(t, "dlc_1d4")
            return
        if not fr.crc_ok(d):
            self._violate(t, "crc_1d4")
            self._p1d4 = -1  # its counter is unknown: the next frame's counter is not checked
            return
        self._vcm(t)
        n = d[4] >> 6
        p = self._p1d4
        self._p1d4 = n
        if p >= 0 and n != ((p + 1) & 3):
            self._violate(t, "counter_1d4")
            if n == p:
                return
        fr.decode_1d4(d, self.r1d4)
        self._nibble(t)
        if self._session:
            if self._to1d4:
                self._to1d4 = False
                self._comm_t = t
            elif t - self._t1d4 > self.rx_timeout_us:
                self._late(t, "timeout_1d4")
        self._t1d4 = t
        self._check_request(t)

    def _nibble(self, t):
        # The 1D4 precharge report. Strict: after 7 only 5, after 5 only 0 (real VCMs, 10 of 10 shutdowns: 7 -> 5
        # -> 0, never 3 after HV), and 5 (this inverter's cue to discharge) with the relay bit clear.
        r = self.r1d4
        n = r.precharge
        p = self._pnib
        self._pnib = n
        if n == fr.PRECHARGED:
            if self._t7 < 0:
                self._t7 = t
        else:
            self._t7 = -1
        if not self.strict:
            return
        if p != n and ((p == fr.PRECHARGED and n != fr.DISCHARGE) or (p == fr.DISCHARGE and n != fr.SHUT_OFF)):
            self._violate(t, "nibble_order")
        if n == fr.DISCHARGE and r.relay:
            self._violate(t, "relay_in_discharge")

    def _rx_11a(self, t, d):
        self.received += 1
        if len(d) != 8:
            self._violate(t, "dlc_11a")
            return
        if not fr.crc_ok(d):
            self._violate(t, "crc_11a")
            self._p11a = -1
            return
        self._vcm(t)
        n = d[6] & 3
        p = self._p11a
        self._p11a = n
        if p >= 0 and n != ((p + 1) & 3):
            self._violate(t, "counter_11a")
            if n == p:
                return
        fr.decode_11a(d, self.r11a)
        self._car_on = self.r11a.onoff == fr.CAR_ON
        if self._car_on:
            self._on_seen = True
        if self._session:
            if self._to11a:
                self._to11a = False
                self._comm_t = t
            elif t - self._t11a > self.rx_timeout_us:
                self._late(t, "timeout_11a")
        self._t11a = t

    def _rx_50b(self, t, d):
        self.received += 1
        n = len(d)
        if n != 6 and n != 7:
            self._violate(t, "dlc_50b")
            return
        fr.decode_50b(d, self.r50b, n)
        self._heard = True
        if self.r50b.wake == 0:
            # Sleep: the VCM says goodbye; stop expecting frames until it wakes us again.
            self._awake50b = False
            if self._session:
                self._session = False
                self._to11a = False
                self._to1d4 = False
                self._to50b = False
            self._asleep = True
            return
        self._awake50b = True
        self._asleep = False
        if not self._session:
            self._arm(t)
        elif self._to50b:
            self._to50b = False
            self._comm_t = t
        elif t - self._t50b > self.rx_timeout_50b_us:
            self._late(t, "timeout_50b")
        self._t50b = t

    def _late(self, t, name):
        # A frame that came after its timeout without a tick noticing the gap.
        self._violate(t, name)
        self._comm = True
        self._comm_t = t

    def _check_request(self, t):
        r = self.r1d4
        req = r.torque_raw * 0.25
        inh = r.inhibitor
        d = 1 if inh == fr.INHIBIT_D else (-1 if inh == fr.INHIBIT_R else 0)
        ready50 = self.r50b.activation == fr.ACTIVATION_READY or not self.strict
        if req != 0.0 and (d == 0 or r.precharge != fr.PRECHARGED or not self._car_on or not self._awake50b
                           or not ready50):
            self._violate(t, "torque_not_ready")
        elif req != 0.0 and self.strict and not self._agrees(d, r):
            req = 0.0
        if d != 0:
            m = req * d
            up = r.upper_raw * 2.5
            lo = r.lower_raw * 2.5
            if m > up:
                self._violate(t, "torque_limit")
                m = up
            elif m < -lo:
                self._violate(t, "torque_limit")
                m = -lo
            req = m * d
        self.request_nm = req

    def _agrees(self, d, r):
        # Strict: 11A's gear agrees with the 1D4 inhibitor, and the 1D4 does not ask to inhibit a shift.
        t = self.clock.now_us
        if self.r11a.gear != (fr.GEAR_D if d > 0 else fr.GEAR_R):
            self._violate(t, "gear_11a")
            return False
        if r.status & 0x40:
            self._violate(t, "inhibit_1d4")
            return False
        return True

    # --- time -----------------------------------------------------------------------------------------------
    def step(self, now_us):
        """Runs every tick due up to now_us (each sends its 1DA at the clock's present time)."""
        while self.powered and self._next <= now_us:
            t = self._next
            self._next = t + PERIOD_US
            self._tick(t)

    def start(self):
        """Standalone use: tick by itself on the clock (the plant calls step() instead)."""
        self._auto = True
        self._schedule()

    def stop(self):
        self._auto = False
        self.clock.cancel(self._timer)
        self._timer = None

    def _schedule(self):
        self.clock.cancel(self._timer)
        self._timer = None
        if self.powered:
            self._timer = self.clock.call_at(self._next, self._on_timer)

    def _on_timer(self):
        self._timer = None
        self.step(self.clock.now_us)
        if self._auto:
            self._schedule()

    def _tick(self, t):
        k = self._k
        self._k = k + 1
        self._supervise(t)
        self._torque()
        self._thermal()
        self._send_1da(k)
        if k % FRAMES_55A == FIRST_55A:
            self._send_55a()

    def _supervise(self, t):
        if self._session:
            if not self._to1d4 and t - self._t1d4 > self.rx_timeout_us:
                self._to1d4 = True
                self._violate(t, "timeout_1d4")
            if not self._to11a and t - self._t11a > self.rx_timeout_us:
                self._to11a = True
                self._violate(t, "timeout_11a")
            if not self._to50b and t - self._t50b > self.rx_timeout_50b_us:
                self._to50b = True
                self._violate(t, "timeout_50b")
        if self._to1d4 or self._to11a or self._to50b:
            if not self._comm:
                self._loss_t = t
            self._comm = True
            self._comm_t = t
        elif self._comm and t - self._comm_t >= self.recover_us:
            self._comm = False
        e = 0
        if not self._heard:
            up = t - self._t_on
            if up >= ALONE_ERR_US:
                e |= ERR_NO_VCM
            if up >= BOOT_CAN_TIMEOUT_US:
                e |= ERR_COMM
        if self._comm and t - self._loss_t >= VCM_LOSS_US:
            e |= ERR_COMM  # torque is refused from the timeout on; the error bit only after the real tolerance
        v = self.v_dc
        if self._session and (self.r1d4.precharge & 3) == 3 and v < UDC_MIN_V:
            if self._hv_low < 0:
                self._hv_low = t
            if t - self._hv_low >= HV_MISSING_US:
                e |= ERR_HV
        else:
            self._hv_low = -1
        inj = self.injected.get("error")
        if inj is not None:
            e |= int(inj) & 0xFC
        self.errors = e
        # active discharge after key-off. Strict: only once the 1D4 says 5 or 0 (real: the link falls right after
        # 5); lenient: as soon as it no longer says 7 (also during a 3).
        pc = self.r1d4.precharge
        cue = pc == fr.DISCHARGE or pc == fr.SHUT_OFF if self.strict else pc != fr.PRECHARGED
        self.discharging = (self._on_seen and (not self._car_on or not self._session or self.strict)
                            and cue and v > DISCHARGE_STOP_V)
        if self._k <= BOOT_7FFF_FRAMES:
            self.status = 0
        elif self.discharging:
            self.status = STATUS_DISCHARGE
        elif self._car_on and self._session and v >= UDC_MIN_V:
            # 0x08 with HV present, 0x18 only HV_STATUS_DELAY_US after the VCM reported precharged (issue 19)
            t7 = self._t7
            self.status = STATUS_HV if t7 >= 0 and t - t7 >= HV_STATUS_DELAY_US else STATUS_HV_PRESENT
        else:
            self.status = 0
        self.why = self._why(v)

    def _why(self, v):
        if "error" in self.injected:
            return "error"
        if self._comm:
            return "comm"
        if not self._heard:
            return "no_vcm"
        if self._k <= BOOT_7FFF_FRAMES:
            return "booting"
        if not self._session:
            return "asleep"
        if not self._awake50b:
            return "no_50b"
        if not self._car_on:
            return "car_off"
        r = self.r1d4
        if r.precharge != fr.PRECHARGED:
            return "precharge"
        if r.inhibitor != fr.INHIBIT_D and r.inhibitor != fr.INHIBIT_R:
            return "park"
        if v < UDC_MIN_V:
            return "undervolt"
        if v > UDC_MAX_V:
            return "overvolt"
        return ""

    def _torque(self):
        if self.why:
            self.target_nm = 0.0
            self.torque_nm = 0.0
            return
        t = self.request_nm
        tm = self.t_max_nm
        if t > tm:
            t = tm
        elif t < -tm:
            t = -tm
        rpm = self.rpm
        w = (rpm if rpm > 0.0 else -rpm) / _RPM_PER_RADS
        if w > 1.0 and t != 0.0:
            motoring = (t > 0.0) == (rpm > 0.0)
            if motoring and w * _RPM_PER_RADS >= RPM_MAX:
                t = 0.0
            else:
                lim = (self.p_max_w if motoring else P_REGEN_MAX_W) / w
                if t > lim:
                    t = lim
                elif t < -lim:
                    t = -lim
        self.target_nm = t
        q = self.torque_nm + (t - self.torque_nm) * self._alpha
        if t == 0.0 and -0.1 < q < 0.1:
            q = 0.0
        self.torque_nm = q

    def _thermal(self):
        dt = PERIOD_US * 1e-6
        p = self.torque_nm * self.rpm / _RPM_PER_RADS
        loss = (p if p > 0.0 else -p) * (1.0 - EFF)
        amb = self.ambient_c
        held = self.injected.get("overtemp")
        if held is not None:
            self.inverter_c = float(held)
        else:
            self.inverter_c += (amb + loss * INV_SHARE * INV_RTH - self.inverter_c) * dt / INV_TAU
        self.motor_c += (amb + loss * MOT_SHARE * MOT_RTH - self.motor_c) * dt / MOT_TAU

    # --- send -----------------------------------------------------------------------------------------------
    def _send_1da(self, k):
        inj = self.injected
        if "frozen" in inj and self._last1da is not None:
            b = self._last1da
        else:
            b = self._b1da
            if k < BOOT_FF_FRAMES or "vinvalid" in inj:
                b[0] = 0xFF
                b[1] = 0
            else:
                v = int(self.v_dc * 2.0 + 0.5)
                if v > 1019:
                    v = 1019  # byte 0 0xFF means invalid
                elif v < 0:
                    v = 0
                b[0] = v >> 2
                # bit 6: the 0.5 V step (it toggles as the real one's; bit 7 never set), bits 5..0 the running mark
                b[1] = ((v & 1) << 6) | (B1_RUNNING if self.status == STATUS_HV else 0)
            q = self.torque_nm * 2.0
            q = int(q + 0.5) if q >= 0.0 else -int(-q + 0.5)
            if q > 1023:
                q = 1023
            elif q < -1024:
                q = -1024
            q &= 0x7FF
            b[2] = self.status | (q >> 8)
            b[3] = q & 0xFF
            if k < BOOT_7FFE_FRAMES:
                s = 0x7FFE
            elif k < BOOT_7FFF_FRAMES:
                s = 0x7FFF
            elif self._heard:
                r = self.rpm
                r = int(r + 0.5) if r >= 0.0 else -int(-r + 0.5)
                if r > 16383:
                    r = 16383
                elif r < -16383:
                    r = -16383
                s = ((r << 1) & 0xFFFF) | (1 if self._car_on else 0)
            else:
                s = 0
            b[4] = s >> 8
            b[5] = s & 0xFF
            b[6] = self.errors | self._n
            self._n = (self._n + 1) & 3
            b[7] = fr.crc8(b)
            if "bad_crc" in inj:
                b[7] ^= 0x5A
            self._last1da = b
        if "mute" not in inj and self.bus is not None:
            self.bus.send(self, _ID_1DA, b)
            self.sent += 1

    def _send_55a(self):
        b = self._b55a
        m = self.motor_c
        b[0] = 0
        b[1] = _deg_f(m)
        b[2] = _deg_f(self.inverter_c)
        b[3] = 0
        m = B55A_4_MIN + int((m - self.ambient_c) * 2.0 + 0.5)
        b[4] = B55A_4_MIN if m < B55A_4_MIN else (255 if m > 255 else m)
        b[5] = 0
        self._step_55a()
        b[6] = B55A_6[self._s55a]
        b[7] = B55A_7[0 if self._s55a == 0 else (1 if self._s55a < 4 else 2)]
        if "mute" not in self.injected and self.bus is not None:
            self.bus.send(self, _ID_55A, b)
            self.sent += 1

    def _step_55a(self):
        # The start-up steps of bytes 6 / 7 (B55A_6), at most one per 55A: by time since the first 55A, then by the
        # 1DA status.
        s = self._s55a
        st = self.status
        if s == 0:
            if self._k >= FIRST_55A + 30:
                s = 1
        elif s == 1:
            if st == STATUS_HV_PRESENT:
                s = 2
            elif st == STATUS_HV:
                s = 3
        elif s == 2:
            if st == STATUS_HV:
                s = 3
        elif s == 3:
            s = 4
        self._s55a = s

    def __repr__(self):
        return "<Inverter %s %.1f Nm why=%r errors=0x%02X>" % (
            "on" if self.powered else "off", self.torque_nm, self.why, self.errors)
