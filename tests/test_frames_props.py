"""Property tests for leafvcu.frames (CPython, hypothesis).

* Every encoder / decoder pair round-trips over the whole range of every field, in raw and in physical units.
* Values outside what a field holds are clamped to the nearest end and reported in exactly that field's flag bit;
  the wire never carries a wrapped value.
* The decoders agree bit for bit with an independent reading of the same bytes: the community DBC
  (../shared/leaf-can/dbc/EV-can_AZE0.dbc) decoded by cantools.
* CRC-8 equals the bit-serial reference and catches every single-bit error; the nibble checksum catches every
  single-nibble error.
"""

import pathlib

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from leafvcu import frames as F

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DBC = REPO.parent / "shared" / "leaf-can" / "dbc" / "EV-can_AZE0.dbc"

u2 = st.integers(0, 3)
u4 = st.integers(0, 15)
u8 = st.integers(0, 255)
u10 = st.integers(0, 1023)
nc = st.integers(0, 3)
frame8 = st.binary(min_size=8, max_size=8)


def _crc_ref(data, n):
    c = 0
    for b in data[:n]:
        c ^= b
        for _ in range(8):
            c = ((c << 1) ^ 0x85) & 0xFF if c & 0x80 else (c << 1) & 0xFF
    return c


def _with_crc(data):
    b = bytearray(data)
    b[7] = F.crc8(b)
    return bytes(b)


def _with_nib(data, offset):
    b = bytearray(data)
    b[7] &= 0xF0
    b[7] |= F.nibble_checksum(b, offset)
    return bytes(b)


# ------------------------------------------------------------------------------------------------ integrity


@given(st.binary(min_size=0, max_size=16))
def test_crc8_matches_bitserial(data):
    assert F.crc8(data, len(data)) == _crc_ref(data, len(data))


@given(st.binary(min_size=7, max_size=7), st.integers(0, 63))
def test_crc_catches_every_single_bit_error(data, bit):
    b = bytearray(data + bytes([F.crc8(data)]))
    assert F.crc_ok(b)
    b[bit // 8] ^= 1 << (bit % 8)
    assert not F.crc_ok(b)


@given(frame8, st.integers(0, 13), st.integers(1, 15), st.sampled_from([F.NIB_1F2, F.NIB_390, F.NIB_393]))
def test_nibble_checksum_catches_every_single_nibble_error(data, nib, delta, offset):
    b = bytearray(_with_nib(data, offset))
    assert F.nibble_ok(b, offset)
    i, hi = nib // 2, nib % 2
    v = (b[i] >> 4) if hi else (b[i] & 15)
    v = (v + delta) & 15
    b[i] = (b[i] & 0x0F) | (v << 4) if hi else (b[i] & 0xF0) | v
    assert not F.nibble_ok(b, offset)


# ------------------------------------------------------------------------------------------------ round trips


def _roundtrip(enc, dec, m, n, cls, dlc=8):
    buf = bytearray(8)
    f = enc(buf, m, n) if n is not None else enc(buf, m)
    assert f == 0 and m.clamped == 0
    d = cls()
    assert dec(buf, d, dlc)
    assert d.crc_ok
    return d, buf


@given(u4, u4, u2, st.booleans(), u8, st.integers(0, 2), nc)
def test_11a_roundtrip(gear, low, onoff, eco, b2, hb, n):
    m = F.VcmState()
    m.gear, m.byte0_low, m.onoff, m.eco, m.b2, m.heartbeat = gear, low, onoff, eco, b2, hb
    d, _ = _roundtrip(F.encode_11a, F.decode_11a, m, n, F.VcmState)
    assert (d.gear, d.byte0_low, d.onoff, d.eco, d.b2, d.n) == (gear, low, onoff, eco, b2, n)
    # for n = 0 the table's entry is the constant AA C0: both read back as the table
    assert d.heartbeat == (F.HB_TABLE if (hb == F.HB_CONST and n == 0) else hb)


@given(u8, u8, st.integers(-2048, 2047), u4, st.booleans(), st.booleans(), u2, u8, u4, nc)
def test_1d4_roundtrip(upper, lower, torque, pre, hv, relay, inh, status, b3low, n):
    m = F.TorqueRequest()
    m.upper_raw, m.lower_raw, m.torque_raw, m.precharge = upper, lower, torque, pre
    m.hv, m.relay, m.inhibitor, m.status, m.b3_low = hv, relay, inh, status, b3low
    d, _ = _roundtrip(F.encode_1d4, F.decode_1d4, m, n, F.TorqueRequest)
    assert (d.upper_raw, d.lower_raw, d.torque_raw) == (upper, lower, torque)
    assert (d.relay, d.inhibitor, d.status, d.b3_low, d.n) == (relay, inh, status, b3low, n)
    # hv is byte 4 bit 2, which the precharge nibble shares (PRECHARGED = 7 carries it)
    assert d.precharge == pre | (4 if hv else 0)
    assert d.hv == (hv or bool(pre & 4))


@given(st.integers(-1024, 1023), u10, st.integers(0, 127), u2, st.integers(0, 7), u2,
       st.booleans(), st.booleans(), st.booleans(), st.booleans(), nc)
def test_1db_roundtrip(cur, volt, soc, dis, fs, cut, permit, full, ilock, latch, n):
    m = F.BatteryStatus()
    m.current_raw, m.voltage_raw, m.soc, m.discharge_status, m.failsafe, m.relay_cut = cur, volt, soc, dis, fs, cut
    m.relay_permit, m.full_charge, m.interlock, m.voltage_latch = permit, full, ilock, latch
    d, _ = _roundtrip(F.encode_1db, F.decode_1db, m, n, F.BatteryStatus)
    for k in ("current_raw", "voltage_raw", "soc", "discharge_status", "failsafe", "relay_cut",
              "relay_permit", "full_charge", "interlock", "voltage_latch"):
        assert getattr(d, k) == getattr(m, k), k
    assert d.n == n


@given(u10, u10, u10, u2, u8, u8, st.integers(0, 63), nc)
def test_1dc_roundtrip(dis, chg, chgr, status, b4, b5, b6hi, n):
    m = F.BatteryLimits()
    m.discharge_raw, m.charge_raw, m.charger_raw, m.charge_status = dis, chg, chgr, status
    m.b4, m.b5, m.b6_hi = b4, b5, b6hi
    d, _ = _roundtrip(F.encode_1dc, F.decode_1dc, m, n, F.BatteryLimits)
    assert (d.discharge_raw, d.charge_raw, d.charger_raw, d.charge_status) == (dis, chg, chgr, status)
    assert (d.b4, d.b5, d.b6_hi, d.n) == (b4, b5, b6hi, n)


@given(u10, st.booleans(), st.integers(0, 31), u2, st.booleans(), u8, u8, st.booleans(), nc)
def test_1f2_roundtrip(power, soc80, b0bits, trans, dcdc_off, dcdc_req, mode, bit7, n):
    m = F.ChargeCommand()
    m.power_raw, m.soc80, m.b0_bits, m.transition = power, soc80, b0bits << 2, trans
    m.dcdc_off, m.dcdc_req, m.mode, m.bit7 = dcdc_off, dcdc_req, mode, bit7
    d, buf = _roundtrip(F.encode_1f2, F.decode_1f2, m, n, F.ChargeCommand)
    for k in ("power_raw", "soc80", "b0_bits", "transition", "dcdc_off", "dcdc_req", "mode", "bit7"):
        assert getattr(d, k) == getattr(m, k), k
    assert d.n == n
    assert F.nibble_ok(buf, F.NIB_1F2)


@given(st.sampled_from([6, 7]), u2, st.booleans(), u2, u8)
def test_50b_roundtrip(dlc, act, diag, wake, b5):
    m = F.VcmWake(dlc)
    m.activation, m.diag, m.wake, m.b5 = act, diag, wake, b5
    sentinel = bytearray(b"\xee" * 8)
    assert F.encode_50b(sentinel, m) == 0
    assert sentinel[dlc:] == b"\xee" * (8 - dlc)  # nothing beyond the DLC is written
    d = F.VcmWake()
    assert F.decode_50b(sentinel, d, dlc)
    assert (d.dlc, d.activation, d.diag, d.wake, d.b5) == (dlc, act, diag, wake, b5)


@given(nc)
def test_55b_roundtrip(n):
    buf = bytearray(8)
    assert F.encode_55b(buf, n) == 0
    d = F.BatterySoc()
    assert F.decode_55b(buf, d)
    assert (d.soc_raw, d.alu, d.n) == (657, 0xAA, n)


# physical units: setter -> encode -> decode -> getter lands within half a step of the input


@given(st.floats(-512, 511.75), st.floats(0, 637.5), st.floats(-637.5, 0))
def test_1d4_physical(torque_nm, upper_nm, lower_nm):
    m = F.TorqueRequest()
    m.torque_nm, m.upper_nm, m.lower_nm = torque_nm, upper_nm, lower_nm
    assume(-2048 <= m.torque_raw <= 2047 and m.upper_raw <= 255 and m.lower_raw <= 255)
    d, _ = _roundtrip(F.encode_1d4, F.decode_1d4, m, 0, F.TorqueRequest)
    assert abs(d.torque_nm - torque_nm) <= 0.125 + 1e-9
    assert abs(d.upper_nm - upper_nm) <= 1.25 + 1e-9
    assert abs(d.lower_nm - lower_nm) <= 1.25 + 1e-9
    assert d.lower_nm <= 0


@given(st.integers(-512, 511), st.integers(-2048, 2047))
def test_1d4_int_nm_is_exact(nm, raw):
    m = F.TorqueRequest()
    m.torque_nm = nm
    assert m.torque_raw == nm * 4 and m.torque_nm == nm
    assert F.nm_to_torque_raw(raw * 0.25) == raw


@given(st.floats(-512, 511.5), st.floats(0, 511.5))
def test_1db_physical(current_a, voltage_v):
    m = F.BatteryStatus()
    m.current_a, m.voltage_v = current_a, voltage_v
    assume(m.current_raw <= 1023 and m.voltage_raw <= 1023)
    d, _ = _roundtrip(F.encode_1db, F.decode_1db, m, 0, F.BatteryStatus)
    assert abs(d.current_a - current_a) <= 0.25 + 1e-9
    assert abs(d.voltage_v - voltage_v) <= 0.25 + 1e-9


@given(st.floats(0, 255.75), st.floats(0, 255.75), st.floats(-10, 92.3))
def test_1dc_physical(dis_kw, chg_kw, charger_kw):
    m = F.BatteryLimits()
    m.discharge_kw, m.charge_kw, m.charger_kw = dis_kw, chg_kw, charger_kw
    assume(m.discharge_raw <= 1023 and m.charge_raw <= 1023 and 0 <= m.charger_raw <= 1023)
    d, _ = _roundtrip(F.encode_1dc, F.decode_1dc, m, 0, F.BatteryLimits)
    assert abs(d.discharge_kw - dis_kw) <= 0.125 + 1e-9
    assert abs(d.charge_kw - chg_kw) <= 0.125 + 1e-9
    assert abs(d.charger_kw - charger_kw) <= 0.05 + 1e-9


@given(st.floats(-10, 92.3))
def test_1f2_physical(kw):
    m = F.ChargeCommand()
    m.power_kw = kw
    assume(0 <= m.power_raw <= 1023)
    d, _ = _roundtrip(F.encode_1f2, F.decode_1f2, m, 0, F.ChargeCommand)
    assert abs(d.power_kw - kw) <= 0.05 + 1e-9


@given(st.integers(0, 1023))
def test_1f2_raw_kw_exact(raw):
    # raw -> kW -> raw is the identity (the 0.1 kW steps are not exact binary fractions)
    m = F.ChargeCommand()
    m.power_raw = raw
    kw = m.power_kw
    m.power_kw = kw
    assert m.power_raw == raw
    b = F.BatteryLimits()
    b.charger_raw = raw
    b.charger_kw = b.charger_kw
    assert b.charger_raw == raw


# ------------------------------------------------------------------------------------------------ clamping

# field -> (lo, hi) of what the wire holds, per message class
RANGES = {
    F.VcmState: {"gear": (0, 15), "byte0_low": (0, 15), "onoff": (0, 3), "b2": (0, 255), "heartbeat": (0, 2)},
    F.TorqueRequest: {"upper_raw": (0, 255), "lower_raw": (0, 255), "torque_raw": (-2048, 2047),
                      "precharge": (0, 15), "inhibitor": (0, 3), "status": (0, 255), "b3_low": (0, 15)},
    F.BatteryStatus: {"current_raw": (-1024, 1023), "voltage_raw": (0, 1023), "soc": (0, 127),
                      "discharge_status": (0, 3), "failsafe": (0, 7), "relay_cut": (0, 3)},
    F.BatteryLimits: {"discharge_raw": (0, 1023), "charge_raw": (0, 1023), "charger_raw": (0, 1023),
                      "charge_status": (0, 3), "b4": (0, 255), "b5": (0, 255), "b6_hi": (0, 63)},
    F.ChargeCommand: {"power_raw": (0, 1023), "transition": (0, 3), "dcdc_req": (0, 255), "mode": (0, 255)},
    F.VcmWake: {"activation": (0, 3), "wake": (0, 3), "b5": (0, 255)},
}
CODEC = {
    F.VcmState: (F.encode_11a, F.decode_11a),
    F.TorqueRequest: (F.encode_1d4, F.decode_1d4),
    F.BatteryStatus: (F.encode_1db, F.decode_1db),
    F.BatteryLimits: (F.encode_1dc, F.decode_1dc),
    F.ChargeCommand: (F.encode_1f2, F.decode_1f2),
    F.VcmWake: (lambda b, m, n: F.encode_50b(b, m), F.decode_50b),
}
FIELD_CASES = [(cls, name) for cls in RANGES for name in RANGES[cls]]


def test_ranges_cover_every_clampable_field():
    for cls, fields in RANGES.items():
        expected = set(cls.FIELDS) - {"b0_bits", "dlc"}  # bit set and DLC: own tests below
        assert set(fields) == expected, cls.__name__


@pytest.mark.parametrize("cls,name", FIELD_CASES, ids=lambda x: getattr(x, "__name__", x))
@given(data=st.data())
def test_out_of_range_clamps_and_reports(cls, name, data):
    lo, hi = RANGES[cls][name]
    v = data.draw(st.one_of(st.integers(hi + 1, hi + 10**6), st.integers(lo - 10**6, lo - 1)), label=name)
    m = cls()
    setattr(m, name, v)
    enc, dec = CODEC[cls]
    buf = bytearray(8)
    f = enc(buf, m, 1)
    bit = 1 << cls.FIELDS.index(name)
    assert f == bit and m.clamped == bit
    assert F.clamped_names(m, f) == (name,)
    d = cls()
    assert dec(buf, d, getattr(m, "dlc", 8))
    want = hi if v > hi else lo
    if cls is F.VcmState and name == "heartbeat" and want == F.HB_CONST:
        want = F.HB_CONST  # counter 1 here, so AA C0 is not the table entry
    assert getattr(d, name) == want
    # and every other field kept its value
    for other in RANGES[cls]:
        if other != name:
            assert getattr(d, other) == getattr(m, other), other


@given(st.integers(0, 255))
def test_1f2_b0_bits_stray_bits_dropped_and_reported(b0):
    m = F.ChargeCommand()
    m.b0_bits = b0
    buf = bytearray(8)
    f = F.encode_1f2(buf, m, 0)
    assert (f == 2) == bool(b0 & ~0x7C)
    assert buf[0] & 0x7C == b0 & 0x7C
    assert buf[0] & 0x83 == (m.power_raw >> 8)  # neither soc80 nor the power bits were touched


@given(st.integers(-100, 100).filter(lambda d: d not in (6, 7)))
def test_50b_dlc_clamped(dlc):
    m = F.VcmWake()
    m.dlc = dlc
    buf = bytearray(b"\xee" * 8)
    assert F.encode_50b(buf, m) == 8
    used = 6 if dlc < 6 else 7
    assert buf[used:] == b"\xee" * (8 - used)


@given(st.floats(-1e6, 1e6))
def test_torque_nm_never_wraps(nm):
    m = F.TorqueRequest()
    m.torque_nm = nm
    buf = bytearray(8)
    f = F.encode_1d4(buf, m, 0)
    d = F.TorqueRequest()
    F.decode_1d4(buf, d)
    assert (f & 4 != 0) == (not -2048 <= m.torque_raw <= 2047)
    if nm > 0:
        assert d.torque_raw >= 0
    if nm < 0:
        assert d.torque_raw <= 0
    assert abs(d.torque_nm - max(-512.0, min(511.75, nm))) <= 0.125 + 1e-9


# ------------------------------------------------------------------------------------------------ against the DBC


class _Dbc:
    # A short repr: hypothesis prints the arguments of a failing example.
    def __init__(self, db):
        self.db = db

    def __repr__(self):
        return "<EV-can_AZE0.dbc>"

    def decode_message(self, can_id, data, **kw):
        return self.db.decode_message(can_id, data, **kw)


@pytest.fixture(scope="module")
def dbc():
    cantools = pytest.importorskip("cantools")
    assert SHARED_DBC.exists(), "missing %s" % SHARED_DBC
    return _Dbc(cantools.database.load_file(str(SHARED_DBC), strict=False))


def _raw(dbc, can_id, data):
    return dbc.decode_message(can_id, data, decode_choices=False, scaling=False)


@settings(max_examples=300)
@given(frame8)
def test_1da_agrees_with_dbc(dbc, data):
    data = _with_crc(data)
    s = F.InverterStatus()
    assert F.decode_1da(data, s)
    r = _raw(dbc, 0x1DA, data)
    if data[0] == 0xFF:
        assert not s.voltage_valid and s.dc_voltage == 0
    else:
        assert s.voltage_valid and s.dc_voltage == 2 * r["MG_InputVoltage"]
    assert s.torque_raw == r["MG_EffectiveTorque"]
    raw16 = (data[4] << 8) | data[5]
    if raw16 in (0x7FFF, 0x7FFE):
        assert not s.speed_valid
    else:
        assert s.speed_valid and s.speed_rpm == r["MG_OutputRevolution"]
    assert s.errors == r["MG_ErrorCodes"] and s.n == r["MG_CLOCK"]
    assert s.fault == bool(data[6] & 0xB0)


@settings(max_examples=200)
@given(frame8)
def test_sent_frame_decoders_agree_with_dbc(dbc, data):
    c = _with_crc(data)
    m = F.TorqueRequest()
    assert F.decode_1d4(c, m)
    r = _raw(dbc, 0x1D4, c)
    assert (m.upper_raw, m.lower_raw, m.torque_raw) == (
        r["MotorTqLimitUpper"], r["MotorTqLimitLower"], r["TargetMotorTorque"])
    assert (m.hv, m.n, m.inhibitor, m.relay) == (
        bool(r["StatusOfHighVoltagePowerSupply"]), r["HCM_CLOCK"], r["Inhibitor_Pos"],
        bool(r["Relay_Plus_Output_Status"]))
    m = F.BatteryStatus()
    assert F.decode_1db(c, m)
    r = _raw(dbc, 0x1DB, c)
    assert (m.current_raw, m.voltage_raw, m.soc, m.n) == (
        r["LB_Current"], r["LB_Total_Voltage"], r["LB_Usable_SOC"], r["LB_PRUN_1DB"])
    assert (m.failsafe, m.relay_cut, m.discharge_status) == (
        r["LB_Failsafe_Status"], r["LB_Relay_Cut_Request"], r["LB_Discharge_Power_Status"])
    assert (m.relay_permit, m.full_charge, m.interlock, m.voltage_latch) == (
        bool(r["LB_MainRelayOn_flag"]), bool(r["LB_Full_CHARGE_flag"]), bool(r["LB_INTER_LOCK"]),
        bool(r["LB_Voltage_Latch_Flag"]))
    m = F.BatteryLimits()
    assert F.decode_1dc(c, m)
    r = _raw(dbc, 0x1DC, c)
    assert (m.discharge_raw, m.charge_raw, m.charger_raw, m.charge_status, m.n) == (
        r["LB_Discharge_Power_Limit"], r["LB_Charge_Power_Limit"], r["LB_MAX_POWER_FOR_CHARGER"],
        r["LB_Charge_Power_Status"], r["LB_PRUN_1DC"])
    c = bytearray(c)
    c[6] &= 3  # the DBC multiplexes 11A on byte 6 (the counter) and knows only 0..3
    c = _with_crc(c)
    m = F.VcmState()
    assert F.decode_11a(c, m)
    r = _raw(dbc, 0x11A, c)
    assert (m.gear, m.onoff, m.eco) == (r["JoystickGearPosition"], r["CarOnOffStatus"], bool(r["ECOselected"]))
    m = F.BatterySoc()
    assert F.decode_55b(c, m)
    r = _raw(dbc, 0x55B, c)
    assert (m.soc_raw, m.alu, m.n) == (r["LB_SOC"], r["LB_ALU_ANSWER"], r["LB_PRUN_55B"])
    n = _with_nib(data, F.NIB_1F2)
    m = F.ChargeCommand()
    assert F.decode_1f2(n, m)
    r = _raw(dbc, 0x1F2, n)
    assert (m.power_raw, m.soc80, m.transition, m.mode, m.n, m.bit7) == (
        r["HvBatChargeablePower"], bool(r["TargetCharge_SOC"]), r["Charge_StatusTransitionReqest"],
        r["VcmMode"], r["MPRUN"], bool(r["Unknown_498"]))
    assert n[7] & 15 == r["CSUM_498"]
    m = F.VcmWake()
    assert F.decode_50b(data[:7], m, 7)
    r = dbc.decode_message(0x50B, data[:7], decode_choices=False, scaling=False)
    assert (m.activation, m.diag, m.wake) == (r["VcmActivation"], bool(r["DiagMuxOn_VCM"]), r["HCM_WakeUpSleepCmd"])


@settings(max_examples=200)
@given(frame8)
def test_received_frame_decoders_agree_with_dbc(dbc, data):
    b = _with_nib(data, F.NIB_390)
    s = F.ChargerStatus()
    assert F.decode_390(b, s)
    r = _raw(dbc, 0x390, b)
    assert (s.power_w, s.available_w) == (100 * r["OBC_Charge_Power"], 100 * r["OBC_Maximum_Charge_Power_Out"])
    assert (s.ac_class, s.status, s.dcdc_status, s.n) == (
        r["OBC_Status_AC_Voltage"], r["OBC_Charge_Status"], r["OBC_DcdcConvStatus"], r["PRUN_390"])
    b = _with_nib(data, F.NIB_393)
    s = F.ChargerState()
    assert F.decode_393(b, s)
    r = _raw(dbc, 0x393, b)
    assert (s.status, s.n) == (r["Unknown_393_1"], r["PRUN_393"])
    s = F.InverterTemps(F.TEMP_55A_DBC)
    assert F.decode_55a(data, s)
    r = _raw(dbc, 0x55A, data)
    assert (s.board_c10, s.inverter_c10, s.driver_c10, s.motor_c10) == (
        5 * r["InverterComBoardTemp"], 5 * r["IGBTTemperature"], 5 * r["IGBTDriverBoardTemperature"],
        5 * r["MotorTemperature"])
    s = F.InverterTemps(F.TEMP_55A_DMZV)
    F.decode_55a(data, s)
    assert abs(s.motor_c - (data[1] - 32) * 5 / 9) <= 0.05 + 1e-9
    assert abs(s.inverter_c - (data[2] - 32) * 5 / 9) <= 0.05 + 1e-9


@given(frame8, st.sampled_from(sorted(F.ID_INFO)))
def test_integrity_ok_and_counter_of_follow_id_info(data, can_id):
    info = F.ID_INFO[can_id]
    kind, arg = info[F.I_INTEGRITY], info[F.I_ARG]
    got = F.integrity_ok(can_id, data, 8)
    if kind is None:
        assert got is None
    elif kind == "crc":
        assert got == (data[arg] == _crc_ref(data, arg))
    else:
        assert got == F.nibble_ok(data, arg)
    cb = info[F.I_CBYTE]
    assert F.counter_of(can_id, data, 8) == (-1 if cb < 0 else (data[cb] >> info[F.I_CSHIFT]) & 3)


# decode_1da and decode_120 write their CRC and counter checks out (the two frames a ZE1 sends every 10 ms): the
# record they keep agrees, frame for frame, with the generic checks (crc_ok / crc8, counter_step_ok; 0x120's counter
# steps modulo 16) over any sequence of frames, good, corrupt, repeated or with a wrong DLC.
def _integrity_record(s):
    return (s.crc_ok, s.counter_ok, s.frames, s.bad_crc, s.bad_counter, s.bad_dlc, s.prev, s.n)


@settings(max_examples=300)
@given(st.lists(st.tuples(frame8, st.booleans(), st.sampled_from((8, 8, 8, 7)), u2), min_size=1, max_size=12),
       st.booleans())
def test_1da_integrity_checks_agree_with_the_generic_ones(seq, strict):
    s = F.InverterStatus(strict=strict)
    frames = bad_crc = bad_counter = bad_dlc = 0
    prev = -1
    crc_ok = counter_ok = True
    for data, fix, dlc, ctr in seq:
        data = bytearray(data)
        if fix:   # most frames right: a counter near the previous one, the CRC made to fit
            data[6] = (data[6] & 0xFC) | ((prev + ctr) & 3)
            data[7] = F.crc8(data, 7)
        ok = F.decode_1da(data, s, dlc)
        if dlc != 8:
            bad_dlc += 1
            assert ok is False
        elif not F.crc_ok(data, 7):
            crc_ok = False
            bad_crc += 1
            assert ok is False
        else:
            crc_ok = True
            n = data[6] & 3
            counter_ok = F.counter_step_ok(prev, n, strict)
            bad_counter += not counter_ok
            frames += 1
            prev = n
            assert ok is True
        assert _integrity_record(s) == (crc_ok, counter_ok, frames, bad_crc, bad_counter, bad_dlc, prev,
                                        prev if prev >= 0 else 0)


@settings(max_examples=300)
@given(st.lists(st.tuples(st.binary(min_size=4, max_size=4), st.booleans(), st.sampled_from((4, 4, 4, 3)),
                          st.integers(0, 2)), min_size=1, max_size=20))
def test_120_integrity_checks_agree_with_the_generic_ones(seq):
    s = F.Heartbeat()
    frames = bad_crc = bad_counter = bad_dlc = 0
    prev = -1
    crc_ok = counter_ok = True
    for data, fix, dlc, step in seq:
        data = bytearray(data)
        if fix:
            data[2] = (data[2] & 0xF0) | ((prev + step) & 15)
            data[3] = F.crc8(data, 3)
        ok = F.decode_120(data, s, dlc)
        if dlc != 4:
            bad_dlc += 1
            assert ok is False
        elif data[3] != F.crc8(data, 3):
            crc_ok = False
            bad_crc += 1
            assert ok is False
        else:
            crc_ok = True
            n = data[2] & 15
            counter_ok = prev < 0 or n == (prev + 1) & 15
            bad_counter += not counter_ok
            frames += 1
            prev = n
            assert ok is True
        assert _integrity_record(s) == (crc_ok, counter_ok, frames, bad_crc, bad_counter, bad_dlc, prev,
                                        prev & 3 if prev >= 0 else 0)
        assert s.n16 == (prev if prev >= 0 else 0)
