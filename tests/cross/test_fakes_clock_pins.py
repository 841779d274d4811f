"""The host models below the MCP2515: VirtualClock, fake machine (Pin, SPI, ADC, WDT), VirtualCANBus.

Cross-interpreter: runs under pytest and under real MicroPython (tools/mpy_lane.mjs).
"""
import unittest

from fakes import machine
from fakes.canbus import (CAN_EFF_FLAG, CAN_RTR_FLAG, IFS_BITS, RecordingNode, VirtualCANBus,
                          frame_bits, nominal_bits, stuffed_bits)
from fakes.clock import VirtualClock
from fakes.machine import ADC, SPI, WDT, Pin

PERIOD = 1 << 30  # MicroPython's ticks period on 32-bit ports


def naive_stuffed_bits(can_id, data):
    """Independent oracle: SOF..CRC of a standard data frame as a '0'/'1' string, stuffed."""
    def bits(v, n):
        return "".join("1" if (v >> (n - 1 - i)) & 1 else "0" for i in range(n))

    s = "0" + bits(can_id, 11) + "000" + bits(len(data), 4)
    for b in data:
        s += bits(b, 8)
    crc = 0
    for ch in s:
        top = (crc >> 14) & 1
        crc = (crc << 1) & 0x7FFF
        if (ch == "1") != (top == 1):
            crc ^= 0x4599
    s += bits(crc, 15)
    n = 0
    run = 0
    last = ""
    for ch in s:
        n += 1
        if ch == last:
            run += 1
        else:
            last = ch
            run = 1
        if run == 5:
            n += 1  # stuff bit of the other level, which starts the next run
            last = "1" if ch == "0" else "0"
            run = 1
    return n


class Peer:
    """Minimal bus node for arbitration tests."""

    def __init__(self, acks=True):
        self.acks = acks
        self.got = []

    def on_frame(self, t_us, can_id, data, sender):
        self.got.append((t_us, can_id, data, sender))


class TestVirtualClock(unittest.TestCase):
    def test_ticks_follow_virtual_time(self):
        c = VirtualClock()
        self.assertEqual(c.ticks_ms(), 0)
        c.advance_us(1500)
        self.assertEqual(c.ticks_us(), 1500)
        self.assertEqual(c.ticks_ms(), 1)
        c.sleep_ms(10)
        self.assertEqual(c.now_us, 11500)
        c.sleep_us(7)
        self.assertEqual(c.now_us, 11507)
        c.sleep_ms(0)
        c.sleep_ms(-5)
        self.assertEqual(c.now_us, 11507)

    def test_ticks_wrap_like_micropython(self):
        c = VirtualClock(start_us=PERIOD - 3)
        t0 = c.ticks_us()
        self.assertEqual(t0, PERIOD - 3)
        c.advance_us(5)
        t1 = c.ticks_us()
        self.assertEqual(t1, 2)
        self.assertEqual(c.ticks_diff(t1, t0), 5)
        self.assertEqual(c.ticks_diff(t0, t1), -5)
        self.assertEqual(c.ticks_add(t0, 5), 2)
        self.assertEqual(c.ticks_add(2, -5), PERIOD - 3)
        self.assertEqual(c.now_us, PERIOD + 2)

    def test_ticks_ms_wraps(self):
        c = VirtualClock(start_us=(PERIOD - 1) * 1000)
        self.assertEqual(c.ticks_ms(), PERIOD - 1)
        t0 = c.ticks_ms()
        c.advance_ms(3)
        self.assertEqual(c.ticks_ms(), 2)
        self.assertEqual(c.ticks_diff(c.ticks_ms(), t0), 3)

    def test_ticks_diff_half_period(self):
        c = VirtualClock()
        self.assertEqual(c.ticks_diff(PERIOD // 2 - 1, 0), PERIOD // 2 - 1)
        self.assertEqual(c.ticks_diff(PERIOD // 2, 0), -(PERIOD // 2))

    def test_deadline_loop_does_not_drift(self):
        c = VirtualClock(start_us=PERIOD * 1000 - 25000)  # crosses the ticks_ms wrap
        nxt = c.ticks_add(c.ticks_ms(), 10)
        for _ in range(10):
            c.sleep_ms(c.ticks_diff(nxt, c.ticks_ms()))
            nxt = c.ticks_add(nxt, 10)
        self.assertEqual(c.now_us, PERIOD * 1000 - 25000 + 100000)

    def test_time_never_runs_backwards(self):
        c = VirtualClock()
        with self.assertRaises(ValueError):
            c.advance_us(-1)

    def test_timers_fire_in_order_at_their_time(self):
        c = VirtualClock()
        seen = []
        c.call_at(300, lambda: seen.append(("b", c.now_us)))
        c.call_at(100, lambda: seen.append(("a", c.now_us)))
        c.call_at(300, lambda: seen.append(("c", c.now_us)))
        h = c.call_later(200, lambda: seen.append(("x", c.now_us)))
        c.cancel(h)
        c.cancel(h)  # harmless twice
        c.advance_us(250)
        self.assertEqual(seen, [("a", 100)])
        self.assertEqual(c.now_us, 250)
        c.advance_us(1000)
        self.assertEqual(seen, [("a", 100), ("b", 300), ("c", 300)])
        self.assertEqual(c.now_us, 1250)
        self.assertEqual(c.pending_timers(), 0)

    def test_timer_callback_can_schedule_more(self):
        c = VirtualClock()
        seen = []

        def tick():
            seen.append(c.now_us)
            if len(seen) < 3:
                c.call_later(10, tick)

        c.call_at(5, tick)
        c.advance_us(100)
        self.assertEqual(seen, [5, 15, 25])


class TestPin(unittest.TestCase):
    def test_output_pin(self):
        p = Pin(5, Pin.OUT, value=1)
        self.assertEqual(p.value(), 1)
        p.off()
        self.assertEqual(p(), 0)
        p(1)
        self.assertEqual(p.value(), 1)
        p.value(0)
        self.assertEqual(p.value(), 0)

    def test_input_pull_up_and_drive(self):
        p = Pin(4, Pin.IN, Pin.PULL_UP)
        self.assertEqual(p.value(), 1)
        p.drive(0)
        self.assertEqual(p.value(), 0)
        p.drive(None)
        self.assertEqual(p.value(), 1)
        q = Pin(6, Pin.IN)
        self.assertEqual(q.value(), 0)

    def test_irq_on_edges(self):
        p = Pin(4, Pin.IN, Pin.PULL_UP)
        calls = []
        p.irq(handler=lambda pin: calls.append(pin.value()), trigger=Pin.IRQ_FALLING)
        p.drive(0)
        p.drive(1)
        p.drive(0)
        self.assertEqual(calls, [0, 0])
        p.irq(handler=lambda pin: calls.append(("r", pin.value())), trigger=Pin.IRQ_RISING)
        p.drive(1)
        self.assertEqual(calls[-1], ("r", 1))
        p.irq(handler=None)
        p.drive(0)
        self.assertEqual(len(calls), 3)

    def test_watch_and_history(self):
        c = VirtualClock()
        p = Pin(2, Pin.OUT, value=1, clock=c)
        levels = []
        p.watch(levels.append)
        c.advance_us(10)
        p.off()
        c.advance_us(5)
        p.off()  # no change, no record
        p.on()
        self.assertEqual(levels, [0, 1])
        self.assertEqual(p.history, [(0, 1), (10, 0), (15, 1)])

    def test_default_clock(self):
        c = VirtualClock(start_us=42)
        machine.set_clock(c)
        try:
            p = Pin(1, Pin.OUT, value=0)
            self.assertEqual(p.history, [(42, 0)])
        finally:
            machine.set_clock(None)
        self.assertIsNone(Pin(1).history)


class Echo:
    """SPI device that answers each byte with its complement and logs begin/end."""

    def __init__(self):
        self.events = []

    def begin(self):
        self.events.append("begin")

    def end(self):
        self.events.append("end")

    def exchange(self, b):
        return b ^ 0xFF


class TestSPI(unittest.TestCase):
    def test_no_device_reads_ff(self):
        spi = SPI(1, baudrate=10000000)
        self.assertEqual(spi.read(3), b"\xff\xff\xff")
        buf = bytearray(2)
        spi.write_readinto(b"\x01\x02", buf)
        self.assertEqual(bytes(buf), b"\xff\xff")

    def test_device_selected_by_cs(self):
        spi = SPI(1)
        cs = Pin(5, Pin.OUT, value=1)
        dev = Echo()
        spi.attach(dev, cs)
        self.assertEqual(spi.read(1, 0x0F), b"\xff")  # CS high: not selected
        cs.value(0)
        out = bytearray(3)
        spi.write_readinto(b"\x00\x0f\xf0", out)
        self.assertEqual(bytes(out), b"\xff\xf0\x0f")
        spi.write(b"\x55")
        cs.value(1)
        self.assertEqual(dev.events, ["begin", "end"])
        self.assertEqual(spi.transactions, [(b"\x00\x0f\xf0\x55", b"\xff\xf0\x0f\xaa")])
        cs.value(0)
        r = bytearray(2)
        spi.readinto(r, 0x01)
        cs.value(1)
        self.assertEqual(bytes(r), b"\xfe\xfe")
        self.assertEqual(len(spi.transactions), 2)
        spi.clear_log()
        self.assertEqual(spi.transactions, [])

    def test_buffers_must_match(self):
        spi = SPI(1)
        with self.assertRaises(ValueError):
            spi.write_readinto(b"\x00\x00", bytearray(1))

    def test_two_devices_selected_is_an_error(self):
        spi = SPI(1)
        a = Pin(1, Pin.OUT, value=1)
        b = Pin(2, Pin.OUT, value=1)
        spi.attach(Echo(), a)
        spi.attach(Echo(), b)
        a.value(0)
        with self.assertRaises(RuntimeError):
            b.value(0)

    def test_transfer_time_with_clock(self):
        c = VirtualClock()
        spi = SPI(1, baudrate=8000000, clock=c)
        spi.write(bytes(10))  # 80 bits at 8 MHz = 10 us
        self.assertEqual(c.now_us, 10)
        spi.write(bytes(1))  # 1 us
        self.assertEqual(c.now_us, 11)


class TestADCWDT(unittest.TestCase):
    def test_adc(self):
        adc = ADC(Pin(33))
        adc.set_u16(40000)
        self.assertEqual(adc.read_u16(), 40000)
        self.assertEqual(adc.read(), 40000 >> 4)
        adc.set_u16(70000)
        self.assertEqual(adc.read_u16(), 65535)
        adc.set_u16(-3)
        self.assertEqual(adc.read_u16(), 0)
        adc.source = lambda: 1234
        self.assertEqual(adc.read_u16(), 1234)
        self.assertEqual(adc.read_uv(), 1234 * 3300000 // 65535)

    def test_wdt_fed_in_time(self):
        c = VirtualClock()
        wdt = WDT(timeout=100, clock=c)
        for _ in range(10):
            c.advance_ms(90)
            wdt.feed()
        self.assertEqual(wdt.fed, 10)
        self.assertFalse(wdt.expired)

    def test_wdt_expires_on_time(self):
        c = VirtualClock()
        wdt = WDT(timeout=100, clock=c)
        fired = []
        wdt.on_expire = lambda w: fired.append(c.now_us)
        c.advance_ms(50)
        wdt.feed()
        c.advance_ms(99)
        self.assertFalse(wdt.expired)
        c.advance_ms(5)
        self.assertEqual(fired, [150000])
        self.assertTrue(wdt.expired)
        self.assertEqual(wdt.expired_at_us, 150000)
        wdt.feed()  # too late
        self.assertTrue(wdt.expired)
        self.assertEqual(wdt.fed, 1)

    def test_machine_reset_is_not_an_exception(self):
        with self.assertRaises(machine.MachineReset):
            machine.reset()
        self.assertFalse(issubclass(machine.MachineReset, Exception))
        self.assertEqual(machine.reset_cause(), machine.PWRON_RESET)


class TestVirtualCANBus(unittest.TestCase):
    def test_frame_bits_hand_checked(self):
        # id 0, DLC 0: 34 zero bits SOF..CRC (CRC of zeros is 0) -> a stuff bit after every 5: 40,
        # then CRC delimiter, ACK slot, ACK delimiter, 7 EOF = 50 bits.
        self.assertEqual(stuffed_bits(0, b""), 40)
        self.assertEqual(frame_bits(0, b""), 50)
        self.assertEqual(nominal_bits(0x123, bytes(8)), 34 + 64)
        self.assertEqual(nominal_bits(CAN_EFF_FLAG | 0x123, bytes(8)), 54 + 64)
        self.assertEqual(nominal_bits(0x123 | CAN_RTR_FLAG, bytes(8)), 34)

    def test_frame_bits_against_oracle(self):
        cases = [(0x7FF, b"\xff" * 8), (0x1DA, b"\x01\x02\x03\x04\x05\x06\x07\x08"), (0x000, b"\x00" * 8),
                 (0x555, b"\xaa\x55"), (0x11A, b"\x4e\x40\x00\xaa\xc0\x00\x00\x8c")]
        for can_id, data in cases:
            with self.subTest(can_id=can_id):
                n = stuffed_bits(can_id, data)
                self.assertEqual(n, naive_stuffed_bits(can_id, data))
                nom = nominal_bits(can_id, data)
                self.assertGreaterEqual(n, nom)
                self.assertLessEqual(n, nom + (nom - 1) // 4)

    def test_frame_bits_random_against_oracle(self):
        seed = 12345
        for case in range(40):
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            can_id = seed & 0x7FF
            n = (seed >> 11) % 9
            data = bytearray(n)
            for k in range(n):
                seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
                data[k] = (seed >> 8) & 0xFF if seed & 3 else (0xFF if seed & 4 else 0x00)
            with self.subTest(case=case):
                self.assertEqual(stuffed_bits(can_id, bytes(data)), naive_stuffed_bits(can_id, bytes(data)))

    def test_frame_time_and_delivery(self):
        c = VirtualClock()
        bus = VirtualCANBus(c, 500000)
        a = RecordingNode(bus, name="a")
        b = RecordingNode(bus, name="b")
        c.advance_us(100)
        a.send(0x123, b"\x11\x22")
        ft = bus.frame_time_us(0x123, b"\x11\x22")
        self.assertEqual(ft, frame_bits(0x123, b"\x11\x22") * 2)  # 2 us per bit at 500 kbit/s
        c.advance_us(ft - 1)
        self.assertEqual(bus.log, [])
        c.advance_us(1)
        self.assertEqual(bus.log, [(100 + ft, 0x123, b"\x11\x22")])
        self.assertEqual(b.frames, [(100 + ft, 0x123, b"\x11\x22")])
        self.assertEqual(a.frames, [])  # a node does not receive its own frame
        self.assertEqual(bus.idle_at_us, 100 + ft + IFS_BITS * 2)

    def test_arbitration_lowest_id_first_back_to_back(self):
        c = VirtualClock()
        bus = VirtualCANBus(c, 500000)
        x = RecordingNode(bus, name="x")
        y = RecordingNode(bus, name="y")
        z = RecordingNode(bus, name="z")
        x.send(0x300, b"\x01")  # starts at once: bus idle
        y.send(0x200, b"\x02")
        z.send(0x100, b"\x03")
        x.send(0x050, b"\x04")  # queued behind x's own 0x300, then it wins the next arbitration
        c.advance_ms(5)
        ids = [e[1] for e in bus.log]
        self.assertEqual(ids, [0x300, 0x050, 0x100, 0x200])
        t0 = bus.log[0][0]
        t1 = bus.log[1][0]
        self.assertEqual(t1 - t0, IFS_BITS * 2 + bus.frame_time_us(0x050, b"\x04"))

    def test_standard_beats_extended_with_same_base_id(self):
        c = VirtualClock()
        bus = VirtualCANBus(c, 500000)
        busy = RecordingNode(bus)
        a = RecordingNode(bus)
        b = RecordingNode(bus)
        busy.send(0x001, bytes(8))
        a.send(CAN_EFF_FLAG | (0x123 << 18), b"")
        b.send(0x123, b"")
        c.advance_ms(2)
        self.assertEqual([e[1] for e in bus.log], [0x001, 0x123, CAN_EFF_FLAG | (0x123 << 18)])

    def test_no_ack_drops_host_frame(self):
        c = VirtualClock()
        bus = VirtualCANBus(c, 500000)
        lonely = RecordingNode(bus)
        deaf = Peer(acks=False)
        bus.attach(deaf)
        lonely.send(0x123, b"\x01")
        c.advance_ms(1)
        self.assertEqual(bus.log, [])
        self.assertEqual(deaf.got, [])
        self.assertEqual(bus.frames_failed, 1)
        self.assertEqual(bus.errors[0][1:3], (0x123, "ack"))

    def test_fault_injection(self):
        c = VirtualClock()
        bus = VirtualCANBus(c, 250000)
        a = RecordingNode(bus)
        RecordingNode(bus)
        bus.fault = "no_ack"
        a.send(0x10, b"")
        c.advance_ms(1)
        bus.fault = "bit_error"
        a.send(0x11, b"")
        c.advance_ms(1)
        bus.fault = None
        a.send(0x12, b"")
        c.advance_ms(1)
        self.assertEqual([e[1:3] for e in bus.errors], [(0x10, "ack"), (0x11, "bit")])
        self.assertEqual([e[1] for e in bus.log], [0x12])

    def test_data_longer_than_8_rejected(self):
        c = VirtualClock()
        bus = VirtualCANBus(c)
        with self.assertRaises(ValueError):
            bus.send(self, 0x1, bytes(9))

    def test_lazy_without_timers(self):
        # a clock without call_at: the bus only moves when asked
        class BareClock:
            now_us = 0

        clk = BareClock()
        bus = VirtualCANBus(clk, 500000)
        a = RecordingNode(bus)
        b = RecordingNode(bus)
        a.send(0x10, b"\x01")
        clk.now_us = 10000
        self.assertEqual(b.frames, [])
        bus.run_until()
        self.assertEqual(len(b.frames), 1)
        self.assertEqual(b.frames[0][0], bus.frame_time_us(0x10, b"\x01"))


if __name__ == "__main__":
    unittest.main()
