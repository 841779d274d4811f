"""dbc/leafvcu.dbc and the codec (firmware/lib/leafvcu/frames.py) describe the same bits (CPython, cantools)."""

import os

import cantools
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leafvcu import frames as F

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DBC = os.path.join(REPO, "dbc", "leafvcu.dbc")
LOGS = os.path.normpath(os.path.join(REPO, "..", "shared", "leaf-can", "logs"))
if not os.path.isdir(LOGS):
    raise RuntimeError("the shared recordings are missing: expected %s (<repo>/../shared)" % LOGS)

DB = cantools.database.load_file(DBC)  # strict: no overlapping signals, all inside the frame
EXAMPLES = settings(max_examples=150)  # the rest from the suite's profile (tests/conftest.py)
_CACHE = {}


def dbc(can_id, data):
    """Physical values as cantools reads them (no value-table names)."""
    return DB.decode_message(can_id, bytes(data), decode_choices=False, allow_truncated=True)


def log_frames(can_id):
    """Every frame of one id in the real recordings, parsed once (plain text split: fast)."""
    if can_id not in _CACHE:
        tag = " %03X#" % can_id
        out = []
        for name in sorted(os.listdir(LOGS)):
            if name.endswith(".log"):
                with open(os.path.join(LOGS, name)) as f:
                    out.extend(bytes.fromhex(line.split("#", 1)[1]) for line in f if tag in line)
        assert out, can_id
        _CACHE[can_id] = out
    return _CACHE[can_id]


def encoded(encoder, msg, n=None):
    buf = bytearray(getattr(msg, "dlc", 8))
    flags = encoder(buf, msg) if n is None else encoder(buf, msg, n)
    assert flags == 0  # in range: nothing clamped
    return buf


# ---------------------------------------------------------------------------------------------------------
# Structure


def test_every_codec_id_has_a_message_with_its_dlc_and_period():
    assert {m.frame_id for m in DB.messages} == set(F.ID_INFO)
    for can_id, info in F.ID_INFO.items():
        m = DB.get_message_by_frame_id(can_id)
        assert m.length in info[F.I_DLCS], hex(can_id)
        assert (m.cycle_time or 0) == info[F.I_PERIOD], hex(can_id)
        assert not m.is_extended_frame
        assert m.comment and "P" in m.comment  # cites PROTOCOL.md


def test_senders():
    for can_id, info in F.ID_INFO.items():
        senders = DB.get_message_by_frame_id(can_id).senders
        if info[F.I_DIR] in ("tx", "vcm"):
            assert senders in (["VCM"], ["BATTERY"]), hex(can_id)
        else:
            assert senders in (["INVERTER"], ["PDM"]), hex(can_id)


def test_counter_and_integrity_fields_where_the_codec_has_them():
    for can_id, info in F.ID_INFO.items():
        m = DB.get_message_by_frame_id(can_id)
        names = {s.name: s for s in m.signals}
        if info[F.I_CBYTE] >= 0:
            s = names["Counter"]
            assert (s.start, s.length, s.byte_order) == (info[F.I_CBYTE] * 8 + info[F.I_CSHIFT] + 1, 2,
                                                          "big_endian"), hex(can_id)
        else:
            assert "Counter" not in names
        if info[F.I_INTEGRITY] == "crc":
            s = names["CRC"]
            assert (s.start, s.length) == (info[F.I_ARG] * 8 + 7, 8), hex(can_id)
        elif info[F.I_INTEGRITY] == "nib":
            assert (names["Checksum"].start, names["Checksum"].length) == (59, 4)


# The codec fields each DBC test above covers. A field the codec grows fails here until the DBC describes it.
COVERED = {
    F.VcmState: "gear byte0_low onoff eco b2 heartbeat",
    F.TorqueRequest: "upper_raw lower_raw torque_raw precharge hv relay inhibitor status b3_low",
    F.BatteryStatus: "current_raw voltage_raw soc discharge_status failsafe relay_cut relay_permit full_charge "
                     "interlock voltage_latch",
    F.BatteryLimits: "discharge_raw charge_raw charger_raw charge_status b4 b5 b6_hi",
    F.VcmWake: "dlc activation diag wake b5",
    F.ChargeCommand: "power_raw soc80 b0_bits transition dcdc_off dcdc_req mode bit7",
    F.BatterySoc: "soc_raw alu",
    F.InverterStatus: "dc_voltage voltage_valid torque_raw speed_rpm speed_valid errors fault",
    F.InverterTemps: "scale motor_c10 inverter_c10 board_c10 driver_c10 raw1 raw2 raw3 raw4",
    F.ChargerStatus: "power_w available_w ac_class status dcdc_status",
    F.ChargerState: "status",
    F.Heartbeat: "n16",
}
BOOKKEEPING = set("n crc_ok counter_ok strict prev frames bad_crc bad_counter bad_dlc clamped".split())


def test_dbc_tests_cover_every_codec_field():
    assert set(COVERED) == {c[0] for c in F.CODECS.values()}
    for cls, names in COVERED.items():
        assert set(vars(cls())) - BOOKKEEPING == set(names.split()), cls.__name__


def test_every_signal_is_big_endian_and_commented():
    for m in DB.messages:
        for s in m.signals:
            assert s.byte_order == "big_endian", (m.name, s.name)
            assert s.comment, (m.name, s.name)


# ---------------------------------------------------------------------------------------------------------
# PROTOCOL.md check values


@pytest.mark.parametrize("can_id,hexdata,expect", [
    (0x1D4, "F707000007443070", {"TorqueRequest": 0, "TorqueLimitUpper": 617.5, "TorqueLimitLower": -17.5,
                                 "PrechargeReport": 7, "Inhibitor": 2, "Status": 0x30}),
    (0x1D4, "F707064007443053", {"TorqueRequest": 25.0}),
    (0x1D4, "F707F9C0074430AD", {"TorqueRequest": -25.0}),
    (0x1D4, "F7077FF0074430A5", {"TorqueRequest": 511.75}),
    (0x1D4, "F70780000744306F", {"TorqueRequest": -512.0}),
    (0x1DA, "C832180000010159", {"DcVoltage": 400, "MotorSpeed": 0, "EffectiveTorque": 0, "Counter": 1}),
    (0x1DB, "FFE0C86A5F000084", {"Current": -0.5, "Voltage": 400.5, "UsableSoc": 95}),
    (0x1DC, "A00A05D5000000CE", {"DischargeLimit": 160, "ChargeLimit": 40, "ChargerMaxPower": 27.3}),
    (0x1F2, "106400B0001E0180", {"ChargePower": 0, "VcmMode": 0x1E, "Bit7": 1}),
    (0x1F2, "307920A0003C0088", {"ChargePower": 2.1, "ChargeTransition": 1, "VcmMode": 0x3C}),
    (0x390, "041500B3008815C6", {"OutputPower": 2.1, "AcVoltage": 2, "ChargeStatus": 4, "MaxChargePower": 2.1}),
    (0x50B, "000006C0000000", {"Activation": 2, "Diag": 1, "WakeSleep": 3}),
    (0x55B, "A440AA00DFC01095", {"Soc": 65.7, "AluAnswer": 0xAA, "Counter": 0}),
])
def test_protocol_examples(can_id, hexdata, expect):
    data = bytes.fromhex(hexdata)
    assert F.integrity_ok(can_id, data, len(data)) in (True, None)
    got = dbc(can_id, data)
    for k, v in expect.items():
        assert got[k] == pytest.approx(v, abs=1e-9), k


# ---------------------------------------------------------------------------------------------------------
# Every encoder's output reads back, through the DBC, as the physical values that were encoded

n4 = st.integers(0, 3)


@EXAMPLES
@given(gear=st.integers(0, 15), low=st.integers(0, 15), onoff=n4, eco=st.booleans(), b2=st.integers(0, 255),
       hb=st.sampled_from((F.HB_TABLE, F.HB_CONST, F.HB_ZERO)), n=n4)
def test_11a(gear, low, onoff, eco, b2, hb, n):
    m = F.VcmState()
    m.gear, m.byte0_low, m.onoff, m.eco, m.b2, m.heartbeat = gear, low, onoff, eco, b2, hb
    buf = encoded(F.encode_11a, m, n)
    d = dbc(0x11A, buf)
    assert (d["Gear"], d["Byte0Low"], d["CarOnOff"], d["Eco"], d["Byte2"], d["Counter"]) == (
        gear, low, onoff, eco, b2, n)
    table = {F.HB_TABLE: F.HEARTBEAT_11A[2 * n:2 * n + 2], F.HB_CONST: b"\xaa\xc0", F.HB_ZERO: b"\0\0"}[hb]
    assert (d["Heartbeat3"], d["Heartbeat4"]) == tuple(table)
    assert d["CRC"] == F.crc8(buf)


@EXAMPLES
@given(upper=st.integers(0, 255), lower=st.integers(0, 255), torque=st.integers(-2048, 2047),
       pre=st.integers(0, 15), hv=st.booleans(), relay=st.booleans(), inhibitor=n4, status=st.integers(0, 255),
       b3=st.integers(0, 15), n=n4)
def test_1d4(upper, lower, torque, pre, hv, relay, inhibitor, status, b3, n):
    m = F.TorqueRequest()
    m.upper_raw, m.lower_raw, m.torque_raw, m.b3_low = upper, lower, torque, b3
    m.precharge, m.hv, m.relay, m.inhibitor, m.status = pre, hv, relay, inhibitor, status
    buf = encoded(F.encode_1d4, m, n)
    d = dbc(0x1D4, buf)
    assert d["TorqueLimitUpper"] == m.upper_nm
    assert d["TorqueLimitLower"] == m.lower_nm
    assert d["TorqueRequest"] == m.torque_nm
    assert d["Byte3Low"] == b3
    assert d["PrechargeReport"] == pre | (4 if hv else 0)  # hv is bit 2 of the nibble
    assert (d["MainRelayPlus"], d["Inhibitor"], d["Status"], d["Counter"]) == (relay, inhibitor, status, n)
    assert d["CRC"] == F.crc8(buf)


@EXAMPLES
@given(cur=st.integers(-1024, 1023), volt=st.integers(0, 1023), soc=st.integers(0, 127), dis=n4,
       fs=st.integers(0, 7), cut=n4, flags=st.lists(st.booleans(), min_size=4, max_size=4), n=n4)
def test_1db(cur, volt, soc, dis, fs, cut, flags, n):
    m = F.BatteryStatus()
    m.current_raw, m.voltage_raw, m.soc, m.discharge_status, m.failsafe, m.relay_cut = cur, volt, soc, dis, fs, cut
    m.relay_permit, m.full_charge, m.interlock, m.voltage_latch = flags
    d = dbc(0x1DB, encoded(F.encode_1db, m, n))
    assert (d["Current"], d["Voltage"]) == (m.current_a, m.voltage_v)
    assert (d["UsableSoc"], d["DischargeStatus"], d["Failsafe"], d["RelayCut"], d["Counter"]) == (soc, dis, fs, cut, n)
    assert [d["RelayPermit"], d["FullCharge"], d["Interlock"], d["VoltageLatch"]] == flags


@EXAMPLES
@given(dis=st.integers(0, 1023), chg=st.integers(0, 1023), chgr=st.integers(0, 1023), cs=n4,
       b4=st.integers(0, 255), b5=st.integers(0, 255), b6=st.integers(0, 63), n=n4)
def test_1dc(dis, chg, chgr, cs, b4, b5, b6, n):
    m = F.BatteryLimits()
    m.discharge_raw, m.charge_raw, m.charger_raw, m.charge_status, m.b4, m.b5, m.b6_hi = dis, chg, chgr, cs, b4, b5, b6
    d = dbc(0x1DC, encoded(F.encode_1dc, m, n))
    assert (d["DischargeLimit"], d["ChargeLimit"]) == (m.discharge_kw, m.charge_kw)
    assert d["ChargerMaxPower"] == pytest.approx(m.charger_kw, abs=1e-9)
    assert (d["ChargeStatus"], d["Byte4"], d["Byte5"], d["Byte6High"], d["Counter"]) == (cs, b4, b5, b6, n)


@EXAMPLES
@given(power=st.integers(0, 1023), soc80=st.booleans(), b0=st.integers(0, 31), tr=n4, off=st.booleans(),
       req=st.integers(0, 255), mode=st.integers(0, 255), bit7=st.booleans(), n=n4)
def test_1f2(power, soc80, b0, tr, off, req, mode, bit7, n):
    m = F.ChargeCommand()
    m.power_raw, m.soc80, m.b0_bits, m.transition, m.dcdc_off = power, soc80, b0 << 2, tr, off
    m.dcdc_req, m.mode, m.bit7 = req, mode, bit7
    buf = encoded(F.encode_1f2, m, n)
    d = dbc(0x1F2, buf)
    assert d["ChargePower"] == pytest.approx(m.power_kw, abs=1e-9)
    assert (d["TargetSoc80"], d["Byte0Bits"], d["ChargeTransition"], d["DcDcDisable"]) == (soc80, b0 << 2, tr, off)
    assert (d["DcDcRequest"], d["VcmMode"], d["Bit7"], d["Counter"]) == (req, mode, bit7, n)
    assert d["Checksum"] == F.nibble_checksum(buf, F.NIB_1F2)


@EXAMPLES
@given(act=n4, diag=st.booleans(), wake=n4, b5=st.integers(0, 255), dlc=st.sampled_from((6, 7)))
def test_50b(act, diag, wake, b5, dlc):
    m = F.VcmWake(dlc=dlc)
    m.activation, m.diag, m.wake, m.b5 = act, diag, wake, b5
    buf = encoded(F.encode_50b, m)
    assert len(buf) == dlc
    d = dbc(0x50B, buf)  # DBC length 7 (AZE0); a ZE0 DLC 6 frame holds every signal too
    assert (d["Activation"], d["Diag"], d["WakeSleep"], d["Byte5"]) == (act, diag, wake, b5)


@pytest.mark.parametrize("n", range(4))
def test_static_battery_frames(n):
    buf = bytearray(8)
    F.encode_55b(buf, n)
    d = dbc(0x55B, buf)
    assert (d["Soc"], d["AluAnswer"], d["Counter"], d["CRC"]) == (pytest.approx(65.7), 0xAA, n, F.crc8(buf))
    F.encode_59e(buf)
    assert dbc(0x59E, buf)["Payload"] == int.from_bytes(F.FRAME_59E, "big")
    F.encode_5bc(buf)
    assert dbc(0x5BC, buf)["Payload"] == int.from_bytes(F.FRAME_5BC, "big")


def test_clamped_torque_reads_as_the_clamped_value():
    m = F.TorqueRequest()
    m.torque_nm = 900
    buf = bytearray(8)
    assert F.clamped_names(m, F.encode_1d4(buf, m, 0)) == ("torque_raw",)
    assert dbc(0x1D4, buf)["TorqueRequest"] == 511.75


# ---------------------------------------------------------------------------------------------------------
# Received frames: the DBC reads what the codec's decoders read


def _with_crc(data):
    d = bytearray(data)
    d[7] = F.crc8(d)
    return d


def same_1da(data):
    s = F.InverterStatus(strict=False)
    assert F.decode_1da(data, s)
    d = dbc(0x1DA, data)
    assert d["DcVoltage"] == (s.dc_voltage if s.voltage_valid else 510)  # 0xFF * 2 V: the "invalid" marker
    assert d["EffectiveTorque"] == s.torque_nm
    assert d["MotorSpeed"] == (s.speed_rpm if s.speed_valid else 16383)
    assert (d["Counter"], d["ErrorBits"]) == (s.n, s.errors)


def test_every_1da_of_the_real_logs():
    frames = log_frames(0x1DA)
    assert len(frames) > 30000
    for data in frames:
        same_1da(data)


@EXAMPLES
@given(st.binary(min_size=8, max_size=8))
def test_random_1da(data):
    same_1da(_with_crc(data))


def same_55a(data):
    assert F.TEMP_55A == F.TEMP_55A_DMZV  # the DBC follows the codec's default reading (see its comment)
    s = F.InverterTemps()
    assert F.decode_55a(data, s)
    d = dbc(0x55A, data)
    assert d["MotorTemp"] == pytest.approx(s.motor_c, abs=0.051)  # the codec rounds to 0.1 degC
    assert d["InverterTemp"] == pytest.approx(s.inverter_c, abs=0.051)
    assert (d["Byte3"], d["Byte4"]) == (s.raw3, s.raw4)


def test_every_55a_of_the_real_logs():
    for data in log_frames(0x55A):
        same_55a(data)


@EXAMPLES
@given(st.binary(min_size=8, max_size=8))
def test_random_55a(data):
    same_55a(data)


@EXAMPLES
@given(st.binary(min_size=8, max_size=8))
def test_random_390_393_55b(data):
    d = bytearray(data)
    d[7] = (d[7] & 0xF0) | F.nibble_checksum(d, F.NIB_390)
    s = F.ChargerStatus(strict=False)
    assert F.decode_390(d, s)
    g = dbc(0x390, d)
    assert round(g["OutputPower"] * 1000) == s.power_w and round(g["MaxChargePower"] * 1000) == s.available_w
    assert (g["AcVoltage"], g["DcDcStatus"], g["ChargeStatus"], g["Counter"]) == (s.ac_class, s.dcdc_status,
                                                                                   s.status, s.n)
    d[7] = (d[7] & 0xF0) | F.nibble_checksum(d, F.NIB_393)
    s = F.ChargerState(strict=False)
    assert F.decode_393(d, s)
    assert (dbc(0x393, d)["Status"], dbc(0x393, d)["Counter"]) == (s.status, s.n)
    d = _with_crc(d)
    s = F.BatterySoc(strict=False)
    assert F.decode_55b(d, s)
    g = dbc(0x55B, d)
    assert (g["Soc"], g["AluAnswer"], g["Counter"]) == (pytest.approx(s.soc_pct), s.alu, s.n)


def test_real_1f2_390_393_frames():
    for data in log_frames(0x1F2):
        s = F.ChargeCommand(strict=False)
        assert F.decode_1f2(data, s)
        g = dbc(0x1F2, data)
        assert g["ChargePower"] == pytest.approx(s.power_kw, abs=1e-9) and g["Checksum"] == data[7] & 15
    for data in log_frames(0x390):
        s = F.ChargerStatus(strict=False)
        assert F.decode_390(data, s)
        assert round(dbc(0x390, data)["OutputPower"] * 1000) == s.power_w
