"""The serial console's command layer: openinverter's terminal vocabulary over any byte stream.

Pure: it does no I/O of its own. `Console(app, write)`; the shell's reader task hands it the bytes that arrived
(`feed`), its writer task drains what `write(str)` queued, and its console task calls `poll(now_ms)` for the
`stream` command. The same object runs under the simulator and the tests, which type into it as a user would.

Commands (one reply line: `OK`, a value, or what was wrong; list/help/errors/stats print several lines):
    help [NAME]  get NAME[,NAME..]  set NAME VALUE  list  save  load  defaults  status  errors  clear
    stream MS NAME[,NAME..]  json [full]  stats [reset|mem]  reset  wifi [new]
Commands and names are case-insensitive; values are whole numbers ("250", "-40", "0x6E"). "HV is on" for the
console (vcm.hv_lock) means: from the moment precharge begins (any HV relay commanded closed) until every relay is
commanded open again, precharge, ready, drive, charge and shutdown alike. A parameter marked HV lock cannot change
then; save / load / defaults / reset are refused altogether (a flash write stalls the ESP32 for tens of ms; load
and defaults would change HV-locked values); so is `stats mem` (it walks the whole heap). A change the shell has
built something from (the 55A reading tmp55a, the CAN crystal canxtal) takes effect at once (app.params_changed).

Names: the parameters (params.TABLE) and the live values (LIVE below). LIVE is the one table behind get,
stream, json, status and list, so a name means the same everywhere.

Input (`feed`): bytes or str in any chunking. CR, LF or CRLF end a line; BS / DEL delete the last character;
TAB counts as a space; Ctrl-C (0x03) is ignored (on the board MicroPython turns it into KeyboardInterrupt before
it gets here; kbd_intr stays on). Any other control byte or a byte >= 0x80 spoils the line (it is refused at its
end, nothing executes); a line longer than MAX_LINE is refused at its end. While `stream` runs, any byte
stops it; a printable byte also starts the next line (so a tool's "json\\r" stops the stream and runs json).

Bounded work per call (the console must never hold up the 10 ms task on a cooperative scheduler):
  * `feed(data)` runs AT MOST ONE command and returns how many bytes it consumed; pass the rest (data[n:]) on
    the next turn. While a long reply is still being produced (`busy`) it takes nothing and returns 0.
    Ordinary characters only go into a preallocated line buffer (no allocation; with echo=True, one str per call).
  * A long reply (help, list, json, errors, stats) is produced a line (json: a few entries) per step: the
    command writes its first line, then each `poll(now_ms)` writes the next. poll() returns True while more
    is pending, so the console task can go `while con.poll(now): await asyncio.sleep_ms(0)`, yielding to
    the 10 ms task between lines, and sleep when it returns False.
  * `poll` also emits the `stream` line when one is due.
Host helpers (unbounded): `execute(line)` runs one command to the end of its reply, `feed_all(data)` all lines.
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


import gc

from leafvcu.compat import ticks_add, ticks_diff
from leafvcu import faults as F
from leafvcu import params as P
from leafvcu.params import TABLE, P_ID, P_NAME, P_UNIT, P_MIN, P_MAX, P_DEF, P_LOCK, P_HELP

MAX_LINE = const(96)
_ECHO = const(64)
_JSON_STEP = const(8)  # json entries written per step
STREAM_MIN_MS = const(50)
STREAM_MAX_MS = const(60000)
STREAM_MAX_NAMES = const(16)
NL = "\r\n"


# --- live values: (name, unit, decimals, getter(app), help) -------------------------------------------------
# A getter returns an int (scaled by 10**decimals: fixed point, so the text is the same on every interpreter)
# or a str.


def _mode(a):
    return a.vcm.mode_name()


def _hv(a):
    return 1 if a.vcm.hv_on else 0


def _inv(a):
    v = a.vcm
    if v.age_1da < 0:
        return "none"
    if not v.fresh:
        return "stale"
    return "fault" if (a.inv.errors << 2) & a.vcm.err_mask() else "ok"  # the bits the core trips on


def _age(a):
    return a.vcm.age_1da


def _udc(a):
    return a.inv.dc_voltage


def _speed(a):
    return a.inv.speed_rpm


def _invtq(a):
    return a.inv.torque_raw * 5  # 0.5 Nm per bit -> 0.1 Nm


def _torque(a):
    return a.vcm.torque * 25  # 0.25 Nm per bit -> 0.01 Nm


def _pedal(a):
    return a.vcm.pedal.demand  # 0.1 %


def _pota(a):
    return a.inp.pedal_a


def _potb(a):
    return a.inp.pedal_b


def _dir(a):
    return a.vcm.tq.dir


def _brake(a):
    return 1 if a.inp.brake else 0


def _ign(a):
    return 1 if a.inp.ign else 0


def _tinv(a):
    return a.temps.inverter_c10 if a.temps is not None else 0


def _tmot(a):
    return a.temps.motor_c10 if a.temps is not None else 0


def _derate(a):
    return a.vcm.tq.derate  # 0.1 %


def _faults(a):
    c = a.vcm.faults.codes()
    return "+".join([F.name(x) for x in c]) if c else "none"


def _tec(a):
    return a.can.tec if a.can is not None else -1


def _missing(a):
    fs = getattr(a, "frames", None)
    return fs.missing() if fs is not None else ""


def _dev(a):
    devs = getattr(a, "devs", None)
    if devs is None:
        return "none"
    from leafvcu.choice import names

    return names(devs)


def _rec(a):
    return a.can.rec if a.can is not None else -1


# The battery device (bms.py, docs/bms.md): its own values and the limits the core applies.
def _bms(a):
    b = a.vcm.bms
    n = b.state_name()
    return n + "+alarm" if b.alarm else n


def _bms_value(attr, scale=1, unknown=False):
    # A getter of the battery device's (bms.py) attribute `attr`, divided by scale; unknown: a negative value
    # means "never reported" and reads "none".
    def get(a):
        v = getattr(a.vcm.bms, attr)
        if unknown and v < 0:
            return "none"
        return v // scale if scale != 1 else v

    return get


_bmsv = _bms_value("v10", unknown=True)
_bmsi = _bms_value("i10")
_bmssoc = _bms_value("soc10", unknown=True)
_bmsccl = _bms_value("ccl10")
_bmsdcl = _bms_value("dcl10")
_bmscvl = _bms_value("cvl10", unknown=True)
_bmstemp = _bms_value("t10")
_bmscmin = _bms_value("cmin", unknown=True)
_bmscmax = _bms_value("cmax", unknown=True)
_bmsalarm = _bms_value("alarm_bits")
_bmswarn = _bms_value("warn_bits")
_bmsage = _bms_value("age")
_bmsdrv = _bms_value("drv_w", 100, True)  # W -> 0.1 kW
_bmsrgn = _bms_value("rgn_w", 100, True)


L_NAME = const(0)
L_UNIT = const(1)
L_DEC = const(2)
L_GET = const(3)
L_HELP = const(4)

LIVE = (
    ("mode", "", 0, _mode, "the controller's state: off, precharge, ready, drive, shutdown, fault, charge"),
    ("hv", "0=Off, 1=On", 0, _hv, "HV on: the main contactor is closed"),
    ("inv", "", 0, _inv, "inverter link: none (never heard), stale, fault (1DA error bits in inverr / inverrz), ok"),
    ("age", "ms", 0, _age, "age of the last good 1DA frame, a ZE1's 0x120 if older (-1: never)"),
    ("udc", "V", 0, _udc, "DC link voltage (1DA; 0 while invalid)"),
    ("speed", "rpm", 0, _speed, "motor speed (1DA)"),
    ("invtq", "Nm", 1, _invtq, "torque the inverter reports (1DA)"),
    ("torque", "Nm", 2, _torque, "torque requested (1D4)"),
    ("pedal", "%", 1, _pedal, "pedal demand after deadband and checks"),
    ("pota", "dig", 0, _pota, "pedal channel A raw (for pot1min / pot1max)"),
    ("potb", "dig", 0, _potb, "pedal channel B raw (for pot2min / pot2max)"),
    ("dir", "-1=R, 0=N, 1=D", 0, _dir, "direction engaged"),
    ("brake", "0=Off, 1=On", 0, _brake, "brake switch"),
    ("ign", "0=Off, 1=On", 0, _ign, "ignition"),
    ("tinv", "degC", 1, _tinv, "inverter temperature (55A)"),
    ("tmot", "degC", 1, _tmot, "motor temperature (55A)"),
    ("derate", "%", 1, _derate, "temperature torque factor"),
    ("faults", "", 0, _faults, "latched faults (see errors)"),
    ("tec", "", 0, _tec, "CAN transmit error counter (-1: no controller)"),
    ("rec", "", 0, _rec, "CAN receive error counter (-1: no controller)"),
    ("bms", "", 0, _bms, "battery device (bmsdev): none, waiting (never heard), ok, lost (silent > bmsto); +alarm"),
    ("bmsv", "V", 1, _bmsv, "battery voltage the battery reports (356 / 1DB; none: never)"),
    ("bmsi", "A", 1, _bmsi, "battery current the battery reports, + into the pack (356 / 1DB)"),
    ("bmssoc", "%", 1, _bmssoc, "state of charge the battery reports (355 / 55B; none: never)"),
    ("bmsccl", "A", 1, _bmsccl, "charge current limit (351)"),
    ("bmsdcl", "A", 1, _bmsdcl, "discharge current limit (351)"),
    ("bmscvl", "V", 1, _bmscvl, "charge voltage limit (351; none: never)"),
    ("bmstemp", "degC", 1, _bmstemp, "battery temperature (356)"),
    ("bmscmin", "mV", 0, _bmscmin, "lowest cell voltage (373; none: never)"),
    ("bmscmax", "mV", 0, _bmscmax, "highest cell voltage (373; none: never)"),
    ("bmsalarm", "", 0, _bmsalarm, "35A alarms active: bit k = condition k (docs/bms.md)"),
    ("bmswarn", "", 0, _bmswarn, "35A warnings active: bit k = condition k (shown only)"),
    ("bmsage", "ms", 0, _bmsage, "age of the battery's last limits frame (351 / 1DB; -1: never)"),
    ("bmsdrv", "kW", 1, _bmsdrv, "drive power limit applied (discharge limit x DC volts; none: no limit)"),
    ("bmsrgn", "kW", 1, _bmsrgn, "regen power limit applied (charge limit x DC volts; none: no limit)"),
    ("dev", "", 0, _dev, "devices on the bus: inverter,charger,battery (parameters inverter, charger, spoof)"),
)

STATUS = ("mode", "hv", "inv", "udc", "speed", "pedal", "torque", "faults", "dev", "bms")

_LIVE_BY_NAME = {}
for _r in LIVE:
    _LIVE_BY_NAME[_r[L_NAME]] = _r
del _r


def live_row(name):
    return _LIVE_BY_NAME.get(name)


def fixed(v, d):
    """Int v in units of 10**-d as text: fixed(-5, 1) -> "-0.5", fixed(1225, 2) -> "12.25"."""
    if d == 0:
        return "%d" % v
    s = "-" if v < 0 else ""
    if v < 0:
        v = -v
    q = 10 ** d
    f = "%d" % (v % q)
    return "%s%d.%s%s" % (s, v // q, "0" * (d - len(f)), f)


def enum_label(unit, v):
    """"On" for (\"0=Off, 1=On\", 1); the number as text when the unit names no such value."""
    key = "%d=" % v
    for part in unit.split(","):
        part = part.strip()
        if part.startswith(key):
            return part[len(key):]
    return "%d" % v


def _js(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- commands: (name, arguments, help) ------------------------------------------------------------------------
COMMANDS = (
    ("help", "[NAME]", "the commands, or what a parameter / live value means"),
    ("get", "NAME[,NAME..]", "value(s) of parameters or live values"),
    ("set", "NAME VALUE", "change a parameter (until reset: save keeps it)"),
    ("list", "", "parameters: value, unit, range, default; then the live values"),
    ("save", "", "write the parameters to flash (not while HV is on)"),
    ("load", "", "read the parameters from flash (not while HV is on)"),
    ("defaults", "", "every parameter to its default (not while HV is on; save keeps it)"),
    ("status", "", "mode, HV, inverter, DC voltage, speed, pedal, torque, faults, devices"),
    ("errors", "", "the fault log with times"),
    ("clear", "", "clear latched faults once every contactor is open"),
    ("stream", "MS NAME[,NAME..]", "a line of values every MS ms until a key is pressed"),
    ("json", "[full]", "parameters and live values as one JSON line (full: with units and ranges)"),
    ("stats", "[reset|mem]", "scheduler, CAN, console and gc counters (mem: heap use; scans the heap, not with HV on)"),
    ("reset", "", "reset the board (not while HV is on)"),
    ("wifi", "[new]", "the dashboard's Wi-Fi: state, network, password, PIN (new: new ones, key off)"),
    ("rec", "[clear]", "flight recordings on flash: fault, time, size (clear: remove them; not while HV is on)"),
)
_CMD_ARGS = {}
for _c in COMMANDS:
    _CMD_ARGS[_c[0]] = _c[1]
del _c


class Console:
    """app: the shell (params, vcm, inv, temps, inp, can, tasks, now_ms(), settings, request_reset());
    write(str): queues output; echo: send typed characters back (a serial terminal needs it; tests don't).

    Counters: lines (executed), errors (replies that were not OK / a value), refused (spoilt or too long lines).
    """

    def __init__(self, app, write, echo=False):
        self.app = app
        self.write = write
        self.echo = echo
        self._buf = bytearray(MAX_LINE)
        self._n = 0
        self._over = False
        self._bad = False
        self._cr = False
        self._eb = bytearray(_ECHO)
        self._en = 0
        self._more = None  # the generator of a long reply still being produced
        self._stream = None  # list of (kind, row) while streaming
        self._every = 0
        self._due = 0
        self.lines = 0
        self.errors = 0
        self.refused = 0

    @property
    def streaming(self):
        return self._stream is not None

    @property
    def busy(self):
        """A long reply is still being produced: feed() takes nothing until poll() has finished it."""
        return self._more is not None

    # --- input ------------------------------------------------------------------------------------------------
    def feed(self, data):
        """Takes bytes (bytes / bytearray / memoryview / str) as they arrived; executes at most one command.
        Returns the number of bytes consumed: len(data), fewer when a command ran with bytes left over, 0 while
        busy (a long reply still being written). Pass data[n:] next time (after poll() while busy)."""
        if self._more is not None:
            return 0
        if isinstance(data, str):
            data = data.encode()
        n = len(data)
        i = 0
        while i < n:
            b = data[i]
            i += 1
            if b == 3:  # Ctrl-C: the REPL's business (never seen on the board)
                continue
            if self._cr:
                self._cr = False
                if b == 10:  # the LF of a CRLF
                    continue
            if self._stream is not None:
                self._stream = None
                if b < 32 or b >= 127:  # Enter / any control: just stop
                    if b == 13:
                        self._cr = True
                    continue
            if b == 13 or b == 10:
                self._cr = b == 13
                self._echo_byte(13)
                self._echo_byte(10)
                if self._end_line():
                    self._flush_echo()
                    return i
            elif 32 <= b < 127 or b == 9:
                if self._n < MAX_LINE:
                    c = 32 if b == 9 else b
                    self._buf[self._n] = c
                    self._n += 1
                    self._echo_byte(c)
                else:
                    self._over = True
            elif b == 8 or b == 127:
                if self._n > 0 and not self._over:
                    self._n -= 1
                    self._echo_byte(8)
                    self._echo_byte(32)
                    self._echo_byte(8)
            else:
                self._bad = True
        self._flush_echo()
        return n

    def feed_all(self, data):
        """feed() until everything is consumed and every reply written (unbounded: for the host and tests)."""
        if isinstance(data, str):
            data = data.encode()
        while data:
            k = self.feed(data)
            data = data[k:]
            while self.pump():
                pass

    def _echo_byte(self, b):
        if not self.echo:
            return
        if self._en >= _ECHO:
            self._flush_echo()
        self._eb[self._en] = b
        self._en += 1

    def _flush_echo(self):
        if self._en:
            self.write(bytes(self._eb[:self._en]).decode())
            self._en = 0

    def _end_line(self):
        # True when something was executed or replied.
        n = self._n
        over = self._over
        bad = self._bad
        self._n = 0
        self._over = False
        self._bad = False
        if over:
            self.refused += 1
            self._flush_echo()
            self.reply("line too long (max %d characters)" % MAX_LINE)
            return True
        if bad:
            self.refused += 1
            self._flush_echo()
            self.reply("line ignored: control or non-ASCII bytes in it")
            return True
        if n == 0:
            return False
        self._flush_echo()
        self._run(bytes(self._buf[:n]).decode())
        return True

    # --- output -----------------------------------------------------------------------------------------------
    def reply(self, text):
        self.write(text + NL)

    def _err(self, text):
        self.errors += 1
        self.reply(text)

    def pump(self):
        """Writes the next piece of a long reply; True while more is pending."""
        g = self._more
        if g is None:
            return False
        try:
            text = next(g)
        except StopIteration:
            self._more = None
            return False
        except Exception as e:
            self._more = None
            self._err("error: %s %s" % (type(e).__name__, e))
            return False
        self.write(text)
        return True

    def poll(self, now_ms):
        """The console task calls this often: the next piece of a long reply (then True: call again soon), or
        a stream line when one is due. False when there is nothing more to do now."""
        if self._more is not None:
            return self.pump()
        s = self._stream
        if s is None:
            return False
        late = ticks_diff(now_ms, self._due)
        if late < 0:
            return False
        self._due = ticks_add(self._due, self._every) if late < self._every else ticks_add(now_ms, self._every)
        out = []
        for kind, r in s:
            out.append(self._text(kind, r))
        self.write(",".join(out) + NL)
        return False

    # --- commands ---------------------------------------------------------------------------------------------
    def execute(self, line):
        """Runs one command line (str) and writes its whole reply (host / simulator; unbounded)."""
        self._run(line)
        while self.pump():
            pass

    def _run(self, line):
        # Starts one command: short replies are written at once, a long one's first piece (the rest: pump()).
        # Never raises (bar KeyboardInterrupt).
        self._more = None
        self._stream = None
        try:
            words = line.split()
        except Exception:
            return
        if not words:
            return
        self.lines += 1
        cmd = words[0].lower()
        args = words[1:]
        try:
            spec = _CMD_ARGS.get(cmd)
            if spec is None:
                self._err("unknown command %s (try help)" % words[0])
            elif spec == "" and args:
                self._err("usage: %s (no arguments)" % cmd)
            else:
                g = getattr(self, "_c_" + cmd)(args)
                if g is not None:  # a generator: a long reply
                    self._more = g
                    self.pump()
        except Exception as e:  # a bug must not take the console (or the car) down
            self._err("error: %s %s" % (type(e).__name__, e))

    def _hv(self):
        # Not just the main contactor: precharge counts (a changed udcnom there closes main on a low link).
        return self.app.vcm.hv_lock

    def _applied(self):
        # The shell follows a parameter change at once; "" or ", " + what went wrong doing so.
        f = getattr(self.app, "params_changed", None)
        err = f() if f is not None else None
        return "" if err is None else ", but " + err

    def _lookup(self, name):
        # ("p", row) / ("l", live row) / None
        n = name.lower()
        r = P.row(n)
        if r is not None:
            return ("p", r)
        r = _LIVE_BY_NAME.get(n)
        if r is not None:
            return ("l", r)
        return None

    def _text(self, kind, r):
        if kind == "p":
            return "%d" % getattr(self.app.params, r[P_NAME])
        v = r[L_GET](self.app)
        if isinstance(v, str):
            return v
        return fixed(v, r[L_DEC])

    def _names(self, text):
        # "a,b,c" -> [(kind, row)], or an error text
        out = []
        for nm in text.split(","):
            if not nm:
                continue
            k = self._lookup(nm)
            if k is None:
                return "unknown parameter %s" % nm
            out.append(k)
        if not out:
            return "no names given"
        return out

    def _c_help(self, args):
        if args:
            k = self._lookup(args[0])
            cmd = ""  # a command of that name (`rec` is a command and a live value: both are told)
            for c in COMMANDS:
                if c[0] == args[0].lower():
                    cmd = "%s %s: %s" % (c[0], c[1], c[2]) if c[1] else "%s: %s" % (c[0], c[2])
            if k is None:
                if cmd:
                    self.reply(cmd)
                else:
                    self._err("unknown command or parameter %s" % args[0])
            elif k[0] == "p":
                r = k[1]
                self.reply("%s: %s (%s, default %d%s, id %d)" % (
                    r[P_NAME], r[P_HELP], P.range_text(r), r[P_DEF], ", HV lock" if r[P_LOCK] else "", r[P_ID]))
            else:
                r = k[1]
                u = r[L_UNIT]
                live = "%s: %s (live%s)" % (r[L_NAME], r[L_HELP], (", " + u) if u else "")
                self.reply(cmd + "; the live value " + live if cmd else live)
            return
        return self._help_lines()

    def _help_lines(self):
        for c in COMMANDS:
            yield "%-9s%-18s%s" % (c[0], c[1], c[2]) + NL

    def _c_get(self, args):
        if len(args) != 1:
            self._err("usage: get NAME[,NAME..]")
            return
        ks = self._names(args[0])
        if isinstance(ks, str):
            self._err(ks)
            return
        self.reply(",".join([self._text(k, r) for k, r in ks]))

    def _c_set(self, args):
        if len(args) != 2:
            self._err("usage: set NAME VALUE")
            return
        name = args[0].lower()
        if name in _LIVE_BY_NAME:
            self._err("%s is a live value (read only)" % name)
            return
        p = self.app.params
        v, err = p.check(name, args[1], self._hv())
        if err is None:
            err = p.excluded(name, v)
        if err is None:
            err = p.set(name, args[1], self._hv())
        if err is None:
            self.reply("OK" + self._applied())
        else:
            if err.startswith("unknown parameter"):
                err = "unknown parameter %s" % args[0]
            self._err(err)

    def _c_list(self, args):
        p = self.app.params
        for r in TABLE:
            u = r[P_UNIT]
            lock = ", HV lock" if r[P_LOCK] else ""
            if P.is_enum(r):
                yield "%s = %d (%s; default %d%s)" % (r[P_NAME], getattr(p, r[P_NAME]), u, r[P_DEF], lock) + NL
            else:
                yield "%s = %d %s (%d..%d, default %d%s)" % (
                    r[P_NAME], getattr(p, r[P_NAME]), u, r[P_MIN], r[P_MAX], r[P_DEF], lock) + NL
        for r in LIVE:
            u = r[L_UNIT]
            if u and "=" not in u:
                yield "%s = %s %s (live)" % (r[L_NAME], self._text("l", r), u) + NL
            else:
                yield "%s = %s (live)" % (r[L_NAME], self._text("l", r)) + NL

    def _refuse_hv(self, what):
        if self._hv():
            self._err("cannot %s while HV is on" % what)
            return True
        return False

    def _settings(self):
        s = getattr(self.app, "settings", None)
        if s is None:
            self._err("no parameter storage on this build")
        return s

    def _c_save(self, args):
        if self._refuse_hv("save"):
            return
        s = self._settings()
        if s is None:
            return
        err = s.save()
        if err is None:
            self.reply("OK")
        else:
            self._err(err)

    def _c_load(self, args):
        if self._refuse_hv("load"):
            return
        s = self._settings()
        if s is None:
            return
        ok, text = s.load(self.app.now_ms())
        if ok:
            self.reply(("OK" if text is None else "OK, " + text) + self._applied())
        else:
            self._err(text)

    def _c_defaults(self, args):
        if self._refuse_hv("load defaults"):
            return
        self.app.params.defaults()
        self.reply("OK" + self._applied())

    def _c_status(self, args):
        out = []
        for name in STATUS:
            r = _LIVE_BY_NAME[name]
            v = r[L_GET](self.app)
            u = r[L_UNIT]
            if isinstance(v, str):
                t = v
            elif "=" in u:
                t = enum_label(u, v).lower()
            else:
                t = fixed(v, r[L_DEC]) + u
            out.append("%s=%s" % (name, t))
        m = _missing(self.app)
        if m:
            out.append("missing=" + m)   # a frame a peer needs is not on the bus (devices.Frames.check)
        self.reply(" ".join(out))

    def _c_errors(self, args):
        fl = self.app.vcm.faults
        ent = fl.entries()
        c = fl.codes()
        yield "latched: %s; log: %d entries, %d written, boot %d" % (
            "+".join([F.name(x) for x in c]) if c else "none", len(ent), fl.count, fl.boot) + NL
        now = self.app.now_ms()
        for code, boot, t, a, b in ent:
            ago = ""
            if boot == (fl.boot & 0xFF):
                ago = " (%s s ago)" % fixed(ticks_diff(now, t) // 100, 1)
            if code == F.FRAME_MISSING:   # a is a CAN id: as every other id is shown
                yield "boot %d t=%d ms%s %s (%d) id=%03X ms=%d" % (boot, t, ago, F.name(code), code, a, b) + NL
                continue
            yield "boot %d t=%d ms%s %s (%d) a=%d b=%d" % (boot, t, ago, F.name(code), code, a, b) + NL

    def _c_clear(self, args):
        err = self.app.vcm.clear(self.app.now_ms())
        if err is None:
            self.reply("OK")
        else:
            self._err("cannot clear: %s" % err)

    def _c_stream(self, args):
        if len(args) < 2:
            self._err("usage: stream MS NAME[,NAME..]")
            return
        ms = P.parse_int(args[0])
        if ms is None or ms < STREAM_MIN_MS or ms > STREAM_MAX_MS:
            self._err("interval %s out of range %d..%d ms" % (args[0], STREAM_MIN_MS, STREAM_MAX_MS))
            return
        ks = self._names(",".join(args[1:]))
        if isinstance(ks, str):
            self._err(ks)
            return
        if len(ks) > STREAM_MAX_NAMES:
            self._err("at most %d names" % STREAM_MAX_NAMES)
            return
        self._every = ms
        self._due = self.app.now_ms()
        self._stream = ks

    def _c_json(self, args):
        full = len(args) == 1 and args[0].lower() == "full"
        if args and not full:
            self._err("usage: json [full]")
            return
        # One line, written in pieces of _JSON_STEP entries (a piece per step: see pump()).
        p = self.app.params
        parts = []
        sep = '{"params":{'
        for r in TABLE:
            v = getattr(p, r[P_NAME])
            if full:
                parts.append('%s"%s":{"id":%d,"value":%d,"unit":%s,"min":%d,"max":%d,"default":%d,"hvlock":%d}' % (
                    sep, r[P_NAME], r[P_ID], v, _js(r[P_UNIT]), r[P_MIN], r[P_MAX], r[P_DEF], r[P_LOCK]))
            else:
                parts.append('%s"%s":%d' % (sep, r[P_NAME], v))
            sep = ","
            if len(parts) >= _JSON_STEP:
                yield "".join(parts)
                parts = []
        sep = '},"live":{'
        for r in LIVE:
            v = r[L_GET](self.app)
            parts.append('%s"%s":%s' % (sep, r[L_NAME], _js(v) if isinstance(v, str) else fixed(v, r[L_DEC])))
            sep = ","
            if len(parts) >= _JSON_STEP:
                yield "".join(parts)
                parts = []
        parts.append("}}" + NL)
        yield "".join(parts)

    def _c_stats(self, args):
        app = self.app
        if args:
            a = args[0].lower() if len(args) == 1 else ""
            if a == "mem":
                # gc.mem_free() walks the whole heap's allocation table: milliseconds with a PSRAM heap.
                if self._refuse_hv("scan the heap"):
                    return
                if hasattr(gc, "mem_free"):
                    self.reply("mem: free=%d alloc=%d" % (gc.mem_free(), gc.mem_alloc()))
                else:
                    self._err("no gc.mem_free on this interpreter")
            elif a == "reset":
                for t in app.tasks:
                    t.reset_stats()
                if app.can is not None:
                    app.can.stats.reset()
                if getattr(app, "collector", None) is not None:
                    app.collector.reset_stats()
                self.lines = self.errors = self.refused = 0
                self.reply("OK")
            else:
                self._err("usage: stats [reset|mem]")
            return
        for t in app.tasks:
            yield "task %s: every %d ms, runs=%d overruns=%d late_max=%dus run_max=%dus run_last=%dus" % (
                t.name, t.period_us // 1000, t.runs, t.overruns, t.worst_late_us, t.worst_run_us, t.last_run_us) + NL
        c = app.can
        if c is None:
            yield "can: no controller" + NL
        else:
            s = c.stats
            out = []
            for k in ("tx_frames", "tx_done", "tx_dropped", "tx_busy", "rx_frames", "rx_overflows", "irqs",
                      "error_irqs", "error_passive", "bus_off", "bus_off_recoveries", "reinits"):
                out.append("%s=%d" % (k, getattr(s, k, 0)))
            yield "can: " + " ".join(out) + NL
            yield "can errors: tec=%d rec=%d eflg=0x%02x" % (c.tec, c.rec, c.eflg) + NL
        yield "console: lines=%d errors=%d refused=%d" % (self.lines, self.errors, self.refused) + NL
        if getattr(app, "collector", None) is not None:
            yield app.collector.text() + NL
        fs = getattr(app, "frames", None)
        if fs is not None and fs.unplaced:
            # A device row no TX batch had room for (docs/devices.md: a ZE1 with the spoofed battery, 1ED).
            yield "devices: not sent, no TX buffer left: %s" % " ".join(["%03X" % i for i in fs.unplaced]) + NL
        if fs is not None:
            yield "devices: missing on the bus now: %s; %d frames carried to a later batch, %d lost (no TX buffer)" % (
                fs.missing() or "none", fs.carried, fs.lost) + NL

    def _c_wifi(self, args):
        # The dashboard (web.py) answers: its password and PIN are shown here and nowhere else.
        w = getattr(self.app, "web", None)
        if w is None:
            self._err("no Wi-Fi dashboard on this build")
            return
        w.console(self, args)

    # --- the flight recorder (recorder.py, issue 24) -----------------------------------------------------------
    def _c_rec(self, args):
        rec = getattr(self.app, "recorder", None)
        if rec is None:
            self._err("no flight recorder")
            return
        if args:
            if len(args) != 1 or args[0].lower() != "clear":
                self._err("usage: rec [clear]")
                return
            if self._refuse_hv("clear recordings"):
                return
            self.reply("OK, %d removed" % rec.clear())
            return
        return self._rec_lines(rec)

    def _rec_lines(self, rec):
        yield rec.status() + NL
        hs = rec.headers()
        if not hs:
            yield "no recordings (tools/deploy.py recorder pull fetches them)" + NL
        now = self.app.now_ms()
        for slot, seq, code, b, fa, fb, t, n, size in hs:
            ago = " (%s s ago)" % fixed(ticks_diff(now, t) // 100, 1) if seq in rec.saved else ""
            yield "#%d boot %d t=%d ms%s %s a=%d b=%d, %d records, %d KB (/rec%d.bin)" % (
                seq, b, t, ago, F.name(code), fa, fb, n, (size + 1023) // 1024, slot) + NL

    def _c_reset(self, args):
        if self._refuse_hv("reset"):
            return
        self.reply("OK, resetting")
        self.app.request_reset()
