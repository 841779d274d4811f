"""The MCP2515 model checked against the datasheet (DS20001801, rev. J), driven by raw SPI bytes.

No driver is involved: each test clocks instruction bytes through the fake SPI with CS framing, the way
the datasheet's figures show them, and the numbers below come from the datasheet, not from the model.
Cross-interpreter: runs under pytest and under real MicroPython (tools/mpy_lane.mjs).
"""
import unittest

from fakes.canbus import CAN_EFF_FLAG, CAN_RTR_FLAG, RecordingNode, VirtualCANBus
from fakes.clock import VirtualClock
from fakes.machine import SPI, Pin
from fakes.mcp2515_chip import MCP2515Chip

# Instructions (Table 12-1)
RESET = 0xC0
READ = 0x03
WRITE = 0x02
BIT_MODIFY = 0x05
READ_STATUS = 0xA0
RX_STATUS = 0xB0
# Registers (Table 11-1)
BFPCTRL = 0x0C
TXRTSCTRL = 0x0D
CANSTAT = 0x0E
CANCTRL = 0x0F
TEC = 0x1C
REC = 0x1D
CNF3 = 0x28
CNF2 = 0x29
CNF1 = 0x2A
CANINTE = 0x2B
CANINTF = 0x2C
EFLG = 0x2D
TXB0CTRL = 0x30
TXB1CTRL = 0x40
TXB2CTRL = 0x50
RXB0CTRL = 0x60
RXB1CTRL = 0x70
RXF = (0x00, 0x04, 0x08, 0x10, 0x14, 0x18)
RXM0 = 0x20
RXM1 = 0x24
# Modes (Register 10-1 REQOP / 10-2 OPMOD)
NORMAL = 0
SLEEP = 1
LOOPBACK = 2
LISTEN = 3
CONFIG = 4
# CANINTF / CANINTE bits (Registers 7-1, 7-2)
MERRF = 0x80
WAKIF = 0x40
ERRIF = 0x20
TX2IF = 0x10
TX1IF = 0x08
TX0IF = 0x04
RX1IF = 0x02
RX0IF = 0x01
# EFLG bits (Register 6-3)
RX1OVR = 0x80
RX0OVR = 0x40
TXBO = 0x20
TXEP = 0x10
RXEP = 0x08
TXWAR = 0x04
RXWAR = 0x02
EWARN = 0x01
# TXBnCTRL bits (Register 3-1)
ABTF = 0x40
MLOA = 0x20
TXERR = 0x10
TXREQ = 0x08
# CANCTRL bits (Register 10-1)
ABAT = 0x10
OSM = 0x08

BITRATE = 500000
# 8 MHz crystal, 500 kbit/s: BRP=0 (TQ = 250 ns), 8 TQ: Sync 1 + PropSeg 1 + PS1 3 + PS2 3 (5.0)
CNF_500K_8MHZ = (0x02, 0x90, 0x00)  # CNF3, CNF2 (BTLMODE, PS1=3, PRSEG=1), CNF1
CNF_250K_8MHZ = (0x02, 0x90, 0x01)  # BRP=1


def sid_regs(can_id):
    """SIDH, SIDL of an 11-bit id (Registers 3-3, 3-4)."""
    return (can_id >> 3) & 0xFF, (can_id & 7) << 5


def eid_regs(can_id):
    """SIDH, SIDL (EXIDE), EID8, EID0 of a 29-bit id."""
    sid = can_id >> 18
    return (sid >> 3) & 0xFF, ((sid & 7) << 5) | 0x08 | ((can_id >> 16) & 3), (can_id >> 8) & 0xFF, can_id & 0xFF


class ChipTest(unittest.TestCase):
    def setUp(self):
        self.clock = VirtualClock()
        self.bus = VirtualCANBus(self.clock, BITRATE)
        self.spi = SPI(1, baudrate=10000000)
        self.cs = Pin(5, Pin.OUT, value=1)
        self.intr = Pin(4, Pin.IN, Pin.PULL_UP)
        self.chip = MCP2515Chip(self.clock, self.bus, crystal=8000000)
        self.chip.attach(self.spi, self.cs, self.intr)
        self.peer = RecordingNode(self.bus, name="peer")  # an acking node

    # raw SPI, one CS-low..CS-high transaction each
    def xfer(self, *out):
        buf = bytearray(len(out))
        self.cs.value(0)
        self.spi.write_readinto(bytes(out), buf)
        self.cs.value(1)
        return bytes(buf)

    def read(self, addr, n=1):
        r = self.xfer(READ, addr, *([0] * n))[2:]
        return r[0] if n == 1 else r

    def write(self, addr, *vals):
        self.xfer(WRITE, addr, *vals)

    def bitmod(self, addr, mask, val):
        self.xfer(BIT_MODIFY, addr, mask, val)

    def reset(self):
        self.xfer(RESET)

    def set_mode(self, mode):
        self.bitmod(CANCTRL, 0xE0, mode << 5)
        return self.read(CANSTAT) >> 5

    def start(self, mode=NORMAL, cnf=CNF_500K_8MHZ):
        self.reset()
        self.write(CNF3, *cnf)
        self.assertEqual(self.set_mode(mode), mode)

    def load_std(self, n, can_id, data, prio=0):
        h, l = sid_regs(can_id)
        self.xfer(0x40 + 2 * n, h, l, 0, 0, len(data), *data)  # LOAD TX BUFFER, start at TXBnSIDH
        if prio:
            self.bitmod(TXB0CTRL + 16 * n, 0x03, prio)

    def set_filter(self, f, can_id, ext=False):
        if ext:
            self.write(RXF[f], *eid_regs(can_id))
        else:
            h, l = sid_regs(can_id)
            self.write(RXF[f], h, l, 0, 0)

    def set_mask(self, m, sid_mask, eid_mask=0):
        h, l = sid_regs(sid_mask)
        self.write(RXM0 if m == 0 else RXM1, h, l | ((eid_mask >> 16) & 3), (eid_mask >> 8) & 0xFF,
                   eid_mask & 0xFF)

    def run_us(self, us):
        self.clock.advance_us(us)


class TestResetAndRegisters(ChipTest):
    def test_reset_values(self):
        # dirty the registers first, in configuration mode
        self.write(CNF3, 0x45, 0xB1, 0x07, 0xFF)
        self.write(BFPCTRL, 0x3F)
        self.write(TXB0CTRL, 0x03)
        self.write(RXB0CTRL, 0x64)
        self.write(RXB1CTRL, 0x60)
        self.bitmod(CANCTRL, 0x0F, 0x08)
        self.reset()
        # Register 10-1: CANCTRL POR/reset value 1000 0111; Register 10-2: CANSTAT 100- 000-
        self.assertEqual(self.read(CANCTRL), 0x87)
        self.assertEqual(self.read(CANSTAT), 0x80)
        # Table 11-2: CNF1..3, CANINTE, CANINTF, EFLG, TEC, REC, TXBnCTRL, RXBnCTRL, BFPCTRL reset to 0
        for addr in (CNF1, CNF2, CNF3, CANINTE, CANINTF, EFLG, TEC, REC, TXB0CTRL, TXB1CTRL, TXB2CTRL,
                     RXB0CTRL, RXB1CTRL, BFPCTRL):
            with self.subTest(addr=addr):
                self.assertEqual(self.read(addr), 0)
        self.assertEqual(self.read(TXRTSCTRL) & 0x07, 0)  # BnRTSM bits reset to 0
        self.assertEqual(self.intr.value(), 1)  # no interrupt pending

    def test_canstat_canctrl_at_every_xe_xf(self):
        # Table 11-1: CANSTAT and CANCTRL appear at xEh / xFh in every row
        for row in range(8):
            with self.subTest(row=row):
                self.assertEqual(self.read(row * 16 + 0x0E), 0x80)
                self.assertEqual(self.read(row * 16 + 0x0F), 0x87)
        self.bitmod(0x5F, 0xE0, LISTEN << 5)  # CANCTRL through its 5Fh mirror
        self.assertEqual(self.read(0x2E) >> 5, LISTEN)

    def test_config_only_registers(self):
        # 10.1: CNF1..3, TXRTSCTRL, filters and masks are modifiable only in configuration mode
        addrs = (CNF1, CNF2, CNF3, TXRTSCTRL, RXF[0], RXF[5] + 3, RXM0, RXM1 + 2)
        for a in addrs:
            self.write(a, 0x01)
        self.assertEqual(self.set_mode(LISTEN), LISTEN)
        for a in addrs:
            self.write(a, 0x02)
            self.bitmod(a, 0xFF, 0x03)
            with self.subTest(addr=a):
                self.assertEqual(self.read(a), 0x01)
        self.assertEqual(self.set_mode(CONFIG), CONFIG)
        self.write(CNF1, 0x02)
        self.assertEqual(self.read(CNF1), 0x02)

    def test_mode_requests(self):
        # 10.0: REQOP (CANCTRL[7:5]) selects the mode, OPMOD (CANSTAT[7:5]) confirms it
        self.write(CNF3, *CNF_500K_8MHZ)
        for mode in (NORMAL, LOOPBACK, LISTEN, SLEEP, CONFIG):
            with self.subTest(mode=mode):
                self.assertEqual(self.set_mode(mode), mode)
                self.assertEqual(self.read(CANCTRL) >> 5, mode)

    def test_unimplemented_and_read_only_bits(self):
        # Register 3-4: TXBnSIDL bits 4, 2 unimplemented; Register 3-7: TXBnDLC bits 7, 5, 4
        self.write(0x32, 0xFF)
        self.assertEqual(self.read(0x32), 0xEB)
        self.write(0x35, 0xFF)
        self.assertEqual(self.read(0x35), 0x4F)
        # Register 5-3: CNF3 bits 5..3 unimplemented
        self.write(CNF3, 0xFF)
        self.assertEqual(self.read(CNF3), 0xC7)
        # Register 6-3: EFLG bits 5..0 are read-only; Register 6-1/6-2: TEC, REC read-only
        self.write(EFLG, 0xFF)
        self.assertEqual(self.read(EFLG), 0xC0)
        self.write(TEC, 0x55, 0x55)
        self.assertEqual(self.read(TEC, 2), b"\x00\x00")
        # Register 4-4..4-9: the receive buffers are read-only
        self.write(0x61, 0xAA)
        self.assertEqual(self.read(0x61), 0x00)
        # Register 3-1: TXBnCTRL ABTF, MLOA, TXERR are read-only
        self.write(TXB1CTRL, 0x70)
        self.assertEqual(self.read(TXB1CTRL), 0x00)

    def test_write_and_read_auto_increment(self):
        # 12.3 / 12.5: the address pointer increments after each byte
        payload = (0x12, 0x34, 0x00, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8)
        self.write(0x31, *payload)
        got = self.read(0x31, 13)
        self.assertEqual(got, bytes((0x12, 0x20, 0x00, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8)))
        # the pointer runs on through the map: CANSTAT/CANCTRL at 3Eh/3Fh, then TXB1CTRL
        self.assertEqual(self.read(0x3D, 4), bytes((8, 0x80, 0x87, 0x00)))


class TestBitModify(ChipTest):
    def test_bit_modify_figure_12_1(self):
        # Figure 12-1: mask 0011 0101, data xx10 x0x1, previous 0101 0001 -> result 0110 0001
        for data in (0x21, 0xEB):
            with self.subTest(data=data):
                self.write(CANINTE, 0x51)
                self.bitmod(CANINTE, 0x35, data)
                self.assertEqual(self.read(CANINTE), 0x61)

    def test_bit_modify_on_control_registers(self):
        # Table 11-1: CANCTRL, CNF, TXBnCTRL, RXBnCTRL, BFPCTRL, CANINTF, EFLG are bit-modifiable
        self.write(CNF2, 0x90)
        self.bitmod(CNF2, 0x07, 0x02)
        self.assertEqual(self.read(CNF2), 0x92)
        self.write(TXB2CTRL, 0x01)
        self.bitmod(TXB2CTRL, 0x02, 0x02)
        self.assertEqual(self.read(TXB2CTRL), 0x03)
        self.write(BFPCTRL, 0x0F)
        self.bitmod(BFPCTRL, 0x01, 0x00)
        self.assertEqual(self.read(BFPCTRL), 0x0E)
        self.bitmod(CANCTRL, 0x07, 0x00)
        self.assertEqual(self.read(CANCTRL), 0x80)

    def test_bit_modify_forces_mask_ff_elsewhere(self):
        # Table 12-1 / 12.10 note: on registers that are not bit-modifiable the mask is forced to FFh,
        # i.e. the data byte is written whole
        for addr in (0x31, 0x36, RXF[1], RXM0 + 2):  # TXB0SIDH, TXB0D0, RXF1SIDH, RXM0EID8
            with self.subTest(addr=addr):
                self.write(addr, 0x51)
                self.bitmod(addr, 0x35, 0x21)
                self.assertEqual(self.read(addr), 0x21)


class TestBufferInstructions(ChipTest):
    def test_load_tx_buffer_start_addresses(self):
        # Table 12-1 LOAD TX BUFFER 0100 0abc: 000 TXB0SIDH (31h), 001 TXB0D0 (36h),
        # 010 TXB1SIDH (41h), 011 TXB1D0 (46h), 100 TXB2SIDH (51h), 101 TXB2D0 (56h)
        starts = ((0x40, 0x31), (0x41, 0x36), (0x42, 0x41), (0x43, 0x46), (0x44, 0x51), (0x45, 0x56))
        for ins, addr in starts:
            with self.subTest(ins=ins):
                self.reset()
                self.xfer(ins, 0xA5, 0x5A)
                self.assertEqual(self.read(addr - 1), 0)  # TXBnCTRL / TXBnDLC untouched
                self.assertEqual(self.read(addr), 0xA5)
                at_data = (addr & 0x0F) == 6
                # the pointer increments: TXBnD1, or TXBnSIDL (bits 4 and 2 unimplemented)
                self.assertEqual(self.read(addr + 1), 0x5A if at_data else 0x5A & 0xEB)

    def _two_frames(self, first, second):
        # RXB0 gets the first frame, BUKT rolls the second into RXB1 (4.2.1)
        self.bitmod(RXB0CTRL, 0x04, 0x04)
        self.peer.send(first[0], first[1])
        self.peer.send(second[0], second[1])
        self.run_us(1000)
        self.assertEqual(self.read(CANINTF) & 3, 3)

    def test_read_rx_buffer_start_addresses_and_flag_clear(self):
        # Table 12-1 READ RX BUFFER 1001 0nm0: 00 RXB0SIDH (61h), 01 RXB0D0 (66h), 10 RXB1SIDH (71h),
        # 11 RXB1D0 (76h); the matching RXnIF is cleared when CS goes high
        self.start(NORMAL)
        a = (0x123, b"\x10\x11\x12\x13\x14\x15\x16\x17")
        b = (0x456, b"\x20\x21\x22")
        self._two_frames(a, b)
        got = self.xfer(0x90, 0, 0, 0, 0, 0, 0)[1:]
        self.assertEqual(got, bytes((0x24, 0x60, 0, 0, 8, 0x10)))
        self.assertEqual(self.read(CANINTF) & 3, RX1IF)
        got = self.xfer(0x96, 0, 0, 0)[1:]
        self.assertEqual(got, b"\x20\x21\x22")
        self.assertEqual(self.read(CANINTF) & 3, 0)
        self._two_frames(a, b)
        got = self.xfer(0x92, 0, 0)[1:]
        self.assertEqual(got, b"\x10\x11")
        self.assertEqual(self.read(CANINTF) & 3, RX1IF)
        got = self.xfer(0x94, 0, 0, 0, 0, 0)[1:]
        self.assertEqual(got, bytes((0x8A, 0xC0, 0, 0, 3)))
        self.assertEqual(self.read(CANINTF) & 3, 0)

    def test_rx_flag_cleared_only_when_cs_rises(self):
        self.start(NORMAL)
        self.peer.send(0x100, b"\x01")
        self.run_us(1000)
        self.cs.value(0)
        self.spi.write(b"\x92")
        self.assertEqual(self.spi.read(1), b"\x01")
        self.assertEqual(self.chip.peek(CANINTF) & RX0IF, RX0IF)  # still set while CS is low
        self.cs.value(1)
        self.assertEqual(self.chip.peek(CANINTF) & RX0IF, 0)

    def test_plain_read_does_not_clear_rx_flag(self):
        self.start(NORMAL)
        self.peer.send(0x100, b"\x01")
        self.run_us(1000)
        self.read(0x61, 6)
        self.assertEqual(self.read(CANINTF) & RX0IF, RX0IF)


class TestTransmit(ChipTest):
    def test_rts_sends_after_frame_time(self):
        # 3.0 / 12.7: RTS starts transmission; TXREQ clears and TXnIF sets when the frame is sent;
        # 7.2: with TX0IE set the INT pin goes low
        self.start(NORMAL)
        self.write(CANINTE, TX0IF)
        data = b"\x01\x02\x03\x04\x05\x06\x07\x08"
        self.load_std(0, 0x1DA, data)
        t0 = self.clock.now_us
        self.xfer(0x81)
        self.assertEqual(self.read(TXB0CTRL) & TXREQ, TXREQ)
        ft = self.bus.frame_time_us(0x1DA, data)
        self.run_us(ft - 1)
        self.assertEqual(self.bus.log, [])
        self.assertEqual(self.intr.value(), 1)
        self.run_us(1)
        self.assertEqual(self.bus.log, [(t0 + ft, 0x1DA, data)])
        self.assertEqual(self.peer.frames, [(t0 + ft, 0x1DA, data)])
        self.assertEqual(self.intr.value(), 0)
        self.assertEqual(self.read(TXB0CTRL) & TXREQ, 0)
        self.assertEqual(self.read(CANINTF), TX0IF)
        self.bitmod(CANINTF, TX0IF, 0)
        self.assertEqual(self.intr.value(), 1)
        self.assertEqual(self.read(TEC), 0)

    def test_rts_each_buffer_extended_and_long_dlc(self):
        self.start(NORMAL)
        self.xfer(0x42, *eid_regs(0x18DAF110), 3, 0xAA, 0xBB, 0xCC)
        self.xfer(0x82)
        self.run_us(1000)
        # Register 3-7 note: a DLC above 8 sends 8 data bytes
        h, l = sid_regs(0x7FF)
        self.xfer(0x44, h, l, 0, 0, 0x0F, 1, 2, 3, 4, 5, 6, 7, 8)
        self.xfer(0x84)
        self.run_us(1000)
        self.assertEqual([e[1:] for e in self.bus.log],
                         [(CAN_EFF_FLAG | 0x18DAF110, b"\xaa\xbb\xcc"), (0x7FF, b"\x01\x02\x03\x04\x05\x06\x07\x08")])
        self.assertEqual(self.read(CANINTF), TX1IF | TX2IF)

    def test_remote_frame(self):
        self.start(NORMAL)
        h, l = sid_regs(0x321)
        self.xfer(0x40, h, l, 0, 0, 0x40 | 2)  # RTR, DLC 2
        self.xfer(0x81)
        self.run_us(1000)
        self.assertEqual(self.bus.log[0][1:], (0x321 | CAN_RTR_FLAG, b"\x00\x00"))

    def test_priority_txp_then_buffer_number(self):
        # 3.2: the buffer with the highest TXP goes first; on equal TXP the higher buffer number
        self.start(NORMAL)
        self.load_std(0, 0x100, b"\x00", prio=1)
        self.load_std(1, 0x200, b"\x01", prio=3)
        self.load_std(2, 0x300, b"\x02", prio=1)
        self.xfer(0x87)  # RTS for all three at once
        self.run_us(2000)
        self.assertEqual([e[1] for e in self.bus.log], [0x200, 0x300, 0x100])
        self.assertEqual(self.read(CANINTF), TX0IF | TX1IF | TX2IF)

    def test_lost_arbitration_sets_mloa_and_retries(self):
        # Register 3-1 MLOA: the message lost arbitration; it is sent again automatically
        self.start(NORMAL)
        other = RecordingNode(self.bus, name="other")
        other.send(0x001, bytes(8))  # occupies the bus
        self.load_std(0, 0x100, b"\x01")
        self.xfer(0x81)
        self.peer.send(0x050, b"\x02")  # both wait for the bus; 0x050 wins
        self.run_us(100)
        self.assertEqual(self.read(TXB0CTRL) & (MLOA | TXREQ), TXREQ)  # waiting, not yet lost
        self.run_us(2000)
        self.assertEqual([e[1] for e in self.bus.log], [0x001, 0x050, 0x100])
        self.assertEqual(self.read(TXB0CTRL) & (MLOA | TXREQ), MLOA)
        self.xfer(0x81)  # setting TXREQ clears MLOA
        self.assertEqual(self.read(TXB0CTRL) & MLOA, 0)

    def test_abat_and_txreq_clear_abort(self):
        # 3.4: ABAT aborts all pending buffers (ABTF set); a message already being transmitted
        # continues; clearing TXREQ aborts one buffer without setting ABTF
        self.start(NORMAL)
        self.load_std(0, 0x100, bytes(8))
        self.load_std(1, 0x101, b"\x01")
        self.load_std(2, 0x102, b"\x02")
        self.xfer(0x81)  # TXB0 starts at once
        self.xfer(0x86)  # TXB1, TXB2 wait
        self.bitmod(TXB2CTRL, TXREQ, 0)
        self.bitmod(CANCTRL, ABAT, ABAT)
        self.run_us(2000)
        self.assertEqual([e[1] for e in self.bus.log], [0x100])
        self.assertEqual(self.read(TXB0CTRL) & (TXREQ | ABTF), 0)
        self.assertEqual(self.read(TXB1CTRL) & (TXREQ | ABTF), ABTF)
        self.assertEqual(self.read(TXB2CTRL) & (TXREQ | ABTF), 0)
        self.assertEqual(self.read(CANINTF), TX0IF)
        # "This bit must be reset to continue transmitting messages"
        self.xfer(0x82)
        self.run_us(1000)
        self.assertEqual(len(self.bus.log), 1)
        self.bitmod(CANCTRL, ABAT, 0)
        self.run_us(1000)
        self.assertEqual([e[1] for e in self.bus.log], [0x100, 0x101])


class TestReceive(ChipTest):
    def test_filters_and_masks_standard(self):
        # 4.5: RXB0 uses RXM0 with RXF0/RXF1, RXB1 uses RXM1 with RXF2..RXF5; FILHIT tells which
        self.reset()
        self.set_mask(0, 0x7F0)
        self.set_filter(0, 0x120)
        self.set_filter(1, 0x7FF)
        self.set_mask(1, 0x7FF)
        for f, i in ((2, 0x130), (3, 0x131), (4, 0x132), (5, 0x555)):
            self.set_filter(f, i)
        self.write(CNF3, *CNF_500K_8MHZ)
        self.assertEqual(self.set_mode(NORMAL), NORMAL)
        cases = ((0x12F, 0, 0), (0x7FF, 0, 1), (0x130, 1, 2), (0x131, 1, 3), (0x132, 1, 4), (0x555, 1, 5))
        for can_id, buf, hit in cases:
            with self.subTest(can_id=can_id):
                self.peer.send(can_id, b"\x42")
                self.run_us(500)
                self.assertEqual(self.read(CANINTF) & 3, 1 << buf)
                ctrl = self.read(RXB0CTRL + 16 * buf)
                self.assertEqual(ctrl & (0x01 if buf == 0 else 0x07), hit)
                got = self.read(0x61 + 16 * buf, 2)
                self.assertEqual(((got[0] << 3) | (got[1] >> 5)), can_id)
                self.bitmod(CANINTF, 3, 0)
        for can_id in (0x110, 0x133, 0x556, CAN_EFF_FLAG | 0x120):
            with self.subTest(rejected=can_id):
                self.peer.send(can_id, b"\x42")
                self.run_us(500)
                self.assertEqual(self.read(CANINTF), 0)
        self.assertEqual(len(self.bus.log), 10)  # rejected frames are still acknowledged

    def test_extended_filter(self):
        # Registers 4-10..4-12: EXIDE=1 makes a filter apply to extended frames only
        self.reset()
        self.set_mask(0, 0x7FF, 0x3FFFF)
        self.set_filter(0, 0x18DAF110, ext=True)
        self.set_mask(1, 0x7FF, 0x3FFFF)
        self.write(CNF3, *CNF_500K_8MHZ)
        self.set_mode(NORMAL)
        self.peer.send(CAN_EFF_FLAG | 0x18DAF111, b"")
        self.run_us(500)
        self.assertEqual(self.read(CANINTF), 0)
        self.peer.send(CAN_EFF_FLAG | 0x18DAF110, b"\x01\x02")
        self.run_us(500)
        self.assertEqual(self.read(CANINTF), RX0IF)
        self.assertEqual(self.read(0x61, 7), bytes(eid_regs(0x18DAF110)) + b"\x02\x01\x02")

    def test_receive_any(self):
        # Register 4-1: RXM = 11 turns masks/filters off, any message is received
        self.reset()
        self.set_mask(0, 0x7FF)
        self.set_filter(0, 0x001)
        self.set_filter(1, 0x002)
        self.write(RXB0CTRL, 0x60)
        self.write(CNF3, *CNF_500K_8MHZ)
        self.set_mode(NORMAL)
        self.peer.send(CAN_EFF_FLAG | 0x1ABCDEF0, b"\x05")
        self.run_us(500)
        self.assertEqual(self.read(CANINTF), RX0IF)
        self.assertEqual(self.read(0x62) & 0x08, 0x08)  # IDE

    def test_data_byte_filtering_of_standard_frames(self):
        # Register 4-1, RXM = 00: RXFnEID8/EID0 are applied to the first two data bytes of standard frames
        self.reset()
        self.write(RXM0, 0xFF, 0xE0, 0xFF, 0x00)
        self.write(RXF[0], 0x24, 0x60, 0xAB, 0x00)
        self.write(RXF[1], 0x24, 0x60, 0xAB, 0x00)
        self.set_mask(1, 0x7FF)  # RXB1 takes only id 0 (filters reset to 0)
        self.write(CNF3, *CNF_500K_8MHZ)
        self.set_mode(NORMAL)
        self.peer.send(0x123, b"\xac\x00")
        self.run_us(500)
        self.assertEqual(self.read(CANINTF), 0)
        self.peer.send(0x123, b"\xab\x99")
        self.run_us(500)
        self.assertEqual(self.read(CANINTF), RX0IF)

    def test_rollover(self):
        # 4.2.1 / Register 4-1: with BUKT a message for a full RXB0 goes to RXB1, whatever RXB1's filters;
        # RXB1CTRL FILHIT shows RXF0/RXF1 (000/001) for rolled-over messages; BUKT1 copies BUKT
        self.reset()
        self.set_mask(0, 0x7FF)
        self.set_filter(0, 0x100)
        self.set_filter(1, 0x101)
        self.set_mask(1, 0x7FF)
        for f in (2, 3, 4, 5):
            self.set_filter(f, 0x7FF)
        self.write(CNF3, *CNF_500K_8MHZ)
        self.set_mode(NORMAL)
        self.bitmod(RXB0CTRL, 0x04, 0x04)
        self.assertEqual(self.read(RXB0CTRL) & 0x06, 0x06)
        self.peer.send(0x100, b"\x01")
        self.peer.send(0x101, b"\x02")
        self.run_us(1000)
        self.assertEqual(self.read(CANINTF), RX0IF | RX1IF)
        self.assertEqual(self.read(RXB0CTRL) & 0x01, 0)
        self.assertEqual(self.read(RXB1CTRL) & 0x07, 1)
        self.assertEqual(self.read(0x76), 0x02)

    def test_overflow_without_rollover(self):
        # 7.6.1: a message for a buffer that is not free is lost and RXnOVR is set; ERRIF (7.6)
        self.start(NORMAL)
        self.write(CANINTE, ERRIF)
        self.peer.send(0x100, b"\x01")
        self.peer.send(0x101, b"\x02")
        self.run_us(1000)
        self.assertEqual(self.read(CANINTF), RX0IF | ERRIF)
        self.assertEqual(self.read(EFLG), RX0OVR)
        self.assertEqual(self.read(0x66), 0x01)  # the first message is kept
        self.assertEqual(self.intr.value(), 0)
        self.bitmod(EFLG, RX0OVR, 0)  # "This bit must be cleared by the MCU"
        self.assertEqual(self.read(EFLG), 0)

    def test_overflow_with_rollover(self):
        self.start(NORMAL)
        self.bitmod(RXB0CTRL, 0x04, 0x04)
        for i in range(3):
            self.peer.send(0x100 + i, bytes((i,)))
        self.run_us(2000)
        self.assertEqual(self.read(CANINTF), RX0IF | RX1IF | ERRIF)
        self.assertEqual(self.read(EFLG), RX1OVR)
        self.assertEqual(self.xfer(0x96, 0)[1], 0x01)

    def test_remote_frame_received(self):
        # Register 4-5: SRR marks a standard remote frame; Register 4-1 RXRTR
        self.start(NORMAL)
        self.peer.send(0x222 | CAN_RTR_FLAG, bytes(3))
        self.run_us(500)
        self.assertEqual(self.read(0x62) & 0x10, 0x10)
        self.assertEqual(self.read(0x65) & 0x0F, 3)
        self.assertEqual(self.read(RXB0CTRL) & 0x08, 0x08)


class TestStatusInstructions(ChipTest):
    def test_read_status_layout(self):
        # Figure 12-8: bit 0 RX0IF, 1 RX1IF, 2 TXB0 TXREQ, 3 TX0IF, 4 TXB1 TXREQ, 5 TX1IF, 6 TXB2 TXREQ,
        # 7 TX2IF; the status repeats while clocks continue
        self.write(CANINTF, RX0IF | TX1IF)  # 7.0: the MCU can set the flags
        self.write(TXB2CTRL, TXREQ)  # pending (configuration mode: nothing is sent)
        self.assertEqual(self.xfer(READ_STATUS, 0, 0, 0), b"\xff\x61\x61\x61")
        self.write(CANINTF, RX1IF | TX0IF | TX2IF)
        self.write(TXB2CTRL, 0)
        self.write(TXB0CTRL, TXREQ)
        self.write(TXB1CTRL, TXREQ)
        self.assertEqual(self.xfer(READ_STATUS, 0)[1], 0x02 | 0x04 | 0x08 | 0x10 | 0x80)

    def test_rx_status_layout(self):
        # Figure 12-9: bits 7..6 which buffers hold a message, 4..3 type of the RXB0 message
        # (if any, else RXB1), 2..0 filter (110/111 = RXF0/RXF1 rolled over into RXB1)
        self.reset()
        self.set_mask(0, 0x7FF)
        self.set_filter(0, 0x100)
        self.set_filter(1, 0x101)
        self.set_mask(1, 0x7FF, 0x3FFFF)
        self.set_filter(2, 0x300)
        self.set_filter(3, 0x18DAF110, ext=True)
        self.write(CNF3, *CNF_500K_8MHZ)
        self.set_mode(NORMAL)
        self.assertEqual(self.xfer(RX_STATUS, 0, 0), b"\xff\x00\x00")
        self.peer.send(0x101, b"\x01")
        self.run_us(500)
        self.assertEqual(self.xfer(RX_STATUS, 0)[1], 0x41)  # RXB0, standard data, RXF1
        self.peer.send(CAN_EFF_FLAG | CAN_RTR_FLAG | 0x18DAF110, b"")
        self.run_us(500)
        self.assertEqual(self.xfer(RX_STATUS, 0, 0), b"\xff\xc1\xc1")  # both; RXB0 reported
        self.xfer(0x90, 0)
        self.assertEqual(self.xfer(RX_STATUS, 0)[1], 0x80 | 0x18 | 0x03)  # RXB1, extended remote, RXF3
        self.xfer(0x94, 0)
        self.bitmod(RXB0CTRL, 0x04, 0x04)
        self.peer.send(0x100, b"\x01")
        self.peer.send(0x100, b"\x02")
        self.run_us(1000)
        self.xfer(0x90, 0)
        self.assertEqual(self.xfer(RX_STATUS, 0)[1], 0x80 | 0x06)  # RXF0 rolled over into RXB1


class TestErrors(ChipTest):
    def _send_unacked(self, osm=False):
        self.bus.detach(self.peer)  # nobody else on the bus acknowledges
        self.start(NORMAL)
        if osm:
            self.bitmod(CANCTRL, OSM, OSM)
        self.write(CANINTE, ERRIF | MERRF)
        self.load_std(0, 0x1DB, b"\x01\x02\x03\x04")
        self.xfer(0x81)

    def _run_until_failures(self, n, limit_us=200000):
        t = 0
        while self.bus.frames_failed < n and t < limit_us:
            self.run_us(10)
            t += 10
        self.assertEqual(self.bus.frames_failed, n)

    def test_no_ack_tec_climbs_to_error_passive(self):
        # 6.2 acknowledge error -> error frame, message repeated; TEC +8 per error (CAN 2.0B);
        # Register 6-3: TXWAR/EWARN at TEC >= 96, TXEP at TEC >= 128
        self._send_unacked()
        self._run_until_failures(1)
        self.assertEqual(self.read(TEC), 8)
        self.assertEqual(self.read(TXB0CTRL) & (TXREQ | TXERR), TXREQ | TXERR)  # retransmitted
        self.assertEqual(self.read(CANINTF) & MERRF, MERRF)
        self._run_until_failures(11)
        self.assertEqual(self.read(TEC), 88)
        self.assertEqual(self.read(EFLG), 0)
        self._run_until_failures(12)
        self.assertEqual(self.read(TEC), 96)
        self.assertEqual(self.read(EFLG), TXWAR | EWARN)
        self.assertEqual(self.read(CANINTF) & ERRIF, ERRIF)
        self._run_until_failures(16)
        self.assertEqual(self.read(TEC), 128)
        self.assertEqual(self.read(EFLG), TXEP | TXWAR | EWARN)

    def test_lone_node_stays_error_passive(self):
        # CAN 2.0B fault confinement: an error-passive transmitter that only misses the ACK does not
        # count up, so a node alone on the bus stays error passive at TEC 128 and never goes bus-off
        self._send_unacked()
        self.run_us(100000)
        self.assertGreaterEqual(self.bus.frames_failed, 100)
        self.assertEqual(self.read(TEC), 128)
        self.assertEqual(self.read(EFLG), TXEP | TXWAR | EWARN)
        self.assertEqual(self.read(TXB0CTRL) & TXREQ, TXREQ)
        self.assertEqual(self.bus.log, [])

    def test_one_shot(self):
        # CANCTRL.OSM: one attempt only; Register 3-1: ABTF/TXERR describe the failed message
        self._send_unacked(osm=True)
        self.run_us(5000)
        self.assertEqual(self.bus.frames_failed, 1)
        self.assertEqual(self.read(TEC), 8)
        self.assertEqual(self.read(TXB0CTRL) & (TXREQ | TXERR | ABTF), TXERR | ABTF)
        self.assertEqual(self.read(CANINTF) & TX0IF, 0)

    def test_bit_errors_bus_off_and_recovery(self):
        # 6.6 / Figure 6-1: TEC > 255 -> bus-off (EFLG.TXBO); back to error-active after
        # 128 occurrences of 11 recessive bits, with the counters reset
        self.start(NORMAL)
        self.write(CANINTE, ERRIF)
        self.bus.fault = "bit_error"
        self.load_std(0, 0x1DB, b"\x01\x02\x03\x04")
        self.xfer(0x81)
        self._run_until_failures(32)
        self.assertEqual(self.read(EFLG), TXBO | TXEP | TXWAR | EWARN)
        self.assertEqual(self.read(TEC), 255)
        self.assertEqual(self.intr.value(), 0)
        self.assertTrue(self.chip.bus_off)
        t_off = self.bus.errors[-1][0]
        self.bus.fault = None
        self.run_us(1000)
        self.assertEqual(self.bus.frames_failed, 32)  # silent while bus-off
        self.assertEqual(self.bus.log, [])
        recovery = 128 * 11 * 1000000 // BITRATE  # 2816 us
        self.clock.run_until(t_off + recovery - 1)
        self.assertTrue(self.chip.bus_off)
        self.run_us(1 + 1000)
        self.assertEqual(self.read(TEC), 0)
        self.assertEqual(self.read(EFLG), 0)
        self.assertEqual([e[1] for e in self.bus.log], [0x1DB])  # the pending message goes out
        self.assertEqual(self.read(TXB0CTRL) & TXREQ, 0)

    def test_mode_change_waits_and_config_clears_counters(self):
        # 10.0: the mode changes only when pending transmissions are complete;
        # 10.1: entering configuration mode clears the error counters
        self._send_unacked()
        self.run_us(20000)
        self.assertEqual(self.read(TEC), 128)
        self.bitmod(CANCTRL, 0xE0, CONFIG << 5)
        self.run_us(5000)
        self.assertEqual(self.read(CANSTAT) >> 5, NORMAL)  # still retransmitting
        self.bitmod(CANCTRL, ABAT, ABAT)
        self.run_us(1000)
        self.assertEqual(self.read(CANSTAT) >> 5, CONFIG)
        self.assertEqual(self.read(TXB0CTRL) & (TXREQ | ABTF), ABTF)
        self.assertEqual(self.read(TEC), 0)
        self.assertEqual(self.read(REC), 0)
        self.assertEqual(self.read(EFLG), 0)

    def test_receive_errors_and_rx_warnings(self):
        # Register 6-3: RXWAR at REC >= 96, RXEP at REC >= 128
        self.start(NORMAL)
        self.chip.inject_rx_errors(96)
        self.assertEqual(self.read(REC), 96)
        self.assertEqual(self.read(EFLG), RXWAR | EWARN)
        self.chip.inject_rx_errors(32)
        self.assertEqual(self.read(EFLG), RXEP | RXWAR | EWARN)
        self.peer.send(0x100, b"")  # a good frame: REC decrements (back to at most 127)
        self.run_us(500)
        self.assertEqual(self.read(REC), 127)
        self.assertEqual(self.read(EFLG), RXWAR | EWARN)

    def test_bit_rate_mismatch(self):
        # 5.0: CNF sets the bit time; at 250 kbit/s on a 500 kbit/s bus nothing is received
        self.start(NORMAL, cnf=CNF_250K_8MHZ)
        self.assertEqual(self.chip.bitrate(), 250000)
        self.peer.send(0x100, b"\x01")
        self.run_us(1000)
        self.assertEqual(self.read(CANINTF) & (RX0IF | MERRF), MERRF)
        self.assertEqual(self.read(REC), 1)
        self.assertEqual(self.bus.log, [])  # and it did not acknowledge either


class TestModesAndPins(ChipTest):
    def test_loopback(self):
        # 10.4: transmit buffers go straight to the receive buffers, nothing on the bus
        self.start(LOOPBACK)
        self.load_std(0, 0x123, b"\x99\x88")
        self.xfer(0x81)
        self.run_us(1000)
        self.assertEqual(self.bus.log, [])
        self.assertEqual(self.peer.frames, [])
        self.assertEqual(self.read(CANINTF), TX0IF | RX0IF)
        self.assertEqual(self.read(0x61, 7), bytes((0x24, 0x60, 0, 0, 2, 0x99, 0x88)))
        self.peer.send(0x200, b"\x01")  # the bus is not listened to
        self.run_us(1000)
        self.assertEqual(self.read(CANINTF) & RX1IF, 0)

    def test_listen_only(self):
        # 10.3: receives but sends neither ACK nor frames
        self.start(LISTEN)
        self.peer.send(0x100, b"\x01")  # nobody acks: the chip only listens
        self.run_us(1000)
        self.assertEqual(self.bus.log, [])
        self.assertEqual(self.read(CANINTF), MERRF)  # it saw the error frame
        self.bitmod(CANINTF, MERRF, 0)
        RecordingNode(self.bus, name="acker")
        self.peer.send(0x101, b"\x02")
        self.run_us(1000)
        self.assertEqual(self.read(CANINTF), RX0IF)
        self.load_std(0, 0x300, b"\x03")
        self.xfer(0x81)
        self.run_us(2000)
        self.assertEqual([e[1] for e in self.bus.log], [0x101])
        self.assertEqual(self.read(TXB0CTRL) & TXREQ, TXREQ)

    def test_sleep_wakes_into_listen_only(self):
        # 10.2: bus activity wakes the chip (WAKIF, if WAKIE) into listen-only mode
        self.start(NORMAL)
        RecordingNode(self.bus, name="acker")
        self.write(CANINTE, WAKIF)
        self.assertEqual(self.set_mode(SLEEP), SLEEP)
        self.run_us(1000)
        self.assertEqual(self.intr.value(), 1)
        self.peer.send(0x100, b"\x01")
        self.run_us(1000)
        self.assertEqual(self.read(CANINTF), WAKIF)
        self.assertEqual(self.read(CANSTAT), (LISTEN << 5) | (2 << 1))  # ICOD 010 wake-up
        self.assertEqual(self.intr.value(), 0)

    def test_int_pin_and_icod(self):
        # 7.0: INT is low while an enabled flag is set; 7.1: ICOD shows the highest-priority one
        self.start(NORMAL)
        self.write(CANINTE, RX0IF | TX0IF)
        self.assertEqual(self.intr.value(), 1)
        self.peer.send(0x100, b"\x01")
        self.run_us(500)
        self.assertEqual(self.intr.value(), 0)
        self.assertEqual(self.read(CANSTAT) & 0x0E, 6 << 1)  # 110 RXB0
        self.write(CANINTF, RX0IF | TX0IF | RX1IF)
        self.assertEqual(self.read(CANSTAT) & 0x0E, 3 << 1)  # 011 TXB0 beats RXB0
        self.write(CANINTF, RX1IF)  # not enabled: no INT, no ICOD
        self.assertEqual(self.intr.value(), 1)
        self.assertEqual(self.read(CANSTAT) & 0x0E, 0)
        self.bitmod(CANINTE, ERRIF, ERRIF)
        self.bitmod(CANINTF, ERRIF, ERRIF)
        self.assertEqual(self.intr.value(), 0)
        self.assertEqual(self.read(CANSTAT) & 0x0E, 1 << 1)  # 001 error

    def test_absent_and_stuck_chip(self):
        # no chip: the MISO line floats high and reads FFh
        self.chip.present = False
        self.assertEqual(self.xfer(READ, CANSTAT, 0, 0), b"\xff\xff\xff\xff")
        self.assertEqual(self.xfer(READ_STATUS, 0), b"\xff\xff")
        self.chip.present = True
        self.chip.stuck = 0x00
        self.assertEqual(self.xfer(READ, CANCTRL, 0), b"\x00\x00\x00")
        self.chip.stuck = None
        self.assertEqual(self.xfer(READ, CANCTRL, 0), b"\xff\xff\x87")

    def test_absent_chip_is_not_on_the_bus(self):
        self.start(NORMAL)
        self.chip.present = False
        self.peer.send(0x100, b"\x01")
        self.run_us(1000)
        self.assertEqual(self.bus.log, [])  # nobody acknowledged
        self.chip.present = True
        self.peer.send(0x101, b"\x02")
        self.run_us(1000)
        self.assertEqual([e[1] for e in self.bus.log], [0x101])

    def test_every_transaction_recorded(self):
        self.spi.clear_log()
        self.read(CANCTRL)
        self.xfer(0x81)
        self.assertEqual(self.spi.transactions, [(b"\x03\x0f\x00", b"\xff\xff\x87"), (b"\x81", b"\xff")])


if __name__ == "__main__":
    unittest.main()
