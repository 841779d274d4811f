"""The devices on the bus, chosen by parameters (inverter, charger, spoof: HV-locked), at the wire: which frames the
whole App sends (frames on the simulated bus), which received frames reach the core, what `status` says, and
that the choice cannot change with HV on."""

import unittest

from app_rig import AppRig, MiniInverter
from leafvcu import frames as fr
from leafvcu import vcm as V
from leafvcu import faults as flt


def ids_since(rig, t_us):
    return set(f[1] for f in rig.bus.log if f[0] >= t_us)


def pdm_390(rig, n=0):
    """A valid 0x390 from the PDM (charging, 3.3 kW available), counter n."""
    b = bytearray((0x04, 30, 0, 0xB3, 0, 0x80 | (4 << 1), 33, 0xC0 | ((n & 3) << 4)))
    b[7] |= fr.nibble_checksum(b, fr.NIB_390)
    rig.bus.send(rig.peer, 0x390, bytes(b))


class TestChoice(unittest.TestCase):
    def awake(self, *settings):
        rig = AppRig()
        rig.console()
        self.type = rig.type
        self.rig = rig
        for line in settings:
            self.assertEqual(self.type(line), "OK")
        MiniInverter(rig)
        rig.key(True)
        rig.run_ms(3000)
        return rig

    def test_default_devices_and_their_frames(self):
        rig = self.awake()
        self.assertTrue(self.type("status").endswith(" dev=aze0,pdm,spoofed bms=none"))
        t = rig.clock.now_us
        rig.run_ms(1000)
        self.assertEqual(ids_since(rig, t), {0x11A, 0x1D4, 0x50B, 0x1F2, 0x1DB, 0x1DC, 0x55B, 0x5BC, 0x59E, 0x1DA})

    def test_no_charger_sends_no_1f2_and_reads_no_390(self):
        rig = self.awake("set charger 0")
        self.assertTrue(self.type("status").endswith(" dev=aze0,none,spoofed bms=none"))
        t = rig.clock.now_us
        pdm_390(rig)
        rig.run_ms(1000)
        got = ids_since(rig, t)
        self.assertFalse(0x1F2 in got)
        self.assertTrue({0x11A, 0x1D4, 0x1DB, 0x1DC}.issubset(got))
        self.assertEqual(rig.app.vcm.pdm.s390.frames, 0)   # filtered out: no device reads it
        self.assertEqual(rig.app.vcm.mode, V.READY)   # drives without a charger

    def test_pdm_reads_390(self):
        rig = self.awake()
        pdm_390(rig)
        rig.run_ms(20)
        self.assertEqual(rig.app.vcm.pdm.s390.frames, 1)

    def test_a_peer_left_without_a_device_reads_never_heard(self):
        # The PDM's link is its device's: with the PDM chosen away (HV off) nothing supervises 390 any more, and
        # the link starts again as never heard, so no 390 field (the AC class that stands for the plug) lingers.
        rig = AppRig()
        rig.console()
        pdm_390(rig)
        rig.run_ms(30)
        chg = rig.app.vcm.chg
        self.assertTrue(chg.fresh)
        self.assertNotEqual(chg.ac, 0)
        self.assertEqual(rig.type("set charger 0"), "OK")
        rig.run_ms(20)
        self.assertEqual((chg.fresh, chg.age_390, chg.ac), (False, -1, 0))
        self.assertEqual(rig.app.links.links, (rig.app.vcm.link,))

    def test_leaf_battery_on_the_bus_and_the_ze0_vcm(self):
        rig = self.awake("set spoof 0", "set gen 1")
        self.assertTrue(self.type("status").endswith(" dev=ze0,pdm,leaf bms=none"))
        t = rig.clock.now_us
        rig.run_ms(1000)
        got = ids_since(rig, t)
        self.assertEqual(got, {0x11A, 0x1D4, 0x50B, 0x1F2, 0x1DA})
        self.assertEqual(set(len(f) for f in rig.frames(0x50B, t)), {6})

    def test_choice_is_hv_locked(self):
        rig = self.awake()
        self.assertEqual(rig.app.vcm.mode, V.READY)
        self.assertEqual(self.type("set charger 0"), "cannot change charger while HV is on")
        self.assertEqual(self.type("set spoof 0"), "cannot change spoof while HV is on")
        t = rig.clock.now_us
        rig.run_ms(200)
        self.assertIn(0x1F2, ids_since(rig, t))
        self.assertTrue(self.type("status").endswith(" dev=aze0,pdm,spoofed bms=none"))

    def test_get_dev(self):
        self.awake("set charger 0", "set spoof 0")
        self.assertEqual(self.type("get dev"), "aze0,none,leaf")


if __name__ == "__main__":
    unittest.main()


class MiniZe1(MiniInverter):
    """MiniInverter as a ZE1 in a car: 1DA byte 6 = 0x08 and the 0x120 heartbeat (counter 0..15, CRC-8) with
    every 1DA; hb False stops 0x120 alone."""

    def __init__(self, rig, **kw):
        MiniInverter.__init__(self, rig, **kw)
        self.errors = 0x08
        self.hb = True
        self.n120 = 0

    def _tick(self):
        MiniInverter._tick(self)
        if self.talk and self.hb:
            b = bytearray(4)
            b[2] = self.n120
            b[3] = fr.crc8(b, 3)
            self.n120 = (self.n120 + 1) & 15
            self.rig.bus.send(self, 0x120, bytes(b))


class Ze1PackNode:
    """A 62 kWh pack's 2018+ frames on the bus (1C2, 1ED every 10 ms, 5EB every 500 ms: P6.1), each at its own
    phase (a burst of more than two frames between two of the rig's polls would overflow the RX buffers);
    `silent`: an id it stops sending."""

    def __init__(self, rig):
        t = rig.clock.now_us
        self.due = {0x1C2: t + 2000, 0x1ED: t + 4000, 0x5EB: t + 7000}
        self.every = {0x1C2: 10000, 0x1ED: 10000, 0x5EB: 500000}
        self.n = 0
        self.silent = 0

    def tick(self, rig):
        now = rig.clock.now_us
        for can_id, t in self.due.items():
            if now >= t:
                self.due[can_id] = t + self.every[can_id]
                n = self.n = (self.n + 1) & 15
                if can_id == self.silent:
                    continue
                if can_id == 0x1C2:
                    data = bytes([0x50 | n])
                elif can_id == 0x1ED:
                    b = bytes([0xFF, 0xE0 | (n & 3)])
                    data = b + bytes([fr.crc8(b, 2)])
                else:
                    data = fr.FRAME_5EB
                rig.bus.send(self, can_id, data)


def frames_of(rig, can_id, since=0):
    return [(f[0], bytes(f[2])) for f in rig.bus.log if f[1] == can_id and f[0] >= since]


def ring_frames(rec, can_id):
    """The data of the frames of can_id the flight recorder's ring holds, oldest first (recorder.py's layout)."""
    out = []
    b = rec.buf
    o = rec.o
    k = 0
    while k < rec.records:
        h = b[o + 4] | (b[o + 5] << 8)
        dlc = (h >> 11) & 15
        if h != 0xFFFF and h & 0x7FF == can_id and dlc <= 8:
            out.append(bytes(b[o + 6:o + 6 + dlc]))
        o = (o + 16) % rec.size
        k += 1
    return out


class TestZe1(unittest.TestCase):
    def ready(self, *settings):
        rig = AppRig()
        rig.console()
        for line in ("set inverter 1",) + settings:
            self.assertEqual(rig.type(line), "OK")
        self.inv = MiniZe1(rig)
        rig.key(True)
        rig.run_ms(3500)
        self.assertEqual(rig.app.vcm.mode, V.READY)   # 1DA byte 6 = 0x08 is no fault for a ZE1
        return rig

    def test_wake_frames_before_the_first_50b_in_the_real_cars_order(self):
        rig = self.ready("set spoof 0")
        first = [f[1] for f in rig.bus.log if f[1] in (0x605, 0x607, 0x603, 0x50B)][:4]
        self.assertEqual(first, [0x605, 0x607, 0x603, 0x50B])
        self.assertEqual([bytes(f[2]) for f in rig.bus.log if f[1] in (0x605, 0x607, 0x603)], [b"\x00"] * 3)
        # no pack on this bus sends the 2018+ battery frames a ZE1 wants (ze1batt 0: the pack should): named
        self.assertTrue(rig.type("status").endswith(" dev=ze1,pdm,leaf bms=none missing=1C2,1ED,5EB"))

    def test_a_62kwh_pack_sends_the_ze1_battery_frames_and_nothing_is_missing(self):
        rig = self.ready("set spoof 0")
        pack = Ze1PackNode(rig)
        rig.run_ms(2000, each=pack.tick)
        self.assertTrue(rig.type("status").endswith(" dev=ze1,pdm,leaf bms=none"), rig.type("status"))
        pack.silent = 0x1ED   # the pack stops sending one of them: the controller names it, and notes it once
        rig.run_ms(300, each=pack.tick)
        self.assertTrue(rig.type("status").endswith(" missing=1ED"), rig.type("status"))
        notes = [e for e in rig.app.faults.entries() if e[0] == flt.FRAME_MISSING and e[3] == 0x1ED]
        self.assertEqual(len(notes), 2)   # at the start (no pack yet) and now
        self.assertTrue(130 < notes[-1][4] < 300, notes[-1])

    def test_an_older_pack_in_a_ze1_conversion_the_controller_sends_them(self):
        rig = self.ready("set spoof 0", "set ze1batt 1")
        t = rig.clock.now_us
        rig.run_ms(1000)
        self.assertTrue(rig.type("status").endswith(" dev=ze1,pdm,leaf bms=none"), rig.type("status"))
        self.assertTrue(99 <= len(frames_of(rig, 0x1C2, t)) <= 101)
        self.assertTrue(99 <= len(frames_of(rig, 0x1ED, t)) <= 101)
        self.assertTrue(2 <= len(frames_of(rig, 0x5EB, t)) <= 3)
        self.assertEqual(rig.type("set ze1batt 0"), "cannot change ze1batt while HV is on")

    def test_extra_frames_periods_counters_and_crcs(self):
        rig = self.ready("set spoof 0")
        t = rig.clock.now_us
        rig.run_ms(2000)
        want = {0x108: 200, 0x1CB: 200, 0x355: 50, 0x3B8: 20, 0x4B9: 20, 0x5C5: 20, 0x625: 20, 0x5EC: 4, 0x5CD: 2}
        for can_id, n in want.items():
            got = frames_of(rig, can_id, t)
            self.assertTrue(n - 1 <= len(got) <= n + 1, (hex(can_id), len(got)))
            dlc = fr.ID_INFO[can_id][fr.I_DLCS][0]
            for _, d in got:
                self.assertEqual(len(d), dlc)
                self.assertFalse(fr.integrity_ok(can_id, d, dlc) is False, hex(can_id))
        seq = [d[1] for _, d in frames_of(rig, 0x108, t)]
        self.assertEqual([(b - a) & 15 for a, b in zip(seq, seq[1:])], [1] * (len(seq) - 1))
        seq = [d[0] for _, d in frames_of(rig, 0x4B9, t)]
        self.assertEqual([(b - a) & 15 for a, b in zip(seq, seq[1:])], [1] * (len(seq) - 1))
        # real-car contents (the default): 1CB once READY, 355 at standstill
        self.assertEqual(frames_of(rig, 0x1CB, t)[-1][1][:5], b"\x00\x00\xff\xc6\x10")
        self.assertEqual(frames_of(rig, 0x355, t)[-1][1], fr.FRAME_355_REAL)
        # a Leaf battery on the bus sends 1C2 / 1ED / 5EB itself
        self.assertEqual([f for f in rig.bus.log if f[1] in (0x1C2, 0x1ED, 0x5EB)], [])

    def test_bridge_contents_as_a_setting(self):
        rig = self.ready("set ze1src 1")
        t = rig.clock.now_us
        rig.run_ms(500)
        d = frames_of(rig, 0x1CB, t)[-1][1]
        self.assertEqual((d[:5], d[5] & 0xFC), (b"\x00\x09\xff\xce\x10", 0x88))
        self.assertEqual(frames_of(rig, 0x355, t)[-1][1], fr.FRAME_355_BRIDGE)
        self.assertEqual(frames_of(rig, 0x5C5, t)[-1][1], fr.FRAME_5C5_BRIDGE)
        # spoofed battery with a ZE1: 1C2, 1ED and 5EB too, every row placed (the +3 ms batch, docs/devices.md)
        self.assertTrue(frames_of(rig, 0x1C2, t))
        self.assertEqual(rig.app.frames.unplaced, ())
        got = frames_of(rig, 0x1ED, t)
        self.assertTrue(49 <= len(got) <= 51, len(got))   # every 10 ms
        self.assertEqual([d[1] for _, d in got[:4]], [0xE0 | ((got[0][1][1] + k) & 3) for k in range(4)])

    def test_a_frame_without_a_free_buffer_goes_with_the_next_batch(self):
        # A node with higher-priority frames holds the bus from just before the +5 ms batch: that batch's frames
        # leave only when it stops, so the +8 ms batch finds its buffers still taken. Its frames wait for the next
        # batch (a few ms late) instead of being lost: no 10 ms row of the ZE1 set misses a period.
        from fakes.canbus import RecordingNode

        rig = self.ready()
        app = rig.app
        jam = RecordingNode(rig.bus, acks=True, name="jam")
        t = rig.clock.now_us
        busy0 = app.can.stats.tx_busy
        rig.run_ms((app.t10b.next_us - rig.clock.now_us) // 1000 - 1)
        for _ in range(16):
            rig.bus.send(jam, 0x010, bytes(8))   # about 4 ms of bus: until just before the +8 ms batch
        rig.run_ms(200)
        self.assertTrue(app.can.stats.tx_busy > busy0)      # a batch did find every buffer taken
        self.assertTrue(app.frames.carried > 0)
        self.assertEqual(app.frames.lost, 0)
        for can_id in (0x1F2, 0x108, 0x1CB, 0x1DC, 0x1C2, 0x1ED):
            ts = rig.times(can_id)
            ts = [x for x in ts if x >= t]
            gaps = [b - a for a, b in zip(ts, ts[1:])]
            self.assertTrue(len(ts) >= 19 and max(gaps) < 19000, (hex(can_id), len(ts), max(gaps)))
            # the flight recorder has each frame once, a carried one when it went (Frames.tap): its last
            # frames of the id are the bus's, in order (the newest may be loaded and not yet on the bus)
            bus = [d for _, d in frames_of(rig, can_id, t)]
            rec = ring_frames(app.recorder, can_id)
            self.assertTrue(rec[-len(bus):] in (bus, bus[1:] + rec[-1:]), hex(can_id))

    def test_0x120_is_a_second_heartbeat(self):
        rig = self.ready()
        self.inv.hb = False          # 1DA goes on, 0x120 stops
        rig.run_ms(300)
        self.assertTrue(rig.app.faults.is_latched(flt.CAN_LOSS))
        self.assertEqual(rig.board.relay_main.value(), 0)

    def test_0x120_stopping_alone_is_can_loss_tstale_after_its_last_frame(self):
        # The ZE1 device watches 0x120 beside 1DA (dev_ze1 WATCH): 1DA goes on, 0x120 stops; the controller opens
        # the main contactor once the last 0x120 is older than tstale, not before, with the parameter's limit and
        # the link's age in the log.
        for tstale in (100, 250):
            rig = self.ready("set tstale %d" % tstale)
            rig.run_ms(7)
            self.inv.hb = False
            rig.run_ms(1)   # (a 0x120 on its way when it stopped is on the bus by now)
            t_off = rig.times(0x120)[-1]
            rig.run_until(lambda r: r.app.faults.is_latched(flt.CAN_LOSS), 2 * tstale)
            el = (rig.clock.now_us - t_off) // 1000
            # (read by the next +0 ms job, up to 10 ms later; then older than tstale at the steps' 10 ms)
            self.assertTrue(tstale < el <= tstale + 21, (tstale, el))
            self.assertTrue(rig.times(0x1DA)[-1] > rig.clock.now_us - 11000)   # 1DA never stopped
            code, _, _, age, limit = rig.app.faults.entries()[-1]
            self.assertEqual((code, limit), (flt.CAN_LOSS, tstale))
            self.assertTrue(tstale < age <= tstale + 10, age)
            rig.run_ms(300)
            self.assertEqual(rig.board.relay_main.value(), 0)
            self.assertTrue(rig.type("get inv").startswith("stale"))

    def test_a_saved_tstale_is_the_watch_limit_after_a_boot(self):
        # The stale limits are read when the devices are configured (link.py): a saved tstale, loaded at boot
        # before the devices are built, is the limit from the first frame on.
        rig = AppRig()
        rig.console()
        for line in ("set inverter 1", "set tstale 300", "save"):
            self.assertEqual(rig.type(line), "OK")
        rig = AppRig(fs=rig.fs)
        rig.console()
        self.assertEqual(rig.type("get tstale"), "300")
        inv = MiniZe1(rig)
        rig.key(True)
        rig.run_ms(3500)
        self.assertEqual(rig.app.vcm.mode, V.READY)
        inv.hb = False
        rig.run_ms(1)   # (a 0x120 on its way when it stopped is on the bus by now)
        t_off = rig.times(0x120)[-1]
        rig.run_until(lambda r: r.app.faults.is_latched(flt.CAN_LOSS), 600)
        el = (rig.clock.now_us - t_off) // 1000
        self.assertTrue(300 < el <= 321, el)

    def test_the_aze0_profile_does_not_watch_0x120(self):
        # The same ZE1 on the bus, the AZE0 device chosen: 0x120 is no frame of its tables (not even admitted by
        # the acceptance filters), so its silence is nothing; the 1DA it watches goes on.
        rig = AppRig()
        rig.console()
        inv = MiniZe1(rig)
        rig.key(True)
        rig.run_ms(3500)
        self.assertEqual(rig.app.vcm.mode, V.READY)
        inv.hb = False
        rig.run_ms(1000)
        self.assertEqual(rig.app.faults.codes(), [])
        self.assertEqual(rig.app.vcm.mode, V.READY)
        self.assertEqual(rig.board.relay_main.value(), 1)

    def test_fault_mask_is_per_profile(self):
        rig = AppRig()
        rig.console()
        self.assertEqual(rig.type("set inverter 1"), "OK")
        self.assertEqual(rig.type("set inverrz 0x08"), "OK")   # a mask that counts the ZE1's normal bit
        MiniZe1(rig)
        rig.key(True)
        rig.run_ms(3500)
        self.assertTrue(rig.app.faults.is_latched(flt.INV_ERROR))
        self.assertEqual(rig.board.relay_main.value(), 0)
        # the same inverter with an AZE0 profile's mask (inverr 0xB0): no fault
        rig = AppRig()
        rig.console()
        self.assertEqual(rig.type("set inverr 0x08"), "OK")
        self.assertEqual(rig.type("set inverter 1"), "OK")   # inverr is the AZE0's; the ZE1 reads inverrz
        MiniZe1(rig)
        rig.key(True)
        rig.run_ms(3500)
        self.assertEqual(rig.app.vcm.mode, V.READY)
