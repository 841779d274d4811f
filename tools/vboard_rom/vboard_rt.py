"""Runtime support of the virtual board (tools/vboard.mjs). Lives in the virtual board's ROM (/rom/lib), never
on its flash: the firmware does not know it exists.

- run_file(path): what a board's start-up does with boot.py and main.py (pyexec_file): run it as __main__,
  Ctrl-C enabled, an exception printed as a traceback and then the REPL.
- os.ilistdir: as on a board's LittleFS, each entry carries its size (the WebAssembly build's POSIX filesystem
  gives none, so `mpremote fs ls` showed 0 for every file), and the root lists only the board's own files (not
  this ROM or the interpreter's /proc).
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


_NOT_FLASH = ("rom", "proc")


def _listing():
    import os

    real = os.ilistdir

    def ilistdir(path="."):
        pre = "" if path in ("", ".") else path.rstrip("/") + "/"
        root = pre == "/" or (pre == "" and os.getcwd() == "/")
        for e in real(path):
            if root and e[0] in _NOT_FLASH:
                continue
            size = 0
            if not e[1] & 0x4000:
                try:
                    size = os.stat(pre + e[0])[6]
                except OSError:
                    pass
            yield (e[0], e[1], e[2], size)

    os.ilistdir = ilistdir


def _install():
    _listing()
    try:
        import asyncio
    except ImportError:
        return
    if not hasattr(asyncio, "run"):
        asyncio.run = _run


_install()
