#!/usr/bin/env python3
"""Put the leafvcu firmware on a TinyPICO and check that it started; back up and restore its parameters;
run the tests on the board itself.

    ./run python tools/deploy.py [--port PORT] [--source] [--dry-run] [--reset-params] [--remove-shadows]
                                [--dashboard]
    ./run python tools/deploy.py params pull FILE     the board's saved parameters -> FILE (JSON; '-': stdout)
    ./run python tools/deploy.py params push FILE     FILE (JSON), validated first -> the board's saved parameters
    ./run python tools/deploy.py selftest [TEST ...]  tests/cross on the board, an MCP2515 loopback check, a
                                                      garbage collection timed and the Wi-Fi dashboard's state
    ./run python tools/deploy.py ports                the serial ports that could be a board
    ./run python tools/deploy.py recorder pull [DIR]  the flight recordings -> DIR (default out/recordings):
                                                      candump -L logs, signals CSV, PNG plots
    ./run python tools/deploy.py package [--check]    firmware/package.json (for mpremote mip) from firmware/lib

PORT: a serial device (/dev/ttyUSB0, COM3, mpremote's shortcuts u0 a0 c3), or a pyserial URL such as
socket://127.0.0.1:7777 (the virtual board, tools/vboard.py). Without --port the board is found among the USB
serial ports (a single one, or the one with a known ESP32 USB bridge).

Deploying:
 1. mpy-cross compiles firmware/lib to .mpy (boot.py and main.py stay .py; --source copies .py everywhere) and
    a build id is made: the git commit plus a hash of every byte that goes onto the board. It is written to the
    board as lib/leafvcu/build.py (never into the repository); the firmware reports `leafvcu VERSION build ID`.
 2. On the board (raw REPL, one connection for the whole run): MicroPython's version and .mpy format, free space,
    and the SHA-256 of every file the firmware owns, computed there. Only files whose hash differs are copied.
 3. Copy: the changed files go to /.deploy/stage/ first. Nothing the board boots from is touched until every
    file is there and its hash is verified on the board, so a copy that is interrupted (cable, power, Ctrl-C,
    a full filesystem) leaves the old firmware complete and bootable; the next run resumes with the files
    already staged.
 4. Switch-over: one script (tools/board_scripts/commit.py), sent whole and then run by the board without the
    host: it moves main.py aside (so a board that loses power in these milliseconds boots to the REPL,
    controller off, rather than a mix of old and new modules), renames the staged files into place, deletes
    files the firmware no longer has
    (and any .py that would shadow a new .mpy), writes the manifest /.deploy/manifest.json, and puts main.py
    back last. A journal (/.deploy/commit.json) marks the window; the next deploy sees it and repairs.
 5. The board is reset; the firmware must report the new build on its console, and its CAN controller must
    answer; then its `status` is shown. When nothing changed the board is not reset: the controller that the
    connection stopped is started again (soft reboot), and the same checks follow.
Before anything changes, deploy looks for what would shadow the firmware: a module or folder at the filesystem
root with the name of one in /lib (MicroPython searches the root first). It names them and stops (exit 13);
--remove-shadows deletes them in the switch-over.
The saved parameters (/params.dat, see leafvcu/settings.py) are never touched unless --reset-params.

The connection stops a running controller (Ctrl-C: the firmware goes to its safe state, contactors open; with
HV off the firmware logs this as a maintenance stop, which never pushes a fault out of its log): deploy with
the HV system off. Every command leaves the controller running again when it ends, whichever way it ends,
unless the connection was lost or the firmware itself does not start.

Exit status: 0 done, 2 usage, 3 no board found, 4 board busy, 5 MicroPython missing or too old, 6 interrupted
(connection lost), 7 filesystem full, 8 the firmware did not start, 9 invalid parameter file,
10 self-test failed, 11 build failed (mpy-cross), 12 the firmware started but its CAN controller (MCP2515) does
not answer, 13 something on the board shadows the firmware, 1 anything else.
"""
import argparse
import ast
import base64
import binascii
import concurrent.futures
import contextlib
import errno
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(REPO, "firmware")
TESTS_CROSS = os.path.join(REPO, "tests", "cross")
FAKES = os.path.join(REPO, "tools", "fakes")

DEPLOY_DIR = "/.deploy"
STAGE = "/.deploy/stage"
MANIFEST = "/.deploy/manifest.json"
JOURNAL = "/.deploy/commit.json"
MAIN_ASIDE = "/.deploy/main.py.old"
SELFTEST_DIR = "/selftest"
OWNED_DIRS = ("/lib/leafvcu",)  # everything in here belongs to the firmware
# The dashboard (--dashboard, docs/dashboard.md): microdot from the host's venv and the page built by
# tools/webbuild.py. A deploy without --dashboard leaves what an earlier one put there.
DASHBOARD_DIRS = ("/lib/microdot/", "/web/")
MICRODOT_FILES = ("__init__.py", "microdot.py")  # what `from microdot import ...` loads
BUILD_MODULE = "lib/leafvcu/build.py"

MIN_MICROPYTHON = (1, 23, 0)  # .mpy 6.3, what this mpy-cross writes; asyncio as the firmware uses it
MPY_MAJOR = 6
ARCHS = ["", "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp", "xtensa",
         "xtensawin", "rv32imc", "rv64imc"]
NATIVE_CODE = re.compile(r"^\s*@micropython\.(native|viper|asm_\w+)", re.M)
BANNER = re.compile(rb"leafvcu (\S+) build ([A-Za-z0-9+._-]+)")  # leafvcu.banner()
# main.py's line when the MCP2515 does not answer: "leafvcu: CAN controller (canxtal 8 MHz): no answer ..."
CAN_LINE = re.compile(rb"leafvcu: CAN controller(?: \([^)\r\n]*\))?: ([^\r\n]*)")
BOOT_TIMEOUT = 30.0  # seconds for the firmware's start line after a reset; every wait ends when it arrives
CHUNK = 3072  # raw bytes per exec while copying (4 KB of base64: a few raw-paste windows)

# USB serial bridges found on ESP32 boards: (vid, pid or None for any)
KNOWN_BRIDGES = {(0x10C4, 0xEA60): "CP210x", (0x1A86, 0x55D4): "CH9102", (0x1A86, 0x7523): "CH340",
                 (0x0403, 0x6001): "FTDI", (0x0403, 0x6015): "FTDI", (0x303A, None): "Espressif USB"}

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_NO_BOARD = 3
EXIT_BUSY = 4
EXIT_NO_MICROPYTHON = 5
EXIT_INTERRUPTED = 6
EXIT_FS_FULL = 7
EXIT_NOT_STARTED = 8
EXIT_INVALID = 9
EXIT_SELFTEST = 10
EXIT_BUILD = 11
EXIT_NO_CAN = 12
EXIT_SHADOWED = 13
PORTS_HINT = "./run python tools/deploy.py ports"
FLASH_HINT = "docs/flash.md, step 1"


class Fail(Exception):
    """A failure with its exit status and a one-line explanation for the user."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class Lost(Exception):
    """The connection to the board broke (or it stopped answering) during an operation."""


class BoardError(Exception):
    """Code on the board raised; .text is its traceback."""

    def __init__(self, text):
        super().__init__(text.strip().splitlines()[-1] if text.strip() else "error on the board")
        self.text = text

    @property
    def enospc(self):
        return bool(re.search(r"ENOSPC|Errno 28\b|OSError: 28\b", self.text))


_out = None  # where say() writes: stdout, or stderr while stdout carries data (params pull -)


def say(*args):
    """A line for the user. A reader that went away (`deploy.py --dry-run | head -2`) silences the rest, so the
    command still ends the way it should (the board restored) instead of in a BrokenPipeError."""
    stream = _out or sys.stdout
    try:
        print(*args, file=stream, flush=True)
    except BrokenPipeError:
        silence(stream)


def silence(stream):
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def kb(n):
    if n >= 10 * 1024 * 1024:
        return "%.0f MB" % (n / 1048576.0)
    return "%.1f KB" % (n / 1024.0)


# =================================================================================================
# the scripts deploy runs on the board (tools/board_scripts: plain MicroPython, readable and compiled by the tests)
# =================================================================================================

BOARD_SCRIPTS = os.path.join(REPO, "tools", "board_scripts")


def board_script(name):
    with open(os.path.join(BOARD_SCRIPTS, name + ".py"), encoding="utf-8") as f:
        return f.read()


def board_code(script, **args):
    """A board script with its inputs: they come first, as the dict _A (repr of plain lists, strings, numbers)."""
    return "_A = %r\n" % (args,) + script


# =================================================================================================
# host side: the firmware as it goes onto the board
# =================================================================================================

class Item:
    """One file for the board: board path, bytes, sha256 hex."""

    def __init__(self, path, data, source):
        self.path = path
        self.data = data
        self.source = source  # host file it came from (None: generated)
        self.sha = hashlib.sha256(data).hexdigest()

    @property
    def name(self):
        return self.path.lstrip("/")


def firmware_sources(firmware_dir):
    """(board path of the .py, host path) for every firmware file, sorted."""
    out = []
    for root, dirs, files in os.walk(firmware_dir):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        for name in sorted(files):
            if name.endswith(".py"):
                host = os.path.join(root, name)
                out.append(("/" + os.path.relpath(host, firmware_dir).replace(os.sep, "/"), host))
    return out


def dashboard_sources():
    """(board path, host path) of the microdot modules the dashboard imports, from the host's venv (pyproject)."""
    try:
        import microdot
    except ImportError:
        raise Fail(EXIT_BUILD, "microdot is not installed on the host: run ./run once to set up .venv")
    d = os.path.dirname(os.path.abspath(microdot.__file__))
    return [("/lib/microdot/" + n, os.path.join(d, n)) for n in MICRODOT_FILES]


def dashboard_static():
    """The page's files (tools/webbuild.py: uPlot + web/, gzip), built now: nothing generated is in the repo."""
    sys.path.insert(0, os.path.join(REPO, "tools"))
    import webbuild

    try:
        return [Item("/web/" + name, data, None) for name, data in sorted(webbuild.files().items())]
    except webbuild.BuildError as e:
        raise Fail(EXIT_BUILD, "dashboard: %s" % e)


def is_top_level(path):
    return path in ("/boot.py", "/main.py")


def target_path(py_path, source):
    """Board path of a firmware file: lib modules become .mpy unless --source."""
    if source or is_top_level(py_path):
        return py_path
    return py_path[:-3] + ".mpy"


def board_paths(firmware_dir, source, dashboard=False):
    paths = [target_path(p, source) for p, _ in firmware_sources(firmware_dir)]
    if dashboard:
        paths += [target_path(p, source) for p, _ in dashboard_sources()] + [i.path for i in dashboard_static()]
    build = target_path("/" + BUILD_MODULE, source)
    if build not in paths:
        paths.append(build)
    return paths


def twin(path):
    """The .py/.mpy twin that would shadow or confuse the import of `path`."""
    if path.endswith(".mpy"):
        return path[:-4] + ".py"
    if path.endswith(".py") and not is_top_level(path):
        return path[:-3] + ".mpy"
    return None


def mpy_cross_command():
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    if os.path.exists(exe):
        return [exe]
    found = shutil.which("mpy-cross")
    if found:
        return [found]
    return [sys.executable, "-m", "mpy_cross"]


def mpy_cross_version():
    try:
        run = subprocess.run(mpy_cross_command() + ["--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Fail(EXIT_BUILD, "mpy-cross is not available (%s): run ./run once to set up .venv, or deploy "
                               "with --source" % e)
    m = re.search(r"mpy v(\d+)\.(\d+)", run.stdout + run.stderr)
    return (int(m.group(1)), int(m.group(2))) if m else None


def git_id(firmware_dir):
    """Short commit of the repository holding the firmware folder, '+' when that folder has uncommitted
    changes; 'nogit' outside git."""
    try:
        rev = subprocess.run(["git", "-C", firmware_dir, "rev-parse", "--short=8", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        if rev.returncode != 0:
            return "nogit"
        dirty = subprocess.run(["git", "-C", firmware_dir, "status", "--porcelain", "--", "."],
                               capture_output=True, text=True, timeout=10)
        return rev.stdout.strip() + ("+" if dirty.stdout.strip() else "")
    except (OSError, subprocess.TimeoutExpired):
        return "nogit"


def firmware_version(firmware_dir):
    path = os.path.join(firmware_dir, "lib", "leafvcu", "__init__.py")
    try:
        with open(path, encoding="utf-8") as f:
            m = re.search(r"^VERSION\s*=\s*['\"]([^'\"]+)['\"]", f.read(), re.M)
        return m.group(1) if m else "?"
    except OSError:
        return "?"


def build_firmware(firmware_dir, source, march=None, dashboard=False):
    """Compile (unless source) and return (items, build_id). march: mpy-cross -march when native code is used.
    dashboard: microdot and the page's files as well."""
    sources = firmware_sources(firmware_dir)
    if not any(p == "/main.py" for p, _ in sources):
        raise Fail(EXIT_BUILD, "%s has no main.py: not a firmware folder" % firmware_dir)
    def one(job):
        n, (py_path, host) = job
        dest = target_path(py_path, source)
        if not dest.endswith(".mpy"):
            with open(host, "rb") as f:
                return Item(dest, f.read(), host)
        out = os.path.join(tmp, "%d.mpy" % n)
        cmd = mpy_cross_command() + ["-o", out, "-s", py_path.rsplit("/", 1)[-1]]
        with open(host, encoding="utf-8") as f:
            if march and NATIVE_CODE.search(f.read()):
                cmd.append("-march=" + march)
        run = subprocess.run(cmd + [host], capture_output=True, text=True, timeout=120)
        if run.returncode != 0:
            first = (run.stderr or run.stdout).strip().splitlines()
            raise Fail(EXIT_BUILD, "mpy-cross failed on %s: %s" % (
                os.path.relpath(host, firmware_dir), first[-1] if first else "error %d" % run.returncode))
        with open(out, "rb") as f:
            return Item(dest, f.read(), host)

    jobs = list(enumerate(s for s in sources if s[0] != "/" + BUILD_MODULE))
    if dashboard:
        jobs += list(enumerate(dashboard_sources(), len(jobs)))
    with tempfile.TemporaryDirectory(prefix="leafvcu-build-") as tmp:
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
            items = list(pool.map(one, jobs))
    if dashboard:
        items += dashboard_static()
    digest = hashlib.sha256()
    for it in sorted(items, key=lambda i: i.path):
        digest.update(("%s %s\n" % (it.path, it.sha)).encode())
    build_id = "%s-%s" % (git_id(firmware_dir), digest.hexdigest()[:8])
    text = ("# Generated by tools/deploy.py when it put this firmware on the board; not in the repository.\n"
            "BUILD = %r\n" % build_id)
    build_py = "/" + BUILD_MODULE
    if source:
        items.append(Item(build_py, text.encode(), None))
    else:
        with tempfile.TemporaryDirectory(prefix="leafvcu-build-") as tmp:
            src = os.path.join(tmp, "build.py")
            with open(src, "w", encoding="utf-8") as f:
                f.write(text)
            out = os.path.join(tmp, "build.mpy")
            run = subprocess.run(mpy_cross_command() + ["-o", out, "-s", "build.py", src], capture_output=True,
                                 text=True, timeout=60)
            if run.returncode != 0:
                raise Fail(EXIT_BUILD, "mpy-cross failed on the build id module: %s" % run.stderr.strip())
            with open(out, "rb") as f:
                items.append(Item(build_py[:-3] + ".mpy", f.read(), None))
    return items, build_id


# =================================================================================================
# the connection
# =================================================================================================

def expand_port(port):
    """mpremote's shortcuts: a0 -> /dev/ttyACM0, u0 -> /dev/ttyUSB0, c3 -> COM3."""
    m = re.match(r"^([acu])(\d+)$", port)
    if m:
        return {"a": "/dev/ttyACM", "u": "/dev/ttyUSB", "c": "COM"}[m.group(1)] + m.group(2)
    return port


def candidate_ports():
    """Serial ports that could be a board: USB ones (they have a vendor id), known ESP32 bridges first."""
    from serial.tools import list_ports

    ports = [p for p in sorted(list_ports.comports(), key=lambda p: p.device)
             if p.vid is not None and p.pid is not None]

    def bridge(p):
        return KNOWN_BRIDGES.get((p.vid, p.pid)) or KNOWN_BRIDGES.get((p.vid, None))

    return sorted(ports, key=lambda p: 0 if bridge(p) else 1), bridge


def pick_port(port):
    if port:
        return expand_port(port)
    ports, bridge = candidate_ports()
    if not ports:
        raise Fail(EXIT_NO_BOARD, "no board found: no USB serial port is connected. Plug the TinyPICO in (with a "
                                  "data cable, not a charge-only one) or name the port with --port")
    known = [p for p in ports if bridge(p)]
    pool = known or ports
    if len(pool) > 1:
        names = ", ".join("%s (%s)" % (p.device, bridge(p) or p.description) for p in pool)
        raise Fail(EXIT_USAGE, "several serial ports could be the board: %s; choose one with --port" % names)
    return pool[0].device


def explain_open_error(port, exc):
    """The one-line reason a port did not open, with its exit status."""
    text = str(exc)
    low = text.lower()
    code = getattr(exc, "errno", None)
    if port.startswith(("socket://", "rfc2217://")):
        if "refused" in low or code == errno.ECONNREFUSED:
            return Fail(EXIT_NO_BOARD, "no board found: nothing answers at %s (is the virtual board or the "
                                       "serial bridge running?)" % port)
        return Fail(EXIT_NO_BOARD, "no board found: cannot connect to %s (%s)" % (port, text))
    if ("exclusively lock" in low or "busy" in low or code in (errno.EBUSY, errno.EAGAIN)
            or (os.name == "nt" and ("access is denied" in low or "permissionerror" in low))):
        return Fail(EXIT_BUSY, "board busy: %s is in use by another program (a serial terminal, mpremote, "
                               "Thonny or an IDE's serial monitor); close it and try again" % port)
    if code == errno.EACCES or "permission denied" in low:
        return Fail(EXIT_NO_BOARD, "no permission to open %s: add your user to the 'dialout' group "
                                   "(sudo usermod -aG dialout $USER), then log out and in again" % port)
    if code == errno.ENOENT or "no such file" in low or "filenotfound" in low or "cannot find" in low:
        return Fail(EXIT_NO_BOARD, "no board found at %s: nothing is connected there (see `%s`)" % (port, PORTS_HINT))
    return Fail(EXIT_NO_BOARD, "no board found: cannot open %s (%s; see `%s`)" % (port, text, PORTS_HINT))


class Board:
    """One connection to a MicroPython board over mpremote's SerialTransport (raw REPL, raw-paste)."""

    def __init__(self, port, read_timeout=5.0, connect_timeout=10.0):
        self.port = port
        self.connect_timeout = connect_timeout
        import serial
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport

        self._serial_mod = serial
        self.TransportError = TransportError
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                self.t = SerialTransport(port, baudrate=115200, timeout=read_timeout)
        except TransportError:
            # mpremote hides why; open the port once more to find out.
            try:
                s = serial.serial_for_url(port, do_not_open=True, baudrate=115200, exclusive=True)
                s.open()
                s.close()
            except (serial.SerialException, OSError, ValueError) as e:
                raise explain_open_error(port, e) from None
            raise Fail(EXIT_NO_BOARD, "no board found: cannot open %s (see `%s`)" % (port, PORTS_HINT)) from None
        except (serial.SerialException, OSError, ValueError) as e:
            raise explain_open_error(port, e) from None
        self.info = None
        self.lost = False  # the connection broke: nothing more can be done on the board
        self.restarted = False  # the controller was started again (or the board reset) by this command
        sock = getattr(self.t.serial, "_socket", None)
        if sock is not None:
            import socket

            try:  # many small writes per command: without this, Nagle + delayed ACK cost ~40 ms each
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        if port.startswith("socket://"):
            # A network serial server (ser2net, the virtual board) says so and hangs up when its port is taken.
            try:
                said = self.read_for(0.15, quiet=0.05)
            except Lost:
                said = b"closed"
            low = said.lower()
            if b"busy" in low or b"in use" in low or said == b"closed":
                self.close()
                raise Fail(EXIT_BUSY, "board busy: %s is held by another connection; close it and try again" % port)

    # --- raw REPL -------------------------------------------------------------------------------
    def enter(self, soft_reset=True):
        """Interrupts whatever runs (Ctrl-C) and enters the raw REPL, by default through a soft reboot
        (a fresh interpreter; main.py does not run)."""
        captured = io.StringIO()
        try:
            with contextlib.redirect_stdout(captured):
                self.t.enter_raw_repl(soft_reset=soft_reset, timeout_overall=self.connect_timeout)
        except self.TransportError:
            raise self._no_repl(captured.getvalue()) from None
        except (self._serial_mod.SerialException, OSError) as e:
            raise Fail(EXIT_INTERRUPTED, "lost the connection to %s while connecting: %s" % (self.port, e)) from None

    def _no_repl(self, printed):
        said = printed.strip()
        if said.startswith(("b'", 'b"')):
            try:
                said = ast.literal_eval(said.splitlines()[0]).decode("latin-1")
            except (ValueError, SyntaxError):
                pass
        shown = re.sub(r"[^\x20-\x7e]+", " ", said).strip()
        low = shown.lower()
        if "port busy" in low or "in use" in low:
            return Fail(EXIT_BUSY, "board busy: %s is held by another connection; close it and try again" % self.port)
        if "waiting for download" in low:
            return Fail(EXIT_NO_MICROPYTHON, "the board on %s is in its ROM bootloader (download mode), not running "
                                             "MicroPython: press its reset button and try again; if it stays "
                                             "there, flash MicroPython (%s)" % (self.port, FLASH_HINT))
        if not shown:
            return Fail(EXIT_NO_MICROPYTHON, "no MicroPython on %s: nothing answered the REPL within %.0f s (flash "
                                             "MicroPython: %s; if it is installed, press the board's reset button "
                                             "and try again)" % (self.port, self.connect_timeout, FLASH_HINT))
        return Fail(EXIT_NO_MICROPYTHON, "no MicroPython on %s: it does not answer like MicroPython's REPL (it said "
                                         "%r); flash MicroPython first (%s)" % (self.port, shown[-60:], FLASH_HINT))

    def run(self, code, timeout=30):
        """Runs code in the raw REPL; its output (bytes). Lost on a broken connection, BoardError if it raised."""
        try:
            out, err = self.t.exec_raw(code, timeout=timeout)
        except self.TransportError as e:
            self.lost = True
            raise Lost("the board stopped answering (%s)" % e) from None
        except (self._serial_mod.SerialException, OSError) as e:
            self.lost = True
            raise Lost(str(e) or e.__class__.__name__) from None
        if err:
            raise BoardError(err.decode("utf-8", "replace"))
        return out

    def run_json(self, code, timeout=30):
        out = self.run(code, timeout)
        for line in out.decode("utf-8", "replace").splitlines():
            if line.startswith("@@"):
                return json.loads(line[2:])
        raise BoardError("no result from the board: %r" % out[-200:])

    def read_file(self, path):
        """The file's bytes, or None if it does not exist."""
        out = self.run("import binascii\ntry:\n f=open(%r,'rb')\nexcept OSError:\n print('@@null')\nelse:\n"
                       " print('@@\"'+binascii.b2a_base64(f.read()).decode().strip()+'\"')\n f.close()\n" % path)
        for line in out.decode().splitlines():
            if line.startswith("@@"):
                v = json.loads(line[2:])
                return None if v is None else base64.b64decode(v)
        raise BoardError("no result from the board reading %s" % path)

    def write_file(self, path, data, progress=None):
        """Writes path on the board in chunks (base64 in raw-paste execs)."""
        first = True
        off = 0
        while True:
            chunk = data[off:off + CHUNK]
            last = off + CHUNK >= len(data)
            code = ""
            if first:
                code += "from binascii import a2b_base64 as _a\n_f=open(%r,'wb')\n" % path
            if chunk:
                code += "_f.write(_a(%r))\n" % base64.b64encode(chunk)
            if last:
                code += "_f.close()\n"
            try:
                self.run(code, timeout=30)
            except BoardError:
                try:
                    self.run("try:\n _f.close()\nexcept Exception:\n pass\n")
                except (BoardError, Lost):
                    pass
                raise
            off += len(chunk)
            if progress:
                progress(len(chunk))
            first = False
            if last:
                return

    def close(self):
        try:
            self.t.close()
        except Exception:  # noqa: closing a dead port
            pass

    @property
    def serial(self):
        return self.t.serial

    # --- plain console I/O (the firmware running, not the raw REPL) ------------------------------
    def read_for(self, seconds, until=None, quiet=None):
        """Reads what the board prints for up to `seconds`; stops early when until(data) is true, or when
        nothing arrived for `quiet` seconds after something did."""
        ser = self.serial
        data = b""
        end = time.monotonic() + seconds
        last = None
        while time.monotonic() < end:
            try:
                n = ser.in_waiting
                chunk = ser.read(n or 1) if n else b""
            except (self._serial_mod.SerialException, OSError) as e:
                self.lost = True
                raise Lost(str(e)) from None
            if chunk:
                data += chunk
                last = time.monotonic()
                if until and until(data):
                    break
            else:
                if quiet and last and time.monotonic() - last > quiet:
                    break
                time.sleep(0.02)
        return data

    def write(self, data):
        try:
            self.serial.write(data)
        except (self._serial_mod.SerialException, OSError) as e:
            self.lost = True
            raise Lost(str(e)) from None


def connect(args):
    port = pick_port(args.port)
    say("board: %s" % port)
    board = Board(port, connect_timeout=args.connect_timeout)
    try:
        board.enter()
    except Fail:
        board.close()
        raise
    return board


# =================================================================================================
# what the board says about itself
# =================================================================================================

_PROBE = board_script("probe")  # tools/board_scripts/probe.py


def probe(board, paths, dirs=(DEPLOY_DIR,) + OWNED_DIRS):
    try:
        info = board.run_json(board_code(_PROBE, paths=list(paths), dirs=list(dirs), manifest=MANIFEST), timeout=60)
    except Lost as e:
        raise Fail(EXIT_INTERRUPTED, "lost the connection to %s while reading the board: %s" % (board.port, e))
    except BoardError as e:
        raise Fail(EXIT_NO_MICROPYTHON, "the board's MicroPython could not run the deploy probe (%s): it is "
                                        "probably too old; flash MicroPython %s or newer (%s)"
                   % (e, ".".join(map(str, MIN_MICROPYTHON)), FLASH_HINT))
    board.info = info
    return info


def describe(info):
    ver = ".".join(str(v) for v in info["ver"])
    mpy = info.get("mpy")
    fmt = "?"
    arch = ""
    if mpy is not None:
        fmt = "%d.%d" % (mpy & 0xFF, (mpy >> 8) & 3)
        a = mpy >> 10
        arch = ARCHS[a] if 0 < a < len(ARCHS) else ""
    free = info.get("free")
    return "MicroPython %s on %s (.mpy v%s%s)%s" % (
        ver, info.get("platform"), fmt, ", " + arch if arch else "",
        ", %s free" % kb(free) if free is not None else "")


def check_micropython(info, source, firmware_dir=None):
    """Refuses a board whose MicroPython cannot run this firmware; returns mpy-cross's -march or None."""
    ver = tuple(info["ver"])
    need = ".".join(map(str, MIN_MICROPYTHON))
    have = ".".join(map(str, ver))
    mpy = info.get("mpy")
    if ver < MIN_MICROPYTHON:
        raise Fail(EXIT_NO_MICROPYTHON, "MicroPython %s on the board is too old: leafvcu needs %s or newer. Flash "
                                        "a current MicroPython for the TinyPICO (%s); your saved parameters "
                                        "survive if you keep the filesystem" % (have, need, FLASH_HINT))
    if mpy is None:
        if source:
            return None
        raise Fail(EXIT_NO_MICROPYTHON, "MicroPython %s on the board does not report its .mpy format: flash "
                                        "MicroPython %s or newer (%s), or deploy with --source"
                   % (have, need, FLASH_HINT))
    if source:
        return None
    major = mpy & 0xFF
    arch = mpy >> 10
    host = mpy_cross_version()
    if major != MPY_MAJOR or (host and host[0] != major):
        raise Fail(EXIT_NO_MICROPYTHON, "the board loads .mpy v%d files, this mpy-cross writes v%s: flash MicroPython "
                                        "%s or newer (%s), or deploy with --source"
                   % (major, "%d.%d" % host if host else "?", need, FLASH_HINT))
    if firmware_dir and uses_native_code(firmware_dir):
        # @micropython.native/viper code is machine code for one architecture and one exact .mpy version.
        sub = (mpy >> 8) & 3
        if not (0 < arch < len(ARCHS)) or (host and (major, sub) != host):
            raise Fail(EXIT_NO_MICROPYTHON, "the firmware has native code (@micropython.native/viper), which needs "
                                            "a board with .mpy v%s and a native emitter; this one has v%d.%d%s: "
                                            "flash a current MicroPython (%s)"
                       % ("%d.%d" % host if host else "?", major, sub, "" if arch else " and none", FLASH_HINT))
    return ARCHS[arch] if 0 < arch < len(ARCHS) else None


def uses_native_code(firmware_dir):
    for _, host in firmware_sources(firmware_dir):
        with open(host, encoding="utf-8") as f:
            if NATIVE_CODE.search(f.read()):
                return True
    return False


# =================================================================================================
# deploy
# =================================================================================================

class Plan:
    def __init__(self, items, info, reset_params, shadows=(), remove_shadows=False, keep=()):
        files = info["files"]
        self.files = files
        self.items = items
        self.copy = [it for it in items if files.get(it.path) != it.sha]
        self.staged = [it for it in self.copy if files.get(STAGE + it.path) == it.sha]
        self.same = [it for it in items if files.get(it.path) == it.sha]
        targets = set(it.path for it in items)
        stale = set()
        for path, sha in files.items():
            if sha is None or path in targets:
                continue
            if path.startswith(tuple(d + "/" for d in OWNED_DIRS)):
                stale.add(path)
        manifest = info.get("manifest") or {}
        for path in (manifest.get("files") or {}):
            if path not in targets and files.get(path) is not None:
                stale.add(path)
        for it in items:
            tw = twin(it.path)
            if tw and tw not in targets and files.get(tw) is not None:
                stale.add(tw)
        self.stale = sorted(p for p in stale if not p.startswith((DEPLOY_DIR + "/",) + tuple(keep)))
        self.params = [p for p in params_paths() if files.get(p) is not None]  # the main file first
        self.reset_params = reset_params
        self.journal = files.get(JOURNAL) is not None
        copying = set(it.path for it in self.copy)
        self.leftover_stage = sorted(p for p, sha in files.items() if sha is not None and p.startswith(STAGE + "/")
                                     and p[len(STAGE):] not in copying)
        self.shadows = list(shadows)  # [(root path, is a folder)]
        self.remove_shadows = remove_shadows

    @property
    def changes(self):
        return bool(self.copy or self.stale or (self.reset_params and self.params) or self.journal
                    or self.leftover_stage or self.files.get(MAIN_ASIDE) is not None
                    or (self.remove_shadows and self.shadows))

    def bytes_to_copy(self):
        staged = set(id(i) for i in self.staged)
        return sum(len(i.data) for i in self.copy if id(i) not in staged)

    def space_needed(self):
        # LittleFS keeps a file in whole 4 KB blocks (small ones inline in metadata); two blocks of slack for
        # directories and the manifest.
        staged = set(id(i) for i in self.staged)
        return sum(-(-len(i.data) // 4096) * 4096 for i in self.copy if id(i) not in staged) + 2 * 4096


def params_paths():
    """The settings file and its siblings (leafvcu/settings.py): never touched without --reset-params."""
    main = settings_path()
    base = main[:-4] if main.endswith(".dat") else main
    return [main, base + ".new", base + ".bak", base + ".bad"]


def settings_path():
    import inspect

    try:
        settings = import_firmware("leafvcu.settings")
        path = inspect.signature(settings.Settings).parameters["path"].default
        return path if isinstance(path, str) and path.startswith("/") else "/params.dat"
    except Exception:  # noqa: an older firmware tree
        return "/params.dat"


def import_firmware(name, firmware_dir=FIRMWARE):
    lib = os.path.join(firmware_dir, "lib")
    if lib not in sys.path:
        sys.path.insert(0, lib)
    __import__(name)
    return sys.modules[name]


_COMMIT = board_script("commit")  # tools/board_scripts/commit.py


def cmd_deploy(args):
    firmware_dir = os.path.abspath(args.firmware)
    if not os.path.isfile(os.path.join(firmware_dir, "main.py")):
        raise Fail(EXIT_USAGE, "%s is not a firmware folder (no main.py)" % firmware_dir)
    dashboard = getattr(args, "dashboard", False)
    paths = board_paths(firmware_dir, args.source, dashboard)
    watch = set(paths)
    for p in paths:
        tw = twin(p)
        if tw:
            watch.add(tw)
        watch.add(STAGE + p)
    watch.update(params_paths())
    watch.add(MAIN_ASIDE)
    watch.add(JOURNAL)
    board = connect(args)
    try:
        info = probe(board, sorted(watch))
        say("found: %s" % describe(info))
        march = check_micropython(info, args.source, firmware_dir)
        t0 = time.monotonic()
        items, build_id = build_firmware(firmware_dir, args.source, march, dashboard)
        version = firmware_version(firmware_dir)
        say("built: leafvcu %s build %s (%d files, %s, %s, %.1f s)" % (
            version, build_id, len(items), ".py" if args.source else ".mpy",
            kb(sum(len(i.data) for i in items)), time.monotonic() - t0))
        installed = info.get("manifest") or {}
        if installed.get("build"):
            say("on the board: leafvcu %s build %s" % (installed.get("version", "?"), installed["build"]))
        elif info.get("installed"):
            say("on the board: leafvcu %s (not installed by deploy.py)" % info["installed"][0])
        else:
            say("on the board: no leafvcu firmware")
        plan = Plan(items, info, args.reset_params, shadows(info, firmware_dir), args.remove_shadows,
                    keep=() if dashboard else DASHBOARD_DIRS)
        show_plan(plan, args.dry_run)
        if plan.shadows and not args.remove_shadows:
            raise Fail(EXIT_SHADOWED, "%s at the filesystem root shadow%s the firmware in /lib (MicroPython imports "
                                      "from the root first, so the board would run %s instead); nothing was "
                                      "changed. Run again with --remove-shadows to delete %s"
                       % (", ".join(describe_shadow(x) for x in plan.shadows), "s" if len(plan.shadows) == 1 else "",
                          "it" if len(plan.shadows) == 1 else "them", "it" if len(plan.shadows) == 1 else "them"))
        if args.dry_run:
            return EXIT_OK
        if not plan.changes:
            say("nothing to copy: the board already has build %s" % build_id)
        else:
            free = info.get("free")
            need = plan.space_needed()
            if free is not None and need > free:
                raise Fail(EXIT_FS_FULL, "filesystem full: the changed files need %s on the board, %s is free; "
                                         "nothing was changed (list what is on the board with `.venv/bin/mpremote "
                                         "connect %s fs ls`, remove what you put there yourself with `fs rm`)"
                           % (kb(need), kb(free), board.port))
            if plan.copy:
                stage(board, plan, info)
            commit(board, plan, build_id, version, args.source)
            say("switched over: %d copied, %d removed%s" % (
                len(plan.copy), len(plan.stale) + len(plan.shadows), ", parameters reset to defaults"
                if plan.reset_params and plan.params else ""))
        if args.no_reset:
            board.restarted = True  # asked for: the board stays at the REPL, the controller stopped
            board.t.exit_raw_repl()
            say("not reset (--no-reset): the board is at the REPL, the controller stopped; %s at the next reset"
                % ("the new firmware starts" if plan.changes else "it starts again"))
            return EXIT_OK
        return restart_and_confirm(board, version, build_id, args.boot_timeout, args.status_timeout,
                                   hard=plan.changes)
    finally:
        leave(board, args.boot_timeout)


def shadows(info, firmware_dir):
    """What at the filesystem root has the name of a module or package of firmware/lib: (name, is_dir)."""
    names = set()
    for entry in os.listdir(os.path.join(firmware_dir, "lib")):
        if os.path.isdir(os.path.join(firmware_dir, "lib", entry)):
            if entry != "__pycache__":
                names.add(entry)
        elif entry.endswith(".py"):
            names.add(entry[:-3])
    out = []
    for name, is_dir in info.get("root") or ():
        stem = name if is_dir else name.rsplit(".", 1)[0]
        if stem in names and (is_dir or name.endswith((".py", ".mpy"))):
            out.append(("/" + name, bool(is_dir)))
    return sorted(out)


def describe_shadow(shadow):
    path, is_dir = shadow
    return "%s (a folder)" % path if is_dir else path


def show_plan(plan, dry_run):
    would = "would " if dry_run else ""
    if plan.journal:
        say("a previous deploy was interrupted while switching over: this run completes it")
    if plan.copy:
        say("%scopy %d file%s (%s):" % (would, len(plan.copy), "" if len(plan.copy) == 1 else "s",
                                        kb(sum(len(i.data) for i in plan.copy))))
        staged = set(id(i) for i in plan.staged)
        for it in plan.copy:
            why = "already staged" if id(it) in staged else (
                "new" if plan.files.get(it.path) is None else "changed")
            say("  %-34s %9s  %s" % (it.name, kb(len(it.data)), why))
    if plan.stale:
        say("%sremove %d file%s the firmware no longer has:" % (would, len(plan.stale),
                                                               "" if len(plan.stale) == 1 else "s"))
        for p in plan.stale:
            say("  " + p.lstrip("/"))
    say("unchanged: %d file%s" % (len(plan.same), "" if len(plan.same) == 1 else "s"))
    if plan.shadows:
        say("%s the firmware (at the filesystem root, imported before /lib):" % (
            ("%sremove, as they shadow" % would) if plan.remove_shadows else "found, shadowing"))
        for shadow in plan.shadows:
            say("  " + describe_shadow(shadow))
    if plan.params:
        if plan.reset_params:
            say("%sdelete the saved parameters (%s): the firmware starts with the defaults" % (
                would, ", ".join(p.lstrip("/") for p in plan.params)))
        else:
            say("saved parameters kept (%s)" % plan.params[0].lstrip("/"))


class Progress:
    """Per-file lines; on a terminal also a running byte count on one line."""

    line_open = False  # a running count is on the terminal's current line (a message must start a new one)

    def __init__(self, total_bytes, files):
        self.total = max(1, total_bytes)
        self.files = files
        self.done = 0
        self.tty = sys.stdout.isatty()
        self.t0 = time.monotonic()

    def start(self, n, item):
        self.n = n
        self.item = item
        self.file_done = 0
        self._draw()

    def advance(self, nbytes):
        self.done += nbytes
        self.file_done += nbytes
        self._draw()

    def _draw(self):
        if self.tty:
            pct = 100 * self.done // self.total
            sys.stdout.write("\r  [%d/%d] %-34s %3d%%  %s/%s" % (self.n, self.files, self.item.name, pct,
                                                                 kb(self.done), kb(self.total)))
            sys.stdout.flush()
            Progress.line_open = True

    def finish_file(self, note=""):
        line = "  [%d/%d] %-34s %9s %s" % (self.n, self.files, self.item.name, kb(len(self.item.data)), note)
        if self.tty:
            sys.stdout.write("\r" + line.ljust(78) + "\n")
            sys.stdout.flush()
            Progress.line_open = False
        else:
            say(line)

    @staticmethod
    def end_line():
        """Ends a running count's line, so that what follows (an error, Ctrl-C) starts on its own."""
        if Progress.line_open:
            Progress.line_open = False
            try:
                sys.stdout.write("\n")
                sys.stdout.flush()
            except (BrokenPipeError, OSError):
                pass

    def rate(self):
        dt = max(1e-6, time.monotonic() - self.t0)
        return self.done / dt


def stage(board, plan, info):
    """Copies the changed files into the staging directory and verifies them there."""
    staged = set(id(i) for i in plan.staged)
    todo = [it for it in plan.copy if id(it) not in staged]
    dirs = sorted(set((STAGE + it.path).rsplit("/", 1)[0] for it in plan.copy))
    prep = ("import os\ndef _md(d):\n p=''\n for x in d.split('/')[1:]:\n  p+='/'+x\n  try:\n   os.mkdir(p)\n"
            "  except OSError:\n   pass\nfor _d in %r:\n _md(_d)\nfor _p in %r:\n try:\n  os.remove(_p)\n"
            " except OSError:\n  pass\n" % (dirs, plan.leftover_stage))
    total = sum(len(it.data) for it in todo)
    say("copying %d file%s (%s) to %s:" % (len(plan.copy), "" if len(plan.copy) == 1 else "s", kb(total), STAGE))
    progress = Progress(total, len(plan.copy))
    n = 0
    try:
        board.run(prep)
        for it in plan.copy:
            n += 1
            progress.start(n, it)
            if id(it) in staged:
                progress.finish_file("already staged")
                continue
            board.write_file(STAGE + it.path, it.data, progress.advance)
            progress.finish_file("ok")
        check = board.run_json(board_code(_PROBE, paths=[STAGE + it.path for it in plan.copy], dirs=[],
                                            manifest=MANIFEST), timeout=60)
    except Lost as e:
        Progress.end_line()
        raise Fail(EXIT_INTERRUPTED, "copy interrupted at %s (%d of %d files copied): %s. The board was not switched "
                                     "over: it still has its previous firmware and boots it; run deploy again to "
                                     "finish (the files already copied are kept)"
                   % (progress.item.name if n else "the start", max(0, n - 1), len(plan.copy), e))
    except BoardError as e:
        Progress.end_line()
        if e.enospc:
            cleanup_stage(board)
            free = info.get("free")
            raise Fail(EXIT_FS_FULL, "filesystem full while copying %s: the board has no room for the new files "
                                     "(%s free before the copy, the changed files need %s). Nothing was switched "
                                     "over: the previous firmware is intact; the partial copy was removed"
                       % (progress.item.name, kb(free) if free is not None else "?", kb(plan.space_needed())))
        raise Fail(EXIT_FAIL, "the board refused a file while copying %s: %s" % (progress.item.name, e))
    bad = [it.name for it in plan.copy if check["files"].get(STAGE + it.path) != it.sha]
    if bad:
        raise Fail(EXIT_INTERRUPTED, "copy damaged on the way (%s reads back different); nothing was switched "
                                     "over, run deploy again" % ", ".join(bad))
    say("copied and verified in %.1f s (%s/s)" % (time.monotonic() - progress.t0, kb(progress.rate())))


def cleanup_stage(board):
    try:
        board.run("import os\ndef _rt(d):\n try:\n  it=list(os.ilistdir(d))\n except OSError:\n  return\n"
                  " for e in it:\n  p=d+'/'+e[0]\n  if e[1]&0x4000:\n   _rt(p)\n  else:\n   os.remove(p)\n"
                  " os.rmdir(d)\n_rt(%r)\n" % STAGE)
    except (BoardError, Lost):
        pass


def commit(board, plan, build_id, version, source):
    manifest = {"format": 1, "version": version, "build": build_id, "mode": "py" if source else "mpy",
                "files": dict((it.path, it.sha) for it in plan.items)}
    code = board_code(_COMMIT, **{
        "stage": STAGE, "moves": [it.path for it in plan.copy], "stale": plan.stale,
        "shadows": plan.shadows if plan.remove_shadows else [],
        "params": plan.params if plan.reset_params else [], "journal": JOURNAL, "aside": MAIN_ASIDE,
        "manifest": MANIFEST, "manifest_text": json.dumps(manifest, sort_keys=True),
    })
    try:
        board.run_json(code, timeout=60)
    except Lost as e:
        raise Fail(EXIT_INTERRUPTED, "connection lost during the switch-over (%s). The board finishes it on its "
                                     "own once the script has arrived; if it had not, the old firmware is intact. "
                                     "Run deploy again to make sure" % e)
    except BoardError as e:
        if e.enospc:
            raise Fail(EXIT_FS_FULL, "filesystem full during the switch-over: %s; run deploy again after freeing "
                                     "space (the board boots to the REPL until then)" % e)
        raise Fail(EXIT_FAIL, "the switch-over failed on the board: %s; run deploy again" % e)


def restart_and_confirm(board, version, build_id, boot_timeout, status_timeout=4.0, hard=True):
    """Restarts the board (hard: machine.reset(), after a change; else a soft reboot, which only starts the
    controller again), waits for the firmware's start line, shows `status`; fails when the firmware did not
    start, started another build, or cannot reach its CAN controller."""
    board.restarted = True
    if hard:
        say("resetting the board...")
        try:
            board.t.exec_raw_no_follow("import machine\nmachine.reset()\n")
        except (board.TransportError, board._serial_mod.SerialException, OSError):
            pass  # a board may drop the line as it resets
        board.t.in_raw_repl = False
    else:
        say("starting the controller again (soft reboot; no reset needed)...")
        try:
            board.t.exit_raw_repl()
            board.write(b"\x04")
        except (Lost, board.TransportError, board._serial_mod.SerialException, OSError) as e:
            raise Fail(EXIT_INTERRUPTED, "lost the connection while restarting the controller: %s" % e)

    def seen(data):
        return BANNER.search(data) or crashed(data) or b"safe mode" in data or at_prompt(data)

    try:
        boot = board.read_for(boot_timeout, until=seen)
        boot += board.read_for(0.5, quiet=0.3)
    except Lost as e:
        raise Fail(EXIT_INTERRUPTED, "lost the connection while the board restarted: %s" % e)
    m = BANNER.search(boot)
    if crashed(boot) and not m:
        raise Fail(EXIT_NOT_STARTED, "the firmware did not start: %s (the board is at the REPL; `.venv/bin/mpremote "
                                     "connect PORT` shows the whole traceback)" % last_error(boot))
    if m:
        got_v, got_b = m.group(1).decode(), m.group(2).decode()
        if got_b != build_id:
            raise Fail(EXIT_NOT_STARTED, "the board started build %s, not the new %s: the copy did not take "
                                         "effect (files at the filesystem root shadow /lib? deploy names them)"
                       % (got_b, build_id))
        say("started: leafvcu %s build %s" % (got_v, got_b))
        if crashed(boot):
            raise Fail(EXIT_NOT_STARTED, "the firmware started and then stopped: %s" % last_error(boot))
    elif b"safe mode" in boot:
        say("the board booted in safe mode (brake held at power-up): the controller is not running")
        return EXIT_OK
    else:
        # The firmware printed no start line: check what is installed through the REPL instead.
        board.enter(soft_reset=True)
        try:
            got = board.run_json("import leafvcu, os\nos.stat('/main.py')\nimport json\n"
                                 "print('@@'+json.dumps([leafvcu.VERSION, getattr(leafvcu,'BUILD',None)]))\n")
        except (BoardError, Lost) as e:
            raise Fail(EXIT_NOT_STARTED, "the firmware did not start and does not import: %s" % e)
        if got[1] != build_id:
            raise Fail(EXIT_NOT_STARTED, "the board has build %s, not the new %s" % (got[1], build_id))
        say("installed: leafvcu %s build %s (the firmware printed no start line within %.0f s; it was restarted)"
            % (got[0], got[1], boot_timeout))
        board.t.exit_raw_repl()
        board.write(b"\x04")  # soft reboot in the friendly REPL: main.py runs
        boot = board.read_for(boot_timeout, until=lambda d: crashed(d) or at_prompt(d), quiet=2.0)
        if can_problem(boot):
            raise no_can(can_problem(boot))
        return EXIT_OK
    # The console answers only once the controller runs, after its CAN start-up line (if any) was printed:
    # the status reply closes the window in which that line can appear.
    reply = show_status(board, status_timeout)
    why = can_problem(boot + reply)
    if why:
        raise no_can(why)
    if not reply:
        say("note: without a status reply it is not known whether the CAN controller answers")
    return EXIT_OK


def no_can(why):
    return Fail(EXIT_NO_CAN, "the firmware started, but its CAN controller does not answer (`CAN controller: %s`); "
                             "check the MCP2515 module's wiring and power (docs/wiring.md), then "
                             "`./run python tools/deploy.py selftest --loopback-only`"
                % why)


def at_prompt(data):
    """Since the last (soft or hard) reboot, the friendly REPL's prompt and nothing of the firmware: main.py is
    missing or ended quietly. (A prompt from before the reboot, the answer to leaving the raw REPL, is not it.)"""
    cut = max(data.rfind(b"soft reboot"), data.rfind(b"rst:"))
    if cut < 0:
        return False
    after = data[cut:]
    return after.rstrip().endswith(b">>>") and not BANNER.search(after)


def crashed(data):
    return b"Traceback (most recent call last)" in data and data.rstrip().endswith(b">>>")


def last_error(data):
    lines = [ln.strip() for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
    errs = [ln for ln in lines if re.match(r"^[A-Za-z_.]*(Error|Exception|Interrupt)\b", ln)]
    return errs[-1] if errs else (lines[-2] if len(lines) > 1 else "unknown error")


def show_status(board, timeout=4.0):
    """Sends `status` to the running firmware and shows the reply; returns everything read (b"" if nothing)."""
    def answered(data):
        # a complete line other than the echo of what was typed
        lines = data.replace(b"\r", b"").split(b"\n")[:-1]
        return any(ln.strip() and ln.strip() != b"status" for ln in lines)

    try:
        board.write(b"status\r")
        reply = board.read_for(timeout, until=answered)
        reply += board.read_for(0.3, quiet=0.2)
    except Lost as e:
        say("status: the connection dropped (%s)" % e)
        return b""
    lines = [ln.rstrip() for ln in reply.decode("utf-8", "replace").replace("\r", "").split("\n")]
    lines = [ln for ln in lines if ln.strip() and ln.strip() != "status"]
    if not lines:
        say("status: no reply from the console within %.0f s" % timeout)
        return b""
    say("status:")
    for ln in lines:
        say("  " + ln)
    return reply


# =================================================================================================
# params pull / push
# =================================================================================================

def read_board_params(board, settings):
    """(entries [(id, value)] or None, source path or None) from the board's settings file(s), the way the
    firmware's load() picks them: the main file, else .new, else .bak, the first that is complete."""
    for path in params_paths()[:3]:
        data = board.read_file(path)
        if data is None:
            continue
        entries, why = settings.decode(data)
        if entries is not None:
            return entries, path
        if path != params_paths()[0] and not data:
            continue  # an empty leftover of a save that found no room: the firmware passes over it too
        say("note: %s on the board is %s; skipped" % (path, settings.REASONS.get(why[0], "bad")))
    return None, None


def cmd_params_pull(args):
    global _out
    if args.file == "-":
        _out = sys.stderr  # stdout carries the JSON alone
    params_mod = import_firmware("leafvcu.params", args.firmware)
    settings = import_firmware("leafvcu.settings", args.firmware)
    board = connect(args)
    try:
        info = probe(board, [], dirs=())
        try:
            entries, source = read_board_params(board, settings)
        except Lost as e:
            raise Fail(EXIT_INTERRUPTED, "lost the connection while reading the parameters: %s" % e)
    finally:
        leave(board, args.boot_timeout)
    p = params_mod.Params()
    unknown = {}
    out_of_range = []
    for pid, value in entries or ():
        r = params_mod.row_by_id(pid)
        if r is None:
            unknown[str(pid)] = value
        elif p.set_id(pid, value) is not None:
            out_of_range.append(r[params_mod.P_NAME])
    doc = {
        "leafvcu_params": PARAMS_FORMAT,
        "board": describe(info),
        "firmware": " ".join(str(x) for x in (info.get("installed") or []) if x) or None,
        "source": source,
        "params": dict((r[params_mod.P_NAME], p.get(r[params_mod.P_NAME])) for r in params_mod.TABLE),
    }
    if unknown:
        doc["unknown_ids"] = unknown
    text = json.dumps(doc, indent=1) + "\n"
    if args.file == "-":
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            silence(sys.stdout)
    else:
        with open(args.file, "w", encoding="utf-8") as f:
            f.write(text)
    if source is None:
        say("no saved parameters on the board: %s holds the defaults" % args.file)
    else:
        changed = sum(1 for r in params_mod.TABLE if p.get(r[params_mod.P_NAME]) != r[params_mod.P_DEF])
        say("saved %d parameters (%d differ from the defaults) from %s to %s" % (
            len(params_mod.TABLE), changed, source, args.file))
    if out_of_range:
        say("note: out of range for this firmware, default used: " + ", ".join(out_of_range))
    if unknown:
        say("note: ids this firmware does not know, kept in the file: " + ", ".join(sorted(unknown)))
    return EXIT_OK


PARAMS_FORMAT = 1  # "leafvcu_params" in the files params pull writes
PARAMS_META = ("leafvcu_params", "board", "firmware", "source", "unknown_ids")


def json_kind(value):
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true/false",
            type(None): "null"}.get(type(value), "a %s" % type(value).__name__)


def load_params_file(path, params_mod):
    """Validated {name: int} and {id: int} of unknown ids from a JSON file; Fail(EXIT_INVALID) listing every
    problem otherwise. Nothing here touches a board."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise Fail(EXIT_INVALID, "cannot read %s: %s" % (path, e.strerror or e))
    except ValueError as e:
        raise Fail(EXIT_INVALID, "%s is not valid JSON (%s); nothing was written to the board" % (path, e))
    if not isinstance(doc, dict):
        raise Fail(EXIT_INVALID, "%s: expected a JSON object of parameters; nothing was written to the board" % path)
    fmt = doc.get("leafvcu_params")
    if fmt is not None and (isinstance(fmt, bool) or fmt != PARAMS_FORMAT):
        raise Fail(EXIT_INVALID, "%s is a leafvcu_params %s file; this deploy.py reads format %d (what `params pull` "
                                 "writes); nothing was written to the board" % (path, json.dumps(fmt), PARAMS_FORMAT))
    if "params" in doc:
        values = doc["params"]
        if not isinstance(values, dict):
            raise Fail(EXIT_INVALID, "%s: \"params\" must be a JSON object of name: value pairs, not %s; nothing "
                                     "was written to the board" % (path, json_kind(values)))
    else:
        values = dict((k, v) for k, v in doc.items() if k not in PARAMS_META)  # a bare {name: value} object
    p = params_mod.Params()
    problems = []
    good = {}
    for given, value in values.items():
        name = given.lower()  # as on the console: names are case-insensitive
        if isinstance(value, bool) or not isinstance(value, (int, str, float)):
            problems.append("%s: %s is not a whole number" % (given, json.dumps(value)))
            continue
        if name in good:
            problems.append("%s: given twice (names are case-insensitive)" % given)
            continue
        v, err = p.check(name, value)
        if err:
            problems.append(err if given in err else "%s: %s" % (given, err))
        else:
            good[name] = v
    extra = {}
    for key, value in (doc.get("unknown_ids") or {}).items():
        try:
            pid = int(key)
            if params_mod.row_by_id(pid) is not None:
                problems.append("unknown_ids: %s is a known parameter id" % key)
            elif not isinstance(value, int) or isinstance(value, bool):
                problems.append("unknown_ids: value of %s is not a whole number" % key)
            else:
                extra[pid] = value
        except ValueError:
            problems.append("unknown_ids: %r is not a parameter id" % key)
    if problems:
        for msg in problems:
            print("  " + msg, file=sys.stderr)
        raise Fail(EXIT_INVALID, "%s: %d invalid entr%s (listed above); nothing was written to the board"
                   % (path, len(problems), "y" if len(problems) == 1 else "ies"))
    if not good and not extra:
        raise Fail(EXIT_INVALID, "%s holds no parameters; nothing was written to the board" % path)
    return good, extra


def cmd_params_push(args):
    params_mod = import_firmware("leafvcu.params", args.firmware)
    settings = import_firmware("leafvcu.settings", args.firmware)
    values, extra = load_params_file(args.file, params_mod)  # before any connection
    board = connect(args)
    try:
        probe(board, [], dirs=())
        try:
            entries, source = read_board_params(board, settings)
        except Lost as e:
            raise Fail(EXIT_INTERRUPTED, "lost the connection while reading the parameters: %s" % e)
        p = params_mod.Params()
        kept = {}
        for pid, value in entries or ():
            if params_mod.row_by_id(pid) is None:
                kept[pid] = value
            else:
                p.set_id(pid, value)
        before = dict((r[params_mod.P_NAME], p.get(r[params_mod.P_NAME])) for r in params_mod.TABLE)
        for name, v in values.items():
            err = p.set(name, v)
            if err:  # cannot happen after validation; refuse rather than write half
                raise Fail(EXIT_INVALID, err)
        kept.update(extra)
        data = settings.encode(p, sorted(kept.items()))
        changed = [n for n in before if before[n] != p.get(n)]
        main = params_paths()[0]
        new = params_paths()[1]
        try:
            board.write_file(new, data)
            back = board.read_file(new)
            if back != data:
                raise Fail(EXIT_INTERRUPTED, "the parameter file reads back different on the board; the old "
                                             "parameters are unchanged")
            board.run("import os\ntry:\n os.rename(%r,%r)\nexcept OSError:\n try:\n  os.remove(%r)\n"
                      " except OSError:\n  pass\n os.rename(%r,%r)\n" % (new, main, main, new, main))
        except Lost as e:
            raise Fail(EXIT_INTERRUPTED, "connection lost while writing the parameters (%s); the board keeps "
                                         "the old ones (or completes the new file at its next boot)" % e)
        except BoardError as e:
            try:  # no half-written file may stay behind: the firmware would try it at its next boot
                board.run("import os\ntry:\n os.remove(%r)\nexcept OSError:\n pass\n" % new)
            except (BoardError, Lost):
                pass
            if e.enospc:
                raise Fail(EXIT_FS_FULL, "filesystem full: no room for the parameter file (%d bytes); nothing was "
                                         "written, the old parameters are unchanged" % len(data))
            raise Fail(EXIT_FAIL, "writing the parameters failed on the board: %s; the old parameters are "
                                  "unchanged" % e)
        say("wrote %d parameters to %s (%d changed: %s)" % (len(params_mod.TABLE), main, len(changed),
                                                           ", ".join(changed) if changed else "none"))
        say("restarting the controller with them")
    finally:
        leave(board, args.boot_timeout)
    return EXIT_OK


def restart_controller(board, timeout=BOOT_TIMEOUT):
    """Leaves the raw REPL with a soft reboot: boot.py and main.py run, so the controller that connecting
    stopped runs again, as it would after power-up. Says so; returns what the board printed while starting
    (b"" when the connection is gone)."""
    if board.lost or board.restarted:
        return b""
    board.restarted = True
    try:
        board.t.exit_raw_repl()
        board.write(b"\x04")
        boot = board.read_for(timeout, until=lambda d: BANNER.search(d) or crashed(d) or b"safe mode" in d
                              or at_prompt(d))
        boot += board.read_for(0.5, quiet=0.3)
    except (Lost, board.TransportError, board._serial_mod.SerialException, OSError) as e:
        board.lost = True
        say("could not restart the controller: the connection dropped (%s); reset the board" % e)
        return b""
    m = BANNER.search(boot)
    if m and not crashed(boot):
        say("controller restarted: leafvcu %s build %s" % (m.group(1).decode(), m.group(2).decode()))
    elif b"safe mode" in boot:
        say("board restarted in safe mode (brake held): the controller is not running")
    elif crashed(boot):
        say("board restarted, but the firmware stopped: %s" % last_error(boot))
    elif at_prompt(boot):
        say("board restarted: no controller runs (no main.py: the board is at the REPL, as it was)")
    else:
        say("board restarted (soft reboot); the firmware printed no start line within %.0f s" % timeout)
    note_can_problem(boot)
    return boot


def can_problem(text):
    """The firmware's own report that its CAN controller does not answer (leafvcu.app.run), or None."""
    m = CAN_LINE.search(text)
    return m.group(1).decode("utf-8", "replace").strip() if m else None


def note_can_problem(text):
    why = can_problem(text)
    if why:
        say("warning: the firmware reports `CAN controller: %s`: it cannot reach the MCP2515 (check its wiring "
            "and power; `./run python tools/deploy.py selftest --loopback-only`)" % why)


def leave(board, timeout=BOOT_TIMEOUT):
    """Every command's last step on its way out, whichever way it ends: the controller runs again."""
    try:
        restart_controller(board, timeout)
    finally:
        board.close()


# =================================================================================================
# selftest
# =================================================================================================

_RUN_TEST = board_script("run_test")  # tools/board_scripts/run_test.py

_LOOPBACK = board_script("loopback")  # tools/board_scripts/loopback.py
_WIFI = board_script("wifi")  # tools/board_scripts/wifi.py


def wifi_report(board):
    """The dashboard's state in a few lines (never its password: that is the console's `wifi`). Reports only:
    Wi-Fi off is the default and no failure."""
    try:
        res = board.run_json(board_code(_WIFI), timeout=30)
    except (BoardError, Lost) as e:
        say("dashboard: could not look (%s)" % e)
        return
    say("dashboard (docs/dashboard.md):")
    if not res.get("radio"):
        say("  no radio on this board (no `network` module): no access point")
        return
    say("  microdot %s, the page %s" % ("installed" if res.get("microdot") else "NOT installed",
                                        "installed" if res.get("page") else "NOT installed")
        + ("" if res.get("microdot") and res.get("page") else " (deploy.py --dashboard puts them there)"))
    if res.get("wifi") == 1:
        say("  Wi-Fi: on (saved wifi 1): the access point starts with the key off%s" % (
            "; its password is on the board (console: wifi)" if res.get("key") else "; its password is drawn then"))
    else:
        say("  Wi-Fi: off (saved wifi 0, the default; console: set wifi 1, save)")
    say("  access point now: %s" % ("up, network %s" % res.get("ssid") if res.get("active") else "down"))


# Slow enough that the bus, not the board's loop, sets the time: a frame takes 11 ms at 10 kbit/s (5.5 ms with a
# 16 MHz crystal taken for 8), while a send + receive on the board takes well under a millisecond (on the virtual
# board up to ~5 ms on a loaded host, which at 20 kbit/s made a 16 MHz crystal look right). 10 kbit/s is possible
# with every crystal from 8 to 20 MHz (25 TQ per bit).
LOOPBACK_RATE = 10000
LOOPBACK_FRAMES = 6
FRAME_BITS = 111  # 8-byte standard frame incl. interframe space, before bit stuffing (a few % more here)

_GCPAUSE = board_script("gcpause")  # tools/board_scripts/gcpause.py
GC_ROUNDS = 5


def cmd_selftest(args):
    tests = [] if args.loopback_only else select_tests(args.tests)
    board = connect(args)
    failed = False
    try:
        info = probe(board, [])
        say("found: %s" % describe(info))
        check_micropython(info, args.source)
        manifest = (info.get("manifest") or {})
        if not info.get("installed"):
            raise Fail(EXIT_SELFTEST, "no leafvcu firmware on the board: deploy first (./run python tools/deploy.py)")
        say("firmware on the board: leafvcu %s build %s" % (info["installed"][0], manifest.get("build") or
                                                             info["installed"][1] or "?"))
        if tests:
            ensure_unittest(board, args)
            sync_dir(board, selftest_items(tests, args.source), SELFTEST_DIR)
        t0 = time.monotonic()
        total = [0, 0, 0]
        for mod in tests:
            board.enter(soft_reset=True)  # a fresh interpreter for each file, as the MicroPython lane does
            code = board_code(_RUN_TEST, tests=SELFTEST_DIR + "/tests", lib=SELFTEST_DIR + "/lib", module=mod)
            try:
                out = board.run(code, timeout=args.test_timeout)
                res = None
                for line in out.decode("utf-8", "replace").splitlines():
                    if line.startswith("@@"):
                        res = json.loads(line[2:])
                if res is None:
                    raise BoardError(out.decode("utf-8", "replace"))
            except BoardError as e:
                res = [0, 1, 0]
                out = e.text.encode()
            except Lost as e:
                raise Fail(EXIT_INTERRUPTED, "lost the connection during %s: %s" % (mod, e))
            for i in range(3):
                total[i] += res[i]
            mark = "FAIL" if res[1] else "ok  "
            say("%s %s: %d passed, %d failed, %d skipped" % (mark, mod, res[0], res[1], res[2]))
            if res[1] or args.verbose:
                for ln in out.decode("utf-8", "replace").splitlines():
                    if not ln.startswith("@@"):
                        say("    " + ln)
        if tests:
            say("tests on the board: %d passed, %d failed, %d skipped (%.1f s)" % (
                total[0], total[1], total[2], time.monotonic() - t0))
        failed = total[1] > 0
        if not args.no_loopback:
            board.enter(soft_reset=True)
            failed = not loopback_check(board) or failed
            board.enter(soft_reset=True)
            failed = not gc_check(board) or failed
        if not args.loopback_only:
            board.enter(soft_reset=True)
            wifi_report(board)
        if tests and not args.keep:
            board.enter(soft_reset=True)
            cleanup_dir(board, SELFTEST_DIR)
    finally:
        leave(board, args.boot_timeout)
    if failed:
        raise Fail(EXIT_SELFTEST, "self-test failed (see above)")
    say("self-test passed")
    return EXIT_OK


def select_tests(names):
    avail = sorted(n[:-3] for n in os.listdir(TESTS_CROSS) if n.startswith("test_") and n.endswith(".py"))
    if not names:
        return avail
    out = []
    for name in names:
        mod = os.path.basename(name)
        mod = mod[:-3] if mod.endswith(".py") else mod
        match = [a for a in avail if a == mod] or [a for a in avail if mod in a]
        if not match:
            raise Fail(EXIT_USAGE, "no test matches %r (tests/cross has: %s)" % (name, ", ".join(avail)))
        out.extend(m for m in match if m not in out)
    return out


def selftest_items(tests, source):
    """The selected test modules, the helper modules beside them (rigs) and tools/fakes, for /selftest."""
    items = []
    with tempfile.TemporaryDirectory(prefix="leafvcu-selftest-") as tmp:
        def add(host, board_path):
            if source:
                with open(host, "rb") as f:
                    items.append(Item(board_path, f.read(), host))
                return
            out = os.path.join(tmp, "x.mpy")
            cmd = mpy_cross_command() + ["-o", out, "-s", os.path.basename(host), host]
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            if run.returncode != 0:
                raise Fail(EXIT_BUILD, "mpy-cross failed on %s: %s" % (host, run.stderr.strip()))
            with open(out, "rb") as f:
                items.append(Item(board_path[:-3] + ".mpy", f.read(), host))

        for name in sorted(os.listdir(TESTS_CROSS)):
            if name.endswith(".py") and (not name.startswith("test_") or name[:-3] in tests):
                add(os.path.join(TESTS_CROSS, name), "/tests/" + name)
        for name in sorted(os.listdir(FAKES)):
            if name.endswith(".py"):
                add(os.path.join(FAKES, name), "/lib/fakes/" + name)
    return items


def sync_dir(board, items, base):
    """Copies items under base, only those whose hash differs (a scratch area: no staging)."""
    info = probe(board, [base + it.path for it in items], dirs=())
    todo = [it for it in items if info["files"].get(base + it.path) != it.sha]
    if not todo:
        say("test files already on the board (%d)" % len(items))
        return
    dirs = sorted(set((base + it.path).rsplit("/", 1)[0] for it in todo))
    total = sum(len(it.data) for it in todo)
    say("copying %d test file%s (%s) to %s" % (len(todo), "" if len(todo) == 1 else "s", kb(total), base))
    try:
        board.run("import os\nfor _d in %r:\n p=''\n for x in _d.split('/')[1:]:\n  p+='/'+x\n  try:\n"
                  "   os.mkdir(p)\n  except OSError:\n   pass\n" % dirs)
        progress = Progress(total, len(todo))
        for n, it in enumerate(todo, 1):
            progress.start(n, it)
            board.write_file(base + it.path, it.data, progress.advance)
            if progress.tty:
                progress.finish_file("ok")
    except Lost as e:
        raise Fail(EXIT_INTERRUPTED, "copy interrupted: %s" % e)
    except BoardError as e:
        if e.enospc:
            cleanup_dir(board, base)
            raise Fail(EXIT_FS_FULL, "filesystem full: no room for the test files (%s); removed them again" % kb(total))
        raise Fail(EXIT_FAIL, "copying the test files failed: %s" % e)


def cleanup_dir(board, base):
    try:
        board.run("import os\ndef _rt(d):\n try:\n  it=list(os.ilistdir(d))\n except OSError:\n  return\n"
                  " for e in it:\n  p=d+'/'+e[0]\n  if e[1]&0x4000:\n   _rt(p)\n  else:\n   os.remove(p)\n"
                  " os.rmdir(d)\n_rt(%r)\n" % base)
    except (BoardError, Lost):
        pass


def ensure_unittest(board, args):
    try:
        board.run("import unittest\n")
        return
    except BoardError:
        pass
    say("unittest is not on the board: installing it from micropython-lib (mpremote mip install unittest)")
    board.close()
    mpremote = [os.path.join(os.path.dirname(sys.executable), "mpremote")]
    if not os.path.exists(mpremote[0]):
        mpremote = [sys.executable, "-m", "mpremote"]
    try:
        run = subprocess.run(mpremote + ["connect", board.port, "mip", "install", "unittest"], capture_output=True,
                             text=True, timeout=300)
        ok = run.returncode == 0
        why = (run.stdout + run.stderr).strip().splitlines()[-1:] if not ok else []
    except (OSError, subprocess.TimeoutExpired) as e:
        ok, why = False, [str(e)]
    if not ok:
        raise Fail(EXIT_SELFTEST, "unittest is missing on the board and could not be installed (%s): run "
                                  "`mpremote mip install unittest` while online" % (why[0] if why else "mip failed"))
    board.__init__(board.port, connect_timeout=board.connect_timeout)
    board.enter()


def loopback_check(board):
    """The MCP2515 in loopback mode through board.py's pins: proves the SPI wiring, INT and the crystal setting."""
    say("MCP2515 loopback check (board.py's pins, %d bit/s):" % LOOPBACK_RATE)
    try:
        res = board.run_json(board_code(_LOOPBACK, rate=LOOPBACK_RATE, frames=LOOPBACK_FRAMES), timeout=30)
    except (BoardError, Lost) as e:
        say("  FAIL the check could not run: %s" % e)
        return False
    if res.get("devices"):
        say("  devices the saved parameters choose: %s" % res["devices"])
    if not res.get("ok"):
        say("  FAIL %s" % res.get("error", "unknown error"))
        return False
    ok = True
    say("  %s SPI: the chip answers and entered loopback mode" % ("ok  " if res.get("mode") == 0x40 else "FAIL"))
    ok = ok and res.get("mode") == 0x40
    if res.get("echo"):
        say("  ok   a frame went out and came back unchanged (MOSI, MISO, SCK, CS wired right)")
    else:
        ok = False
        say("  FAIL the frame did not come back (got id %s): check MISO/MOSI" % res.get("echo_id"))
    if res.get("int"):
        say("  ok   INT goes low for a received frame")
    else:
        ok = False
        say("  FAIL INT never went low: check the wire from the MCP2515's INT pin to the board's INT input")
    us = res.get("us")
    crystal = res.get("crystal") or 8000000
    expect = LOOPBACK_FRAMES * FRAME_BITS * 1000000.0 / LOOPBACK_RATE
    if not us:
        ok = False
        say("  FAIL frames did not complete in time: the crystal setting is far off or the chip is not clocked")
    else:
        ratio = us / expect
        if 0.75 <= ratio <= 1.6:
            say("  ok   %d frames took %.1f ms (%.1f ms expected): the crystal is %d MHz as canxtal says" % (
                LOOPBACK_FRAMES, us / 1000.0, expect / 1000.0, crystal // 1000000))
        else:
            actual = crystal / ratio
            guess = min((4e6, 8e6, 10e6, 12e6, 16e6, 20e6, 25e6), key=lambda c: abs(c - actual))
            ok = False
            say("  FAIL %d frames took %.1f ms, %.1f ms expected: the chip's crystal looks like %d MHz, canxtal "
                "says %d MHz; the CAN bit rate would be wrong. Fix: on the console `set canxtal %d` then `save` "
                "(or `./run python tools/deploy.py params push` a file with {\"params\": {\"canxtal\": %d}})" % (
                    LOOPBACK_FRAMES, us / 1000.0, expect / 1000.0, guess // 1e6, crystal // 1000000,
                    guess // 1e6, guess // 1e6))
    return ok


def gc_verdict(worst_us, slot_us, gap_us, budget_us):
    """(ok, text): what a collection of worst_us in the slot after the +0 ms batch does to the frames
    (leafvcu/collector.py: the gap to the +5 ms job, to the next +0 ms batch, the lateness accepted)."""
    if worst_us <= slot_us:
        return True, "fits the %.1f ms before the +5 ms job: no frame late" % (slot_us / 1000.0)
    late5 = worst_us - slot_us
    late0 = worst_us - gap_us
    text = "1F2 / 1DC up to %.1f ms late at each collection" % (late5 / 1000.0)
    if late0 > 0:
        text += ", 11A / 1D4 up to %.1f ms" % (late0 / 1000.0)
    if late5 <= budget_us:
        return True, text + " (within the %.0f ms real VCMs show)" % (budget_us / 1000.0)
    return False, text + ": more than the %.0f ms real VCMs show; the schedule cannot afford it" % (
        budget_us / 1000.0)


def gc_check(board):
    """A garbage collection of the controller's heap on this board, timed, against what the schedule affords."""
    say("garbage collection (the controller's heap, built but not started; docs/pauses.md):")
    try:
        res = board.run_json(board_code(_GCPAUSE, rounds=GC_ROUNDS), timeout=60)
    except (BoardError, Lost) as e:
        say("  FAIL the check could not run: %s" % e)
        return False
    if not res.get("ok"):
        say("  FAIL %s" % res.get("error", "unknown error"))
        return False
    times = res.get("collect_us") or [0]
    worst = max(times)
    say("  heap %s, %s live; gc.mem_alloc() (the slot's check every 100 ms) %.2f ms" % (
        kb(res.get("heap", 0)), kb(res.get("live", 0)), res.get("mem_alloc_us", 0) / 1000.0))
    ok, text = gc_verdict(worst, res["slot_us"], res["gap_us"], res["late_budget_us"])
    took = "a collection took %.1f ms at worst (%s)" % (worst / 1000.0, ", ".join("%.1f" % (t / 1000.0) for t in times))
    if res.get("platform") != "esp32":
        # The virtual board (MicroPython in WebAssembly, ticks in whole ms): its figure says nothing of an ESP32.
        say("  note %s on %s, not an ESP32: not judged" % (took, res.get("platform")))
        return True
    say("  %s %s: %s" % ("ok  " if ok else "FAIL", took, text))
    return ok


# =================================================================================================
# mip package metadata
# =================================================================================================

PACKAGE_JSON = os.path.join(FIRMWARE, "package.json")


def package_json(firmware_dir=FIRMWARE):
    """firmware/package.json for `mpremote mip install github:OWNER/REPO/firmware/package.json`: every file of
    firmware/lib (mip puts them under the board's /lib), URLs relative to the package file."""
    urls = []
    for py_path, _ in firmware_sources(firmware_dir):
        if py_path.startswith("/lib/") and py_path != "/" + BUILD_MODULE:
            urls.append([py_path[len("/lib/"):], py_path.lstrip("/")])
    rows = ",\n".join("    " + json.dumps(u) for u in urls)
    return '{\n  "urls": [\n%s\n  ],\n  "deps": [],\n  "version": %s\n}\n' % (
        rows, json.dumps(firmware_version(firmware_dir)))


def cmd_package(args):
    text = package_json(args.firmware)
    path = os.path.join(args.firmware, "package.json")
    try:
        with open(path, encoding="utf-8") as f:
            current = f.read()
    except OSError:
        current = None
    if args.check:
        if current != text:
            raise Fail(EXIT_FAIL, "%s is out of date: run ./run python tools/deploy.py package"
                       % os.path.relpath(path, REPO))
        say("%s is up to date" % os.path.relpath(path, REPO))
        return EXIT_OK
    if current != text:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    say("wrote %s (%d files)" % (os.path.relpath(path, REPO), len(json.loads(text)["urls"])))
    return EXIT_OK


# =================================================================================================
# command line
# =================================================================================================

# =================================================================================================
# recorder pull: the flight recorder's recordings (firmware/lib/leafvcu/recorder.py) to the laptop
# =================================================================================================

RECORDINGS_DIR = os.path.join(REPO, "out", "recordings")
REC_SLOTS = 10      # /rec0.bin .. : more than the firmware keeps (recorder.SLOTS), so a future firmware's are seen
REC_PIECE = 12288   # raw bytes per exec while reading a recording (16 KB of base64)


def board_recordings(board):
    """[(path, size)] of the recordings on the board's flash."""
    code = ("import os\nr=[]\nfor k in range(%d):\n p='/rec%%d.bin'%%k\n try:\n  r.append([p,os.stat(p)[6]])\n"
            " except OSError:\n  pass\nimport json\nprint('@@'+json.dumps(r))\n" % REC_SLOTS)
    return [tuple(x) for x in board.run_json(code)]


def read_in_pieces(board, path, size):
    """A file's bytes, read in REC_PIECE pieces (a recording is 128 KB: no board-side copy of it whole)."""
    out = b""
    while len(out) < size:
        code = ("import binascii\nf=open(%r,'rb')\nf.seek(%d)\nprint('@@\"'+binascii.b2a_base64(f.read(%d))"
                ".decode().strip()+'\"')\nf.close()\n" % (path, len(out), REC_PIECE))
        piece = base64.b64decode(board.run_json(code))
        if not piece:
            break
        out += piece
    return out


def cmd_recorder_pull(args):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import_firmware("leafvcu.recorder", args.firmware)
    import recording

    outdir = args.dir or RECORDINGS_DIR
    board = connect(args)
    pulled = []
    try:
        try:
            for path, size in board_recordings(board):
                say("reading %s (%s)" % (path, kb(size)))
                pulled.append((path, read_in_pieces(board, path, size)))
        except Lost as e:
            raise Fail(EXIT_INTERRUPTED, "lost the connection while reading the recordings: %s" % e)
    finally:
        leave(board, args.boot_timeout)
    if not pulled:
        say("no recordings on the board (the recorder writes one after a fault, once every HV relay is open)")
        return EXIT_OK
    bad = 0
    for path, data in pulled:
        try:
            rec = recording.Recording(data, path)
        except recording.BadRecording as e:
            say("skipped: %s" % e)
            bad += 1
            continue
        written = recording.export(rec, outdir)
        say(recording.describe(rec))
        say("  -> " + ", ".join(written))
    return EXIT_FAIL if bad and bad == len(pulled) else EXIT_OK


def cmd_ports(args):
    ports, bridge = candidate_ports()
    if not ports:
        say("no USB serial ports (plug the board in; a charge-only cable shows nothing)")
        return EXIT_NO_BOARD
    for p in ports:
        say("%-16s %04x:%04x  %s%s" % (p.device, p.vid, p.pid, p.description,
                                      "  <- %s" % bridge(p) if bridge(p) else ""))
    return EXIT_OK


def build_parser():
    def common(p, top):
        # Options accepted before or after the subcommand; a subcommand's copy must not reset the value
        # given before it, hence SUPPRESS there.
        d = (lambda v: v) if top else (lambda v: argparse.SUPPRESS)
        p.add_argument("--port", "-p", default=d(None), help="serial port or URL (default: find the board)")
        p.add_argument("--firmware", default=d(FIRMWARE), help=argparse.SUPPRESS)
        p.add_argument("--connect-timeout", type=float, default=d(10.0), help=argparse.SUPPRESS)
        p.add_argument("--boot-timeout", type=float, default=d(BOOT_TIMEOUT),
                       help="seconds to wait for the firmware's start line after a reset (default %.0f)" % BOOT_TIMEOUT)
        p.add_argument("--source", action="store_true", default=d(False),
                       help="copy .py files instead of compiled .mpy")

    parser = argparse.ArgumentParser(prog="deploy.py", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common(parser, True)
    parser.add_argument("--dry-run", "-n", action="store_true", help="list what would change, change nothing")
    parser.add_argument("--reset-params", action="store_true", help="also delete the saved parameters")
    parser.add_argument("--dashboard", action="store_true",
                        help="also put the Wi-Fi dashboard on the board: microdot (from .venv) and the page "
                             "(docs/dashboard.md); Wi-Fi stays off until the console turns it on")
    parser.add_argument("--remove-shadows", action="store_true",
                        help="delete what shadows the firmware at the filesystem root (deploy names it)")
    parser.add_argument("--no-reset", action="store_true",
                        help="do not reset the board afterwards: it stays at the REPL, the controller stopped")
    parser.add_argument("--status-timeout", type=float, default=4.0, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command")
    pp = sub.add_parser("params", help="back up / restore the saved parameters as JSON")
    common(pp, False)
    pp.add_argument("action", choices=("pull", "push"))
    pp.add_argument("file", help="JSON file ('-' for stdout with pull)")
    st = sub.add_parser("selftest", help="run tests/cross and an MCP2515 loopback check on the board")
    common(st, False)
    st.add_argument("tests", nargs="*", help="test modules (default: all of tests/cross)")
    st.add_argument("--keep", action="store_true", help="leave the test files on the board")
    st.add_argument("--no-loopback", action="store_true", help="skip the MCP2515 and garbage-collection checks")
    st.add_argument("--loopback-only", action="store_true", help="only the MCP2515 and garbage-collection checks")
    st.add_argument("--test-timeout", type=float, default=300.0, help=argparse.SUPPRESS)
    st.add_argument("-v", "--verbose", action="store_true", help="show every test's output")
    pl = sub.add_parser("ports", help="list the serial ports that could be a board")
    common(pl, False)
    rc = sub.add_parser("recorder", help="fetch the flight recorder's recordings (candump -L, CSV, PNG)")
    common(rc, False)
    rc.add_argument("action", choices=("pull",))
    rc.add_argument("dir", nargs="?", default=None, help="where to write them (default out/recordings)")
    pk = sub.add_parser("package", help="write firmware/package.json (mip's metadata) from firmware/lib")
    common(pk, False)
    pk.add_argument("--check", action="store_true", help="only check that it is up to date")
    return parser


def main(argv=None):
    global _out
    _out = None
    args = build_parser().parse_args(argv)
    try:
        if args.command == "params":
            return cmd_params_pull(args) if args.action == "pull" else cmd_params_push(args)
        if args.command == "selftest":
            return cmd_selftest(args)
        if args.command == "ports":
            return cmd_ports(args)
        if args.command == "recorder":
            return cmd_recorder_pull(args)
        if args.command == "package":
            return cmd_package(args)
        return cmd_deploy(args)
    except Fail as e:
        Progress.end_line()
        print("deploy: " + e.message, file=sys.stderr, flush=True)
        return e.code
    except KeyboardInterrupt:
        Progress.end_line()
        print("deploy: interrupted (Ctrl-C). If files were being copied, the board still has its previous "
              "firmware; run deploy again", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
