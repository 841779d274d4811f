"""Periodic jobs on absolute deadlines, measuring themselves.

A `Periodic` owns one deadline: `next_us`, advanced by exactly one period per run
(`ticks_add(next, period)`), so the schedule never drifts however long a run takes. `poll()` runs the job
when it is due and says how long until it is due again; the asyncio task (`run_forever`) only sleeps that
long and polls, and the simulator polls it from its virtual clock instead.

After a pause (a poll a whole period or more after its deadline: the board was frozen by a garbage collection,
a flash write, a long console command): the missed slots are counted in `overruns` and skipped, and the job
does not run at once but at the next slot of its own grid, with what is true then. So no catch-up burst, no
frame decided before the pause and sent after it, no two runs closer than a period, and the three jobs keep
their places in the 10 ms grid (+0 / +5 / +3 ms). That run has `resumed` True: the job may tell the
controller's own pause from a silence of the others on the bus (App.tick10 -> link.Links.paused). A run less than
a period late runs at once, as before.

Counters (plain ints, readable at any time, allocation-free to update):
runs, overruns, worst_late_us (start lateness), worst_run_us (run time), last_run_us, pauses (polls that found
a whole period missed), pause_us (the last one: how late the missed slot was when the pause ended),
worst_pause_us (the longest).
"""

from leafvcu.compat import ticks_ms, ticks_us, ticks_add, ticks_diff, async_sleep_ms


class Periodic:
    def __init__(self, name, period_ms, job, clock=None):
        self.name = name
        self.period_us = period_ms * 1000
        self.job = job            # job(now_ms) -> None; now_ms: the clock's ticks_ms when the run starts
        self.clock = clock
        self._ticks_us = clock.ticks_us if clock is not None else ticks_us
        self._ticks_ms = clock.ticks_ms if clock is not None else ticks_ms
        self.next_us = 0
        self.started = False
        self.after = None         # after(): work that belongs right after a run, outside its run time (_after)
        self.resumed = False      # the present run is the first after a pause (see the module docstring)
        self._pause = False       # a pause was seen: the next run is the first after it
        self.reset_stats()

    def reset_stats(self):
        self.runs = 0
        self.overruns = 0
        self.worst_late_us = 0
        self.worst_run_us = 0
        self.last_run_us = 0
        self.pauses = 0
        self.pause_us = 0
        self.worst_pause_us = 0

    def start(self, first_delay_ms=0):
        self.next_us = ticks_add(self._ticks_us(), first_delay_ms * 1000)
        self.started = True

    def poll(self):
        """Runs the job if due; returns microseconds until the next deadline (>= 0)."""
        # Split in small helpers so each call frame stays within 11 words (see frames.py).
        if not self.started:
            self.start()
        now = self._ticks_us()
        late = ticks_diff(now, self.next_us)
        if late < 0:
            return -late
        if late >= self.period_us:
            return self._paused(now, late)
        if late > self.worst_late_us:
            self.worst_late_us = late
        self.resumed = self._pause
        self._pause = False
        self.job(self._ticks_ms())
        wait = self._done(now)
        if self.after is not None:
            return self._after()
        return wait

    def _paused(self, now, late):
        # A whole period or more missed: count the missed slots, skip them and the late one, wait for the next
        # slot of the grid (no burst, no run off the grid). The next run is the first after the pause.
        period = self.period_us
        missed = late // period + 1
        self.overruns += missed
        self.pauses += 1
        self.pause_us = late
        if late > self.worst_pause_us:
            self.worst_pause_us = late
        if late > self.worst_late_us:
            self.worst_late_us = late
        self._pause = True
        self.next_us = ticks_add(self.next_us, missed * period)
        return ticks_diff(self.next_us, now)

    def _after(self):
        # The garbage collector's slot (collector.py) hangs here on the 10 ms job: right after its frames went,
        # not counted in its run time; a collection that outlasts the gap shows as the next runs' lateness.
        self.after()
        wait = ticks_diff(self.next_us, self._ticks_us())
        return wait if wait > 0 else 0

    def _done(self, start):
        end = self._ticks_us()
        run = ticks_diff(end, start)
        self.last_run_us = run
        if run > self.worst_run_us:
            self.worst_run_us = run
        self.runs += 1
        self.next_us = ticks_add(self.next_us, self.period_us)
        wait = ticks_diff(self.next_us, end)
        return wait if wait > 0 else 0


async def run_forever(periodic, sleep_ms=async_sleep_ms, started=False):
    """The asyncio shell of a Periodic: sleep until due, poll, repeat. Sleeps round up to whole ms: a run may
    start up to 1 ms late, which the frame timing tolerates, and never early. started: the caller already put
    the Periodic on its grid (start(delay))."""
    if not started:
        periodic.start()
    while True:
        wait_us = periodic.poll()
        await sleep_ms((wait_us + 999) // 1000)
