"""Runtime support of the virtual board (tools/vboard.mjs). Lives in the virtual board's ROM (/rom/lib), never
on its flash: the firmware does not know it exists.

- run_file(path): what a board's start-up does with boot.py and main.py (pyexec_file): run it as __main__,
  Ctrl-C enabled, an exception printed as a traceback and then the REPL.
- asyncio.run: the WebAssembly build's asyncio is driven by JavaScript timers and has no `run`. A board's
  asyncio.run blocks until the main task ends; this does the same by running the task queue itself and
  sleeping until the next task is due (the virtual board turns such sleeps into real sleeps that wake on input).
"""
import sys
import micropython


def run_file(path):
    try:
        f = open(path)
    except OSError:
        return
    try:
        src = f.read()
    finally:
        f.close()
    micropython.kbd_intr(3)
    try:
        exec(compile(src, path, "exec"), {"__name__": "__main__", "__file__": path})
    except SystemExit:
        pass
    except BaseException as e:  # noqa: as a board does: print it, then the REPL
        sys.print_exception(e)
    finally:
        micropython.kbd_intr(-1)


def _run(main):
    from asyncio import core
    from time import ticks_ms, ticks_diff, sleep_ms

    task = core.create_task(main)
    while not task.done():
        head = core._task_queue.peek()
        if head is None:
            sleep_ms(1)  # every task waits for an event
            continue
        dt = ticks_diff(head.ph_key, ticks_ms())
        if dt > 0:
            sleep_ms(dt)
        else:
            core._run_iter()
    res = task.data
    if isinstance(res, StopIteration):
        return res.value
    if isinstance(res, BaseException):
        raise res
    return res


def _install():
    try:
        import asyncio
    except ImportError:
        return
    if not hasattr(asyncio, "run"):
        asyncio.run = _run


_install()
