"""Parameters on flash: one small text file, written atomically, checked when read.

The file (`params.dat`; ASCII, so `mpremote cat :params.dat` shows it):

    leafvcu-params 1          magic and format version
    1 360                     one line per parameter: stable id (never the name), value
    ...
    crc 89abcdef              CRC-32 (zlib's) of every byte above this line, 8 lowercase hex digits

Every parameter is stored (not only the changed ones): a firmware update with new defaults does not change a
tuned car behind the user's back.

Saving (`save`): write params.new, close it, read it back and compare; then rename it over params.dat. On
LittleFS (the ESP32 default) that rename replaces the old file in one step. On FAT a rename onto an existing
name fails; then the old file is renamed to params.bak first, params.new to params.dat, and params.bak is
removed. A power loss at any point leaves a complete old or new file under one of those names:

    state after the loss                          what load() uses
    params.new missing or half written            params.dat (old)
    params.new complete, rename not done          params.dat (old)
    (FAT) params.dat moved to .bak, .new complete params.new (new), renamed to params.dat on the spot
    done                                          params.dat (new)

Something in params.new's way that cannot be opened for writing (a directory of that name) must not make every
save fail: the new file is then written as params.tmp instead, with the same steps; load knows both names.

Numbers in the file are exactly `-?[0-9]+` (ASCII, at most 11 characters): what MicroPython's and CPython's int()
would both read the same; CPython alone also takes "1_23", "+60", " 7" and non-ASCII digits, so int() is not used
on the file's text.

Loading (`load`, at boot and on the console's `load`): params.dat, else params.new, else params.tmp, else
params.bak, the first that is complete (checksum right) and of this version. A fallback that is used is renamed to params.dat (it
completes the interrupted save, so the next save cannot destroy the only good copy). A params.dat that is
unreadable, corrupt, truncated or of another version never stops the boot: it is renamed to params.bad (kept
for a post-mortem, replacing an older params.bad), the fault log gets a PARAM_FILE note (a = reason below),
and the parameters stay as they were (at boot: the defaults). A bad params.new / params.bak is ignored
silently: a half-written params.new is the normal trace of a power loss during a save.

Within a good file: parameters the file lacks get their defaults; a value outside its parameter's range (a
newer table narrowed it) gets the default too (warning, and a PARAM_FILE note with reason BAD_VALUE, b = id).
Ids this firmware does not know (written by a newer firmware) are KEPT: remembered in `extra` and written back
by the next save, so going back to an older firmware and forward again loses nothing; `load` reports them
as a warning (no fault note: they are not a fault, and they would re-log at every boot).

The file system is injected: any object with open(path, mode), rename(a, b), remove(path), stat(path) (the
real one is `os` plus the builtin open), so tests can cut the power after any operation.
"""

try:
    import os as _os
except ImportError:  # very old MicroPython
    import uos as _os

from leafvcu import faults as F
from leafvcu.params import TABLE, P_ID, P_NAME, P_MIN, P_MAX, row_by_id

MAGIC = "leafvcu-params"
VERSION = 1
MAX_BYTES = 4096  # a larger file is not ours: refuse before it fills the heap

# PARAM_FILE note reasons (faults log entry a)
BAD_READ = 1  # the file exists but reading it failed (OSError)
BAD_CHECKSUM = 2  # truncated or corrupt: the crc line is missing or does not match
BAD_VERSION = 3  # a complete file of another format version: b = that version
BAD_FORMAT = 4  # checksum right but not our format (magic, a line that does not parse, a repeated id, too big)
BAD_VALUE = 5  # one or more values out of range (defaults used for those): b = the first such id
REASONS = {BAD_READ: "unreadable", BAD_CHECKSUM: "truncated or corrupt", BAD_VERSION: "other version",
           BAD_FORMAT: "not a parameter file", BAD_VALUE: "value out of range"}

try:
    from binascii import crc32 as _crc32
except ImportError:
    _crc32 = None

_CRC_T = (0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4, 0x4DB26158, 0x5005713C,
          0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C, 0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C)


def crc32_py(data):
    """CRC-32 as zlib computes it (nibble table; the fallback where binascii lacks crc32)."""
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC_T[(c ^ b) & 15] ^ (c >> 4)
        c = _CRC_T[(c ^ (b >> 4)) & 15] ^ (c >> 4)
    return c ^ 0xFFFFFFFF


def crc32(data):
    if _crc32 is not None:
        return _crc32(data) & 0xFFFFFFFF
    return crc32_py(data)


class OsFs:
    """The real file system: builtin open + os.rename / os.remove / os.stat."""

    def open(self, path, mode):
        return open(path, mode)

    def rename(self, a, b):
        _os.rename(a, b)

    def remove(self, path):
        _os.remove(path)

    def stat(self, path):
        return _os.stat(path)


def encode(params, extra=()):
    """The file's bytes for the current values (plus kept unknown ids)."""
    parts = ["%s %d\n" % (MAGIC, VERSION)]
    for r in TABLE:
        parts.append("%d %d\n" % (r[P_ID], getattr(params, r[P_NAME])))
    for pid, v in extra:
        parts.append("%d %d\n" % (pid, v))
    body = "".join(parts).encode()
    return body + ("crc %08x\n" % crc32(body)).encode()


def number(text):
    """The int of `-?[0-9]+` (ASCII, at most 11 characters), else None: the same on every interpreter."""
    n = len(text)
    if n == 0 or n > 11:
        return None
    i = 1 if text[0] == "-" else 0
    if i == n:
        return None
    v = 0
    while i < n:
        c = ord(text[i]) - 48
        if c < 0 or c > 9:
            return None
        v = v * 10 + c
        i += 1
    return -v if text[0] == "-" else v


def decode(data):
    """(entries, None) with entries a list of (id, value), or (None, (reason, b)) for a bad file."""
    if data is None or len(data) > MAX_BYTES:
        return None, (BAD_FORMAT, 0)
    data = bytes(data)
    i = data.rfind(b"\ncrc ")
    if i < 0:
        return None, (BAD_CHECKSUM, 0)
    body = data[:i + 1]
    if data[i + 1:] != ("crc %08x\n" % crc32(body)).encode():
        return None, (BAD_CHECKSUM, 0)
    try:
        lines = body.decode().split("\n")
        head = lines[0].split(" ")
        if len(head) != 2 or head[0] != MAGIC:
            return None, (BAD_FORMAT, 0)
        ver = number(head[1])
    except Exception:  # non-ASCII bytes
        return None, (BAD_FORMAT, 0)
    if ver is None:
        return None, (BAD_FORMAT, 0)
    if ver != VERSION:
        return None, (BAD_VERSION, ver)
    out = []
    seen = set()
    for ln in lines[1:-1]:  # the body ends with "\n": the last piece is empty
        f = ln.split(" ")
        if len(f) != 2:
            return None, (BAD_FORMAT, 0)
        pid = number(f[0])
        v = number(f[1])
        if pid is None or v is None:
            return None, (BAD_FORMAT, 0)
        if pid in seen:
            return None, (BAD_FORMAT, pid)
        seen.add(pid)
        out.append((pid, v))
    return out, None


class Settings:
    """params: the Params to load into / save from; faults: Faults for the PARAM_FILE notes (or None);
    path: the main file ("/params.dat": the board's root); fs: the file system (default OsFs()).

    After load(): source (the path used, or None), warnings (list of texts), extra (kept unknown (id, value))."""

    def __init__(self, params, faults=None, path="/params.dat", fs=None):
        self.p = params
        self.faults = faults
        self.fs = fs if fs is not None else OsFs()
        base = path[:-4] if path.endswith(".dat") else path
        self.path = path
        self.new = base + ".new"
        self.tmp = base + ".tmp"
        self.bak = base + ".bak"
        self.bad = base + ".bad"
        self.extra = []
        self.source = None
        self.warnings = []

    # --- save -------------------------------------------------------------------------------------------
    def save(self):
        """Writes the current values atomically. None when done, else the one-line reason (the old file, if
        any, is untouched; a params.new that could not be written whole is removed again)."""
        data = encode(self.p, self.extra)
        fs = self.fs
        try:
            new = self.new
            try:
                f = fs.open(new, "wb")
            except OSError:
                new = self.tmp  # params.new cannot be written (a directory of that name): the spare name
                f = fs.open(new, "wb")
            try:
                f.write(data)
            finally:
                f.close()
            if self._read(new) != data:
                self._remove(new)
                return "save failed: %s reads back different" % new
            try:
                fs.rename(new, self.path)  # LittleFS: replaces the old file atomically
            except OSError:
                # FAT: a rename does not replace. Keep the old file as .bak until the new one has its name.
                if not self._exists(self.path):
                    raise
                self._remove(self.bak)
                fs.rename(self.path, self.bak)
                fs.rename(new, self.path)
                self._remove(self.bak)
        except OSError as e:
            self._remove(self.new)  # no half-written file for the next boot to try
            if e.args and e.args[0] == 28:  # ENOSPC
                return "save failed: filesystem full (no room for %s)" % self.new
            return "save failed: %s" % (e,)
        return None

    # --- load -------------------------------------------------------------------------------------------
    def load(self, now_ms=0):
        """Loads the saved values (see the module text for the order and what a bad file does).
        Returns (loaded, text): loaded True when a file was applied (text None, or its warnings); False when
        nothing was (text says why; the parameters are unchanged)."""
        self.warnings = []
        self.source = None
        bad_main = None
        for path in (self.path, self.new, self.tmp, self.bak):
            if not self._exists(path):
                continue
            try:
                entries, why = decode(self._read(path))
            except OSError:
                entries, why = None, (BAD_READ, 0)
            if entries is None:
                if path == self.path:
                    bad_main = why[0]
                    self._note(now_ms, why[0], why[1])
                    try:
                        self._replace(path, self.bad)
                    except OSError:
                        pass  # left in place: the next save replaces it
                continue
            if path != self.path:
                # Complete the interrupted save (or recover after a bad main file).
                self.warnings.append("recovered from %s" % path)
                try:
                    self._replace(path, self.path)
                except OSError:
                    pass
            self._apply(entries, now_ms)
            self.source = path
            if bad_main is not None:
                self.warnings.insert(0, self._bad_text(bad_main))
            return True, "; ".join(self.warnings) if self.warnings else None
        if bad_main is not None:
            return False, self._bad_text(bad_main) + "; parameters unchanged"
        return False, "no saved parameters"

    def _bad_text(self, reason):
        return "%s %s, kept as %s" % (self.path, REASONS.get(reason, "bad"), self.bad)

    def _apply(self, entries, now_ms):
        vals = []
        extra = []
        unknown = []
        bad = []
        for pid, v in entries:
            r = row_by_id(pid)
            if r is None:
                extra.append((pid, v))
                unknown.append("%d" % pid)
            elif v < r[P_MIN] or v > r[P_MAX]:
                bad.append(r)
            else:
                vals.append((r[P_NAME], v))
        p = self.p
        p.defaults()
        for name, v in vals:
            setattr(p, name, v)
        extra.sort()
        self.extra = extra
        if unknown:
            self.warnings.append("unknown ids kept for the next save: " + ",".join(unknown))
        if bad:
            self.warnings.append("out of range, default used: " + ",".join([r[P_NAME] for r in bad]))
            self._note(now_ms, BAD_VALUE, bad[0][P_ID])

    # --- file system helpers ----------------------------------------------------------------------------
    def _note(self, now_ms, reason, b=0):
        if self.faults is not None:
            self.faults.note(F.PARAM_FILE, now_ms, reason, b)

    def _exists(self, path):
        try:
            self.fs.stat(path)
            return True
        except OSError:
            return False

    def _read(self, path):
        f = self.fs.open(path, "rb")
        try:
            return f.read(MAX_BYTES + 1)
        finally:
            f.close()

    def _remove(self, path):
        try:
            self.fs.remove(path)
        except OSError:
            pass

    def _replace(self, src, dst):
        # Rename, replacing dst also where rename does not (FAT). Only for names whose old content may go.
        try:
            self.fs.rename(src, dst)
        except OSError:
            self._remove(dst)
            self.fs.rename(src, dst)
