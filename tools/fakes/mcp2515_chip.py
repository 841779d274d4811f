"""MCP2515Chip: a register-level model of the Microchip MCP2515 stand-alone CAN controller.

A driver talks to it byte by byte through the fake SPI (fakes.machine.SPI) and its chip-select Pin;
it drives its INT pin (active low) and is a node on a fakes.canbus.VirtualCANBus. Section numbers
below refer to the datasheet DS20001801 (rev. J); "guess" marks behaviour the datasheet does not state.

    clock = VirtualClock(); bus = VirtualCANBus(clock, 500000)
    spi = SPI(1); cs = Pin(5, Pin.OUT, value=1); intr = Pin(4, Pin.IN, Pin.PULL_UP)
    chip = MCP2515Chip(clock, bus, crystal=8000000)
    chip.attach(spi, cs, intr)

Modelled:
- SPI instructions (Table 12-1): RESET, READ, WRITE (auto-increment), BIT MODIFY (only on the
  bit-modifiable registers of Table 11-1; elsewhere the mask is forced to 0xFF, 12.10), LOAD TX BUFFER
  (all six), READ RX BUFFER (all four; RXnIF cleared when CS rises), RTS, READ STATUS and RX STATUS
  (repeat while clocked). MISO is 0xFF while the chip does not drive it.
- Register map with reset values (Table 11-2), writable-bit masks (register descriptions: unimplemented
  bits read 0, read-only bits ignore writes), CANSTAT/CANCTRL mirrored at every xEh/xFh.
- Modes (10.0): REQOP -> OPMOD; a mode change waits until pending transmissions are complete;
  configuration mode clears the error counters and is the only mode that can write CNF1..3,
  TXRTSCTRL, filters and masks (10.1); sleep wakes into listen-only on bus activity (10.2, WAKIE);
  listen-only receives without ACK and never transmits (10.3); loopback returns frames into the RX
  buffers without the bus (10.4).
- Transmission (3.0): TXP priority, then the higher buffer number; setting TXREQ clears ABTF/MLOA/TXERR;
  TXnIF on success; MLOA on lost arbitration; ABAT aborts pending buffers with ABTF; clearing TXREQ
  aborts without ABTF; a frame already on the wire completes; OSM one-shot (ABTF set if it failed).
- Reception (4.0): RXB0 with RXF0/1 + RXM0, RXB1 with RXF2..5 + RXM1, RXM=11 receive any, standard and
  extended filters (EXIDE), data-byte filtering of standard frames in RXM=00, BUKT rollover with
  FILHIT, overflow (RXnOVR + ERRIF, frame lost) while RXnIF is set.
- Errors (6.0, CAN 2.0B fault confinement): TEC +8 per failed transmission, -1 per success; REC +1
  per receive error, -1 per good frame; EWARN/TXWAR/RXWAR at 96, TXEP/RXEP at 128, TXBO above 255;
  an error-passive transmitter whose only fault is a missing ACK does not increment TEC (so a node
  alone on a bus stops at TEC 128, error passive, and never goes bus-off); bus-off recovers by itself
  after 128 x 11 recessive bits (Figure 6-1) or when configuration mode clears the counters.
  MERRF on every error seen; ERRIF whenever an EFLG error-state bit changes or on overflow.
- Interrupts (7.0): flags are set whatever CANINTE says; INT is low while CANINTF & CANINTE != 0;
  ICOD reports the highest-priority enabled source; the MCU can set flags itself.
- Bit timing (5.0): the bit rate from CNF1..3 and the crystal; a chip whose rate differs from the bus
  by more than 1.5% cannot take part (its frames fail with bit errors, frames it sees count as errors).
- Faults: `present = False` (no chip: MISO floats 0xFF, not on the bus), `stuck = 0x00` (MISO stuck),
  no ACK (no other acking node, or bus.fault = "no_ack"), bus.fault = "bit_error", RX overflow
  (just do not read), inject_rx_errors(n).

Guesses (the datasheet is silent): unknown ('x') reset values are 0x00; addresses wrap at 0x80;
TXRTSCTRL pin bits read 0; LOAD TX BUFFER/READ RX BUFFER keep auto-incrementing past the buffer like
WRITE/READ; RXM=01/10 (rev. J: "reserved") act as older revisions say (standard-only / extended-only);
missing data bytes pass the data-byte filter; TEC reads 255 while bus-off; a TXREQ cleared during the
frame on the wire reads 1 until that frame ends; a failed one-shot frame sets ABTF and not TXnIF;
"pending transmissions" that hold a mode change are buffers with TXREQ that the chip is actually
trying to send (normal/loopback mode, not bus-off, ABAT clear), so a lone error-passive chip must be
aborted (ABAT) before it changes mode (set strict_mode_change = False to change at the frame end);
bus-off recovery counts idle time only; receive errors are not modelled per bit, only per frame;
a reset while the chip's frame is on the wire does not cut that frame short.
"""

from .canbus import (CAN_EFF_FLAG, CAN_EFF_MASK, CAN_RTR_FLAG, CAN_SFF_MASK, IFS_BITS, SUSPEND_BITS,
                     VirtualCANBus, frame_bits)

# --- SPI instructions (Table 12-1) ----------------------------------------------------------------
INS_RESET = 0xC0
INS_READ = 0x03
INS_WRITE = 0x02
INS_BIT_MODIFY = 0x05
INS_READ_RX_BUFFER = 0x90  # 1001 0nm0
INS_LOAD_TX_BUFFER = 0x40  # 0100 0abc
INS_RTS = 0x80  # 1000 0nnn
INS_READ_STATUS = 0xA0
INS_RX_STATUS = 0xB0

# --- registers (Table 11-1) -----------------------------------------------------------------------
RXF0SIDH = 0x00
RXF1SIDH = 0x04
RXF2SIDH = 0x08
BFPCTRL = 0x0C
TXRTSCTRL = 0x0D
CANSTAT = 0x0E
CANCTRL = 0x0F
RXF3SIDH = 0x10
RXF4SIDH = 0x14
RXF5SIDH = 0x18
TEC = 0x1C
REC = 0x1D
RXM0SIDH = 0x20
RXM1SIDH = 0x24
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
# offsets inside a TX/RX buffer block
O_SIDH = 1
O_SIDL = 2
O_EID8 = 3
O_EID0 = 4
O_DLC = 5
O_D0 = 6

FILTER_ADDR = (RXF0SIDH, RXF1SIDH, RXF2SIDH, RXF3SIDH, RXF4SIDH, RXF5SIDH)

# --- bits -------------------------------------------------------------------------------------------
# CANCTRL (Register 10-1)
REQOP_MASK = 0xE0
ABAT = 0x10
OSM = 0x08
CLKEN = 0x04
CLKPRE_MASK = 0x03
# modes (REQOP / OPMOD values)
MODE_NORMAL = 0
MODE_SLEEP = 1
MODE_LOOPBACK = 2
MODE_LISTEN_ONLY = 3
MODE_CONFIG = 4
# CANINTE / CANINTF (Registers 7-1, 7-2)
MERRF = 0x80
WAKIF = 0x40
ERRIF = 0x20
TX2IF = 0x10
TX1IF = 0x08
TX0IF = 0x04
RX1IF = 0x02
RX0IF = 0x01
# EFLG (Register 6-3)
RX1OVR = 0x80
RX0OVR = 0x40
TXBO = 0x20
TXEP = 0x10
RXEP = 0x08
TXWAR = 0x04
RXWAR = 0x02
EWARN = 0x01
# TXBnCTRL (Register 3-1)
ABTF = 0x40
MLOA = 0x20
TXERR = 0x10
TXREQ = 0x08
TXP_MASK = 0x03
# TXBnSIDL / RXBnSIDL
EXIDE = 0x08  # TX: extended id; RX: IDE
SRR = 0x10  # RX standard remote frame
# TXBnDLC / RXBnDLC
RTR = 0x40
# RXBnCTRL (Registers 4-1, 4-2)
RXM_MASK = 0x60
RXRTR = 0x08
BUKT = 0x04
BUKT1 = 0x02
FILHIT0 = 0x01
# CNF2 / CNF3 (Registers 5-2, 5-3)
BTLMODE = 0x80

# reset values that are not zero (Table 11-2)
CANCTRL_RESET = 0x87
CANSTAT_RESET = 0x80


def _build_tables():
    """Writable-bit masks, bit-modifiable registers and configuration-only registers (Table 11-1)."""
    wmask = bytearray(128)
    bitmod = bytearray(128)
    config_only = bytearray(128)
    for base in FILTER_ADDR:  # Register 4-4..4-7 style: SIDL bits 4 and 2 unimplemented
        wmask[base] = 0xFF
        wmask[base + 1] = 0xEB
        wmask[base + 2] = 0xFF
        wmask[base + 3] = 0xFF
        for k in range(4):
            config_only[base + k] = 1
    for base in (RXM0SIDH, RXM1SIDH):  # masks: SIDL bits 4..2 unimplemented
        wmask[base] = 0xFF
        wmask[base + 1] = 0xE3
        wmask[base + 2] = 0xFF
        wmask[base + 3] = 0xFF
        for k in range(4):
            config_only[base + k] = 1
    wmask[BFPCTRL] = 0x3F
    wmask[TXRTSCTRL] = 0x07  # BnRTS pin states are read-only
    config_only[TXRTSCTRL] = 1
    wmask[CNF3] = 0xC7
    wmask[CNF2] = 0xFF
    wmask[CNF1] = 0xFF
    for a in (CNF1, CNF2, CNF3):
        config_only[a] = 1
    wmask[CANINTE] = 0xFF
    wmask[CANINTF] = 0xFF
    wmask[EFLG] = 0xC0  # only the overflow flags are writable
    for n in range(3):
        base = TXB0CTRL + 16 * n
        wmask[base] = TXREQ | TXP_MASK
        wmask[base + O_SIDH] = 0xFF
        wmask[base + O_SIDL] = 0xEB
        wmask[base + O_EID8] = 0xFF
        wmask[base + O_EID0] = 0xFF
        wmask[base + O_DLC] = 0x4F
        for k in range(8):
            wmask[base + O_D0 + k] = 0xFF
        bitmod[base] = 1
    wmask[RXB0CTRL] = RXM_MASK | BUKT
    wmask[RXB1CTRL] = RXM_MASK
    for a in (BFPCTRL, TXRTSCTRL, CNF3, CNF2, CNF1, CANINTE, CANINTF, EFLG, RXB0CTRL, RXB1CTRL):
        bitmod[a] = 1
    for x in range(8):
        bitmod[x * 16 + 0x0E] = 1
        bitmod[x * 16 + 0x0F] = 1
    return wmask, bitmod, config_only


_WMASK, _BITMOD, _CONFIG_ONLY = _build_tables()


def _build_plain():
    """Registers whose WRITE is just a masked store: no side effect, no effect on INT or the pins."""
    plain = bytearray(128)
    for a in range(128):
        low = a & 0x0F
        if low == 0x0E or low == 0x0F or _CONFIG_ONLY[a]:
            continue
        if a in (TXB0CTRL, TXB1CTRL, TXB2CTRL, RXB0CTRL, CANINTE, CANINTF, BFPCTRL):
            continue
        plain[a] = 1
    return plain


_PLAIN = _build_plain()


def _build_runs():
    """Per address: how many registers from there on (not wrapping) a block WRITE can store as they come
    (plain, all 8 bits writable), and a block READ can copy as they are (not CANSTAT/CANCTRL or a mirror)."""
    ff = bytearray(129)
    rd = bytearray(129)
    for a in range(127, -1, -1):
        if _PLAIN[a] and _WMASK[a] == 0xFF:
            ff[a] = ff[a + 1] + 1
        if (a & 0x0F) < 0x0E:
            rd[a] = rd[a + 1] + 1
    return ff, rd


_FF_RUN, _RD_RUN = _build_runs()

# SPI decoder states
_S_IDLE = 0
_S_READ_ADDR = 1
_S_READ = 2
_S_WRITE_ADDR = 3
_S_WRITE = 4
_S_BM_ADDR = 5
_S_BM_MASK = 6
_S_BM_DATA = 7
_S_STATUS = 8
_S_RX_STATUS = 9
_S_DONE = 10

_BUSOFF_RECOVERY_BITS = 128 * 11


def is_bit_modifiable(addr):
    return bool(_BITMOD[addr & 0x7F])


_RXB_FILTERS = ((0, 1), (2, 3, 4, 5))  # the filters of RXB0 and of RXB1 (4.5)


class MCP2515Chip:
    def __init__(self, clock, bus=None, crystal=8000000, spi=None, cs=None, int_pin=None):
        self.clock = clock
        self.crystal = crystal
        if bus is None:
            bus = VirtualCANBus(clock)  # alone on a bus of its own: nobody acks
        self.bus = bus
        self.sender = self  # (the bus asks a transmitter whom its frames are from)
        self.regs = bytearray(128)
        self._present = True
        self.stuck = None  # e.g. 0x00: MISO stuck at that value
        self.ack_error_passive_exception = True  # CAN rule: no TEC increase for lone error-passive
        self.strict_mode_change = True  # see the module docstring
        self.int_pin = None
        self.rx0bf_pin = None
        self.rx1bf_pin = None
        # statistics for tests and the simulator
        self.frames_sent = 0
        self.frames_received = 0
        self.rx_overflows = 0
        self.rx_rejected = 0
        self.tx_errors = 0
        self._int_level = None
        self._timer = None
        self._timer_t = None
        self._timers_ok = hasattr(clock, "call_at")
        self._rate_key = -1  # _bitrate_ok() cache: CNF1..3, bus bit rate and crystal it was computed for
        self._rate_bus = 0
        self._rate_xtal = 0
        self._rate_ok = False
        self._gen = 0
        self._state = _S_IDLE
        self._ptr = 0
        self._bm_addr = 0
        self._bm_mask = 0
        self._rxb_clear = -1
        self._reset()
        bus.attach(self)
        if spi is not None and cs is not None:
            self.attach(spi, cs, int_pin)
        elif int_pin is not None:
            self.connect_int(int_pin)

    # --- wiring -------------------------------------------------------------------------------------
    def attach(self, spi, cs_pin, int_pin=None):
        spi.attach(self, cs_pin)
        if int_pin is not None:
            self.connect_int(int_pin)
        return self

    def connect_int(self, pin):
        self.int_pin = pin
        self._int_level = None
        self._update_int()

    # --- host-side view -------------------------------------------------------------------------------
    @property
    def present(self):
        """False: no chip (MISO floats high, nothing on the CAN bus, INT released)."""
        return self._present

    @present.setter
    def present(self, value):
        self._present = bool(value)
        self._update_int()
        if self._present:
            self._tx_requested()

    @property
    def mode(self):
        return self._opmode

    @property
    def tec(self):
        return self._tec

    @property
    def rec(self):
        return self._rec

    @property
    def bus_off(self):
        return self._bus_off

    @property
    def error_passive(self):
        return self._tec >= 128 or self._rec >= 128

    @property
    def int_level(self):
        return self._int_level

    def peek(self, addr):
        """Register value as READ would return it, without side effects."""
        return self._read(addr & 0x7F)

    def reset(self):
        """The RESET pin (same effect as the RESET instruction)."""
        self._reset()

    def inject_rx_errors(self, n=1):
        """n receive errors (REC += 1 each), e.g. a disturbed bus."""
        self._rec += n
        self.regs[CANINTF] |= MERRF
        self._update_error_flags()
        self._update_int()

    def bitrate(self):
        """Nominal bit rate configured by CNF1..3 and the crystal (5.0), in bit/s."""
        return self.crystal // self._clocks_per_bit()

    def poll(self):
        """Catch up with the bus and the chip's own events up to the clock's now."""
        now = self.clock.now_us
        self.bus.run_until(now)
        if self._bus_off or self._lb_cur >= 0 or self._timer_t is not None:
            self._advance_local(now)
            self._update_int()
            self._schedule_local()
        else:  # no local event pending and no timer armed: only INT may need to follow the registers
            self._update_int()

    # --- CAN-bus node interface ------------------------------------------------------------------------
    @property
    def acks(self):
        return (self._present and self._opmode == MODE_NORMAL and not self._bus_off
                and self._bitrate_ok())

    tx_error_kind = None  # (a wrong bit rate is reported with each candidate frame instead)

    def tx_candidate(self, t_us):
        if self._bus_off or self._lb_cur >= 0:  # (else no local event to catch up with)
            self._advance_local(t_us)
        if not (self._present and self._opmode == MODE_NORMAL and not self._bus_off
                and not self.regs[CANCTRL] & ABAT):  # _can_tx()
            return None
        n = self._pick_tx()
        if n < 0:
            return None
        self._offered = n
        frame = self._tx_frame(n)
        if self._bitrate_ok():
            return frame
        return frame[0], frame[1], "bit"  # off the bus's bit rate: what it sends is garbage to the others

    def tx_started(self, t_us):
        self._txing = self._offered
        self._txing_abort = False
        self._txing_gen = self._gen

    def tx_lost(self, t_us):
        n = self._offered
        if n < 0:
            return
        r = self.regs
        base = TXB0CTRL + 16 * n
        r[base] |= MLOA
        if r[CANCTRL] & OSM:  # one shot (Register 10-1 OSM): no second attempt
            r[base] = (r[base] & ~TXREQ) | ABTF
            self._try_mode_change()
        self._update_int()

    def tx_done(self, t_us, ok, kind):
        n = self._txing
        self._txing = -1
        if n < 0 or self._txing_gen != self._gen:
            return  # reset while the frame was on the wire
        r = self.regs
        base = TXB0CTRL + 16 * n
        ctrl = r[base]
        if ok:
            ctrl &= ~TXREQ
            r[CANINTF] |= TX0IF << n
            self.frames_sent += 1
            if self._tec > 0:
                self._tec -= 1
                counted = True
            else:
                counted = False  # no counter moved: the error flags stay as they are
        else:
            counted = True
            self.tx_errors += 1
            ctrl |= TXERR
            r[CANINTF] |= MERRF
            lone = kind == "ack" and self.error_passive and self.ack_error_passive_exception
            if not lone:
                self._tec += 8
            if self._tec > 255 and not self._bus_off:
                self._bus_off = True
                self._bo_recover_at = t_us + self.bus.bits_us(_BUSOFF_RECOVERY_BITS)
            ctl = r[CANCTRL]
            if ctl & (OSM | ABAT) or self._txing_abort:
                ctrl &= ~TXREQ
                if ctl & (OSM | ABAT):
                    ctrl |= ABTF
        r[base] = ctrl
        if counted:
            self._update_error_flags()
        t_next = self.bus._idle_at
        if self._tec >= 128 or self._rec >= 128:  # error passive
            t_next += self.bus.bits_us(SUSPEND_BITS)  # error-passive "suspend transmission"
        self._suspend_until = t_next
        if self._mode_pending:
            self._try_mode_change()
        self._bus_request(t_next)
        if (0 if (self._present and r[CANINTF] & r[CANINTE]) else 1) != self._int_level:
            self._update_int()
        if self._bus_off or self._lb_cur >= 0 or self._timer_t is not None:
            self._schedule_local()

    def on_frame(self, t_us, can_id, data, sender):
        if not self._present:
            return
        if self._bus_off or self._lb_cur >= 0:  # (else no local event to catch up with)
            self._advance_local(t_us)
        m = self._opmode
        if m == MODE_SLEEP:
            self._wake_attempt()
            return
        if (m != MODE_NORMAL and m != MODE_LISTEN_ONLY) or self._bus_off:
            return
        if not self._bitrate_ok():
            self._receive_error(m)
            return
        if m == MODE_NORMAL and self._rec:
            self._rec = 127 if self._rec > 127 else self._rec - 1
            self._update_error_flags()
        self._receive(can_id, data)
        self._update_int()

    def on_bus_error(self, t_us, can_id, kind, sender):
        if not self._present:
            return
        self._advance_local(t_us)
        m = self._opmode
        if m == MODE_SLEEP:
            self._wake_attempt()
        elif (m == MODE_NORMAL or m == MODE_LISTEN_ONLY) and not self._bus_off:
            self._receive_error(m)

    # --- SPI device interface ----------------------------------------------------------------------
    def begin(self):
        """CS fell: catch up with time (poll()), then decode a new instruction."""
        self._state = _S_IDLE
        self._rxb_clear = -1
        if self._present:
            bus = self.bus
            if self.clock.now_us >= bus._next_t:  # else the bus has nothing due (bus.run_until's fast path)
                bus.run_until(self.clock.now_us)
            if self._bus_off or self._lb_cur >= 0 or self._timer_t is not None:
                self._advance_local(self.clock.now_us)
                self._update_int()
                self._schedule_local()
            # else nothing local is due, and INT already follows the registers: every change of CANINTF,
            # CANINTE or `present` updates it (poll()'s _update_int() would do nothing)

    def end(self):
        """CS rose: READ RX BUFFER releases its buffer (Table 12-1 note)."""
        if self._rxb_clear >= 0:
            if self._present:
                self.regs[CANINTF] &= ~(RX0IF << self._rxb_clear)
                self._update_bf_pins()
                self._update_int()
            self._rxb_clear = -1
        self._state = _S_IDLE
        # (otherwise the instruction that ends here has updated INT already if it changed a flag)

    def exchange(self, b):
        if not self._present:
            return 0xFF
        out = self._step(b)
        return out if self.stuck is None else self.stuck

    def exchange_block(self, wbuf, rbuf, n):
        """n bytes of one transaction at once: rbuf[i] (if rbuf is not None) gets what exchange(wbuf[i])
        would return, with the same effects as n exchange() calls (the SPI block path)."""
        if self._state != _S_IDLE or n < 1 or not self._present or self.stuck is not None:
            self._exchange_rest(wbuf, rbuf, n, 0)
            return
        # A new instruction (the usual case): the frequent ones in one go.
        ins = wbuf[0] & 0xFF
        if ins == INS_READ_STATUS:
            self._state = _S_STATUS
            if rbuf is not None:
                rbuf[0] = 0xFF
                if n > 1:
                    v = self._read_status()  # repeats while clocked (nothing changes meanwhile)
                    i = 1
                    while i < n:
                        rbuf[i] = v
                        i += 1
            return
        if (ins & 0xF8) == INS_LOAD_TX_BUFFER and (ins & 0x07) <= 5:  # 0100 0abc
            base = TXB0CTRL + 16 * ((ins >> 1) & 3)
            ptr = base + (O_D0 if ins & 0x01 else O_SIDH)
            self._state = _S_WRITE
            m = n - 1
            if ptr + m > base + O_D0 + 8:  # past D7: the general path
                self._ptr = ptr
                if rbuf is not None:
                    rbuf[0] = 0xFF
                self._exchange_rest(wbuf, rbuf, n, 1)
                return
            # SIDH..D7 are plain registers (_PLAIN): store the bytes, then apply the writable-bit masks of
            # the two that have unimplemented bits (SIDL, DLC; the others take all 8 bits) as a WRITE would
            r = self.regs
            if ptr == base + O_D0:
                r[ptr:ptr + m] = wbuf[1:n]
            else:
                a = base + O_SIDL
                sidl = r[a]
                dlc = r[a + 3]
                r[ptr:ptr + m] = wbuf[1:n]
                if m > 1:
                    wm = _WMASK[a]
                    r[a] = (sidl & ~wm & 0xFF) | (r[a] & wm)
                if m > 4:
                    a += 3  # DLC
                    wm = _WMASK[a]
                    r[a] = (dlc & ~wm & 0xFF) | (r[a] & wm)
            self._ptr = (ptr + m) & 0x7F
            if rbuf is not None:
                i = 0
                while i < n:
                    rbuf[i] = 0xFF
                    i += 1
            return
        if (ins & 0xF9) == INS_READ_RX_BUFFER:  # 1001 0nm0
            k = (ins >> 2) & 1
            base = RXB0CTRL + 16 * k
            ptr = base + (O_D0 if ins & 0x02 else O_SIDH)
            self._rxb_clear = k
            self._state = _S_READ
            m = n - 1
            if rbuf is None:
                self._ptr = (ptr + m) & 0x7F
                return
            rbuf[0] = 0xFF
            if ptr + m <= base + O_D0 + 8:  # within SIDH..D7 (no CANSTAT/CANCTRL mirror): as they are
                rbuf[1:n] = self.regs[ptr:ptr + m]
                self._ptr = ptr + m
                return
            self._ptr = ptr
            self._exchange_rest(wbuf, rbuf, n, 1)
            return
        if (ins & 0xF8) == INS_RTS:
            self._rts(ins)
            if rbuf is not None:
                i = 0
                while i < n:
                    rbuf[i] = 0xFF
                    i += 1
            return
        self._instruction(ins)
        if rbuf is not None:
            rbuf[0] = 0xFF
        self._exchange_rest(wbuf, rbuf, n, 1)

    def _exchange_rest(self, wbuf, rbuf, n, i):
        """exchange_block() from byte i on, in whatever state the decoder is."""
        if not self._present:
            if rbuf is not None:
                while i < n:
                    rbuf[i] = 0xFF
                    i += 1
            return
        r = self.regs
        while i < n:
            st = self._state
            if st == _S_STATUS:  # READ STATUS repeats while clocked (nothing changes meanwhile)
                if rbuf is not None:
                    v = self._read_status()
                    while i < n:
                        rbuf[i] = v
                        i += 1
                break
            if st == _S_WRITE:  # WRITE / LOAD TX BUFFER: the rest of the buffer into the registers
                ptr = self._ptr
                while i < n:
                    k = _FF_RUN[ptr]  # plain registers taking all 8 bits from here on: a slice store
                    if k > 1:
                        if k > n - i:
                            k = n - i
                        r[ptr:ptr + k] = wbuf[i:i + k]
                        if rbuf is not None:
                            j = i
                            i += k
                            while j < i:
                                rbuf[j] = 0xFF
                                j += 1
                        else:
                            i += k
                        ptr = (ptr + k) & 0x7F
                        continue
                    b = wbuf[i] & 0xFF
                    if _PLAIN[ptr]:
                        wm = _WMASK[ptr]
                        r[ptr] = (r[ptr] & ~wm & 0xFF) | (b & wm)
                    else:
                        self._write(ptr, b, 0xFF)
                        self._update_int()
                    if rbuf is not None:
                        rbuf[i] = 0xFF
                    ptr = (ptr + 1) & 0x7F
                    i += 1
                self._ptr = ptr
                break
            if st == _S_READ:  # READ / READ RX BUFFER: the rest of the buffer from the registers
                ptr = self._ptr
                if rbuf is None:
                    self._ptr = (ptr + n - i) & 0x7F
                    break
                while i < n:
                    k = _RD_RUN[ptr]  # registers read as they are from here on: a slice copy
                    if k > 1:
                        if k > n - i:
                            k = n - i
                        rbuf[i:i + k] = r[ptr:ptr + k]
                        i += k
                        ptr = (ptr + k) & 0x7F
                        continue
                    low = ptr & 0x0F
                    if low == 0x0E:
                        v = self._canstat()
                    elif low == 0x0F:
                        v = r[CANCTRL]
                    else:
                        v = r[ptr]
                    rbuf[i] = v
                    ptr = (ptr + 1) & 0x7F
                    i += 1
                self._ptr = ptr
                break
            if st == _S_IDLE:
                self._instruction(wbuf[i] & 0xFF)
                if rbuf is not None:
                    rbuf[i] = 0xFF
                i += 1
                continue
            out = self._step(wbuf[i] & 0xFF)
            if rbuf is not None:
                rbuf[i] = out & 0xFF
            i += 1
        stuck = self.stuck
        if stuck is not None and rbuf is not None:
            stuck &= 0xFF
            i = 0
            while i < n:
                rbuf[i] = stuck
                i += 1

    def _step(self, b):
        st = self._state
        if st == _S_READ:
            out = self._read(self._ptr)
            self._ptr = (self._ptr + 1) & 0x7F
            return out
        if st == _S_WRITE:
            self._write(self._ptr, b, 0xFF)
            self._ptr = (self._ptr + 1) & 0x7F
            self._update_int()
            return 0xFF
        if st == _S_IDLE:
            self._instruction(b)
            return 0xFF
        if st == _S_READ_ADDR:
            self._ptr = b & 0x7F
            self._state = _S_READ
        elif st == _S_WRITE_ADDR:
            self._ptr = b & 0x7F
            self._state = _S_WRITE
        elif st == _S_BM_ADDR:
            self._bm_addr = b & 0x7F
            self._state = _S_BM_MASK
        elif st == _S_BM_MASK:
            self._bm_mask = b
            self._state = _S_BM_DATA
        elif st == _S_BM_DATA:
            a = self._bm_addr
            mask = self._bm_mask if _BITMOD[a] else 0xFF  # 12.10 note: mask forced to FFh
            self._write(a, b, mask)
            self._state = _S_DONE
            self._update_int()
        elif st == _S_STATUS:
            return self._read_status()
        elif st == _S_RX_STATUS:
            return self._rx_status()
        return 0xFF

    def _instruction(self, ins):
        # (the most frequent first; the tests are mutually exclusive)
        if ins == INS_READ_STATUS:
            self._state = _S_STATUS
        elif (ins & 0xF8) == INS_LOAD_TX_BUFFER and (ins & 0x07) <= 5:  # 0100 0abc
            n = (ins >> 1) & 3
            self._ptr = TXB0CTRL + 16 * n + (O_D0 if ins & 0x01 else O_SIDH)
            self._state = _S_WRITE
        elif (ins & 0xF9) == INS_READ_RX_BUFFER:  # 1001 0nm0
            n = (ins >> 2) & 1
            self._ptr = RXB0CTRL + 16 * n + (O_D0 if ins & 0x02 else O_SIDH)
            self._rxb_clear = n
            self._state = _S_READ
        elif ins == INS_READ:
            self._state = _S_READ_ADDR
        elif ins == INS_WRITE:
            self._state = _S_WRITE_ADDR
        elif ins == INS_BIT_MODIFY:
            self._state = _S_BM_ADDR
        elif ins == INS_RX_STATUS:
            self._state = _S_RX_STATUS
        elif (ins & 0xF8) == INS_RTS:  # 1000 0nnn
            self._rts(ins)
        elif ins == INS_RESET:
            self._reset()
            self._state = _S_DONE
        else:
            self._state = _S_DONE  # not an instruction: ignored until CS rises

    def _rts(self, ins):
        """REQUEST TO SEND 1000 0nnn: all the named buffers at once."""
        r = self.regs
        any_new = False
        n = 0
        while n < 3:
            if ins & (1 << n):
                ctrl = TXB0CTRL + 0x10 * n
                c = r[ctrl]
                if not c & TXREQ:
                    r[ctrl] = (c & ~(ABTF | MLOA | TXERR)) | TXREQ
                    any_new = True
                elif self._txing == n or self._lb_cur == n:
                    self._txing_abort = False
            n += 1
        if any_new:
            m = self._opmode  # _tx_requested()
            if m == MODE_NORMAL:
                self._bus_request()
            elif m == MODE_LOOPBACK:
                self._lb_kick(self.clock.now_us)
        self._state = _S_DONE
        if (0 if (self._present and r[CANINTF] & r[CANINTE]) else 1) != self._int_level:
            self._update_int()

    # --- registers ---------------------------------------------------------------------------------------
    def _read(self, a):
        low = a & 0x0F
        if low == 0x0E:
            return self._canstat()
        if low == 0x0F:
            return self.regs[CANCTRL]
        return self.regs[a]

    def _write(self, a, value, mask):
        low = a & 0x0F
        if low == 0x0E:
            return  # CANSTAT is read-only
        if low == 0x0F:
            self._write_canctrl(value, mask)
            return
        if _CONFIG_ONLY[a] and self._opmode != MODE_CONFIG:
            return  # 10.1: only writable in configuration mode
        wm = _WMASK[a] & mask
        if not wm:
            return
        r = self.regs
        old = r[a]
        new = (old & ~wm & 0xFF) | (value & wm)
        if (a & 0x0F) == 0 and TXB0CTRL <= a <= TXB2CTRL:  # TXBnCTRL
            self._write_txbctrl((a - TXB0CTRL) >> 4, old, new)
            return
        r[a] = new
        if a == RXB0CTRL:
            r[a] = (new & ~BUKT1) | (BUKT1 if new & BUKT else 0)  # BUKT1 mirrors BUKT
        elif a == CANINTF:
            if new & WAKIF and not old & WAKIF and self._opmode == MODE_SLEEP:
                self._wake_attempt()  # 10.2: the MCU can generate a wake-up
            self._update_bf_pins()
        elif a == BFPCTRL:
            self._update_bf_pins()

    def _write_txbctrl(self, n, old, new):
        r = self.regs
        base = TXB0CTRL + 16 * n
        in_progress = n == self._txing or n == self._lb_cur
        if new & TXREQ:
            if not old & TXREQ:
                new &= ~(ABTF | MLOA | TXERR)  # 3.0 (initiating transmission): cleared on TXREQ
            r[base] = new
            if in_progress:
                self._txing_abort = False
            self._tx_requested()
            return
        if old & TXREQ and in_progress:
            new |= TXREQ  # guess: the frame on the wire completes; aborted afterwards if it fails
            self._txing_abort = True
        r[base] = new
        if old & TXREQ:
            self._try_mode_change()

    def _write_canctrl(self, value, mask):
        r = self.regs
        old = r[CANCTRL]
        new = (old & ~mask & 0xFF) | (value & mask)
        r[CANCTRL] = new
        if new & ABAT and not old & ABAT:
            self._abort_all()
        elif old & ABAT and not new & ABAT:
            self._tx_requested()
        req = new >> 5
        self._mode_pending = req != self._opmode
        self._try_mode_change()

    def _canstat(self):
        pend = self.regs[CANINTF] & self.regs[CANINTE]
        icod = 0
        if pend:  # 7.1 / Table 7-1: lower code = higher priority; MERRF has no code
            if pend & ERRIF:
                icod = 1
            elif pend & WAKIF:
                icod = 2
            elif pend & TX0IF:
                icod = 3
            elif pend & TX1IF:
                icod = 4
            elif pend & TX2IF:
                icod = 5
            elif pend & RX0IF:
                icod = 6
            elif pend & RX1IF:
                icod = 7
        return (self._opmode << 5) | (icod << 1)

    def _read_status(self):
        """READ STATUS (Figure 12-8)."""
        r = self.regs
        f = r[CANINTF]
        s = f & (RX0IF | RX1IF)
        if r[TXB0CTRL] & TXREQ:
            s |= 0x04
        if f & TX0IF:
            s |= 0x08
        if r[TXB1CTRL] & TXREQ:
            s |= 0x10
        if f & TX1IF:
            s |= 0x20
        if r[TXB2CTRL] & TXREQ:
            s |= 0x40
        if f & TX2IF:
            s |= 0x80
        return s

    def _rx_status(self):
        """RX STATUS (Figure 12-9): buffers in 7..6, type in 4..3 and filter in 2..0 of RXB0 first."""
        r = self.regs
        f = r[CANINTF] & (RX0IF | RX1IF)
        s = f << 6
        if f & RX0IF:
            n = 0
        elif f & RX1IF:
            n = 1
        else:
            return s
        base = RXB0CTRL + 16 * n
        sidl = r[base + O_SIDL]
        if sidl & EXIDE:
            s |= 0x10
            if r[base + O_DLC] & RTR:
                s |= 0x08
        elif sidl & SRR:
            s |= 0x08
        if n == 0:
            s |= r[RXB0CTRL] & FILHIT0
        else:
            hit = r[RXB1CTRL] & 0x07
            s |= hit + 6 if hit < 2 else hit  # RXF0/RXF1 rolled over -> 110/111
        return s

    # --- reset and modes ---------------------------------------------------------------------------------
    def _reset(self):
        self._gen += 1
        r = self.regs
        for i in range(128):
            r[i] = 0
        r[CANCTRL] = CANCTRL_RESET
        r[CANSTAT] = CANSTAT_RESET
        self._opmode = MODE_CONFIG
        self._mode_pending = False
        self._tec = 0
        self._rec = 0
        self._bus_off = False
        self._bo_recover_at = 0
        self._offered = -1
        self._txing = -1
        self._txing_abort = False
        self._txing_gen = 0
        self._lb_cur = -1
        self._lb_end = 0
        self._lb_idle = 0
        self._lb_frame = None
        self._suspend_until = 0
        self._update_error_flags()
        self.regs[CANINTF] = 0
        self._update_int()
        self._update_bf_pins()
        self._schedule_local()

    def _tx_busy(self):
        if self._txing >= 0 or self._lb_cur >= 0:
            return True
        if not self.strict_mode_change:
            return False
        m = self._opmode
        if m != MODE_NORMAL and m != MODE_LOOPBACK:
            return False
        if self._bus_off or self.regs[CANCTRL] & ABAT or not self._present:
            return False
        return self._pick_tx() >= 0

    def _try_mode_change(self):
        if not self._mode_pending:
            return
        req = self.regs[CANCTRL] >> 5
        if req > MODE_CONFIG:  # "invalid, do not use": ignored (guess)
            self._mode_pending = False
            return
        if req == self._opmode:
            self._mode_pending = False
            return
        if self._tx_busy():
            return  # 10.0: not until pending transmissions are complete
        self._enter_mode(req)

    def _enter_mode(self, new):
        self._opmode = new
        self._mode_pending = False
        if new == MODE_CONFIG:  # 10.1: error counters cleared
            self._tec = 0
            self._rec = 0
            self._bus_off = False
            self._suspend_until = 0
            self._update_error_flags()
        elif new == MODE_NORMAL:
            self._bus_request()
        elif new == MODE_LOOPBACK:
            self._lb_kick(self.clock.now_us)
        self._update_int()
        self._schedule_local()

    def _wake_attempt(self):
        """Bus activity (or the MCU setting WAKIF) in sleep mode (10.2)."""
        r = self.regs
        if r[CANINTE] & WAKIF:
            r[CANINTF] |= WAKIF
            self._opmode = MODE_LISTEN_ONLY  # wakes up into listen-only; the frame is lost
            self._update_int()

    # --- transmission ------------------------------------------------------------------------------------
    def _can_tx(self):
        return (self._present and self._opmode == MODE_NORMAL and not self._bus_off
                and not self.regs[CANCTRL] & ABAT)

    def _pick_tx(self):
        """Pending buffer to send next: highest TXP, then highest buffer number (3.2)."""
        r = self.regs
        best = -1
        best_p = -1
        ctrl = r[TXB0CTRL]
        if ctrl & TXREQ:
            best = 0
            best_p = ctrl & TXP_MASK
        ctrl = r[TXB1CTRL]
        if ctrl & TXREQ and (ctrl & TXP_MASK) >= best_p:
            best = 1
            best_p = ctrl & TXP_MASK
        ctrl = r[TXB2CTRL]
        if ctrl & TXREQ and (ctrl & TXP_MASK) >= best_p:
            best = 2
        return best

    def _tx_frame(self, n):
        r = self.regs
        base = TXB0CTRL + 16 * n
        sidh = r[base + O_SIDH]
        sidl = r[base + O_SIDL]
        sid = (sidh << 3) | (sidl >> 5)
        if sidl & EXIDE:
            can_id = CAN_EFF_FLAG | (sid << 18) | ((sidl & 0x03) << 16) | (r[base + O_EID8] << 8) | r[base + O_EID0]
        else:
            can_id = sid
        dlcreg = r[base + O_DLC]
        dlc = dlcreg & 0x0F
        if dlc > 8:
            dlc = 8  # Register 3-7 note: only 8 bytes are transmitted
        if dlcreg & RTR:
            return can_id | CAN_RTR_FLAG, bytes(dlc)
        return can_id, bytes(r[base + O_D0: base + O_D0 + dlc])

    def _tx_requested(self):
        m = self._opmode
        if m == MODE_NORMAL:
            self._bus_request()
        elif m == MODE_LOOPBACK:
            self._lb_kick(self.clock.now_us)

    def _bus_request(self, t_us=None):
        r = self.regs
        if not self._present or self._opmode != MODE_NORMAL:
            return
        if not (r[TXB0CTRL] | r[TXB1CTRL] | r[TXB2CTRL]) & TXREQ:  # nothing pending (_pick_tx() < 0)
            return
        if r[CANCTRL] & ABAT:
            return
        if t_us is None:
            t_us = self.clock.now_us
        if self._suspend_until > t_us:
            t_us = self._suspend_until
        if self._bus_off and self._bo_recover_at > t_us:
            t_us = self._bo_recover_at
        self.bus.request(self, t_us)

    def _abort_all(self):
        """CANCTRL.ABAT (3.4): pending buffers aborted with ABTF; the frame on the wire finishes."""
        r = self.regs
        for n in range(3):
            base = TXB0CTRL + 16 * n
            if r[base] & TXREQ:
                if n == self._txing or n == self._lb_cur:
                    self._txing_abort = True
                else:
                    r[base] = (r[base] & ~TXREQ) | ABTF
        self._try_mode_change()

    # --- loopback (10.4) ---------------------------------------------------------------------------------
    def _lb_kick(self, t_us):
        if self._lb_cur >= 0 or self._opmode != MODE_LOOPBACK or not self._present:
            return
        if self.regs[CANCTRL] & ABAT:
            return
        n = self._pick_tx()
        if n < 0:
            return
        frame = self._tx_frame(n)
        start = t_us if t_us > self._lb_idle else self._lb_idle
        self._lb_cur = n
        self._lb_frame = frame
        self._lb_end = start + self._chip_bits_us(frame_bits(frame[0], frame[1]))
        self._schedule_local()

    def _lb_finish(self):
        n = self._lb_cur
        t = self._lb_end
        can_id, data = self._lb_frame
        self._lb_cur = -1
        self._lb_frame = None
        self._lb_idle = t + self._chip_bits_us(IFS_BITS)
        r = self.regs
        base = TXB0CTRL + 16 * n
        r[base] &= ~TXREQ  # the ACK is ignored in loopback: always a success
        r[CANINTF] |= TX0IF << n
        self.frames_sent += 1
        self._receive(can_id, data)
        self._try_mode_change()
        self._lb_kick(self._lb_idle)
        self._update_int()

    def _chip_bits_us(self, nbits):
        cpb = self._clocks_per_bit()
        return (nbits * cpb * 1000000 + (self.crystal >> 1)) // self.crystal

    # --- reception (4.0) ---------------------------------------------------------------------------------
    def _receive(self, can_id, data):
        r = self.regs
        flags = r[CANINTF]
        hit = self._filter_hit(0, can_id, data)
        if hit >= 0:
            if not flags & RX0IF:
                self._store(0, can_id, data, hit)
            elif r[RXB0CTRL] & BUKT:  # 4.2.1 rollover, whatever RXB1's own filters say
                if not flags & RX1IF:
                    self._store(1, can_id, data, hit)
                else:
                    self._overflow(RX1OVR)
            else:
                self._overflow(RX0OVR)
            return
        hit = self._filter_hit(1, can_id, data)
        if hit >= 0:
            if not flags & RX1IF:
                self._store(1, can_id, data, hit)
            else:
                self._overflow(RX1OVR)
            return
        self.rx_rejected += 1

    def _overflow(self, bit):
        r = self.regs
        r[EFLG] |= bit  # 7.6.1: the message is lost, the MCU clears the flag
        r[CANINTF] |= ERRIF
        self.rx_overflows += 1

    def _filter_hit(self, n, can_id, data):
        """Number of the filter of RXBn that accepts the frame, or -1."""
        r = self.regs
        rxm = (r[RXB0CTRL + 16 * n] >> 5) & 3
        filters = _RXB_FILTERS[n]
        mask = RXM0SIDH if n == 0 else RXM1SIDH
        for f in filters:
            if rxm == 3 or self._match(FILTER_ADDR[f], mask, can_id, data, rxm):
                if rxm == 3:  # receive any: report a filter that matches if one does (guess)
                    for g in filters:
                        if self._match(FILTER_ADDR[g], mask, can_id, data, 0):
                            return g
                return f
        return -1

    def _match(self, fa, ma, can_id, data, rxm):
        r = self.regs
        fsidl = r[fa + 1]
        msidl = r[ma + 1]
        fsid = (r[fa] << 3) | (fsidl >> 5)
        msid = (r[ma] << 3) | (msidl >> 5)
        if can_id & CAN_EFF_FLAG:
            if rxm == 1 or not fsidl & EXIDE:  # EXIDE=1 filters only extended frames
                return False
            fid = (fsid << 18) | ((fsidl & 0x03) << 16) | (r[fa + 2] << 8) | r[fa + 3]
            mid = (msid << 18) | ((msidl & 0x03) << 16) | (r[ma + 2] << 8) | r[ma + 3]
            return (((can_id & CAN_EFF_MASK) ^ fid) & mid) == 0
        if rxm == 2 or fsidl & EXIDE:
            return False
        if ((can_id & CAN_SFF_MASK) ^ fsid) & msid:
            return False
        if rxm == 0 and not can_id & CAN_RTR_FLAG:  # EID8/EID0 filter data bytes 0 and 1
            if len(data) > 0 and (data[0] ^ r[fa + 2]) & r[ma + 2]:
                return False
            if len(data) > 1 and (data[1] ^ r[fa + 3]) & r[ma + 3]:
                return False
        return True

    def _store(self, n, can_id, data, hit):
        r = self.regs
        base = RXB0CTRL + 16 * n
        rtr = can_id & CAN_RTR_FLAG
        dlc = len(data)
        if dlc > 8:
            dlc = 8
        if can_id & CAN_EFF_FLAG:
            i = can_id & CAN_EFF_MASK
            sid = i >> 18
            r[base + O_SIDH] = sid >> 3
            r[base + O_SIDL] = ((sid & 7) << 5) | EXIDE | ((i >> 16) & 0x03)
            r[base + O_EID8] = (i >> 8) & 0xFF
            r[base + O_EID0] = i & 0xFF
            r[base + O_DLC] = (RTR if rtr else 0) | dlc
        else:
            sid = can_id & CAN_SFF_MASK
            r[base + O_SIDH] = sid >> 3
            r[base + O_SIDL] = ((sid & 7) << 5) | (SRR if rtr else 0)
            r[base + O_EID8] = 0
            r[base + O_EID0] = 0
            r[base + O_DLC] = dlc
        if not rtr:
            r[base + O_D0:base + O_D0 + dlc] = data[:dlc]
        ctrl = r[base] & (RXM_MASK | BUKT | BUKT1 if n == 0 else RXM_MASK)  # RXB1: 2..0 are FILHIT
        if rtr:
            ctrl |= RXRTR
        ctrl |= hit if n == 1 else hit & FILHIT0
        r[base] = ctrl
        r[CANINTF] |= RX0IF << n
        self.frames_received += 1
        self._update_bf_pins()

    def _receive_error(self, mode):
        self.regs[CANINTF] |= MERRF
        if mode == MODE_NORMAL:
            self._rec += 1
            self._update_error_flags()
        self._update_int()

    # --- errors (6.0) ------------------------------------------------------------------------------------
    def _update_error_flags(self):
        r = self.regs
        tec = self._tec
        rec = self._rec
        e = r[EFLG] & (RX1OVR | RX0OVR)
        if tec >= 96 or rec >= 96:
            e |= EWARN
        if rec >= 96:
            e |= RXWAR
        if tec >= 96:
            e |= TXWAR
        if rec >= 128:
            e |= RXEP
        if tec >= 128:
            e |= TXEP
        if self._bus_off:
            e |= TXBO
        if (e ^ r[EFLG]) & 0x3F:
            r[CANINTF] |= ERRIF  # 7.6: the error state changed
        r[EFLG] = e
        r[TEC] = 255 if tec > 255 else tec
        r[REC] = 255 if rec > 255 else rec

    def _recover_bus_off(self):
        self._bus_off = False
        self._tec = 0
        self._rec = 0
        self._update_error_flags()
        self._try_mode_change()
        self._bus_request(self._bo_recover_at)
        self._update_int()

    def _bitrate_ok(self):
        """Within 1.5% of the bus bit rate (a CAN node tolerates about that much)."""
        r = self.regs
        bus_rate = self.bus.bitrate
        crystal = self.crystal
        key = (r[CNF1] << 16) | (r[CNF2] << 8) | r[CNF3]
        if key == self._rate_key and bus_rate == self._rate_bus and crystal == self._rate_xtal:
            return self._rate_ok
        err = crystal - bus_rate * self._clocks_per_bit()
        if err < 0:
            err = -err
        ok = err * 1000 <= 15 * crystal
        self._rate_key = key
        self._rate_bus = bus_rate
        self._rate_xtal = crystal
        self._rate_ok = ok
        return ok

    def _clocks_per_bit(self):
        r = self.regs
        brp = r[CNF1] & 0x3F
        cnf2 = r[CNF2]
        prseg = (cnf2 & 0x07) + 1
        ps1 = ((cnf2 >> 3) & 0x07) + 1
        if cnf2 & BTLMODE:
            ps2 = (r[CNF3] & 0x07) + 1
        else:
            ps2 = ps1 if ps1 > 2 else 2  # PS2 = max(PS1, IPT = 2 TQ)
        return 2 * (brp + 1) * (1 + prseg + ps1 + ps2)

    # --- time --------------------------------------------------------------------------------------------
    def _next_local_event(self):
        t = None
        if self._bus_off:
            t = self._bo_recover_at
        if self._lb_cur >= 0 and (t is None or self._lb_end < t):
            t = self._lb_end
        return t

    def _advance_local(self, t_us):
        while True:
            te = self._next_local_event()
            if te is None or te > t_us:
                return
            if self._bus_off and self._bo_recover_at == te:
                self._recover_bus_off()
            else:
                self._lb_finish()

    def _schedule_local(self):
        if not self._timers_ok:
            return
        t = self._next_local_event()
        if t == self._timer_t:
            return
        clock = self.clock
        clock.cancel(self._timer)
        self._timer = None
        self._timer_t = t
        if t is not None:
            self._timer = clock.call_at(t, self._on_timer)

    def _on_timer(self):
        self._timer = None
        self._timer_t = None
        self.poll()

    # --- pins --------------------------------------------------------------------------------------------
    def _update_int(self):
        r = self.regs
        level = 0 if (self._present and r[CANINTF] & r[CANINTE]) else 1
        if level != self._int_level:
            self._int_level = level
            pin = self.int_pin
            if pin is not None:
                pin.drive(level)

    def _update_bf_pins(self):
        """RX0BF/RX1BF (4.4): buffer-full interrupt pins or digital outputs per BFPCTRL."""
        if self.rx0bf_pin is None and self.rx1bf_pin is None:
            return
        r = self.regs
        b = r[BFPCTRL]
        for n in range(2):
            pin = self.rx0bf_pin if n == 0 else self.rx1bf_pin
            if pin is None:
                continue
            if not b & (0x04 << n):  # BnBFE: pin disabled (high impedance)
                pin.drive(None)
            elif b & (0x01 << n):  # BnBFM: interrupt when RXBn is full
                pin.drive(0 if r[CANINTF] & (RX0IF << n) else 1)
            else:  # digital output, level BnBFS
                pin.drive(1 if b & (0x10 << n) else 0)

    def __repr__(self):
        return "<MCP2515Chip mode=%d tec=%d rec=%d>" % (self._opmode, self._tec, self._rec)
