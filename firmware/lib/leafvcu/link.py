"""A peer's link as its device supervises it: how fresh the frames are that say the peer is alive.

A device declares them next to its RX table (devices.py):

    WATCH = ((can_id, state, limit), ...)

    can_id  a frame of its RX table
    state   the name of the device's attribute holding that frame's decoded state object: the codec counts
            `frames` and `bad_counter` there, so a good frame (right CRC or checksum, a counter that followed
            on) moves frames - bad_counter, and a frozen peer repeating one frame does not
    limit   the name of the parameter that is its stale limit (ms)

The first row is the heartbeat: until it is heard the link's age is -1 and it is not fresh. Every further row
must keep up with it (a ZE1's 0x120 beside 1DA): it ages from the link's start (`Link(now_ms)`, the boot), so
one that never comes goes stale like one that stopped, and the link's age is the oldest of the rows'. Fresh:
the heartbeat heard and every row's age within its limit.

Ages count listening time only: `paused(ms)` after the controller's own pause (sched.py: a garbage collection,
a flash write) moves every age back by it, so the controller's pause is not taken for a silent peer, and a peer
that really fell silent is still caught once it has been silent for its limit of listening time. `expect(now)`
is the core's word that it waits for the peer from now (charger.py: a charge session starts): a link that is
not fresh ages from then, as one heard then.

Who does what: the shell (devices.Frames) builds a `Watch` per WATCH row into the device's link at
configuration and runs `supervise(now_ms)` once before every step of the core, and `paused(ms)`; the device
holds the link (`dev.link`: the object the core was wired to, vcm.link or pdm.link) and sets `mask`, the bits
of its peer's error field that are a fault (-1: the core's parameter, inverr); the core reads `fresh`, `age`
and `mask` and computes none of them. Allocation-free; call frames within 11 words (the hot-path rule).
"""

from leafvcu.compat import ticks_add, ticks_diff


class Watch:
    """One watched frame: its state object, the parameter of its stale limit, the last good-frame count and when
    it moved. seen: its age counts (heard, expected, or a further row from the start); heard: a good frame came."""

    def __init__(self, st, p, limit, t0, first):
        self.st = st
        self.p = p
        self.limit = limit
        self.n = st.frames - st.bad_counter   # what was there before: only a frame from now on counts
        self.t = t0
        self.seen = not first
        self.heard = False

    def look(self, now_ms):
        """The age in ms of listening time (-1: not seen yet), after counting the good frames that came."""
        st = self.st
        g = st.frames - st.bad_counter
        if g != self.n:
            self.n = g
            self.t = now_ms
            self.seen = True
            self.heard = True
        if not self.seen:
            return -1
        return ticks_diff(now_ms, self.t)

    def ok(self, a):
        # Within its stale limit (the parameter read now: a change counts at once).
        return a <= getattr(self.p, self.limit)


class Link:
    """Published: fresh, age (ms since the oldest watched frame's last good one, -1 never heard), mask."""

    def __init__(self, now_ms=0):
        self.t0 = now_ms
        self.fresh = False
        self.age = -1
        self.mask = -1
        self.ws = ()

    # --- configuration (devices.Frames.configure): allocates
    def reset(self):
        """No watches: never heard (a kind of peer with no device, or before its new device's rows)."""
        self.ws = ()
        self.fresh = False
        self.age = -1

    def watch(self, st, p, limit):
        """One more watched frame (the first: the heartbeat)."""
        self.ws = self.ws + (Watch(st, p, limit, self.t0, not self.ws),)

    # --- every step (the shell, before the core decides)
    def supervise(self, now_ms):
        # The heartbeat's count, written out (Watch.look's): every +0 ms job runs this for every link.
        ws = self.ws
        if not ws:
            return
        w = ws[0]
        st = w.st
        g = st.frames - st.bad_counter
        if g != w.n:
            w.n = g
            w.t = now_ms
            w.seen = True
            w.heard = True
        if not w.seen:
            self.age = -1
            self.fresh = False
            return
        g = ticks_diff(now_ms, w.t)
        self.age = g
        self.fresh = w.heard and g <= getattr(w.p, w.limit)
        if len(ws) > 1:
            self._more(ws, now_ms)

    def _more(self, ws, now_ms):
        # The further rows: the link is as old as its oldest row, and stale when any row is.
        i = 1
        while i < len(ws):
            w = ws[i]
            a = w.look(now_ms)
            if a > self.age:
                self.age = a
            if not w.ok(a):
                self.fresh = False
            i += 1

    def paused(self, ms):
        """The controller was frozen for about ms and read nothing: no age counts that time."""
        ws = self.ws
        i = 0
        while i < len(ws):
            w = ws[i]
            if w.seen:
                w.t = ticks_add(w.t, ms)
            i += 1

    def expect(self, now_ms):
        """The core waits for the peer from now: a heartbeat that is not fresh ages from now (it stays not fresh
        until heard)."""
        if self.ws and not self.fresh:
            w = self.ws[0]
            w.t = now_ms
            w.seen = True
