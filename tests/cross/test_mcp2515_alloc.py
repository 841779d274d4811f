"""The MCP2515 driver's steady-state send and receive paths allocate nothing on the heap.

Under MicroPython: gc.mem_alloc() delta over many warm cycles must be 0 (skipped on CPython, which has
no gc.mem_alloc). The driver talks to a stub SPI bus that answers like a chip without allocating
itself (the register-level model behind fakes.machine.SPI records transactions and so allocates on
the host side; that would be counted here although it is not the driver's). The byte-level behaviour
against the real model is in test_mcp2515_driver.py.

Loops are while loops over preallocated ints: nothing but the driver calls can allocate.
"""

import gc
import unittest

import mcp2515
from mcp2515 import MCP2515


class _StubClock:
    def ticks_ms(self):
        return 0

    def ticks_us(self):
        return 0

    def ticks_add(self, a, b):
        return a + b

    def ticks_diff(self, a, b):
        return a - b

    def sleep_ms(self, n):
        pass

    def sleep_us(self, n):
        pass


class _StubPin:
    def __init__(self):
        self.level = 1
        self.IRQ_FALLING = 2
        self.handler = None

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = v

    def irq(self, handler=None, trigger=0):
        self.handler = handler


class _StubSPI:
    """Answers READ STATUS, READ RX BUFFER and READ like an MCP2515 with one frame in RXB0 and
    free TX buffers; counts bytes and calls; allocates nothing."""

    def __init__(self):
        self.status = 0x01          # RX0IF set, no TXREQ
        self.regs = bytearray(128)  # WRITE stores, READ returns (init reads CNF back)
        self.regs[0x0E] = 0x80      # CANSTAT: configuration mode after RESET
        # RXB0: SIDH SIDL EID8 EID0 DLC D0..D7 for id 0x1DA, 8 bytes
        self.rx = bytearray((0x90, 0x1DA >> 3, (0x1DA & 7) << 5, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8))
        self.nbytes = 0
        self.calls = 0

    def write(self, buf):
        self.calls += 1
        n = len(buf)
        self.nbytes += n
        if buf[0] == 0x02:          # WRITE
            i = 2
            while i < n:
                self.regs[(buf[1] + i - 2) & 0x7F] = buf[i]
                i += 1
        elif buf[0] == 0x05 and buf[1] == 0x0F:   # BIT MODIFY CANCTRL: mode follows at once
            regs = self.regs
            regs[0x0E] = (regs[0x0E] & ~buf[2]) | (buf[3] & buf[2])

    def write_readinto(self, w, r):
        self.calls += 1
        n = len(w)
        self.nbytes += n
        c = w[0]
        if c == 0xA0 or c == 0xB0:
            r[1] = self.status
        elif c == 0x90 or c == 0x94:
            i = 1
            src = self.rx
            while i < n:
                r[i] = src[i]
                i += 1
        elif c == 0x03:
            i = 2
            while i < n:
                r[i] = self.regs[(w[1] + i - 2) & 0x7F]
                i += 1


class _Sink:
    def __init__(self):
        self.count = 0
        self.last_id = 0
        self.last_byte = 0

    def on_frame(self, can_id, data):
        self.count += 1
        self.last_id = can_id
        self.last_byte = data[len(data) - 1]


def _cycles(drv, data, buf, cb, n):
    # One cycle = what the 10 ms task does: two pinned frames as a batch, one pinned frame alone,
    # one unpinned frame (TXB2), then receive (recv_into, recv and an IRQ-driven drain).
    # cb is a bound method made by the caller once (making it here would be a 16-byte allocation).
    i = 0
    while i < n:
        data[0] = i & 0xFF
        drv.tx_begin()
        drv.tx_load(0, data)
        drv.tx_load(1, data)
        drv.tx_commit()
        drv.send_pinned(0, data)
        drv.send(0x7E0, data, 3)
        drv.recv_into(buf)
        drv.recv()
        drv._isr(None)
        drv.drain(cb, 1)
        drv.read_errors()
        i += 1


class TestDriverHeap(unittest.TestCase):
    def setUp(self):
        if not hasattr(gc, "mem_alloc"):
            self.skipTest("gc.mem_alloc() is MicroPython-only")
        self.spi = _StubSPI()
        self.cs = _StubPin()
        self.intp = _StubPin()
        drv = MCP2515(self.spi, self.cs, clock=_StubClock())
        drv.init(500000, 8000000, mcp2515.LOOPBACK)
        drv.pin(0, 0x1D4, 8)
        drv.pin(1, 0x1DB, 8)
        drv.attach_irq(self.intp)
        self.drv = drv

    def test_send_and_receive_allocate_nothing(self):
        drv = self.drv
        data = bytearray(8)
        buf = bytearray(8)
        sink = _Sink()
        cb = sink.on_frame
        _cycles(drv, data, buf, cb, 20)          # warm up: first-call caches, small-int counters
        before_frames = drv.stats.tx_frames
        gc.collect()
        a = gc.mem_alloc()
        _cycles(drv, data, buf, cb, 500)
        d = gc.mem_alloc() - a
        print("mcp2515 heap bytes over 500 cycles (4 frames sent, 3 received each): %d" % d)
        self.assertEqual(d, 0)
        self.assertEqual(drv.stats.tx_frames - before_frames, 500 * 4)
        self.assertEqual(drv.stats.tx_dropped + drv.stats.tx_busy, 0)
        self.assertEqual(sink.count, 520)
        self.assertEqual(sink.last_id, 0x1DA)
        self.assertEqual(buf[7], 8)

    def test_busy_path_allocates_nothing(self):
        # TXREQ set on every buffer: send_pinned and send refuse (counted) without allocating.
        drv = self.drv
        self.spi.status = 0x54
        data = bytearray(8)
        drv.send_pinned(0, data)
        drv.send(0x123, data)
        gc.collect()
        a = gc.mem_alloc()
        i = 0
        while i < 300:
            drv.send_pinned(0, data)
            drv.send(0x123, data)
            i += 1
        d = gc.mem_alloc() - a
        self.assertEqual(d, 0)
        self.assertEqual(drv.stats.tx_dropped, 301)
        self.assertEqual(drv.stats.tx_busy, 301)


if __name__ == "__main__":
    unittest.main()
