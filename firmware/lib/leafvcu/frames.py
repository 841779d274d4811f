"""Nissan Leaf EV-CAN codec: CRC-8, nibble checksums, 2-bit counters, frame encoders and decoders.

Pure: no I/O, no clock, no imports beyond `micropython.const`. Runs on MicroPython 1.2x and CPython 3.11.
Facts and sources: ../shared/leaf-can/PROTOCOL.md (cited below as "P§n").

Conventions
-----------
* `buf` is anything indexable by byte: bytearray / memoryview (encoders write into it), bytes too for decoders.
  It must hold at least the frame's DLC bytes; nothing else is touched.
* A message object holds every field as an int in the field's own units ("raw": `torque_raw` is 0.25 Nm per
  unit), or a bool for one-bit flags. Physical views are properties (`torque_nm`, `voltage_v`, ...; on the
  classes without the Raw prefix, see _Frame): reading one makes a float (a heap object on MicroPython: off the
  hot path); assigning one stores the rounded raw value (round half up) WITHOUT clamping. Hot-path callers
  assign raw ints and allocate nothing.
* Encoders `encode_XXX(buf, msg, n)` fill buf[0:dlc] including CRC / checksum and return a clamp-flags int:
  a field outside what the wire can hold is CLAMPED to the nearest end, never wrapped, and bit i of the result
  is set when `msg.FIELDS[i]` was clamped (0: nothing clamped). The same int is left in `msg.clamped`.
  `clamped_names(msg, flags)` names them (allocates: for logs and tools). The counter `n` is taken modulo 4:
  counters wrap by definition. The 10 ms frames' range tests for 0..M with M = 2**k - 1 are written `v & ~M`
  (true for any v outside 0..M: a negative int has every high bit set), half the bytecode of `v < 0 or v > M`.
* Decoders `decode_XXX(buf, st, dlc=8)` read a frame into the caller's state object without allocating.
  They return True when the frame was accepted (DLC belongs to the id and CRC / checksum is right; the fields
  were updated) and False otherwise (fields keep their last good values; `st.crc_ok` False or `st.bad_dlc`
  counted). Every state object carries:
      n            counter of the last accepted frame (0 for ids without one)
      crc_ok       integrity of the last frame (True for ids without an integrity field)
      counter_ok   counter of the last accepted frame followed the previous one (see COUNTER_STRICT)
      frames, bad_crc, bad_counter, bad_dlc   running totals
      reset()      forget the previous counter (after a bus loss): the next frame passes
* Counter rule (P§1): the first frame passes. Then with `strict=True` (default, COUNTER_STRICT) the counter
  must be previous + 1 mod 4, as every transmitter does; with `strict=False` it only has to differ from the
  previous one, the DBC's receiver rule, which tolerates a lost frame. Chosen: strict, because the controller
  reads its own bus directly, so a skip is a lost or stale frame worth counting (the supervisor decides what a
  fault is); a logger that drops frames under load (tools) should use strict=False or its own time-gap logic.
* Allocation: with int inputs nothing here allocates. Every function on the 10 ms path keeps its arguments,
  locals and value stack within 11 machine words, so that MicroPython ports without a pystack (ESP32) keep the
  call frame on the C stack (py/objfun.c VM_MAX_STATE_ON_STACK) instead of taking it from the heap at every
  call; tests/test_frames_stackframe.py checks that in the compiled .mpy.

Public API (one line each)
--------------------------
Integrity and counters
    crc8(buf, n=7) -> int                     CRC-8 poly 0x85, init 0, MSB first, over buf[0:n]
    crc_ok(buf, n=7) -> bool                  buf[n] == crc8(buf, n)   (n=5 for the 6-byte 50C)
    nibble_checksum(buf, offset) -> int       (S + offset) & 0xF, S = both nibbles of bytes 0..6 + high nibble of 7
    nibble_ok(buf, offset) -> bool            low nibble of buf[7] == nibble_checksum(buf, offset)
    NIB_1F2 = 2, NIB_390 = -4, NIB_393 = -1   the offsets (P§1)
    integrity_ok(can_id, buf, dlc=8) -> True | False | None   per ID_INFO; None: id unknown or without a field
    counter_of(can_id, buf, dlc=8) -> 0..3 | -1               per ID_INFO; -1: id unknown or without a counter
    counter_step_ok(prev, n, strict=True) -> bool             prev < 0 means "no previous frame"
Frames the controller sends (class, encoder, decoder; FIELDS in clamp-flag bit order). A class with physical
views (name|view below, here and for the received frames) is the Raw* class of the same name plus the views as
properties: the firmware uses Raw* (no property: see _Frame), tools and tests either.
    VcmState()        encode_11a(buf, m, n)  decode_11a(buf, m, dlc=8)   0x11A gear/state
        gear(GEAR_P/R/N/D), byte0_low, onoff(CAR_ON/CAR_OFF), b2, heartbeat(HB_TABLE/HB_CONST/HB_ZERO), eco
    TorqueRequest()   encode_1d4(buf, m, n)  decode_1d4(buf, m, dlc=8)   0x1D4 torque request
        upper_raw|upper_nm, lower_raw|lower_nm(<=0), torque_raw|torque_nm, precharge(PRECHARGE_*), inhibitor
        (INHIBIT_D/R/P), status(STATUS_1D4_*), b3_low, hv, relay
    BatteryStatus()   encode_1db(buf, m, n)  decode_1db(buf, m, dlc=8)   0x1DB spoofed battery status
        current_raw|current_a, voltage_raw|voltage_v, soc, discharge_status, failsafe, relay_cut,
        relay_permit, full_charge, interlock, voltage_latch
    BatteryLimits()   encode_1dc(buf, m, n)  decode_1dc(buf, m, dlc=8)   0x1DC spoofed battery power limits
        discharge_raw|discharge_kw, charge_raw|charge_kw, charger_raw|charger_kw, charge_status, b4, b5, b6_hi
    VcmWake()         encode_50b(buf, m)     decode_50b(buf, m, dlc=7)   0x50B wake/ready/sleep; DLC = m.dlc
        activation, wake, b5, dlc(DLC_50B_AZE0=7 / DLC_50B_ZE0=6), diag; m.set(VCM_SLEEP|VCM_WAKE|VCM_READY)
    ChargeCommand()   encode_1f2(buf, m, n)  decode_1f2(buf, m, dlc=8)   0x1F2 charge power / DC-DC command
        power_raw|power_kw, b0_bits, transition(TRANSITION_*), dcdc_req, mode(MODE_1F2_*), soc80, dcdc_off, bit7
    BatterySoc()      encode_55b(buf, n)     decode_55b(buf, m, dlc=8)   0x55B static SOC frame + counter
        soc_raw|soc_pct, alu
    encode_59e(buf), encode_5bc(buf)          static frames FRAME_59E, FRAME_5BC (no CRC, no counter)
Frames the controller receives
    InverterStatus()  decode_1da(buf, st, dlc=8)   0x1DA: dc_voltage (int V) + voltage_valid, torque_raw|torque_nm
                      (0.5 Nm), speed_rpm (int) + speed_valid, errors (6 bits), fault ((b6 & 0xB0) != 0)
    InverterTemps(scale=TEMP_55A)  decode_55a(buf, st, dlc=8)   0x55A: motor_c10, inverter_c10 (0.1 degC ints),
                      board_c10, driver_c10 (DBC scale only), motor_c / inverter_c (float properties)
    ChargerStatus()   decode_390(buf, st, dlc=8)   0x390: power_w, available_w (ints, W), ac_class, status,
                      dcdc_status
    ChargerState()    decode_393(buf, st, dlc=8)   0x393: status (byte 1)
    decode_679(buf, dlc=1) -> bool              0x679 PDM wake-up (plug inserted)
Tables for tools
    ID_INFO[can_id] = (name, dlcs, period_ms, integrity, arg, counter_byte, counter_shift, direction)
        integrity: "crc" (arg = index of the CRC byte, computed over bytes 0..arg-1), "nib" (arg = offset),
        or None (arg 0). counter: (buf[counter_byte] >> counter_shift) & 3, counter_byte -1 = no counter.
        direction: "tx" sent by this controller, "rx" received by it, "vcm" sent by a real VCM only (50C).
        I_NAME, I_DLCS, I_PERIOD, I_INTEGRITY, I_ARG, I_CBYTE, I_CSHIFT, I_DIR index the tuple.
    CODECS[can_id] = (state_class, decoder, encoder or None); decoder(buf, state, dlc) as above.
    clamped_names(msg, flags) -> tuple of field names
Sources disagree: named constants (each cites PROTOCOL.md)
    1D4 limits LIMIT_*_RAW (default AZE0 6E/6E), 1D4 byte 6 STATUS_1D4_* (default DM/ZV 0x30), 55A TEMP_55A
    (default DM/ZV degF), 50B DLC_50B_* (default AZE0 7), 1DA voltage 2 V/bit (DBC/ZV, not DM's 10-bit reading),
    1F2 byte 2 bit 2 (dcdc_off, unsettled), 1F2 byte 3 (dcdc_req raw, unsettled scale), 1DB flag defaults.
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


# ---------------------------------------------------------------------------------------------------------
# CRC-8, polynomial 0x85, init 0, no reflection, no final xor (P§1).
# Written out rather than generated at import: a bytes literal in a frozen module stays in flash and costs no
# RAM on the board; generating it would cost 256 bytes of heap plus the generator code. The test suite
# regenerates it bit-serially and compares.
_CRC8 = (
    b"\x00\x85\x8f\x0a\x9b\x1e\x14\x91\xb3\x36\x3c\xb9\x28\xad\xa7\x22"
    b"\xe3\x66\x6c\xe9\x78\xfd\xf7\x72\x50\xd5\xdf\x5a\xcb\x4e\x44\xc1"
    b"\x43\xc6\xcc\x49\xd8\x5d\x57\xd2\xf0\x75\x7f\xfa\x6b\xee\xe4\x61"
    b"\xa0\x25\x2f\xaa\x3b\xbe\xb4\x31\x13\x96\x9c\x19\x88\x0d\x07\x82"
    b"\x86\x03\x09\x8c\x1d\x98\x92\x17\x35\xb0\xba\x3f\xae\x2b\x21\xa4"
    b"\x65\xe0\xea\x6f\xfe\x7b\x71\xf4\xd6\x53\x59\xdc\x4d\xc8\xc2\x47"
    b"\xc5\x40\x4a\xcf\x5e\xdb\xd1\x54\x76\xf3\xf9\x7c\xed\x68\x62\xe7"
    b"\x26\xa3\xa9\x2c\xbd\x38\x32\xb7\x95\x10\x1a\x9f\x0e\x8b\x81\x04"
    b"\x89\x0c\x06\x83\x12\x97\x9d\x18\x3a\xbf\xb5\x30\xa1\x24\x2e\xab"
    b"\x6a\xef\xe5\x60\xf1\x74\x7e\xfb\xd9\x5c\x56\xd3\x42\xc7\xcd\x48"
    b"\xca\x4f\x45\xc0\x51\xd4\xde\x5b\x79\xfc\xf6\x73\xe2\x67\x6d\xe8"
    b"\x29\xac\xa6\x23\xb2\x37\x3d\xb8\x9a\x1f\x15\x90\x01\x84\x8e\x0b"
    b"\x0f\x8a\x80\x05\x94\x11\x1b\x9e\xbc\x39\x33\xb6\x27\xa2\xa8\x2d"
    b"\xec\x69\x63\xe6\x77\xf2\xf8\x7d\x5f\xda\xd0\x55\xc4\x41\x4b\xce"
    b"\x4c\xc9\xc3\x46\xd7\x52\x58\xdd\xff\x7a\x70\xf5\x64\xe1\xeb\x6e"
    b"\xaf\x2a\x20\xa5\x34\xb1\xbb\x3e\x1c\x99\x93\x16\x87\x02\x08\x8d"
)


def crc8(buf, n=7):
    """CRC-8 (poly 0x85) of buf[0:n]."""
    if n == 7:
        return _crc7(buf)
    t = _CRC8
    c = 0
    for i in range(n):
        c = t[c ^ buf[i]]
    return c


def _crc7(b):
    # Unrolled for the common case (bytes 0..6 of an 8-byte frame): no loop overhead.
    t = _CRC8
    c = t[b[0]]
    c = t[c ^ b[1]]
    c = t[c ^ b[2]]
    c = t[c ^ b[3]]
    c = t[c ^ b[4]]
    c = t[c ^ b[5]]
    return t[c ^ b[6]]


def crc8_more(c, b):
    """The CRC-8 state c (crc8 of the bytes before) carried over one more byte b: crc8(buf, n + 1) is
    crc8_more(crc8(buf, n), buf[n]). For a frame whose leading bytes stay put (0x1CB): one lookup per frame."""
    return _CRC8[c ^ b]


def crc_ok(buf, n=7):
    """True when buf[n] is the CRC-8 of buf[0:n]."""
    return buf[n] == crc8(buf, n)


# Nibble checksum offsets (P§1): 1F2 (VCM -> PDM) +2, 390 (PDM) -4, 393 (PDM) -1.
NIB_1F2 = const(2)
NIB_390 = const(-4)
NIB_393 = const(-1)


# Both nibbles of a byte, summed (0..30): the nibble checksum in 8 lookups instead of a loop over 14 nibbles.
_NIBS = bytes([(b >> 4) + (b & 15) for b in range(256)])


def nibble_checksum(buf, offset):
    """(S + offset) & 0xF where S sums both nibbles of bytes 0..6 and the HIGH nibble of byte 7 (P§1)."""
    t = _NIBS
    s = (buf[7] >> 4) + t[buf[0]] + t[buf[1]] + t[buf[2]] + t[buf[3]] + t[buf[4]] + t[buf[5]] + t[buf[6]]
    return (s + offset) & 15


def nibble_ok(buf, offset):
    """True when the low nibble of buf[7] is the nibble checksum of the frame."""
    return (buf[7] & 15) == nibble_checksum(buf, offset)


def counter_step_ok(prev, n, strict=True):
    """Counter rule of P§1: prev < 0 (no previous frame) passes; strict: n == prev+1 mod 4; else n != prev."""
    if prev < 0:
        return True
    if strict:
        return n == ((prev + 1) & 3)
    return n != prev


def clamped_names(msg, flags):
    """Names of the fields whose bit is set in an encoder's clamp flags (allocates: logs and tools only)."""
    return tuple(f for i, f in enumerate(msg.FIELDS) if flags >> i & 1)


def _rq(v, num, den):
    # Physical -> raw: floor(v * num / den + 1/2), exact for ints (no float, no allocation), and the same
    # rounding (half up) for floats.
    return int((2 * v * num + den) // (2 * den))


# Counter rule default (see module docstring and P§1).
COUNTER_STRICT = True


class _Frame:
    # Common receive bookkeeping. All attributes exist from __init__ so later stores never grow the dict.
    # No property on the classes the firmware stores into every cycle: on MicroPython a class with a property (it
    # or a base) makes EVERY attribute store on its instances search the class first (py/objtype.c, "special
    # accessors"). The frames the controller fills every 10 ms are Raw* classes; their physical views (torque_nm,
    # voltage_v, ...) are on a subclass of the plain name, for tools and tests.
    FIELDS = ()

    def __init__(self, strict=COUNTER_STRICT):
        self.n = 0
        self.crc_ok = True
        self.counter_ok = True
        self.strict = strict
        self.prev = -1
        self.frames = 0
        self.bad_crc = 0
        self.bad_counter = 0
        self.bad_dlc = 0
        self.clamped = 0

    def reset(self):
        """Forget the previous counter: the next frame passes the counter check."""
        self.prev = -1

    def _seq(self, n):
        # Accepted frame with counter n: count it and check the counter rule.
        self.frames += 1
        self.n = n
        p = self.prev
        if p < 0:
            ok = True
        elif self.strict:
            ok = n == ((p + 1) & 3)
        else:
            ok = n != p
        self.counter_ok = ok
        if not ok:
            self.bad_counter += 1
        self.prev = n

    def _dlc(self):
        self.bad_dlc += 1
        return False

    def _crc(self, good):
        # Record the integrity result; True when the frame may be decoded.
        self.crc_ok = good
        if not good:
            self.bad_crc += 1
        return good


# ---------------------------------------------------------------------------------------------------------
# 0x11A VCM state / gear, DLC 8, 10 ms, CRC-8 (P§2)

GEAR_P = const(0)  # byte 0 high nibble (P§2 0x11A)
GEAR_R = const(2)
GEAR_N = const(3)
GEAR_D = const(4)
CAR_ON = const(1)  # byte 1 bits 7..6: 0x40 ON
CAR_OFF = const(2)  # 0x80 OFF (ZV sends it while charging)
# Byte 0 low nibble: DM and ZV send 0x_E (0x4E D, 0x2E R); ZV sends 0x01 in park (P§2 0x11A).
BYTE0_LOW_DMZV = const(0x0E)
# Heartbeat bytes 3, 4 keyed to the counter n (C55; all ZE0 and AZE0 logs), P§2 0x11A.
HEARTBEAT_11A = b"\xaa\xc0\x55\x00\x55\x40\xaa\x80"
HB_CONST = const(0)  # constant AA C0, which C55 says also works
HB_TABLE = const(1)  # the table above, keyed to the counter (default)
HB_ZERO = const(2)  # 00 00: the AZE0-era e-NV200 VCM during wake-up (logs); decoded for anything not 0 / 1


class VcmState(_Frame):
    """0x11A. gear: GEAR_*; byte0_low: byte 0 low nibble; onoff: CAR_ON / CAR_OFF (2-bit field); eco: bool;
    heartbeat: HB_TABLE (bytes 3, 4 keyed to the counter), HB_CONST (AA C0) or HB_ZERO (00 00); decoding prefers
    HB_TABLE when the counter is 0 (the table's entry is AA C0 then). b2: byte 2 raw (0 from DM / ZV; 0x80 in some
    ZE0 frames)."""

    FIELDS = ("gear", "byte0_low", "onoff", "b2", "heartbeat")

    def __init__(self, strict=COUNTER_STRICT):
        _Frame.__init__(self, strict)
        self.gear = GEAR_P
        self.byte0_low = BYTE0_LOW_DMZV
        self.onoff = CAR_ON
        self.eco = False
        self.heartbeat = HB_TABLE
        self.b2 = 0


def encode_11a(buf, m, n):
    f = 0
    v = m.gear
    if v & ~15:
        v = 0 if v < 0 else 15
        f = 1
    w = m.byte0_low
    if w & ~15:
        w = 0 if w < 0 else 15
        f |= 2
    buf[0] = (v << 4) | w
    v = m.onoff
    if v & ~3:
        v = 0 if v < 0 else 3
        f |= 4
    buf[1] = (v << 6) | (0x10 if m.eco else 0)
    v = m.b2
    if v & ~255:
        v = 0 if v < 0 else 255
        f |= 8
    buf[2] = v
    n &= 3
    v = m.heartbeat
    if v < 0 or v > 2:
        v = 0 if v < 0 else 2
        f |= 16
    if v == HB_ZERO:
        buf[3] = 0
        buf[4] = 0
    else:
        v = (n << 1) if v == HB_TABLE else 0
        buf[3] = HEARTBEAT_11A[v]
        buf[4] = HEARTBEAT_11A[v + 1]
    buf[5] = 0
    buf[6] = n
    buf[7] = _crc7(buf)
    m.clamped = f
    return f


def decode_11a(buf, m, dlc=8):
    if dlc != 8:
        return m._dlc()
    if not m._crc(_crc7(buf) == buf[7]):
        return False
    v = buf[0]
    m.gear = v >> 4
    m.byte0_low = v & 15
    v = buf[1]
    m.onoff = v >> 6
    m.eco = (v & 0x10) != 0
    m.b2 = buf[2]
    v = (buf[6] & 3) << 1
    if buf[3] == HEARTBEAT_11A[v] and buf[4] == HEARTBEAT_11A[v + 1]:
        m.heartbeat = HB_TABLE
    elif buf[3] == 0xAA and buf[4] == 0xC0:
        m.heartbeat = HB_CONST
    else:
        m.heartbeat = HB_ZERO
    m._seq(buf[6] & 3)
    return True


# ---------------------------------------------------------------------------------------------------------
# 0x1D4 VCM torque request, DLC 8, 10 ms, CRC-8 (P§2)

# Torque limits, bytes 0 / 1, 2.5 Nm per bit (lower = regen, DBC factor -2.5). Sources disagree (P§2 "Limits by
# source", P§5): DM F7/07, ZV F7/F7, BE F7/70, real AZE0 VCM 6E/6E (275 Nm). Default: the real AZE0 VCM, since
# the target is the AZE0 inverter and that is what it sees in its own car; the others stay available.
LIMIT_UPPER_AZE0_RAW = const(0x6E)
LIMIT_LOWER_AZE0_RAW = const(0x6E)
LIMIT_UPPER_DM_RAW = const(0xF7)
LIMIT_LOWER_DM_RAW = const(0x07)
LIMIT_LOWER_ZV_RAW = const(0xF7)
LIMIT_LOWER_BE_RAW = const(0x70)
# Byte 4 low nibble, precharge report (P§2 0x1D4). 7 includes bit 2, the HV-supplied bit.
PRECHARGE_NOT_STARTED = const(2)
PRECHARGING = const(3)
PRECHARGED = const(7)
# Shutdown after HV (real ZE0 VCMs, 10 of 10 logs): 7 -> 5 -> 0; 5 starts the inverter's active discharge.
DISCHARGE = const(5)
SHUT_OFF = const(0)
INHIBIT_N = const(0)  # byte 5 bits 2..1 = 0 (0x40 with the relay bit): what real VCMs send while shifting
# Byte 5 bits 2..1, inhibitor (P§2 0x1D4): 0x44 D, 0x42 R, 0x46 P.
INHIBIT_R = const(1)
INHIBIT_D = const(2)
INHIBIT_P = const(3)
# Byte 6, brake / charge status (P§2 0x1D4; sources disagree): DM and ZV 0x30 driving and 0xE0 charging; the
# real AZE0 VCM 0x21 in park and 0x01 in D. Default 0x30: what the two public controllers that spin the
# inverter send; the caller passes another through TorqueRequest.status.
STATUS_1D4_DMZV = const(0x30)
STATUS_1D4_CHARGING = const(0xE0)
STATUS_1D4_AZE0_PARK = const(0x21)
STATUS_1D4_AZE0_DRIVE = const(0x01)
TORQUE_RAW_MAX = const(2047)  # signed 12-bit, 0.25 Nm per bit
TORQUE_RAW_MIN = const(-2048)


class RawTorqueRequest(_Frame):
    """0x1D4. torque_raw: signed 12-bit at 0.25 Nm (torque_nm property); upper_raw / lower_raw: limits in 2.5 Nm
    steps (upper_nm >= 0, lower_nm <= 0 as the DBC's -2.5 factor says); precharge: byte 4 low nibble
    (PRECHARGE_*); hv: ORs in byte 4 bit 2 (HV supplied; PRECHARGED already carries it, so decode gives
    hv = bool(precharge & 4)); relay: byte 5 bit 6 (main relay + closed); inhibitor: INHIBIT_*; status: byte 6;
    b3_low: byte 3 low nibble (0 per P§2 and DM / ZV; the 2019 ZE0 log's VCM sends 1 and 2 there)."""

    FIELDS = ("upper_raw", "lower_raw", "torque_raw", "precharge", "inhibitor", "status", "b3_low")

    def __init__(self, strict=COUNTER_STRICT):
        _Frame.__init__(self, strict)
        self.upper_raw = LIMIT_UPPER_AZE0_RAW
        self.lower_raw = LIMIT_LOWER_AZE0_RAW
        self.torque_raw = 0
        self.precharge = PRECHARGE_NOT_STARTED
        self.hv = False
        self.relay = False
        self.inhibitor = INHIBIT_P
        self.status = STATUS_1D4_DMZV
        self.b3_low = 0


class TorqueRequest(RawTorqueRequest):
    """RawTorqueRequest with the physical views, for tools and tests (the firmware uses RawTorqueRequest:
    see _Frame)."""

    @property
    def torque_nm(self):
        return self.torque_raw * 0.25

    @torque_nm.setter
    def torque_nm(self, v):
        self.torque_raw = _rq(v, 4, 1)

    @property
    def upper_nm(self):
        return self.upper_raw * 2.5

    @upper_nm.setter
    def upper_nm(self, v):
        self.upper_raw = _rq(v, 2, 5)

    @property
    def lower_nm(self):
        return 0.0 - self.lower_raw * 2.5

    @lower_nm.setter
    def lower_nm(self, v):
        self.lower_raw = _rq(-v, 2, 5)


def nm_to_torque_raw(nm):
    """Nm -> 0.25 Nm raw, rounded half up, NOT clamped (encode_1d4 clamps and reports)."""
    return _rq(nm, 4, 1)


def encode_1d4(buf, m, n):
    f = 0
    v = m.upper_raw
    if v & ~255:
        v = 0 if v < 0 else 255
        f = 1
    buf[0] = v
    v = m.lower_raw
    if v & ~255:
        v = 0 if v < 0 else 255
        f |= 2
    buf[1] = v
    v = m.torque_raw
    if v < -2048 or v > 2047:
        v = -2048 if v < 0 else 2047
        f |= 4
    v &= 0xFFF
    buf[2] = v >> 4
    buf[3] = (v & 15) << 4
    v = m.b3_low
    if v & ~15:
        v = 0 if v < 0 else 15
        f |= 64
    buf[3] |= v
    v = m.precharge
    if v & ~15:
        v = 0 if v < 0 else 15
        f |= 8
    buf[4] = ((n & 3) << 6) | v | (4 if m.hv else 0)
    v = m.inhibitor
    if v & ~3:
        v = 0 if v < 0 else 3
        f |= 16
    buf[5] = (0x40 if m.relay else 0) | (v << 1)
    v = m.status
    if v & ~255:
        v = 0 if v < 0 else 255
        f |= 32
    buf[6] = v
    buf[7] = _crc7(buf)
    m.clamped = f
    return f


def decode_1d4(buf, m, dlc=8):
    if dlc != 8:
        return m._dlc()
    if not m._crc(_crc7(buf) == buf[7]):
        return False
    m.upper_raw = buf[0]
    m.lower_raw = buf[1]
    v = (buf[2] << 4) | (buf[3] >> 4)
    m.torque_raw = v - ((v & 0x800) << 1)
    m.b3_low = buf[3] & 15
    v = buf[4]
    m.precharge = v & 15
    m.hv = (v & 4) != 0
    m._seq(v >> 6)
    v = buf[5]
    m.relay = (v & 0x40) != 0
    m.inhibitor = (v >> 1) & 3
    m.status = buf[6]
    return True


# ---------------------------------------------------------------------------------------------------------
# 0x1DB battery status (spoofed), DLC 8, 10 ms, CRC-8 (P§2; DBC layout)

# Byte 4 SOC default: ZV's 0x40 (64 %), the spoof shown to keep a PDM happy (P§2 0x1DB).
SOC_1DB_ZV = const(0x40)


class RawBatteryStatus(_Frame):
    """0x1DB. current_raw: signed 11-bit, 0.5 A (current_a); voltage_raw: 10-bit, 0.5 V (voltage_v); soc: usable
    SOC % (7 bits); byte 3 flags: relay_permit (bit 5), full_charge (bit 4), interlock (bit 3),
    discharge_status (bits 2..1), voltage_latch (bit 0); byte 1 bits 4..3 relay_cut, bits 2..0 failsafe.
    Flag defaults are those of the real AZE0 pack frame `FF E0 C8 6A 5F 00` (byte 3 low bits 0x2A: permission,
    interlock, discharge status 1, no latch); ZV sends 0x2B (latch set), P§2 0x1DB."""

    FIELDS = ("current_raw", "voltage_raw", "soc", "discharge_status", "failsafe", "relay_cut")

    def __init__(self, strict=COUNTER_STRICT):
        _Frame.__init__(self, strict)
        self.current_raw = 0
        self.voltage_raw = 0
        self.soc = SOC_1DB_ZV
        self.discharge_status = 1
        self.failsafe = 0
        self.relay_cut = 0
        self.relay_permit = True
        self.full_charge = False
        self.interlock = True
        self.voltage_latch = False


class BatteryStatus(RawBatteryStatus):
    """RawBatteryStatus with the physical views, for tools and tests (the firmware uses RawBatteryStatus:
    see _Frame)."""

    @property
    def current_a(self):
        return self.current_raw * 0.5

    @current_a.setter
    def current_a(self, v):
        self.current_raw = _rq(v, 2, 1)

    @property
    def voltage_v(self):
        return self.voltage_raw * 0.5

    @voltage_v.setter
    def voltage_v(self, v):
        self.voltage_raw = _rq(v, 2, 1)


def encode_1db(buf, m, n):
    f = 0
    v = m.current_raw
    if v < -1024 or v > 1023:
        v = -1024 if v < 0 else 1023
        f = 1
    v &= 0x7FF
    buf[0] = v >> 3
    w = m.relay_cut
    if w & ~3:
        w = 0 if w < 0 else 3
        f |= 32
    buf[1] = ((v & 7) << 5) | (w << 3)
    v = m.failsafe
    if v & ~7:
        v = 0 if v < 0 else 7
        f |= 16
    buf[1] |= v
    v = m.voltage_raw
    if v & ~1023:
        v = 0 if v < 0 else 1023
        f |= 2
    buf[2] = v >> 2
    w = m.discharge_status
    if w & ~3:
        w = 0 if w < 0 else 3
        f |= 8
    buf[3] = (
        ((v & 3) << 6)
        | (w << 1)
        | (0x20 if m.relay_permit else 0)
        | (0x10 if m.full_charge else 0)
        | (8 if m.interlock else 0)
        | (1 if m.voltage_latch else 0)
    )
    v = m.soc
    if v & ~127:
        v = 0 if v < 0 else 127
        f |= 4
    buf[4] = v
    buf[5] = 0
    buf[6] = n & 3
    buf[7] = _crc7(buf)
    m.clamped = f
    return f


def decode_1db(buf, m, dlc=8):
    if dlc != 8:
        return m._dlc()
    if not m._crc(_crc7(buf) == buf[7]):
        return False
    v = (buf[0] << 3) | (buf[1] >> 5)
    m.current_raw = v - ((v & 0x400) << 1)
    v = buf[1]
    m.relay_cut = (v >> 3) & 3
    m.failsafe = v & 7
    v = buf[3]
    m.voltage_raw = (buf[2] << 2) | (v >> 6)
    m.relay_permit = (v & 0x20) != 0
    m.full_charge = (v & 0x10) != 0
    m.interlock = (v & 8) != 0
    m.discharge_status = (v >> 1) & 3
    m.voltage_latch = (v & 1) != 0
    m.soc = buf[4] & 0x7F
    m._seq(buf[6] & 3)
    return True


# ---------------------------------------------------------------------------------------------------------
# 0x1DC battery power limits (spoofed), DLC 8, 10 ms, CRC-8 (P§2; DBC layout)


class RawBatteryLimits(_Frame):
    """0x1DC. discharge_raw / charge_raw: 10-bit, 0.25 kW (discharge_kw, charge_kw); charger_raw: 10-bit, 0.1 kW
    offset -10 kW (charger_kw, "max power for charger"); charge_status: byte 3 bits 1..0; b4, b5, b6_hi: the
    DBC's code bytes (byte 6 bits 7..2), 0 in a spoof. Defaults: ZV's `A0 0A 05 D5 00 00` (P§2 0x1DC)."""

    FIELDS = ("discharge_raw", "charge_raw", "charger_raw", "charge_status", "b4", "b5", "b6_hi")

    def __init__(self, strict=COUNTER_STRICT):
        _Frame.__init__(self, strict)
        self.discharge_raw = 0x280  # 160 kW
        self.charge_raw = 0xA0  # 40 kW
        self.charger_raw = 0x175  # 27.3 kW
        self.charge_status = 1
        self.b4 = 0
        self.b5 = 0
        self.b6_hi = 0


class BatteryLimits(RawBatteryLimits):
    """RawBatteryLimits with the physical views, for tools and tests (the firmware uses RawBatteryLimits:
    see _Frame)."""

    @property
    def discharge_kw(self):
        return self.discharge_raw * 0.25

    @discharge_kw.setter
    def discharge_kw(self, v):
        self.discharge_raw = _rq(v, 4, 1)

    @property
    def charge_kw(self):
        return self.charge_raw * 0.25

    @charge_kw.setter
    def charge_kw(self, v):
        self.charge_raw = _rq(v, 4, 1)

    @property
    def charger_kw(self):
        return (self.charger_raw - 100) / 10

    @charger_kw.setter
    def charger_kw(self, v):
        self.charger_raw = _rq(v + 10, 10, 1)


def _u10(v):
    # Clamp to 0..1023 (shared by the 10-bit fields of 1DC).
    return 0 if v < 0 else (1023 if v > 1023 else v)


def encode_1dc(buf, m, n):
    f = 0
    v = m.discharge_raw
    if v & ~1023:
        v = _u10(v)
        f = 1
    buf[0] = v >> 2
    w = m.charge_raw
    if w & ~1023:
        w = _u10(w)
        f |= 2
    buf[1] = ((v & 3) << 6) | (w >> 4)
    v = m.charger_raw
    if v & ~1023:
        v = _u10(v)
        f |= 4
    buf[2] = ((w & 15) << 4) | (v >> 6)
    w = m.charge_status
    if w & ~3:
        w = 0 if w < 0 else 3
        f |= 8
    buf[3] = ((v & 0x3F) << 2) | w
    v = m.b4
    if v & ~255:
        v = 0 if v < 0 else 255
        f |= 16
    buf[4] = v
    v = m.b5
    if v & ~255:
        v = 0 if v < 0 else 255
        f |= 32
    buf[5] = v
    v = m.b6_hi
    if v & ~63:
        v = 0 if v < 0 else 63
        f |= 64
    buf[6] = (v << 2) | (n & 3)
    buf[7] = _crc7(buf)
    m.clamped = f
    return f


def decode_1dc(buf, m, dlc=8):
    if dlc != 8:
        return m._dlc()
    if not m._crc(_crc7(buf) == buf[7]):
        return False
    v = buf[1]
    m.discharge_raw = (buf[0] << 2) | (v >> 6)
    m.charge_raw = ((v & 0x3F) << 4) | (buf[2] >> 4)
    v = buf[3]
    m.charger_raw = ((buf[2] & 15) << 6) | (v >> 2)
    m.charge_status = v & 3
    m.b4 = buf[4]
    m.b5 = buf[5]
    v = buf[6]
    m.b6_hi = v >> 2
    m._seq(v & 3)
    return True


# ---------------------------------------------------------------------------------------------------------
# 0x50B VCM wake / ready, 100 ms, no CRC, no counter (P§2 0x50B)

# DLC: AZE0 sends 7 bytes `00 00 06 C0 00 00 00`, ZE0 (2011-12) 6 bytes `00 00 06 C0 00 60` (P§2 0x50B, P§5).
# Default AZE0, the target generation.
DLC_50B_AZE0 = const(7)
DLC_50B_ZE0 = const(6)
B5_50B_ZE0 = const(0x60)  # byte 5 of the ZE0 frame
VCM_SLEEP = const(0)  # all zero: go to sleep
VCM_WAKE = const(1)  # 00 00 00 C0: wake-up (byte 3 bits 7..6 = 3)
VCM_READY = const(2)  # 00 00 06 C0: activation 2 = READY (byte 2 bits 1..0) + diag (byte 2 bit 2)
VCM_ACTIVE = const(3)  # 00 00 02 C0: activation 2 without diag: what real VCMs send first after precharge (P§4)
ACTIVATION_READY = const(2)
WAKEUP = const(3)


class VcmWake(_Frame):
    """0x50B. activation: byte 2 bits 1..0; diag: byte 2 bit 2; wake: byte 3 bits 7..6; b5: byte 5 (0x60 in ZE0
    frames); dlc: DLC_50B_AZE0 (7, default) or DLC_50B_ZE0 (6). set(VCM_SLEEP | VCM_WAKE | VCM_READY)."""

    FIELDS = ("activation", "wake", "b5", "dlc")

    def __init__(self, dlc=DLC_50B_AZE0, strict=COUNTER_STRICT):
        _Frame.__init__(self, strict)
        self.dlc = dlc
        self.activation = 0
        self.diag = False
        self.wake = 0
        self.b5 = 0
        self.set(VCM_WAKE)

    def set(self, state):
        """VCM_SLEEP: all zero; VCM_WAKE: 00 00 00 C0; VCM_ACTIVE: 00 00 02 C0; VCM_READY: 00 00 06 C0 (byte 5
        0x60 in ZE0 frames)."""
        awake = state != VCM_SLEEP
        self.wake = WAKEUP if awake else 0
        self.activation = ACTIVATION_READY if state == VCM_READY or state == VCM_ACTIVE else 0
        self.diag = state == VCM_READY
        self.b5 = B5_50B_ZE0 if awake and self.dlc == DLC_50B_ZE0 else 0


def encode_50b(buf, m):
    """Fills buf[0:m.dlc] (6 or 7 bytes). A DLC other than 6 / 7 is clamped to the nearest one (flag bit 3)."""
    f = 0
    d = m.dlc
    if d != 6 and d != 7:
        d = 6 if d < 6 else 7
        f = 8
    v = m.activation
    if v < 0 or v > 3:
        v = 0 if v < 0 else 3
        f |= 1
    buf[0] = 0
    buf[1] = 0
    buf[2] = (4 if m.diag else 0) | v
    v = m.wake
    if v < 0 or v > 3:
        v = 0 if v < 0 else 3
        f |= 2
    buf[3] = v << 6
    buf[4] = 0
    v = m.b5
    if v < 0 or v > 255:
        v = 0 if v < 0 else 255
        f |= 4
    buf[5] = v
    if d == 7:
        buf[6] = 0
    m.clamped = f
    return f


def decode_50b(buf, m, dlc=7):
    if dlc != 6 and dlc != 7:
        return m._dlc()
    m.crc_ok = True
    m.dlc = dlc
    v = buf[2]
    m.activation = v & 3
    m.diag = (v & 4) != 0
    m.wake = buf[3] >> 6
    m.b5 = buf[5]
    m.frames += 1
    return True


# ---------------------------------------------------------------------------------------------------------
# 0x1F2 VCM -> PDM charge power / DC-DC command, DLC 8, 10 ms, nibble checksum (+2) (P§2 0x1F2)

TRANSITION_NONE = const(0)  # byte 2 bits 6..5
TRANSITION_NORMAL = const(1)  # 0x20
TRANSITION_QUICK = const(2)  # 0x40
TRANSITION_STOP = const(3)  # 0x60
MODE_1F2_DRIVE = const(0x1E)  # byte 5
MODE_1F2_AC = const(0x3C)
B0_1F2_RUN = const(0x10)  # byte 0 bits 6..2 as seen: 0x10 running, 0x30 AC charging
B0_1F2_AC = const(0x30)
# Byte 3 bits 7..2: DC/DC voltage request, scale unsettled (P§2 0x1F2: DBC 0.1 V "-10", logs 0xA0-0xB4), so
# the whole byte is a raw field; default ZV's 0xAC.
DCDC_REQ_ZV = const(0xAC)
# Charge power command, 10-bit, 0.1 kW, offset -10 kW: raw 0x64 = 0 kW. ZV and BE cap the command at 0xA0 (6 kW);
# that cap is the charger logic's business, the codec only clamps to the field.
POWER_1F2_ZERO = const(0x64)
POWER_1F2_ZV_MAX = const(0xA0)


class RawChargeCommand(_Frame):
    """0x1F2. power_raw: 10-bit, 0.1 kW offset -10 kW (power_kw; 0x64 = 0 kW); soc80: byte 0 bit 7 (target SOC
    80 % instead of 100 %); b0_bits: byte 0 bits 6..2 in place (B0_1F2_RUN 0x10 / B0_1F2_AC 0x30; stray bits
    are dropped and flagged); transition: byte 2 bits 6..5 (TRANSITION_*); dcdc_off: byte 2 bit 2 (C55: "set
    low to enable" the converter; the real VCM sets it while waking the PDM: unsettled, P§2, default False =
    enabled as DM / ZV); dcdc_req: byte 3 raw (unsettled scale); mode: byte 5 (MODE_1F2_*); bit7: byte 7 bit 7
    (True as every real AZE0 VCM frame; ZE0 VCMs leave it 0). The checksum counts bit 7 (P§1)."""

    FIELDS = ("power_raw", "b0_bits", "transition", "dcdc_req", "mode")

    def __init__(self, strict=COUNTER_STRICT):
        _Frame.__init__(self, strict)
        self.power_raw = POWER_1F2_ZERO
        self.soc80 = False
        self.b0_bits = B0_1F2_RUN
        self.transition = TRANSITION_NONE
        self.dcdc_off = False
        self.dcdc_req = DCDC_REQ_ZV
        self.mode = MODE_1F2_DRIVE
        self.bit7 = True


class ChargeCommand(RawChargeCommand):
    """RawChargeCommand with the physical views, for tools and tests (the firmware uses RawChargeCommand:
    see _Frame)."""

    @property
    def power_kw(self):
        return (self.power_raw - 100) / 10

    @power_kw.setter
    def power_kw(self, v):
        self.power_raw = _rq(v + 10, 10, 1)


def encode_1f2(buf, m, n):
    f = 0
    v = m.power_raw
    if v & ~1023:
        v = 0 if v < 0 else 1023
        f = 1
    buf[1] = v & 0xFF
    v >>= 8
    if m.soc80:
        v |= 0x80
    w = m.b0_bits
    if w & ~0x7C:
        w &= 0x7C
        f |= 2
    buf[0] = v | w
    v = m.transition
    if v & ~3:
        v = 0 if v < 0 else 3
        f |= 4
    buf[2] = (v << 5) | (4 if m.dcdc_off else 0)
    v = m.dcdc_req
    if v & ~255:
        v = 0 if v < 0 else 255
        f |= 8
    buf[3] = v
    buf[4] = 0
    v = m.mode
    if v & ~255:
        v = 0 if v < 0 else 255
        f |= 16
    buf[5] = v
    buf[6] = n & 3
    buf[7] = 0x80 if m.bit7 else 0
    v = nibble_checksum(buf, NIB_1F2)
    buf[7] |= v
    m.clamped = f
    return f


def decode_1f2(buf, m, dlc=8):
    if dlc != 8:
        return m._dlc()
    if not m._crc(nibble_ok(buf, NIB_1F2)):
        return False
    v = buf[0]
    m.soc80 = (v & 0x80) != 0
    m.b0_bits = v & 0x7C
    m.power_raw = ((v & 3) << 8) | buf[1]
    v = buf[2]
    m.transition = (v >> 5) & 3
    m.dcdc_off = (v & 4) != 0
    m.dcdc_req = buf[3]
    m.mode = buf[5]
    m.bit7 = (buf[7] & 0x80) != 0
    m._seq(buf[6] & 3)
    return True


# ---------------------------------------------------------------------------------------------------------
# Static battery frames for the PDM (P§2 "Spoofed battery frames")

FRAME_55B = b"\xa4\x40\xaa\x00\xdf\xc0\x10"  # bytes 0..6 with counter 0; byte 6 = 0x10 | n, byte 7 CRC
FRAME_59E = b"\x00\x00\x0c\x76\x18\x00\x00\x00"  # static, no CRC
FRAME_5BC = b"\x3d\x80\xf0\x64\xb0\x01\x00\x32"  # static, no CRC


def encode_55b(buf, n):
    """0x55B: FRAME_55B with byte 6 = 0x10 | n and the CRC. Returns 0 (nothing to clamp)."""
    for i in range(6):
        buf[i] = FRAME_55B[i]
    buf[6] = 0x10 | (n & 3)
    buf[7] = _crc7(buf)
    return 0


def encode_59e(buf):
    """0x59E: the static frame. Returns 0."""
    for i in range(8):
        buf[i] = FRAME_59E[i]
    return 0


def encode_5bc(buf, toggle=0):
    """0x5BC: the static frame, byte 4 bit 0 = toggle (a real AZE0 pack flips it every 500 ms). Returns 0."""
    for i in range(8):
        buf[i] = FRAME_5BC[i]
    buf[4] = (buf[4] & 0xFE) | (toggle & 1)
    return 0


class RawBatterySoc(_Frame):
    """0x55B decoded (DBC): soc_raw: 10-bit, 0.1 % (soc_pct); alu: byte 2 (the 'ALU answer', AA / 55)."""

    FIELDS = ("soc_raw", "alu")

    def __init__(self, strict=COUNTER_STRICT):
        _Frame.__init__(self, strict)
        self.soc_raw = 0
        self.alu = 0


class BatterySoc(RawBatterySoc):
    """RawBatterySoc with the physical views, for tools and tests (the firmware uses RawBatterySoc:
    see _Frame)."""

    @property
    def soc_pct(self):
        return self.soc_raw / 10


def decode_55b(buf, m, dlc=8):
    if dlc != 8:
        return m._dlc()
    if not m._crc(_crc7(buf) == buf[7]):
        return False
    m.soc_raw = (buf[0] << 2) | (buf[1] >> 6)
    m.alu = buf[2]
    m._seq(buf[6] & 3)
    return True


# ---------------------------------------------------------------------------------------------------------
# 0x1DA inverter status, DLC 8, 10 ms, CRC-8 (P§3)


class RawInverterStatus(_Frame):
    """0x1DA. dc_voltage: int V, byte 0 at 2 V/bit (DBC, ZV; not DM/C55's jittering 10-bit 0.5 V reading, P§3);
    voltage_valid False for 0xFF (boot), and then dc_voltage is 0 so that a caller that forgets the flag sees
    "not charged" rather than 510 V. torque_raw: signed 11-bit, 0.5 Nm (torque_nm). speed_rpm: int, signed 15-bit
    at 1 rpm; speed_valid False for raw 0x7FFF / 0x7FFE (boot), and then speed_rpm is 0: check speed_valid.
    errors: byte 6 bits 7..2; fault: (byte 6 & 0xB0) != 0, the references' inverter-fault test."""

    def __init__(self, strict=COUNTER_STRICT):
        _Frame.__init__(self, strict)
        self.dc_voltage = 0
        self.voltage_valid = False
        self.torque_raw = 0
        self.speed_rpm = 0
        self.speed_valid = False
        self.errors = 0
        self.fault = False


class InverterStatus(RawInverterStatus):
    """RawInverterStatus with the physical view, for tools and tests (the firmware uses RawInverterStatus: decode_1da
    stores a dozen attributes 100 times a second, measured about a third cheaper into a class without a property;
    see _Frame)."""

    @property
    def torque_nm(self):
        return self.torque_raw * 0.5


def decode_1da(buf, st, dlc=8):
    # The inverter's heartbeat, 100 frames a second: the CRC (_crc7), its record (_Frame._crc) and the counter
    # rule (_Frame._seq) are written out here, the same checks without their three calls per frame.
    if dlc != 8:
        return st._dlc()
    t = _CRC8
    v = t[buf[0]]
    v = t[v ^ buf[1]]
    v = t[v ^ buf[2]]
    v = t[v ^ buf[3]]
    v = t[v ^ buf[4]]
    v = t[v ^ buf[5]]
    v = t[v ^ buf[6]] == buf[7]
    st.crc_ok = v
    if not v:
        st.bad_crc += 1
        return False
    v = buf[0]
    st.voltage_valid = v != 0xFF
    st.dc_voltage = 0 if v == 0xFF else v << 1
    v = ((buf[2] & 7) << 8) | buf[3]
    st.torque_raw = v - ((v & 0x400) << 1)
    v = (buf[4] << 8) | buf[5]
    if (v | 1) == 0x7FFF:   # 0x7FFF or 0x7FFE (boot): one comparison for the frames that are neither
        st.speed_valid = False
        st.speed_rpm = 0
    else:
        st.speed_valid = True
        st.speed_rpm = (v - ((v & 0x8000) << 1)) >> 1
    v = buf[6]
    st.errors = v >> 2
    st.fault = (v & 0xB0) != 0
    v &= 3          # the counter, by the rule of _Frame._seq
    st.frames += 1
    st.n = v
    p = st.prev
    if p < 0:
        ok = True
    elif st.strict:
        ok = v == ((p + 1) & 3)
    else:
        ok = v != p
    st.counter_ok = ok
    if not ok:
        st.bad_counter += 1
    st.prev = v
    return True


# ---------------------------------------------------------------------------------------------------------
# 0x55A inverter temperatures, DLC 8, 100 ms, no CRC, no counter (P§3, unsettled)

# The two published readings (P§3 0x55A): DM/ZV: byte 1 motor, byte 2 inverter, degrees F. DBC: byte 1 comms
# board, byte 2 IGBT, byte 3 bits 5..0 IGBT driver board, byte 4 motor, 0.5 degC per bit.
TEMP_55A_DMZV = const(0)
TEMP_55A_DBC = const(1)
# Default DM/ZV: the controllers that run this inverter use it, and in the full-throttle ZE0 log byte 1 moves by
# one count in 30 s (a motor's thermal mass) while byte 4, the DBC's "motor", climbs 27 degC and falls back
# within 15 s, which no motor does. Pass InverterTemps(scale=TEMP_55A_DBC) for the DBC reading.
TEMP_55A = TEMP_55A_DMZV


class RawInverterTemps(_Frame):
    """0x55A. motor_c10, inverter_c10: ints in 0.1 degC from the selected reading (motor_c, inverter_c: float
    properties); DBC reading only: board_c10 (byte 1), driver_c10 (byte 3 bits 5..0), else 0. raw1..raw4: the
    bytes as received."""

    def __init__(self, scale=TEMP_55A, strict=COUNTER_STRICT):
        _Frame.__init__(self, strict)
        self.scale = scale
        self.motor_c10 = 0
        self.inverter_c10 = 0
        self.board_c10 = 0
        self.driver_c10 = 0
        self.raw1 = 0
        self.raw2 = 0
        self.raw3 = 0
        self.raw4 = 0


class InverterTemps(RawInverterTemps):
    """RawInverterTemps with the physical views, for tools and tests (the firmware uses RawInverterTemps:
    see _Frame)."""

    @property
    def motor_c(self):
        return self.motor_c10 / 10

    @property
    def inverter_c(self):
        return self.inverter_c10 / 10


def _f_to_c10(f):
    # degrees F -> 0.1 degC, rounded half up: (F - 32) * 50 / 9.
    return ((f - 32) * 100 + 9) // 18


def decode_55a(buf, st, dlc=8):
    if dlc != 8:
        return st._dlc()
    st.raw1 = buf[1]
    st.raw2 = buf[2]
    st.raw3 = buf[3]
    st.raw4 = buf[4]
    if st.scale == TEMP_55A_DBC:
        st.motor_c10 = buf[4] * 5
        st.inverter_c10 = buf[2] * 5
        st.board_c10 = buf[1] * 5
        st.driver_c10 = (buf[3] & 0x3F) * 5
    else:
        st.motor_c10 = _f_to_c10(buf[1])
        st.inverter_c10 = _f_to_c10(buf[2])
        st.board_c10 = 0
        st.driver_c10 = 0
    st.crc_ok = True
    st.frames += 1
    return True


# ---------------------------------------------------------------------------------------------------------
# PDM (charger) frames: 0x390, 0x393 (100 ms, nibble checksums), 0x679 wake (P§3 "PDM (charger) frames")

AC_110V = const(1)  # 0x390 byte 3 bits 4..3
AC_230V = const(2)
AC_ABNORMAL = const(3)
CHARGE_FINISHED = const(2)  # 0x390 byte 5 bits 6..1
CHARGE_CHARGING = const(4)
CHARGE_WAIT_TIMER = const(12)


class ChargerStatus(_Frame):
    """0x390. power_w: output power (byte 0 bit 0 + byte 1, 0.1 kW) in W; available_w: maximum available charge
    power (byte 5 bit 0 + byte 6, 0.1 kW) in W; ac_class: AC_*; status: CHARGE_*; dcdc_status: byte 3 bits 2..1
    (DBC). Ints, so decoding allocates nothing."""

    def __init__(self, strict=COUNTER_STRICT):
        _Frame.__init__(self, strict)
        self.power_w = 0
        self.available_w = 0
        self.ac_class = 0
        self.status = 0
        self.dcdc_status = 0


def decode_390(buf, st, dlc=8):
    if dlc != 8:
        return st._dlc()
    if not st._crc(nibble_ok(buf, NIB_390)):
        return False
    st.power_w = (((buf[0] & 1) << 8) | buf[1]) * 100
    v = buf[3]
    st.ac_class = (v >> 3) & 3
    st.dcdc_status = (v >> 1) & 3
    v = buf[5]
    st.status = (v >> 1) & 0x3F
    st.available_w = (((v & 1) << 8) | buf[6]) * 100
    st._seq((buf[7] >> 4) & 3)
    return True


class ChargerState(_Frame):
    """0x393. status: byte 1 (0x10 / 0x20 idle, 0x51..0x53 charging)."""

    def __init__(self, strict=COUNTER_STRICT):
        _Frame.__init__(self, strict)
        self.status = 0


def decode_393(buf, st, dlc=8):
    if dlc != 8:
        return st._dlc()
    if not st._crc(nibble_ok(buf, NIB_393)):
        return False
    st.status = buf[1]
    st._seq((buf[7] >> 4) & 3)
    return True


def decode_679(buf, dlc=1):
    """0x679 (DLC 1, `00`): the PDM's wake-up when the charge plug goes in. True for any 0x679 with DLC 1."""
    return dlc == 1


# ---------------------------------------------------------------------------------------------------------
# ZE1 (2018+, EM57 110 / 160 kW) inverter: the extra frames a ZE1 car's VCM and pack send (P§6.2), and the
# inverter's own 0x120 heartbeat (P§6.5). Where the man-in-the-middle bridge (DU) and real ZE1 cars disagree
# (1CB, 355, 3B8, 5C5, 5CD) both contents are here: ZE1_REAL (the default) and ZE1_BRIDGE.

ZE1_REAL = const(0)
ZE1_BRIDGE = const(1)

FRAME_355_REAL = b"\x00\x00\x00\x00\x10\x00\x40\x00"  # L-E+ at standstill (546 of 546 frames)
FRAME_355_BRIDGE = b"\x14\x0a\x13\x97\x10\x00\x40\x00"  # DU: a snapshot taken while driving hard
FRAME_5C5_REAL = b"\x40\x01\x2f\x68\x00\x00\x00\x00"  # L-E+ (bytes 1-3 car-specific, plausibly odometer)
FRAME_5C5_BRIDGE = b"\x40\x01\x2f\x5e\x00\x00\x00\x00"
FRAME_5EB = b"\xe0\x0f\xff\xff\xff\xff\xff\xff"
FRAME_625 = b"\x02\x00\xff\x1d\x20\x00"
# 1CB bytes 0..4: real ZE1 car while waking (b5 = 0x80 + n) and once READY (b5 = n); the bridge replays the
# car's first 90 ms forever (b5 = 0x88 + n).
FRAME_1CB_WAKE = b"\x00\x08\xff\xc6\x10"
FRAME_1CB_RUN = b"\x00\x00\xff\xc6\x10"
FRAME_1CB_BRIDGE = b"\x00\x09\xff\xce\x10"
# 5CD: byte 1 grows by 4 per frame; real car `82 xx 65 1F C0` (xx keeps its low bits, wraps at 256), bridge
# `7A xx F5 1F C0` (xx from 0, restarting at 2 above 238).
FRAME_5CD_REAL = b"\x82\x03\x65\x1f\xc0"
FRAME_5CD_BRIDGE = b"\x7a\x00\xf5\x1f\xc0"


def copy_frame(buf, frame):
    """buf[0:len(frame)] = frame (a static frame). Returns its length (the DLC). One slice copy in C: a slice
    of the same length allocates nothing (MicroPython >= 1.22)."""
    n = len(frame)
    buf[0:n] = frame
    return n


def encode_108(buf, n):
    """0x108 (DLC 3): 00, counter 0..15, CRC-8 of bytes 0..1. Returns 3."""
    buf[0] = 0
    buf[1] = n & 15
    buf[2] = _CRC8[_CRC8[0] ^ buf[1]]
    return 3


def encode_nib(buf, base, n):
    """A one-byte frame base + counter 0..15: 0x1C2 (base 0x50), 0x4B9 (base 0x40). Returns 1."""
    buf[0] = base | (n & 15)
    return 1


def encode_1ed(buf, n):
    """0x1ED (DLC 3): FF, E0 + counter 0..3, CRC-8 of bytes 0..1. Returns 3."""
    buf[0] = 0xFF
    buf[1] = 0xE0 | (n & 3)
    buf[2] = _CRC8[_CRC8[0xFF] ^ buf[1]]
    return 3


def encode_1cb(buf, head, flags, n):
    """0x1CB (DLC 7): head (5 bytes: FRAME_1CB_*), byte 5 = flags | counter 0..3, CRC-8 of bytes 0..5. Returns 7."""
    copy_frame(buf, head)
    buf[5] = flags | (n & 3)
    buf[6] = crc8(buf, 6)
    return 7


def encode_3b8(buf, alt, step, waking):
    """0x3B8 (DLC 5): 7F, C8 / E8 (alt: bit 5 set), step 0..14, 07, FF; no CRC. waking: the first 0.4 s of a
    real car (byte 1 low nibble F, byte 2 F0). Returns 5."""
    buf[0] = 0x7F
    b = 0xE8 if alt else 0xC8
    if waking:
        buf[1] = b | 0x0F
        buf[2] = 0xF0
    else:
        buf[1] = b
        buf[2] = step
    buf[3] = 0x07
    buf[4] = 0xFF
    return 5


class Heartbeat(_Frame):
    """0x120 (ZE1 inverter, DLC 4, 10 ms): 00 00, counter 0..15, CRC-8 of bytes 0..2. n16: the counter; n: its
    low two bits (the 2-bit view of ID_INFO and the checker); counter_ok: it followed the previous one (+1
    modulo 16)."""

    def __init__(self, strict=COUNTER_STRICT):
        _Frame.__init__(self, strict)
        self.n16 = 0


def decode_120(buf, st, dlc=4):
    # 100 frames a second beside 1DA: the CRC-8 of bytes 0..2 (crc8(buf, 3)) and its record (_Frame._crc)
    # written out, without their two calls and crc8's loop.
    if dlc != 4:
        return st._dlc()
    p = _CRC8   # (p: the table here, the previous counter below: the call frame stays within 11 words)
    ok = p[p[p[buf[0]] ^ buf[1]] ^ buf[2]] == buf[3]
    st.crc_ok = ok
    if not ok:
        st.bad_crc += 1
        return False
    n = buf[2] & 15
    st.frames += 1
    p = st.prev
    ok = p < 0 or n == ((p + 1) & 15)
    st.counter_ok = ok
    if not ok:
        st.bad_counter += 1
    st.prev = n
    st.n16 = n
    st.n = n & 3
    return True


# ---------------------------------------------------------------------------------------------------------
# Identifier table for tools (CPython side) and generic checks. Periods: P§1 "Periods" (5BC: AZE0 100 ms, ZE0
# 500 ms; 59E: 500 ms in the AZE0-era e-NV200 log). 679 is an event (period 0).

I_NAME = const(0)
I_DLCS = const(1)
I_PERIOD = const(2)
I_INTEGRITY = const(3)
I_ARG = const(4)
I_CBYTE = const(5)
I_CSHIFT = const(6)
I_DIR = const(7)

ID_INFO = {
    0x11A: ("vcm_state", (8,), 10, "crc", 7, 6, 0, "tx"),
    0x1D4: ("torque_request", (8,), 10, "crc", 7, 4, 6, "tx"),
    0x1DA: ("inverter_status", (8,), 10, "crc", 7, 6, 0, "rx"),
    0x1DB: ("battery_status", (8,), 10, "crc", 7, 6, 0, "tx"),
    0x1DC: ("battery_limits", (8,), 10, "crc", 7, 6, 0, "tx"),
    0x1F2: ("charge_command", (8,), 10, "nib", NIB_1F2, 6, 0, "tx"),
    0x390: ("charger_status", (8,), 100, "nib", NIB_390, 7, 4, "rx"),
    0x393: ("charger_state", (8,), 100, "nib", NIB_393, 7, 4, "rx"),
    0x50B: ("vcm_wake", (6, 7), 100, None, 0, -1, 0, "tx"),
    0x50C: ("vcm_to_battery", (6,), 100, "crc", 5, 3, 0, "vcm"),
    0x55A: ("inverter_temps", (8,), 100, None, 0, -1, 0, "rx"),
    0x55B: ("battery_soc", (8,), 100, "crc", 7, 6, 0, "tx"),
    0x59E: ("battery_capacity", (8,), 500, None, 0, -1, 0, "tx"),
    0x5BC: ("battery_remaining", (8,), 100, None, 0, -1, 0, "tx"),
    0x679: ("pdm_wake", (1,), 0, None, 0, -1, 0, "rx"),
    # ZE1 (P§6.2, 6.5). Counters of 0..15 are judged by their low two bits (the checker's 2-bit rule).
    0x120: ("ze1_inverter_heartbeat", (4,), 10, "crc", 3, 2, 0, "rx"),
    0x108: ("ze1_keepalive_108", (3,), 10, "crc", 2, 1, 0, "tx"),
    0x1C2: ("ze1_battery_1c2", (1,), 10, None, 0, 0, 0, "tx"),
    0x1CB: ("ze1_keepalive_1cb", (7,), 10, "crc", 6, 5, 0, "tx"),
    0x1ED: ("ze1_battery_1ed", (3,), 10, "crc", 2, 1, 0, "tx"),
    0x355: ("ze1_keepalive_355", (8,), 40, None, 0, -1, 0, "tx"),
    0x3B8: ("ze1_keepalive_3b8", (5,), 100, None, 0, -1, 0, "tx"),
    0x4B9: ("ze1_keepalive_4b9", (1,), 100, None, 0, 0, 0, "tx"),
    0x5C5: ("ze1_keepalive_5c5", (8,), 100, None, 0, -1, 0, "tx"),
    0x5CD: ("ze1_keepalive_5cd", (5,), 1000, None, 0, -1, 0, "tx"),
    0x5EB: ("ze1_battery_5eb", (8,), 500, None, 0, -1, 0, "tx"),
    0x5EC: ("ze1_keepalive_5ec", (1,), 500, None, 0, -1, 0, "tx"),
    0x625: ("ze1_keepalive_625", (6,), 100, None, 0, -1, 0, "tx"),
}

CODECS = {
    0x11A: (VcmState, decode_11a, encode_11a),
    0x1D4: (TorqueRequest, decode_1d4, encode_1d4),
    0x1DB: (BatteryStatus, decode_1db, encode_1db),
    0x1DC: (BatteryLimits, decode_1dc, encode_1dc),
    0x1F2: (ChargeCommand, decode_1f2, encode_1f2),
    0x50B: (VcmWake, decode_50b, encode_50b),
    0x55B: (BatterySoc, decode_55b, None),
    0x1DA: (InverterStatus, decode_1da, None),
    0x55A: (InverterTemps, decode_55a, None),
    0x390: (ChargerStatus, decode_390, None),
    0x393: (ChargerState, decode_393, None),
    0x120: (Heartbeat, decode_120, None),
}


def integrity_ok(can_id, buf, dlc=8):
    """CRC / checksum of a frame of a known id: True or False; None when the id has no integrity field, is unknown,
    or the DLC is too short to hold the field."""
    e = ID_INFO.get(can_id)
    if e is None or e[3] is None:
        return None
    if e[3] == "crc":
        if dlc <= e[4]:
            return None
        return buf[e[4]] == crc8(buf, e[4])
    if dlc < 8:
        return None
    return nibble_ok(buf, e[4])


def counter_of(can_id, buf, dlc=8):
    """The 2-bit counter of a frame of a known id, or -1 (no counter, unknown id, DLC too short)."""
    e = ID_INFO.get(can_id)
    if e is None or e[5] < 0 or dlc <= e[5]:
        return -1
    return (buf[e[5]] >> e[6]) & 3
