"""The battery device: a real battery's own view of itself (voltage, current, SOC, limits, alarms) read off the bus.

Two profiles beside the spoofed battery (parameter `bmsdev`; docs/bms.md):
  LEAF   a real Leaf battery on the EV-CAN bus (its LBC sends 1DB / 1DC / 55B itself; the controller sends none of
         them: `spoof 0`). Read: 1DB voltage, current, SOC, relay-cut request; 1DC discharge / charge (regen) /
         charger power limits; 55B SOC in 0.1 %.
  CAN35X a CAN BMS speaking the "SMA / Victron / Pylontech" set (SimpBMS, Orion BMS 2 in its Victron setting,
         Battery-Emulator, Pylontech-style packs) on the same EV-CAN bus at 500 kbit/s (PROTOCOL.md section 7;
         "P§7"). Read: 351 limits, 355 SOC, 356 voltage / current / temperature, 35A alarms, 35C Pylontech
         enable flags, 373 cell extremes. The spoofed 1DB / 1DC the inverter and PDM see then carry these values.

Three parts, each allocation-free on the hot path (tests/cross/test_bms_alloc.py):
  rx(can_id, buf, dlc)   the shell's on_frame hands every frame of rx_ids(profile) here: decoders into this
                         object's preallocated fields (and the codec's BatteryStatus / BatteryLimits / BatterySoc for
                         the Leaf battery); returns True when the id was this device's.
  step(now_ms)           supervision (freshness of the limits frame against `bmsto`, alarms sorted into what they
                         stop) and the limits published into the core's Inputs, every 10 ms before the core decides:
                             inp.bms_state  S_NONE / S_WAIT / S_OK / S_LOST
                             inp.bms_ilim   charge current limit, A, for the charger (-1: no battery device)
                             inp.bms_dclw   drive power limit, W (-1: none)      -> torque via cap()
                             inp.bms_cclw   regen power limit, W (-1: none)      -> regen torque via cap()
                             inp.bms_vmax   charge voltage limit, V (-1: none)   -> the charger's target and taper
                             inp.bms_full   the battery takes no charge (charge limit 0 or disabled): charge done
  cap(t, w, rpm, eff)    the pure limit: a torque (1D4 raw, 0.25 Nm) no higher than power w at motor speed rpm.

What the core does with them (vcm.py `_bms_check`, docs/bms.md, the hazard table in docs/safety.md): no start
while the battery is not S_OK; an A_STOP alarm is a fault (BMS_ALARM) in any HV mode; in a charge session a
silent battery (BMS_LOST) or an A_CHG alarm is a fault; while driving a silent battery is a limp (drive power
`bmslimp` kW, regen 0, logged once as BMS_LIMP) until the key goes off, and no new start until it talks again.

Decisions where P§7 / P§8 leave a choice (docs/bms.md gives the reasons):
  351  signed 16-bit currents; a negative limit counts as 0 (a sender that writes discharge as a negative number
       then gets no drive: safe and loud). Majority layout only (not Battery-Emulator's big-endian SMA-LV).
  355  SOC from bytes 0-1 (1 %, every sender) by default; `bmssocr` picks bytes 4-5 at 0.1 % or 0.01 %.
  356  voltage unsigned (to 655.35 V), 0.01 V or 0.1 V (`bmsvres`); current sign `bmsisgn`.
  35A  bit-pair polarity `bmsapol`: 0 (default) SimpBMS / ESPHome, a pair's low bit set = active; 1 Safiery, 10 =
       active, 01 = OK. The default is the loud one: a Safiery-style sender's "01 OK" reads as every alarm active
       (no start), while the other mistake would hide real alarms. Warnings (bytes 4-7) are shown, not acted on.
  359  (Pylontech's own alarms) is not read; 35C is (its enable bits zero the matching limit once seen).
Freshness: 351 (the limits) for the CAN BMS (SAF: an inverter stops when 351 is missing 3 s), 1DB for the Leaf
battery; counted like 1DA in vcm.py (the decoder counts frames, the step watches the count move).
"""

from leafvcu.compat import ticks_diff
from leafvcu import frames as fr

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


# Profiles (parameter bmsdev)
P_NONE = const(0)
P_LEAF = const(1)
P_CAN35X = const(2)
PROFILE_NAMES = ("none", "leaf", "can35x")

# States (inp.bms_state)
S_NONE = const(0)  # no battery device configured (the spoofed battery's fixed values)
S_WAIT = const(1)  # configured, limits never heard
S_OK = const(2)  # limits fresh
S_LOST = const(3)  # heard, then silent for longer than bmsto
STATE_NAMES = ("none", "waiting", "ok", "lost")

# What an alarm stops (bms.alarm, a bit set)
A_CHG = const(1)  # current into the pack: regen 0, charger 0; a fault in a charge session
A_DIS = const(2)  # current out of the pack: drive torque 0
A_STOP = const(4)  # the battery wants its contactors open: a fault in any HV mode

RX_IDS_35X = (0x351, 0x355, 0x356, 0x35A, 0x35C, 0x373)
RX_IDS_LEAF = (0x1DB, 0x1DC, 0x55B)

# 35A bytes 0-3 (alarms) and 4-7 (warnings): a 2-bit pair per condition, in this order (P§7.2). What each alarm
# stops: general, high voltage, low voltage, high temperature, low temperature, high temperature while charging,
# low temperature while charging, high discharge current, high charge current, contactor, short circuit, BMS
# internal, cell imbalance (an overcharged cell is the risk: charge side).
_PAIRS = const(13)
_CLASS = bytes((A_STOP, A_CHG, A_DIS, A_CHG | A_DIS, A_CHG | A_DIS, A_CHG, A_CHG, A_DIS, A_CHG, A_STOP, A_STOP,
                A_STOP, A_CHG))
ALARM_NAMES = ("general", "high_voltage", "low_voltage", "high_temp", "low_temp", "high_temp_charging",
               "low_temp_charging", "high_discharge_current", "high_charge_current", "contactor", "short_circuit",
               "bms_internal", "cell_imbalance")

_W_MAX = const(2000000)  # power limits are clipped here (2 MW) so that cap() stays within small ints
_RPM_FLOOR = const(100)  # cap() at standstill: the power a 100 rpm motor would turn into torque (then maxtrq caps)
_K_TORQUE = const(382)  # 1D4 raw per (W / rpm) x 10: 4 raw/Nm x 60 / (2 pi) = 38.2


def cap(t, w, rpm, eff):
    """t (1D4 raw, >= 0) capped so that the motor turns no more than w watts (eff % of them: the motor and
    inverter's efficiency) into mechanical power at |rpm| (at least _RPM_FLOOR). w < 0: no limit, t unchanged."""
    if w < 0:
        return t
    if rpm < 0:
        rpm = -rpm
    if rpm < _RPM_FLOOR:
        rpm = _RPM_FLOOR
    if w > _W_MAX:
        w = _W_MAX
    c = w * eff // 100 * _K_TORQUE // (10 * rpm)
    return c if c < t else t


def alarm_bits(buf, off, pol):
    """The 13-bit set of active conditions in the 35A bytes off..off+3 (pair k -> bit k). pol: bmsapol."""
    if not pol and not (buf[off] | buf[off + 1] | buf[off + 2] | buf[off + 3]):
        return 0  # the usual frame (nothing active), without the pair loop
    a = 0
    k = 0
    while k < _PAIRS:
        v = (buf[off + (k >> 2)] >> ((k & 3) << 1)) & 3
        if (v == 2) if pol else (v & 1):
            a |= 1 << k
        k += 1
    return a


def alarm_class(bits):
    """What a set of active alarm conditions stops (A_* bits)."""
    if not bits:
        return 0
    c = 0
    k = 0
    while k < _PAIRS:
        if (bits >> k) & 1:
            c |= _CLASS[k]
        k += 1
    return c


def rx_ids(profile):
    """The ids the shell must admit for a profile (a tuple; () for none)."""
    if profile == P_CAN35X:
        return RX_IDS_35X
    if profile == P_LEAF:
        return RX_IDS_LEAF
    return ()


def _u16(b, i):
    return b[i] | (b[i + 1] << 8)


def _s16(b, i):
    v = b[i] | (b[i + 1] << 8)
    return v - ((v & 0x8000) << 1)


class Bms:
    """The battery device. Decoded fields (ints; -1 = never received): v10 (pack V x 10), i10 (A x 10, + into the
    pack), soc10 (% x 10), soh, t10 (degC x 10), cvl10 / dvl10 (V x 10), ccl10 / dcl10 (A x 10), cmin / cmax
    (cell mV), tmin / tmax (degC), alarm_bits / warn_bits (35A conditions, bit k = ALARM_NAMES[k]), en35c (35C
    byte 0, -1 never). Supervision: state (S_*), age (ms since the limits frame, -1 never), alarm (A_* of the
    active conditions, 35C, the Leaf relay-cut request), frames / bad (frames taken / refused for DLC).
    Published: see the module text (into inp); also drv_w / rgn_w / chg_a (the same values, for the console)."""

    def __init__(self, params, inp, inv, now_ms=0):
        self.p = params
        self.inp = inp
        self.inv = inv
        self.s1db = fr.RawBatteryStatus()
        self.s1dc = fr.RawBatteryLimits()
        self.s55b = fr.RawBatterySoc()
        self.frames = 0
        self.bad = 0
        self.n_lim = 0  # limits frames taken (351, or 1DB for the Leaf battery): freshness
        self._forget()
        self._no_device()
        self._n = 0
        self._t = now_ms
        self._seen = False
        self._profile = params.bmsdev  # a change later (HV off) forgets what the other profile said

    def _no_device(self):
        self.state = S_NONE
        self.age = -1
        self.alarm = 0
        self.drv_w = -1
        self.rgn_w = -1
        self.chg_a = -1
        self.vmax = -1
        self.full = False

    def _forget(self):
        self.v10 = -1
        self.i10 = 0
        self.soc10 = -1
        self.soh = -1
        self.t10 = 0
        self.cvl10 = -1
        self.dvl10 = -1
        self.ccl10 = 0
        self.dcl10 = 0
        self.cmin = -1
        self.cmax = -1
        self.tmin = 0
        self.tmax = 0
        self.alarm_bits = 0
        self._acls = 0
        self.warn_bits = 0
        self.en35c = -1

    # --- receive: the shell's on_frame, allocation-free ---------------------------------------------------------
    def rx(self, can_id, b, n):
        """Decodes a frame of this device's profile; True when the id was this device's (taken or refused)."""
        pr = self.p.bmsdev
        if pr == P_CAN35X and 0x351 <= can_id <= 0x373:
            return self._rx35x(can_id, b, n)
        if pr == P_LEAF:
            return self._rxleaf(can_id, b, n)
        return False

    def _rx35x(self, can_id, b, n):
        if can_id == 0x351:
            if n < 6:
                return self._bad()
            self.cvl10 = _u16(b, 0)
            self.ccl10 = _s16(b, 2)
            self.dcl10 = _s16(b, 4)
            self.dvl10 = _u16(b, 6) if n >= 8 else -1
            self.n_lim += 1
        elif can_id == 0x355:
            if n < 2:
                return self._bad()
            self._soc(b, n)
        elif can_id == 0x356:
            if n < 6:
                return self._bad()
            self._356(b)
        elif can_id == 0x35A:
            if n < 4:
                return self._bad()
            pol = self.p.bmsapol
            self.alarm_bits = alarm_bits(b, 0, pol)
            self._acls = alarm_class(self.alarm_bits)  # sorted here, not in every 10 ms step
            self.warn_bits = alarm_bits(b, 4, pol) if n >= 8 else 0
        elif can_id == 0x35C:
            if n < 1:
                return self._bad()
            self.en35c = b[0]
        elif can_id == 0x373:
            if n < 8:
                return self._bad()
            self.cmin = _u16(b, 0)
            self.cmax = _u16(b, 2)
            self.tmin = _u16(b, 4) - 273
            self.tmax = _u16(b, 6) - 273
        else:
            return False
        self.frames += 1
        return True

    def _bad(self):
        self.bad += 1
        return True

    def _soc(self, b, n):
        r = self.p.bmssocr
        if r == 0 or n < 6:
            self.soc10 = _u16(b, 0) * 10
        elif r == 1:
            self.soc10 = _u16(b, 4)
        else:
            self.soc10 = _u16(b, 4) // 10
        if n >= 4:
            self.soh = _u16(b, 2)

    def _356(self, b):
        v = _u16(b, 0)
        self.v10 = v if self.p.bmsvres else v // 10
        i = _s16(b, 2)
        self.i10 = -i if self.p.bmsisgn else i
        self.t10 = _s16(b, 4)

    def _rxleaf(self, can_id, b, n):
        if can_id == 0x1DB:
            if fr.decode_1db(b, self.s1db, n):
                self.n_lim += 1
                s = self.s1db
                self.v10 = s.voltage_raw * 5
                self.i10 = s.current_raw * 5  # 1DB: + charging (real e-NV200, issue 19), as here
                if self.s55b.frames == 0:
                    self.soc10 = s.soc * 10
        elif can_id == 0x1DC:
            fr.decode_1dc(b, self.s1dc, n)
        elif can_id == 0x55B:
            if fr.decode_55b(b, self.s55b, n):
                self.soc10 = self.s55b.soc_raw
        else:
            return False
        self.frames += 1
        return True

    # --- every 10 ms, before the core decides ---------------------------------------------------------------------
    def step(self, now_ms):
        """Supervision and the limits published into inp (see the module text)."""
        pr = self.p.bmsdev
        if pr != self._profile:
            self._profile = pr
            self._forget()
            self._seen = False
        if pr == P_NONE:
            if self.state != S_NONE:
                # No battery device (from now on): no limits. Set once when it becomes so (the constructor starts
                # the same way): nothing to write again at every step.
                self._no_device()
        else:
            self._fresh(now_ms)
            self.alarm = self._alarm35x() if pr == P_CAN35X else self._alarm_leaf()
            if self.state == S_OK:
                self._ok(pr)
            else:
                self._silent()
        inp = self.inp
        inp.bms_state = self.state
        inp.bms_dclw = self.drv_w
        inp.bms_cclw = self.rgn_w
        inp.bms_ilim = self.chg_a
        inp.bms_vmax = self.vmax
        inp.bms_full = self.full

    def _fresh(self, now_ms):
        n = self.n_lim
        if n != self._n:
            self._n = n
            self._t = now_ms
            self._seen = True
        if not self._seen:
            self.age = -1
            self.state = S_WAIT
            return
        a = ticks_diff(now_ms, self._t)
        self.age = a
        self.state = S_OK if a <= self.p.bmsto else S_LOST

    def _silent(self):
        # Not heard (yet, or any more): no charge current at all; drive power for a limp home (the core lets a
        # car only drive on with it, and starts nothing).
        self.drv_w = self.p.bmslimp * 1000
        self.rgn_w = 0
        self.chg_a = 0
        self.vmax = -1
        self.full = False

    def _volts(self):
        # The voltage that turns a current limit into power: the DC link (1DA) while valid, else the BMS's own.
        inv = self.inv
        if inv.voltage_valid and inv.dc_voltage > 0:
            return inv.dc_voltage
        v = self.v10 // 10
        return v if v > 0 else self.p.udcnom

    def _alarm35x(self):
        a = self._acls
        e = self.en35c
        if e >= 0:
            if not e & 0x80:
                a |= A_CHG  # 35C charge enable clear
            if not e & 0x40:
                a |= A_DIS  # 35C discharge enable clear
        return a

    def _alarm_leaf(self):
        # 1DB byte 1 bits 4..3: the LBC asks for the main relay to be cut. Failsafe bits are shown, not acted on
        # (the LBC lowers its own 1DC limits).
        return A_STOP if self.s1db.relay_cut else 0

    def _ok(self, pr):
        if pr == P_CAN35X:
            u = self._volts()
            c = self.ccl10 if self.ccl10 > 0 else 0
            d = self.dcl10 if self.dcl10 > 0 else 0
            self.drv_w = d * u // 10
            self.rgn_w = c * u // 10
            self.chg_a = c // 10
            self.vmax = self.cvl10 // 10 if self.cvl10 > 0 else 0
        else:
            s = self.s1dc
            u = self._volts()
            self.drv_w = s.discharge_raw * 250
            self.rgn_w = s.charge_raw * 250
            w = (s.charger_raw - 100) * 100
            self.chg_a = w // u if w > 0 else 0
            self.vmax = -1
            self.dcl10 = self.drv_w * 10 // u  # (shown as currents, as a BMS's)
            self.ccl10 = self.rgn_w * 10 // u
        a = self.alarm
        if a & (A_CHG | A_STOP):
            self.rgn_w = 0
            self.chg_a = 0
        if a & (A_DIS | A_STOP):
            self.drv_w = 0
        self.full = self.chg_a == 0 or (pr == P_LEAF and self.s1db.full_charge)

    def ready(self):
        """A start (precharge) may begin: no battery device, or one that talks and raises no A_STOP alarm."""
        s = self.state
        return s == S_NONE or (s == S_OK and not self.alarm & A_STOP)

    # --- the spoofed 1DB / 1DC carry the battery's real values (CAN BMS, while it talks) ------------------------
    def fill_1db(self, m):
        """Overrides the spoofed frames.BatteryStatus with the BMS's voltage, current and SOC (after the charger's
        fill). Nothing while the BMS is not S_OK or for other profiles."""
        if self.p.bmsdev != P_CAN35X or self.state != S_OK:
            return
        if self.v10 > 0:
            m.voltage_raw = self.v10 // 5
        m.current_raw = self.i10 // 5
        if self.soc10 >= 0:
            m.soc = self.soc10 // 10

    def fill_1dc(self, m):
        """Overrides the spoofed frames.BatteryLimits: discharge / charge power limits (0.25 kW) from the BMS's,
        once it has talked (silent: the limp power and no charge, as the core applies them)."""
        if self.p.bmsdev != P_CAN35X or self.state < S_OK:
            return
        m.discharge_raw = self.drv_w // 250
        m.charge_raw = self.rgn_w // 250

    def state_name(self):
        return STATE_NAMES[self.state]
