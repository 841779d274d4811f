"""The one parameter table: every tunable value of the controller, declared once.

Each row of TABLE is a tuple (index constants P_*):

    id      stable number, never reused or renumbered (persistence stores ids, not names)
    name    short, lowercase, no spaces (openinverter style), also the attribute name on Params
    unit    physical unit of the integer value ("V", "ms", "Nm", ...), or an enum text "0=Off, 1=On"
    min     smallest accepted value (inclusive)
    max     largest accepted value (inclusive)
    default
    hv_lock 1: may not change while HV is on (the main contactor is closed)
    help    one line

All values are ints in the unit the row names: floats are heap objects on MicroPython, and the controller's
10 ms path reads these values every cycle. The hot path reads them as plain attributes (`p.udcnom`); the
console (issue 5) uses `set`, `get`, iteration and `by_id`.

Defaults that the public sources disagree on are decided here and cite ../shared/leaf-can/PROTOCOL.md
("P§n"); values no source settles are engineering guesses for a 96-cell Leaf pack and are marked "guess".
"""

P_ID = 0
P_NAME = 1
P_UNIT = 2
P_MIN = 3
P_MAX = 4
P_DEF = 5
P_LOCK = 6
P_HELP = 7

# Ids are grouped by subject with gaps; a new parameter takes a free id in its group and keeps it forever.
TABLE = (
    # --- HV, precharge, contactors (1..19)
    (1, "udcnom", "V", 100, 500, 360, 1, "nominal pack voltage: the precharge target (guess for a 96-cell pack)"),
    (2, "udcdelta", "V", 1, 50, 20, 1, "main contactor closes once DC link >= udcnom - udcdelta (ZV: pack - 20 V)"),
    (3, "tpcmin", "ms", 0, 10000, 1000, 1, "precharge runs at least this long before the main contactor (ZV 1 s)"),
    (4, "tpcto", "ms", 500, 10000, 5000, 1, "precharge target not reached in this time -> fault (ZV 5 s)"),
    (5, "pctau", "ms", 1, 5000, 20, 1,
     "fastest plausible precharge RC time constant; faster rise = shorted resistor / welded contactor"),
    (6, "udccol", "V", 0, 500, 200, 1, "DC link below this while HV is on = collapse -> fault"),
    (7, "negcon", "0=Absent, 1=Present", 0, 1, 0, 1, "negative contactor fitted (closes first, opens last)"),
    (8, "tgap", "ms", 10, 500, 50, 1, "step between relay actions: torque 0, main open, precharge open, neg open"),
    (9, "pctries", "tries", 1, 5, 3, 1, "failed precharges in a row before precharge locks out until clear (resistor)"),
    # --- start, shutdown, VCM frames, supervision (20..39)
    (20, "toffmax", "ms", 0, 30000, 2500, 0, "shutdown waits at most this for low speed before opening (ZV 2.5 s)"),
    (21, "offspd", "rpm", 0, 10000, 300, 0, "shutdown opens the contactors early once |speed| <= this ..."),
    (22, "offtrq", "Nm", 0, 200, 10, 0, "... and the inverter's own torque |1DA| <= this"),
    (23, "tkeep", "ms", 0, 60000, 2000, 0, "VCM frames go on this long after the contactors open (inverter discharge)"),
    (24, "tsleep", "ms", 0, 10000, 300, 0, "then 50B says sleep (all zero) this long before the VCM goes silent"),
    (25, "tsettle", "ms", 0, 10000, 1000, 1, "no start within this time of boot or of ignition on"),
    (26, "tstale", "ms", 20, 500, 100, 1, "1DA older than this while HV is on or precharging -> fault"),
    (27, "inverr", "raw", 0, 252, 0xB0, 1, "1DA byte 6 bits that mean an inverter fault (DM/ZV: 0xB0)"),
    # --- throttle pedal (40..59); raw = ADC read_u16 counts
    (40, "potmode", "0=Dual, 1=Single", 0, 1, 0, 1, "pedal channels: Dual checks A against B; Single uses A only"),
    (41, "pot1min", "dig", 0, 65535, 10000, 1, "channel A raw at pedal released"),
    (42, "pot1max", "dig", 0, 65535, 55000, 1, "channel A raw at full pedal (below pot1min = inverted track)"),
    (43, "pot2min", "dig", 0, 65535, 5000, 1, "channel B raw at pedal released"),
    (44, "pot2max", "dig", 0, 65535, 27500, 1, "channel B raw at full pedal"),
    (45, "potmarg", "dig", 0, 20000, 3000, 1, "raw beyond a channel's min..max by more than this = out of range"),
    (46, "pottol", "%", 1, 100, 15, 0, "channels disagreeing by more than this (of travel) ..."),
    (47, "pottime", "ms", 0, 2000, 100, 0, "... or out of range for longer than this -> pedal fault"),
    (48, "potdb", "%", 0, 50, 5, 0, "deadband: pedal travel ignored at the bottom"),
    # --- torque chain (60..89); the 1D4 request is 0.25 Nm per bit, signed 12 bit (P§2)
    (60, "maxtrq", "Nm", 0, 500, 250, 0, "motor torque at full pedal (the inverter itself stops at ~250-280 Nm)"),
    (61, "maxregen", "Nm", 0, 500, 100, 0, "regen torque never exceeds this"),
    (62, "regoff", "Nm", 0, 500, 30, 0, "regen with the pedal released"),
    (63, "regbrk", "Nm", 0, 500, 80, 0, "regen with the brake pressed"),
    (64, "regmin", "rpm", 0, 3000, 100, 0, "no regen at or below this speed ..."),
    (65, "regtaper", "rpm", 0, 5000, 600, 0, "... full regen from this speed up (linear in between)"),
    (66, "rampup", "Nm/s", 1, 20000, 500, 0, "torque moves away from 0 at most this fast"),
    (67, "rampdn", "Nm/s", 250, 20000, 1000, 0, "torque moves toward 0 at most this fast (brake: 0 within 150 ms)"),
    (68, "dirspd", "rpm", 0, 2000, 50, 0, "D/R may change only at or below this speed (or along the motion)"),
    (69, "maxspd", "rpm", 0, 11000, 10000, 0, "forward speed limit: drive torque is 0 at this speed"),
    (70, "revspd", "rpm", 0, 11000, 1500, 0, "reverse speed limit"),
    (71, "spdwin", "rpm", 1, 5000, 500, 0, "drive torque fades to 0 over this window below a speed limit"),
    # --- derating (90..99)
    (90, "tinvst", "degC", -40, 200, 65, 0, "inverter temperature where torque starts to derate (guess)"),
    (91, "tinvend", "degC", -40, 200, 80, 0, "inverter temperature where torque is 0 (guess)"),
    (92, "tmotst", "degC", -40, 250, 120, 0, "motor temperature where torque starts to derate (guess)"),
    (93, "tmotend", "degC", -40, 250, 140, 0, "motor temperature where torque is 0 (guess)"),
    (94, "udclow", "V", 0, 500, 280, 0, "drive torque derates below this DC voltage ..."),
    (95, "udcmin", "V", 0, 500, 250, 0, "... to 0 at this DC voltage"),
    (96, "udchigh", "V", 0, 600, 395, 0, "regen derates above this DC voltage ..."),
    (97, "udcmax", "V", 0, 600, 405, 0, "... to 0 at this DC voltage"),
    # --- protocol choices where sources disagree (100..119)
    (100, "lim1d4h", "raw", 0, 255, 0x6E, 0,
     "1D4 byte 0 motor torque limit, 2.5 Nm/bit: AZE0 VCM 0x6E (default), DM/ZV 0xF7 (P§2)"),
    (101, "lim1d4l", "raw", 0, 255, 0x6E, 0,
     "1D4 byte 1 regen limit, 2.5 Nm/bit: AZE0 VCM 0x6E (default), DM 0x07, ZV 0xF7, BE 0x70 (P§2)"),
    (102, "b1d4run", "raw", 0, 255, 0x30, 0, "1D4 byte 6 driving (D / R): DM/ZV 0x30 (default, also ZE0); AZE0 VCM 0x01"),
    (103, "b1d4chg", "raw", 0, 255, 0xE0, 1, "1D4 byte 6 while charging: DM/ZV and e-NV200 0xE0 (P§2)"),
    (104, "gen", "0=AZE0, 1=ZE0", 0, 1, 0, 1, "VCM generation spoken: 50B DLC 7 (AZE0) or 6 (ZE0) (P§2, P§5)"),
    (105, "tmp55a", "0=DM/ZV degF, 1=DBC 0.5 degC", 0, 1, 0, 1,
     "55A temperature reading (unsettled, P§3): DM/ZV b1 motor b2 inverter; DBC b4 motor b2 IGBT"),
    (106, "spoof", "0=Off, 1=On", 0, 1, 1, 1, "send the battery frames (1DB, 1DC, ...) when no Leaf battery is fitted"),
    (107, "canxtal", "MHz", 8, 20, 8, 1, "the MCP2515 module's crystal (printed on the can; selftest detects it)"),
    (108, "b1d4park", "raw", 0, 255, 0x00, 0,
     "1D4 byte 6 with HV on, not driving: 0x00 as e-NV200 and ZE0 VCMs in READY (default); AZE0 Leaf 0x21"),
    (109, "b1d4wake", "raw", 0, 255, 0x40, 0,
     "1D4 byte 6 with HV off (wake, precharge, shutdown): e-NV200 VCM 0x40 (default; bits 7..6 shift inhibit)"),
    (110, "b11apark", "raw", 0, 255, 0x01, 0,
     "11A byte 0 in park: AZE0 Leaf and ZV 0x01 (default), e-NV200 0x10; 0x10 is added after a shift (real VCMs)"),
    # --- charging through the PDM (120..139): see docs/charging.md
    (120, "chgen", "0=Off, 1=On", 0, 1, 1, 0, "charging allowed: a 679 wake / the PDM's AC report starts a session; 0 stops one"),
    (121, "chgmaxw", "W", 0, 10000, 3300, 0,
     "charge power command ceiling, DC side (3.3 kW PDM; 6.6 kW option; ZV and BE cap 1F2 at 6 kW, P§2)"),
    (122, "chgacmax", "A", 0, 80, 0, 0, "AC current limit (0 = none; the EVSE pilot limits the PDM anyway)"),
    (123, "chgimax", "A", 0, 100, 20, 0, "DC charge current limit into the pack (guess)"),
    (124, "chgvtgt", "V", 100, 500, 390, 0,
     "target pack voltage: charging tapers to 0 here (guess: 96 cells x 4.06 V)"),
    (125, "chgvmarg", "V", 2, 50, 8, 0, "pack above chgvtgt + this while charging -> fault (1DA reads 2 V/bit)"),
    (126, "chgtaper", "V", 0, 100, 10, 0, "power falls linearly to 0 over this window below chgvtgt (CV phase)"),
    (127, "chgramp", "W/s", 1, 20000, 500, 0, "charge power command rises at most this fast (falls at once)"),
    (128, "chgendw", "W", 0, 10000, 300, 0, "charge complete once the taper holds the power at or below this ..."),
    (129, "tchgend", "ms", 0, 600000, 30000, 0, "... for this long"),
    (130, "pdmstale", "ms", 200, 5000, 500, 1, "0x390 older than this while charging -> fault (390 every 100 ms)"),
    (131, "tchgoff", "ms", 0, 10000, 1000, 0,
     "at a stop: power 0, wait at most this for PDM output <= chgoffw, then open"),
    (132, "chgoffw", "W", 0, 1000, 100, 0, "PDM output (390, 0.1 kW steps) at or below this counts as stopped"),
    (133, "tacwait", "ms", 1000, 120000, 20000, 0,
     "no AC reported (390) this long after charging began: stop, no fault"),
    (134, "chgavail", "0=Ignore, 1=Cap", 0, 1, 1, 0,
     "cap the command at the PDM's available power (390), as the AZE0 VCM follows it (P§2)"),
    (135, "dcdcbit", "0=Never, 1=While HV off", 0, 1, 1, 0,
     "1F2 byte 2 bit 2 (unsettled, P§2): set while HV is off as the AZE0 VCM; C55: it disables the DC/DC"),
    (136, "dcdcreq", "raw", 0, 255, 0xAC, 0,
     "1F2 byte 3 DC/DC voltage request (unsettled scale, P§2): ZV 0xAC; AZE0 logs A0-B4"),
    (137, "spfsoc", "%", 0, 100, 64, 0, "usable SOC in the spoofed 1DB (ZV 0x40 = 64 %)"),
    # --- devices on the bus (140..159): which module talks to each peer (docs/devices.md); the battery is `spoof`
    (140, "inverter", "0=Leaf AZE0/ZE0, 1=Leaf ZE1", 0, 1, 0, 1,
     "inverter device: the 2011-17 Leaf inverter (gen picks the AZE0 / ZE0 VCM's 50B) or the 2018+ ZE1 (P§6)"),
    (141, "charger", "0=None, 1=Leaf PDM", 0, 1, 1, 1,
     "charger device: the Leaf PDM (1F2 for charging and the DC/DC; 390 / 393 / 679), or none on the bus"),
    (142, "ze1src", "0=Real cars, 1=Bridge", 0, 1, 0, 1,
     "ZE1 extra frames where sources disagree (1CB 355 3B8 5C5 5CD): real ZE1 cars, or the DU bridge's (P§6.2)"),
    (143, "ze1pause", "0=Never, 1=AC charging", 0, 1, 1, 0,
     "ZE1: pause the extra frames but 4B9 while AC charging (DU: else 62 kWh Leafs stop charging; unsettled)"),
    (144, "inverrz", "raw", 0, 252, 0xB0, 1,
     "ZE1 1DA byte 6 bits that mean an inverter fault (a ZE1 in a car sends 0x08: normal; P§6.5)"),
    (145, "spfdis", "kW", 10, 255, 160, 0,
     "discharge limit in the spoofed 1DC (ZV 160 kW; real packs: AZE0 40 kWh 110, ZE1 e+ 180; P§6.4)"),
    (146, "ze1batt", "0=Battery, 1=Controller", 0, 1, 0, 1,
     "ZE1 with a Leaf battery (spoof 0): 1C2/1ED/5EB from a 62 kWh pack (watched), or the controller sends them"),
    # --- the battery device: a Leaf battery or a CAN BMS on the bus (160..179): see docs/bms.md
    (160, "bmsdev", "0=None, 1=Leaf battery, 2=CAN BMS", 0, 2, 0, 1,
     "battery on the bus whose limits count: Leaf battery (1DB/1DC/55B, spoof 0) or 0x35x BMS (spoof 1)"),
    (161, "bmsto", "ms", 500, 60000, 3000, 1,
     "battery limits (351 / 1DB) older than this: no charging, limp while driving (SAF 3 s, P§7.1)"),
    (162, "bmslimp", "kW", 0, 50, 10, 1, "drive power while driving on after the battery went silent (regen 0)"),
    (163, "bmseff", "%", 50, 100, 85, 1,
     "motor + inverter efficiency assumed turning the discharge limit into torque (lower = safer)"),
    (164, "bmsapol", "0=01 active (SimpBMS), 1=10 active (Safiery)", 0, 1, 0, 1,
     "35A alarm bit-pair polarity (unsettled, P§8.9)"),
    (165, "bmsvres", "0=0.01 V, 1=0.1 V", 0, 1, 0, 1, "356 pack voltage resolution (SimpBMS VictronHV: 0.1 V)"),
    (166, "bmsisgn", "0=+ charging, 1=+ discharging", 0, 1, 0, 0, "356 current sign (unsettled, P§7.2)"),
    (167, "bmssocr", "0=bytes 0-1 1 %, 1=bytes 4-5 0.1 %, 2=bytes 4-5 0.01 %", 0, 2, 0, 0,
     "355 SOC source (P§7.2: every sender fills bytes 0-1)"),
    # --- the Wi-Fi dashboard (180..189): see docs/dashboard.md; the web itself can change none of these
    (180, "wifi", "0=Off, 1=On", 0, 1, 0, 0,
     "the dashboard's access point: on once saved as 1 with the key off; 0 turns it off at once"),
    (181, "wifich", "channel", 1, 13, 6, 0, "the access point's 2.4 GHz channel (applies when it starts)"),
)

# Settings that cannot go together on one bus: (name, value, other name, other value, why). The console's `set`
# (and the dashboard, which goes through it) refuses the second of a pair; a saved file is not judged here (its
# values arrive one by one in id order).
EXCLUDES = (
    ("inverter", 1, "bmsdev", 2, "a ZE1 and a CAN BMS both use id 0x355 (P§7.1): the BMS would need a bus of its own"),
    ("spoof", 1, "bmsdev", 1, "a Leaf battery on the bus sends 1DB / 1DC / 55B itself: set spoof 0 first"),
)

_BY_NAME = {}
_BY_ID = {}
for _r in TABLE:
    _BY_NAME[_r[P_NAME]] = _r
    _BY_ID[_r[P_ID]] = _r
del _r


def row(name):
    """The table row of a parameter name, or None."""
    return _BY_NAME.get(name)


def row_by_id(pid):
    """The table row of a parameter id, or None."""
    return _BY_ID.get(pid)


def is_enum(r):
    """True when the row's unit is an enum text ("0=Off, 1=On")."""
    return "=" in r[P_UNIT]


def range_text(r):
    """"0..400 Nm" or "0..1 (0=Off, 1=On)": the range as the console prints it."""
    if is_enum(r):
        return "%d..%d (%s)" % (r[P_MIN], r[P_MAX], r[P_UNIT])
    return "%d..%d %s" % (r[P_MIN], r[P_MAX], r[P_UNIT])


_DIGIT_VALUES = "0123456789abcdef"
_UPPER_HEX = "ABCDEF"
_BLANKS = " \t\r\n"


def parse_int(value):
    """An int from an int, an integral float or a text; None when it is none of those. Never raises (the console
    hands in whatever the user typed).

    The text grammar (docs/tuning.md), ASCII only, the same on CPython and MicroPython:
        [blanks] [+|-] ( digits | 0x hexdigits | 0b bits ) [blanks]      e.g. 250, -40, +7, 0x6E, -0X6e, 0b101
    Prefix letters and hex digits in either case. Nothing else: no `_` (CPython's int() takes "1_000"), no sign
    after the prefix ("0x-5"), no non-ASCII digits or blanks (CPython's int() takes them, MicroPython's does not),
    which is why this reads the digits itself instead of calling int() on the text."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value == value and value not in (float("inf"), float("-inf")) and int(value) == value:
            return int(value)
        return None
    if isinstance(value, (bytes, bytearray)):
        try:
            value = bytes(value).decode()
        except Exception:
            return None
    if not isinstance(value, str):
        return None
    s = value.strip(_BLANKS)
    neg = s[:1] == "-"
    if neg or s[:1] == "+":
        s = s[1:]
    base = 10
    if s[:2] in ("0x", "0X"):
        base = 16
        s = s[2:]
    elif s[:2] in ("0b", "0B"):
        base = 2
        s = s[2:]
    if not s:
        return None
    v = 0
    for c in s:
        d = _DIGIT_VALUES.find(c)
        if d < 0:
            d = _UPPER_HEX.find(c)
            if d >= 0:
                d += 10
        if d < 0 or d >= base:
            return None
        v = v * base + d
    return -v if neg else v


class Params:
    """The live values, one attribute per row (`p.udcnom`), all ints. Build it, then `set` / `set_id`."""

    def __init__(self):
        self.defaults()

    def defaults(self):
        """Every parameter back to its default."""
        for r in TABLE:
            setattr(self, r[P_NAME], r[P_DEF])

    def __iter__(self):
        """Iterates over the table rows (use `get(row[P_NAME])` for the value)."""
        return iter(TABLE)

    def get(self, name):
        """The value of a parameter, or None for an unknown name."""
        if name not in _BY_NAME:
            return None
        return getattr(self, name)

    def get_id(self, pid):
        """The value of a parameter by id, or None for an unknown id."""
        r = _BY_ID.get(pid)
        return None if r is None else getattr(self, r[P_NAME])

    def check(self, name, value, hv_on=False):
        """Validates without changing anything: (int value, None) or (None, error text)."""
        r = _BY_NAME.get(name) if isinstance(name, str) else None
        if r is None:
            return None, "unknown parameter %s" % (name,)
        v = parse_int(value)
        if v is None:
            return None, "value %s is not a whole number" % (value,)
        if v < r[P_MIN] or v > r[P_MAX]:
            return None, "value %d out of range %s" % (v, range_text(r))
        if hv_on and r[P_LOCK] and v != getattr(self, name):
            return None, "cannot change %s while HV is on" % (name,)
        return v, None

    def excluded(self, name, v):
        """Why `name` = v cannot go with the present settings (EXCLUDES), or None."""
        for a, va, b, vb, why in EXCLUDES:
            if (name == a and v == va and getattr(self, b) == vb) or (name == b and v == vb and getattr(self, a) == va):
                return "%s %d does not go with %s %d: %s" % (name, v, b if name == a else a, vb if name == a else va,
                                                            why)
        return None

    def set(self, name, value, hv_on=False):
        """Sets a parameter; returns None when done, else the one-line reason (nothing changed). Never raises
        for bad input. hv_on: the caller's HV state, refusing hv_lock rows (setting the same value passes)."""
        v, err = self.check(name, value, hv_on)
        if err is None:
            setattr(self, name, v)
        return err

    def set_id(self, pid, value, hv_on=False):
        """`set` by stable id (loading a saved file)."""
        r = _BY_ID.get(pid)
        if r is None:
            return "unknown parameter id %s" % (pid,)
        return self.set(r[P_NAME], value, hv_on)

    def changed(self):
        """(name, value) of every parameter that differs from its default (allocates: console only)."""
        return [(r[P_NAME], getattr(self, r[P_NAME])) for r in TABLE if getattr(self, r[P_NAME]) != r[P_DEF]]
