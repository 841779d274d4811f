"""MCP2515 CAN controller driver, at the SPI-instruction level.

Written for leafvcu. It knows CAN (ids, data, bit timing, error states), not the Leaf.
Runs on MicroPython 1.2x and CPython 3.11 (tests drive it through a fake SPI bus and a
register-level chip model). Datasheet: Microchip DS20001801 ("MCP2515 Stand-Alone CAN
Controller with SPI Interface"); section numbers below refer to it.

Steady-state send and receive allocate nothing: every SPI transaction uses a
preallocated bytearray (or a memoryview made once in __init__), one CS-low..CS-high
transaction per instruction, one `spi.write`/`spi.write_readinto` call inside it.

API (the contract with the rest of the firmware)
-------------------------------------------------
    MCP2515(spi, cs, clock=None)
        spi: machine.SPI (mode 0,0, <= 10 MHz), cs: output Pin, clock: anything with
        the MicroPython `time` API (default: the time module).
    init(bitrate=500_000, crystal=8_000_000, mode=NORMAL)
        RESET, wait, verify configuration mode, bit timing, interrupts, accept-all,
        requested mode. Raises MCP2515Error naming the likely wiring fault when the
        chip does not answer, ValueError for an impossible bitrate/crystal pair.
    set_mode(mode)                 NORMAL / LISTEN_ONLY / LOOPBACK / CONFIG (bounded wait)
    reset()                        RESET + wait + CANSTAT check only
    bit_timing(bitrate, crystal)   module function -> (cnf1, cnf2, cnf3)
    read_status() / rx_status()    the two quick-poll instructions, one status byte each
    read_register(a) / read_registers(a, n) / write_register(a, *v) / bit_modify(a, m, v)
                                   raw access (read_registers/write_register allocate:
                                   configuration and diagnostics only)

  filters (standard 11-bit ids; the chip goes through configuration mode and back)
    set_filters(ids)               admit exactly `ids` (or the smallest superset the
                                   2 masks x 6 filters can express); None = accept all
    accept_all()                   masks/filters off (also extended frames)
    set_filter(n, can_id, ext=False) / set_mask(n, mask, ext=False)   raw registers
    plan_filters(ids)              module function: the masks/filters set_filters() writes

  transmit (3 buffers: TXB0, TXB1, TXB2)
    pin(txb, can_id, dlc, ext=False)  reserve a buffer for a periodic frame; id and DLC
                                   are written once (setup-time call: it cancels a
                                   pending request of that buffer and allocates)
    unpin(txb)
    send_pinned(txb, data) -> bool READ STATUS, LOAD TX BUFFER at the data bytes, RTS
    tx_begin() / tx_load(txb, data) -> bool / tx_commit() -> mask
                                   batch: one READ STATUS, data-only loads, ONE RTS
                                   for all loaded buffers
    tx_frame(can_id, data, dlc) -> bool
                                   in a batch: a whole frame into a free (or lent)
                                   buffer, sent by the same RTS
    send(can_id, data, dlc=None, ext=False, rtr=False) -> bool
                                   unpinned buffer: id+DLC+data in one LOAD TX BUFFER;
                                   with every buffer pinned, it borrows an idle pinned
                                   one (borrow_pinned, default on): that buffer's next
                                   tx_load() loads header + data (14 bytes, not 9)
    abort_all()                    ABAT: drop every pending transmission
    A busy buffer never blocks: the call returns False and counts it.

  receive
    recv_into(buf) -> id or -1     copies the data to buf[0:rx_dlc]; rx_dlc, rx_ext,
                                   rx_rtr describe the frame
    recv() -> id or -1             zero-copy: rx_data is a memoryview of exactly
                                   rx_dlc bytes, valid until the next receive
    drain(callback, max_frames=16) -> n
                                   empties both RX buffers, callback(can_id, data_mv)
                                   per frame, then services error flags if INT stays low
    attach_irq(int_pin)            INT (active low) falling edge -> irq_pending = True,
                                   then irq_hook() if set (e.g. ThreadSafeFlag.set)
    irq_pending                    set by the IRQ handler, cleared by drain()
    tap                            None, or tap(can_id, data, dlc, tx) called for every frame
                                   loaded for sending (tx 1) and every frame read out (tx 0);
                                   extended ids carry bit 29, as send() takes them (a recorder)
    Without an INT pin, poll: drain() for frames and service_errors() (e.g. every 100 ms)
    for overflow/error-passive/bus-off; with one, drain() services errors by itself.

  errors
    read_errors()                  fills tec, rec, canintf, eflg, error_warning,
                                   error_passive, bus_off (2 READs, 8 SPI bytes)
    service_errors() -> eflg       read_errors + count RX overflows (and clear them),
                                   error-passive / bus-off transitions, clear ERRIF,
                                   recover from bus-off (auto_recover)
    recover()                      bus-off recovery via configuration mode (clears TEC/REC)
    auto_recover, bus_off_wait_ms  service_errors() calls recover() when bus-off outlasts
                                   bus_off_wait_ms (default 128 x 11 bit times + 1 ms: the
                                   chip normally recovers by itself within that time)
    stats                          Stats object: plain int counters (see class Stats)

SPI cost (8-byte frames; bytes include the instruction byte):
    send_pinned          READ STATUS 2 + LOAD TX data 9 + RTS 1   = 12 bytes, 3 transactions
    3 pinned in a batch  2 + 3 x 9 + 1                            = 30 bytes, 5 transactions
    send (unpinned)      READ STATUS 2 + LOAD TX SIDH 14 + RTS 1  = 17 bytes, 3 transactions
    receive              READ STATUS 2 + READ RX BUFFER 14        = 16 bytes, 2 transactions
                         (+ 2 bytes for the final "nothing left" status per drain)
"""

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x


class MCP2515Error(Exception):
    """The chip did not answer or did not do what it was told (wiring, power, crystal)."""


# --- operating modes: REQOP/OPMOD values, CANCTRL/CANSTAT bits 7:5 (section 10) -------
NORMAL = const(0x00)
SLEEP = const(0x20)
LOOPBACK = const(0x40)
LISTEN_ONLY = const(0x60)
CONFIG = const(0x80)
_MODE_MASK = const(0xE0)

# --- SPI instructions (table 12-1) -----------------------------------------------------
_I_RESET = const(0xC0)
_I_READ = const(0x03)
_I_WRITE = const(0x02)
_I_BIT_MODIFY = const(0x05)
_I_READ_STATUS = const(0xA0)
_I_RX_STATUS = const(0xB0)
_RXS_W = bytes((_I_RX_STATUS, 0))   # RX STATUS: the instruction and a dummy byte (a module constant: one
                                     # attribute less in the driver's table, tests/test_instance_maps.py)
_I_READ_RXB0 = const(0x90)      # READ RX BUFFER at RXB0SIDH; +0x04 for RXB1SIDH
_I_READ_RXB1 = const(0x94)
_I_LOAD_TXB0_SIDH = const(0x40)  # LOAD TX BUFFER: 0x40/0x42/0x44 at SIDH, 0x41/0x43/0x45 at D0
_I_RTS = const(0x80)            # | 1 << txb, bits combinable (0x87 = all three)

# --- registers (section 11, table 11-1) ------------------------------------------------
_R_RXF0 = const(0x00)           # RXF0..2 at 0x00/0x04/0x08, RXF3..5 at 0x10/0x14/0x18
_R_CANSTAT = const(0x0E)
_R_CANCTRL = const(0x0F)
_R_TEC = const(0x1C)            # REC follows at 0x1D
_R_RXM0 = const(0x20)           # RXM1 at 0x24
_R_CNF3 = const(0x28)           # CNF3, CNF2, CNF1, CANINTE, CANINTF are consecutive
_R_CANINTE = const(0x2B)
_R_CANINTF = const(0x2C)        # EFLG follows at 0x2D
_R_EFLG = const(0x2D)
_R_TXB0CTRL = const(0x30)       # TXB1CTRL 0x40, TXB2CTRL 0x50
_R_RXB0CTRL = const(0x60)
_R_RXB1CTRL = const(0x70)

# CANCTRL
_ABAT = const(0x10)
# CANINTE / CANINTF bits
_MERRF = const(0x80)
_ERRIF = const(0x20)
_RX1IF = const(0x02)
_RX0IF = const(0x01)
# EFLG bits (register 6-3)
_RX1OVR = const(0x80)
_RX0OVR = const(0x40)
_TXBO = const(0x20)
_TXEP = const(0x10)
_RXEP = const(0x08)
_EWARN = const(0x01)
# TXBnCTRL
_TXREQ = const(0x08)
# RXBnCTRL: RXM = 11 turns masks/filters off; BUKT lets RXB0 roll over into RXB1
_RXM_OFF = const(0x60)
_BUKT = const(0x04)
# TXBnSIDL / RXBnSIDL
_EXIDE = const(0x08)
_SRR = const(0x10)
_DLC_RTR = const(0x40)
_ID_EXT = const(0x20000000)   # send(): extended-id flag carried in the id (bit 29: a small int)

# What INT reports: both receive buffers and EFLG changes. TX-complete interrupts stay
# off (the TXREQ bits in READ STATUS tell everything the send path needs), and so does
# MERRE: on a bus without ACK it would assert INT on every retransmission.
_INT_ENABLE = const(0x23)       # RX0IE | RX1IE | ERRIE

_RESET_WAIT_MS = const(2)       # OST is 128 OSC1 cycles (16 us at 8 MHz); a powering-up
                                # crystal needs longer, hence ms and then polling
_RESET_POLLS = const(10)        # CANSTAT polls after RESET, 1 ms apart
_MODE_POLLS = const(50)         # mode change polls, 100 us apart (5 ms > one 125k frame)
_MODE_POLL_US = const(100)
_STD_MASK = const(0x7FF)

# READ STATUS (figure 12-8): bit 2/4/6 = TXREQ of TXB0/1/2, bits 0/1 = RX0IF/RX1IF.
_ST_TXREQ = b"\x04\x10\x40"
# LOAD TX BUFFER "at D0" instruction per buffer.
_LOAD_DATA = b"\x41\x43\x45"
_LOWEST = b"\x00\x00\x01\x00\x02\x00\x01\x00"  # the lowest set bit of a non-zero 3-bit mask
_COUNT = b"\x00\x01\x01\x02\x01\x02\x02\x03"   # the set bits of a 3-bit mask
_DLC_OF = b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x08\x08\x08\x08\x08\x08\x08"  # DLC field -> data bytes (9..15: 8)
# READ STATUS >> 2 -> its TXREQ0..2 bits (status bits 2/4/6) as a 3-bit mask of buffers: one lookup in place of
# five shifts and masks on every status read.
_TXREQ_OF = (
    b"\x00\x01\x00\x01\x02\x03\x02\x03\x00\x01\x00\x01\x02\x03\x02\x03"
    b"\x04\x05\x04\x05\x06\x07\x06\x07\x04\x05\x04\x05\x06\x07\x06\x07"
    b"\x00\x01\x00\x01\x02\x03\x02\x03\x00\x01\x00\x01\x02\x03\x02\x03"
    b"\x04\x05\x04\x05\x06\x07\x06\x07\x04\x05\x04\x05\x06\x07\x06\x07"
)
# Register address of RXM0, RXM1, RXF0..RXF5 (4 bytes each: SIDH SIDL EID8 EID0).
_FILTER_REGS = (0x20, 0x24, 0x00, 0x04, 0x08, 0x10, 0x14, 0x18)


def _discard(can_id, data):
    # drain() without a callback: the frame is dropped.
    pass


def _ticks_fallback():
    # CPython: a small stand-in for the MicroPython time API (ticks wrap like MicroPython's).
    import time as _t

    class _HostClock:
        _PERIOD = 1 << 30

        def ticks_ms(self):
            return int(_t.monotonic() * 1000) & (self._PERIOD - 1)

        def ticks_us(self):
            return int(_t.monotonic() * 1000000) & (self._PERIOD - 1)

        def ticks_add(self, a, b):
            return (a + b) & (self._PERIOD - 1)

        def ticks_diff(self, a, b):
            d = (a - b) & (self._PERIOD - 1)
            return d - self._PERIOD if d >= (self._PERIOD >> 1) else d

        def sleep_ms(self, n):
            _t.sleep(n / 1000)

        def sleep_us(self, n):
            _t.sleep(n / 1000000)

    return _HostClock()


def _default_clock():
    import time
    if hasattr(time, "ticks_ms") and hasattr(time, "sleep_us"):
        return time
    return _ticks_fallback()


def bit_timing(bitrate, crystal):
    """(CNF1, CNF2, CNF3) for `bitrate` bit/s with a `crystal` Hz oscillator.

    Datasheet section 5: TQ = 2 * (BRP + 1) / Fosc, BRP 0..63; bit time =
    SyncSeg (1 TQ) + PropSeg (1..8) + PS1 (1..8) + PS2 (2..8); PropSeg + PS1 >= PS2;
    PS2 > SJW. So a bit needs 5..25 TQ. We take the smallest BRP (finest TQ) that gives
    an integer number of TQ <= 25, put the sample point at round(80 %) of the bit
    (between CiA's 87.5 % and the 75 % that 8 TQ allows) and SJW = 1 TQ (crystals on
    every node; the datasheet's own example says SJW 1 is usually enough).

    1000 kbit/s with an 8 MHz crystal is refused: the shortest TQ is 2/Fosc = 250 ns,
    4 TQ per bit, below the 5 the segment rules need (tables that offer it break the
    PS2 >= 2 TQ rule).
    """
    bitrate = int(bitrate)
    crystal = int(crystal)
    if bitrate <= 0 or crystal <= 0:
        raise ValueError("bitrate and crystal must be positive")
    brp = 0
    while brp < 64:
        div = 2 * (brp + 1) * bitrate
        if crystal % div == 0 and crystal // div <= 25:
            break
        brp += 1
    else:
        raise ValueError("no CNF1 prescaler gives %d bit/s from a %d Hz crystal" % (bitrate, crystal))
    ntq = crystal // div
    if ntq < 5:
        raise ValueError(
            "%d bit/s with a %d Hz crystal: only %d TQ per bit (TQ >= 2/Fosc), the MCP2515 needs >= 5;"
            " use a 16 or 20 MHz crystal or a lower bitrate" % (bitrate, crystal, ntq))
    sample = (ntq * 8 + 5) // 10          # TQ up to the sample point, SyncSeg included
    if ntq - sample < 2:
        sample = ntq - 2                  # PS2 >= 2 TQ (information processing time)
    if sample - 1 > 16:
        sample = 17                       # PropSeg and PS1 are 8 TQ at most
    ps2 = ntq - sample
    before = sample - 1                   # PropSeg + PS1
    ps1 = (before + 1) // 2
    prop = before - ps1
    sjw = 1
    if not (1 <= prop <= 8 and 1 <= ps1 <= 8 and 2 <= ps2 <= 8 and prop + ps1 >= ps2 and ps2 > sjw):
        raise ValueError("no valid segment split for %d TQ per bit" % ntq)
    cnf1 = ((sjw - 1) << 6) | brp
    cnf2 = 0x80 | ((ps1 - 1) << 3) | (prop - 1)   # BTLMODE=1: PS2 from CNF3; SAM=0
    cnf3 = ps2 - 1                                 # SOF=0, WAKFIL=0
    return cnf1, cnf2, cnf3


def _plan_group(ids, slots):
    # One mask shared by `slots` filters. Start exact (mask 0x7FF) and, while more
    # distinct masked values remain than filters, drop the mask bit that merges most.
    m = _STD_MASK
    while True:
        vals = sorted(set(i & m for i in ids))
        if len(vals) <= slots:
            return m, vals
        best = None
        best_n = 0
        b = 0
        while b < 11:
            bit = 1 << b
            if m & bit:
                m2 = m & ~bit
                n = len(set(i & m2 for i in ids))
                if best is None or n < best_n:
                    best = m2
                    best_n = n
            b += 1
        m = best


def _group_cost(m, vals):
    free = 0
    b = 0
    while b < 11:
        if not (m >> b) & 1:
            free += 1
        b += 1
    return len(vals) << free


def plan_filters(ids, first=()):
    """Masks and filters that admit `ids` (standard 11-bit) or a small superset.

    RXB0 has mask RXM0 and filters RXF0..1, RXB1 has RXM1 and RXF2..5 (section 4.5).
    Returns (mask0, (f0, f1), mask1, (f2, f3, f4, f5), admitted) where admitted is the
    number of ids the hardware will let through (len(ids) when exact).

    first: ids that open a burst (a node sending two frames back to back: the Leaf inverter's 1DA then 0x120
    or 55A, the PDM's 390 then 393). Among the plans that admit the fewest ids, the one with the most of them in
    RXB0's group: with rollover (BUKT) the frame after it then takes RXB1, where two frames of RXB1's own
    group, one buffer for both, lose the second unless the first was read out in between (0.24 ms at
    500 kbit/s). Tried as RXB0's group: every split of the sorted list, the burst openers, and the openers
    with one more id (a few dozen plans: the planner runs on the board, from a console command).
    """
    ids = sorted(set(int(i) & _STD_MASK for i in ids))
    if not ids:
        raise ValueError("empty id list: use set_filters(None) to accept everything")
    first = [int(i) & _STD_MASK for i in first]
    best = None
    n = len(ids)
    groups = []
    split = 0
    while split <= n:
        groups.append(ids[:split])
        groups.append(ids[split:])
        split += 1
    lead = [i for i in ids if i in first]
    if lead:
        groups.append(lead)
        for i in ids:
            if i not in lead:
                groups.append(lead + [i])
    for a in groups:
        b = [i for i in ids if i not in a]
        if len(a) == 0:
            m1, v1 = _plan_group(b, 4)
            m0, v0 = m1, v1[:1]     # RXB0's filters repeat one RXB1 filter: admit nothing new
            cost = _group_cost(m1, v1)
        elif len(b) == 0:
            m0, v0 = _plan_group(a, 2)
            m1, v1 = m0, v0[:1]
            cost = _group_cost(m0, v0)
        else:
            m0, v0 = _plan_group(a, 2)
            m1, v1 = _plan_group(b, 4)
            cost = _group_cost(m0, v0) + _group_cost(m1, v1)
        lead = len([i for i in first if i in a])
        if best is None or cost < best[0] or (cost == best[0] and lead > best[1]):
            best = (cost, lead, m0, v0, m1, v1)
    cost, lead, m0, v0, m1, v1 = best
    f01 = tuple((v0 + v0 * 2)[:2])
    f25 = tuple((v1 + v1 * 4)[:4])
    return m0, f01, m1, f25, cost


def _put_id(buf, off, can_id, ext):
    # SIDH, SIDL, EID8, EID0 as laid out in TXBnSIDH.. / RXFnSIDH.. / RXMnSIDH..
    if ext:
        buf[off] = (can_id >> 21) & 0xFF
        buf[off + 1] = ((can_id >> 13) & 0xE0) | _EXIDE | ((can_id >> 16) & 0x03)
        buf[off + 2] = (can_id >> 8) & 0xFF
        buf[off + 3] = can_id & 0xFF
    else:
        buf[off] = (can_id >> 3) & 0xFF
        buf[off + 1] = (can_id << 5) & 0xE0
        buf[off + 2] = 0
        buf[off + 3] = 0


class Stats:
    """Driver counters, plain ints (no allocation to update or read)."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.tx_frames = 0          # frames handed to the chip (RTS issued)
        self.tx_done = 0            # of those, seen completed (TXREQ cleared by the chip)
        self.tx_dropped = 0         # pinned frame not loaded: its buffer still pending
        self.tx_busy = 0            # unpinned send refused: no free buffer
        self.tx_borrowed = 0        # unpinned sends that used an idle pinned buffer
        self.rx_frames = 0          # frames read out of RXB0/RXB1
        self.rx_overflows = 0       # EFLG RX0OVR/RX1OVR occurrences (frames lost)
        self.irqs = 0               # INT falling edges seen by the IRQ handler
        self.error_irqs = 0         # ERRIF flags serviced
        self.error_passive = 0      # entries into error-passive (TXEP or RXEP)
        self.bus_off = 0            # entries into bus-off (TXBO)
        self.bus_off_recoveries = 0  # bus-off states that ended (chip or driver)
        self.reinits = 0            # recoveries forced by the driver (recover())


class MCP2515:
    def __init__(self, spi, cs, clock=None):
        self._spi = spi
        self._cs = cs
        self._clock = clock if clock is not None else _default_clock()
        cs.value(1)
        self.stats = Stats()
        self.bitrate = 0
        self.crystal = 0
        self.mode = CONFIG
        self.cnf = (0, 0, 0)
        self.auto_recover = True
        # Error state, filled by read_errors().
        self.tec = 0
        self.rec = 0
        self.eflg = 0
        self.canintf = 0
        self.error_warning = False
        self.error_passive = False
        self.bus_off = False
        self._bus_off_since = 0
        # How long bus-off may last before service_errors() forces recovery (set by init():
        # 128 x 11 bit times, the chip's own recovery wait, + 1 ms).
        self.bus_off_wait_ms = 4
        # Receive state.
        self.rx_dlc = 0
        self.rx_ext = 0
        self.rx_rtr = 0
        self.irq_pending = False
        self.irq_hook = None        # called by the IRQ handler after irq_pending (must be ISR-safe)
        # tap(can_id, data, dlc, tx): every frame loaded for sending (tx 1) or read out (tx 0), e.g. a recorder,
        # but the prepared frames (tx_*_prepared: their caller records them); it must not allocate (it runs on
        # the 10 ms path and in drain()).
        self.tap = None
        # early_rx: a drain() callback. When set, a transmit that finds frames waiting in the READ STATUS it does
        # anyway reads them out first: the two RX buffers then never wait for the RX task behind a long job (a
        # burst of four frames in a millisecond, the 100 ms frames with the 10 ms ones, overflows them). Not for
        # callers of recv(): the frame would already be gone.
        self.early_rx = None
        self._int_pin = None
        self._isr_ref = None
        # Filter configuration, replayed after a full re-init.
        self._filters = None        # None = accept all, else 8 x (value, ext): RXM0, RXM1, RXF0..5
        self.filter_admits = 0
        # Transmit state: pinned[txb] = (can_id, dlc, ext) or None.
        self._pinned = [None, None, None]
        self._pinned_mask = 0
        self._inflight = 0          # buffers we requested and have not yet seen complete
        self._st = 0                # last READ STATUS byte
        self._batch = 0             # RTS bits collected by tx_load()
        self._txreq = 0             # TXREQ0..2 (bits 0..2) at tx_begin()
        self._borrowed = 0          # pinned buffers lent to send(): header to reload
        self.borrow_pinned = True   # send() may lend an idle pinned buffer (see send())

        # Preallocated SPI buffers (one pair per instruction shape used in the hot path).
        self._st_w = bytearray((_I_READ_STATUS, 0))
        self._st_r = bytearray(2)
        self._rts = bytearray(1)
        self._bm = bytearray(4)                 # BIT MODIFY instr, addr, mask, data
        self._rd4_w = bytearray(4)              # READ addr + 2 registers
        self._rd4_r = bytearray(4)
        self._rd3_w = bytearray(3)              # READ addr + 1 register
        self._rd3_r = bytearray(3)
        self._rx_w0 = bytearray(14)             # READ RX BUFFER RXB0 at SIDH + 13 bytes
        self._rx_w0[0] = _I_READ_RXB0
        self._rx_w1 = bytearray(14)
        self._rx_w1[0] = _I_READ_RXB1
        self._rx_r = bytearray(14)
        rxmv = memoryview(self._rx_r)
        # Views of the received data for each DLC, made once so recv() does not allocate.
        self._rx_views = tuple(rxmv[6:6 + n] for n in range(9))
        self.rx_data = self._rx_views[0]
        # Unpinned send: LOAD TX BUFFER at SIDH, SIDH SIDL EID8 EID0 DLC D0..D7.
        self._tx_w = bytearray(14)
        txmv = memoryview(self._tx_w)
        self._tx_views = tuple(txmv[0:6 + n] for n in range(9))
        # Pinned send: LOAD TX BUFFER at D0 + dlc data bytes, per buffer, sized at pin().
        self._pin_w = [None, None, None]

    # --- SPI primitives: one CS-low transaction each ------------------------------------
    def _xfer(self, wbuf, rbuf):
        cs = self._cs
        cs.value(0)
        self._spi.write_readinto(wbuf, rbuf)
        cs.value(1)

    def _write(self, wbuf):
        cs = self._cs
        cs.value(0)
        self._spi.write(wbuf)
        cs.value(1)

    def read_register(self, addr):
        w = self._rd3_w
        w[0] = _I_READ
        w[1] = addr
        w[2] = 0
        self._xfer(w, self._rd3_r)
        return self._rd3_r[2]

    def read_registers(self, addr, n):
        """n consecutive registers as bytes (allocates: configuration/diagnostics only)."""
        w = bytearray(n + 2)
        w[0] = _I_READ
        w[1] = addr
        r = bytearray(n + 2)
        self._xfer(w, r)
        return bytes(r[2:])

    def write_register(self, addr, *values):
        """WRITE one or more consecutive registers (allocates: configuration only)."""
        w = bytearray(2 + len(values))
        w[0] = _I_WRITE
        w[1] = addr
        i = 0
        for v in values:
            w[2 + i] = v
            i += 1
        self._write(w)

    def bit_modify(self, addr, mask, value):
        """BIT MODIFY (only on registers that support it; others take it as a WRITE)."""
        b = self._bm
        b[0] = _I_BIT_MODIFY
        b[1] = addr
        b[2] = mask
        b[3] = value
        self._write(b)

    def read_status(self):
        """READ STATUS byte: RX0IF, RX1IF, TXREQ0, TX0IF, TXREQ1, TX1IF, TXREQ2, TX2IF."""
        st = self._cs   # (st: the chip select, then the status) _xfer written out: every batch and frame reads it
        st.value(0)
        self._spi.write_readinto(self._st_w, self._st_r)
        st.value(1)
        st = self._st_r[1]
        self._st = st
        inflight = self._inflight
        if inflight:   # (nothing in flight: the lookup below is skipped; about every other status read)
            # A buffer we requested whose TXREQ the chip cleared has been sent (only an
            # abort clears it otherwise, and abort paths reset _inflight themselves).
            done = inflight & ~_TXREQ_OF[st >> 2]
            if done:
                self.stats.tx_done += _COUNT[done]
                self._inflight = inflight ^ done
        return st

    def rx_status(self):
        """RX STATUS byte (figure 12-9): bits 7:6 full buffers, 4:3 type, 2:0 filter hit."""
        self._xfer(_RXS_W, self._st_r)
        return self._st_r[1]

    # --- init and modes ----------------------------------------------------------------
    def reset(self):
        """RESET instruction, the oscillator start-up wait, then check configuration mode."""
        self._rts[0] = _I_RESET
        self._write(self._rts)
        clock = self._clock
        clock.sleep_ms(_RESET_WAIT_MS)
        stat = 0
        polls = 0
        while polls < _RESET_POLLS:
            stat = self.read_register(_R_CANSTAT)
            if stat == 0xFF:
                raise MCP2515Error(
                    "no answer from MCP2515 on SPI: CANSTAT read 0xFF (no chip, MISO not connected,"
                    " wrong CS pin or chip not powered?)")
            if stat == 0x00:
                raise MCP2515Error(
                    "MCP2515 not answering: CANSTAT read 0x00 (MISO stuck low, MOSI/SCK not"
                    " connected so RESET never arrived, or chip held in reset?)")
            if stat & _MODE_MASK == CONFIG:
                break
            polls += 1
            clock.sleep_ms(1)
        else:
            raise MCP2515Error(
                "MCP2515 not in configuration mode after RESET: CANSTAT=0x%02x (oscillator not"
                " running, wrong CS pin sharing the bus, or SPI mode/clock wrong?)" % stat)
        self.mode = CONFIG
        self._inflight = 0
        self._st = 0

    def init(self, bitrate=500000, crystal=8000000, mode=NORMAL):
        """Reset the chip and bring it up at `bitrate` with `crystal`, in `mode`."""
        cnf1, cnf2, cnf3 = bit_timing(bitrate, crystal)   # ValueError before touching the chip
        self.bitrate = int(bitrate)
        self.crystal = int(crystal)
        self.cnf = (cnf1, cnf2, cnf3)
        # 128 x 11 recessive bits is the CAN bus-off recovery wait (section 6, fig. 6-1).
        self.bus_off_wait_ms = (128 * 11 * 1000 + self.bitrate - 1) // self.bitrate + 1
        self._configure(mode)

    def _configure(self, mode):
        cnf1, cnf2, cnf3 = self.cnf
        self.reset()
        # CNF3, CNF2, CNF1, CANINTE, CANINTF are consecutive (0x28..0x2C): one WRITE.
        self.write_register(_R_CNF3, cnf3, cnf2, cnf1, _INT_ENABLE, 0)
        back = self.read_registers(_R_CNF3, 3)
        if back[0] != cnf3 or back[1] != cnf2 or back[2] != cnf1:
            raise MCP2515Error(
                "MCP2515 CNF registers read back %02x %02x %02x, wrote %02x %02x %02x"
                " (MOSI or SCK miswired, SPI mode not 0,0, or clock above 10 MHz?)"
                % (back[2], back[1], back[0], cnf1, cnf2, cnf3))
        self._write_filters()
        self._borrowed = 0
        txb = 0
        while txb < 3:
            if self._pinned[txb] is not None:
                self._load_header(txb)
            txb += 1
        self.set_mode(mode)

    def set_mode(self, mode):
        """Request a mode and wait (bounded) until CANSTAT confirms it."""
        if mode not in (NORMAL, LISTEN_ONLY, LOOPBACK, CONFIG, SLEEP):
            raise ValueError("unknown mode 0x%02x" % mode)
        self.bit_modify(_R_CANCTRL, _MODE_MASK, mode)
        clock = self._clock
        stat = 0
        polls = 0
        aborted = False
        while polls < _MODE_POLLS:
            stat = self.read_register(_R_CANSTAT)
            if stat & _MODE_MASK == mode:
                if aborted:
                    self.bit_modify(_R_CANCTRL, _ABAT, 0)
                self.mode = mode
                return
            if stat == 0xFF:
                break
            polls += 1
            if polls == _MODE_POLLS // 2 and not aborted:
                # The chip changes mode only after pending transmissions complete
                # (section 10); on a dead bus they never do, so abort them.
                self.bit_modify(_R_CANCTRL, _ABAT, _ABAT)
                self._inflight = 0
                aborted = True
            clock.sleep_us(_MODE_POLL_US)
        if aborted:
            self.bit_modify(_R_CANCTRL, _ABAT, 0)
        raise MCP2515Error(
            "MCP2515 did not enter mode 0x%02x: CANSTAT=0x%02x (chip lost power or SPI wiring?)"
            % (mode, stat))

    # --- acceptance filters ------------------------------------------------------------
    def _write_filters(self):
        # Must be in configuration mode (filters and masks are writable only there, 10.1).
        f = self._filters
        if f is None:
            # RXM=11: receive any frame, standard or extended; BUKT: RXB0 rolls into RXB1.
            self.write_register(_R_RXB0CTRL, _RXM_OFF | _BUKT)
            self.write_register(_R_RXB1CTRL, _RXM_OFF)
            return
        regs = bytearray(4)
        i = 0
        while i < 8:
            can_id, ext = f[i]
            # For a standard-id mask the EID8/EID0 bytes stay 0: on standard frames they
            # would otherwise filter on the first two data bytes (section 4.5.1).
            _put_id(regs, 0, can_id, ext)
            self.write_register(_FILTER_REGS[i], regs[0], regs[1], regs[2], regs[3])
            i += 1
        self.write_register(_R_RXB0CTRL, _BUKT)   # RXM=00: masks and filters apply
        self.write_register(_R_RXB1CTRL, 0)

    def _apply_filters(self):
        prev = self.mode
        if prev != CONFIG:
            self.set_mode(CONFIG)
        self._write_filters()
        if prev != CONFIG:
            self.set_mode(prev)

    def accept_all(self):
        """Turn masks and filters off: every frame (standard and extended) is received."""
        self._filters = None
        self.filter_admits = 1 << 11
        self._apply_filters()

    def set_filters(self, ids, first=()):
        """Admit only the standard ids in `ids` (a superset if they need more than the
        2 masks x 6 filters can express exactly; filter_admits tells how many). None = all.
        first: ids that open a burst, for RXB0 (plan_filters)."""
        if ids is None:
            self.accept_all()
            return
        m0, f01, m1, f25, admits = plan_filters(ids, first)
        self._filters = [(m0, False), (m1, False)] + [(v, False) for v in f01 + f25]
        self.filter_admits = admits
        self._apply_filters()

    def _raw_filters(self, can_id=0, ext=False):
        # Leaving accept-all for raw filters: both masks exact and every filter on the first
        # id given, so until the other slots are set nothing but that id gets in.
        if self._filters is None:
            full = 0x1FFFFFFF if ext else _STD_MASK
            self._filters = [(full, ext), (full, ext)] + [(can_id, ext)] * 6
        return self._filters

    def set_filter(self, n, can_id, ext=False):
        """Raw acceptance filter RXFn (0..5; 0-1 feed RXB0, 2-5 feed RXB1). Enables filtering."""
        if not 0 <= n <= 5:
            raise ValueError("filter 0..5")
        self._raw_filters(can_id, ext)[2 + n] = (can_id, ext)
        self.filter_admits = 0
        self._apply_filters()

    def set_mask(self, n, mask, ext=False):
        """Raw acceptance mask RXMn (0 for RXB0, 1 for RXB1): 1 bits must match. Enables filtering."""
        if n not in (0, 1):
            raise ValueError("mask 0..1")
        self._raw_filters()[n] = (mask, ext)
        self.filter_admits = 0
        self._apply_filters()

    # --- transmit ----------------------------------------------------------------------
    def _load_header(self, txb):
        can_id, dlc, ext = self._pinned[txb]
        w = bytearray(6)
        w[0] = _I_LOAD_TXB0_SIDH + 2 * txb
        _put_id(w, 1, can_id, ext)
        w[5] = dlc
        self._write(w)

    def pin(self, txb, can_id, dlc, ext=False):
        """Reserve TX buffer `txb` for a periodic frame: id and DLC are written once here,
        send_pinned() then loads only the data bytes."""
        if not 0 <= txb <= 2:
            raise ValueError("txb 0..2")
        if not 0 <= dlc <= 8:
            raise ValueError("dlc 0..8")
        # A pending request would keep the old header; drop it (configuration-time call).
        self.bit_modify(_R_TXB0CTRL + 0x10 * txb, _TXREQ, 0)
        self._inflight &= ~(1 << txb)
        self._pinned[txb] = (can_id, dlc, ext)
        self._pinned_mask |= 1 << txb
        self._borrowed &= ~(1 << txb)
        w = bytearray(1 + dlc)
        w[0] = _LOAD_DATA[txb]
        self._pin_w[txb] = w
        self._load_header(txb)

    def unpin(self, txb):
        self._pinned[txb] = None
        self._pinned_mask &= ~(1 << txb)
        self._borrowed &= ~(1 << txb)
        self._pin_w[txb] = None

    def tx_begin(self):
        """Start a batch: one READ STATUS snapshots TXREQ of all three buffers (and, with `early_rx`, reads out
        what it shows waiting in the RX buffers first)."""
        self._batch = 0
        st = self.read_status()
        if st & (_RX0IF | _RX1IF) and self.early_rx is not None:
            self.drain(self.early_rx, 16, st)
            st = self._st
        self._txreq = _TXREQ_OF[st >> 2]   # once per batch: tx_frame_prepared reads it for every frame

    def tx_load(self, txb, data):
        """In a batch: load the pinned buffer's data bytes (LOAD TX BUFFER at D0) if the
        buffer was free at tx_begin(); else count a drop and return False. No RTS yet."""
        if self._st & _ST_TXREQ[txb]:
            self.stats.tx_dropped += 1
            return False
        bit = 1 << txb
        if self._borrowed & bit:
            # send() lent this buffer to another id: header and data again, in one LOAD at SIDH.
            self._borrowed &= ~bit
            self._reload(txb, data)
        else:
            self._load_data(txb, data)
        self._batch |= bit
        if self.tap is not None:
            self._tap_pinned(txb, data)
        return True

    def _tap_pinned(self, txb, data):
        pinned = self._pinned[txb]
        self.tap(pinned[0] | (_ID_EXT if pinned[2] else 0), data, pinned[1], 1)

    def _reload(self, txb, data):
        pinned = self._pinned[txb]
        self._tx_header(txb, pinned[0] | (_ID_EXT if pinned[2] else 0), pinned[1])
        self._tx_data(data, pinned[1])

    def _load_data(self, txb, data):
        # LOAD TX BUFFER at D0: only the data bytes of the pinned frame.
        w = self._pin_w[txb]
        n = len(w) - 1
        i = 0
        while i < n:
            w[1 + i] = data[i]
            i += 1
        self._write(w)

    def tx_commit(self):
        """End a batch: ONE RTS instruction for every buffer loaded since tx_begin()."""
        bits = self._batch
        if bits:
            w = self._rts
            w[0] = _I_RTS | bits
            c = self._cs   # (_write written out: once per batch)
            c.value(0)
            self._spi.write(w)
            c.value(1)
            self._inflight |= bits
            self.stats.tx_frames += _COUNT[bits]
            self._batch = 0
        return bits

    # --- prepared frames: the caller's 14-byte buffer IS the SPI transfer (nothing copied) -------------------
    # f.raw: bytearray(14) laid out as LOAD TX BUFFER at SIDH sends it: [instruction] SIDH SIDL EID8 EID0 DLC
    # D0..D7; f.can_id; f.dlc; f.buf = memoryview(f.raw)[6:] (the data: the caller writes it);
    # f.vfull = memoryview(f.raw)[:6 + dlc]; f.vdata = memoryview(f.raw)[5:6 + dlc] (byte 5 takes the data-only
    # instruction). The tap does not see prepared frames: their caller records a whole batch at once
    # (devices.Frames, recorder.batch), one call per batch instead of one per frame.
    def prepare(self, f, can_id):
        """Writes the standard id and the DLC into a prepared frame's header (configuration)."""
        _put_id(f.raw, 1, can_id, 0)
        f.raw[5] = f.dlc

    # The two below run for every frame of a batch (devices.py): the chip select and the SPI write are written out
    # (no _write call), and the free buffer is picked by masks in line, borrowing a pinned one too (as _lend).
    def tx_load_prepared(self, txb, f):
        """tx_load() of a prepared frame of the id pinned to txb: the data-only load, or the whole frame when the
        buffer was lent meanwhile; one SPI write from the frame's own buffer."""
        if self._st & _ST_TXREQ[txb]:
            self.stats.tx_dropped += 1
            return False
        w = 1 << txb
        self._batch |= w
        if self._borrowed & w:
            self._borrowed &= ~w
            w = f.raw
            w[0] = _I_LOAD_TXB0_SIDH + 2 * txb
            w[5] = f.dlc
            w = f.vfull
        else:
            f.raw[5] = _LOAD_DATA[txb]
            w = f.vdata
        txb = self._cs   # (txb done with: the chip select)
        txb.value(0)
        self._spi.write(w)
        txb.value(1)
        return True

    def tx_frame_prepared(self, f):
        """tx_frame() of a prepared frame: one SPI write from the frame's own buffer."""
        t = self._batch | self._txreq            # taken: loaded, or TXREQ at tx_begin()
        b = ~(t | self._pinned_mask) & 7         # free unpinned buffers
        if b:
            t = _LOWEST[b]
        else:
            # _lend() written out (a ZE1 with every buffer pinned borrows for every lent frame)
            b = ~t & 7
            if not b or not self.borrow_pinned:
                self.stats.tx_busy += 1
                return False
            t = _LOWEST[b]
            self._borrowed |= 1 << t
            self.stats.tx_borrowed += 1
        b = f.raw
        b[0] = _I_LOAD_TXB0_SIDH + 2 * t
        b[5] = f.dlc
        b = self._cs
        b.value(0)
        self._spi.write(f.vfull)
        b.value(1)
        self._batch |= 1 << t
        return True

    def send_pinned(self, txb, data):
        """Send the pinned frame of buffer `txb` with `data` (>= its DLC bytes).
        Returns False without waiting (and counts tx_dropped) if the buffer is still pending."""
        self.tx_begin()
        if self.tx_load(txb, data):
            self.tx_commit()
            return True
        return False

    def send(self, can_id, data, dlc=None, ext=False, rtr=False):
        """Send one frame through a free unpinned buffer; if there is none and `borrow_pinned`,
        through an idle pinned buffer (whose next tx_load() then reloads its header too).
        False (tx_busy) if no buffer is free. Never waits."""
        # Small helpers keep each call frame within 11 words: on ports without a pystack
        # (ESP32) a bigger frame is taken from the heap at every call. So ext rides in the id
        # (bit 29, still a small int) and rtr in the DLC byte, as the chip's register has it.
        if dlc is None:
            dlc = len(data)
        if ext:
            can_id |= _ID_EXT
        if rtr:
            dlc |= _DLC_RTR
        return self._send(can_id, data, dlc)

    def tx_frame(self, can_id, data, dlc):
        """In a batch: load a whole frame (id + DLC + data) into a buffer that was free at tx_begin()
        (unpinned first, else an idle pinned one lent as in send()); sent by the batch's one RTS.
        False (tx_busy) if none is free. Standard ids; saves send()'s own READ STATUS and RTS."""
        txb = self._free_txb(self._st)
        if txb < 0:
            return False
        self._tx_header(txb, can_id, dlc)
        self._tx_data(data, dlc)
        self._batch |= 1 << txb
        if self.tap is not None:
            self.tap(can_id, data, dlc, 1)
        return True

    def _send(self, can_id, data, dlc):
        txb = self.read_status()   # (the status first: frames waiting are read out with it, as tx_begin does)
        if txb & (_RX0IF | _RX1IF) and self.early_rx is not None:
            self.drain(self.early_rx, 16, txb)
        txb = self._free_txb(self._st)
        if txb < 0:
            return False
        self._tx_header(txb, can_id, dlc)
        self._tx_data(data, 0 if dlc & _DLC_RTR else dlc)  # a remote frame carries no data
        self._request(txb)
        if self.tap is not None:
            self.tap(can_id, data, 0 if dlc & _DLC_RTR else dlc, 1)
        return True

    def _lend(self, taken):
        # No unpinned buffer free: an idle pinned one (borrow_pinned), lowest first, that the running batch has not
        # loaded (taken: loaded or TXREQ), else -1 and a tx_busy.
        free = ~taken & 7
        if not free or not self.borrow_pinned:
            self.stats.tx_busy += 1
            return -1
        txb = _LOWEST[free]
        self._borrowed |= 1 << txb
        self.stats.tx_borrowed += 1
        return txb

    def _free_txb(self, st):
        # A free unpinned buffer; else (borrow_pinned) an idle pinned one, lowest priority first,
        # that the running batch has not loaded. -1 (and a tx_busy) when none.
        taken = self._batch | _TXREQ_OF[st >> 2]   # loaded, or TXREQ0..2
        free = ~(taken | self._pinned_mask) & 7
        if free:
            return _LOWEST[free]
        return self._lend(taken)

    def _request(self, txb):
        self._rts[0] = _I_RTS | (1 << txb)
        self._write(self._rts)
        self._inflight |= 1 << txb
        self.stats.tx_frames += 1

    def _tx_header(self, txb, can_id, dlc):
        # LOAD TX BUFFER at SIDH: instruction, id (4 bytes), DLC (with the RTR bit); the data
        # follows in _tx_data. can_id carries _ID_EXT for an extended id.
        w = self._tx_w
        w[0] = _I_LOAD_TXB0_SIDH + 2 * txb
        _put_id(w, 1, can_id & 0x1FFFFFFF, can_id & _ID_EXT)
        w[5] = dlc

    def _tx_data(self, data, n):
        # Id, DLC and data in one transaction. Data of exactly n bytes in one slice copy (C, allocation-free);
        # a longer buffer (a 7-byte 50B from its 8-byte one) byte by byte, as its slice would be a new object.
        w = self._tx_w
        if len(data) == n:
            w[6:6 + n] = data
        else:
            i = 0
            while i < n:
                w[6 + i] = data[i]
                i += 1
        self._write(self._tx_views[n])

    def abort_all(self):
        """Abort every pending transmission (ABAT), then re-arm."""
        self.bit_modify(_R_CANCTRL, _ABAT, _ABAT)
        self.bit_modify(_R_CANCTRL, _ABAT, 0)
        self._inflight = 0

    # --- receive -----------------------------------------------------------------------
    def _read_rx(self, which):
        # READ RX BUFFER clears RXnIF itself when CS rises (table 12-1): no BIT MODIFY.
        r = self._rx_r   # the answer: [instruction slot] SIDH SIDL EID8 EID0 DLC D0..D7
        cs = self._cs    # _xfer written out: it runs for every received frame
        cs.value(0)
        self._spi.write_readinto(self._rx_w1 if which else self._rx_w0, r)
        cs.value(1)
        sidl = r[2]   # (SIDH is r[1], read where the id is put together: once either way)
        dlc = _DLC_OF[r[5] & 0x0F]
        if sidl & _EXIDE:
            can_id = (r[1] << 21) | ((sidl & 0xE0) << 13) | ((sidl & 0x03) << 16) | (r[3] << 8) | r[4]
            self.rx_ext = 1
            self.rx_rtr = 1 if r[5] & _DLC_RTR else 0
        else:
            can_id = (r[1] << 3) | (sidl >> 5)
            self.rx_ext = 0
            self.rx_rtr = 1 if sidl & _SRR else 0
        self.rx_dlc = dlc
        self.rx_data = self._rx_views[dlc]
        self.stats.rx_frames += 1
        if self.tap is not None:
            self._tap_rx(can_id)
        return can_id

    def _tap_rx(self, can_id):
        self.tap(can_id | (_ID_EXT if self.rx_ext else 0), self.rx_data, self.rx_dlc, 0)

    def recv(self):
        """Next received frame's id, or -1. rx_data/rx_dlc/rx_ext/rx_rtr describe it."""
        st = self.read_status()
        if st & _RX0IF:
            return self._read_rx(0)
        if st & _RX1IF:
            return self._read_rx(1)
        return -1

    def recv_into(self, buf):
        """Like recv(), and copies the data bytes to buf[0:rx_dlc] (buf >= 8 bytes)."""
        can_id = self.recv()
        if can_id >= 0:
            src = self._rx_r
            n = self.rx_dlc
            i = 0
            while i < n:
                buf[i] = src[6 + i]
                i += 1
        return can_id

    def attach_irq(self, int_pin):
        """Watch the chip's INT pin (active low): the handler only sets irq_pending."""
        self._int_pin = int_pin
        self._isr_ref = self._isr        # bound method made once, not in the ISR
        int_pin.irq(handler=self._isr_ref, trigger=int_pin.IRQ_FALLING)

    def _isr(self, pin):
        # ISR rules: no allocation, no SPI. drain() does the work outside the interrupt.
        self.irq_pending = True
        self.stats.irqs += 1
        hook = self.irq_hook
        if hook is not None:
            hook()  # e.g. an asyncio ThreadSafeFlag's set(), which is safe to call from an ISR

    def drain(self, callback=None, max_frames=16, st=0):
        """Read out both RX buffers until empty (at most max_frames), callback(can_id,
        data_memoryview) per frame; then, if INT is still asserted, service the error
        flags (overflow, error-passive, bus-off). Returns the number of frames read.
        st: the READ STATUS byte the caller has just read (a transmit's, early_rx): its RX bits are
        served without reading it again."""
        self.irq_pending = False
        pin = self._int_pin
        if callback is None:
            callback = _discard   # (the frames are read out all the same; one test per call, not per frame)
        n = 0
        while n < max_frames:
            if not st & (_RX0IF | _RX1IF):
                st = self.read_status()
                if not st & (_RX0IF | _RX1IF):
                    break
            # RXB0 first: with rollover the older frame is in RXB0. (_read_rx runs before rx_data is read: the
            # arguments are evaluated in order.)
            if st & _RX0IF:
                n += 1
                callback(self._read_rx(0), self.rx_data)
            if st & _RX1IF and n < max_frames:
                n += 1
                callback(self._read_rx(1), self.rx_data)
            if pin is not None and pin.value():
                # INT released when CS rose: both buffers are empty and no error flag is up (CANINTE enables
                # only those), so the READ STATUS that would say so is saved: one SPI transaction per frame.
                return n
            st = 0
        if pin is not None and pin.value() == 0 and not self._st & (_RX0IF | _RX1IF):
            self.service_errors()
        return n

    # --- errors ------------------------------------------------------------------------
    def read_errors(self):
        """TEC, REC, CANINTF and EFLG into attributes (two 4-byte READs, no allocation)."""
        w = self._rd4_w
        r = self._rd4_r
        w[0] = _I_READ
        w[1] = _R_TEC
        w[2] = 0
        w[3] = 0
        self._xfer(w, r)
        self.tec = r[2]
        self.rec = r[3]
        w[1] = _R_CANINTF
        self._xfer(w, r)
        self.canintf = r[2]
        e = r[3]
        self.eflg = e
        self.error_warning = bool(e & _EWARN)
        self.error_passive = bool(e & (_TXEP | _RXEP))
        self.bus_off = bool(e & _TXBO)
        return e

    def service_errors(self):
        """read_errors(), count and clear what needs it, recover from bus-off. Returns EFLG."""
        was_passive = self.error_passive
        was_off = self.bus_off
        e = self.read_errors()
        st = self.stats
        self._overflows(e)
        if self.error_passive and not was_passive:
            st.error_passive += 1
        self._bus_off_state(was_off)
        flags = self.canintf & (_ERRIF | _MERRF)
        if flags:
            st.error_irqs += 1
            self.bit_modify(_R_CANINTF, flags, 0)
        return e

    def _overflows(self, e):
        ovr = e & (_RX0OVR | _RX1OVR)
        if ovr:
            self.stats.rx_overflows += ((ovr >> 6) & 1) + (ovr >> 7)
            self.bit_modify(_R_EFLG, ovr, 0)     # RXnOVR must be cleared by the MCU (7.6.1)

    def _bus_off_state(self, was_off):
        st = self.stats
        if self.bus_off:
            now = self._clock.ticks_ms()
            if not was_off:
                st.bus_off += 1
                self._bus_off_since = now
            elif self.auto_recover and self._clock.ticks_diff(now, self._bus_off_since) >= self.bus_off_wait_ms:
                # The chip recovers by itself after 128 x 11 recessive bits (fig. 6-1); if it
                # has not after that long, force it through configuration mode.
                self.recover()
        elif was_off:
            st.bus_off_recoveries += 1

    def recover(self):
        """Bus-off recovery: abort pending frames, pass through configuration mode (which
        clears TEC and REC, section 10.1), back to the previous mode. Falls back to a
        full re-init if the mode change fails."""
        prev = self.mode if self.mode != CONFIG else NORMAL
        self.stats.reinits += 1
        try:
            self.bit_modify(_R_CANCTRL, _ABAT, _ABAT)
            self._inflight = 0
            self.set_mode(CONFIG)
            self.bit_modify(_R_CANCTRL, _ABAT, 0)
            self.set_mode(prev)
        except MCP2515Error:
            self._configure(prev)
        was_off = self.bus_off
        self.read_errors()
        if was_off and not self.bus_off:
            self.stats.bus_off_recoveries += 1
        return not self.bus_off
