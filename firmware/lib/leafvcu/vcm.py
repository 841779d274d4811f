"""The mode machine: OFF -> PRECHARGE -> READY <-> DRIVE, OFF -> CHARGE (-> PRECHARGE -> CHARGE), SHUTDOWN, FAULT.

A pure object (DESIGN.md "functional core"), wired once to the objects it reads: the shell's `Inputs` and the
codec's 1DA / 55A state objects (frames.InverterStatus, frames.InverterTemps), which the shell refreshes in place;
then `step(now_ms)` every 10 ms. It never reads a clock, sleeps or touches hardware, and a step allocates
nothing. What the shell does with the outputs: drive the relay pins from relay_pre / relay_main / relay_neg,
copy the frame fields into the codec's messages (`fill_1d4`, `fill_11a`, `fill_50b`, `fill_1f2`, and with
the `spoof` parameter `fill_1db`, `fill_1dc`) and send them while `frames_enabled`. The PDM's frames go into
`vcm.pdm` (charger.Pdm: decode_390 / decode_393 into its s390 / s393, wake() on 0x679).

Every function on the step path keeps arguments + locals + value stack within 11 machine words, so MicroPython
ports without a pystack (ESP32) keep its call frame on the C stack instead of taking it from the heap at every
call (py/objfun.c VM_MAX_STATE_ON_STACK; tests/test_core_stackframe.py checks the compiled .mpy). Hence inputs
wired at construction rather than passed down, and small helpers.

Modes
  OFF        relays open. Starts on ignition + start with the pedal released, no latched fault and `tsettle`
             passed since boot and since ignition on.
  PRECHARGE  (negative contactor, then after tgap) the precharge relay closes; the main contactor closes once the
             inverter's DC voltage (1DA) >= udcnom - udcdelta and tpcmin has passed since the precharge relay
             closed. Faults: not reached in tpcto (PC_TIMEOUT); a rise faster than an RC of pctau towards udcmax
             allows (PC_FAST: shorted resistor or welded contactor); already at target before anything closed
             (PC_CHARGED: welded main contactor, or the DC link not yet discharged); 1DA stale or its voltage
             invalid (PC_INVALID); error bits in inverr (INV_ERROR: main never closes onto an inverter that
             reports an error). A fault after the precharge relay closed is a failed precharge (the resistor took
             the current); `pctries` of them in a row latch PC_LOCKOUT as well, which a key cycle does not clear
             (the resistor needs time to cool and someone to look): only `clear` does. A successful precharge
             (main closed) counts them from 0 again.
  READY      HV on, torque 0; DRIVE once the torque chain engages D or R (pedal released, near standstill).
  DRIVE      the torque chain's request goes out; READY again in neutral.
  SHUTDOWN   (ignition off) torque 0 at once; wait for |speed| <= offspd and |1DA torque| <= offtrq (or 1DA lost,
             or toffmax), then open main, precharge tgap later, negative tgap after that; then OFF.
  FAULT      torque 0 at once; tgap later (one torque-0 frame is out) the main contactor opens, then precharge,
             then negative, tgap apart. Latched: left only by clear() once every relay is open, or by a key cycle
             (ignition seen off after the fault, every relay open; for a fault latched at boot, before the first
             step, an off -> on edge of the ignition seen after boot). Nothing closes in FAULT, so no contactor closes
             twice after a latched fault, and a condition that persists cannot make the relays oscillate.
  CHARGE     a charge session (`session`; charger.py decides power, stop reasons and the PDM's faults). Starts in
             OFF on a 0x679 seen with the ignition off (the PDM also sends one at a key-on wake, P§4) or on the
             plug input rising (any ignition state), with chgen, no stop request, no latched fault and tsettle
             since boot / ignition on; each wake or plug edge starts at most one session. Phases (`cphase`):
             C_WAKE     relays open, frames on; once the inverter talks with a valid voltage and its DC link
                        is down (after a drive it may still be charged), at least tgap in, or at tsettle
                        at the latest: PRECHARGE, the drive's own code and faults, the session flag set;
                        its success leads to C_RUN instead of READY.
             C_RUN      HV on; the charger ramps the 1F2 power command. The HV checks of READY apply (the
                        inverter must stay powered: its 1DA is the only DC-link voltage). Charger faults
                        (PDM_SILENT, PDM_AC, CHG_OVERVOLT) latch; stop reasons (target reached, stop request,
                        plug pulled: logged as PLUG_PULLED, no AC within tacwait, PDM finished) go to C_STOP.
             C_STOP     power 0 and the "stop" transition request; once the PDM's output is <= chgoffw (at
                        least tgap later) or after tchgoff: SHUTDOWN as after driving, then OFF.
             A stop reason during C_WAKE / PRECHARGE shuts down at once (nothing carries current yet).
             While charging: 11A car OFF (ZV), 1D4 byte 6 = b1d4chg, 50B WAKE (00 00 00 C0, the AZE0 VCM while
             AC charging), 1F2 AC mode (byte 0 0x30, byte 5 0x3C) with the "normal" request.
             Drive interlocks: in READY / DRIVE a wake or plug is not acted on (driving goes on; a plug input
             keeps READY from engaging D / R but never cuts torque once in DRIVE); the plug is charged after
             the key-off shutdown. No drive start while the plug input is active, nor after a charge session
             until the ignition has been seen off. Ignition during a session changes nothing.
  hv_lock (the console's "HV is on"): in PRECHARGE, and whenever any relay is commanded closed.
  While the main contactor is closed: 1DA stale (> tstale; CAN_LOSS), voltage invalid (DC_INVALID), below udccol
  (DC_COLLAPSE) or error bits in inverr (INV_ERROR) are faults; so are pedal faults in any mode with ignition on.
  A fault in a charge session: power 0 at once; the main contactor opens once the PDM's output has fallen (at
  least tgap later) or at tchgoff (the shell's own faults TASK_EXC .. CAN_BUS: tgap, as driving); its key cycle
  is the ignition seen on and then off (the ignition is usually off throughout), or clear(). With every relay
  open and the ignition off, a latched FAULT lets the frames wind down as OFF does.

With a battery device (`bmsdev`; bms.py publishes its state and limits into Inputs before the modes are decided;
docs/bms.md): no drive start until it talks without a stop alarm (a charge session waits bmsto for it, then
BMS_LOST); an A_STOP alarm is BMS_ALARM with HV on or coming; silent in PRECHARGE or a charge session: BMS_LOST; an
A_CHG alarm in a charge session: BMS_ALARM; silent while driving: a limp (its limits: bmslimp kW, no regen),
logged once (BMS_LIMP). Its limits reach the torque chain and the charger through Inputs.

1DA freshness is the inverter device's (dev_leafinv / dev_ze1 WATCH rows, link.py): the shell supervises its link
before every step and the core reads it (`link`: fresh, age, mask; copied into `fresh` / `age_1da` at the step's start). A frame
counts when the codec's count of good frames (right CRC and a counter that followed on) moves, so a frozen
inverter repeating one frame goes stale too; a ZE1's 0x120 counts with 1DA (the older wins); ages count listening
time only (the controller's own pauses do not count). The age has the step's resolution (10 ms). The 1DA byte 6
bits that are a fault: the device's `link.mask`, or the parameter inverr (-1).

VCM frames (PROTOCOL.md §4, real AZE0-era start-up; what real VCMs send state by state: docs/conformance.md):
1D4 precharge nibble 2 (not started) -> 3 (precharge relay closed) -> 7 (main closed), after HV 7 until every
HV relay is open, then 5 -> 0; relay bit while any HV relay is commanded closed; inhibitor P except D / R in
DRIVE, none while 11A says shifting; 11A byte 0 by gear with the shifting bytes, car ON while the ignition is on
outside FAULT / SHUTDOWN / a charge session (and while a key-off or fault still reports 7); 50B WAKE while
awake, in READY / DRIVE 02 then 06. 1F2 (every 10 ms while awake, driving too: the DC/DC needs it, P§2 1DC): power from the charger
(0 kW outside charging), byte 2 bit 2 set while HV is off when dcdcbit = 1, byte 3 = dcdcreq.
After everything is open with the ignition off, the frames go on for tkeep (the inverter discharges its DC link),
then 50B SLEEP for tsleep, then silence (`frames_enabled` False).
"""

from leafvcu.compat import ticks_diff
from leafvcu.link import Link
from leafvcu import faults as F
from leafvcu.faults import Faults
from leafvcu.pedal import Pedal
from leafvcu.torque import Torque
from leafvcu.charger import Charger, Pdm, STOP_PLUG
from leafvcu.bms import Bms, S_NONE, S_OK, A_STOP, A_CHG
from leafvcu.frames import (
    GEAR_P,
    GEAR_R,
    GEAR_D,
    CAR_ON,
    CAR_OFF,
    PRECHARGE_NOT_STARTED,
    PRECHARGING,
    PRECHARGED,
    DISCHARGE,
    SHUT_OFF,
    INHIBIT_N,
    INHIBIT_P,
    INHIBIT_R,
    INHIBIT_D,
    VCM_SLEEP,
    VCM_WAKE,
    VCM_READY,
    VCM_ACTIVE,
    DLC_50B_AZE0,
    DLC_50B_ZE0,
    TRANSITION_NONE,
    TRANSITION_NORMAL,
    TRANSITION_STOP,
    MODE_1F2_DRIVE,
    MODE_1F2_AC,
    B0_1F2_RUN,
    B0_1F2_AC,
    POWER_1F2_ZERO,
)

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


OFF = const(0)
PRECHARGE = const(1)
READY = const(2)
DRIVE = const(3)
SHUTDOWN = const(4)
FAULT = const(5)
CHARGE = const(6)
MODE_NAMES = ("off", "precharge", "ready", "drive", "shutdown", "fault", "charge")

# Phases of CHARGE (`cphase`): waking (relays open, waiting for the inverter / DC link), charging, stopping
# (power 0, waiting for the PDM's output to fall). The precharge itself is mode PRECHARGE with the session flag.
C_WAKE = const(0)
C_RUN = const(1)
C_STOP = const(2)
CPHASE_NAMES = ("waking", "charging", "stopping")

# What real VCMs send, state by state (issue 19; tools/conformance.py and docs/conformance.md hold the evidence):
_SHIFT_MS = const(100)  # 11A byte 0 "shifting" (0x?D) held this long; real VCMs 80-110 ms per shift
_DISCHARGE_MS = const(40)  # 1D4 nibble 5 this long before 0 at shutdown; real ZE0 VCMs 30-40 ms
_T50B_ACTIVE = const(150)  # 50B 00 -> 02 this long after the main contactor closed; real 0.12-0.53 s
_T50B_READY = const(2000)  # 50B 02 -> 06 this much later; real about 2 s
_T1F2_B7 = const(800)  # 1F2 byte 7 bit 7 cleared this long after waking; real 0.6-1.1 s
_B3_1D4_CHG = const(4)  # 1D4 byte 3 low nibble while charging (real e-NV200 VCM: 0x04 throughout)
_MODE_1F2_WAKE = b"\x04\x0a\x14\x14"  # 1F2 byte 5 by wake stage (0-160 ms, -460 ms, later) before HV; real 04 0A 14
_MODE_1F2_CWAKE = b"\x04\x0a\x32\x32"  # the same in a charge session: 04 0A 32, then 34 with HV, 3C with power
_MODE_1F2_CHV = const(0x34)

# 1DA voltage is 2 V per bit and the reading lags the link by up to a frame: allow this much on top of the RC bound.
_PC_SLACK_V = const(10)


class Inputs:
    """What the shell reads each cycle. ign: ignition (key on); start: start request (this board ties it to the
    ignition); brake: brake pedal switch; fwd / rev: direction switch (neither or both = neutral); pedal_a /
    pedal_b: raw ADC readings (read_u16). Charging (charger.py): plug: the charge plug is in (the shell sets it
    while the PDM reports AC in 0x390: this board has no pin for a proximity input). The battery device (bms.py
    publishes these each step; -1 = no limit): bms_state (bms.S_*), bms_ilim (charge current limit, A),
    bms_dclw / bms_cclw (drive / regen power limit, W), bms_vmax (charge voltage limit, V), bms_full."""

    def __init__(self):
        self.ign = False
        self.start = False
        self.brake = False
        self.fwd = False
        self.rev = False
        self.pedal_a = 0
        self.pedal_b = 0
        self.plug = False
        self.bms_ilim = -1
        self.bms_state = 0
        self.bms_dclw = -1
        self.bms_cclw = -1
        self.bms_vmax = -1
        self.bms_full = False


class Vcm:
    """Outputs (plain attributes, read after each step):
    mode (OFF..FAULT), relay_pre / relay_main / relay_neg (True = close), hv_on (main closed), torque (1D4 raw,
    0.25 Nm), precharge (1D4 nibble), relay (1D4 byte 5 bit 6), inhibitor (INHIBIT_*), status (1D4 byte 6),
    upper_raw / lower_raw (1D4 limit bytes), gear (GEAR_*), onoff (CAR_ON / CAR_OFF), wake (VCM_SLEEP / WAKE /
    READY), dlc_50b, frames_enabled, fresh (1DA fresh), age_1da (ms since the last good 1DA, -1 never);
    charging: session (a charge session runs), cphase (C_WAKE / C_RUN / C_STOP), transition (1F2 request),
    dcdc_off (1F2 byte 2 bit 2), and chg's attributes (power command, 390 view, stop reason).
    Parts: p (Params), faults (Faults), pedal (Pedal), tq (Torque), chg (charger.Charger), pdm (charger.Pdm);
    wired inputs: inp, inv, temps, pdm, link."""

    def __init__(self, params, inp, inv, temps=None, now_ms=0, faults=None, pdm=None, link=None):
        """params: Params; inp: Inputs; inv: frames.InverterStatus (1DA); temps: frames.InverterTemps (55A) or
        None (no temperature derate); now_ms: ticks_ms at boot (the settle time counts from it); pdm:
        charger.Pdm (the PDM's 390 / 393 / 679 as the shell decodes them), None: one is made (`vcm.pdm`);
        link: link.Link, the inverter's link as its device supervises it, None: one is made (`vcm.link`)."""
        self.p = params
        self.inp = inp
        self.inv = inv
        self.temps = temps
        self.faults = faults if faults is not None else Faults()
        self.pedal = Pedal(params, inp)
        self.tq = Torque(params, self.pedal, inp, inv, temps)
        self.pdm = pdm if pdm is not None else Pdm()
        self.link = link if link is not None else Link(now_ms)
        self.chg = Charger(params, self.pdm, inv, inp, now_ms)
        self.bms = Bms(params, inp, inv, now_ms)  # the battery device (bms.py): its limits arrive through inp
        self._bms_limp = False
        self.session = False
        self.cphase = C_WAKE
        self.transition = TRANSITION_NONE
        self.dcdc_off = params.dcdcbit == 1
        self._drive_ok = True
        self._kc_arm = True
        self._chg_wait = False
        self.mode = OFF
        self.relay_pre = False
        self.relay_main = False
        self.relay_neg = False
        self.hv_on = False
        self.hv_lock = False
        self.pc_fails = 0
        self.torque = 0
        self.precharge = PRECHARGE_NOT_STARTED
        self.relay = False
        self.inhibitor = INHIBIT_P
        self.status = params.b1d4run
        self.upper_raw = params.lim1d4h
        self.lower_raw = params.lim1d4l
        self.gear = GEAR_P
        self.onoff = CAR_OFF
        self.wake = VCM_SLEEP
        self.dlc_50b = DLC_50B_AZE0
        self.frames_enabled = False
        self.fresh = False
        self.age_1da = -1
        # MicroPython grows an instance's attribute table only once it is full (py/map.c), and a lookup that misses
        # it (every self.method() call looks in the instance first) then scans every slot: with 73 attributes this
        # object's table (73 slots) is full and the 10 ms job about 180 us slower on the ESP32 estimate (measured).
        # One attribute more moves it to 97 slots (tests/test_instance_maps.py keeps it off a full table).
        self._spare = 0
        self._mode_t = now_ms
        self._settle_t = now_ms
        self._ign = False
        self._ign_low = False
        self._awake = False
        self._quiet = False
        self._quiet_t = now_ms
        self._pc_t = now_ms
        self._v_ref = 0
        self._ref_t = now_ms
        self._ref_n = 0
        self._opening = False
        self._open_t = now_ms
        self._d_main = 0
        self._d_pre = 0
        self._d_neg = 0
        self._stepped = False
        self._kc_edge = False
        # What real VCMs send beyond the mode (issue 19): 11A byte 0 with its shifting bytes, the shutdown nibble,
        # 50B's 00 -> 02 -> 06, 1F2's wake-up steps.
        self.b11a0 = params.b11apark
        self._shift_t = now_ms
        self._shifted = False
        self.shifting = False
        self._hv_seen = False  # the main contactor closed in this precharge (1F2, the nibble's 7)
        self._pc_seen = False  # an HV relay closed in this precharge: once all are open again, 5 -> 0
        self._hv_t = now_ms
        self._act = 0
        self._dis = 0
        self._dis_t = now_ms
        self._wake_t = now_ms
        self._wk = 0
        self._shift_t = now_ms
        self.b1f2_0 = 0
        self.mode_1f2 = _MODE_1F2_WAKE[0]
        self.bit7_1f2 = False

    # ----------------------------------------------------------------------------------------------------------
    def step(self, now_ms):
        """One decision cycle at now_ms (ticks_ms), reading the wired inputs."""
        ign = self.inp.ign
        if ign and not self._ign:
            self._settle_t = now_ms
        self._stepped = True
        if not ign:
            self._drive_ok = True
        self._ign = ign
        # The inverter's link as its device's supervision published it before this step (link.py): read, not
        # computed. (Plain attributes, not properties: a property on the class makes every attribute store on
        # its instances look the class up first in MicroPython, about 5 % of this step.)
        # (k: the part at hand, the link, then the pedal, then the torque chain: one local for the three keeps
        # this frame within 11 words; their calls are inline here because they run every step.)
        k = self.link
        self.fresh = k.fresh
        self.age_1da = k.age
        self.bms.step(now_ms)
        self.chg.rx(now_ms, ign, self.relay_main)
        k = self.pedal
        k.step(now_ms, ign)
        if k.fault:
            self.trip(k.fault, now_ms, k.fault_a, k.fault_b)
        if self.session:
            self.chg.check(now_ms, self._charging())
        m = self.mode
        if m == OFF:
            self._off(now_ms, ign)
        elif m == PRECHARGE:
            self._precharge(now_ms, self._keep(ign))
        elif m == READY or m == DRIVE:
            if not ign:
                self._begin_shutdown(now_ms)
            else:
                self._hv_check(now_ms)
        elif m == SHUTDOWN:
            self._shutdown(now_ms)
        elif m == CHARGE:
            self._charge(now_ms)
        if self.inp.bms_state != S_NONE:
            self._bms_check(now_ms)
        # The torque chain (inline: every step): active in READY / DRIVE. A plug input keeps READY from engaging
        # D / R; it never cuts torque once driving. Nor does D / R engage before 50B has said "ready" (02): real
        # VCMs never engage in the frame that says precharged.
        m = self.mode
        k = self.tq
        if m == READY or m == DRIVE:
            k.step(now_ms, m == DRIVE or (not self.inp.plug and self._act > 0))
            self.mode = DRIVE if k.dir != 0 else READY
        else:
            k.step(now_ms, False)
        if self.mode == FAULT:
            self._fault(now_ms, ign)
        if self.session and self.mode == OFF:
            self.session = False
            self.chg.end()
        m = self.mode
        self.chg.step(now_ms, m == CHARGE and self.cphase == C_RUN)  # (_charging)
        self._outputs(now_ms, ign)

    def trip(self, code, now_ms, a=0, b=0):
        """Latches and logs a fault; torque 0 at once; starts opening the relays (main first, tgap after the
        torque-0 frame, then precharge, then negative). For the shell too (TASK_EXC, KBD_INT, WATCHDOG, CAN_BUS):
        after trip, keep stepping and sending for 3 x tgap so the sequence completes."""
        self.faults.trip(code, now_ms, a, b)
        self.tq.reset()
        self.torque = 0
        if code == F.WATCHDOG:
            # The reset dropped the relays with HV perhaps on (a pause longer than the watchdog): the 1D4 ends in
            # 5 -> 0 as after HV, so the inverter discharges what is left on the DC link (issue 22).
            self._pc_seen = True
        if self.mode != FAULT:
            if self.mode == PRECHARGE and self.relay_pre:
                self._pc_failed(now_ms, code)
            self._enter_fault(now_ms, code)

    def _pc_failed(self, now_ms, code):
        # A precharge that ended in a fault after the precharge relay closed heated the resistor: pctries of them
        # in a row lock precharging out (PC_LOCKOUT, which a key cycle does not clear; `clear` does).
        self.pc_fails += 1
        if self.pc_fails >= self.p.pctries:
            self.faults.trip(F.PC_LOCKOUT, now_ms, self.pc_fails, code)

    def clear(self, now_ms):
        """Explicit recovery (the console's `clear`): None when done or nothing to do, else why not."""
        if self.mode != FAULT:
            return None
        if self.relay_main or self.relay_pre or self.relay_neg:
            return "contactors still opening"
        self.faults.clear(now_ms, 1)
        self.pc_fails = 0
        self.mode = OFF
        self._mode_t = now_ms
        return None

    def mode_name(self):
        return MODE_NAMES[self.mode]

    def phase_name(self):
        """The CHARGE phase ("waking", "charging", "stopping"), or "" outside a charge session."""
        return CPHASE_NAMES[self.cphase] if self.session else ""

    # --- the codec's message objects (frames.TorqueRequest, VcmState, VcmWake): copy fields, allocation-free
    def fill_1d4(self, m):
        m.torque_raw = self.torque
        m.upper_raw = self.upper_raw
        m.lower_raw = self.lower_raw
        m.precharge = self.precharge
        m.relay = self.relay
        m.inhibitor = self.inhibitor
        m.status = self.status
        m.b3_low = _B3_1D4_CHG if self.session else 0
        m.hv = False  # PRECHARGED (7) already carries bit 2

    def fill_11a(self, m):
        b = self.b11a0
        m.gear = b >> 4
        m.byte0_low = b & 15
        m.onoff = self.onoff

    def fill_50b(self, m):
        m.dlc = self.dlc_50b
        m.set(self.wake)

    # --- frames.ChargeCommand (1F2), BatteryStatus (1DB), BatteryLimits (1DC): copy fields, allocation-free
    def fill_1f2(self, m):
        s = self.session
        m.power_raw = self.chg.power_raw
        m.transition = self.transition
        m.b0_bits = self.b1f2_0
        m.mode = self.mode_1f2
        m.dcdc_off = self.dcdc_off
        m.dcdc_req = self.p.dcdcreq
        m.soc80 = False
        m.bit7 = self.bit7_1f2

    def fill_1db(self, m):
        self.chg.fill_1db(m)
        self.bms.fill_1db(m)

    def fill_1dc(self, m):
        self.chg.fill_1dc(m)
        self.bms.fill_1dc(m)

    # ----------------------------------------------------------------------------------------------------------
    def _good(self):
        # The codec's count of good 1DA frames: a new reading when it moved (_pc_fast).
        inv = self.inv
        return inv.frames - inv.bad_counter

    def _off(self, now_ms, ign):
        if self._chg_start(now_ms):
            return
        if not ign or not self.inp.start or self.faults.latched or not self.pedal.released():
            return
        if not self.bms.ready():  # a battery device that does not talk (yet), or asks for its contactors open
            return
        # Drive-away interlock: no drive start with the plug input active, nor after a charge session until
        # the ignition has been seen off.
        if self.inp.plug or not self._drive_ok:
            return
        if ticks_diff(now_ms, self._settle_t) >= self.p.tsettle:
            self._enter_precharge(now_ms)

    # --- charging (charger.py decides power, stop reasons and PDM faults; this decides the modes) ------------
    def _charging(self):
        return self.mode == CHARGE and self.cphase == C_RUN

    def _keep(self, ign):
        # Whether a precharge goes on: driving, the ignition; charging, no stop reason yet.
        if self.session:
            return self.chg.stop == 0
        return ign

    def _chg_start(self, now_ms):
        # In OFF: a 679 wake (ignition off) or the plug input starts a session; True when one started.
        c = self.chg
        if not c.want() or self.faults.latched:
            return False
        if ticks_diff(now_ms, self._settle_t) < self.p.tsettle:
            return False
        c.begin(now_ms)
        self.session = True
        self._drive_ok = False
        self.mode = CHARGE
        self.cphase = C_WAKE
        self._mode_t = now_ms
        return True

    def _charge(self, now_ms):
        ph = self.cphase
        c = self.chg
        if ph == C_WAKE:
            if c.stop:
                self._begin_shutdown(now_ms)  # nothing closed yet: straight to OFF
            elif self._wake_ready(now_ms) and self._bms_wake(now_ms):
                self._enter_precharge(now_ms)
        elif self._hv_check(now_ms):
            return
        elif ph == C_RUN:
            if c.fault:
                self.trip(c.fault, now_ms, c.fault_a, c.fault_b)
            elif c.stop:
                self._chg_stop(now_ms)
        else:
            el = ticks_diff(now_ms, self._mode_t)
            if el >= self.p.tchgoff or (el >= self.p.tgap and c.idle()):
                self._begin_shutdown(now_ms)

    def _wake_ready(self, now_ms):
        # The inverter talks with a valid voltage, no error bits and its DC link is down (it discharges after a
        # drive), at least tgap after waking; or tsettle has passed (then the precharge checks trip if something
        # is wrong).
        el = ticks_diff(now_ms, self._mode_t)
        if el >= self.p.tsettle:
            return True
        if el < self.p.tgap or not self.fresh or not self.inv.voltage_valid or self._inv_bits():
            return False  # (error bits: an inverter that was alone reports them until it has heard the frames)
        return self.inv.dc_voltage < self.p.udcnom - self.p.udcdelta

    # --- the battery device (bms.py decides what its frames say; this, what that means for the mode) ----------
    def _bms_check(self, now_ms):
        # With HV on or coming (docs/bms.md, docs/safety.md): an A_STOP alarm is a fault in any mode; in a charge
        # session or a precharge a silent battery (BMS_LOST) is one, and in a charge session an A_CHG alarm too;
        # driving on a silent battery is a limp (bms.py: bmslimp kW, no regen), logged once, to the key-off.
        m = self.mode
        if not (m == PRECHARGE or m == READY or m == DRIVE or m == CHARGE):
            self._bms_limp = False
            return
        b = self.bms
        if m == CHARGE and self.cphase == C_WAKE:
            return  # nothing closed yet: _bms_wake decides
        if b.alarm & A_STOP or (self.session and b.alarm & A_CHG):
            self.trip(F.BMS_ALARM, now_ms, b.alarm_bits, b.alarm)
        elif b.state == S_OK:
            return
        elif self.session or m == PRECHARGE:
            self.trip(F.BMS_LOST, now_ms, b.age, self.p.bmsto)
        elif not self._bms_limp:
            self._bms_limp = True
            self.faults.note(F.BMS_LIMP, now_ms, b.age, self.p.bmsto)

    def _bms_wake(self, now_ms):
        # A charge session precharges only once the battery talks; not within bmsto of waking: BMS_LOST.
        b = self.bms
        if b.ready():
            return True
        if b.alarm & A_STOP:
            self.trip(F.BMS_ALARM, now_ms, b.alarm_bits, b.alarm)
        elif ticks_diff(now_ms, self._mode_t) >= self.p.bmsto:
            self.trip(F.BMS_LOST, now_ms, b.age, self.p.bmsto)
        return False

    def _inv_bits(self):
        return (self.inv.errors << 2) & self.err_mask()

    def _chg_stop(self, now_ms):
        # Power 0 and the transition request "stop" from now; the shutdown follows once the PDM's output fell.
        self.cphase = C_STOP
        self._mode_t = now_ms
        c = self.chg
        if c.stop == STOP_PLUG:  # worth a log line, not a fault
            self.faults.note(F.PLUG_PULLED, now_ms, c.ac, c.out_w)

    def _enter_precharge(self, now_ms):
        self.mode = PRECHARGE
        self._mode_t = now_ms
        if self._pc_invalid(now_ms) or self._inv_err(now_ms):
            return
        v = self.inv.dc_voltage
        if v >= self.p.udcnom - self.p.udcdelta:
            self.trip(F.PC_CHARGED, now_ms, v, self.p.udcnom - self.p.udcdelta)
            return
        self._v_ref = v
        self._ref_t = now_ms
        self._ref_n = self._good()
        self._hv_seen = False
        self._pc_seen = False
        self._dis = 0
        if self.p.negcon:
            self.relay_neg = True
        else:
            self.relay_pre = True
            self._pc_t = now_ms

    def _pc_invalid(self, now_ms):
        # 1DA stale or its voltage invalid during precharge: PC_INVALID. True when it tripped.
        if self.fresh and self.inv.voltage_valid:
            return False
        self.trip(F.PC_INVALID, now_ms, self.age_1da, 1 if self.inv.voltage_valid else 0)
        return True

    def _pc_fast(self, now_ms):
        # At each new reading the rise since the last one may not beat an RC of pctau charging towards the
        # highest pack voltage there can be (udcmax, or udcnom if set higher). True when it tripped.
        g = self._good()
        if g == self._ref_n:
            return False
        dt = ticks_diff(now_ms, self._ref_t)
        if dt < 10:
            dt = 10
        rise = self.inv.dc_voltage - self._v_ref
        if rise > _PC_SLACK_V + self._pc_allow(dt):
            self.trip(F.PC_FAST, now_ms, rise, dt)
            return True
        self._v_ref = self.inv.dc_voltage
        self._ref_t = now_ms
        self._ref_n = g
        return False

    def _pc_allow(self, dt):
        p = self.p
        gap = (p.udcmax if p.udcmax > p.udcnom else p.udcnom) - self._v_ref
        return gap * dt // p.pctau if gap > 0 else 0

    def _precharge(self, now_ms, keep):
        # keep: the ignition (drive) or the charge session still wanted.
        if not keep:
            self._begin_shutdown(now_ms)
            return
        if self._pc_invalid(now_ms) or self._pc_fast(now_ms) or self._inv_err(now_ms):
            return  # never closes main while the inverter reports an error (inverr bits)
        p = self.p
        if not self.relay_pre:
            if ticks_diff(now_ms, self._mode_t) >= p.tgap:
                self.relay_pre = True
                self._pc_t = now_ms
            return
        el = ticks_diff(now_ms, self._pc_t)
        if el >= p.tpcmin and self.inv.dc_voltage >= p.udcnom - p.udcdelta:
            self.relay_main = True
            self._hv_seen = True
            self._hv_t = now_ms
            self._act = 0
            self.pc_fails = 0
            self.mode = CHARGE if self.session else READY
            self.cphase = C_RUN
            self._mode_t = now_ms
        elif el >= p.tpcto:
            self.trip(F.PC_TIMEOUT, now_ms, self.inv.dc_voltage, el)

    def _hv_check(self, now_ms):
        # While the main contactor is closed. True when it tripped.
        inv = self.inv
        p = self.p
        if not self.fresh:
            self.trip(F.CAN_LOSS, now_ms, self.age_1da, p.tstale)
        elif not inv.voltage_valid:
            self.trip(F.DC_INVALID, now_ms)
        elif inv.dc_voltage < p.udccol:
            self.trip(F.DC_COLLAPSE, now_ms, inv.dc_voltage, p.udccol)
        else:
            # _inv_err, inline (every step with HV on): the 1DA byte 6 bits that the device's mask (or inverr)
            # names are INV_ERROR.
            e = self.link.mask
            if not (inv.errors << 2) & (p.inverr if e < 0 else e):
                return False
            self.trip(F.INV_ERROR, now_ms, inv.errors << 2, inv.dc_voltage)
        return True

    def _inv_err(self, now_ms):
        # Error bits of 1DA byte 6 that inverr (or the device's link.mask: err_mask) names: INV_ERROR. True when
        # it tripped.
        e = self.link.mask
        e = (self.inv.errors << 2) & (self.p.inverr if e < 0 else e)
        if e:
            self.trip(F.INV_ERROR, now_ms, self.inv.errors << 2, self.inv.dc_voltage)
            return True
        return False

    def err_mask(self):
        """The 1DA byte 6 bits that are an inverter fault for the inverter on the bus."""
        m = self.link.mask
        return self.p.inverr if m < 0 else m

    def _begin_shutdown(self, now_ms):
        self.mode = SHUTDOWN
        self._mode_t = now_ms
        self.tq.reset()
        self.torque = 0
        self._opening = False
        if not self.relay_main:
            self._opening = True
            self._begin_open(now_ms, 0)
            if self._step_open(now_ms):
                self.mode = OFF

    def _shutdown(self, now_ms):
        if not self._opening:
            if self.fresh and self._hv_check(now_ms):
                return
            # An inverter that stopped talking (its 12 V may follow the key) cannot report speed: open now.
            if not self.fresh or self._slow() or ticks_diff(now_ms, self._mode_t) >= self.p.toffmax:
                self._opening = True
                self._begin_open(now_ms, 0)
        if self._opening and self._step_open(now_ms):
            self.mode = OFF
            self._mode_t = now_ms

    def _slow(self):
        # Speed and the inverter's own torque (0.5 Nm per bit) low enough to open at (near) zero current.
        inv = self.inv
        p = self.p
        if not inv.speed_valid or inv.speed_rpm > p.offspd or inv.speed_rpm < -p.offspd:
            return False
        return -2 * p.offtrq <= inv.torque_raw <= 2 * p.offtrq

    def _enter_fault(self, now_ms, code):
        self.mode = FAULT
        self._mode_t = now_ms
        self._ign_low = False
        # Key cycle: driving, the ignition seen off; a charge session (ignition usually off throughout), the
        # ignition seen on and then off, so that a PDM waking again cannot restart a faulted charge by itself;
        # a fault latched at boot (before the first step: watchdog, CAN controller), an off -> on edge seen
        # after boot (the ignition is often off from the start, which is no key cycle).
        self._kc_arm = not self.session
        self._kc_edge = not self._stepped
        first = self.p.tgap
        self._chg_wait = False
        if self.session:
            self.chg.halt()
            # Power 0 first; the main contactor opens once the PDM's output has fallen, within tchgoff. Not for
            # the shell's faults (TASK_EXC .. CAN_BUS): its frames may not go out, and its safe state is short.
            if self.relay_main and not (F.TASK_EXC <= code <= F.CAN_BUS):
                first = self.p.tchgoff
                self._chg_wait = True
        self._begin_open(now_ms, first if self.relay_main else 0)

    def _fault(self, now_ms, ign):
        self.torque = 0
        if self._kc_edge:
            cyc = ign and self._ign_low
            if not ign:
                self._ign_low = True
        else:
            if ign:
                self._kc_arm = True
            elif self._kc_arm:
                self._ign_low = True
            cyc = self._ign_low
        if self._chg_wait:
            self._fault_chg(now_ms)
        if self._step_open(now_ms) and cyc and not self.faults.is_latched(F.PC_LOCKOUT):
            self.faults.clear(now_ms, 2)
            self.mode = OFF
            self._mode_t = now_ms

    def _fault_chg(self, now_ms):
        # A fault in a charge session: the main contactor opens once the PDM's output has fallen (at least tgap
        # after power 0 went out), at the latest tchgoff after the fault.
        if not self.relay_main:
            self._chg_wait = False
        elif ticks_diff(now_ms, self._open_t) >= self.p.tgap and self.chg.idle():
            self._chg_wait = False
            self._begin_open(now_ms, 0)

    def _begin_open(self, now_ms, first):
        # Opening order main -> precharge -> negative, tgap apart, the first after `first` ms.
        g = self.p.tgap
        self._open_t = now_ms
        d = first
        if self.relay_main:
            self._d_main = d
            d += g
        if self.relay_pre:
            self._d_pre = d
            d += g
        self._d_neg = d

    def _step_open(self, now_ms):
        # Opens what is due; True once every relay is open.
        el = ticks_diff(now_ms, self._open_t)
        if self.relay_main and el >= self._d_main:
            self.relay_main = False
        if self.relay_pre and not self.relay_main and el >= self._d_pre:
            self.relay_pre = False
        if self.relay_neg and not self.relay_main and not self.relay_pre and el >= self._d_neg:
            self.relay_neg = False
        return not (self.relay_main or self.relay_pre or self.relay_neg)

    def _outputs(self, now_ms, ign):
        m = self.mode
        r = self.relay_main
        self.hv_on = r
        self.relay = r or self.relay_pre
        # The console's HV lock: from the step that enters PRECHARGE (an HV relay commanded closed or about to
        # be) until every relay is commanded open again.
        self.hv_lock = self.relay or self.relay_neg or m == PRECHARGE
        if r:
            self.precharge = PRECHARGED  # (_nibble's first case: every step with HV on, without the call)
        else:
            self._nibble(now_ms)
        self._gear(m, now_ms)
        # A key-off shutdown (or a fault) keeps the READY frames (11A on, 50B, 1D4 byte 6) while 1D4 still says
        # precharged, as real VCMs do until their nibble leaves 7. Torque is 0 either way.
        on = (m == SHUTDOWN or m == FAULT) and self.precharge == PRECHARGED and not self.session
        self.onoff = CAR_ON if (ign and m <= DRIVE) or on else CAR_OFF
        p = self.p
        if m == DRIVE and not self.shifting:
            self.status = p.b1d4run
        else:
            self.status = p.b1d4park if self.precharge == PRECHARGED else p.b1d4wake
        self.upper_raw = p.lim1d4h
        self.lower_raw = p.lim1d4l
        self.dlc_50b = DLC_50B_ZE0 if p.gen else DLC_50B_AZE0
        self.dcdc_off = p.dcdcbit == 1 and self.precharge != PRECHARGED  # 1F2's DC/DC bit (dcdcbit)
        if self.session:
            self._chg_outputs(m)
        else:
            self.transition = TRANSITION_NONE
        if ign or (m != OFF and not self._parked(m)):
            if not self._awake:
                self._woke(now_ms)
            self._awake = True
            self._quiet = False
            self.frames_enabled = True
            if m == READY or m == DRIVE or on:
                # 50B 00 -> 02 -> 06 after the main contactor closed (_ready50b); 06 latched (_act 2) for the
                # rest of the drive, read without the call.
                self.wake = VCM_READY if self._act == 2 else self._ready50b(now_ms)
            else:
                self.wake = VCM_WAKE
        else:
            self._tail(now_ms)
        self._out_1f2(now_ms)

    def _woke(self, now_ms):
        # The frames start: 1F2's wake-up steps count from here; park is 0x01 again (b11apark).
        self._wake_t = now_ms
        self._wk = 0
        self._shift_t = now_ms
        self._shifted = False
        self.b11a0 = self.p.b11apark

    def _ready50b(self, now_ms):
        # 50B after the main contactor closed: 00 (wake) for _T50B_ACTIVE, 02, then 06 _T50B_READY later (real
        # VCMs). Latched in _act so that a long drive never reads an old tick difference.
        a = self._act
        if a < 2:
            el = ticks_diff(now_ms, self._hv_t)
            if el >= _T50B_ACTIVE + _T50B_READY:
                a = 2
            elif el >= _T50B_ACTIVE:
                a = 1
            self._act = a
        return VCM_READY if a == 2 else (VCM_ACTIVE if a == 1 else VCM_WAKE)

    def _nibble(self, now_ms):
        # 1D4 byte 4: 2 -> 3 -> 7; after HV 7 stays until the precharge relay is open too (5 starts the inverter's
        # active discharge, never with a relay closed), then 5 for _DISCHARGE_MS, then 0 (never 3 after HV). A
        # precharge that failed (3, the link partly charged) ends in 5 -> 0 as well: the inverter discharges it.
        if self.relay_main or (self._hv_seen and self.relay_pre):
            self.precharge = PRECHARGED
        elif self.relay_pre:
            self._pc_seen = True
            self.precharge = PRECHARGING
        elif self._pc_seen or self._hv_seen:
            if self._dis == 0:
                self._dis = 1
                self._dis_t = now_ms
            elif self._dis == 1 and ticks_diff(now_ms, self._dis_t) >= _DISCHARGE_MS:
                self._dis = 2
            self.precharge = DISCHARGE if self._dis == 1 else SHUT_OFF
        else:
            self.precharge = PRECHARGE_NOT_STARTED

    def _out_1f2(self, now_ms):
        # 1F2 byte 0: 0x00 until precharged, then 0x10 (0x30 charging); byte 5 steps 04 -> 0A -> 14 while waking,
        # 1E with HV (charging: 04 -> 0A -> 32, 34 with HV, 3C once power is commanded); byte 7 bit 7 cleared for
        # the first _T1F2_B7 after waking (real VCMs, issue 19).
        s = self.session
        st = self._wk
        if st < 3:
            el = ticks_diff(now_ms, self._wake_t)
            st = 0 if el < 160 else (1 if el < 460 else (2 if el < _T1F2_B7 else 3))
            self._wk = st
        self.bit7_1f2 = st == 3 or self._hv_seen
        if not self._hv_seen:
            self.b1f2_0 = 0
            self.mode_1f2 = _MODE_1F2_CWAKE[st] if s else _MODE_1F2_WAKE[st]
        elif s:
            self.b1f2_0 = B0_1F2_AC
            self.mode_1f2 = MODE_1F2_AC if self.chg.power_raw > POWER_1F2_ZERO else _MODE_1F2_CHV
        else:
            self.b1f2_0 = B0_1F2_RUN
            self.mode_1f2 = MODE_1F2_DRIVE

    def _parked(self, m):
        # Latched FAULT with every relay open and the ignition off (a charge fault waits for a key cycle):
        # the frames wind down as in OFF rather than keeping the PDM and inverter awake.
        return m == FAULT and not (self.relay_main or self.relay_pre or self.relay_neg)

    def _chg_outputs(self, m):
        # 1D4 byte 6, 11A OFF and the 1F2 transition request in a charge session (P§2).
        self.status = self.p.b1d4chg
        self.onoff = CAR_OFF
        if m == PRECHARGE or (m == CHARGE and self.cphase != C_STOP):
            self.transition = TRANSITION_NORMAL
        else:
            self.transition = TRANSITION_STOP

    def _gear(self, m, now_ms):
        tq = self.tq
        d = tq.dir if m == DRIVE else 0
        if d:
            self._shifted = True
            goal = 0x4E if d > 0 else 0x2E
        else:
            goal = self.p.b11apark | (0x10 if self._shifted else 0)
        sh = self.b11a0 != goal and self._shift(now_ms, goal)  # (no call once byte 0 is the goal)
        self.shifting = sh
        if sh:
            # Real VCMs: 1D4 byte 5 0x40 (no inhibitor bits) while 11A says shifting; no torque until engaged.
            self.torque = 0
            self.inhibitor = INHIBIT_N
            self.gear = GEAR_P
        elif d == 0:
            self.torque = 0
            self.gear = GEAR_P
            self.inhibitor = INHIBIT_P
        else:
            self.torque = tq.torque
            self.gear = GEAR_D if d > 0 else GEAR_R
            self.inhibitor = INHIBIT_D if d > 0 else INHIBIT_R

    def _shift(self, now_ms, goal):
        # 11A byte 0 towards goal through the bytes real VCMs send while shifting (issue 19, the recordings):
        # park -> D / R via x1 -> xD; D -> park via 4E -> 4D -> 11; R -> park via 2E -> 3E -> 3D -> 11; D <-> R
        # directly. Each byte held _SHIFT_MS. Park is b11apark, with 0x10 added once shifted (the recordings
        # never go back from 11 to 01). True while byte 0 is not yet the goal.
        b = self.b11a0
        if b == goal:
            return False
        if 0 <= ticks_diff(now_ms, self._shift_t) < _SHIFT_MS:
            return True  # (a negative difference: a clock the core was not built with; go on rather than stick)
        self._shift_t = now_ms
        lo = b & 15
        if lo == 0xD:
            b = goal
        elif lo == 0xE and goal & 15 != 0xE:
            b = 0x3E if b == 0x2E else (b & 0xF0) | 0xD
        elif lo != 0xE:
            b = (b & 0xF0) | 0xD
        else:
            b = goal
        self.b11a0 = b
        return b != goal

    def _tail(self, now_ms):
        # Everything open, ignition off: frames for tkeep, then 50B sleep for tsleep, then silence.
        if not self._awake:
            self.wake = VCM_SLEEP
            self.frames_enabled = False
            return
        if not self._quiet:
            self._quiet = True
            self._quiet_t = now_ms
        el = ticks_diff(now_ms, self._quiet_t)
        self.wake = VCM_WAKE if el < self.p.tkeep else VCM_SLEEP
        self.frames_enabled = el < self.p.tkeep + self.p.tsleep
        if not self.frames_enabled:
            self._awake = False
