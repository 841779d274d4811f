"""tools/conformance.py: the reference is what the shared real recordings say, and a recording that departs from
real cars in one byte, one transition or its start-up is told so, naming state, frame, byte, what was sent and
what real cars send. The departures are made by editing one real recording (CRCs recomputed), so everything
else in it is a real car's."""

import json
import os

import pytest

import check
import conformance as C
from leafvcu import frames as F

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOGS = os.path.normpath(os.path.join(REPO, "..", "shared", "leaf-can", "logs"))
if not os.path.isdir(LOGS):
    raise RuntimeError("the shared recordings are missing: expected %s (<repo>/../shared)" % LOGS)
ALL_LOGS = sorted(os.path.join(LOGS, n) for n in os.listdir(LOGS) if n.endswith(".log"))
ON_OFF = os.path.join(LOGS, "ze0_on-off.log")


@pytest.fixture(scope="module")
def on_off():
    return check.read_log(ON_OFF)


def _write(path, frames):
    with open(path, "w") as f:
        for t, can_id, data, _ in frames:
            f.write("(%.6f) can0 %03X#%s\n" % (t, can_id, data.hex().upper()))
    return str(path)


def _edited(frames, can_id, edit):
    """frames with edit(t_rel, bytearray) applied to every frame of can_id (CRC-8 ids get a fresh CRC)."""
    t0 = frames[0][0]
    out = []
    for t, i, d, w in frames:
        if i == can_id and d is not None:
            b = bytearray(d)
            if edit(t - t0, b) and i in (0x11A, 0x1D4, 0x1DB, 0x1DC, 0x55B):
                b[7] = F.crc8(b, 7)
            d = bytes(b)
        out.append(check.Frame(t, i, d, w))
    return out


def _run(capsys, *args):
    rc = C.main(list(args))
    got = capsys.readouterr()
    return rc, got.out, got.err


def test_the_kept_reference_is_what_the_shared_recordings_say():
    made = json.loads(json.dumps(C.make_reference(ALL_LOGS)))
    with open(C.DEFAULT_REFERENCE, encoding="utf-8") as f:
        kept = json.load(f)
    assert made == kept, ("tools/conformance_reference.json is out of date: "
                          "./run python tools/conformance.py reference ../shared/leaf-can/logs/*.log")
    used = [s["file"] for s in kept["sources"] if s["used"].startswith("yes")]
    assert len(used) >= 6 and all(len(s["sha256"]) == 64 for s in kept["sources"])


def test_every_real_recording_conforms(capsys):
    vcm_logs = [p for p in ALL_LOGS if "inverter-alone" not in p]
    rc, out, err = _run(capsys, *vcm_logs)
    assert rc == 0, out + err
    assert out.splitlines()[-1] == "0 differences"


def test_a_gear_byte_real_cars_never_send_is_named(capsys, on_off, tmp_path):
    # The controller's old 11A byte 0 in READY (0x0E), written into a real car's ready phase (5-8 s).
    log = _write(tmp_path / "edited.log", _edited(on_off, 0x11A, lambda t, b: 5 < t < 8 and b.__setitem__(0, 0x0E)
                                                  is None))
    rc, out, _ = _run(capsys, log)
    assert rc == 1
    line = [ln for ln in out.splitlines() if "11A byte 0: sent 0E" in ln]
    assert line and line[0].split()[0] == "ready", out
    assert "real cars send" in line[0] and "(ze0)" in line[0]
    assert "went 11 -> 0E" in out or "went 01 -> 0E" in out  # and the change itself is not a real one


def test_shutdown_through_precharging_is_a_transition_real_cars_do_not_make(capsys, on_off, tmp_path):
    # Shutdown reported 7 -> 3 -> 2 (what the controller did) instead of the real 7 -> 5 -> 0.
    def nibble(t, b):
        n = b[4] & 0x0F
        if t > 40 and n in (5, 0):
            b[4] = (b[4] & 0xF0) | (3 if n == 5 else 2)
            return True
        return False

    rc, out, _ = _run(capsys, _write(tmp_path / "edited.log", _edited(on_off, 0x1D4, nibble)))
    assert rc == 1
    assert "1D4 byte 4: went 07 -> 03" in out
    assert "real cars go" in out and "07 -> 05" in out


def test_a_state_no_recording_shows_is_named_not_judged(capsys, on_off, tmp_path):
    charging = _edited(on_off, 0x1D4, lambda t, b: t > 20 and b.__setitem__(6, 0xE0) is None)
    rc, out, _ = _run(capsys, _write(tmp_path / "edited.log", charging))
    assert "charge    not judged: no reference recording shows this state" in out
    assert not any(ln.strip().startswith("charge ") and "sent" in ln for ln in out.splitlines())


def test_a_late_start_up_and_a_counter_starting_at_0_are_named(capsys, on_off, tmp_path):
    # The battery's 1DB first half a second after the VCM's first frame; the 11A counter starting from 0.
    t0 = on_off[0][0]
    first_11a = next(f for f in on_off if f[1] == 0x11A)
    late = [f for f in on_off if not (f[1] == 0x1DB and f[0] - t0 < 0.6)]

    def counter0(t, b):
        if t <= first_11a[0] - t0:
            b[6] = (b[6] & 0xFC) | 0
            return True
        return False

    rc, out, _ = _run(capsys, _write(tmp_path / "edited.log", _edited(late, 0x11A, counter0)))
    assert rc == 1
    assert any(ln.strip().startswith("start-up  1DB first at +0.5") for ln in out.splitlines()), out
    assert "start-up  11A counter starts at 0; real cars start at 1" in out


def test_logs_that_cannot_be_judged_exit_2(capsys, tmp_path):
    rc, out, err = _run(capsys, os.path.join(LOGS, "ze1-inverter-alone_cold-start.log"))
    assert rc == 2 and "no 0x1D4" in err
    rc, out, err = _run(capsys, str(tmp_path / "missing.log"))
    assert rc == 2 and "missing.log" in err
    rc, out, err = _run(capsys, "--car", "tesla", ON_OFF)
    assert rc == 2 and "no recording of tesla in the reference" in err and "ze0" in err
