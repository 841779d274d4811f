#!/usr/bin/env python3
"""The virtual board from Python: starts tools/vboard.mjs (real MicroPython in Node, with the MCP2515 model on
its SPI pins) and puts a pseudo-terminal in front of it, so that it is a serial device like /dev/ttyUSB0.

    ./run python tools/vboard.py [--dir DIR] [--tcp] [--quota BYTES] [--crystal HZ] [--no-chip]

prints its port and the commands that use it, and runs until Ctrl-C (or until it is sent SIGTERM / its terminal
closes); then it stops and deletes what it made. The port is a /dev/pts/N that deploy.py, mpremote (REPL and
file commands) and serial terminals open like a USB board. --tcp serves a socket://127.0.0.1:N URL instead (no
pseudo-terminals, e.g. on Windows): deploy.py and mpremote's file commands work with it, mpremote's REPL does
not (it needs a file descriptor).
DIR is the board's flash: reuse it to keep what was installed. Without --dir the flash is a temporary
directory, deleted when the board stops.

Tests use the VirtualBoard class:

    with VirtualBoard(tmp_path / "flash") as vb:
        vb.port            # socket://127.0.0.1:N, or /dev/pts/N with pty=True
        vb.power_cycle()   # like unplugging and replugging USB
        vb.drop_after(n)   # cut the connection (and the power) after n more bytes from the host
        vb.set_quota(n)    # the filesystem holds at most n bytes
        vb.log()           # everything the board printed
        vb.flash(path)     # a file on the board's flash, from the host side (bytes or None)
"""
import json
import os
import queue
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tty

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
VBOARD_MJS = os.path.join(HERE, "vboard.mjs")
START_TIMEOUT = 120.0  # seconds for Node to load MicroPython and boot it, on a loaded 2-core machine


class VirtualBoard:
    def __init__(self, flash_dir=None, quota=None, drop_after=None, garbage=False, chip=True, crystal=None,
                 pty=False):
        # start() makes one private temporary directory for what this object makes (the log, and the flash
        # unless one is given) and stop() deletes it: an object that is never started leaves nothing behind.
        self._tmp = None
        self.dir = str(flash_dir) if flash_dir is not None else None
        self.log_path = None  # everything the board printed, once started
        self.opts = dict(quota=quota, drop_after=drop_after, garbage=garbage, chip=chip, crystal=crystal)
        self.use_pty = pty
        self.proc = None
        self.url = None
        self.pty_path = None
        self.events = []
        self._lines = queue.Queue()
        self._bridge = None

    # --- lifecycle ---------------------------------------------------------------------------------
    def start(self, timeout=START_TIMEOUT):
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not installed (the virtual board runs MicroPython in Node)")
        self._tmp = tempfile.mkdtemp(prefix="vboard-")
        if self.dir is None:
            self.dir = os.path.join(self._tmp, "flash")
        os.makedirs(self.dir, exist_ok=True)
        self.log_path = os.path.join(self._tmp, "board.log")
        o = self.opts
        # --control: the board stops when our end of its stdin closes, so it never outlives this process.
        cmd = [node, VBOARD_MJS, "--dir", self.dir, "--port", "0", "--control", "--log", self.log_path]
        if o["quota"]:
            cmd += ["--quota", str(o["quota"])]
        if o["drop_after"]:
            cmd += ["--drop-after", str(o["drop_after"])]
        if o["garbage"]:
            cmd.append("--garbage")
        if not o["chip"]:
            cmd.append("--no-chip")
        if o["crystal"]:
            cmd += ["--crystal", str(o["crystal"])]
        with open(self.log_path, "wb"):
            pass
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO, text=True,
                                     bufsize=1)
        threading.Thread(target=self._reader, daemon=True).start()
        end = time.monotonic() + timeout
        while self.url is None:
            try:
                line = self._lines.get(timeout=max(0.1, end - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None or time.monotonic() > end:
                said = self.log()[-2000:]
                self.stop()
                raise RuntimeError("the virtual board did not start: node %s within %.0f s%s" % (
                    "exited" if line is None else "printed no `vboard: listening on` line", timeout,
                    "; it printed:\n" + said if said else ""))
            if line.startswith("vboard: listening on "):
                self.url = line.split()[-1]
        if self.use_pty:
            self._bridge = PtyBridge(self.url)
            self.pty_path = self._bridge.path
        if not o["garbage"]:
            self.wait_boot(0, timeout)
        return self

    def wait_boot(self, count, timeout=START_TIMEOUT):
        """Waits until the board has started booting more than `count` times (boot.py runs next)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if sum(1 for e in self.events if e.get("event") == "boot") > count:
                return
            time.sleep(0.02)
        raise TimeoutError("the virtual board did not boot (boot %d) within %.0f s; it printed:\n%s"
                           % (count + 1, timeout, self.log()[-2000:]))

    @property
    def boots(self):
        return sum(1 for e in self.events if e.get("event") == "boot")

    def _reader(self):
        for line in self.proc.stdout:
            line = line.strip()
            if line.startswith("{"):
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if "event" in msg:
                    self.events.append(msg)
                    continue
            self._lines.put(line)
        self._lines.put(None)

    def stop(self):
        if self._bridge:
            self._bridge.close()
            self._bridge = None
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self.pty_path or self.url

    # --- control -----------------------------------------------------------------------------------
    def _control(self, msg, timeout=60):
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self._lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line and json.loads(line).get("ok") == msg["cmd"]:
                return
        raise RuntimeError("the virtual board did not answer the control command %s within %.0f s" % (msg, timeout))

    def power_cycle(self, wait=True):
        n = self.boots
        self._control({"cmd": "power_cycle"})
        if wait:
            self.wait_boot(n)

    def drop_after(self, n):
        self._control({"cmd": "drop_after", "n": int(n)})

    def set_quota(self, n):
        self._control({"cmd": "quota", "bytes": int(n or 0)})

    # --- what happened -----------------------------------------------------------------------------
    def log(self):
        if self.log_path is None:
            return ""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:  # not started, or stopped (the log went with it)
            return ""

    def wait_log(self, text, timeout=START_TIMEOUT, since=0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if text in self.log()[since:]:
                return True
            time.sleep(0.05)
        raise TimeoutError("the virtual board did not print %r within %.0f s; it printed:\n%s"
                           % (text, timeout, self.log()[-2000:]))

    def flash(self, path):
        p = os.path.join(self.dir, path.lstrip("/"))
        try:
            with open(p, "rb") as f:
                return f.read()
        except OSError:
            return None

    def flash_files(self):
        out = {}
        for root, dirs, files in os.walk(self.dir):
            for name in files:
                if name.startswith(".vboard-tmp"):
                    continue
                p = os.path.join(root, name)
                out["/" + os.path.relpath(p, self.dir).replace(os.sep, "/")] = p
        return out


class PtyBridge:
    """A pseudo-terminal whose other end is a TCP connection to the virtual board: the board's "USB-serial
    chip". It stays connected while programs open and close /dev/pts/N, as a real bridge chip does; bytes the
    board sends while nobody reads are dropped once the terminal's buffer is full, as a UART would."""

    def __init__(self, url):
        host, port = url[len("socket://"):].rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            try:
                r, _, _ = select.select([self.sock, self.master], [], [], 0.1)
            except (OSError, ValueError):
                return
            if self.sock in r:
                data = self.sock.recv(4096)
                if not data:
                    return
                try:
                    os.write(self.master, data)
                except BlockingIOError:
                    pass
            if self.master in r:
                try:
                    data = os.read(self.master, 4096)
                except (BlockingIOError, OSError):
                    data = b""
                if data:
                    self.sock.sendall(data)

    def close(self):
        self._stop = True
        self._thread.join(timeout=2)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass
        self.sock.close()


def main(argv=None):
    import argparse
    import signal

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Runs until Ctrl-C; then it stops and deletes its log and, without --dir, "
                                        "its flash.")
    ap.add_argument("--dir", help="the board's flash (a host directory, kept); default: a temporary one, deleted "
                                  "when the board stops")
    ap.add_argument("--tcp", action="store_true",
                    help="serve a socket://127.0.0.1:N URL instead of a pseudo-terminal (mpremote's REPL cannot "
                         "use it)")
    ap.add_argument("--pty", action="store_true", help=argparse.SUPPRESS)  # the default; kept for old commands
    ap.add_argument("--quota", type=int, help="filesystem size in bytes")
    ap.add_argument("--crystal", type=int, help="the MCP2515's crystal in Hz (board.py says 8 MHz)")
    ap.add_argument("--no-chip", action="store_true", help="no MCP2515 on the SPI bus")
    args = ap.parse_args(argv)
    pty = not args.tcp and hasattr(os, "openpty")

    def stop_on(signum, frame):
        raise KeyboardInterrupt

    # SIGINT too: Python turns Ctrl-C into KeyboardInterrupt only when it was not ignored at start, and a shell
    # without job control starts background commands with SIGINT ignored (a CI script, `cmd &`).
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), stop_on)
    if hasattr(signal, "SIGUSR1"):  # `kill -USR1 PID`: every thread's stack to stderr (a board that will not stop)
        import faulthandler

        faulthandler.register(signal.SIGUSR1, all_threads=True)
    vb = VirtualBoard(args.dir, quota=args.quota, chip=not args.no_chip, crystal=args.crystal, pty=pty)
    try:
        vb.start()
        print("virtual board running; its flash is %s%s" % (vb.dir, "" if args.dir else " (deleted when it stops)"))
        print("port: %s" % vb.port)
        print("  ./run python tools/deploy.py --port %s" % vb.port)
        if pty:
            print("  .venv/bin/mpremote connect %s        (REPL; or `... fs ls`, `... run FILE`)" % vb.port)
        else:
            print("  .venv/bin/mpremote connect %s fs ls  (file commands; its REPL needs the pty: drop --tcp)"
                  % vb.port)
        print("Ctrl-C stops it.", flush=True)
        while vb.proc.poll() is None:
            time.sleep(0.5)
        print("the virtual board stopped by itself (node exited with %s); last output:\n%s"
              % (vb.proc.returncode, vb.log()[-1000:]), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping the virtual board", file=sys.stderr)
        return 0
    finally:
        vb.stop()


if __name__ == "__main__":
    sys.exit(main())
