"""Does a VCU send what a real Leaf VCM sends, state by state? python tools/conformance.py LOG [LOG ...]

For anyone replacing the VCM (this controller, a ZombieVerter, ...): reads a recording of the EV-CAN bus
(candump -L or any format tools/check.py reads), infers the controller's state at every frame from the
controller's own 0x1D4 (byte 4's precharge report: 2 wake, 3 precharging, 7 precharged, then 5 / 0 at shutdown;
byte 5's inhibitor bits: P, R, N, D; byte 6 0xE0: charging, since a ZE0's 1F2 byte 5 passes 0x3C while driving),
and compares the bytes of the VCM's frames (11A, 1D4, 1F2, 50B) and the battery's (1DB, 1DC, 55B, 5BC, 59E) with
what real cars send in the same state, from a reference made from real recordings:

    python tools/conformance.py reference LOG [LOG ...] [-o FILE]
        makes the reference (default tools/conformance_reference.json, which the project keeps, with the
        provenance of every recording: file, SHA-256, car, frames). The car is the file name's first word
        (`ze0_on-off.log` -> ze0). Add your own recordings to the list and make it again.
    python tools/conformance.py [--reference FILE] [--car CAR ...] LOG [LOG ...]
        checks: every difference names the state, the frame and byte, what was sent (how often, from when) and
        what real cars send there (which car). --car compares with those cars only.

What is judged (BYTES below, with the reason for every byte left out: counters, CRCs and values that follow the
driver or the pack, such as torque, voltage, current and SOC):
- byte values per state, under the byte's mask;
- transitions: every change of a judged byte (old -> new) into a state the reference shows must be one real cars
  make (11A's gear byte, 1D4's precharge report 7 -> 5 -> 0, 50B's 00 -> 02 -> 06);
- the start-up: the order in which the ids first appear and when, after the first frame of the VCM's, in the
  recordings that include the wake-up, give or take the id's period; and the counter value each id starts with.
A state with no reference (no recording shows it: charging, so far) is named and not judged.

Exit status: 0 conformant, 1 differences, 2 a log that cannot be judged (unreadable, or no 0x1D4 from a VCM to
read the state from). CPython only.
"""

import argparse
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import check  # noqa: E402  (log reading)
from leafvcu import frames as F  # noqa: E402  (counters)

DEFAULT_REFERENCE = os.path.join(HERE, "conformance_reference.json")
STATES = ("wake", "precharge", "ready", "drive", "shutdown", "charge")
VCM_IDS = (0x11A, 0x1D4, 0x1F2, 0x50B)
BATTERY_IDS = (0x1DB, 0x1DC, 0x55B, 0x5BC, 0x59E)

# id -> {byte: mask}: the bits compared. Left out, and why:
BYTES = {
    0x11A: {0: 0xFF, 1: 0xFF, 2: 0xFF, 3: 0xFF, 4: 0xFF, 5: 0xFF},  # 6 counter, 7 CRC
    0x1D4: {0: 0xFF, 4: 0x3F, 5: 0xFF, 6: 0xFF},  # 1 live regen cap, 2-3 torque, 4 bits 7..6 counter, 7 CRC
    0x1F2: {0: 0xFF, 2: 0xFF, 4: 0xFF, 5: 0xFF, 7: 0x80},  # 1 charge power, 3 DC/DC request, 6 counter,
    #                                                         7 low nibble checksum
    0x50B: {0: 0xFF, 1: 0xFF, 2: 0xFF, 3: 0xFF, 4: 0xFF, 5: 0xFF, 6: 0xFF},
    0x1DB: {3: 0x3F, 5: 0xFF},  # 0-2 current and voltage, 3 bits 7..6 voltage, 4 SOC, 6 counter, 7 CRC
    0x1DC: {3: 0x03, 4: 0xFF, 5: 0xFF},  # 0-3 power limits, 6 counter, 7 CRC
    0x55B: {2: 0xFF, 3: 0xFF, 5: 0xFF, 6: 0xF0},  # 0-1 SOC, 4 pack-specific, 6 low nibble counter, 7 CRC
    0x5BC: {4: 0x01},  # the rest: capacity, temperatures, pack-specific (byte 4 bit 0 toggles every 500 ms)
    0x59E: {0: 0xFF, 2: 0xFF, 5: 0xFF, 6: 0xFF, 7: 0xFF},  # 1, 3, 4 pack-specific
}
GEARS = {3: "P", 2: "D", 1: "R", 0: "N"}  # 1D4 byte 5 bits 2..1


class CannotJudge(Exception):
    pass


# ---------------------------------------------------------------------------------------------------------------
# states
def states_of(frames):
    """[(frame, state)] for the frames of the judged ids, in time order; the state is read from the latest VCM
    frames before it. Raises CannotJudge when there is no 0x1D4."""
    if not any(f[1] == 0x1D4 and f[2] is not None and len(f[2]) == 8 for f in frames):
        raise CannotJudge("no 0x1D4 (the VCM's torque request) in the log: the controller's state cannot be read")
    nibble = None
    gear = "P"
    charging = False
    precharged = False
    out = []
    for f in frames:
        can_id, data = f[1], f[2]
        if data is None:
            continue
        if can_id == 0x1D4 and len(data) == 8:
            nibble = data[4] & 0x0F
            gear = GEARS[(data[5] >> 1) & 3]
            charging = data[6] & 0xE0 == 0xE0
            if nibble == 7:
                precharged = True
        if can_id not in BYTES:
            continue
        if charging:
            state = "charge"
        elif nibble is None or (nibble == 2 and not precharged):
            state = "wake"
        elif nibble == 3 and not precharged:
            state = "precharge"
        elif nibble == 7:
            state = "ready" if gear in ("P", "N") else "drive"
        else:
            state = "shutdown"
        out.append((f, state))
    return out


def _wakes(frames):
    """True when the log begins before precharge: the first 1D4 reports 'not started' (2)."""
    for f in frames:
        if f[1] == 0x1D4 and f[2] is not None and len(f[2]) == 8:
            return f[2][4] & 0x0F == 2
    return False


def observe(frames):
    """What one log shows (times in seconds from its first frame): {"values": {(state, id, byte): {value:
    [count, first_t]}}, "transitions":
    {(id, byte): {(old, new): [count, first_t, state]}}, "startup": {id: offset_s} or None,
    "first_counter": {id: n} or None}."""
    values = {}
    transitions = {}
    last = {}
    t_log = frames[0][0] if frames else 0.0  # times are reported from the log's first frame
    for f, state in states_of(frames):
        t, can_id, data = f[0] - t_log, f[1], f[2]
        for byte, mask in BYTES[can_id].items():
            if byte >= len(data):
                continue
            v = data[byte] & mask
            e = values.setdefault((state, can_id, byte), {}).setdefault(v, [0, t])
            e[0] += 1
            key = (can_id, byte)
            old = last.get(key)
            if old is not None and old != v:
                e = transitions.setdefault(key, {}).setdefault((old, v), [0, t, state])
                e[0] += 1
            last[key] = v
    startup = first_counter = None
    if _wakes(frames):
        first = {}
        counters = {}
        for f in frames:
            if f[1] in VCM_IDS + BATTERY_IDS and f[1] not in first and f[2] is not None:
                first[f[1]] = f[0]
                n = F.counter_of(f[1], f[2], len(f[2]))
                if n >= 0:
                    counters[f[1]] = n
        t0 = min(first[i] for i in VCM_IDS if i in first)
        startup = {i: first[i] - t0 for i in first}
        first_counter = counters
    return {"values": values, "transitions": transitions, "startup": startup, "first_counter": first_counter}


# ---------------------------------------------------------------------------------------------------------------
# the reference
def car_of(path):
    return os.path.basename(path).split("_")[0].split(".")[0].lower()


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def make_reference(paths):
    ref = {"about": "Made by `python tools/conformance.py reference` from the recordings listed; what real cars "
                    "send, state by state (tools/conformance.py says how the state is read and which bytes count)",
           "sources": [], "values": {}, "transitions": {}, "startup": {}, "first_counter": {}}
    for path in paths:
        frames = check.read_log(path)
        car = car_of(path)
        src = {"file": os.path.basename(path), "sha256": _sha256(path), "car": car, "frames": len(frames)}
        try:
            obs = observe(frames)
        except CannotJudge as e:
            src["used"] = "no: %s" % e
            ref["sources"].append(src)
            continue
        src["used"] = "yes" + (", with the wake-up" if obs["startup"] is not None else "")
        ref["sources"].append(src)
        for (state, can_id, byte), vals in obs["values"].items():
            slot = ref["values"].setdefault(state, {}).setdefault("%03X" % can_id, {}).setdefault(str(byte), {})
            for v, (n, _) in vals.items():
                cars = slot.setdefault("%02X" % v, {})
                cars[car] = cars.get(car, 0) + n
        for (can_id, byte), pairs in obs["transitions"].items():
            slot = ref["transitions"].setdefault("%03X %d" % (can_id, byte), {})
            for (a, b), (n, _, _) in pairs.items():
                cars = slot.setdefault("%02X>%02X" % (a, b), {})
                cars[car] = cars.get(car, 0) + n
        if obs["startup"] is not None:
            for can_id, dt in obs["startup"].items():
                slot = ref["startup"].setdefault("%03X" % can_id, {})
                slot[car] = [min(dt, slot[car][0]), max(dt, slot[car][1])] if car in slot else [dt, dt]
            for can_id, n in obs["first_counter"].items():
                slot = ref["first_counter"].setdefault("%03X" % can_id, {})
                cars = slot.setdefault(str(n), {})
                cars[car] = cars.get(car, 0) + 1
    for key in ("values", "transitions", "startup", "first_counter"):
        ref[key] = _sorted(ref[key])
    return ref


def _sorted(d):
    if isinstance(d, dict):
        return {k: _sorted(d[k]) for k in sorted(d)}
    return d


def load_reference(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _cars(cars, only):
    return {c: n for c, n in cars.items() if not only or c in only}


def _said(slot, only, fmt):
    """'01 (ze0), 11 (ze0, env200)' for a {value: {car: n}} slot."""
    parts = []
    for v in sorted(slot):
        cars = _cars(slot[v], only)
        if cars:
            parts.append("%s (%s)" % (fmt(v), ", ".join(sorted(cars))))
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------------------------
# comparing
def compare(obs, ref, only=()):
    """The differences of one log's observation from the reference, as lines (sorted by state, id, byte)."""
    lines = []
    seen_states = sorted({s for s, _, _ in obs["values"]}, key=STATES.index)
    covered = set()
    for state in seen_states:
        known = ref["values"].get(state)
        if not known or not any(_cars(c, only) for b in known.values() for s in b.values() for c in s.values()):
            lines.append("%-9s not judged: no reference recording shows this state" % state)
            continue
        covered.add(state)
        for (st, can_id, byte), vals in sorted(obs["values"].items(), key=lambda kv: (kv[0][1], kv[0][2])):
            if st != state:
                continue
            slot = known.get("%03X" % can_id, {}).get(str(byte))
            if slot is None:
                continue  # real cars do not send this id in this state: nothing to compare with
            real = {v for v in slot if _cars(slot[v], only)}
            if not real:
                continue  # (those cars' recordings lost this id in this state)
            mask = BYTES[can_id][byte]
            for v, (n, t) in sorted(vals.items()):
                if "%02X" % v not in real:
                    lines.append("%-9s %03X byte %d%s: sent %02X (%d frames, from %.2f s); real cars send %s" % (
                        state, can_id, byte, "" if mask == 0xFF else " & %02X" % mask, v, n, t,
                        _said(slot, only, str)))
    for (can_id, byte), pairs in sorted(obs["transitions"].items()):
        slot = ref["transitions"].get("%03X %d" % (can_id, byte), {})
        real = {k for k in slot if _cars(slot[k], only)}
        if not real:
            continue
        for (a, b), (n, t, state) in sorted(pairs.items(), key=lambda kv: kv[1][1]):
            if state not in covered:
                continue  # a change into a state no reference recording shows is not judged either
            if "%02X>%02X" % (a, b) not in real:
                lines.append("%-9s %03X byte %d: went %02X -> %02X (%dx, first at %.2f s); real cars go %s" % (
                    state, can_id, byte, a, b, n, t,
                    ", ".join(k.replace(">", " -> ") for k in sorted(real))))
    if obs["startup"] is not None:
        lines += _compare_startup(obs, ref, only)
    return lines


# The period of each id (PROTOCOL.md §1): a first frame within one period of the span real cars show is on time
# (where a recording starts sending within its period is chance, and a single recording gives a single point).
PERIOD_S = {0x11A: 0.01, 0x1D4: 0.01, 0x1F2: 0.01, 0x1DB: 0.01, 0x1DC: 0.01, 0x50B: 0.1, 0x55B: 0.1, 0x5BC: 0.1,
            0x59E: 0.5}


def _compare_startup(obs, ref, only):
    lines = []
    real_first = {}
    for key, cars in ref["startup"].items():
        spans = [span for car, span in cars.items() if not only or car in only]
        if spans:
            real_first[int(key, 16)] = (min(s[0] for s in spans), max(s[1] for s in spans))
    if not real_first:
        return lines
    for can_id, dt in sorted(obs["startup"].items(), key=lambda kv: kv[1]):
        span = real_first.get(can_id)
        if span is None:
            lines.append("start-up  %03X first at %+.3f s; real cars do not send it at start-up" % (can_id, dt))
        elif not span[0] - PERIOD_S.get(can_id, 0) <= dt <= span[1] + PERIOD_S.get(can_id, 0):
            lines.append("start-up  %03X first at %+.3f s after the VCM's first frame; real cars %+.3f .. %+.3f s"
                         " (give or take its period)" % (can_id, dt, span[0], span[1]))
    waking = {car for cars in ref["startup"].values() for car in cars if not only or car in only}
    for can_id, span in sorted(real_first.items()):
        senders = {car for car in ref["startup"]["%03X" % can_id] if not only or car in only}
        if can_id not in obs["startup"] and senders == waking:  # every car sends it, not just some
            lines.append("start-up  %03X never sent; real cars start it at %+.3f .. %+.3f s" % (can_id, *span))
    for can_id, n in sorted(obs["first_counter"].items()):
        slot = ref["first_counter"].get("%03X" % can_id, {})
        real = {k for k in slot if _cars(slot[k], only)}
        if real and str(n) not in real:
            lines.append("start-up  %03X counter starts at %d; real cars start at %s" % (
                can_id, n, _said(slot, only, str)))
    return lines


# ---------------------------------------------------------------------------------------------------------------
def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["reference"]:
        ap = argparse.ArgumentParser(prog="conformance.py reference")
        ap.add_argument("logs", nargs="+")
        ap.add_argument("-o", "--out", default=DEFAULT_REFERENCE)
        a = ap.parse_args(argv[1:])
        try:
            ref = make_reference(a.logs)
        except check.LogError as e:
            print("conformance.py: %s" % e, file=sys.stderr)
            return 2
        tmp = a.out + ".new"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(ref, f, indent=1, sort_keys=False)
            f.write("\n")
        os.replace(tmp, a.out)
        print("reference: %d recordings (%s) -> %s" % (
            len(ref["sources"]), ", ".join("%s: %s" % (s["file"], s["used"]) for s in ref["sources"]), a.out))
        return 0
    ap = argparse.ArgumentParser(prog="conformance.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("logs", nargs="+")
    ap.add_argument("--reference", default=DEFAULT_REFERENCE)
    ap.add_argument("--car", action="append", default=[], help="compare with this car's recordings only")
    a = ap.parse_args(argv)
    try:
        ref = load_reference(a.reference)
    except (OSError, ValueError) as e:
        print("conformance.py: cannot read the reference %s: %s" % (a.reference, e), file=sys.stderr)
        return 2
    known = {s["car"] for s in ref["sources"]}
    unknown = [c for c in a.car if c not in known]
    if unknown:
        print("conformance.py: no recording of %s in the reference (it has: %s)" % (
            ", ".join(unknown), ", ".join(sorted(known))), file=sys.stderr)
        return 2
    differences = 0
    bad = False
    for path in a.logs:
        try:
            obs = observe(check.read_log(path))
        except (check.LogError, CannotJudge) as e:
            print("conformance.py: %s: %s" % (path, e), file=sys.stderr)
            bad = True
            continue
        lines = compare(obs, ref, set(a.car))
        judged = [ln for ln in lines if "not judged" not in ln]
        print("%s: %d differences from real cars%s" % (
            os.path.basename(path), len(judged), " (%s)" % ", ".join(a.car) if a.car else ""))
        for ln in lines:
            print("  " + ln)
        differences += len(judged)
    print("%d differences" % differences)
    if bad:
        return 2
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
