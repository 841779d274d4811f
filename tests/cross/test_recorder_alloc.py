"""The flight recorder allocates nothing per frame and per 10 ms sample, under real MicroPython: the App on
hot_rig's allocation-free stub hardware in DRIVE, every frame it sends and receives going through the taps
into the ring, measured while the ring wraps and while it records the seconds after a fault. (test_app_alloc.py
measures the App's jobs with the board's full-size recorder in them; this one makes the ring wrap.)
On CPython (no gc.mem_alloc) only the recording itself is checked."""

import gc
import unittest

from hot_rig import DriveRig, alloc_per_job
from memfs import MemFs
from leafvcu import recorder as R
from leafvcu import faults as F


def small(rig, records):
    app = rig.app
    rec = R.Recorder(app.clock, app.vcm, app.inv, MemFs(), records=records, post_ms=100000)
    app.recorder = rec   # as recorder.attach() wires it
    R.wire(app, rec)
    return rec


class TestRecorderAlloc(unittest.TestCase):
    def test_recording_every_frame_allocates_nothing_while_the_ring_wraps(self):
        rig = DriveRig()
        self.assertEqual(rig.reach_drive(), "drive")
        rec = small(rig, 500)
        rig.cycles(20)
        gc.collect()
        mem = getattr(gc, "mem_alloc", None)
        a0 = mem() if mem else 0
        rig.cycles(200)   # ~8 records per cycle: the 500-record ring wraps three times
        used = (mem() - a0) if mem else 0
        self.assertTrue(rec.buf[-11] != 0xFF)  # the last record of the ring was written
        self.assertEqual(rec.state, R.RUN)
        self.assertEqual(used, 0)
        # a fault: the seconds after it are recorded the same way
        rig.app.vcm.trip(F.PEDAL_RANGE, rig.now, 1, 2)
        rig.cycles(2)
        self.assertEqual(rec.state, R.POST)
        gc.collect()
        a0 = mem() if mem else 0
        n0 = rec.post_records()
        rig.cycles(25)
        used = (mem() - a0) if mem else 0
        self.assertTrue(rec.post_records() - n0 > 150)
        self.assertEqual(rec.state, R.POST)
        self.assertEqual(used, 0)
        # frozen (half the ring after the fault), then saving in the 100 ms job (HV is off: the fault opened the
        # contactors): the 10 ms jobs' frames are counted as skipped, and they allocate nothing
        rig.cycles(10)
        self.assertTrue(rec.state >= R.HELD)
        s0 = rec.skipped
        if mem:
            d10, d10b, d100, total = alloc_per_job(rig, 50)
            self.assertEqual((d10, d10b), (0, 0))
        else:
            rig.cycles(50)
        self.assertTrue(rec.skipped - s0 > 200)

if __name__ == "__main__":
    unittest.main()
