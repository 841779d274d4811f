"""Fault codes, the latched fault set and the fault log.

A fault code is a small int (1..29, so the latched set is one small-int bitmask). `trip` latches a code and,
the first time it latches, writes one log entry: (code, boot, time ms, value a, value b), the values being
whatever caused it (a voltage, an age, a raw reading: see the code's comment). `note` logs without latching,
for events worth keeping (a reset cause, a corrupt parameter file). Latched codes clear only with `clear()`,
which the mode machine calls on an explicit recovery (reset command or key cycle); the log is kept.

The log is a preallocated ring of LOG_SIZE entries: writing one allocates nothing. Routine entries (ROUTINE: a
reset cause, faults cleared, a maintenance stop) never push a fault out of it: when it is full, a new entry takes
the place of the oldest routine one; only a log of nothing but faults loses its oldest fault to a new fault, and
drops a new routine entry instead. So a board that is deployed, backed up and tested every day still shows the
fault it had on the road last month. `to_bytes()` / `from_bytes()` turn it into a small checksummed blob so the
shell can keep it across soft resets (RTC memory, a file); `boot` counts the restores, so entries from before a
reset are told apart (ticks restart on reset).
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


from array import array

NONE = const(0)
PC_TIMEOUT = const(1)  # precharge target not reached in tpcto: a = DC volts, b = ms since the relay closed
PC_FAST = const(2)  # DC link rose faster than the precharge resistor allows: a = rise V, b = over ms
PC_CHARGED = const(3)  # DC link already at target when precharge began (welded contactor?): a = V, b = target V
PC_INVALID = const(4)  # inverter voltage invalid or 1DA stale during precharge: a = 1DA age ms (-1 never), b = valid
DC_COLLAPSE = const(5)  # DC link below udccol while HV on: a = V, b = udccol
DC_INVALID = const(6)  # 1DA voltage invalid (0xFF) while HV on: a = 0, b = 0
CAN_LOSS = const(7)  # 1DA stale while HV on: a = age ms (-1 never), b = tstale
INV_ERROR = const(8)  # inverter error bits in 1DA byte 6: a = byte 6 error bits (7..2 in place), b = DC V
PEDAL_RANGE = const(9)  # pedal channel out of range: a = channel (1 = A, 2 = B), b = raw
PEDAL_PLAUS = const(10)  # pedal channels disagree: a = A demand, b = B demand (0.1 %)
TASK_EXC = const(11)  # an exception in a controller task (shell): a, b = shell's choice (task id, line)
KBD_INT = const(12)  # KeyboardInterrupt (Ctrl-C) reached the controller (shell)
WATCHDOG = const(13)  # the watchdog reset the board / a stalled loop (shell)
CAN_BUS = const(14)  # CAN controller error: bus off, chip missing (shell): a, b = error flags
PDM_SILENT = const(15)  # 0x390 stale while charging: a = 390 age ms, b = pdmstale
PDM_AC = const(16)  # the PDM reports abnormal AC (390 AC class 3) while charging: a = AC class, b = 390 status
CHG_OVERVOLT = const(17)  # pack (1DA) above chgvtgt + chgvmarg while charging: a = V, b = the limit V
PC_LOCKOUT = const(18)  # pctries precharges in a row failed: no more until clear (resistor): a = tries, b = last code
# The battery device (bms.py, docs/bms.md):
BMS_LOST = const(19)  # battery limits (351 / 1DB) stale in a charge session or precharge: a = age ms (-1 never), b = bmsto
BMS_ALARM = const(25)  # a battery alarm that stops this mode (bms.A_*): a = 35A alarm bits (bit k), b = A_* classes
# Logged only (note), never latched:
RESET_CAUSE = const(20)  # reset cause at boot: a = machine.reset_cause()
PARAM_FILE = const(21)  # parameter file bad, its values not used: a = reason (settings.BAD_*), b = detail
CLEARED = const(22)  # latched faults cleared: a = the mask that was latched, b = 1 clear(), 2 key cycle
PLUG_PULLED = const(23)  # plug input gone / AC lost while charging (a normal stop follows): a = 390 AC, b = W
MAINT_STOP = const(24)  # Ctrl-C (mpremote, tools/deploy.py) stopped the controller with HV off: a = mode
BMS_LIMP = const(26)  # battery limits stale while driving: limp (bmslimp kW, no regen): a = age ms, b = bmsto
# A frame a peer needs has not been on the bus for three periods + 100 ms (devices.Frames.check): one the
# controller sends (no TX buffer free, a full bus) or one another node should (a 62 kWh pack's 1C2 / 1ED / 5EB
# for a ZE1): a = CAN id, b = ms away
FRAME_MISSING = const(27)

NAMES = {
    NONE: "none",
    PC_TIMEOUT: "precharge_timeout",
    PC_FAST: "precharge_too_fast",
    PC_CHARGED: "precharge_already_charged",
    PC_INVALID: "precharge_voltage_invalid",
    DC_COLLAPSE: "dc_collapse",
    DC_INVALID: "dc_voltage_invalid",
    CAN_LOSS: "inverter_can_lost",
    INV_ERROR: "inverter_error",
    PEDAL_RANGE: "pedal_out_of_range",
    PEDAL_PLAUS: "pedal_disagree",
    TASK_EXC: "task_exception",
    KBD_INT: "keyboard_interrupt",
    WATCHDOG: "watchdog",
    CAN_BUS: "can_bus_error",
    PDM_SILENT: "pdm_silent",
    PDM_AC: "pdm_ac_abnormal",
    CHG_OVERVOLT: "charge_overvoltage",
    PC_LOCKOUT: "precharge_locked_out",
    BMS_LOST: "bms_lost",
    BMS_ALARM: "bms_alarm",
    RESET_CAUSE: "reset_cause",
    PARAM_FILE: "param_file_bad",
    CLEARED: "faults_cleared",
    PLUG_PULLED: "plug_pulled",
    MAINT_STOP: "maintenance_stop",
    BMS_LIMP: "bms_limp",
    FRAME_MISSING: "frame_missing",
}

LATCHING = (PC_TIMEOUT, PC_FAST, PC_CHARGED, PC_INVALID, DC_COLLAPSE, DC_INVALID, CAN_LOSS, INV_ERROR,
            PEDAL_RANGE, PEDAL_PLAUS, TASK_EXC, KBD_INT, WATCHDOG, CAN_BUS,
            PDM_SILENT, PDM_AC, CHG_OVERVOLT, PC_LOCKOUT, BMS_LOST, BMS_ALARM)

# Logged entries that record routine events, not faults: the first to go when the log is full.
ROUTINE = (RESET_CAUSE, CLEARED, MAINT_STOP)

LOG_SIZE = const(16)
_MAX_CODE = const(29)
_LIM = const(0x3FFFFFFF)  # values are clipped to a MicroPython small int (31-bit)
_MAGIC0 = const(0x46)  # "F"
_MAGIC1 = const(0x4C)  # "L"
_VERSION = const(1)
_HDR = const(8)  # magic(2) version(1) size(1) head(1) boot(1) count(2)
_ENTRY = const(14)  # code(1) boot(1) t(4) a(4) b(4)


def name(code):
    """The name of a fault code ("code_N" for an unknown one)."""
    n = NAMES.get(code)
    return n if n is not None else "code_%d" % code


def _clip(v):
    if v > _LIM:
        return _LIM
    if v < -_LIM:
        return -_LIM
    return v


class Faults:
    """latched: bitmask of latched codes (bit = code); first: the first code latched since the last clear (0 =
    none). Log ring: head (next slot), count (entries ever written, saturating at 65535), boot."""

    def __init__(self, size=LOG_SIZE):
        self.size = size
        self.latched = 0
        self.first = NONE
        self.head = 0
        self.count = 0
        self.boot = 0
        self._code = bytearray(size)
        self._boot = bytearray(size)
        self._t = array("i", [0] * size)
        self._a = array("i", [0] * size)
        self._b = array("i", [0] * size)

    # --- the hot path: allocation-free
    def is_latched(self, code):
        return ((self.latched >> code) & 1) != 0

    def trip(self, code, now_ms, a=0, b=0):
        """Latches code; logs it if it was not latched. Returns True when newly latched."""
        if code <= 0 or code > _MAX_CODE:
            code = TASK_EXC
        if self.latched & (1 << code):
            return False
        self.latched |= 1 << code
        if self.first == NONE:
            self.first = code
        self.note(code, now_ms, a, b)
        return True

    def note(self, code, now_ms, a=0, b=0):
        """Writes one log entry without latching (when the log is full: see the module text for what goes)."""
        n = self.size
        if self.count >= n:
            k = self._oldest_routine()
            if k < 0:
                if _routine(code):
                    return  # nothing but faults in the log: a routine entry never displaces one
            else:
                self._drop(k)
        i = self.head
        self._code[i] = code & 0xFF
        self._boot[i] = self.boot & 0xFF
        self._t[i] = _clip(now_ms)
        self._a[i] = _clip(a)
        self._b[i] = _clip(b)
        i += 1
        self.head = 0 if i >= self.size else i
        if self.count < 65535:
            self.count += 1

    def _oldest_routine(self):
        # Position (0 = oldest) of the oldest routine entry in a full log, -1 if there is none.
        n = self.size
        i = self.head
        k = 0
        while k < n:
            if _routine(self._code[i]):
                return k
            k += 1
            i += 1
            if i >= n:
                i = 0
        return -1

    def _drop(self, k):
        # Removes the entry at position k of a full log: the older ones move up one slot, which frees the
        # oldest slot (the head, where the next entry goes). Order is kept; nothing is allocated.
        n = self.size
        dst = (self.head + k) % n
        while k > 0:
            src = dst - 1 if dst > 0 else n - 1
            self._code[dst] = self._code[src]
            self._boot[dst] = self._boot[src]
            self._t[dst] = self._t[src]
            self._a[dst] = self._a[src]
            self._b[dst] = self._b[src]
            dst = src
            k -= 1

    def clear(self, now_ms=0, how=1):
        """Unlatches every code (the log keeps them, plus a CLEARED entry). Returns the mask that was latched."""
        m = self.latched
        if m:
            self.note(CLEARED, now_ms, m, how)
        self.latched = 0
        self.first = NONE
        return m

    # --- console and persistence (allocate; never on the 10 ms path)
    def codes(self):
        """The latched codes, ascending."""
        return [c for c in range(1, _MAX_CODE + 1) if (self.latched >> c) & 1]

    def entries(self):
        """The log, oldest first: list of (code, boot, t_ms, a, b)."""
        n = self.count if self.count < self.size else self.size
        out = []
        i = (self.head - n) % self.size
        for _ in range(n):
            out.append((self._code[i], self._boot[i], self._t[i], self._a[i], self._b[i]))
            i = (i + 1) % self.size
        return out

    def clear_log(self):
        self.head = 0
        self.count = 0

    def to_bytes(self):
        """The log as a checksummed blob (latched state is not kept: a reset is an explicit recovery)."""
        n = self.size
        buf = bytearray(_HDR + n * _ENTRY + 2)
        buf[0] = _MAGIC0
        buf[1] = _MAGIC1
        buf[2] = _VERSION
        buf[3] = n
        buf[4] = self.head
        buf[5] = self.boot & 0xFF
        buf[6] = self.count >> 8
        buf[7] = self.count & 0xFF
        o = _HDR
        for i in range(n):
            buf[o] = self._code[i]
            buf[o + 1] = self._boot[i]
            _put32(buf, o + 2, self._t[i])
            _put32(buf, o + 6, self._a[i])
            _put32(buf, o + 10, self._b[i])
            o += _ENTRY
        s = _sum16(buf, o)
        buf[o] = s >> 8
        buf[o + 1] = s & 0xFF
        return bytes(buf)

    def from_bytes(self, data):
        """Restores a log written by to_bytes (same size) and counts one more boot. Returns False, keeping the
        current log, when the blob is missing, truncated, corrupt or of another size/version."""
        n = self.size
        end = _HDR + n * _ENTRY
        if data is None or len(data) < end + 2:
            self.boot = (self.boot + 1) & 0xFF
            return False
        if data[0] != _MAGIC0 or data[1] != _MAGIC1 or data[2] != _VERSION or data[3] != n or data[4] >= n:
            self.boot = (self.boot + 1) & 0xFF
            return False
        if _sum16(data, end) != (data[end] << 8) | data[end + 1]:
            self.boot = (self.boot + 1) & 0xFF
            return False
        self.head = data[4]
        self.boot = (data[5] + 1) & 0xFF
        self.count = (data[6] << 8) | data[7]
        o = _HDR
        for i in range(n):
            self._code[i] = data[o]
            self._boot[i] = data[o + 1]
            self._t[i] = _get32(data, o + 2)
            self._a[i] = _get32(data, o + 6)
            self._b[i] = _get32(data, o + 10)
            o += _ENTRY
        return True


def _routine(code):
    return code in ROUTINE


def _put32(buf, o, v):
    v &= 0xFFFFFFFF
    buf[o] = v >> 24
    buf[o + 1] = (v >> 16) & 0xFF
    buf[o + 2] = (v >> 8) & 0xFF
    buf[o + 3] = v & 0xFF


def _get32(buf, o):
    v = (buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3]
    if v & 0x80000000:
        v -= 0x100000000
    return v


def _sum16(buf, n):
    # Fletcher-16 over buf[0:n]: catches reordered bytes as well as flipped ones.
    s1 = 0
    s2 = 0
    for i in range(n):
        s1 = (s1 + buf[i]) % 255
        s2 = (s2 + s1) % 255
    return (s2 << 8) | s1
