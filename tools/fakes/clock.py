"""VirtualClock: the MicroPython `time` API on virtual time.

Anything that takes a `clock=` argument (the driver, the controller) can be handed one of these instead of
the `time` module: ticks_ms(), ticks_us(), ticks_add(), ticks_diff(), sleep_ms(), sleep_us() behave like
MicroPython's, including the wrap of the tick counters (period 2**30, as on the ESP32 port). Sleeping
advances virtual time at once, so an hour of firmware time runs as fast as the host can compute it.

The host side drives time with advance_us()/advance_ms() and reads the unwrapped time from `now_us`.
Models (the CAN bus, the MCP2515 chip, the watchdog) schedule their next event with call_at(); the clock
runs due callbacks in time order while it advances, with `now_us` set to each event's time, so an INT pin
falls at the virtual microsecond the frame completes even if nobody polls.
"""

_TICKS_PERIOD = 1 << 30
_TICKS_MAX = _TICKS_PERIOD - 1
_TICKS_HALF = _TICKS_PERIOD >> 1
SLOT_IDLE = 1 << 62  # clock.slot_t when the slot timer is not armed


class VirtualClock:
    """Virtual microsecond clock with the MicroPython ticks API and a small timer queue."""

    TICKS_PERIOD = _TICKS_PERIOD

    def __init__(self, start_us=0, epoch_s=0):
        if start_us < 0:
            raise ValueError("start_us must be >= 0")
        self.now_us = start_us  # unwrapped virtual time in microseconds (read it; advance with the methods)
        self._epoch_s = epoch_s  # what time() returns at now_us == 0
        self._timers = []  # sorted by (t, seq): entries [t_us, seq, callback or None]
        self._seq = 0
        # One dedicated timer for the model that re-arms at nearly every event it handles (the CAN bus: a
        # frame's start and end): `slot_t` is its time (SLOT_IDLE: not armed), set by plain assignment,
        # so re-arming costs no list insert and no cancel. At equal times it runs before the listed timers.
        self.slot_t = SLOT_IDLE
        self._slot_cb = None
        self.wake = False  # set by a model's callback: run_until_wake() returns after the current time

    # --- host side -------------------------------------------------------------------------------
    # now_us: a plain attribute (read on every model event, so not a property)

    @property
    def now_ms(self):
        return self.now_us // 1000

    def advance_us(self, n):
        """Move time forward by n microseconds, running due timer callbacks in order."""
        if n < 0:
            raise ValueError("time does not run backwards")
        self.run_until(self.now_us + n)

    def advance_ms(self, n):
        self.advance_us(n * 1000)

    def run_until(self, t_us):
        """Advance to absolute time t_us (no-op if already past it), firing due timers in order."""
        timers = self._timers
        while True:
            st = self.slot_t
            if timers and timers[0][0] < st:
                entry = timers[0]
                if entry[0] > t_us:
                    break
                timers.pop(0)
                cb = entry[2]
                if cb is None:
                    continue
                entry[2] = None
                if entry[0] > self.now_us:
                    self.now_us = entry[0]
                cb()
            elif st <= t_us:
                self.slot_t = SLOT_IDLE
                if st > self.now_us:
                    self.now_us = st
                self._slot_cb()
            else:
                break
        if t_us > self.now_us:
            self.now_us = t_us

    def run_until_wake(self, t_us):
        """Like run_until(t_us), but after the timers due at one time have run (those their callbacks add
        for that time too), stops there if `wake` is set (by a callback, e.g. an IRQ handler's hook): now_us
        is that time. Returns True if it stopped early (a simulator's loop runs the firmware then). The
        caller clears `wake`."""
        timers = self._timers
        while True:
            st = self.slot_t
            t = timers[0][0] if timers else SLOT_IDLE
            if st < t:
                t = st
            if t > t_us:
                break
            if t > self.now_us:
                self.now_us = t
            while True:  # everything due at t (a timer set in the past by a callback: now does not go back)
                st = self.slot_t
                if st <= t:
                    self.slot_t = SLOT_IDLE
                    self._slot_cb()
                elif timers and timers[0][0] <= t:
                    entry = timers.pop(0)
                    cb = entry[2]
                    if cb is not None:
                        entry[2] = None
                        cb()
                else:
                    break
            if self.wake:
                return True
        if t_us > self.now_us:
            self.now_us = t_us
        return False

    # --- timers for models -----------------------------------------------------------------------
    def call_at(self, t_us, callback):
        """Run callback() when virtual time reaches t_us (at once on the next advance if t_us is past).

        Returns a handle for cancel(). Callbacks at the same time run in the order they were added.
        """
        self._seq += 1
        entry = [t_us, self._seq, callback]
        timers = self._timers
        # after every timer due at or before t_us (from the front: the busy timers are the near ones)
        n = len(timers)
        i = 0
        while i < n and timers[i][0] <= t_us:
            i += 1
        if i == n:
            timers.append(entry)
        else:
            timers.insert(i, entry)
        return entry

    def call_later(self, delay_us, callback):
        return self.call_at(self.now_us + delay_us, callback)

    def cancel(self, handle):
        """Cancel a timer from call_at(); harmless if it already ran or was cancelled."""
        if handle is None or handle[2] is None:
            return
        handle[2] = None
        try:
            self._timers.remove(handle)
        except ValueError:
            pass

    def claim_slot(self, callback):
        """Make callback() the slot timer's (see __init__); False if another model holds the slot already
        (that model then uses call_at())."""
        if self._slot_cb is not None:
            return False
        self._slot_cb = callback
        return True

    def pending_timers(self):
        n = sum(1 for e in self._timers if e[2] is not None)
        return n + 1 if self.slot_t != SLOT_IDLE else n

    def next_timer_us(self):
        t = self.slot_t
        for e in self._timers:
            if e[2] is not None:
                return e[0] if e[0] < t else t
        return t if t != SLOT_IDLE else None

    # --- the MicroPython `time` API --------------------------------------------------------------
    def ticks_us(self):
        return self.now_us & _TICKS_MAX

    def ticks_ms(self):
        return (self.now_us // 1000) & _TICKS_MAX

    def ticks_cpu(self):
        return self.now_us & _TICKS_MAX

    def ticks_add(self, ticks, delta):
        return (ticks + delta) & _TICKS_MAX

    def ticks_diff(self, ticks1, ticks2):
        return ((ticks1 - ticks2 + _TICKS_HALF) & _TICKS_MAX) - _TICKS_HALF

    def sleep_us(self, n):
        if n > 0:
            self.advance_us(n)

    def sleep_ms(self, n):
        if n > 0:
            self.advance_us(n * 1000)

    def sleep(self, seconds):
        if seconds > 0:
            self.advance_us(int(seconds * 1000000))

    def time(self):
        return self._epoch_s + self.now_us // 1000000

    def time_ns(self):
        return (self._epoch_s * 1000000 + self.now_us) * 1000

    def __repr__(self):
        return "<VirtualClock %d us>" % self.now_us
