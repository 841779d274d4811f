// The virtual board: real MicroPython (the npm WebAssembly build, v1.27) behind a serial-like TCP port, so
// that mpremote, tools/deploy.py and the tests talk to it exactly as they would to a TinyPICO on USB.
//
//   node tools/vboard.mjs --dir DIR [--port 0] [--quota BYTES] [--drop-after N] [--garbage]
//                                     [--no-chip] [--crystal HZ] [--log FILE]
//
// Prints `vboard: listening on socket://127.0.0.1:PORT` once it is ready; use that URL as the port
// (`mpremote connect socket://127.0.0.1:PORT`, `tools/deploy.py --port socket://...`). tools/vboard.py
// starts it from Python and can put a pseudo-terminal (/dev/pts/N) in front of it.
//
// What makes it a board and not just an interpreter:
//  - Flash: DIR on the host holds the board's files. At every boot they are loaded into the interpreter's
//    (emscripten, in-memory) filesystem, and every change is written back after each REPL step (and while a
//    long program runs), so files survive resets and power cycles as they would in flash.
//  - Boot: power-on prints an ESP32-like ROM line, then boot.py and main.py run (main.py only when the REPL
//    is in friendly mode, as on a board); Ctrl-D at the friendly prompt or in the raw REPL is a soft reboot
//    ("MPY: soft reboot"), `machine.reset()` a hard one. Each boot is a fresh interpreter in a new worker
//    thread.
//  - REPL: friendly, raw (Ctrl-A) and raw-paste (Ctrl-E "A" Ctrl-A, with flow control) modes, which is what
//    mpremote speaks. The interpreter runs in a worker; the TCP side stays responsive while Python runs, and
//    Ctrl-C interrupts running code (KeyboardInterrupt), like the UART interrupt on a board.
//  - Hardware: a `machine` module (tools/vboard_rom/machine.py over the host models in tools/fakes) with an
//    MCP2515 chip model on the TinyPICO's SPI pins, in ROM (/rom/lib), never on the board's flash.
//  - sys.stdin: Python code that reads stdin (input(), sys.stdin.read, select.poll) gets the bytes from the
//    port, blocking like a UART.
//
// Fault injection (for tests):
//  --quota BYTES      the filesystem holds at most BYTES of file data: writes beyond fail with ENOSPC and
//                     os.statvfs reports the space left (4096-byte blocks)
//  --drop-after N     after N bytes from the host in one connection: the connection is cut and the board loses
//                     power (USB unplugged mid-copy); it powers up again (boots from its flash) at once. One shot.
//  --garbage          no MicroPython: the port answers with an ESP32 ROM bootloader's chatter
//  busy               a second connection while one is open is refused with "port busy" (ser2net style);
//                     tools/vboard.py --pty gives the real lock semantics of a serial device.
//  --no-chip / --crystal HZ   no MCP2515 on the SPI bus / the chip's real crystal (board.py says 8 MHz)
//
// --control: commands on stdin, one JSON object a line: {"cmd":"power_cycle"} {"cmd":"drop_after","n":N}
// {"cmd":"quota","bytes":N} {"cmd":"stop"}, each answered with a JSON line on stdout; the board stops when
// stdin closes (so it never outlives the process that started it, however that ends). Without --control it
// runs until it is interrupted.
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { createServer } from "node:net";
import {
  appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync,
  unlinkSync, writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "..");
const RING = 1 << 20; // input buffer (host -> board), like a (large) UART RX buffer
const HEAP = 4 << 20; // the TinyPICO's PSRAM build gives MicroPython a few MB of heap
const PASTE_WINDOW = 256; // raw-paste flow-control window, as on the ESP32 port
const ROM_DIRS = new Set(["/rom", "/tmp", "/home", "/dev", "/proc"]); // not the board's flash

// control words in the shared buffer
const C_W = 0; // bytes written by the main thread (counter, wraps)
const C_R = 1; // bytes taken by the worker
const C_QUOTA = 2; // filesystem quota in bytes, 0 = none

function parseArgs(argv) {
  const o = { dir: null, port: 0, quota: 0, dropAfter: 0, garbage: false, chip: true, crystal: 8000000, log: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    if (a === "--dir") o.dir = resolve(v());
    else if (a === "--port") o.port = Number(v());
    else if (a === "--quota") o.quota = Number(v());
    else if (a === "--drop-after") o.dropAfter = Number(v());
    else if (a === "--garbage") o.garbage = true;
    else if (a === "--no-chip") o.chip = false;
    else if (a === "--crystal") o.crystal = Number(v());
    else if (a === "--log") o.log = resolve(v());
    else if (a === "--control") o.control = true;
    else throw new Error("unknown argument " + a);
  }
  if (!o.dir) throw new Error("--dir DIR is required (the board's flash)");
  return o;
}

// ------------------------------------------------------------------------------------------------------
// main thread: the "USB-serial bridge": TCP <-> worker, power, faults
// ------------------------------------------------------------------------------------------------------
function mainThread() {
  const opt = parseArgs(process.argv.slice(2));
  mkdirSync(opt.dir, { recursive: true });
  const sab = new SharedArrayBuffer(16 + RING);
  const ctrl = new Int32Array(sab, 0, 4);
  const ring = new Uint8Array(sab, 16, RING);
  Atomics.store(ctrl, C_QUOTA, opt.quota | 0);
  let client = null;
  let worker = null;
  let nextBoot = { kind: "power", mode: "friendly" };
  let rtc = null; // RTC memory: survives soft and hard resets, not a power cycle
  let received = 0;
  let dropAfter = opt.dropAfter;
  let stopping = false;

  const log = (buf) => { if (opt.log) appendFileSync(opt.log, buf); };
  const toHost = (buf) => {
    log(buf);
    if (client && !client.destroyed) client.write(buf);
  };

  function startWorker() {
    const boot = nextBoot;
    nextBoot = { kind: "power", mode: "friendly" }; // an unexpected exit is a crash: power-on boot
    if (boot.kind === "power") rtc = null;
    worker = new Worker(fileURLToPath(import.meta.url), {
      workerData: { sab, dir: opt.dir, boot, rtc, chip: opt.chip, crystal: opt.crystal },
    });
    const w = worker;
    w.on("message", (m) => {
      if (w !== worker) return; // output of a board that has lost power
      if (m.t === "out") toHost(Buffer.from(m.data));
      else if (m.t === "reboot") nextBoot = { kind: m.kind, mode: m.mode };
      else if (m.t === "rtc") rtc = m.data;
      else if (m.t === "boot") process.stdout.write(JSON.stringify({ event: "boot", kind: m.kind }) + "\n");
    });
    w.on("error", (e) => { process.stderr.write("vboard: worker error: " + (e && e.stack || e) + "\n"); });
    w.on("exit", (code) => {
      if (w !== worker || stopping) return;
      worker = null;
      // A reboot restarts at once; a crash of the virtual board itself (a bug here, not in the firmware)
      // is retried after a second so it cannot spin.
      if (code === 0) setImmediate(startWorker);
      else setTimeout(startWorker, 1000);
    });
  }

  function powerCycle() {
    // Power loss: the interpreter stops wherever it is (no final filesystem sync), input is lost.
    const w = worker;
    worker = null;
    nextBoot = { kind: "power", mode: "friendly" };
    Atomics.store(ctrl, C_R, Atomics.load(ctrl, C_W));
    if (w) w.terminate().then(() => setTimeout(startWorker, 50));
    else startWorker();
  }

  function feed(buf) {
    let w = Atomics.load(ctrl, C_W);
    const r = Atomics.load(ctrl, C_R);
    for (const b of buf) {
      if (((w - r) | 0) >= RING) break; // overflow: the rest is lost, as on a UART
      ring[(w >>> 0) % RING] = b;
      w = (w + 1) | 0;
    }
    Atomics.store(ctrl, C_W, w);
    Atomics.notify(ctrl, C_W);
  }

  const server = createServer((sock) => {
    if (client && !client.destroyed) {
      sock.end("vboard: port busy (another connection holds it)\r\n");
      return;
    }
    client = sock;
    received = 0;
    sock.setNoDelay(true);
    if (opt.garbage) sock.write(GARBAGE_BOOT);
    sock.on("data", (buf) => {
      if (opt.garbage) {
        sock.write(Buffer.from("\x00\xff" + "invalid header: 0x" + buf.length.toString(16) + "\r\n", "latin1"));
        return;
      }
      if (dropAfter > 0 && received + buf.length >= dropAfter) {
        feed(buf.subarray(0, dropAfter - received));
        received = dropAfter;
        dropAfter = 0;
        process.stdout.write(JSON.stringify({ event: "dropped", bytes: received }) + "\n");
        sock.destroy();
        client = null;
        powerCycle();
        return;
      }
      received += buf.length;
      feed(buf);
    });
    sock.on("close", () => { if (client === sock) client = null; });
    sock.on("error", () => {});
  });
  server.listen(opt.port, "127.0.0.1", () => {
    const port = server.address().port;
    process.stdout.write(`vboard: listening on socket://127.0.0.1:${port}\n`);
  });

  if (opt.control) createInterface({ input: process.stdin }).on("line", (line) => {
    let m;
    try { m = JSON.parse(line); } catch { return; }
    if (m.cmd === "power_cycle") powerCycle();
    else if (m.cmd === "drop_after") dropAfter = m.n | 0;
    else if (m.cmd === "quota") Atomics.store(ctrl, C_QUOTA, m.bytes | 0);
    else if (m.cmd === "stop") { stopping = true; if (worker) worker.terminate(); server.close(); process.exit(0); }
    process.stdout.write(JSON.stringify({ ok: m.cmd }) + "\n");
  }).on("close", () => { stopping = true; if (worker) worker.terminate(); server.close(); process.exit(0); });

  if (!opt.garbage) startWorker();
}

const GARBAGE_BOOT = Buffer.from(
  "ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\n" +
  "waiting for download\r\n", "latin1");

// ------------------------------------------------------------------------------------------------------
// worker: one boot of the board = one interpreter
// ------------------------------------------------------------------------------------------------------
async function workerThread() {
  const { sab, dir, boot, chip, crystal } = workerData;
  const ctrl = new Int32Array(sab, 0, 4);
  const ring = new Uint8Array(sab, 16, RING);
  const inq = []; // bytes taken from the ring, not yet consumed
  let out = [];
  let lastFlush = 0;
  let dropOK = 0; // raw-paste: the "OK" that the plain raw REPL prints is not part of that protocol
  let outTap = null; // collects output of one REPL step (mode tracking)

  const realNow = Date.now.bind(Date);
  const flush = () => {
    if (out.length) {
      parentPort.postMessage({ t: "out", data: Uint8Array.from(out) });
      out = [];
    }
    lastFlush = realNow();
  };
  const emit = (bytes) => {
    for (const b of bytes) {
      if (dropOK > 0) {
        if (b === (dropOK === 2 ? 0x4f : 0x4b)) { dropOK--; continue; }
        dropOK = 0;
      }
      out.push(b);
      if (outTap) outTap.push(b);
    }
    if (out.length > 4096) flush();
  };
  const emitStr = (s) => emit(Buffer.from(s, "latin1"));

  function drain() {
    const w = Atomics.load(ctrl, C_W);
    let r = Atomics.load(ctrl, C_R);
    while (r !== w) {
      inq.push(ring[(r >>> 0) % RING]);
      r = (r + 1) | 0;
    }
    Atomics.store(ctrl, C_R, r);
  }
  function waitInput(ms) {
    drain();
    if (inq.length) return true;
    flush();
    Atomics.wait(ctrl, C_W, Atomics.load(ctrl, C_W), ms);
    drain();
    return inq.length > 0;
  }
  function readByte() {
    while (!waitInput(1000)) { /* idle */ }
    return inq.shift();
  }

  const { loadMicroPython } = await import("@micropython/micropython-webassembly-pyscript");
  const mp = await loadMicroPython({
    heapsize: HEAP, linebuffer: false,
    stdout: (b) => emit(b), stderr: (b) => emit(b),
    stdin: () => null,
  });
  const M = mp._module;
  const FS = mp.FS;

  // --- flash: load from the host dir, write changes back -------------------------------------------------
  let snapshot = new Map(); // path -> Buffer as last synced
  let dirty = false;
  let lastSync = 0;
  function hostPath(p) { return join(dir, p); }
  function loadFlash(hostDir, boardDir) {
    for (const name of readdirSync(hostDir).sort()) {
      if (name.startsWith(".vboard-tmp")) continue;
      const hp = join(hostDir, name);
      const bp = (boardDir === "/" ? "" : boardDir) + "/" + name;
      if (statSync(hp).isDirectory()) {
        try { FS.mkdir(bp); } catch { /* exists (e.g. /tmp) */ }
        snapshot.set(bp + "/", null);
        loadFlash(hp, bp);
      } else {
        const data = readFileSync(hp);
        FS.writeFile(bp, data);
        snapshot.set(bp, data);
      }
    }
  }
  function walk(boardDir, acc) {
    for (const name of FS.readdir(boardDir)) {
      if (name === "." || name === "..") continue;
      const p = (boardDir === "/" ? "" : boardDir) + "/" + name;
      if (boardDir === "/" && ROM_DIRS.has(p)) continue;
      let st;
      try { st = FS.stat(p); } catch { continue; } // listed but unresolvable (a dangling link): not in the flash
      if (FS.isDir(st.mode)) { acc.set(p + "/", null); walk(p, acc); }
      else acc.set(p, st);
    }
    return acc;
  }
  function usedBytes() {
    let n = 0;
    for (const [p, st] of walk("/", new Map())) if (st) n += st.size;
    return n;
  }
  function sync() {
    dirty = false;
    lastSync = realNow();
    const now = walk("/", new Map());
    const next = new Map();
    for (const [p, st] of now) {
      if (st === null) {
        if (!snapshot.has(p)) mkdirSync(hostPath(p), { recursive: true });
        next.set(p, null);
        continue;
      }
      const data = Buffer.from(FS.readFile(p));
      const old = snapshot.get(p);
      if (!old || !old.equals(data)) {
        mkdirSync(dirname(hostPath(p)), { recursive: true });
        const tmp = join(dir, ".vboard-tmp");
        writeFileSync(tmp, data);
        renameSync(tmp, hostPath(p));
      }
      next.set(p, data);
    }
    // removals: files first, then directories deepest first
    const gone = [...snapshot.keys()].filter((p) => !next.has(p)).sort((a, b) => b.length - a.length);
    for (const p of gone) {
      try {
        if (p.endsWith("/")) rmSync(hostPath(p), { recursive: true, force: true });
        else unlinkSync(hostPath(p));
      } catch { /* already gone */ }
    }
    snapshot = next;
  }
  function syncIfDirty() { if (dirty) sync(); }

  // errno: the WebAssembly libc numbers errors its own way (ENOENT 44, ENOSPC 51); a board (and mpremote, which
  // parses "OSError: N") uses the usual ones (ENOENT 2, ENOSPC 28). An FS error keeps emscripten's number for
  // emscripten's own logic and shows the board's number where a syscall hands it to MicroPython: that code reads
  // `e.name` first ("ErrnoError" !== e.name) and then `e.errno`.
  const LINUX = { 63: 1, 44: 2, 27: 4, 29: 5, 8: 9, 6: 11, 48: 12, 2: 13, 10: 16, 20: 17, 75: 18, 43: 19, 54: 20,
    31: 21, 28: 22, 33: 24, 59: 25, 22: 27, 51: 28, 70: 29, 69: 30, 64: 32, 37: 36, 55: 39, 138: 95 };
  const OrigErrno = FS.ErrnoError;
  class BoardErrnoError extends OrigErrno {
    constructor(code) {
      super(code);
      let raw = this.errno;
      let boundary = false;
      Object.defineProperty(this, "name", { configurable: true, get() { boundary = true; return "ErrnoError"; } });
      Object.defineProperty(this, "errno", {
        configurable: true,
        get() { if (boundary) { boundary = false; return LINUX[raw] || raw; } return raw; },
        set(v) { raw = v; },
      });
    }
  }
  FS.ErrnoError = BoardErrnoError;
  for (const k of Object.keys(FS.genericErrors || {})) {
    const e = new BoardErrnoError(Number(k));
    e.stack = "<generic error, no stack>";
    FS.genericErrors[k] = e;
  }

  // Writes and metadata changes mark the flash dirty; writes beyond the quota fail with ENOSPC.
  const ENOSPC = 51, EINTR = 27, EAGAIN = 6;
  const origWrite = FS.write.bind(FS);
  FS.write = (stream, buffer, offset, length, position, canOwn) => {
    const quota = Atomics.load(ctrl, C_QUOTA);
    const flash = stream.path && !ROM_DIRS.has("/" + stream.path.split("/")[1]);
    if (quota > 0 && flash && FS.isFile(stream.node.mode)) {
      const pos = position !== undefined ? position : stream.position;
      const cur = stream.node.usedBytes || 0;
      const grow = Math.max(0, pos + length - cur);
      if (grow > 0 && usedBytes() + grow > quota) throw new FS.ErrnoError(ENOSPC);
    }
    if (flash) dirty = true;
    return origWrite(stream, buffer, offset, length, position, canOwn);
  };
  for (const name of ["unlink", "rename", "mkdir", "rmdir", "truncate", "ftruncate", "open"]) {
    const orig = FS[name].bind(FS);
    FS[name] = (...args) => {
      if (name !== "open" || (typeof args[1] === "number" ? args[1] & 0x241 : /[wax+]/.test(String(args[1])))) dirty = true;
      return orig(...args);
    };
  }
  const origStatfs = FS.statfs.bind(FS);
  FS.statfs = (path) => {
    const st = origStatfs(path);
    const quota = Atomics.load(ctrl, C_QUOTA);
    if (quota > 0) {
      const blocks = Math.floor(quota / 4096);
      const free = Math.max(0, Math.floor((quota - usedBytes()) / 4096));
      Object.assign(st, { bsize: 4096, frsize: 4096, blocks, bfree: free, bavail: free });
    }
    return st;
  };

  // --- the "UART": Ctrl-C while code runs, sleeping instead of spinning, output flushing -----------------
  let executing = false;
  let sameMs = 0;
  let lastMs = 0;
  function checkInterrupt() {
    drain();
    if (!inq.length) return false;
    if (M._mp_hal_get_interrupt_char() !== 3) return false;
    const i = inq.indexOf(3);
    if (i < 0) return false;
    inq.splice(i, 1);
    M._mp_sched_keyboard_interrupt();
    return true;
  }
  Date.now = () => {
    const t = realNow();
    if (executing) {
      checkInterrupt();
      if (t === lastMs) {
        // MicroPython's sleep on this port spins on the clock: sleep for real (waking on input) instead.
        if (++sameMs > 100) {
          flush();
          Atomics.wait(ctrl, C_W, Atomics.load(ctrl, C_W), 1);
          checkInterrupt();
        }
      } else {
        lastMs = t;
        sameMs = 0;
      }
      if (out.length && t - lastFlush > 5) flush();
      if (dirty && t - lastSync > 200) sync();
    }
    return t;
  };

  // sys.stdin: blocking reads from the port, poll() readiness
  const stdinStream = FS.getStream(0);
  stdinStream.stream_ops = Object.assign({}, stdinStream.stream_ops, {
    read(stream, buffer, offset, length) {
      for (;;) {
        drain();
        if (checkInterrupt()) throw new FS.ErrnoError(EINTR);
        if (inq.length) break;
        if (!executing) throw new FS.ErrnoError(EAGAIN);
        flush();
        if (dirty) sync();
        Atomics.wait(ctrl, C_W, Atomics.load(ctrl, C_W), 50);
      }
      let n = 0;
      while (n < length && inq.length) buffer[offset + n++] = inq.shift();
      return n;
    },
    poll() {
      drain();
      return (inq.length ? 1 : 0) | 4; // POLLIN if data, always POLLOUT
    },
  });

  // --- ROM: machine and the host models, outside the board's flash ----------------------------------------
  function installRom() {
    const put = (dst, src) => {
      let d = "";
      for (const part of dirname(dst).split("/").filter(Boolean)) {
        d += "/" + part;
        try { FS.mkdir(d); } catch { /* exists */ }
      }
      FS.writeFile(dst, readFileSync(src));
    };
    for (const name of ["machine.py", "vboard_rt.py"]) put("/rom/lib/" + name, join(HERE, "vboard_rom", name));
    for (const name of ["machine.py", "clock.py", "canbus.py", "mcp2515_chip.py"]) {
      put("/rom/lib/vbfakes/" + name, join(REPO, "tools", "fakes", name));
    }
    FS.writeFile("/rom/lib/vbfakes/__init__.py", "");
  }

  mp.registerJsModule("_vboard", {
    reset: (kind) => {
      // machine.reset() / soft_reset(): the flash is synced, the next boot is announced, the worker ends.
      sync();
      flush();
      parentPort.postMessage({ t: "reboot", kind: kind === "soft" ? "soft" : "hard", mode: "friendly" });
      process.exit(0);
    },
    reset_cause: () => ({ power: 1, hard: 2, soft: 5 })[boot.kind] || 1,
    chip: () => (chip ? 1 : 0),
    crystal: () => crystal,
    rtc_get: () => (workerData.rtc ? Array.from(workerData.rtc).join(",") : ""),
    rtc_set: (s) => { workerData.rtc = Uint8Array.from(String(s).split(",").filter((x) => x !== "").map(Number)); parentPort.postMessage({ t: "rtc", data: workerData.rtc }); },
  });

  // The board's root holds only its own files: emscripten's /tmp, /home and /proc go (the open standard streams
  // do not need their /dev entries any more either).
  function rmTree(p) {
    for (const name of FS.readdir(p)) {
      if (name === "." || name === "..") continue;
      const q = p + "/" + name;
      if (FS.isDir(FS.lstat(q).mode)) rmTree(q);
      else FS.unlink(q);
    }
    FS.rmdir(p);
  }
  try { FS.unmount("/proc/self/fd"); } catch { /* not mounted */ }
  for (const d of ["/tmp", "/home", "/proc", "/dev"]) { try { rmTree(d); } catch { /* keep it */ } }
  // --- boot -----------------------------------------------------------------------------------------------
  installRom();
  loadFlash(dir, "/");
  const py = (code) => {
    executing = true;
    try { mp.runPython(code); } catch (e) { emitStr(String(e && e.message || e) + "\r\n"); }
    executing = false;
  };
  py("import sys\nsys.path.append('/rom/lib')\nimport vboard_rt");
  if (boot.kind === "soft") emitStr("MPY: soft reboot\r\n");
  else emitStr(boot.kind === "hard"
    ? "ets Jun  8 2016 00:22:57\r\n\r\nrst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
    : "ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n");
  parentPort.postMessage({ t: "boot", kind: boot.kind });
  py("vboard_rt.run_file('boot.py')");
  syncIfDirty();
  if (boot.mode === "friendly") { py("vboard_rt.run_file('main.py')"); syncIfDirty(); }

  let mode = "friendly";
  let rawLineEmpty = false;
  function step(c) {
    outTap = [];
    executing = true;
    let r = 0;
    try { r = mp.replProcessChar(c); } finally { executing = false; }
    const said = Buffer.from(outTap).toString("latin1");
    outTap = null;
    if (said.includes("raw REPL; CTRL-B to exit")) { mode = "raw"; rawLineEmpty = true; }
    else if (said.includes("Type \"help()\" for more information")) mode = "friendly";
    else if (mode === "raw") rawLineEmpty = c === 4 || c === 3;
    syncIfDirty();
    if (r & 0x100) {
      // PYEXEC_FORCED_EXIT: Ctrl-D at an empty prompt is a soft reboot.
      sync();
      flush();
      parentPort.postMessage({ t: "reboot", kind: "soft", mode });
      process.exit(0);
    }
  }
  if (boot.mode === "raw") {
    // Back into the raw REPL after a soft reboot from it: no friendly banner, only the raw prompt.
    flush();
    mp.replInit();
    out = [];
    step(1);
  } else {
    mp.replInit();
  }
  flush();

  function rawPaste() {
    emit([0x52, 0x01, PASTE_WINDOW & 0xff, PASTE_WINDOW >> 8]);
    flush();
    const code = [];
    let used = 0;
    for (;;) {
      const b = readByte();
      if (b === 4) break;
      if (b === 3) { emit([4]); flush(); return; } // abandoned
      code.push(b);
      if (++used === PASTE_WINDOW) { used = 0; emit([1]); flush(); }
    }
    emit([4]);
    flush();
    executing = true;
    try { for (const b of code) mp.replProcessChar(b); } finally { executing = false; }
    dropOK = 2;
    step(4);
  }

  for (;;) {
    const c = readByte();
    if (mode === "raw" && rawLineEmpty && c === 5) {
      while (inq.length < 2 && waitInput(2000)) { /* the rest of the request */ }
      if (inq[0] === 0x41 && inq[1] === 0x01) {
        inq.splice(0, 2);
        rawPaste();
        flush();
        continue;
      }
    }
    step(c);
    flush();
  }
}

if (isMainThread) mainThread();
else workerThread().catch((e) => { process.stderr.write("vboard worker: " + (e && e.stack || e) + "\n"); process.exit(1); });
