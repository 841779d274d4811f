"""The hot path's objects keep free slots in their MicroPython attribute tables.

MicroPython keeps an instance's attributes in a hash table that grows (to the next size of py/map.c's
hash_allocation_sizes) only once it is full, and a lookup that misses the table (every `self.method()` call
looks in the instance before the class) probes until it meets a free slot: in a full table, every slot. Measured
on the decision core (tests/cross/hot_rig.py, the 10 ms job on the ESP32 estimate): a Vcm whose 73 attributes
filled its 73 slots made the job about 180 us slower than with 74 attributes in 97 slots. The attribute count is
the same on CPython, so this is checked here, on the objects built as the board builds them and driven to DRIVE
(every attribute made)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "cross"))

from hot_rig import DriveRig  # noqa: E402
from leafvcu import frames as fr  # noqa: E402

# py/map.c hash_allocation_sizes (MicroPython 1.27), the sizes an attribute table grows through
SIZES = (0, 2, 4, 6, 8, 10, 12, 17, 23, 29, 37, 47, 59, 73, 97, 127, 167, 223, 293, 389, 521)
MAX_LOAD = 0.9


def table_size(n):
    return next(s for s in SIZES if s >= n)


@pytest.mark.parametrize("ze1", (False, True))
def test_the_step_path_objects_attribute_tables_are_not_full(ze1):
    rig = DriveRig(ze1=ze1)
    rig.reach_drive()
    rig.cycles(50)
    app = rig.app
    objs = {"App": app, "Vcm": app.vcm, "Charger": app.vcm.chg, "Bms": app.vcm.bms, "Frames": app.frames,
            "Links": app.links, "Torque": app.vcm.tq, "Pedal": app.vcm.pedal, "MCP2515": app.can,
            "Recorder": app.recorder, "Slot": app.frames.tx[0]}
    for d in app.devs:
        objs[type(d).__name__] = d
    full = []
    for name, o in objs.items():
        n = len(vars(o))
        if table_size(n) >= 17 and n > MAX_LOAD * table_size(n):   # (a miss in a smaller table costs little)
            full.append("%s: %d attributes in %d slots" % (name, n, table_size(n)))
    assert not full, full


# MicroPython (py/objtype.c): a class with a property, or one defining __get__ / __set__ / __delete__ / __setattr__
# / __delattr__ (it or a base), is flagged as having special accessors, and then EVERY attribute store on its
# instances first searches the class and its bases for a setter. Measured on decode_1da (tests/cross/hot_rig.py's
# ESP32 estimate): about a third slower into an InverterStatus whose class had the torque_nm property.
_SPECIAL = ("__get__", "__set__", "__delete__", "__setattr__", "__delattr__")


def _special_accessors(cls):
    return ["%s.%s" % (c.__name__, k) for c in cls.__mro__ if c is not object
            for k, v in vars(c).items() if isinstance(v, property) or k in _SPECIAL]


@pytest.mark.parametrize("ze1", (False, True))
def test_the_receive_path_stores_into_objects_without_special_accessors(ze1):
    # Every received 1DA / 0x120 and every step's supervision store into these: the driver, the decoded states,
    # the links and their further rows, the App (rx_unknown).
    rig = DriveRig(ze1=ze1)
    rig.reach_drive()
    app = rig.app
    objs = [app, app.can, app.can.stats, app.inv, app.links] + list(app.links.links) + list(app.links.more)
    objs += [d.hb for d in app.devs if hasattr(d, "hb")]
    assert not ze1 or (app.links.more and type(objs[-1]).__name__ == "Heartbeat")   # (a ZE1: its 0x120's too)
    found = [f for o in objs for f in _special_accessors(type(o))]
    assert not found, found


@pytest.mark.parametrize("ze1,spoof", ((False, 1), (True, 1), (True, 0)))
def test_the_sent_frames_messages_are_stored_into_without_special_accessors(ze1, spoof):
    # The core's fills and the encoders store into every device's codec messages every 10 ms (fill_1d4, the
    # charger's fill_1db / fill_1dc, fill_1f2, `m.clamped`), bms.py decodes a CAN BMS's frames into its own, the
    # shell a 55A into app.temps: the Raw* classes (frames._Frame), not the ones with the physical views.
    rig = DriveRig(ze1=ze1)
    app = rig.app
    app.params.set("spoof", spoof)
    app._rechoose()
    rig.reach_drive()
    objs = [v for d in app.devs for v in vars(d).values() if isinstance(v, fr._Frame)]
    objs += [v for v in vars(app.vcm.bms).values() if isinstance(v, fr._Frame)]
    objs.append(app.temps)   # 55A, decoded 10 times a second
    names = sorted(set(type(o).__name__ for o in objs))
    assert {"RawTorqueRequest", "VcmState", "VcmWake", "RawChargeCommand"} <= set(names), names
    assert not spoof or {"RawBatteryStatus", "RawBatteryLimits"} <= set(names), names
    found = [f for o in objs for f in _special_accessors(type(o))]
    assert not found, found
