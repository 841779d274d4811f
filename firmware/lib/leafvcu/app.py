"""The shell around the decision core: owns the hardware objects, moves bytes, keeps the schedule.

DESIGN.md "functional core, thin shell": everything that decides lives in vcm.py (and what it owns); this module
reads pins and the ADC into `Inputs`, decodes received frames into the codec's state objects, steps the Vcm,
drives the relay pins from its outputs and encodes/sends the frames. It never decides anything itself, except
the last-resort safe state when the core itself cannot be trusted (an exception, Ctrl-C).

Schedule (sched.Periodic: absolute deadlines, self-measuring), three jobs on one time grid:
  10 ms   +0 ms  decide and send 11A, 1D4 and 1DB (spoofing the battery) or 1F2 (not spoofing): the three TX
                 buffers are pinned to these ids, so a cycle costs one READ STATUS, three data-only LOAD TX
                 BUFFERs and one RTS (30 SPI bytes for the three).
  10 ms   +5 ms  spoofing only: the 10 ms frames that do not fit the three buffers, 1F2 for the PDM (charger
                 and DC/DC) and 1DC, through buffers the +0 ms frames have left by then (the driver lends an
                 idle pinned buffer and reloads its header at the next +0 ms batch); 59E every 500 ms.
                 With no battery spoofing, 1DB / 1DC / 55B / 59E / 5BC are not sent at all: a Leaf battery on
                 the bus sends them itself.
  100 ms  +3 ms  50B, and 55B + 5BC when spoofing; CAN error counters; fault log kept for soft resets.
Receiving is driven by the MCP2515 INT pin: the IRQ only sets a flag (a ThreadSafeFlag on the board), the RX
task drains both buffers and decodes 1DA / 55A; the 10 ms job also drains before deciding, so a missed edge
costs at most one cycle.

Failing safe (DESIGN.md): `safe_state()` runs on any exception out of the tasks and on KeyboardInterrupt
(mpremote's Ctrl-C) before the REPL gets control: the fault is latched in the core, frames go on with torque 0
while the core opens the contactors in order (main, precharge, negative), and whatever happens meanwhile, every
relay pin ends low. The hardware watchdog is armed the first time HV is requested (on the ESP32 it cannot be
stopped once started, so arming it at boot would reset a board left at the REPL) and is fed by the 10 ms job
only, never by a timer. A watchdog reset at boot latches WATCHDOG: starting again needs a key cycle.
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


from leafvcu.compat import ticks_ms, ticks_add, ticks_diff, async_sleep_ms
from leafvcu import frames as fr
from leafvcu import faults as flt
from leafvcu.faults import Faults
from leafvcu.params import Params
from leafvcu.sched import Periodic, run_forever
from leafvcu.vcm import Vcm, Inputs, OFF, FAULT
from leafvcu.settings import Settings
from leafvcu import recorder as rec_mod
from leafvcu.bms import rx_ids as bms_rx_ids
from mcp2515 import MCP2515, MCP2515Error, NORMAL

# TX buffer of each pinned frame: on equal priority the MCP2515 sends the higher buffer number first, so the
# torque request leaves first.
_TXB_1D4 = const(2)
_TXB_11A = const(1)
_TXB_1DB = const(0)   # spoofing the battery: 1DB; else 1F2 (TXB0's id follows the spoof parameter)

# Identifiers the acceptance filters admit: inverter status and temperatures, the PDM's frames; and the battery
# device's (bms.rx_ids: none, the Leaf battery's 1DB / 1DC / 55B or the CAN BMS's 0x35x set, by parameter bmsdev).
RX_IDS = (0x1DA, 0x55A, 0x390, 0x393, 0x679)

_WDT_MS = const(1000)       # a stalled 10 ms loop resets the board after this long
_SAFE_STEPS = const(40)     # safe state: at most this many 10 ms steps for the core to open everything
# The start-up order of real VCMs (issue 19, tools/conformance.py): 50B first, the 10 ms VCM frames (11A, 1D4,
# 1F2) from the next 10 ms cycle, the battery's 10 ms frames (1DB, 1DC) about 60 ms after 50B (1DB from the first
# +0 ms batch 50 ms in, 1DC 5 ms later), 55B and 5BC with the second 50B, 59E about 2 s in. Counters of 11A / 1D4
# / 1F2 start at 1 at boot (9 of 9 real start-ups), the others at 0.
_T_BATT10 = const(50)
_T_BATT100 = const(100)
_T_59E = const(2000)


class App:
    """hw: a board.Board (or the simulator's equivalent built from fakes.machine); clock: the time API (the
    `time` module on the board, fakes.clock.VirtualClock in tests and the simulator); fs: the file system the
    saved parameters live on (default the board's own; the simulator and tests hand in their own).
    The saved parameters are loaded here, before anything is built from them. crystal: the MCP2515's crystal in
    Hz; None (the board): the saved parameter canxtal (MHz), so a 16 MHz module is one `set canxtal 16` + `save`
    away, and a change takes effect at once (params_changed)."""

    def __init__(self, hw, clock=None, params=None, crystal=None, bitrate=500000, fs=None):
        self.hw = hw
        if clock is None:
            from leafvcu import compat as clock
        self.clock = clock
        self._ms = clock.ticks_ms
        self._crystal = crystal
        self.crystal = 0  # what the MCP2515 was brought up with (start)
        self.bitrate = bitrate
        self.params = params if params is not None else Params()
        p = self.params
        now = self._ms()
        self.boot_ms = now
        self.faults = Faults()
        self._restore_faults()
        self.settings = Settings(p, self.faults, fs=fs)
        self.settings_text = self.settings.load(now)[1]
        self.inp = Inputs()
        self.inv = fr.InverterStatus()
        self.temps = fr.InverterTemps(scale=p.tmp55a)
        self.vcm = Vcm(p, self.inp, self.inv, self.temps, now, self.faults)
        self.can = MCP2515(hw.spi, hw.can_cs, clock=clock)
        self.can_ok = False
        self.wdt = None
        self.console = None
        self.reset_requested = False
        # Preallocated messages and byte buffers, one per frame; counters per identifier (PROTOCOL.md §1).
        self.m11a = fr.VcmState()
        self.m1d4 = fr.TorqueRequest()
        self.m1db = fr.BatteryStatus()
        self.m1dc = fr.BatteryLimits()
        self.m50b = fr.VcmWake()
        self.m1f2 = fr.ChargeCommand()
        self.b11a = bytearray(8)
        self.b1d4 = bytearray(8)
        self.b1db = bytearray(8)
        self.b1dc = bytearray(8)
        self.b50b = bytearray(8)
        self.b1f2 = bytearray(8)
        self.b55b = bytearray(8)
        self.b59e = bytearray(8)
        self.b5bc = bytearray(8)
        fr.encode_59e(self.b59e)   # static frames: encoded once
        fr.encode_5bc(self.b5bc)
        self.n11a = 1
        self.n1d4 = 1
        self.n1db = 0
        self.n1dc = 0
        self.n1f2 = 1
        self.n55b = 0
        self.n5bc = 0
        self.woke = False      # the first 50B of this wake-up went out (the start-up order above)
        self.woke_ms = 0
        self._batt10 = False   # the battery's 10 ms frames may go (_T_BATT10 after the first 50B)
        self._sent10 = False   # the +0 ms batch went out since the wake-up (the +5 ms frames follow it)
        self.cycles = 0
        self._faults_kept = -1
        self._txb0_spoof = -1
        self._filters_bms = -1
        self.rx_unknown = 0
        self._on_frame_ref = self.on_frame  # bound method made once: drain() calls it per frame
        self.t10 = Periodic("10ms", 10, self.tick10, clock)
        self.t10b = Periodic("10ms+5", 10, self.tick10b, clock)
        self.t100 = Periodic("100ms", 100, self.tick100, clock)
        self.tasks = (self.t10, self.t10b, self.t100)
        # Garbage collection in the slot right after the +0 ms batch, never inside a job (collector.py).
        from leafvcu.collector import Collector
        self.collector = Collector(ticks=clock.ticks_us)
        self.t10.after = self.collector.slot
        # Flight recorder (recorder.py): the driver's tap records every frame; hooks in tick10 and tick100.
        self.recorder = rec_mod.attach(self, fs)

    # --- start-up ---------------------------------------------------------------------------------------------
    def start(self):
        """Brings up the CAN controller and restores what survives a reset. Never raises for a missing or
        miswired chip: that is latched as CAN_BUS (so nothing can start) and reported on the console."""
        now = self._ms()
        cause = self._reset_cause()
        self.faults.note(flt.RESET_CAUSE, now, cause)
        if self._reset_was_watchdog(cause):
            self.vcm.trip(flt.WATCHDOG, now, cause)
        self._start_can(now)
        self._keep_faults()

    def _start_can(self, now):
        # The MCP2515 at the configured crystal (canxtal, unless the App was given one); a missing or miswired
        # chip, or a crystal it cannot make the bit rate from, latches CAN_BUS.
        xtal = self._crystal if self._crystal is not None else self.params.canxtal * 1000000
        self.crystal = xtal
        try:
            can = self.can
            can.init(self.bitrate, xtal, NORMAL)
            self._set_filters()
            self._txb0_spoof = -1
            self._pin_txb0()
            can.pin(_TXB_11A, 0x11A, 8)
            can.pin(_TXB_1D4, 0x1D4, 8)
            can.attach_irq(self.hw.can_int)
            self.can_ok = True
            self.can_error = None
        except (MCP2515Error, ValueError) as e:
            self.can_ok = False
            self.can_error = str(e)
            self.vcm.trip(flt.CAN_BUS, now, 0, 0)

    def params_changed(self):
        """The console changed parameters (set, load, defaults): what the shell built from them follows at once.
        The 55A reading (tmp55a) from the next frame on; the CAN controller is brought up again when canxtal
        changed (HV-locked, so never with an HV relay closed). Returns None, or what went wrong."""
        self.temps.scale = self.params.tmp55a
        if self.can_ok and self.params.bmsdev != self._filters_bms and not self.vcm.hv_lock:
            self._set_filters()  # the battery device's ids (bms is HV-locked)
        if self._crystal is None and self.params.canxtal * 1000000 != self.crystal and not self.vcm.hv_lock:
            self._start_can(self._ms())
            self._keep_faults()
            if not self.can_ok:
                return "CAN controller: %s" % self.can_error
        return None

    def _set_filters(self):
        self._filters_bms = self.params.bmsdev
        self.can.set_filters(RX_IDS + bms_rx_ids(self.params.bmsdev))

    def _reset_cause(self):
        try:
            return self.hw.reset_cause()
        except AttributeError:
            return 0

    def _reset_was_watchdog(self, cause):
        try:
            return cause == self.hw.WDT_RESET
        except AttributeError:
            return False

    # --- the jobs ---------------------------------------------------------------------------------------------
    def tick10(self, now):
        """Every 10 ms: fresh frames in, inputs in, decide, relays out, frames out, watchdog."""
        can = self.can
        if self.can_ok and (can.irq_pending or self.hw.can_int.value() == 0):
            can.drain(self._on_frame_ref)
        self.read_inputs()
        vcm = self.vcm
        if self.t10.resumed:  # the first run after the board's own pause (sched.py): not the peers' silence
            vcm.paused(now, self.t10.pause_us // 1000)
        vcm.step(now)
        self.drive_relays()
        self.recorder.tick(now)  # flight recorder: signals, fault trigger
        if not vcm.frames_enabled:
            self.woke = False
        elif self.woke and self.can_ok:
            if not self._batt10:
                self._batt10 = ticks_diff(now, self.woke_ms) >= _T_BATT10
            self.send_10ms()
        if self.wdt is not None:
            self.wdt.feed()
        elif vcm.mode != OFF:
            self.wdt = self.hw.watchdog(_WDT_MS)
        self.cycles += 1

    def read_inputs(self):
        hw = self.hw
        inp = self.inp
        ign = hw.in_ignition.value() == 1
        inp.ign = ign
        inp.start = ign  # this board has no separate start input: ignition on is the start request
        inp.brake = hw.in_brake.value() == 1
        inp.fwd = hw.in_forward.value() == 1
        inp.rev = hw.in_reverse.value() == 1
        inp.pedal_a = hw.pedal_a.read_u16()
        inp.pedal_b = hw.pedal_b.read_u16()
        # The plug: this board has no pin left for a proximity input; the PDM reporting AC (a fresh 0x390 with
        # an AC class) means the charge cable is in. The charger's view of the previous step (10 ms old).
        inp.plug = self.vcm.chg.ac != 0

    def drive_relays(self):
        # Pin levels follow the core's outputs; the core already orders and spaces the changes.
        vcm = self.vcm
        hw = self.hw
        hw.relay_main.value(1 if vcm.relay_main else 0)
        hw.relay_pre.value(1 if vcm.relay_pre else 0)
        hw.relay_neg.value(1 if vcm.relay_neg else 0)

    def send_10ms(self):
        vcm = self.vcm
        can = self.can
        vcm.fill_11a(self.m11a)
        fr.encode_11a(self.b11a, self.m11a, self.n11a)
        vcm.fill_1d4(self.m1d4)
        fr.encode_1d4(self.b1d4, self.m1d4, self.n1d4)
        spoof = self.params.spoof
        if spoof != self._txb0_spoof:
            self._pin_txb0()
        # TXB0 holds 1DB when spoofing (from _T_BATT10 after the wake-up: nothing before), else 1F2.
        batt = spoof and self._batt10
        if batt:
            vcm.fill_1db(self.m1db)
            fr.encode_1db(self.b1db, self.m1db, self.n1db)
        elif not spoof:
            vcm.fill_1f2(self.m1f2)
            fr.encode_1f2(self.b1f2, self.m1f2, self.n1f2)
        can.tx_begin()
        # A counter advances only when its frame was loaded: the receiver sees +1 per frame it gets.
        if can.tx_load(_TXB_1D4, self.b1d4):
            self.n1d4 = (self.n1d4 + 1) & 3
        if can.tx_load(_TXB_11A, self.b11a):
            self.n11a = (self.n11a + 1) & 3
        if batt:
            if can.tx_load(_TXB_1DB, self.b1db):
                self.n1db = (self.n1db + 1) & 3
        elif not spoof and can.tx_load(_TXB_1DB, self.b1f2):
            self.n1f2 = (self.n1f2 + 1) & 3
        can.tx_commit()
        self._sent10 = True

    def _pin_txb0(self):
        # TXB0 carries 1DB when spoofing the battery (then 1F2 goes at +5 ms), else 1F2 itself: three ids, three
        # pinned buffers, data-only loads. `spoof` is HV-locked, so a change re-pins with HV off (allocates once).
        spoof = self.params.spoof
        self._txb0_spoof = spoof
        self.can.pin(_TXB_1DB, 0x1DB if spoof else 0x1F2, 8)

    def tick10b(self, now):
        """Every 10 ms, 5 ms after tick10, when spoofing the battery: the 10 ms frames that do not fit the three
        pinned buffers, 1F2 for the PDM (charger and DC/DC converter: it needs it while driving too) and 1DC;
        59E every 500 ms."""
        if not (self.vcm.frames_enabled and self.can_ok and self._sent10):
            return  # (1F2 after 1D4 at start-up, as real VCMs)
        vcm = self.vcm
        can = self.can
        spoof = self.params.spoof
        if not spoof:
            return  # 1F2 went in the +0 ms batch (TXB0); no battery frames
        vcm.fill_1f2(self.m1f2)
        fr.encode_1f2(self.b1f2, self.m1f2, self.n1f2)
        vcm.fill_1dc(self.m1dc)
        fr.encode_1dc(self.b1dc, self.m1dc, self.n1dc)
        # One READ STATUS and one RTS for both (the driver lends buffers the +0 ms frames have left).
        can.tx_begin()
        if can.tx_frame(0x1F2, self.b1f2, 8):
            self.n1f2 = (self.n1f2 + 1) & 3
        if self._batt10 and can.tx_frame(0x1DC, self.b1dc, 8):
            self.n1dc = (self.n1dc + 1) & 3
        can.tx_commit()
        if self.cycles % 50 == 0 and ticks_diff(now, self.woke_ms) >= _T_59E:
            can.send(0x59E, self.b59e, 8)

    def tick100(self, now):
        """Every 100 ms: 50B (and the 100 ms battery frames), CAN error state, fault log kept."""
        vcm = self.vcm
        can = self.can
        if self.can_ok:
            if vcm.frames_enabled:
                if not self.woke:
                    self._wake_up(now)
                vcm.fill_50b(self.m50b)
                fr.encode_50b(self.b50b, self.m50b)
                can.send(0x50B, self.b50b, self.m50b.dlc)
                if self.params.spoof and ticks_diff(now, self.woke_ms) >= _T_BATT100:
                    fr.encode_55b(self.b55b, self.n55b)
                    if can.send(0x55B, self.b55b, 8):
                        self.n55b = (self.n55b + 1) & 3
                    # byte 4 bit 0 flips every 500 ms, as a real AZE0 pack's (the rest was encoded once)
                    b = self.b5bc
                    b[4] = (b[4] & 0xFE) | (1 if self.n5bc >= 5 else 0)
                    can.send(0x5BC, b, 8)
                    self.n5bc = self.n5bc + 1 if self.n5bc < 9 else 0
            can.service_errors()
            if can.bus_off and vcm.mode != OFF:
                vcm.trip(flt.CAN_BUS, now, can.tec, can.eflg)
        if self.faults.count != self._faults_kept:
            self._keep_faults()
        self.recorder.idle(now)  # flight recorder: a pending save, HV off only

    def _wake_up(self, now):
        # The first 50B of a wake-up: the start-up order begins again (real VCMs, issue 19). The counters go on
        # (a real VCM boots at every wake-up and starts them at 1; this board stays powered, and a receiver or
        # tools/check.py would read a restart after a short silence as lost or repeated frames).
        self.woke = True
        self.woke_ms = now
        self._batt10 = False
        self._sent10 = False

    # --- receive ----------------------------------------------------------------------------------------------
    def on_frame(self, can_id, data):
        """drain() callback: decode into the state objects the core reads. Allocation-free."""
        n = len(data)
        if can_id == 0x1DA:
            fr.decode_1da(data, self.inv, n)
        elif can_id == 0x55A:
            fr.decode_55a(data, self.temps, n)
        elif can_id == 0x390:
            fr.decode_390(data, self.vcm.pdm.s390, n)
        elif can_id == 0x393:
            fr.decode_393(data, self.vcm.pdm.s393, n)
        elif can_id == 0x679:
            if fr.decode_679(data, n):
                self.vcm.pdm.wake()
        elif self.vcm.bms.rx(can_id, data, n):
            pass  # the battery device's frame (bms.py)
        else:
            self.rx_unknown += 1

    def service_rx(self):
        """What the RX task does when INT fired."""
        if self.can_ok and self.can.irq_pending:
            self.can.drain(self._on_frame_ref)

    # --- the fault log across soft resets ---------------------------------------------------------------------
    def _keep_faults(self):
        self._faults_kept = self.faults.count
        keep = getattr(self.hw, "keep", None)
        if keep is not None:
            keep(self.faults.to_bytes())

    def _restore_faults(self):
        kept = getattr(self.hw, "kept", None)
        if kept is not None:
            data = kept()
            if data:
                self.faults.from_bytes(data)

    # --- failing safe -----------------------------------------------------------------------------------------
    def safe_state(self, code, a=0, b=0):
        """Latch `code`, keep sending torque-0 frames while the core opens the contactors in order, then make
        sure every relay pin is low whatever happened meanwhile. Blocking: the scheduler is gone by now."""
        clock = self.clock
        try:
            now = self._ms()
            self.vcm.trip(code, now, a, b)
            steps = 0
            while steps < _SAFE_STEPS:
                self.tick10(self._ms())
                if not (self.vcm.relay_main or self.vcm.relay_pre or self.vcm.relay_neg):
                    break
                clock.sleep_ms(10)
                steps += 1
        except BaseException:  # noqa: the core failed too: fall through to the hard stop
            pass
        self._hard_stop()
        try:
            self._keep_faults()
        except Exception:
            pass
        self._recorder_flush()

    def _recorder_flush(self):
        # Flight recorder: the scheduler is gone, every relay pin is low: the pending recording to flash now.
        try:
            self.recorder.flush()
        except Exception:
            pass

    def _hard_stop(self):
        # Last resort, no trust in anything above: torque 0 on the bus, then main, precharge, negative open.
        hw = self.hw
        try:
            m = self.m1d4
            m.torque_raw = 0
            fr.encode_1d4(self.b1d4, m, self.n1d4)
            self.can.send_pinned(_TXB_1D4, self.b1d4)
        except Exception:
            pass
        hw.relay_main.value(0)
        hw.relay_pre.value(0)
        hw.relay_neg.value(0)

    def _stop_keeping_log(self):
        # A maintenance stop (Ctrl-C or `reset` with HV off): every relay pin low, the fault log kept in RTC memory.
        self._hard_stop()
        try:
            self._keep_faults()
        except Exception:
            pass
        self._recorder_flush()

    def interrupted(self):
        """Ctrl-C reached the controller. With an HV relay commanded closed (or the mode machine anywhere but OFF
        or FAULT) it is a fault: KBD_INT and the safe state. With HV off it is a maintenance stop (mpremote,
        tools/deploy.py): every relay pin low all the same, noted as routine, nothing latched, so it never
        pushes a fault out of the log and no faults_cleared follows it."""
        vcm = self.vcm
        if (vcm.mode == OFF or vcm.mode == FAULT) and not (vcm.relay_main or vcm.relay_pre or vcm.relay_neg):
            self.faults.note(flt.MAINT_STOP, self._ms(), vcm.mode)
            self._stop_keeping_log()
        else:
            self.safe_state(flt.KBD_INT)

    def request_reset(self):
        """The console's `reset` (refused while an HV relay is closed, console.py): a maintenance stop, not a
        fault: torque 0 on the bus and every relay pin low for certain, the fault log kept, then the board
        resets (the simulator records it). Logs nothing: the next boot logs its reset cause."""
        self.reset_requested = True
        self._stop_keeping_log()
        reset = getattr(self.hw, "reset", None)
        if reset is not None:
            reset()

    def now_ms(self):
        return self._ms()

    # --- running ----------------------------------------------------------------------------------------------
    def poll(self):
        """One pass for a simulator or a plain loop: receive, then every job that is due. Returns the
        microseconds until the next job is due."""
        self.service_rx()
        wait = self.t10.poll()
        w = self.t10b.poll()
        if w < wait:
            wait = w
        w = self.t100.poll()
        if w < wait:
            wait = w
        return wait

    def start_schedule(self):
        """Puts the three jobs on one grid: 10 ms at +0, the second 10 ms job at +5, 100 ms at +3."""
        self.t10.start(0)
        self.t10b.start(5)
        self.t100.start(3)
        self.collector.take()  # from now on only the slot after the +0 ms batch collects

    async def rx_task(self, flag=None):
        # flag: a ThreadSafeFlag the INT handler sets (board); without one, poll every millisecond.
        while True:
            if flag is not None:
                await flag.wait()
            else:
                await async_sleep_ms(1)
            self.service_rx()

    def attach_console(self, port, echo=True):
        """A Console on `port` (term.Port), served by a task of main(). Returns the Console."""
        from leafvcu.console import Console
        from leafvcu.term import Outbox

        self.outbox = Outbox()
        self.console = Console(self, self.outbox.write, echo)
        self.port = port
        return self.console

    async def main(self, extra=()):
        import asyncio

        flag = None
        try:
            flag = asyncio.ThreadSafeFlag()
            self.can.irq_hook = flag.set
        except AttributeError:
            flag = None
        self.start_schedule()
        tasks = [run_forever(t, started=True) for t in self.tasks]
        tasks.append(self.rx_task(flag))
        if self.console is not None:
            from leafvcu.term import console_task

            tasks.append(console_task(self.console, self.port, self.outbox, self._ms))
        for coro in extra:
            tasks.append(coro)
        await asyncio.gather(*tasks)


def run(app, extra=None):
    """Runs a started App (main.py builds it from the board) until an exception or Ctrl-C; both end in the safe
    state, then propagate so the REPL gets control with the car safe.
    extra(app) -> coroutines to run beside the controller's own (the console; a simulator's plant)."""
    import asyncio

    try:
        asyncio.run(app.main(extra(app) if extra is not None else ()))
    except KeyboardInterrupt:
        app.interrupted()
        raise
    except BaseException:
        app.safe_state(flt.TASK_EXC)
        raise
    finally:
        app.collector.release()  # the REPL gets MicroPython's own garbage collection back (collector.py)
    return app
