"""The dashboard's JSON interface, without the HTTP: every rule of what the web may read and change.

`WebApi(app).handle(method, path, headers, body, now_ms)` -> (status, body, headers): body a str or a generator
of str pieces (a long reply is produced a few rows per piece, and the HTTP layer (web.py) writes each piece
before it asks for the next: on MicroPython every socket write yields to the scheduler, so a reply costs the
10 ms jobs one small slice at a time, as the console's long replies do). Pure: no sockets, no clock of its own;
the same object runs on the board, in the simulator (tools/sim.py web) and in tests (tests/cross/test_webapi.py).

    GET  /api/live      the live values as the console's `json` writes them, with the time: {"t":ms,"live":{..}}
    GET  /api/params    the parameter table: value, unit, range, default, HV lock, help, and whether the web may
                        change it ("web": 0 for the Wi-Fi parameters: the console only)
    GET  /api/status    the console's `status` line, the fault log (`errors`), HV and key state, the session
    POST /api/login     {"pin": "123456"} -> a session cookie and its CSRF token
    POST /api/logout
    POST /api/params    {"name": N, "value": V}: the console's `set N V`, refused with the console's message;
                        {"params": {N: V, ..}}: an upload (key off only), all checked before any is set
    POST /api/clear     the console's `clear`
    POST /api/save      the console's `save`

Every change goes through a Console (console.py) of its own: the same command layer as the serial console, so a
refusal (HV lock, range, a fault not yet clearable, no save with HV on) is the console's own line. On top:
  * Sessions: a POST other than login needs the session cookie (HttpOnly, SameSite=Strict) AND its CSRF token in
    the X-CSRF-Token header AND Content-Type application/json (a cross-site form can send none of these), and,
    when the browser names an Origin, the dashboard's own. At most MAX_SESSIONS; a session idle for
    SESSION_IDLE_MS ends. The PIN (6 digits, new at every boot) is shown only by the console's `wifi`; after
    PIN_TRIES wrong ones a new PIN is drawn and logins wait PIN_LOCK_MS.
  * No CORS: no Access-Control-* header is ever sent, OPTIONS is refused; a Host that is not an address or
    localhost is refused (a DNS-rebinding page cannot reach the API under its own name).
  * Bounded: bodies over MAX_BODY bytes are refused; all requests together get RATE_BURST at once and one per
    RATE_MS after that (429 beyond); the HTTP layer bounds connections and line lengths.
  * While HV is on the console refuses every HV-locked parameter, save and load; uploads need the key off too.
  * The Wi-Fi parameters (ids 180-189) never change over the web; there is no file upload, no code, no update.
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


import json

from leafvcu.compat import ticks_diff, ticks_add
from leafvcu import console as C
from leafvcu import params as P
from leafvcu.params import TABLE, P_ID, P_NAME, P_UNIT, P_MIN, P_MAX, P_DEF, P_LOCK, P_HELP

MAX_BODY = const(3072)
MAX_SESSIONS = const(2)
SESSION_IDLE_MS = const(900000)  # 15 min
PIN_TRIES = const(3)
PIN_LOCK_MS = const(60000)
RATE_BURST = const(30)
RATE_MS = const(50)              # 20 requests a second sustained, all clients together
_ROWS_STEP = const(6)            # parameter rows per piece of /api/params
_WEB_IDS_LO = const(180)         # the Wi-Fi block: console only
_WEB_IDS_HI = const(189)
_NAME_MAX = const(16)
_VALUE_MAX = const(12)

JSON_TYPE = "application/json"
# On every reply: nothing cached, nothing sniffed, never framed, no referrer.
BASE_HEADERS = (("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
                ("X-Frame-Options", "DENY"), ("Referrer-Policy", "no-referrer"))


def _urandom(n):
    try:
        import os

        return os.urandom(n)
    except (ImportError, AttributeError, NotImplementedError):  # an interpreter without a hardware RNG
        import random

        return bytes([random.getrandbits(8) for _ in range(n)])


def _hex(b):
    return "".join(["%02x" % x for x in b])


def _same(a, b):
    # Compares two str in a time that does not depend on where they differ.
    if len(a) != len(b):
        return False
    r = 0
    for i in range(len(a)):
        r |= ord(a[i]) ^ ord(b[i])
    return r == 0


def web_may_change(r):
    """False for the parameters only the console may change (the Wi-Fi block)."""
    return not (_WEB_IDS_LO <= r[P_ID] <= _WEB_IDS_HI)


def _err(status, text):
    # json.dumps: the text may quote what the client sent (control characters included)
    return status, '{"error":%s}' % json.dumps(text), ()


def _name_ok(s):
    if not isinstance(s, str) or not 0 < len(s) <= _NAME_MAX:
        return False
    for c in s:
        if not ("a" <= c <= "z" or "0" <= c <= "9" or "A" <= c <= "Z"):
            return False
    return True


def _value_text(v):
    # A JSON value as the console would get it typed: a whole number, or a short text without blanks (the
    # console's parser decides, "0x6E" included). None: not something a user could type as one word.
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int):
        return "%d" % v
    if isinstance(v, float):
        return "%d" % v if v == v and v not in (float("inf"), float("-inf")) and int(v) == v else None
    if isinstance(v, str) and 0 < len(v) <= _VALUE_MAX:
        for c in v:
            if not (32 < ord(c) < 127):
                return None
        return v
    return None


def _host_ok(host):
    # An IPv4 address or localhost, with or without a port: what the access point and the simulator serve on.
    if host is None:
        return True  # not a browser (browsers always send Host)
    h = host.split(":")[0] if host.count(":") <= 1 else ""
    if h == "localhost":
        return True
    parts = h.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not p or len(p) > 3 or not p.isdigit():
            return False
    return True


class Session:
    def __init__(self, sid, csrf, now):
        self.sid = sid
        self.csrf = csrf
        self.last = now


class WebApi:
    """app: the shell (console.py's view of it); rand(n) -> n random bytes (os.urandom: the ESP32's hardware
    RNG); tests hand in their own. Counters: requests, refused (any reply >= 400), logins, bad_pins."""

    def __init__(self, app, rand=None):
        self.app = app
        self._rand = rand if rand is not None else _urandom
        self._out = []
        self.con = C.Console(app, self._out.append)
        self.sessions = []
        self.pin = ""
        self.new_pin()
        self.tries = 0
        self.locked_until = None
        self._tokens = RATE_BURST
        self._last_refill = None
        self.requests = 0
        self.refused = 0
        self.logins = 0
        self.bad_pins = 0

    # --- the PIN and sessions ---------------------------------------------------------------------------------
    def new_pin(self):
        """A new PIN; every session ends (the console's `wifi new`, too many wrong PINs)."""
        b = self._rand(4)
        v = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) % 1000000
        self.pin = "%06d" % v
        self.sessions = []

    def _session(self, headers, now):
        # The Session named by the request's cookie, or None. Expired sessions go.
        keep = []
        for s in self.sessions:
            if ticks_diff(now, s.last) <= SESSION_IDLE_MS:
                keep.append(s)
        self.sessions = keep
        cookie = headers.get("Cookie") or ""
        sid = None
        for part in cookie.split(";"):
            part = part.strip()
            if part.startswith("sid="):
                sid = part[4:]
        if not sid or len(sid) != 32:
            return None
        for s in keep:
            if _same(s.sid, sid):
                s.last = now
                return s
        return None

    # --- admission ------------------------------------------------------------------------------------------
    def admit(self, now):
        """One request's token from the bucket shared by every client: False when there is none (429)."""
        if self._last_refill is None:
            self._last_refill = now
        gained = ticks_diff(now, self._last_refill) // RATE_MS
        if gained > 0:
            self._tokens = min(RATE_BURST, self._tokens + gained)
            self._last_refill = ticks_add(self._last_refill, gained * RATE_MS)
        if self._tokens <= 0:
            return False
        self._tokens -= 1
        return True

    # --- the one entry ----------------------------------------------------------------------------------------
    def handle(self, method, path, headers, body, now):
        """headers: .get(name) (case-insensitive on the board: microdot's NoCaseDict); body: bytes."""
        self.requests += 1
        r = self._handle(method, path, headers, body, now)
        if r[0] >= 400:
            self.refused += 1
        return r

    def _handle(self, method, path, headers, body, now):
        if not self.admit(now):
            return _err(429, "too many requests: at most %d a second" % (1000 // RATE_MS))
        if not _host_ok(headers.get("Host")):
            return _err(403, "refused: the dashboard answers only on its own address")
        if method == "GET":
            s = self._session(headers, now)
            if path == "/api/live":
                return 200, self._live(now), ()
            if path == "/api/params":
                return 200, self._params(), ()
            if path == "/api/status":
                return 200, self._status(s), ()
            return _err(404, "no such page")
        if method != "POST":
            return _err(405, "method %s not allowed" % method)
        ctype = headers.get("Content-Type") or ""
        if not ctype.startswith(JSON_TYPE):
            return _err(415, "a change must be sent as application/json")
        origin = headers.get("Origin")
        host = headers.get("Host")
        if origin is not None and (host is None or origin != "http://" + host):
            return _err(403, "refused: cross-origin request")
        if body is not None and len(body) > MAX_BODY:
            return _err(413, "request too large (max %d bytes)" % MAX_BODY)
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return _err(400, "not JSON")
        if not isinstance(data, dict):
            return _err(400, "expected a JSON object")
        if path == "/api/login":
            return self._login(data, now)
        s = self._session(headers, now)
        if s is None:
            return _err(401, "no session: log in with the PIN the console's `wifi` shows")
        csrf = headers.get("X-CSRF-Token") or ""
        if not _same(csrf, s.csrf):
            return _err(403, "refused: missing or wrong CSRF token")
        if path == "/api/logout":
            self.sessions = [x for x in self.sessions if x is not s]
            return 200, '{"ok":true}', (("Set-Cookie", "sid=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"),)
        if path == "/api/params":
            if "params" in data:
                return self._upload(data["params"])
            return self._set(data.get("name"), data.get("value"))
        if path == "/api/clear":
            return self._command("clear")
        if path == "/api/save":
            return self._command("save")
        return _err(404, "no such action")

    # --- changes: the console's own command layer -----------------------------------------------------------
    def _command(self, line):
        con = self.con
        e0 = con.errors
        del self._out[:]
        con.execute(line)
        text = "".join(self._out).strip()
        del self._out[:]
        if con.errors != e0:
            return 409, '{"error":%s}' % json.dumps(text), ()
        return 200, '{"ok":true,"reply":%s}' % json.dumps(text), ()

    def _set(self, name, value):
        if not _name_ok(name):
            return _err(400, "expected {\"name\": NAME, \"value\": VALUE}")
        v = _value_text(value)
        if v is None:
            return _err(400, "value %s is not a whole number" % (value,))
        r = P.row(name.lower())
        if r is not None and not web_may_change(r):
            return _err(403, "%s can only be changed on the console" % r[P_NAME])
        return self._command("set %s %s" % (name, v))

    def _upload(self, table):
        app = self.app
        if not isinstance(table, dict):
            return _err(400, "expected {\"params\": {NAME: VALUE, ..}}")
        if app.inp.ign or app.vcm.hv_lock:
            return _err(409, "cannot upload parameters unless the key is off")
        p = app.params
        todo = []
        for name in table:
            v = _value_text(table[name])
            r = P.row(name.lower()) if _name_ok(name) else None
            if r is None:
                return _err(400, "unknown parameter %s" % (name,))
            if v is None:
                return _err(400, "value %s is not a whole number" % (table[name],))
            val, err = p.check(r[P_NAME], v)
            if err is not None:
                return _err(409, "%s: %s" % (r[P_NAME], err))
            if val == getattr(p, r[P_NAME]):
                continue
            if not web_may_change(r):
                return _err(403, "%s can only be changed on the console" % r[P_NAME])
            todo.append((r[P_NAME], v))
        for name, v in todo:  # all checked: each set is the console's, which checks again
            st = self._command("set %s %s" % (name, v))
            if st[0] != 200:
                return st
        return 200, '{"ok":true,"reply":"OK, %d changed"}' % len(todo), ()

    def _login(self, data, now):
        if self.locked_until is not None:
            wait = ticks_diff(self.locked_until, now)
            if wait > 0:
                return _err(429, "too many wrong PINs: wait %d s, then use the new PIN the console's `wifi` shows"
                            % ((wait + 999) // 1000))
            self.locked_until = None
        pin = data.get("pin")
        if not isinstance(pin, str) or not _same(pin, self.pin):
            self.bad_pins += 1
            self.tries += 1
            if self.tries >= PIN_TRIES:
                self.tries = 0
                self.new_pin()
                self.locked_until = ticks_add(now, PIN_LOCK_MS)
            return _err(403, "wrong PIN")
        self.tries = 0
        self.logins += 1
        s = Session(_hex(self._rand(16)), _hex(self._rand(16)), now)
        while len(self.sessions) >= MAX_SESSIONS:
            self.sessions.pop(0)  # the oldest goes
        self.sessions.append(s)
        return 200, '{"ok":true,"csrf":"%s"}' % s.csrf, (
            ("Set-Cookie", "sid=%s; Path=/; HttpOnly; SameSite=Strict" % s.sid),)

    # --- reads ----------------------------------------------------------------------------------------------
    def _live(self, now):
        # One piece: the live table is short (the console's json writes it in pieces of 8; 20 rows here).
        app = self.app
        parts = ['{"t":%d,"live":{' % now]
        sep = ""
        for r in C.LIVE:
            v = r[C.L_GET](app)
            parts.append('%s"%s":%s' % (sep, r[C.L_NAME], C._js(v) if isinstance(v, str) else C.fixed(v, r[C.L_DEC])))
            sep = ","
        parts.append("}}")
        return "".join(parts)

    def _params(self):
        app = self.app
        p = app.params
        yield '{"hv":%d,"key":%d,"params":[' % (1 if app.vcm.hv_lock else 0, 1 if app.inp.ign else 0)
        parts = []
        sep = ""
        for r in TABLE:
            parts.append('%s{"id":%d,"name":"%s","value":%d,"unit":%s,"min":%d,"max":%d,"default":%d,"hvlock":%d,'
                         '"web":%d,"help":%s}' % (
                             sep, r[P_ID], r[P_NAME], getattr(p, r[P_NAME]), C._js(r[P_UNIT]), r[P_MIN], r[P_MAX],
                             r[P_DEF], r[P_LOCK], 1 if web_may_change(r) else 0, C._js(r[P_HELP])))
            sep = ","
            if len(parts) >= _ROWS_STEP:
                yield "".join(parts)
                parts = []
        parts.append("]}")
        yield "".join(parts)

    def _status(self, s):
        app = self.app
        del self._out[:]
        self.con.execute("status")
        status = "".join(self._out).strip()
        del self._out[:]
        self.con.execute("errors")
        errors = [ln for ln in "".join(self._out).split(C.NL) if ln]
        del self._out[:]
        return '{"status":%s,"errors":[%s],"hv":%d,"key":%d,"session":%s,"csrf":%s}' % (
            C._js(status), ",".join([C._js(e) for e in errors]), 1 if app.vcm.hv_lock else 0,
            1 if app.inp.ign else 0, "true" if s is not None else "false", C._js(s.csrf) if s is not None else "null")
