"""CpuLoop: the board's asyncio scheduler on a VirtualClock, where running code costs virtual time.

The simulator (tools/sim.World) runs the firmware's jobs in zero virtual time: it shows what the controller
decides and sends, not whether a slow task could make a job late. This loop answers that, the same way on a
fast and on a slow host: every step of a task (one resume of its coroutine, up to its next await) is charged
`us_per_line` microseconds of virtual time for each line of firmware code it executed, counted with
sys.settrace. Code outside `counted_dir` (the fake machine, the chip model, the bus) is not counted: on the board
that is hardware or C. The clock advances line by line while a step runs, so the firmware's own clock reads see
its work take time (sched.Periodic measures lateness and run time), and the models' timers due meanwhile run
(frames complete on the bus, the INT pin falls), as the hardware goes on while the CPU is busy.

The tasks are the firmware's own coroutines (sched.run_forever, term.console_task, App.rx_task) given this loop's
`sleep_ms` and `flag()` in place of asyncio's. Scheduling follows MicroPython's asyncio: a task that sleeps 0 goes
to the back of the queue of ready tasks; a sleeping task is ready at its wake time; a task waiting on a flag is
ready when the flag is set (by an IRQ hook: the driver's INT handler).

CPython only (sys.settrace); the counts are deterministic for a given CPython version and firmware source.
"""

import sys


class _Sleep:
    __slots__ = ("us",)

    def __init__(self, us):
        self.us = us

    def __await__(self):
        yield self


class _Wait:
    __slots__ = ("flag",)

    def __init__(self, flag):
        self.flag = flag

    def __await__(self):
        yield self


class Flag:
    """asyncio.ThreadSafeFlag's shape: set() from an IRQ hook, `await wait()` in a task."""

    def __init__(self, loop):
        self._loop = loop
        self.is_set = False
        self.waiter = None

    def set(self):
        self._loop.clock.wake = True  # an idle loop stops waiting (VirtualClock.run_until_wake)
        if self.waiter is not None:
            task, self.waiter = self.waiter, None
            self._loop._ready(task, self._loop.clock.now_us)
        else:
            self.is_set = True

    def wait(self):
        return _Wait(self)


class TaskStats:
    """What one task cost: steps, lines executed, and the lines of its largest step."""

    def __init__(self, name):
        self.name = name
        self.steps = 0
        self.lines = 0
        self.max_lines = 0

    def add(self, lines):
        self.steps += 1
        self.lines += lines
        if lines > self.max_lines:
            self.max_lines = lines


class CpuLoop:
    def __init__(self, clock, us_per_line, counted_dir):
        self.clock = clock
        self.us_per_line = us_per_line
        self.counted_dir = counted_dir
        self._queue = []  # [wake_us, seq, task]: ready at wake_us, FIFO among equals
        self._seq = 0
        self.stats = {}
        self._lines = 0

    # --- what the tasks await ------------------------------------------------------------------------------
    async def sleep_ms(self, ms):
        await _Sleep(ms * 1000 if ms > 0 else 0)

    def flag(self):
        return Flag(self)

    # --- tasks ---------------------------------------------------------------------------------------------
    def spawn(self, name, coro):
        task = [name, coro]
        self.stats[name] = TaskStats(name)
        self._ready(task, self.clock.now_us)
        return task

    def _ready(self, task, wake_us):
        self._seq += 1
        entry = [wake_us, self._seq, task]
        q = self._queue
        i = len(q)
        while i > 0 and (q[i - 1][0], q[i - 1][1]) > (wake_us, self._seq):
            i -= 1
        q.insert(i, entry)

    # --- counting ------------------------------------------------------------------------------------------
    def _local(self, frame, event, arg):
        if event == "line":
            # The line's cost passes at once: the firmware's clock reads see the time its own work took, and the
            # models' events due meanwhile happen (inside a trace function nothing is traced: a model calling the
            # driver's IRQ handler is not counted, a few lines).
            self._lines += 1
            self.clock.run_until(self._t0 + self._lines * self.us_per_line)
        return self._local

    def _global(self, frame, event, arg):
        if frame.f_code.co_filename.startswith(self.counted_dir):
            return self._local
        return None

    def _step(self, task):
        """Resumes task once; returns (what it awaited, lines executed). StopIteration propagates."""
        self._lines = 0
        self._t0 = self.clock.now_us
        sys.settrace(self._global)
        try:
            got = task[1].send(None)
        finally:
            sys.settrace(None)
        return got, self._lines

    # --- the loop ------------------------------------------------------------------------------------------
    def run_for(self, us):
        """Runs the tasks for `us` of virtual time."""
        clock = self.clock
        end = clock.now_us + us
        while clock.now_us < end:
            q = self._queue
            if not q or q[0][0] > clock.now_us:
                # Idle until the next task is due, or an IRQ hook readies one earlier.
                until = q[0][0] if q and q[0][0] < end else end
                clock.wake = False
                clock.run_until_wake(until)
                clock.wake = False
                continue
            task = q.pop(0)[2]
            got, lines = self._step(task)
            self.stats[task[0]].add(lines)
            if isinstance(got, _Sleep):
                # MicroPython's asyncio keeps time in ticks_ms: the wake time is the current whole millisecond
                # plus the sleep (sleep_ms(0): at once, behind the tasks already ready).
                wake = (clock.now_us // 1000) * 1000 + got.us if got.us else clock.now_us
                self._ready(task, wake)
            elif isinstance(got, _Wait):
                flag = got.flag
                if flag.is_set:
                    flag.is_set = False
                    self._ready(task, clock.now_us)
                else:
                    flag.waiter = task
            else:
                raise RuntimeError("task %s awaited %r, not this loop's sleep_ms or flag" % (task[0], got))


def spawn_app(loop, app):
    """The App's tasks on `loop` as App.main starts them: the jobs (run_forever on the loop's sleeps, their stats
    zeroed) and the RX task on the INT flag."""
    from leafvcu.sched import run_forever

    flag = loop.flag()
    app.can.irq_hook = flag.set
    app.start_schedule()
    for t in app.tasks:
        t.reset_stats()
        loop.spawn(t.name, run_forever(t, sleep_ms=loop.sleep_ms, started=True))
    loop.spawn("rx", app.rx_task(flag))
