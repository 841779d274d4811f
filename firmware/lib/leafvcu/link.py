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

Who does what: the shell (`Links`, the App's) makes the WATCH rows the device's link's watches at configuration
and runs them: `Links.supervise(now_ms)` once before every step of the core (it counts the watched frames itself,
written out there: one call per step for all the links and rows), `paused(ms)`, and
`limits()` when parameters changed (the stale limits are read then, not at every step: a getattr per link and
step is a tenth of the supervision's cost on the board). The device
holds the link (`dev.link`: the object the core was wired to, vcm.link or pdm.link) and sets `mask`, the bits
of its peer's error field that are a fault (-1: the core's parameter, inverr). The core reads `fresh`, `age`
and `mask` and computes none of them. Allocation-free; call frames within 11 words (the hot-path rule).
"""

from leafvcu.compat import ticks_add, ticks_diff


class Watch:
    """A further row of `link`: its state object, the parameter of its stale limit, the last good-frame count and
    when it moved (from the link's start until it does)."""

    def __init__(self, link, st, p, limit, t0):
        self.link = link
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
            self.more = self.more + (Watch(self, st, p, limit, self.t0),)

    def limits(self):
        """The stale limits read again from their parameters (configuration, and whenever parameters change:
        App.params_changed; the limits are HV-locked, so never while they count)."""
        if self.st is not None:
            self.lim = getattr(self.p, self.limit)
        for w in self.more:
            w.lim = getattr(w.p, w.limit)

    # --- after a pause, and when the core waits for the peer (every step: Links.supervise)
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


class Links:
    """The shell's runner of the enabled devices' supervision (App.links): their links and further rows, built
    from the WATCH rows at configure(devs); supervise(now_ms) before every step of the core, paused(ms), limits()."""

    def __init__(self):
        self.links = ()   # the enabled devices' links with watches
        self.more = ()    # their further rows (Watch), in the links' order

    def configure(self, devs):
        """The devices' WATCH rows into their links (allocates: configuration only). Every link run so far and every
        new device's starts again, never heard (a kind of peer left with no device stays so). Raises ValueError for
        a watched id that is not in the device's RX table."""
        for k in self.links:
            k.reset()
        links = []
        for d in devs:
            if d.link is None:
                continue
            d.link.reset()
            ids = [r[0] for r in d.RX]
            for can_id, state, limit in d.WATCH:
                if can_id not in ids:
                    raise ValueError("watched %03X: not in the RX table of %s" % (can_id, d.name))
                d.link.watch(getattr(d, state), d.p, limit)
            if d.WATCH:
                links.append(d.link)
        self.links = tuple(links)
        self.more = tuple(w for k in links for w in k.more)

    def supervise(self, now_ms):
        """Before every step of the core (the +0 ms job): each link from its watched frames, written out (one call
        per step for all of them: this runs every 10 ms)."""
        for k in self.links:   # (a tuple: its iterator lives on the VM's stack, nothing allocated)
            g = k.st.frames - k.st.bad_counter   # good frames: right CRC / checksum, counter followed on
            if g != k.n:
                # A good frame since the last step (the heartbeat of a running peer: most steps): heard now, so its
                # age is 0, ticks_diff(now_ms, now_ms), and it is fresh unless the limit is below 0.
                k.n = g
                k.t = now_ms
                if not k.heard:   # (heard implies seen: both are set here only, and cleared together)
                    k.seen = True
                    k.heard = True
                k.age = 0
                k.fresh = 0 <= k.lim
            elif k.seen:
                g = ticks_diff(now_ms, k.t)
                k.age = g
                k.fresh = g <= k.lim and k.heard
            else:
                k.age = -1
                k.fresh = False
        # The further rows (a ZE1's 0x120), once their link's heartbeat was seen: the link is as old as its oldest
        # row, and stale when any row is.
        for k in self.more:
            if k.link.seen:
                g = k.st.frames - k.st.bad_counter
                if g != k.n:
                    k.n = g
                    k.t = now_ms
                    g = 0   # heard now: ticks_diff(now_ms, now_ms)
                else:
                    g = ticks_diff(now_ms, k.t)
                if g > k.link.age:
                    k.link.age = g
                if g > k.lim:
                    k.link.fresh = False

    def limits(self):
        """The parameters changed (App.params_changed): the links read their stale limits again."""
        for k in self.links:
            k.limits()

    def paused(self, ms):
        """The controller was frozen for about ms (sched.py): no watched frame's age counts that time."""
        for k in self.links:
            k.paused(ms)
