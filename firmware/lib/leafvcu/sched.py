"""Periodic jobs on absolute deadlines, measuring themselves.

A `Periodic` owns one deadline: `next_us`, advanced by exactly one period per run
(`ticks_add(next, period)`), so the schedule never drifts however long a run takes. `poll()` runs the job
when it is due and says how long until it is due again; the asyncio task (`run_forever`) only sleeps that
long and polls, and the simulator polls it from its virtual clock instead. A run that starts a whole period
or more after its deadline has missed that deadline: the missed slots are counted in `overruns` and
skipped (no burst of catch-up frames), and the schedule stays on its original grid.

Counters (plain ints, readable at any time, allocation-free to update):
runs, overruns, worst_late_us (start lateness), worst_run_us (run time), last_run_us.
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
        self.reset_stats()

    def reset_stats(self):
        self.runs = 0
        self.overruns = 0
        self.worst_late_us = 0
        self.worst_run_us = 0
        self.last_run_us = 0

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
        self._late(late)
        self.job(self._ticks_ms())
        wait = self._done(now)
        if self.after is not None:
            return self._after()
        return wait

    def _late(self, late):
        if late > self.worst_late_us:
            self.worst_late_us = late
        period = self.period_us
        if late >= period:
            # Deadlines missed: count them and stay on the grid, no burst of catch-up runs.
            missed = late // period
            self.overruns += missed
            self.next_us = ticks_add(self.next_us, missed * period)

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
