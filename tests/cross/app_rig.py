"""The whole controller on fake hardware: board.Board built from fakes.machine, the MCP2515 chip model on its
SPI bus, a virtual CAN bus with a recording peer (and, when a test adds one, a simulated inverter).

Not a test module (no test_ prefix): test_app*.py import it; under MicroPython it sits in /tests with them.
Time is a VirtualClock; `run_ms` lets the App's own schedule decide when its jobs run (App.poll), so the
frames on the bus carry the real timing.
"""

from fakes import machine as fm
from fakes.clock import VirtualClock
from fakes.canbus import VirtualCANBus, RecordingNode
from fakes.mcp2515_chip import MCP2515Chip
from leafvcu.board import Board
from leafvcu.app import App
from memfs import MemFs


# Pedal raw readings at rest for the default calibration (pot1 10000..55000, pot2 5000..27500).
PEDAL_REST = (10000, 5000)


class AppRig:
    def __init__(self, present=True, keep_rtc=False, reset_cause=fm.PWRON_RESET, crystal=8000000, start=True,
                 fs=None):
        self.clock = VirtualClock()
        fm.set_clock(self.clock)
        fm.set_reset_cause(reset_cause)
        if not keep_rtc:
            fm.RTC.wipe()
        self.bus = VirtualCANBus(self.clock)
        self.board = Board(fm)
        self.chip = MCP2515Chip(self.clock, self.bus, crystal=crystal)
        self.chip.present = present
        self.chip.attach(self.board.spi, self.board.can_cs, self.board.can_int)
        self.peer = RecordingNode(self.bus, acks=True, name="peer")
        self.fs = fs if fs is not None else MemFs()
        # The chip's crystal is the module's; the App brings the chip up at the saved parameter canxtal.
        self.app = App(self.board, self.clock, fs=self.fs)
        self.relay_log = []   # (t_ms, name, level) at every relay pin change, in the order they happen
        for name, pin in (("pre", self.board.relay_pre), ("main", self.board.relay_main),
                          ("neg", self.board.relay_neg)):
            pin.watch(self._watcher(name))
        self.pedal(*PEDAL_REST)
        if start:
            self.app.start()
            self.app.start_schedule()

    # --- the console, typed into as a user would
    def console(self):
        """A Console on the App (what attach_console builds on the board); type(line) -> the reply text."""
        from leafvcu.console import Console

        out = []
        con = Console(self.app, out.append)

        def type_(line):
            del out[:]
            con.feed_all(line + "\r")
            return "".join(out).rstrip("\r\n")

        self.type = type_
        return con

    # --- inputs
    def key(self, on):
        self.board.in_ignition.drive(1 if on else 0)

    def pedal(self, a, b):
        self.board.pedal_a.set_u16(a)
        self.board.pedal_b.set_u16(b)

    def pedal_pct(self, pct):
        """Both tracks at pct % of travel for the default calibration."""
        self.pedal(10000 + 450 * pct, 5000 + 225 * pct)

    def switch(self, sw):
        """Direction switch: 1 forward, -1 reverse, 0 neutral."""
        self.board.in_forward.drive(1 if sw > 0 else 0)
        self.board.in_reverse.drive(1 if sw < 0 else 0)

    def brake(self, on):
        self.board.in_brake.drive(1 if on else 0)

    def run_until(self, cond, limit_ms, step_ms=1):
        """Runs until cond(rig) holds; returns the virtual ms it took; AssertionError at the limit."""
        t0 = self.clock.now_us
        while not cond(self):
            if self.clock.now_us - t0 > limit_ms * 1000:
                raise AssertionError("not within %d ms" % limit_ms)
            self.run_ms(step_ms)
        return (self.clock.now_us - t0) // 1000

    # --- time
    def run_ms(self, ms, each=None):
        """Runs the App's schedule for `ms` of virtual time; `each(rig)` after every poll (a plant model)."""
        clock = self.clock
        end = clock.now_us + ms * 1000
        while clock.now_us < end:
            wait = self.app.poll()
            if each is not None:
                each(self)
            step = wait if wait > 0 else 1
            if step > 1000:
                step = 1000
            if clock.now_us + step > end:
                step = end - clock.now_us
            clock.advance_us(step)

    def _watcher(self, name):
        def changed(level):
            self.relay_log.append((self.clock.now_us // 1000, name, level))

        return changed

    # --- the bus
    def frames(self, can_id, since_us=0):
        """Data of every frame with `can_id` that completed on the bus since `since_us`."""
        return [bytes(f[2]) for f in self.bus.log if f[1] == can_id and f[0] >= since_us]

    def times(self, can_id):
        return [f[0] for f in self.bus.log if f[1] == can_id]


class MiniInverter:
    """The least an inverter does for the controller's tests: every 10 ms a 1DA (codec-encoded: CRC, counter)
    whose DC voltage follows the relay pins (an RC charge through the precharge relay, the pack through the
    main contactor, a decay when open). The simulator's full model is tools/fakes/inverter.py.
    Fault injection: talk False (silent), errors (1DA byte 6 bits), collapse (DC volts forced)."""

    def __init__(self, rig, pack=380, tau_ms=60):
        self.rig = rig
        self.pack = pack
        self.tau_ms = tau_ms
        self.udc = 0.0
        self.talk = True
        self.errors = 0
        self.collapse = None
        self.n = 0
        self.buf = bytearray(8)
        self.acks = True
        rig.bus.attach(self)
        self._t = rig.clock.now_us
        rig.clock.call_later(10000, self._tick)

    def on_frame(self, t_us, can_id, data, sender):
        pass

    def _tick(self):
        from leafvcu import frames as fr

        rig = self.rig
        now = rig.clock.now_us
        dt_ms = (now - self._t) / 1000.0
        self._t = now
        b = rig.board
        if self.collapse is not None:
            self.udc = float(self.collapse)
        elif b.relay_main.value():
            self.udc = float(self.pack)
        elif b.relay_pre.value():
            k = dt_ms / self.tau_ms
            self.udc += (self.pack - self.udc) * (k if k < 1 else 1)
        else:
            self.udc *= 0.9
        if self.talk:
            buf = self.buf
            v = int(self.udc / 2)
            buf[0] = v if v < 0xFE else 0xFE
            buf[1] = 0
            buf[2] = 0
            buf[3] = 0
            buf[4] = 0
            buf[5] = 0
            buf[6] = (self.errors & 0xFC) | (self.n & 3)
            buf[7] = fr.crc8(buf, 7)
            self.n = (self.n + 1) & 3
            rig.bus.send(self, 0x1DA, bytes(buf))
        rig.clock.call_later(10000, self._tick)
