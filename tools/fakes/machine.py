"""A fake `machine` module for tests and the simulator: Pin, SPI, ADC, WDT and a few module functions.

It follows the MicroPython (ESP32 port) API the firmware uses, plus host-side hooks:

- Pin: a level that the MCU sets (output) or a model drives (`pin.drive(level)`, input side); models
  watch it with `pin.watch(cb)`; `pin.history` records (clock_us, level) if the pin has a clock.
- SPI: devices attach with `spi.attach(device, cs_pin)`; while that CS pin is low each byte goes to
  `device.exchange(byte) -> byte`; CS falling calls `device.begin()` and CS rising `device.end()` if the
  device has them. A device may also offer `exchange_block(wbuf, rbuf, n)`: the n bytes of one write()
  or write_readinto() call at once (rbuf None for write()), with the same result as n exchange() calls;
  the SPI then uses it (the byte path stays for read()/readinto() and devices without it).
  `spi.transactions` records (mosi_bytes, miso_bytes) per CS-low..CS-high while `spi.record` is True.
  With no selected device MISO reads 0xFF (the pulled-up line a missing chip leaves).
- ADC: `adc.set_u16(v)` (or `adc.source = callable`) sets what read_u16()/read() return.
- WDT: counts feeds (`wdt.fed`) and expires on the clock (`wdt.expired`, `wdt.on_expire`).

A default clock for objects built by code that does not know about clocks (board.py) can be set with
`set_clock(clock)`.
"""

_default_clock = None


def set_clock(clock):
    """Default clock for Pins (history), WDTs and lightsleep() created from now on; None to clear."""
    global _default_clock
    _default_clock = clock


def get_clock():
    return _default_clock


# --- module functions --------------------------------------------------------------------------

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

_reset_cause = PWRON_RESET
_freq = 240000000


class MachineReset(BaseException):
    """Raised by reset()/soft_reset()/deepsleep(): the board would restart here.

    Derives from BaseException so firmware `except Exception` handlers do not swallow it.
    """


def reset():
    raise MachineReset("machine.reset()")


def soft_reset():
    raise MachineReset("machine.soft_reset()")


def reset_cause():
    return _reset_cause


def set_reset_cause(cause):
    global _reset_cause
    _reset_cause = cause


def freq(hz=None):
    global _freq
    if hz is None:
        return _freq
    _freq = hz


def unique_id():
    return b"\x24\x0a\xc4\x00\x11\x22"


def idle():
    pass


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


def lightsleep(ms=None):
    if ms is not None and _default_clock is not None:
        _default_clock.sleep_ms(ms)


def deepsleep(ms=None):
    raise MachineReset("machine.deepsleep()")


# --- Pin ---------------------------------------------------------------------------------------

class _PinIRQ:
    def __init__(self, pin):
        self._pin = pin

    def trigger(self):
        return self._pin._irq_trigger

    def flags(self):
        return self._pin._irq_flags


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_DOWN = 1
    PULL_UP = 2
    PULL_HOLD = 4
    IRQ_RISING = 1
    IRQ_FALLING = 2
    WAKE_LOW = 4
    WAKE_HIGH = 5
    DRIVE_0 = 0
    DRIVE_1 = 1
    DRIVE_2 = 2
    DRIVE_3 = 3

    def __init__(self, id, mode=-1, pull=-1, value=None, clock=None, **kwargs):
        self.id = id
        self._mode = Pin.IN
        self._pull = None
        self._out = 0  # output latch (what value(v) last set)
        self._ext = None  # level driven from outside (a model), None = not driven
        self._watchers = []
        self._irq_handler = None
        self._irq_trigger = 0
        self._irq_flags = 0
        self._clock = clock if clock is not None else _default_clock
        self.history = [] if self._clock is not None else None
        self.irq_count = 0
        if mode is not None and mode != -1:
            self._mode = mode
        if pull != -1:
            self._pull = pull
        if value is not None:
            self._out = 1 if value else 0
        self._level = self._compute()
        if self.history is not None:
            self.history.append((self._clock.now_us, self._level))

    def init(self, mode=-1, pull=-1, value=None, **kwargs):
        if mode is not None and mode != -1:
            self._mode = mode
        if pull != -1:
            self._pull = pull
        if value is not None:
            self._out = 1 if value else 0
        self._changed()

    def _compute(self):
        mode = self._mode
        if mode == Pin.OUT:
            return self._out
        if mode == Pin.OPEN_DRAIN and self._out == 0:
            return 0
        if self._ext is not None:
            return self._ext
        if self._pull == Pin.PULL_UP or mode == Pin.OPEN_DRAIN:
            return 1
        return 0

    def _changed(self):
        new = self._compute()
        if new != self._level:
            self._set(new)

    def _set(self, new):
        self._level = new
        if self.history is not None:
            self.history.append((self._clock.now_us, new))
        for cb in self._watchers:
            cb(new)
        if self._irq_handler is not None:
            self._irq(new)

    def _irq(self, new):
        handler = self._irq_handler
        if handler is not None:
            edge = Pin.IRQ_RISING if new else Pin.IRQ_FALLING
            if self._irq_trigger & edge:
                self._irq_flags = edge
                self.irq_count += 1
                handler(self)

    # MCU side
    def value(self, v=None):
        if v is None:
            return self._level
        out = 1 if v else 0
        self._out = out
        if self._mode == 3:  # Pin.OUT: the level is the latch (_set() inline: chip selects toggle a lot)
            if out != self._level:
                self._level = out
                if self.history is not None:
                    self.history.append((self._clock.now_us, out))
                for cb in self._watchers:
                    cb(out)
                if self._irq_handler is not None:
                    self._irq(out)
            return
        self._changed()

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def mode(self, mode=None):
        if mode is None:
            return self._mode
        self.init(mode)

    def pull(self, pull=-1):
        if pull == -1:
            return self._pull
        self.init(-1, pull)

    def irq(self, handler=None, trigger=3, wake=None, hard=False):
        """Call handler(pin) on the chosen edges; handler=None disables. Returns an IRQ object."""
        self._irq_handler = handler
        self._irq_trigger = trigger if handler is not None else 0
        return _PinIRQ(self)

    # model side
    def drive(self, level):
        """A model drives the line (1/0), or releases it (None) so the pull decides."""
        self._ext = None if level is None else (1 if level else 0)
        new = self._compute()
        if new != self._level:
            self._set(new)

    def watch(self, callback):
        """callback(level) on every change of the pin's level."""
        self._watchers.append(callback)

    def unwatch(self, callback):
        try:
            self._watchers.remove(callback)
        except ValueError:
            pass

    def clear_history(self):
        if self.history is not None:
            del self.history[:]

    def __repr__(self):
        return "Pin(%r, level=%d)" % (self.id, self._level)


# --- SPI ---------------------------------------------------------------------------------------

class SPI:
    MSB = 0
    LSB = 1
    CONTROLLER = 0
    MASTER = 0

    def __init__(self, id=1, baudrate=1000000, polarity=0, phase=0, bits=8, firstbit=0,
                 sck=None, mosi=None, miso=None, clock=None, **kwargs):
        self.id = id
        self.baudrate = baudrate
        self.polarity = polarity
        self.phase = phase
        self.bits = bits
        self.firstbit = firstbit
        self.transactions = []
        self.record = True  # set False in long simulations to keep no log
        self.max_transactions = None  # keep only the newest N transactions if set
        self.bytes_transferred = 0
        self._clock = clock  # if given, each transfer call advances it by the bytes' time
        self._frac_ns = 0
        self._devices = []
        self._active = None  # the _Slot selected now
        self._mosi = None
        self._miso = None

    def init(self, baudrate=None, polarity=None, phase=None, bits=None, firstbit=None, **kwargs):
        if baudrate is not None:
            self.baudrate = baudrate
        if polarity is not None:
            self.polarity = polarity
        if phase is not None:
            self.phase = phase
        if bits is not None:
            self.bits = bits
        if firstbit is not None:
            self.firstbit = firstbit

    def deinit(self):
        pass

    # host side
    def attach(self, device, cs_pin):
        """Connect device to this bus behind chip-select cs_pin (a fake Pin, active low)."""
        slot = _Slot(self, device, cs_pin)
        self._devices.append(slot)
        cs_pin.watch(slot.cs_changed)
        if cs_pin.value() == 0:
            slot.cs_changed(0)
        return device

    def clear_log(self):
        del self.transactions[:]

    def _xfer(self, b):
        self.bytes_transferred += 1
        act = self._active
        if act is None:
            return 0xFF
        r = act.exchange(b & 0xFF) & 0xFF
        if self.record and self._mosi is not None:
            self._mosi.append(b & 0xFF)
            self._miso.append(r)
        return r

    def _block(self, act, wbuf, rbuf, n):
        # The device takes the whole buffer in one call (same result as n exchange() calls).
        self.bytes_transferred += n
        if not self.record or self._mosi is None:
            act.block(wbuf, rbuf, n)
            return
        if rbuf is None:
            rbuf = bytearray(n)
        act.block(wbuf, rbuf, n)
        mosi = self._mosi
        miso = self._miso
        i = 0
        while i < n:
            mosi.append(wbuf[i] & 0xFF)
            miso.append(rbuf[i])
            i += 1

    def _spend(self, nbytes):
        clock = self._clock
        if clock is None or nbytes == 0:
            return
        ns = self._frac_ns + nbytes * self.bits * 1000000000 // self.baudrate
        us = ns // 1000
        self._frac_ns = ns - us * 1000
        if us:
            clock.advance_us(us)

    # MCU side (machine.SPI API)
    def write(self, buf):
        n = len(buf)
        act = self._active
        if act is not None and act.block is not None:
            if self.record:
                self._block(act, buf, None, n)
            else:
                self.bytes_transferred += n
                act.block(buf, None, n)
        elif act is None:
            self.bytes_transferred += n
        else:
            for b in buf:
                self._xfer(b)
        if self._clock is not None:
            self._spend(n)

    def read(self, nbytes, write=0):
        out = bytearray(nbytes)
        for i in range(nbytes):
            out[i] = self._xfer(write)
        self._spend(nbytes)
        return bytes(out)

    def readinto(self, buf, write=0):
        for i in range(len(buf)):
            buf[i] = self._xfer(write)
        self._spend(len(buf))

    def write_readinto(self, write_buf, read_buf):
        n = len(write_buf)
        if len(read_buf) != n:
            raise ValueError("buffers must be the same length")
        act = self._active
        if act is not None and act.block is not None:
            if self.record:
                self._block(act, write_buf, read_buf, n)
            else:
                self.bytes_transferred += n
                act.block(write_buf, read_buf, n)
        else:
            for i in range(n):
                read_buf[i] = self._xfer(write_buf[i])
        if self._clock is not None:
            self._spend(n)


class _Slot:
    """A device behind its chip-select pin on a fake SPI bus (watches the pin)."""

    def __init__(self, spi, device, cs):
        self.spi = spi
        self.device = device
        self.cs = cs
        self.exchange = device.exchange
        self.begin = getattr(device, "begin", None)
        self.end = getattr(device, "end", None)
        # exchange_block(wbuf, rbuf_or_None, n): a whole buffer at once, as n exchange() calls would
        self.block = getattr(device, "exchange_block", None)

    def cs_changed(self, level):
        spi = self.spi
        act = spi._active
        if level == 0:
            if act is not None and act is not self:
                raise RuntimeError("two SPI devices selected at once")
            spi._active = self
            if spi.record:
                spi._mosi = bytearray()
                spi._miso = bytearray()
            if self.begin is not None:
                self.begin()
        elif act is self:
            spi._active = None
            if self.end is not None:
                self.end()
            if spi._mosi is not None:
                if spi.record:
                    tr = spi.transactions
                    tr.append((bytes(spi._mosi), bytes(spi._miso)))
                    lim = spi.max_transactions
                    if lim is not None and len(tr) > lim:
                        del tr[: len(tr) - lim]
                spi._mosi = None
                spi._miso = None


# --- ADC ---------------------------------------------------------------------------------------

class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_9BIT = 0
    WIDTH_10BIT = 1
    WIDTH_11BIT = 2
    WIDTH_12BIT = 3

    def __init__(self, pin, atten=None, **kwargs):
        self.pin = pin
        self._atten = atten
        self._u16 = 0
        self.source = None  # optional callable() -> u16, e.g. a plant model
        self.full_scale_uv = 3300000  # read_uv() at read_u16() == 65535
        self.reads = 0

    def init(self, atten=None, **kwargs):
        if atten is not None:
            self._atten = atten

    def atten(self, a):
        self._atten = a

    def width(self, w):
        pass

    def set_u16(self, v):
        v = int(v)
        self._u16 = 0 if v < 0 else (65535 if v > 65535 else v)

    def read_u16(self):
        self.reads += 1
        if self.source is not None:
            self.set_u16(self.source())
        return self._u16

    def read(self):
        return self.read_u16() >> 4

    def read_uv(self):
        return self.read_u16() * self.full_scale_uv // 65535


# --- WDT ---------------------------------------------------------------------------------------

class WDT:
    """Hardware watchdog model: expires when not fed for `timeout` ms of clock time."""

    def __init__(self, id=0, timeout=5000, clock=None):
        self.timeout_ms = timeout
        self.fed = 0
        self.on_expire = None  # optional callback(wdt), called once when it expires
        self.expired_at_us = None
        self._clock = clock if clock is not None else _default_clock
        self._last = self._clock.now_us if self._clock is not None else 0
        self._timer = None
        self._arm()

    def _arm(self):
        # One timer at the deadline, not one per feed: a feed only moves _last, and the timer, when it
        # comes, re-arms itself at the deadline as it is then (the firmware feeds every 10 ms; cancelling
        # and inserting a timer each time cost 1 % of the simulator's time).
        clock = self._clock
        if clock is None or not hasattr(clock, "call_at") or self._timer is not None:
            return
        self._timer = clock.call_at(self._last + self.timeout_ms * 1000, self._check)

    def _check(self):
        self._timer = None
        if not self.expired:  # (the property latches the expiry and calls on_expire)
            self._arm()  # fed meanwhile: wait for the deadline as it is now

    def feed(self):
        if self.expired:
            return  # a reset is already due; feeding does not undo it
        self.fed += 1
        if self._clock is not None:
            self._last = self._clock.now_us
        self._arm()

    @property
    def expired(self):
        if self.expired_at_us is not None:
            return True
        clock = self._clock
        if clock is None:
            return False
        deadline = self._last + self.timeout_ms * 1000
        if clock.now_us >= deadline:
            self.expired_at_us = deadline
            if self.on_expire is not None:
                self.on_expire(self)
            return True
        return False


class RTC:
    """RTC with the ESP32's user memory: `memory(data)` keeps bytes across soft and watchdog resets (in the
    fake: for as long as this module lives; `RTC.wipe()` is a power cycle)."""

    _memory = b""

    def memory(self, data=None):
        if data is None:
            return RTC._memory
        if len(data) > 2048:
            raise ValueError("RTC memory holds at most 2048 bytes")
        RTC._memory = bytes(data)

    @staticmethod
    def wipe():
        RTC._memory = b""
