"""The shell around the decision core: owns the hardware objects, moves bytes, keeps the schedule.

DESIGN.md "functional core, thin shell": everything that decides lives in vcm.py (and what it owns); this module
reads pins and the ADC into `Inputs`, decodes received frames into the codec's state objects, steps the Vcm,
drives the relay pins from its outputs and encodes/sends the frames. It never decides anything itself, except
the last-resort safe state when the core itself cannot be trusted (an exception, Ctrl-C).

The frames belong to devices (devices.py: one module per CAN peer, each with a table of what it sends and
receives; choice.py picks them from the parameters): this shell runs their tables on its schedule
(sched.Periodic: absolute deadlines, self-measuring), four jobs on one time grid:
  10 ms   +0 ms  decide, then the devices' pinned rows in one batch: with the default devices 11A and 1D4 (the
                 inverter) and 1DB (the spoofed battery) or 1F2 (the PDM, when a Leaf battery is on the bus):
                 one READ STATUS, three data-only LOAD TX BUFFERs and one RTS (30 SPI bytes for the three).
  10 ms   +5 ms  the lent rows in one batch (buffers the +0 ms frames have left by then: the driver lends an
                 idle pinned buffer and reloads its header at the next +0 ms batch): 1F2 and 1DC when
                 spoofing; then the rows sent one by one (59E every 500 ms).
  10 ms   +8 ms  the lent rows the +5 ms batch had no room for (a ZE1's extra frames; idle otherwise).
  10 ms   +4 ms  the lent rows no other batch had room for (a ZE1 with the spoofed battery: its slower frames;
                 idle otherwise). At +4, not +3: on the board tick10 runs about 3 ms, so its frames are still on
                 the bus at +3 (tools/bench.py profiles, the line-costed run).
  100 ms  +3 ms  the 100 ms rows (50B; 55B + 5BC when spoofing); CAN error counters; fault log kept for soft
                 resets.
Receiving is driven by the MCP2515 INT pin: the IRQ only sets a flag (a ThreadSafeFlag on the board), the RX
task drains both buffers and hands each frame to the device that reads its id; the 10 ms job also drains before
deciding, so a missed edge costs at most one cycle. Right before the core decides, the +0 ms job runs the devices'
supervision of what they received (Links.supervise: 1DA, 390, a ZE1's 0x120 fresh or stale; link.py), and after
the board's own pause tells it so (Links.paused): the core reads the links, it does not time the frames.

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
from leafvcu.devices import Frames
from leafvcu.link import Links
from leafvcu import choice
from leafvcu import recorder as rec_mod
from leafvcu.bms import rx_ids as bms_rx_ids
from mcp2515 import MCP2515, MCP2515Error, NORMAL

_WDT_MS = const(1000)       # a stalled 10 ms loop resets the board after this long
_SAFE_STEPS = const(40)     # safe state: at most this many 10 ms steps for the core to open everything
# The start-up order of real VCMs (issue 19, tools/conformance.py): 50B first, the 10 ms VCM frames (11A, 1D4,
# 1F2) from the next 10 ms cycle (the +5 ms batch only after a +0 ms one), each device's own frames as its module
# says (the spoofed battery's 10 ms frames 50 ms after 50B, ...): they read `el`, the ms since the first 50B of
# the wake-up, which each job measures as it starts (saturating at _EL_MAX, so a drive of days never wraps it).
_EL_MAX = const(1000000)


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
        self.inv = fr.RawInverterStatus()
        self.temps = fr.RawInverterTemps(scale=p.tmp55a)
        self.vcm = Vcm(p, self.inp, self.inv, self.temps, now, self.faults)
        self.can = MCP2515(hw.spi, hw.can_cs, clock=clock)
        self.can_ok = False
        self.wdt = None
        self.console = None
        self.reset_requested = False
        # The devices on the bus and the tables the shell runs for them (buffers, counters: devices.py).
        self.frames = Frames(self.can)
        self.frames.faults = self.faults
        self.links = Links()   # the devices' supervision of what they receive (link.py)
        self.devs = ()
        self._devkey = -1
        self._choose()
        self.woke = False      # the first 50B of this wake-up went out (the start-up order above)
        self.woke_ms = 0
        self.el = 0            # ms since woke_ms, as elapsed() last measured it (devices ask elapsed())
        self._sent10 = False   # the +0 ms batch went out since the wake-up (the +5 ms frames follow it)
        self.cycles = 0
        self.n100 = 0          # runs of the 100 ms job (its slower rows)
        self._faults_kept = -1
        self.rx_ids = None  # the ids the acceptance filters admit now (_set_filters)
        self.rx_unknown = 0
        self._on_frame_ref = self.on_frame  # bound method made once: drain() calls it per frame
        self.can.early_rx = self._on_frame_ref  # a transmit that sees frames waiting reads them out first
        self.t10 = Periodic("10ms", 10, self.tick10, clock)
        self.t10b = Periodic("10ms+5", 10, self.tick10b, clock)
        self.t100 = Periodic("100ms", 100, self.tick100, clock)
        self.t10c = Periodic("10ms+8", 10, self.tick10c, clock)
        self.t10d = Periodic("10ms+4", 10, self.tick10d, clock)
        self.tasks = (self.t10, self.t10b, self.t100, self.t10c, self.t10d)
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
            self.rx_ids = None
            self._set_filters()
            self.frames.pin_buffers()
            can.attach_irq(self.hw.can_int)
            self.can_ok = True
            self.can_error = None
        except (MCP2515Error, ValueError) as e:
            self.can_ok = False
            self.can_error = str(e)
            self.vcm.trip(flt.CAN_BUS, now, 0, 0)

    def _choose(self):
        # The devices the parameters name (choice.py), their tables handed to the shell's runner. Configuration:
        # allocates; the selection parameters are HV-locked, so this never runs with a relay closed.
        self._devkey = choice.key(self.params)
        self.devs = tuple(choice.build(self))
        self.frames.configure(self.devs)
        self.links.configure(self.devs)

    def _rechoose(self):
        # The selection changed (set / load / defaults, or a test setting a parameter directly): new devices,
        # the TX buffers pinned to their rows, the filters to their ids (the controller briefly in
        # configuration mode: set_filters).
        self._choose()
        if self.can_ok:
            self._set_filters()
            self.frames.pin_buffers(False)

    def _set_filters(self):
        # The devices' ids and the battery device's (bms.rx_ids by bmsdev); the controller goes through
        # configuration mode only when they changed. Configuration: allocates.
        ids = tuple(self.frames.rx_ids) + bms_rx_ids(self.params.bmsdev)
        if ids != self.rx_ids:
            self.rx_ids = ids
            self.can.set_filters(ids, self.frames.rx_first)

    def params_changed(self):
        """The console changed parameters (set, load, defaults): what the shell built from them follows at once.
        The 55A reading (tmp55a) from the next frame on; the devices' stale limits; the devices when their parameters changed; the CAN
        controller is brought up again when canxtal changed (HV-locked, so never with an HV relay closed).
        Returns None, or what went wrong."""
        self.temps.scale = self.params.tmp55a
        self.links.limits()  # the devices' stale limits (tstale, pdmstale ...: link.py)
        if choice.key(self.params) != self._devkey and not self.vcm.hv_lock:
            self._rechoose()
        if self.can_ok and not self.vcm.hv_lock:
            self._set_filters()  # the battery device's ids follow bmsdev (bms.py; HV-locked)
        if self._crystal is None and self.params.canxtal * 1000000 != self.crystal and not self.vcm.hv_lock:
            self._start_can(self._ms())
            self._keep_faults()
            if not self.can_ok:
                return "CAN controller: %s" % self.can_error
        return None

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
            self.links.paused(self.t10.pause_us // 1000)
            self.frames.paused(self.t10.pause_us // 1000)
        self.links.supervise(now)  # the devices' links (1DA, 390 ...: link.py), which the core reads
        vcm.step(now)
        self.drive_relays()
        self.recorder.tick(now)  # flight recorder: signals, fault trigger
        if not vcm.frames_enabled:
            if self.woke:
                self.frames.asleep()
            self.woke = False
        elif self.woke and self.can_ok:
            self.frames.now = now
            self.frames.pinned()
            self._sent10 = True
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

    def _since(self, now):
        # The 100 ms job: its time for its frames, and el kept moving (elapsed() saturates before ticks wrap).
        self.frames.now = now
        self.elapsed()

    def elapsed(self):
        """ms since the wake-up at the start of the running job (frames.now, which every job that sends sets
        first: when its frames went, for Frames.check); it stops counting at _EL_MAX (ticks wrap after 6.2 days;
        the 100 ms job asks every time). Computed when a device asks (a few times a second), not in every job."""
        if self.el < _EL_MAX:
            self.el = ticks_diff(self.frames.now, self.woke_ms)
        return self.el

    def tick10b(self, now):
        """Every 10 ms, 5 ms after tick10: the devices' lent rows in one batch (with the spoofed battery 1F2 for
        the PDM and 1DC), then the rows sent one by one (59E every 500 ms)."""
        if not (self.vcm.frames_enabled and self.can_ok):
            return
        if not self.woke:
            self.frames.waking()  # a device's frames before the first 50B (ZE1: 605, 607, 603)
            return
        if not self._sent10:
            return  # (1F2 after 1D4 at start-up, as real VCMs)
        self.frames.now = now
        f = self.frames
        f.batch(0, self.cycles)
        if f.send10:
            f.sends(self.cycles)

    def tick10c(self, now):
        """Every 10 ms, 8 ms after tick10: the lent rows the +5 ms batch had no room for (a ZE1's extra frames),
        and the frames an earlier batch had no free buffer for (devices.Frames._keep); returns at once when there
        are none (the Leaf AZE0 / ZE0 profiles, mostly)."""
        if (self.frames.lend8 or self.frames.nc) and self.vcm.frames_enabled and self.can_ok and self._sent10:
            self.frames.now = now
            self.frames.batch(1, self.cycles)

    def tick10d(self, now):
        """Every 10 ms, 4 ms after tick10: the lent rows packed at +4 ms (a ZE1 with the spoofed battery: its
        slower frames), and carried frames (as tick10c); returns at once when there are none."""
        if (self.frames.lend4 or self.frames.nc) and self.woke and self.vcm.frames_enabled and self.can_ok \
                and self._sent10:
            self.frames.now = now
            self.frames.batch(2, self.cycles)

    def tick100(self, now):
        """Every 100 ms: the devices' 100 ms rows (50B, ...), CAN error state, fault log kept."""
        vcm = self.vcm
        can = self.can
        if choice.key(self.params) != self._devkey and not vcm.hv_lock:
            self._rechoose()  # a selection parameter set directly, not through the console (tests)
        if self.can_ok:
            if vcm.frames_enabled and (self.woke or self.frames.woken()):
                if not self.woke:
                    self._wake_up(now)
                self._since(now)
                self.frames.slow(self.n100)
                self.n100 += 1
                self.frames.check(now)   # a frame a peer needs, missing on the bus: noted in the fault log
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
        self.el = 0
        self._sent10 = False
        self.frames.started(now)
        for d in self.devs:
            d.woke()

    # --- receive ----------------------------------------------------------------------------------------------
    def on_frame(self, can_id, data):
        """drain() callback: the frame to the device that reads its id (into the state objects the core reads),
        else to the battery device (bms.py: bmsdev). Allocation-free; the devices' decoders straight from the
        shell's table (devices.Frames.rx), one call less per frame than through a method of Frames."""
        dec = self.frames.rx.get(can_id)
        if dec is not None:
            dec(data, len(data))
        elif not self.vcm.bms.rx(can_id, data, len(data)):
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
            self.frames.hard_stop()
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
        w = self.t10c.poll()
        if w < wait:
            wait = w
        w = self.t10d.poll()
        if w < wait:
            wait = w
        return wait

    def start_schedule(self):
        """Puts the jobs on one grid: 10 ms at +0, the other 10 ms jobs at +5, +8 and +4, 100 ms at +3."""
        self.t10.start(0)
        self.t10b.start(5)
        self.t100.start(3)
        self.t10c.start(8)
        self.t10d.start(4)
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
