"""leafvcu.frames against every real recording in ../shared/leaf-can/logs (candump -L).

Every 11A, 1D4, 1DA, 1DB, 1DC, 55B and 50C frame passes the codec's CRC check and every 1F2 its nibble checksum
(logs/README.md: a decoder that rejects any of them is wrong); 390 / 393 too. The 1DA decode gives sane
ranges; the decoders of the frames a VCM sends read every real frame back so exactly that re-encoding it gives
the same bytes; the counters of the loss-free ZE0 recordings follow the strict +1 rule without a single fault."""

import collections
import pathlib
import re

import pytest

from leafvcu import frames as F

REPO = pathlib.Path(__file__).resolve().parents[1]
LOG_DIR = REPO.parent / "shared" / "leaf-can" / "logs"
LOGS = sorted(LOG_DIR.glob("*.log"))
# A missing ../shared must fail, not skip: parametrize over a sentinel that test_logs_present reports.
LOG_PARAMS = LOGS or [LOG_DIR / "MISSING"]

_LINE = re.compile(r"^\((\d+(?:\.\d+)?)\)\s+(\S+)\s+([0-9A-Fa-f]{1,8})#([0-9A-Fa-f]*)\s*$")
CRC_IDS = (0x11A, 0x1D4, 0x1DA, 0x1DB, 0x1DC, 0x55B, 0x50C)
NIB_IDS = (0x1F2, 0x390, 0x393)
LOSSLESS = "ze0_"  # the ZE0 recordings dropped nothing; the e-NV200 recorder did (logs/README.md)


def read_log(path):
    """candump -L lines -> list of (t, can_id, data bytes). Any other line fails the test with its number."""
    if not path.exists():
        pytest.fail("missing %s: the shared Leaf logs must be at <repo>/../shared/leaf-can/logs" % path)
    out = []
    with open(path) as f:
        for no, line in enumerate(f, 1):
            if not line.strip():
                continue
            m = _LINE.match(line)
            assert m, "%s:%d: not a candump -L line: %r" % (path.name, no, line)
            hexdata = m.group(4)
            assert len(hexdata) % 2 == 0, "%s:%d: odd number of hex digits" % (path.name, no)
            out.append((float(m.group(1)), int(m.group(3), 16), bytes.fromhex(hexdata)))
    return out


_CACHE = {}


def frames_of(path):
    if path not in _CACHE:
        _CACHE[path] = read_log(path)
    return _CACHE[path]


def test_logs_present():
    assert LOG_DIR.is_dir(), "missing %s (expected <repo>/../shared/leaf-can/logs)" % LOG_DIR
    assert len(LOGS) >= 7, "expected the 7 shared recordings in %s, found %d" % (LOG_DIR, len(LOGS))


def test_parser_agrees_with_python_can():
    can = pytest.importorskip("can")
    path = LOGS[0] if LOGS else LOG_DIR / "MISSING"
    ours = frames_of(path)
    theirs = [(m.arbitration_id, bytes(m.data)) for m in can.LogReader(str(path))]
    assert [(i, d) for _, i, d in ours] == theirs


@pytest.mark.parametrize("path", LOG_PARAMS, ids=lambda p: p.name)
def test_every_crc_and_checksum_passes(path):
    counts = collections.Counter()
    bad = []
    for t, can_id, data in frames_of(path):
        if can_id in CRC_IDS or can_id in NIB_IDS:
            ok = F.integrity_ok(can_id, data, len(data))
            counts[can_id] += 1
            if ok is not True:
                bad.append("%.6f %03X#%s -> %r" % (t, can_id, data.hex().upper(), ok))
        # the direct functions agree with the table-driven check
        if can_id in CRC_IDS and len(data) == 8:
            assert F.crc8(data, 7) == data[7]
        elif can_id == 0x50C:
            assert len(data) == 6 and F.crc8(data, 5) == data[5]
        elif can_id == 0x1F2:
            assert F.nibble_ok(data, F.NIB_1F2)
    assert not bad, "%d integrity failures, first: %s" % (len(bad), bad[:5])
    assert sum(counts.values()) > 1000, counts


def test_all_logs_cover_every_id():
    seen = collections.Counter()
    for path in LOGS:
        for _, can_id, _ in frames_of(path):
            seen[can_id] += 1
    for can_id in CRC_IDS + NIB_IDS:
        assert seen[can_id] > 0, "no %03X in the logs" % can_id
    assert seen[0x1DA] > 30000 and seen[0x1F2] > 25000


@pytest.mark.parametrize("path", LOG_PARAMS, ids=lambda p: p.name)
def test_1da_decode_ranges(path):
    st = F.InverterStatus(strict=False)
    n = 0
    volts = []
    rpm = []
    torque = []
    for _, can_id, data in frames_of(path):
        if can_id != 0x1DA:
            continue
        assert F.decode_1da(data, st, len(data)), data.hex()
        n += 1
        if st.voltage_valid:
            assert 0 <= st.dc_voltage <= 508
            volts.append(st.dc_voltage)
        else:
            assert data[0] == 0xFF and st.dc_voltage == 0
        if st.speed_valid:
            rpm.append(st.speed_rpm)
        else:
            assert data[4:6] in (b"\x7f\xff", b"\x7f\xfe")
        torque.append(st.torque_nm)
        assert 0 <= st.errors <= 63
    assert n > 1000
    # A Leaf motor tops out near 10,500 rpm and 280 Nm (P§2); the pack is below 404 V.
    assert all(-11000 <= r <= 11000 for r in rpm), (min(rpm), max(rpm))
    assert all(-300 <= q <= 300 for q in torque), (min(torque), max(torque))
    assert all(v <= 410 for v in volts), max(volts)
    print("%s: 1DA %d frames, %d-%d V, %d..%d rpm, %.1f..%.1f Nm" % (
        path.name, n, min(volts or [0]), max(volts or [0]), min(rpm or [0]), max(rpm or [0]), min(torque), max(torque)))


def test_1da_full_throttle_reaches_real_values():
    # P§2: a ZE0 full-throttle request of raw 1120 (280 Nm) against 282.5 Nm reported in 1DA.
    path = LOG_DIR / "ze0_full-throttle-in-D.log"
    st = F.InverterStatus()
    best_t = 0.0
    best_rpm = 0
    volts = set()
    torques = set()
    for _, can_id, data in frames_of(path):
        if can_id == 0x1DA and F.decode_1da(data, st):
            best_t = max(best_t, st.torque_nm)
            best_rpm = max(best_rpm, st.speed_rpm)
            volts.add(st.dc_voltage)
            torques.add(st.torque_nm)
    assert 282.5 in torques and 280 <= best_t <= 290, best_t
    assert best_rpm > 1000
    assert 360 <= max(volts) <= 404  # pack voltage; the DC link falls to ~30 V after key-off


SENT = {
    0x11A: (F.VcmState, F.decode_11a, F.encode_11a),
    0x1D4: (F.TorqueRequest, F.decode_1d4, F.encode_1d4),
    0x1DB: (F.BatteryStatus, F.decode_1db, F.encode_1db),
    0x1DC: (F.BatteryLimits, F.decode_1dc, F.encode_1dc),
    0x1F2: (F.ChargeCommand, F.decode_1f2, F.encode_1f2),
}


@pytest.mark.parametrize("path", LOG_PARAMS, ids=lambda p: p.name)
def test_vcm_frames_decode_and_reencode_exactly(path):
    states = {}
    buf = bytearray(8)
    checked = collections.Counter()
    for _, can_id, data in frames_of(path):
        if can_id in SENT:
            cls, dec, enc = SENT[can_id]
            st = states.setdefault(can_id, cls())
            assert dec(data, st, len(data)), "%03X#%s" % (can_id, data.hex())
            assert enc(buf, st, st.n) == 0
            assert bytes(buf) == data, "%03X#%s re-encodes as %s" % (can_id, data.hex(), buf.hex())
            checked[can_id] += 1
        elif can_id == 0x50B:
            st = states.setdefault(can_id, F.VcmWake())
            assert F.decode_50b(data, st, len(data))
            out = bytearray(8)
            assert F.encode_50b(out, st) == 0
            assert bytes(out[: len(data)]) == data
            checked[can_id] += 1
        elif can_id == 0x55B:
            st = states.setdefault(can_id, F.BatterySoc())
            assert F.decode_55b(data, st, len(data))
            assert 0 <= st.soc_pct <= 102.3 and st.alu in (0x55, 0xAA)
            checked[can_id] += 1
    if "inverter-alone" not in path.name:
        assert checked[0x1D4] > 1000 and checked[0x11A] > 1000 and checked[0x50B] > 100, checked


@pytest.mark.parametrize("path", [p for p in LOG_PARAMS if p.name.startswith(LOSSLESS)] or LOG_PARAMS,
                         ids=lambda p: p.name)
def test_counters_strict_in_lossless_logs(path):
    states = {}
    for _, can_id, data in frames_of(path):
        if can_id in F.CODECS and can_id not in (0x50B, 0x55A):
            cls, dec, _ = F.CODECS[can_id]
            st = states.setdefault(can_id, cls())
            assert dec(data, st, len(data))
            assert st.counter_ok, "%03X counter %d after %d" % (can_id, st.n, (st.n - 1) & 3)
    assert states


def test_counter_of_matches_decoders():
    for path in LOGS:
        states = {}
        for _, can_id, data in frames_of(path):
            if can_id in F.CODECS and F.ID_INFO[can_id][F.I_CBYTE] >= 0:
                cls, dec, _ = F.CODECS[can_id]
                st = states.setdefault(can_id, cls())
                dec(data, st, len(data))
                assert F.counter_of(can_id, data, len(data)) == st.n


def test_lossy_log_counter_rules():
    # The e-NV200 recorder lost almost half the frames: the strict rule flags every skip, the DBC's "differs"
    # rule only the losses of a multiple of 4 frames (a repeat). Time-gap logic is the checker's business.
    path = LOG_DIR / "env200-2015_aze0-era_startup.log"
    states = {}
    strict_faults = loose_faults = 0
    for _, can_id, data in frames_of(path):
        if can_id in (0x11A, 0x1D4, 0x1DA, 0x1DB, 0x1DC, 0x1F2):
            cls, dec, _ = F.CODECS[can_id]
            st = states.setdefault(can_id, (cls(), cls(strict=False)))
            assert dec(data, st[0]) and dec(data, st[1])
            strict_faults += not st[0].counter_ok
            loose_faults += not st[1].counter_ok
    assert strict_faults > 1000 and loose_faults < strict_faults / 4, (strict_faults, loose_faults)


def test_dlcs_match_id_info():
    for path in LOGS:
        for _, can_id, data in frames_of(path):
            info = F.ID_INFO.get(can_id)
            if info is not None:
                assert len(data) in info[F.I_DLCS], "%s %03X DLC %d" % (path.name, can_id, len(data))
