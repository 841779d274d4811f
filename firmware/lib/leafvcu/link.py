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

Who does what: the shell (devices.Frames) makes the WATCH rows the device's link's watches at configuration and
runs them: `Frames.supervise(now_ms)` once before every step of the core (it counts the heartbeat itself,
written out there: one call per step for all the links; `keep_up` for further rows), `paused(ms)`, and
`limits()` when parameters changed (the stale limits are read then, not at every step: a getattr per link and
step is a tenth of the supervision's cost on the board). The device
holds the link (`dev.link`: the object the core was wired to, vcm.link or pdm.link) and sets `mask`, the bits
of its peer's error field that are a fault (-1: the core's parameter, inverr). The core reads `fresh`, `age`
and `mask` and computes none of them. Allocation-free; call frames within 11 words (the hot-path rule).
"""

from leafvcu.compat import ticks_add, ticks_diff


class Watch:
    """A further row: its state object, the parameter of its stale limit, the last good-frame count and when it
    moved (from the link's start until it does)."""

    def __init__(self, st, p, limit, t0):
        self.st = st
        self.p = p
        self.limit = limit
        self.lim = getattr(p, limit)
        self.n = st.frames - st.bad_counter   # what was there before: only a frame from now on counts
        self.t = t0


class Link:
    """Published: fresh, age (ms of listening time since the oldest watched frame's last good one; -1: the
    heartbeat never heard), mask. The heartbeat's own count: st, p, limit (the parameter's name) and lim (its value
    as limits() last read it), n, t, seen (its age counts: heard or expected), heard; further rows: more (Watch)."""

    def __init__(self, now_ms=0):
        self.t0 = now_ms
        self.fresh = False
        self.age = -1
        self.mask = -1
        self.st = None
        self.p = None
        self.limit = ""
        self.lim = 0
        self.n = 0
        self.t = now_ms
        self.seen = False
        self.heard = False
        self.more = ()

    # --- configuration (devices.Frames.configure): allocates
    def reset(self):
        """No watches: never heard (a kind of peer with no device, or before its new device's rows)."""
        self.st = None
        self.more = ()
        self.seen = False
        self.heard = False
        self.fresh = False
        self.age = -1

    def watch(self, st, p, limit):
        """One more watched frame: the first is the heartbeat."""
        if self.st is None:
            self.st = st
            self.p = p
            self.limit = limit
            self.lim = getattr(p, limit)
            self.n = st.frames - st.bad_counter   # only a frame from now on counts
            self.seen = False
            self.heard = False
        else:
            self.more = self.more + (Watch(st, p, limit, self.t0),)

    def limits(self):
        """The stale limits read again from their parameters (configuration, and whenever parameters change:
        App.params_changed; the limits are HV-locked, so never while they count)."""
        if self.st is not None:
            self.lim = getattr(self.p, self.limit)
        for w in self.more:
            w.lim = getattr(w.p, w.limit)

    # --- every step (the shell, before the core decides)
    def keep_up(self, now_ms):
        """The further rows, once the heartbeat's age is set: the link is as old as its oldest row, and stale when
        any row is."""
        for w in self.more:   # (a tuple: its iterator lives on the VM's stack, nothing allocated)
            a = w.st.frames - w.st.bad_counter
            if a != w.n:
                w.n = a
                w.t = now_ms
            a = ticks_diff(now_ms, w.t)
            if a > self.age:
                self.age = a
            if a > w.lim:
                self.fresh = False

    def paused(self, ms):
        """The controller was frozen for about ms and read nothing: no age counts that time."""
        if self.seen:
            self.t = ticks_add(self.t, ms)
        for w in self.more:
            w.t = ticks_add(w.t, ms)

    def expect(self, now_ms):
        """The core waits for the peer from now: a heartbeat that is not fresh ages from now (it stays not fresh
        until heard)."""
        if self.st is not None and not self.fresh:
            self.t = now_ms
            self.seen = True
