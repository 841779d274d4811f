"""The flight recorder (leafvcu/recorder.py) through the real App on fake hardware: what it keeps, when it writes
to flash (relay pins low only), how many recordings stay, what a power cut during a save leaves, and its console.

The App runs on app_rig's fakes (the MCP2515 model on a virtual bus, a MiniInverter); the flash is tests/cross/
memfs.MemFs. The rings here are smaller than the board's (RECORDS) so that a save is a few chunks under
MicroPython too; the code is the same.
"""

import unittest

from app_rig import AppRig, MiniInverter
from memfs import Disk, MemFs, PowerLoss
from leafvcu import recorder as R
from leafvcu import faults as F
from leafvcu import vcm as V


class WatchedFs(MemFs):
    """MemFs that notes every operation that changes the flash while a relay pin of `board` is high."""

    def __init__(self, disk=None, fat=False):
        MemFs.__init__(self, disk, fat=fat, eager=False)
        self.board = None
        self.hv_writes = []

    def _op(self, what):
        b = self.board
        if b is not None and (b.relay_main.value() or b.relay_pre.value() or b.relay_neg.value()):
            if not (what.startswith("stat") or what.startswith("read") or what.endswith(" rb")):
                self.hv_writes.append(what)
        MemFs._op(self, what)


def rig_with(records, post_ms, fs=None):
    fs = fs if fs is not None else WatchedFs()
    rig = AppRig(fs=fs)
    fs.board = rig.board
    app = rig.app
    rec = R.Recorder(app.clock, app.vcm, app.inv, fs, records=records, post_ms=post_ms)
    app.recorder = rec       # what recorder.attach() wires, with a smaller ring
    R.wire(app, rec)
    rig.run_ms(20)  # the first ticks: the recorder takes what start() logged as the past
    return rig, rec


def parse(data):
    """(header dict, frames [(t_us, id, data, tx)], samples [(t_us, mode, relays, pedal, torque, udc, speed)])
    of a recording's bytes; AssertionError if it is not whole (size, CRC)."""
    n = R._get32(data, 32)
    if len(data) != R.HEADER + n * R.REC + 4:
        raise AssertionError("size %d for %d records" % (len(data), n))
    if R._crc(data[:len(data) - 4]) != R._get32(data, len(data) - 4) & 0xFFFFFFFF:
        raise AssertionError("CRC wrong")
    h = {"seq": R._get32(data, 8), "code": data[12], "a": R._get32(data, 16), "b": R._get32(data, 20),
         "t_ms": R._get32(data, 24), "t_us": R._get32(data, 28), "n": n}
    frames = []
    samples = []
    o = R.HEADER
    k = 0
    while k < n:
        t = R._get32(data, o) & 0x3FFFFFFF
        w = data[o + 4] | (data[o + 5] << 8)
        dlc = (w >> 11) & 15
        if w == 0xFFFF:
            pass  # never written
        elif dlc == 15:
            samples.append((t, data[o + 6], data[o + 7], data[o + 8] | (data[o + 9] << 8),
                            _s16(data, o + 10), data[o + 12] | (data[o + 13] << 8), _s16(data, o + 14)))
        else:
            frames.append((t, w & 0x7FF, bytes(data[o + 6:o + 6 + dlc]), w >> 15))
        o += R.REC
        k += 1
    return h, frames, samples


def _s16(b, o):
    v = b[o] | (b[o + 1] << 8)
    return v - 65536 if v & 0x8000 else v


def ready(rig):
    inv = MiniInverter(rig)
    rig.key(True)
    rig.run_until(lambda r: r.app.vcm.mode == V.READY, 8000, 10)
    return inv


def relays_high(rig):
    b = rig.board
    return b.relay_main.value() or b.relay_pre.value() or b.relay_neg.value()


class TestFlightRecorder(unittest.TestCase):
    def test_a_fault_freezes_the_window_with_what_follows_and_it_goes_to_flash_with_hv_off(self):
        rig, rec = rig_with(2000, 500)
        inv = ready(rig)
        rig.run_ms(500)
        fs = rig.fs
        self.assertFalse("/rec0.bin" in fs.disk.files)
        inv.talk = False  # the inverter falls silent: CAN_LOSS, contactors open
        t_loss = rig.clock.now_us
        rig.run_ms(3000)
        self.assertTrue(rig.app.faults.is_latched(F.CAN_LOSS))
        self.assertEqual(fs.hv_writes, [])
        self.assertFalse(R.TMP in fs.disk.files)
        h, frames, samples = parse(fs.disk.files["/rec0.bin"])
        self.assertEqual((h["seq"], h["code"], h["n"]), (1, F.CAN_LOSS, 2000))
        self.assertEqual(h["b"], rig.app.params.tstale)  # the log entry's values: age, tstale
        t_f = h["t_us"]
        # time runs forward through the ring, a signals record every 10 ms
        ts = [r[0] for r in samples]
        self.assertEqual(ts, sorted(ts))
        self.assertTrue(all(b - a == 10000 for a, b in zip(ts, ts[1:])))
        # before the fault: the main contactor closed, the inverter's 1DA; after: none of those
        self.assertTrue(any(s[2] & 1 for s in samples if s[0] < t_f))
        self.assertFalse(any(s[2] for s in samples if s[0] > t_f + 200000))
        self.assertEqual(samples[-1][1], V.FAULT)
        last_1da = max(f[0] for f in frames if f[1] == 0x1DA)
        self.assertLessEqual(last_1da, t_loss + 1000)
        # 2 s of bus after the fault on the bus, but the recording stops post_ms after it
        end = max(ts[-1], frames[-1][0])
        self.assertGreaterEqual(end - t_f, 490000)
        self.assertLessEqual(end - t_f, 520000)
        # every 1D4 after the fault asks for torque 0
        after = [f for f in frames if f[1] == 0x1D4 and f[0] > t_f]
        self.assertTrue(len(after) > 40)
        for f in after:
            self.assertEqual((f[2][2], f[2][3] & 0xF0), (0, 0))
        # each frame the controller sent is on the bus with the same bytes, at most 2 ms after it was loaded
        bus = {}
        for t, can_id, data in rig.bus.log:
            bus.setdefault((can_id, bytes(data)), []).append(t)
        for t, can_id, data, tx in frames:
            if tx:
                self.assertTrue(any(0 <= bt - t <= 2000 for bt in bus.get((can_id, data), ())),
                                "%03X %s at %d not on the bus" % (can_id, data, t))

    def test_no_flash_write_while_an_hv_relay_is_closed_the_save_waits(self):
        rig, rec = rig_with(4000, 1500)
        inv = ready(rig)
        con = rig.console()
        inv.talk = False
        rig.run_ms(400)
        self.assertTrue(rig.app.faults.is_latched(F.CAN_LOSS))
        inv.talk = True
        rig.key(False)  # a key cycle recovers; the car precharges again before the recording is saved
        rig.run_ms(600)
        rig.key(True)
        seen = []

        def watch(r):
            if relays_high(r) and rec.state >= R.HELD:
                seen.append(rec.state)

        rig.run_until(lambda r: r.app.vcm.mode == V.READY, 8000, 10)
        rig.run_ms(3000, watch)
        self.assertTrue(seen, "the recorder never waited with HV on")
        self.assertFalse("/rec0.bin" in rig.fs.disk.files)
        self.assertEqual(rig.type("rec clear"), "cannot clear recordings while HV is on")
        rig.key(False)
        rig.run_until(lambda r: "/rec0.bin" in r.fs.disk.files, 15000, 10)
        self.assertEqual(rig.fs.hv_writes, [])
        self.assertEqual(parse(rig.fs.disk.files["/rec0.bin"])[0]["code"], F.CAN_LOSS)
        self.assertEqual(rec.state, R.RUN)
        del con

    def test_ctrl_c_with_hv_on_saves_the_window_once_every_relay_pin_is_low(self):
        rig, rec = rig_with(2000, 2000)
        ready(rig)
        rig.run_ms(300)
        self.assertTrue(relays_high(rig))
        rig.app.interrupted()  # mpremote's Ctrl-C while HV is on: KBD_INT, the safe state, then the REPL
        self.assertTrue(rig.app.faults.is_latched(F.KBD_INT))
        self.assertFalse(relays_high(rig))
        self.assertEqual(rig.fs.hv_writes, [])
        h, frames, samples = parse(rig.fs.disk.files["/rec0.bin"])
        self.assertEqual(h["code"], F.KBD_INT)
        self.assertTrue(any(s[2] & 1 for s in samples))  # the main contactor closed before it
        self.assertFalse(samples[-1][2])  # and open at the end of the window
        self.assertEqual(rec.state, R.RUN)

    def test_at_most_five_recordings_the_oldest_dropped_and_the_console_lists_them(self):
        rig, rec = rig_with(300, 100)
        rig.console()
        self.assertTrue(rig.type("rec").endswith("no recordings (tools/deploy.py recorder pull fetches them)"))
        codes = (F.PEDAL_RANGE, F.PEDAL_PLAUS, F.CAN_BUS, F.PEDAL_RANGE, F.PC_TIMEOUT, F.DC_COLLAPSE, F.PEDAL_RANGE)
        for code in codes:
            rig.app.vcm.trip(code, rig.app.now_ms(), 7, 8)
            rig.run_ms(800)
            self.assertEqual(rig.type("clear"), "OK")
        files = sorted(k for k in rig.fs.disk.files if k.startswith("/rec"))
        self.assertEqual(files, ["/rec%d.bin" % k for k in range(R.SLOTS)])
        heads = sorted(parse(rig.fs.disk.files[p])[0]["seq"] for p in files)
        self.assertEqual(heads, [3, 4, 5, 6, 7])
        lines = rig.type("rec").split("\r\n")
        self.assertTrue(lines[0].startswith("recorder: recording; window 300 records"))
        self.assertEqual(len(lines), 1 + R.SLOTS)
        self.assertIn("#7 boot 0 t=", lines[-1])
        self.assertIn(" s ago) pedal_out_of_range", lines[-1])
        self.assertIn("pedal_out_of_range a=7 b=8, 300 records, 5 KB", lines[-1])
        self.assertIn("#3 ", lines[1])
        self.assertIn(F.name(codes[2]), lines[1])
        self.assertEqual(rig.type("rec clear"), "OK, 5 removed")
        self.assertEqual([k for k in rig.fs.disk.files if k.startswith("/rec")], [])
        self.assertEqual(rig.type("rec now"), "usage: rec [clear]")

    def test_a_power_cut_during_a_save_loses_at_most_that_recording(self):
        for fat in (False, True):
            # five recordings on the flash, then a sixth save cut after every possible operation
            rig, rec = rig_with(300, 100, WatchedFs(Disk(), fat=fat))
            for k in range(R.SLOTS):
                rig.app.vcm.trip(F.PEDAL_RANGE, rig.app.now_ms(), k, 0)
                rig.run_ms(800)
                rig.app.vcm.clear(rig.app.now_ms())
            full = rig.fs.disk.copy()
            ops0 = rig.fs.ops
            rig.app.vcm.trip(F.PEDAL_RANGE, rig.app.now_ms(), 99, 0)
            rig.run_ms(800)
            save_ops = rig.fs.ops - ops0
            self.assertTrue(save_ops > 10)
            for cut in range(save_ops + 1):
                disk = full.copy()
                rig, rec = rig_with(300, 100, WatchedFs(disk, fat=fat))
                rig.run_ms(100)
                rig.fs.left = cut
                rig.app.vcm.trip(F.PEDAL_RANGE, rig.app.now_ms(), 99, 0)
                try:
                    rig.run_ms(800)
                except PowerLoss:
                    pass
                # after the cut: every recording under a slot name is whole; at most one is gone
                names = [k for k in disk.files if k.startswith("/rec") and k != R.TMP]
                seqs = sorted(parse(disk.files[k])[0]["seq"] for k in names)
                self.assertTrue(seqs in ([1, 2, 3, 4, 5], [2, 3, 4, 5, 6]) or (fat and seqs == [2, 3, 4, 5]),
                                "fat=%s cut=%d: %s" % (fat, cut, seqs))
                # the board after the cut (a new recorder on the same flash) lists them all
                rec2 = R.Recorder(rig.app.clock, rig.app.vcm, rig.app.inv, MemFs(disk), records=300)
                self.assertEqual(len(rec2.headers()), len(seqs))


if __name__ == "__main__":
    unittest.main()
