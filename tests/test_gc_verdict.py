"""deploy.py selftest's verdict on a garbage collection timed on the board (tools/board_scripts/gcpause.py): which
frames a collection of that length in the slot after the +0 ms batch makes late, against the slot, the gap to the
next +0 ms batch and the lateness budget the firmware declares (leafvcu/collector.py, docs/pauses.md)."""

import deploy
from leafvcu import collector as C


def verdict(us):
    return deploy.gc_verdict(us, C.SLOT_US, C.GAP_US, C.LATE_BUDGET_US)


def test_a_collection_within_the_slot_makes_nothing_late():
    ok, text = verdict(C.SLOT_US)
    assert ok and "no frame late" in text


def test_a_longer_one_makes_the_5ms_frames_late_first_then_the_torque_frames():
    ok, text = verdict(C.SLOT_US + 1500)
    assert ok and "1F2 / 1DC up to 1.5 ms late" in text and "11A" not in text
    ok, text = verdict(C.GAP_US + 2000)
    assert ok and "11A / 1D4 up to 2.0 ms" in text


def test_beyond_the_budget_the_selftest_fails():
    ok, text = verdict(C.SLOT_US + C.LATE_BUDGET_US + 1)
    assert not ok and "cannot afford" in text
    assert verdict(C.SLOT_US + C.LATE_BUDGET_US)[0]
