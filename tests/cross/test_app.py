"""The whole controller (App) on fake hardware, asserted at the wire: relay pin levels in order with their
timing, the bytes of 11A / 1D4 / 50B on the CAN bus in each mode, SPI traffic, and the safe state."""

import unittest

from app_rig import AppRig, MiniInverter
from fakes import machine as fm
from leafvcu import frames as fr
from leafvcu import faults as flt
from leafvcu import vcm as V


def nibble(f1d4):
    return f1d4[4] & 0x0F


class TestBoot(unittest.TestCase):
    def test_key_off_is_silent_and_open(self):
        rig = AppRig()
        rig.run_ms(2000)
        self.assertEqual(rig.bus.log, [])
        self.assertEqual(rig.relay_log, [])
        self.assertEqual(rig.app.vcm.mode, V.OFF)

    def test_missing_chip_latches_can_bus_and_never_closes(self):
        rig = AppRig(present=False)
        self.assertFalse(rig.app.can_ok)
        self.assertIn("no chip", rig.app.can_error)
        self.assertTrue(rig.app.faults.is_latched(flt.CAN_BUS))
        MiniInverter(rig)
        rig.key(True)
        rig.run_ms(3000)
        self.assertEqual(rig.relay_log, [])

    def test_reset_cause_logged_and_watchdog_reset_latches(self):
        rig = AppRig(reset_cause=fm.WDT_RESET)
        codes = [e[0] for e in rig.app.faults.entries()]
        self.assertIn(flt.RESET_CAUSE, codes)
        self.assertTrue(rig.app.faults.is_latched(flt.WATCHDOG))
        MiniInverter(rig)
        rig.key(True)
        rig.run_ms(3000)
        self.assertEqual(rig.relay_log, [])  # no start until a key cycle
        rig.key(False)
        rig.run_ms(200)
        rig.key(True)
        rig.run_ms(4000)
        self.assertEqual(rig.app.vcm.mode, V.READY)

    def test_fault_log_survives_soft_reset(self):
        rig = AppRig()
        rig.key(True)
        rig.run_ms(3000)  # no inverter: precharge sees no 1DA -> PC_INVALID
        self.assertTrue(rig.app.faults.is_latched(flt.PC_INVALID))
        again = AppRig(keep_rtc=True, reset_cause=fm.SOFT_RESET)
        codes = [e[0] for e in again.app.faults.entries()]
        self.assertIn(flt.PC_INVALID, codes)


class TestMaintenanceStop(unittest.TestCase):
    """Ctrl-C with HV off (mpremote, tools/deploy.py at every run): noted as routine, never a fault, and never
    the reason a fault from the road leaves the 16-entry log."""

    def test_maintenance_stops_never_push_a_fault_out_of_the_log(self):
        rig = AppRig()
        rig.key(True)
        rig.run_ms(3000)  # no inverter: precharge sees no 1DA -> PC_INVALID, contactors open again
        self.assertTrue(rig.app.faults.is_latched(flt.PC_INVALID))
        rig.app.interrupted()  # stopped in FAULT with every relay open: a maintenance stop too
        for _ in range(2 * flt.LOG_SIZE):  # a deploy, a params pull, a selftest... each a soft reset
            rig = AppRig(keep_rtc=True, reset_cause=fm.SOFT_RESET)
            rig.run_ms(50)
            rig.app.interrupted()
            b = rig.board
            self.assertEqual((b.relay_main.value(), b.relay_pre.value(), b.relay_neg.value()), (0, 0, 0))
            self.assertEqual(rig.app.faults.latched, 0)
        again = AppRig(keep_rtc=True, reset_cause=fm.SOFT_RESET)
        codes = [e[0] for e in again.app.faults.entries()]
        self.assertEqual(len(codes), flt.LOG_SIZE)
        self.assertEqual(codes[0], flt.PC_INVALID)
        self.assertFalse(flt.KBD_INT in codes)
        self.assertFalse(flt.CLEARED in codes[1:])  # a maintenance stop latches nothing, so nothing is cleared
        self.assertEqual(codes[-3:], [flt.RESET_CAUSE, flt.MAINT_STOP, flt.RESET_CAUSE])

    def test_interrupt_with_hv_on_is_a_fault(self):
        rig = AppRig()
        MiniInverter(rig)
        rig.key(True)
        rig.run_ms(3500)
        self.assertEqual(rig.app.vcm.mode, V.READY)
        rig.app.interrupted()
        self.assertTrue(rig.app.faults.is_latched(flt.KBD_INT))
        b = rig.board
        self.assertEqual((b.relay_main.value(), b.relay_pre.value(), b.relay_neg.value()), (0, 0, 0))


class TestDriveSequence(unittest.TestCase):
    def setUp(self):
        self.rig = AppRig()
        self.inv = MiniInverter(self.rig)
        self.rig.key(True)

    def test_relays_in_order_with_timing(self):
        rig = self.rig
        rig.run_ms(4000)
        self.assertEqual(rig.app.vcm.mode, V.READY)
        names = [(n, lv) for (t, n, lv) in rig.relay_log]
        # The precharge relay stays closed beside the main contactor while HV is on (vcm.py).
        self.assertEqual(names, [("pre", 1), ("main", 1)])
        t_pre, t_main = [e[0] for e in rig.relay_log]
        p = rig.app.params
        self.assertGreaterEqual(t_pre, p.tsettle)             # no start within the settle time
        self.assertGreaterEqual(t_main - t_pre, p.tpcmin)     # minimum precharge time
        self.assertGreaterEqual(self.inv.udc, p.udcnom - p.udcdelta)

    def test_frames_every_10_and_100_ms_with_valid_crc_and_counters(self):
        rig = self.rig
        rig.run_ms(3000)
        for can_id in (0x11A, 0x1D4, 0x1DB):
            ts = rig.times(can_id)
            self.assertGreaterEqual(len(ts), 295)
            gaps = [b - a for a, b in zip(ts, ts[1:])]
            self.assertLessEqual(max(gaps), 10500)
            self.assertGreaterEqual(min(gaps), 9500)
            data = rig.frames(can_id)
            for d in data:
                self.assertTrue(fr.crc_ok(d))
            ns = [fr.counter_of(can_id, d) for d in data]
            for a, b in zip(ns, ns[1:]):
                self.assertEqual(b, (a + 1) & 3)
        ts = rig.times(0x50B)
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        self.assertLessEqual(max(gaps), 100500)
        self.assertGreaterEqual(min(gaps), 99500)
        self.assertEqual(len(rig.frames(0x50B)[-1]), 7)  # AZE0 DLC

    def test_1d4_and_50b_follow_the_mode(self):
        rig = self.rig
        rig.run_ms(900)  # settle time: ignition on, precharge not started
        f = rig.frames(0x1D4)[-1]
        self.assertEqual(nibble(f), fr.PRECHARGE_NOT_STARTED)
        self.assertEqual(f[5] & 0x40, 0)
        self.assertEqual(rig.frames(0x50B)[-1][:4], b"\x00\x00\x00\xc0")  # wake
        rig.run_ms(500)  # precharging
        f = rig.frames(0x1D4)[-1]
        self.assertEqual(nibble(f), fr.PRECHARGING)
        self.assertEqual(f[5] & 0x40, 0x40)
        rig.run_ms(2000)  # main closed: READY
        f = rig.frames(0x1D4)[-1]
        self.assertEqual(nibble(f), fr.PRECHARGED)
        self.assertEqual(f[5], 0x46)  # relay + inhibitor P
        self.assertEqual((f[2], f[3] & 0xF0), (0, 0))  # torque 0
        self.assertEqual(rig.frames(0x50B)[-1][:4], b"\x00\x00\x06\xc0")  # ready
        self.assertEqual(rig.frames(0x11A)[-1][1] & 0xC0, 0x40)  # car on

    def test_can_loss_opens_main_then_precharge_and_never_recloses(self):
        rig = self.rig
        rig.run_ms(4000)
        self.assertEqual(rig.app.vcm.mode, V.READY)
        self.inv.talk = False
        t_loss = rig.clock.now_us
        rig.run_ms(3000)
        self.assertTrue(rig.app.faults.is_latched(flt.CAN_LOSS))
        after = [e for e in rig.relay_log if e[0] * 1000 >= t_loss]
        self.assertEqual([(n, lv) for (t, n, lv) in after], [("main", 0), ("pre", 0)])
        p = rig.app.params
        # stale after tstale, main opens one tgap later (a torque-0 frame first), precharge tgap after main
        self.assertLessEqual(after[0][0] * 1000 - t_loss, (p.tstale + p.tgap + 30) * 1000)
        self.assertGreaterEqual(after[1][0] - after[0][0], p.tgap)
        self.inv.talk = True  # traffic returns: still latched, nothing closes
        rig.run_ms(3000)
        self.assertEqual(sum(1 for e in rig.relay_log if e[1] == "main" and e[2] == 1), 1)
        self.assertEqual(rig.app.vcm.mode, V.FAULT)
        # torque 0 in every 1D4 since the loss
        for f in rig.frames(0x1D4, t_loss):
            self.assertEqual((f[2], f[3] & 0xF0), (0, 0))

    def test_key_off_shutdown_then_sleep_then_silence(self):
        rig = self.rig
        rig.run_ms(4000)
        rig.key(False)
        t_off = rig.clock.now_us
        rig.run_ms(6000)
        self.assertEqual([e[1:] for e in rig.relay_log[-2:]], [("main", 0), ("pre", 0)])
        p = rig.app.params
        sleeps = [f for f in rig.frames(0x50B, t_off) if f[:4] == b"\x00\x00\x00\x00"]
        self.assertGreaterEqual(len(sleeps), 1)
        last = [f[0] for f in rig.bus.log if f[1] != 0x1DA][-1]
        n = len(rig.bus.log)
        rig.run_ms(1000)
        self.assertEqual(len([f for f in rig.bus.log if f[1] != 0x1DA]), len([f for f in rig.bus.log[:n] if f[1] != 0x1DA]))
        self.assertLessEqual(last - t_off, (p.toffmax + p.tkeep + p.tsleep + 500) * 1000)


class TestSafeState(unittest.TestCase):
    def setUp(self):
        self.rig = AppRig()
        self.inv = MiniInverter(self.rig)
        self.rig.key(True)
        self.rig.run_ms(4000)
        self.assertEqual(self.rig.app.vcm.mode, V.READY)

    def _fail_in(self, job_name):
        rig = self.rig
        app = rig.app

        def boom(now):
            raise RuntimeError("bug in " + job_name)

        job = {"10ms": app.t10, "10ms+5": app.t10b, "100ms": app.t100}[job_name]
        job.job = boom
        with self.assertRaises(RuntimeError):
            rig.run_ms(200)
        t = rig.clock.now_us
        app.safe_state(flt.TASK_EXC)  # what run() does before the REPL gets control
        return t

    def _assert_safe(self, t):
        rig = self.rig
        b = rig.board
        self.assertEqual((b.relay_main.value(), b.relay_pre.value(), b.relay_neg.value()), (0, 0, 0))
        self.assertTrue(rig.app.faults.is_latched(flt.TASK_EXC))
        rig.clock.advance_ms(5)
        sent = rig.frames(0x1D4, t)
        self.assertGreaterEqual(len(sent), 1)
        for f in sent:
            self.assertEqual((f[2], f[3] & 0xF0), (0, 0))

    def test_exception_in_each_job_ends_safe(self):
        for name in ("10ms", "10ms+5", "100ms"):
            with self.subTest(job=name):
                self.setUp()
                t = self._fail_in(name)
                self._assert_safe(t)

    def test_keyboard_interrupt_ends_safe_with_main_opening_first(self):
        rig = self.rig
        n = len(rig.relay_log)
        t = rig.clock.now_us
        rig.app.safe_state(flt.KBD_INT)
        b = rig.board
        self.assertEqual((b.relay_main.value(), b.relay_pre.value()), (0, 0))
        self.assertTrue(rig.app.faults.is_latched(flt.KBD_INT))
        opened = [e[1] for e in rig.relay_log[n:]]
        self.assertEqual(opened[0], "main")
        self.assertGreaterEqual(len(rig.frames(0x1D4, t)), 1)

    def test_core_failing_too_still_opens_everything(self):
        rig = self.rig

        def broken(now):
            raise RuntimeError("core broken")

        rig.app.vcm.step = broken
        rig.app.safe_state(flt.TASK_EXC)
        b = rig.board
        self.assertEqual((b.relay_main.value(), b.relay_pre.value(), b.relay_neg.value()), (0, 0, 0))


class TestWire(unittest.TestCase):
    def _steady_cycle(self, spoof):
        """SPI transactions (MOSI lengths) of one steady 10 ms cycle: the +0 ms job, then the +5 ms job."""
        rig = AppRig()
        rig.app.params.set("spoof", spoof)
        MiniInverter(rig)
        rig.key(True)
        rig.run_ms(4000)
        app = rig.app
        spi = rig.board.spi
        rig.run_ms(10 - (rig.clock.now_us // 1000 - 1) % 10)  # just after a tick10 on the grid
        rig.run_ms(7)                                       # past tick10b (+5 ms)
        app.service_rx()                                    # a 1DA may be waiting: not part of the TX cost
        spi.clear_log()
        app.tick10(rig.clock.ticks_ms())
        first = [len(t[0]) for t in spi.transactions]
        rig.clock.advance_ms(5)
        app.service_rx()
        spi.clear_log()
        app.tick10b(rig.clock.ticks_ms())
        return first, [len(t[0]) for t in spi.transactions]

    def test_spi_bytes_per_10ms_cycle(self):
        # +0 ms, load order 1D4 (TXB2), 11A (TXB1), 1DB (TXB0): READ STATUS, data-only LOAD TX BUFFERs (1 + 8),
        # one RTS. +5 ms: 1F2 (and 1DC) as whole frames (LOAD TX BUFFER at SIDH: 1 + 5 + 8) into the buffers
        # the +0 ms frames have left, one READ STATUS and one RTS for both.
        # Without battery spoofing: 11A, 1D4 and 1F2 pinned, all at +0 ms: 30 bytes for 3 frames.
        self.assertEqual(self._steady_cycle(0), ([2, 9, 9, 9, 1], []))
        # Spoofing: 5 frames in 3 buffers. The two lent at +5 ms get their pinned header back at +0 ms.
        # 71 bytes for 5 frames.
        self.assertEqual(self._steady_cycle(1), ([2, 9, 14, 14, 1], [2, 14, 14, 1]))

    def test_watchdog_armed_on_start_and_fed_by_the_10ms_job(self):
        rig = AppRig()
        MiniInverter(rig)
        rig.key(True)
        rig.run_ms(500)
        self.assertIsNone(rig.app.wdt)  # OFF: not armed (a board at the REPL must not reset)
        rig.run_ms(2000)
        wdt = rig.app.wdt
        self.assertIsNotNone(wdt)
        fed = wdt.fed
        rig.run_ms(1000)
        self.assertGreaterEqual(wdt.fed - fed, 95)
        self.assertFalse(wdt.expired)
        # A stalled loop: nobody feeds it.
        rig.clock.advance_ms(1500)
        self.assertTrue(wdt.expired)
