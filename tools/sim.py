"""The simulator: the real firmware (firmware/lib, unchanged) against a simulated Leaf drivetrain.

    python tools/sim.py                       interactive, real time: the firmware's console is the terminal
    python tools/sim.py < commands.txt        the same, scripted: one line per command, exits at the end
    python tools/sim.py run SCENARIO [--log OUT.log] [--plot OUT.png] [--quiet] [--recorder DIR]
                                              a scenario under the virtual clock, as fast as the host can
    python tools/sim.py demo                  runs scenarios/demo-drive.scn, writes out/demo-drive.{log,png}
    python tools/sim.py web [SCENARIO] [--port 8080]
                                              the firmware's dashboard on http://127.0.0.1:8080, the car in real
                                              time (tools/simweb.py)
    python tools/sim.py bridge --interface socketcan --channel can0
                                              the simulated inverter on a real CAN bus (python-can), for a
                                              real TinyPICO on the bench

What runs: leafvcu.app.App on a board.Board built from fakes.machine, its MCP2515 driver talking byte by byte
to the register-level chip model (fakes.mcp2515_chip) on a virtual CAN bus (fakes.canbus), against
fakes.plant (inverter that checks the protocol, precharge circuit and pack, car, driver controls). Time is a
VirtualClock: `run` advances it from event to event, the interactive mode keeps it in step with the wall clock.

Console lines go to the firmware's console (help, status, set ...), byte for byte as typed (a line with bytes
that are not ASCII is refused by the console, as on the board). Lines starting with "." drive the simulated car,
with the scenario file's words: ".ignition on", ".direction forward", ".pedal 30 over 2", ".brake on",
".plug in", ".inject can_loss", ".restore can_loss", ".inject stall 300" (the firmware freezes for 300 ms
of simulated time from now: World.stall), and ".wait 2.5" (let 2.5 s pass: 0 to 1e6 s, as a
scenario's times), ".status", ".quit". A bad "." line gets a one-line error and changes nothing. Piped, what the
console writes by itself (the lines of `stream`) shows as it comes, during a ".wait" too.

A reset of the board (the console's `reset`, or anything calling machine.reset()) reboots the simulated board
as a reset reboots the TinyPICO: the simulator says so in one line, the relay outputs drop, and the firmware
boots again at once on the same car, with reset cause HARD_RESET, the parameters saved in its simulated flash
(--flash) and the fault log kept in RTC memory; what the reset clears or keeps latched is the firmware's rule.

Exit codes of `run`: 0 every expectation held, 1 one failed (which, at what simulated time), 2 malformed
scenario (file and line) or unreadable input.
"""

import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for _p in (HERE, os.path.join(REPO, "firmware", "lib")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import accel  # noqa: E402

if __name__ == "__main__":  # the command line runs the compiled models if built (tools/accel.py); imports do not
    accel.enable()
from fakes import machine as fm  # noqa: E402
from fakes.clock import VirtualClock  # noqa: E402
from fakes.canbus import VirtualCANBus  # noqa: E402
from fakes.mcp2515_chip import MCP2515Chip  # noqa: E402
from fakes.plant import Plant, INJECTIONS, ONE_SHOT  # noqa: E402
from leafvcu import board as board_mod  # noqa: E402
from leafvcu.app import App  # noqa: E402
from leafvcu.console import Console  # noqa: E402
from leafvcu import vcm as V  # noqa: E402
from leafvcu import faults as F  # noqa: E402
import scenario as scn  # noqa: E402

SCENARIOS = os.path.join(REPO, "scenarios")
OUT = os.path.join(REPO, "out")
SAMPLE_US = 10000          # the recorder's period (the plot's resolution)
LOG_EPOCH = 1700000000.0   # candump timestamps start here, like the recordings in ../shared
PACK_V_PER_KWH = 600.0     # the simulated pack is tiny (600 V per kWh) so that a charge fits in a minute


class DirFs:
    """The board's flash as a host directory (for leafvcu.settings: open / rename / remove / stat)."""

    def __init__(self, root):
        self.root = root
        os.makedirs(root, exist_ok=True)

    def _p(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def open(self, path, mode):
        return open(self._p(path), mode)

    def rename(self, a, b):
        os.rename(self._p(a), self._p(b))

    def remove(self, path):
        os.remove(self._p(path))

    def stat(self, path):
        return os.stat(self._p(path))


class World:
    """Everything on one virtual clock. `run_until(t_us)` moves it forward from event to event."""

    def __init__(self, flash_dir=None, inverter_power="always"):
        self.clock = VirtualClock()
        fm.set_clock(self.clock)
        fm.set_reset_cause(fm.PWRON_RESET)
        fm.RTC.wipe()
        self.bus = VirtualCANBus(self.clock)
        self.board = board_mod.Board(fm)
        self.chip = MCP2515Chip(self.clock, self.bus, crystal=board_mod.CAN_CRYSTAL)
        self.chip.attach(self.board.spi, self.board.can_cs, self.board.can_int)
        self.board.spi.record = False  # the simulator does not keep an SPI log (tests do)
        for pin in vars(self.board).values():  # nor pin level histories (a test aid: 145k CS edges a minute)
            if isinstance(pin, fm.Pin):
                pin.history = None
        self._tmp = None
        if flash_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="leafvcu-flash-")
            flash_dir = self._tmp.name
        self.flash_dir = flash_dir
        self.out = []
        self.boots = 0
        self.stall_until_us = None  # the firmware is frozen until then (stall(); None: running)
        self._stall_t0 = 0
        self.stalls = []            # (start s, length ms, how it ended: "resumed" / "watchdog") of every stall
        self._boot()
        self.plant = Plant(self.clock, self.bus, self.board, params=self.app.params, inverter_power=inverter_power)
        # The simulated pack is small (60 V per kWh) so that a charge to the target fits in a minute.
        self.plant.attach_pdm(v_per_kwh=PACK_V_PER_KWH)
        self.plant.start()
        self.samples = []
        self._next_sample = 0

    def _boot(self):
        """What main.py does at every start of the board: the App built on the board's hardware (the flash's
        saved parameters, the fault log kept in RTC memory), started, its tasks on the grid, its console."""
        self.boots += 1
        self.app = App(self.board, self.clock, fs=DirFs(self.flash_dir))
        self.app.start()
        self.app.start_schedule()
        # The board's tasks, as World.run_until runs them: [job, its next deadline (clock.now_us scale)]
        now = self.clock.now_us
        self._jobs = [[t, now] for t in self.app.tasks]
        self.app.can.irq_hook = self._irq
        self.console = Console(self.app, self.out.append)
        self.app.console = self.console

    def reboot(self, why):
        """The firmware reset the board (machine.reset(), e.g. the console's `reset`): as on the ESP32 the chip
        restarts with reset cause HARD_RESET (MicroPython's machine.reset(); SOFT_RESET, DEEPSLEEP_RESET for the
        others), the relay outputs fall to their pull-downs, RTC memory and the flash survive, the car and the
        MCP2515 (its own supply) go on. The firmware then boots again at once (the boot takes no simulated
        time) and decides by its own rules what a reset clears and what it keeps."""
        for pin in (self.board.relay_main, self.board.relay_pre, self.board.relay_neg):
            pin.value(0)
        wdt = self.app.wdt
        if wdt is not None:  # the hardware watchdog stops with the reset (the fake's timer would stay armed)
            self.clock.cancel(getattr(wdt, "_timer", None))
            wdt.on_expire = None
        why = str(why)
        fm.set_reset_cause(fm.SOFT_RESET if "soft_reset" in why else
                           fm.DEEPSLEEP_RESET if "deepsleep" in why else
                           fm.WDT_RESET if "watchdog" in why else fm.HARD_RESET)
        if self.stall_until_us is not None:  # a reset ends a pause: the board boots again at once
            self.stall_until_us = None
            self.stalls[-1] = self.stalls[-1][:2] + ("watchdog" if "watchdog" in why else "reset",)
        self._boot()
        self.out.append("simulator: the board reset (%s) at %.3f s simulated; the firmware boots again (boot %d: "
                        "parameters from the simulated flash, the fault log from RTC memory)\n"
                        % (why, self.clock.now_us / 1e6, self.boots))

    # --- time
    def run_until(self, t_us):
        """run_until, with a reset of the board on the way handled as the board would (see reboot())."""
        while True:
            try:
                return self._run_until(t_us)
            except fm.MachineReset as e:
                self.reboot(e)

    def stall(self, ms):
        """The firmware freezes for ms from now, as a garbage collection or a flash write freezes the ESP32: no
        task runs, no frame is read or sent by it, the console is not served; the bus, the MCP2515 (it goes on
        receiving into its two buffers, then overflows), the car, the models and the hardware watchdog go on.
        Afterwards the firmware resumes where it was, with whatever its clock reads then. A stall that outlasts
        the watchdog (armed once HV was first requested) ends in a watchdog reset, as on the board."""
        ms = float(ms)
        lo, hi = ONE_SHOT["stall"]
        if not lo <= ms <= hi:
            raise ValueError("a stall lasts %g to %g ms" % (lo, hi))
        now = self.clock.now_us
        end = now + int(ms * 1000)
        if self.stall_until_us is not None and self.stall_until_us > end:
            end = self.stall_until_us
        if self.stall_until_us is None:
            self._stall_t0 = now
        self.stall_until_us = end
        self.stalls.append((now / 1e6, ms, "resumed"))

    def _paused(self, t_us):
        """A stall: only the models' timers run, up to t_us or the stall's end; the hardware watchdog expiring
        meanwhile resets the board (fakes.machine.MachineReset, handled by run_until)."""
        clock = self.clock
        end = self.stall_until_us
        while clock.now_us < t_us and clock.now_us < end:
            stop = t_us if t_us < end else end
            wdt = self.app.wdt
            if wdt is not None and wdt.expired_at_us is None:
                due = wdt._last + wdt.timeout_ms * 1000  # (the fake's deadline: its timer fires there)
                if due < stop:
                    stop = due
            if self._next_sample < stop:
                stop = self._next_sample
            clock.run_until(stop)
            if clock.now_us >= self._next_sample:
                self._sample()
            if wdt is not None and wdt.expired:
                raise fm.MachineReset("watchdog: the firmware stalled for %d ms" % (
                    (clock.now_us - self._stall_t0) // 1000))
        if clock.now_us >= end:
            self.stall_until_us = None

    def _run_until(self, t_us):
        """From event to event, the firmware's tasks run as on the board: the receive task when the MCP2515's
        INT fell (the driver's IRQ handler sets irq_pending, then irq_hook, which wakes the clock here as it
        sets a ThreadSafeFlag there), each periodic job at its own deadline. Between those moments only the
        model timers run: a poll of the firmware at any other moment would do nothing. While the console has
        output to produce it is polled at every timer too."""
        clock = self.clock
        app = self.app
        can = app.can
        jobs = self._jobs
        console = self.console
        con = console.busy or console.streaming  # only a command (typed between run_until calls) starts these
        if self.stall_until_us is not None:
            self._paused(t_us)
            if self.stall_until_us is not None:
                return  # still frozen at t_us
        while True:
            if can.irq_pending:
                clock.wake = False
                app.service_rx()
            nxt = t_us
            for job in jobs:
                if clock.now_us >= job[1]:
                    wait = job[0].poll()
                    job[1] = clock.now_us + (wait if wait > 0 else 1)
                if job[1] < nxt:
                    nxt = job[1]
            now = clock.now_us
            if now >= t_us:
                break
            if nxt > self._next_sample > now:
                nxt = self._next_sample
            if con:  # step timer by timer, the console polled at each (as it would be on the board)
                console.poll(app.now_ms())
                con = console.busy or console.streaming
                timer = clock.next_timer_us()
                if timer is not None and now < timer < nxt:
                    nxt = timer
                clock.run_until(nxt)
            else:
                clock.run_until_wake(nxt)
            if clock.now_us >= self._next_sample:
                self._sample()

    def _irq(self):
        self.clock.wake = True  # (the board's hook sets the receive task's ThreadSafeFlag)

    def _sample(self):
        p = self.plant
        if p.bms.profile != self.app.params.bmsdev:
            p.bms.set_profile(self.app.params.bmsdev)  # the car has the battery the controller is set up for
        v = self.app.vcm
        self.samples.append((self.clock.now_us / 1e6, p.signal("pedal"), v.torque / 4.0, p.signal("torque"),
                             p.signal("speed"), p.signal("udc"), v.mode, p.signal("chgcmd") / 1000.0,
                             p.signal("chgout") / 1000.0, p.signal("pack")))
        self._next_sample += SAMPLE_US

    # --- the console
    def type(self, line):
        """Types a console line (str, or bytes as they came from a terminal); returns the reply text and takes it
        out of `out` (which keeps what the console writes by itself: stream lines). Console output not yet
        taken before the line is dropped."""
        del self.out[:]
        try:
            self.console.feed_all(line + (b"\r" if isinstance(line, bytes) else "\r"))
        except fm.MachineReset as e:
            self.reboot(e)
        text = "".join(self.out)
        del self.out[:]
        return text

    def act(self, step):
        """Applies a scenario action (scenario.Step) to the car."""
        c = self.plant.controls
        a = step.action
        if a == "ignition":
            c.ignition(step.args[0])
        elif a == "brake":
            c.brake(step.args[0])
        elif a == "direction":
            c.direction(step.args[0])
        elif a == "pedal":
            c.pedal(step.args[0], step.args[1], now_us=self.clock.now_us)
        elif a == "plug":
            self.plant.plug(step.args[0])
        elif a == "inject" and step.args[0] == "stall":
            self.stall(step.args[1] if step.args[1] is not None else INJECTIONS["stall"][1])
        elif a == "inject":
            self.plant.inject(step.args[0], step.args[1])
        elif a == "restore":
            self.plant.restore(step.args[0])
        elif a == "type":
            return self.type(step.args[0])
        elif a == "inverter":
            self.plant.set_inverter(step.args[0], step.args[1])
        elif a == "battery":
            self.plant.bms.ze1 = step.args[0] == "leaf62"
        return ""

    def observe(self, e):
        """What a scenario expectation looks at (scenario.Expect.holds)."""
        if e.what == "mode":
            return self.app.vcm.mode
        if e.what == "fault":
            return self.app.faults.is_latched(e.code)
        if e.what == "nofault":
            return self.app.faults.latched != 0
        return self.plant.signal(e.name)

    def status(self):
        v = self.app.vcm
        faults = ",".join(F.name(c) for c in self.app.faults.codes()) or "none"
        return "t=%7.2fs  %-9s %s  request %6.1f Nm  faults %s" % (
            self.clock.now_us / 1e6, v.mode_name(), self.plant.status(), v.torque / 4.0, faults)

    # --- outputs
    def write_log(self, path):
        """Every frame that crossed the bus, as candump -L (what tools/check.py and SavvyCAN read)."""
        with open(path, "w") as f:
            for t_us, can_id, data in self.bus.log:
                f.write("(%.6f) can0 %03X#%s\n" % (LOG_EPOCH + t_us / 1e6, can_id, bytes(data).hex().upper()))

    def write_plot(self, path, title=""):
        plot(self.samples, path, title)

    def recordings(self):
        """The flight recorder's recordings on the simulated board's flash (tools/recording.Recording), oldest
        first, each with `offset_us`: what puts its times on the bus log's axis (its ticks_us wrap every 2**30)."""
        import recording

        out = []
        for k in range(self.app.recorder.slots):
            path = os.path.join(self.flash_dir, "rec%d.bin" % k)
            if os.path.exists(path):
                rec = recording.read(path)
                now = self.clock.now_us
                last = rec.end_us % recording.PERIOD
                base = now - now % recording.PERIOD
                rec.offset_us = base + (last if last <= now % recording.PERIOD else last - recording.PERIOD) \
                    - rec.end_us
                out.append(rec)
        out.sort(key=lambda r: r.seq)
        return out

    def write_recordings(self, outdir, plot=True):
        """Writes every recording as the board's `recorder pull` would (candump -L, CSV, PNG); the paths."""
        import recording

        paths = []
        for rec in self.recordings():
            paths += recording.export(rec, outdir, LOG_EPOCH + rec.offset_us / 1e6, plot)
        return paths


def plot(s, path, title="", speed_label="speed km/h", xlabel="time s"):
    """The plotter: rows of (t s, pedal %, torque request Nm, effective torque Nm, speed, DC V, mode, charge
    command kW, PDM output kW, pack EMF V) -> a PNG (the simulator's samples; tools/recording.py's window)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [r[0] for r in s]
    charging = any(r[7] or r[8] for r in s)
    n = 6 if charging else 5
    fig, ax = plt.subplots(n, 1, sharex=True, figsize=(11, 2 * n))
    ax[0].plot(t, [r[1] for r in s], color="tab:green")
    ax[0].set_ylabel("pedal %")
    ax[1].plot(t, [r[3] for r in s], label="effective (inverter)", color="tab:blue")
    ax[1].plot(t, [r[2] for r in s], label="request (1D4)", color="tab:orange", linestyle="--")
    ax[1].set_ylabel("torque Nm")
    ax[1].legend(loc="upper right", fontsize=8)
    ax[2].plot(t, [r[4] for r in s], color="tab:purple")
    ax[2].set_ylabel(speed_label)
    ax[3].plot(t, [r[5] for r in s], color="tab:red", label="DC link")
    if charging:
        ax[3].plot(t, [r[9] for r in s], color="tab:brown", linestyle="--", label="pack EMF")
        ax[3].legend(loc="lower right", fontsize=8)
    ax[3].set_ylabel("V")
    if charging:
        ax[4].plot(t, [r[7] for r in s], label="command (1F2)", color="tab:orange", linestyle="--")
        ax[4].plot(t, [r[8] for r in s], label="PDM output", color="tab:blue")
        ax[4].set_ylabel("charge kW")
        ax[4].legend(loc="upper right", fontsize=8)
    m = ax[n - 1]
    m.step(t, [r[6] for r in s], where="post", color="black")
    m.set_yticks(range(len(V.MODE_NAMES)))
    m.set_yticklabels(V.MODE_NAMES, fontsize=8)
    m.set_ylabel("mode")
    m.set_xlabel(xlabel)
    for a in ax:
        a.grid(True, alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


# --- scenarios --------------------------------------------------------------------------------------------------
def run_scenario(path, log=None, plot=None, quiet=False, echo=print, recorder=None):
    """Runs a scenario file; returns (exit code, World or None)."""
    try:
        sc = scn.load(path)
    except scn.ScenarioError as e:
        echo("malformed scenario: %s" % e)
        return 2, None
    except OSError as e:
        echo("cannot read scenario %s: %s" % (path, e.strerror or e))
        return 2, None
    world = World()
    tracker = scn.ExpectTracker(sc)
    actions = list(sc.actions)
    started = time.monotonic()
    t = 0
    while t <= sc.end_us:
        world.run_until(t)
        tracker.update(t, world.observe)
        while actions and actions[0].t_us <= t:
            step = actions.pop(0)
            reply = world.act(step)
            if reply and not quiet:
                for line in reply.splitlines():
                    echo("%8.2fs  > %s: %s" % (t / 1e6, step.args[0], line))
        t += SAMPLE_US
    tracker.finish(sc.end_us, world.observe)
    wall = time.monotonic() - started
    name = os.path.basename(path)
    if log:
        world.write_log(log)
    if plot:
        world.write_plot(plot, name)
    rec_paths = world.write_recordings(recorder) if recorder else []
    for e, t_us, seen in tracker.failed:
        echo("%s:%d: FAILED at %.2f s simulated: expected %s, saw %s" % (
            path, e.line, t_us / 1e6, e.describe(), _seen(e, seen)))
    if not quiet:
        echo("%s: %d expectations held, %d failed; %.1f s simulated in %.1f s (%.0fx real time, %s models)" % (
            name, len(tracker.passed), len(tracker.failed), sc.end, wall, sc.end / wall if wall else 0,
            "compiled" if accel.active() else "pure Python"))
        if log:
            echo("bus log: %s (%d frames)" % (log, len(world.bus.log)))
        if plot:
            echo("plot:    %s" % plot)
        if recorder:
            echo("flight recordings: %s" % (", ".join(rec_paths) if rec_paths else
                                            "none (no fault, or not yet saved when the scenario ended)"))
    return (1 if tracker.failed else 0), world


def _seen(e, v):
    if e.what == "mode":
        return V.MODE_NAMES[v] if isinstance(v, int) and 0 <= v < len(V.MODE_NAMES) else repr(v)
    if e.what in ("fault", "nofault"):
        return "latched: %s" % (v,)
    return "%g" % v if isinstance(v, (int, float)) else repr(v)


# --- interactive / piped -----------------------------------------------------------------------------------------
def sim_command(world, line):
    """A "." line: the car's controls in the scenario file's words, or .wait / .quit. Returns text to show."""
    words = line[1:].strip()
    if not words:
        return ""
    head = words.split()[0].lower()
    if head == "wait":
        args = words.split()[1:]
        secs = scn.seconds(args[0]) if len(args) == 1 else None
        if secs is None:  # the scenario file's rule for a time: nan, inf, negative, hex, too long are refused
            return "usage: .wait SECONDS (a number from 0 to %d)" % scn.MAX_SECONDS
        world.run_until(world.clock.now_us + scn.us(secs))
        return world.status()
    if head == "status":
        return world.status()
    try:
        sc = scn.parse("0 %s\n0.01 end\n" % words, "<typed>")
    except scn.ScenarioError as e:
        return "simulator: %s" % e.message
    out = []
    for step in sc.actions:
        if step.action != "end":
            out.append(world.act(step))
    return "".join(out) or "OK (simulator)"


def _dot_command(world, line):
    """A "." line as it came from stdin (bytes or str): its reply. Its words are ASCII; a line with other bytes
    is refused whole, as the console refuses one."""
    if isinstance(line, bytes):
        try:
            line = line.decode("ascii")
        except UnicodeDecodeError:
            return "simulator: line ignored: non-ASCII bytes in it"
    return sim_command(world, line)


def _is_quit(line):
    return line.strip().lower() in ((b".quit", b".exit") if isinstance(line, bytes) else (".quit", ".exit"))


def piped(stdin, stdout, flash_dir=None):
    """Standard input is not a terminal: each line is typed (console or "." command) with 100 ms of simulated
    time after it; the replies go to stdout, and so does what the console writes by itself meanwhile (`stream`
    lines during a `.wait`), in the order it came; exits at the end of the input. stdin gives bytes (a binary
    stream, as main() passes it: the console gets the bytes as typed) or str."""
    world = World(flash_dir=flash_dir)

    def flush():
        if world.out:
            stdout.write("".join(world.out))
            del world.out[:]

    world.run_until(100000)
    flush()
    for raw in stdin:
        line = raw.rstrip(b"\r\n") if isinstance(raw, bytes) else raw.rstrip("\r\n")
        if _is_quit(line):
            break
        if line[:1] in (".", b"."):
            reply = _dot_command(world, line)
            flush()  # what the console wrote while the car's time ran (a .wait), before the simulator's reply
            if reply:
                stdout.write(reply.rstrip("\n") + "\n")
        else:
            flush()
            stdout.write(world.type(line))
        world.run_until(world.clock.now_us + 100000)
        flush()
        stdout.flush()
    return 0


def interactive(flash_dir):
    """Real time; the terminal is the firmware's console, with a live status line."""
    import select

    world = World(flash_dir=flash_dir)
    print("leafvcu simulator: the firmware's console is this terminal (try: help, status).")
    print("Drive the car with . lines: .ignition on  .direction forward  .pedal 30  .brake on  .inject can_loss"
          "  .quit")
    t0 = time.monotonic()
    last_status = 0.0
    buf = b""
    while True:
        now = time.monotonic() - t0
        world.run_until(int(now * 1e6))
        ready, _, _ = select.select([sys.stdin], [], [], 0.02)
        if ready:
            chunk = os.read(sys.stdin.fileno(), 1024)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                line = line.rstrip(b"\r")
                sys.stdout.write("\r\x1b[K")
                if _is_quit(line):
                    return 0
                if line[:1] == b".":
                    world.out.append(_dot_command(world, line) + "\n")
                else:
                    sys.stdout.write("".join(world.out) + world.type(line))
        text = "".join(world.out)
        if text:
            del world.out[:]
            sys.stdout.write("\r\x1b[K" + text)
        if now - last_status > 0.2:
            last_status = now
            sys.stdout.write("\r\x1b[K" + world.status())
            sys.stdout.flush()
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="sim.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd")
    r = sub.add_parser("run", help="run a scenario under the virtual clock")
    r.add_argument("scenario")
    r.add_argument("--log", help="write the bus log (candump -L) here")
    r.add_argument("--plot", help="write the plot (PNG) here")
    r.add_argument("--quiet", action="store_true")
    r.add_argument("--recorder", metavar="DIR",
                   help="write the flight recorder's recordings left on the simulated board's flash here "
                        "(candump -L, CSV, PNG: what deploy.py recorder pull writes)")
    d = sub.add_parser("demo", help="run the demo scenario and write out/demo-drive.{log,png}")
    d.add_argument("--out", default=OUT)
    b = sub.add_parser("bridge", help="the simulated inverter on a real CAN bus through python-can")
    b.add_argument("--interface", default="socketcan")
    b.add_argument("--channel", default="can0")
    b.add_argument("--bitrate", type=int, default=500000)
    b.add_argument("--seconds", type=float, default=None, help="stop after this long (default: Ctrl-C)")
    w = sub.add_parser("web", help="serve the firmware's dashboard from the simulator (tools/simweb.py)")
    w.add_argument("scenario", nargs="?")
    w.add_argument("--host", default="127.0.0.1")
    w.add_argument("--port", type=int, default=8080, help="0: any free port (printed)")
    w.add_argument("--seconds", type=float, default=None, help="stop after this long (default: Ctrl-C)")
    w.add_argument("--no-console", action="store_true", help="do not read console lines from standard input")
    ap.add_argument("--web", action="store_true",
                    help="interactive, with the firmware's dashboard served on http://127.0.0.1:8080 (= sim web)")
    ap.add_argument("--flash", default=os.path.join(OUT, "sim-flash"),
                    help="directory standing in for the board's flash (saved parameters)")
    args = ap.parse_args(argv)
    if args.cmd == "run":
        code, _ = run_scenario(args.scenario, args.log, args.plot, args.quiet, recorder=args.recorder)
        return code
    if args.cmd == "demo":
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(SCENARIOS, "demo-drive.scn")
        log = os.path.join(args.out, "demo-drive.log")
        plot = os.path.join(args.out, "demo-drive.png")
        code, world = run_scenario(path, log, plot)
        if world is not None:
            import check

            report = check.check_frames(check.read_log(log))
            print("tools/check.py on the bus log: %d frames, %d violations" % (report.frames, report.violations))
            if report.violations:
                code = 1
        return code
    if args.cmd == "web" or (args.cmd is None and args.web):
        import simweb

        if args.cmd is None:
            args = argparse.Namespace(scenario=None, host="127.0.0.1", port=8080, seconds=None, no_console=False,
                                      flash=args.flash)
        return simweb.main(args)
    if args.cmd == "bridge":
        import bridge

        return bridge.run(args.interface, args.channel, args.bitrate, args.seconds)
    if sys.stdin.isatty():
        return interactive(args.flash)
    return piped(sys.stdin.buffer, sys.stdout, args.flash)


if __name__ == "__main__":
    sys.exit(main())
