// The MicroPython lane: runs the cross-interpreter tests (tests/cross/test_*.py) under real
// MicroPython (the npm WebAssembly build, v1.27) in Node.
//
//   node tools/mpy_lane.mjs [-v] [tests/cross/test_x.py ...]
//
// Each test file runs in its own interpreter in a child process, so a crash, a runaway loop or a
// leaked global in one file cannot take the others with it, and a hang is cut off by a timeout.
// The interpreter's filesystem gets what the board would have in /lib (firmware/lib), the host
// models the tests need (tools/fakes -> /lib/fakes) and the tests themselves (/tests).
// The unittest runner is micropython-lib's `unittest`, which this build carries frozen: that is the
// route chosen because the `micropython-unittest` package on PyPI (0.4) cannot be installed by pip.
//
// Prints the failing files' output (all output with -v) and ends with `N passed, N failed`.
//
//   node tools/mpy_lane.mjs --run MODULE.FUNCTION[,MODULE.FUNCTION...]
//
// boots one interpreter with the same filesystem and calls MODULE.FUNCTION() (a module in tests/cross or
// firmware/lib), several in turn with a top-level collection between them; tools/bench.py runs its MicroPython
// measurements this way (tests/cross/hot_rig.py, tests/cross/gc_rig.py).
import { spawn } from "node:child_process";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PER_FILE_TIMEOUT_MS = 300_000;
const HEAP_BYTES = 8 * 1024 * 1024;
const RESULT_TAG = "@@LANE-RESULT ";

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (name === "__pycache__") continue;
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith(".py")) out.push(p);
  }
  return out;
}

// Copies a host folder into the interpreter's filesystem under `target`.
function install(mp, hostDir, target) {
  for (const file of walk(hostDir)) {
    const dest = join(target, relative(hostDir, file));
    let d = "";
    for (const part of dirname(dest).split("/").filter(Boolean)) {
      d += "/" + part;
      try { mp.FS.mkdir(d); } catch { /* exists */ }
    }
    mp.FS.writeFile(dest, readFileSync(file));
  }
}

// A fresh interpreter whose filesystem holds what the board would have in /lib (firmware/lib), the host
// models (tools/fakes -> /lib/fakes) and the cross tests (/tests), with sys.path set to find them.
async function boot() {
  const { loadMicroPython } = await import("@micropython/micropython-webassembly-pyscript");
  const write = (s) => process.stdout.write(s + "\n");
  const mp = await loadMicroPython({ heapsize: HEAP_BYTES, stdout: write, stderr: write, linebuffer: true });
  install(mp, join(REPO, "firmware", "lib"), "/lib");
  install(mp, join(REPO, "tools", "fakes"), "/lib/fakes");
  install(mp, join(REPO, "tests", "cross"), "/tests");
  mp.runPython(`
import sys
sys.path[:] = ["/tests", "/lib", ".frozen"]
`);
  return mp;
}

// --run MODULE.FUNCTION[,MODULE.FUNCTION...]: calls each in turn in one fresh interpreter (an exception fails the
// process), each in its own call into the interpreter with a gc.collect() at its top level between them: this port
// collects only there (a collection inside Python code frees nothing), so a step can read the live heap.
async function runFunction(specs) {
  const mp = await boot();
  (specs || "").split(",").forEach((spec, i) => {
    const m = /^([A-Za-z_][A-Za-z0-9_.]*)\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(spec);
    if (!m) throw new Error("--run needs MODULE.FUNCTION, got " + spec);
    if (i > 0) {
      const t0 = performance.now();
      mp.runPython("import gc\ngc.collect()\n");
      process.stdout.write(`@@LANE collect_us ${((performance.now() - t0) * 1000).toFixed(0)}\n`);
    }
    mp.runPython(`
import ${m[1]}
${m[1]}.${m[2]}()
`);
  });
}

// Runs one test module inside this process and prints a result line for the parent.
async function runOne(testFile) {
  const mp = await boot();
  const module = testFile.replace(/^.*\//, "").replace(/\.py$/, "");
  mp.runPython(`
import unittest
_mod = __import__(${JSON.stringify(module)})
_suite = unittest.TestSuite()
for _name in dir(_mod):
    _obj = getattr(_mod, _name)
    if isinstance(_obj, type) and issubclass(_obj, unittest.TestCase) and _obj is not unittest.TestCase:
        _suite.addTest(_obj)
_res = unittest.TextTestRunner().run(_suite)
_bad = _res.errorsNum + _res.failuresNum
print(${JSON.stringify(RESULT_TAG)} + "%d %d %d" % (_res.testsRun - _bad - _res.skippedNum, _bad, _res.skippedNum))
`);
}

function runChild(file) {
  return new Promise((done) => {
    const started = Date.now();
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--one", file], { cwd: REPO });
    let out = "";
    child.stdout.on("data", (b) => (out += b));
    child.stderr.on("data", (b) => (out += b));
    const timer = setTimeout(() => {
      out += `\n*** ${file}: MicroPython had not finished its tests after ${PER_FILE_TIMEOUT_MS / 1000} s (the per-file ` +
        `limit, PER_FILE_TIMEOUT_MS in tools/mpy_lane.mjs); killed\n`;
      child.kill("SIGKILL");
    }, PER_FILE_TIMEOUT_MS);
    child.on("close", (code) => {
      clearTimeout(timer);
      const line = out.split("\n").find((l) => l.startsWith(RESULT_TAG));
      let [passed, failed, skipped] = line ? line.slice(RESULT_TAG.length).split(" ").map(Number) : [0, 1, 0];
      if (code !== 0 && failed === 0) failed = 1; // the interpreter died after reporting
      done({ file, passed, failed, skipped, seconds: (Date.now() - started) / 1000, out: out.split("\n").filter((l) => !l.startsWith(RESULT_TAG)).join("\n") });
    });
  });
}

async function main(argv) {
  if (argv[0] === "--one") return runOne(argv[1]);
  if (argv[0] === "--run") return runFunction(argv[1]);
  const verbose = argv.includes("-v");
  let files = argv.filter((a) => a !== "-v");
  if (files.length === 0) {
    const dir = join(REPO, "tests", "cross");
    files = readdirSync(dir).filter((n) => /^test_.*\.py$/.test(n)).sort().map((n) => join("tests", "cross", n));
  }
  const queue = [...files];
  const results = [];
  const workers = Array.from({ length: Math.max(1, Math.min(cpus().length, files.length)) }, async () => {
    while (queue.length) {
      const r = await runChild(queue.shift());
      results.push(r);
      const mark = r.failed ? "FAIL" : "ok  ";
      process.stdout.write(`${mark} ${r.file}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped (${r.seconds.toFixed(1)} s)\n`);
      if (r.failed || verbose) process.stdout.write(r.out + "\n");
    }
  });
  await Promise.all(workers);
  const sum = (k) => results.reduce((a, r) => a + r[k], 0);
  process.stdout.write(`micropython: ${sum("passed")} passed, ${sum("failed")} failed, ${sum("skipped")} skipped\n`);
  process.exitCode = sum("failed") || files.length === 0 ? 1 : 0;
}

await main(process.argv.slice(2));
