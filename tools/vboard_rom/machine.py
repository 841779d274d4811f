"""`machine` on the virtual board (tools/vboard.mjs): the host models of tools/fakes wired up as a TinyPICO with
the project's MCP2515 on its SPI pins. Lives in the virtual board's ROM (/rom/lib), never on its flash.

- Pin/SPI/ADC/WDT/RTC are fakes.machine's (installed in ROM as `vbfakes`); SPI transfers and pin reads first
  bring a virtual clock up to real time, so the MCP2515 model's frames take as long as on a real bus.
- The chip: an MCP2515Chip behind the SPI bus and chip-select pin that leafvcu.board.PINS name (5, INT 4, SPI 2
  if that module is not installed), with the crystal the virtual board was started with (--crystal), on a CAN
  bus with one other node that acknowledges frames. --no-chip leaves the bus empty (MISO reads 0xFF).
- reset() / soft_reset() restart the virtual board (hard: like the reset button; soft: like Ctrl-D);
  reset_cause() says how this boot came about; RTC memory survives resets but not a power cycle.
"""
import _vboard
from time import ticks_ms, ticks_diff, sleep_ms
from vbfakes import machine as _m
from vbfakes.clock import VirtualClock

PWRON_RESET = _m.PWRON_RESET
HARD_RESET = _m.HARD_RESET
WDT_RESET = _m.WDT_RESET
DEEPSLEEP_RESET = _m.DEEPSLEEP_RESET
SOFT_RESET = _m.SOFT_RESET
freq = _m.freq
unique_id = _m.unique_id
idle = _m.idle
disable_irq = _m.disable_irq
enable_irq = _m.enable_irq
ADC = _m.ADC
WDT = _m.WDT

try:
    from leafvcu.board import PINS as _PINS, SPI_ID as _SPI_ID

    _CS = _PINS["can_cs"]
    _INT = _PINS["can_int"]
except Exception:  # noqa: the firmware is not installed (yet)
    _CS, _INT, _SPI_ID = 5, 4, 2

_clock = VirtualClock()
_t0 = ticks_ms()


def _sync():
    now = ticks_diff(ticks_ms(), _t0) * 1000
    if now > _clock.now_us:
        _clock.run_until(now)


def reset():
    _vboard.reset("hard")


def soft_reset():
    _vboard.reset("soft")


def reset_cause():
    return _vboard.reset_cause()


def deepsleep(ms=None):
    reset()


def lightsleep(ms=None):
    if ms:
        sleep_ms(ms)


class RTC(_m.RTC):
    def memory(self, data=None):
        if data is None:
            s = _vboard.rtc_get()
            return bytes([int(x) for x in s.split(",")]) if s else b""
        if len(data) > 2048:
            raise ValueError("RTC memory holds at most 2048 bytes")
        _vboard.rtc_set(",".join([str(b) for b in data]))


_hw = {"spi": None, "cs": None, "int": None, "chip": None, "on": None}


def _wire():
    if not _vboard.chip():
        return
    spi = _hw["spi"]
    cs = _hw["cs"]
    if spi is None or cs is None:
        return
    chip = _hw["chip"]
    if chip is None:
        from vbfakes.mcp2515_chip import MCP2515Chip
        from vbfakes.canbus import VirtualCANBus, RecordingNode

        bus = VirtualCANBus(_clock, 500000)
        peer = RecordingNode(bus, acks=True, name="peer")
        peer.on_frame = lambda t, i, d, s: None  # acknowledges, keeps nothing
        chip = _hw["chip"] = MCP2515Chip(_clock, bus, crystal=_vboard.crystal())
    if _hw["on"] != (spi, cs):
        chip.attach(spi, cs)
        _hw["on"] = (spi, cs)
    if _hw["int"] is not None and chip.int_pin is not _hw["int"]:
        chip.connect_int(_hw["int"])


class Pin(_m.Pin):
    def __init__(self, id, mode=-1, pull=-1, value=None, **kwargs):
        _sync()
        super().__init__(id, mode, pull, value, **kwargs)
        if id == _CS and mode == Pin.OUT:
            _hw["cs"] = self
            _wire()
        elif id == _INT and mode == Pin.IN:
            _hw["int"] = self
            _wire()

    def value(self, v=None):
        _sync()
        return super().value(v)


class SPI(_m.SPI):
    def __init__(self, id=1, *args, **kwargs):
        super().__init__(id, *args, **kwargs)
        self.record = False
        if id == _SPI_ID:
            _hw["spi"] = self
            _wire()

    def write(self, buf):
        _sync()
        super().write(buf)

    def read(self, nbytes, write=0):
        _sync()
        return super().read(nbytes, write)

    def readinto(self, buf, write=0):
        _sync()
        super().readinto(buf, write)

    def write_readinto(self, write_buf, read_buf):
        _sync()
        super().write_readinto(write_buf, read_buf)
