"""VirtualCANBus: a CAN bus on virtual time, with arbitration, acknowledgement and frame times.

Nodes attach with bus.attach(node). A node has:
    acks                                  True while it acknowledges frames (a CAN controller in normal mode)
    on_frame(t_us, can_id, data, sender)  every frame that completed on the bus, except its own
    on_bus_error(t_us, can_id, kind, sender)   optional: a frame destroyed by an error frame
A node that transmits by itself (the MCP2515 model) also has the transmitter hooks, and calls
bus.request(node, t_us) when it has something to send:
    tx_candidate(t_us) -> (can_id, data) or None   asked at each arbitration the node takes part in;
                                          (can_id, data, "bit") if what it would send is garbage
    tx_started, tx_lost                   each a callable(t_us) or None: it won / lost arbitration
    tx_done(t_us, ok, kind)               its frame ended; kind None, "ack" or "bit"
    tx_error_kind                         "bit" if all its frames are garbage, else None
    sender                                the node the frame is from (the node itself for a controller)
Host models that are not CAN controllers (the simulated inverter, a test) just call
bus.send(sender, can_id, data): the frame joins arbitration like any other.

Ids: an 11-bit id is a plain int; an extended id carries CAN_EFF_FLAG (0x80000000) and a remote frame
CAN_RTR_FLAG (0x40000000), as in Linux SocketCAN. A remote frame's `data` is bytes(dlc) and is not sent.

Time: a frame starts when the bus is idle (3 bit intermission after the previous one) and the lowest
arbitration field wins; a frame completes after its bit count at `bitrate` (exact bit stuffing with
the real CRC-15 unless exact_stuffing=False). Frames are only delivered (and logged) if some other
node acks them; otherwise the transmitter sees an ACK error. `bus.fault = "bit_error"` makes every
frame fail with a bit error (a wiring fault or a disturbing node); `bus.fault = "no_ack"` makes every
frame miss its ACK whoever listens.

Events are processed lazily up to the time asked (run_until, called by every node before it acts) and,
when the clock has call_at(), also eagerly as the clock advances (one clock timer, armed only when the
next bus event changes). Bit counts are cached per (id, data): the same frames come again and again.
"""

CAN_EFF_FLAG = 0x80000000
CAN_RTR_FLAG = 0x40000000
CAN_EFF_MASK = 0x1FFFFFFF
CAN_SFF_MASK = 0x7FF

# Bits after the CRC sequence of a good frame: CRC delimiter, ACK slot, ACK delimiter, EOF (7).
TAIL_OK_BITS = 10
# Intermission between frames.
IFS_BITS = 3
# A transmitter sees the ACK error in the ACK slot and starts its error flag (6) + delimiter (8) at the
# next bit: CRC delimiter + ACK slot + 6 + 8.
TAIL_ERROR_BITS = 16
# Extra wait of an error-passive transmitter after its own frame (CAN "suspend transmission").
SUSPEND_BITS = 8

_NEVER = 1 << 62  # no bus event pending (also fakes.clock.SLOT_IDLE: the clock's slot timer not armed)

_CRC15_POLY = 0x4599
_crc_table = None  # CRC-15 per byte (MSB first), built on first use
_stuff_table = None  # (stuff bits, next state) per (state, byte); state = last bit << 2 | (run - 1)
_stuff7_table = None  # the same per (state, 7 bits): the CRC's last 7 bits
_hdr_cache = {}  # (can_id, dlc) -> (CRC, stuff state, stuff bits, nbits) after the bits SOF..DLC


def _stuff_entry(state, b, nbits):
    last = state >> 2
    run = (state & 3) + 1
    stuff = 0
    k = nbits - 1
    while k >= 0:
        bit = (b >> k) & 1
        if bit == last:
            run += 1
            if run == 5:
                stuff += 1
                last ^= 1
                run = 1
        else:
            last = bit
            run = 1
        k -= 1
    return (stuff << 3) | (last << 2) | (run - 1)


def _build_tables():
    global _crc_table, _stuff_table, _stuff7_table
    crc_t = []
    for b in range(256):
        crc = b << 7
        for _ in range(8):
            crc = ((crc << 1) ^ _CRC15_POLY) if crc & 0x4000 else (crc << 1)
            crc &= 0x7FFF
        crc_t.append(crc)
    st = bytearray(8 * 256)
    st7 = bytearray(8 * 128)
    for state in range(8):
        for b in range(256):
            st[state * 256 + b] = _stuff_entry(state, b, 8)
        for b in range(128):
            st7[state * 128 + b] = _stuff_entry(state, b, 7)
    _crc_table = crc_t
    _stuff_table = st
    _stuff7_table = st7


def frame_fields(can_id, data):
    """(value, nbits): the unstuffed bits SOF..CRC sequence of a frame, MSB first."""
    if _crc_table is None:
        _build_tables()
    rtr = 1 if can_id & CAN_RTR_FLAG else 0
    dlc = len(data)
    if dlc > 8:
        dlc = 8
    if can_id & CAN_EFF_FLAG:
        i = can_id & CAN_EFF_MASK
        # SOF(0) base id(11) SRR(1) IDE(1) ext id(18) RTR r1 r0 DLC(4)
        v = i >> 18
        v = (v << 2) | 3
        v = (v << 18) | (i & 0x3FFFF)
        v = (v << 3) | (rtr << 2)
        v = (v << 4) | dlc
        n = 1 + 11 + 1 + 1 + 18 + 1 + 2 + 4
    else:
        # SOF(0) id(11) RTR IDE(0) r0 DLC(4)
        v = can_id & CAN_SFF_MASK
        v = (v << 3) | (rtr << 2)
        v = (v << 4) | dlc
        n = 1 + 11 + 1 + 1 + 1 + 4
    # CRC-15 (CAN 2.0 polynomial): the header's odd bits one by one, then whole bytes by table
    crc = 0
    k = n - 1
    lead = n & 7
    while k >= n - lead:
        nxt = ((v >> k) & 1) ^ (crc >> 14)
        crc = (crc << 1) & 0x7FFF
        if nxt:
            crc ^= _CRC15_POLY
        k -= 1
    table = _crc_table
    k -= 7
    while k >= 0:
        crc = ((crc << 8) & 0x7FFF) ^ table[((crc >> 7) ^ (v >> k)) & 0xFF]
        k -= 8
    if not rtr:
        for j in range(dlc):
            b = data[j]
            v = (v << 8) | b
            crc = ((crc << 8) & 0x7FFF) ^ table[((crc >> 7) ^ b) & 0xFF]
        n += 8 * dlc
    return (v << 15) | crc, n + 15


def _header_state(can_id, dlc):
    """(CRC, stuff state, stuff bits, nbits) after the bits SOF..DLC of a frame, bit by bit."""
    rtr = 1 if can_id & CAN_RTR_FLAG else 0
    if can_id & CAN_EFF_FLAG:
        i = can_id & CAN_EFF_MASK
        # SOF(0) base id(11) SRR(1) IDE(1) ext id(18) RTR r1 r0 DLC(4)
        v = i >> 18
        v = (v << 2) | 3
        v = (v << 18) | (i & 0x3FFFF)
        v = (v << 3) | (rtr << 2)
        v = (v << 4) | dlc
        n = 1 + 11 + 1 + 1 + 18 + 1 + 2 + 4
    else:
        # SOF(0) id(11) RTR IDE(0) r0 DLC(4)
        v = can_id & CAN_SFF_MASK
        v = (v << 3) | (rtr << 2)
        v = (v << 4) | dlc
        n = 1 + 11 + 1 + 1 + 1 + 4
    crc = 0
    stuff = 0
    run = 0
    last = 2
    k = n - 1
    while k >= 0:
        b = (v >> k) & 1
        nxt = b ^ (crc >> 14)
        crc = (crc << 1) & 0x7FFF
        if nxt:
            crc ^= _CRC15_POLY
        if b == last:
            run += 1
            if run == 5:
                stuff += 1
                last = b ^ 1
                run = 1
        else:
            last = b
            run = 1
        k -= 1
    return crc, (last << 2) | (run - 1), stuff, n


def stuffed_bits(can_id, data):
    """Bit count SOF..CRC sequence after bit stuffing (a stuff bit after 5 equal bits)."""
    if _crc_table is None:
        _build_tables()
    dlc = len(data)
    if dlc > 8:
        dlc = 8
    key = (can_id, dlc)
    h = _hdr_cache.get(key)
    if h is None:
        if len(_hdr_cache) >= 1024:
            _hdr_cache.clear()
        h = _hdr_cache[key] = _header_state(can_id, dlc)
    crc, state, stuff, n = h
    # the data bytes through the CRC and stuffing tables (the stuffing state machine does not care
    # where the bytes fall relative to the frame's start), then the 15 CRC bits as 8 + 7
    st = _stuff_table
    if not can_id & CAN_RTR_FLAG:
        table = _crc_table
        j = 0
        while j < dlc:
            b = data[j]
            crc = ((crc << 8) & 0x7FFF) ^ table[((crc >> 7) ^ b) & 0xFF]
            e = st[(state << 8) | b]
            stuff += e >> 3
            state = e & 7
            j += 1
        n += 8 * dlc
    e = st[(state << 8) | (crc >> 7)]
    stuff += e >> 3
    e = _stuff7_table[((e & 7) << 7) | (crc & 0x7F)]
    return n + 15 + stuff + (e >> 3)


def nominal_bits(can_id, data):
    """Bit count SOF..CRC sequence without stuff bits."""
    n = 54 if can_id & CAN_EFF_FLAG else 34
    if not can_id & CAN_RTR_FLAG:
        n += 8 * min(len(data), 8)
    return n


def frame_bits(can_id, data, exact=True):
    """Bits of a good frame from SOF to the end of EOF (the intermission not included)."""
    body = stuffed_bits(can_id, data) if exact else nominal_bits(can_id, data)
    return body + TAIL_OK_BITS


def arbitration_key(can_id):
    """Smaller wins: the arbitration field as an integer, dominant 0 first (std before ext on ties)."""
    rtr = 1 if can_id & CAN_RTR_FLAG else 0
    if can_id & CAN_EFF_FLAG:
        i = can_id & CAN_EFF_MASK
        # base id, SRR=1, IDE=1, ext id, RTR
        return ((i >> 18) << 21) | (1 << 20) | (1 << 19) | ((i & 0x3FFFF) << 1) | rtr
    # id, RTR, IDE=0
    return ((can_id & CAN_SFF_MASK) << 21) | (rtr << 20)


class _HostQueue:
    """Transmit queue behind bus.send() for host models that are not controller models."""

    tx_error_kind = None  # (the transmitter hooks it does not need, found without a failing lookup)
    tx_started = None
    tx_lost = None

    def __init__(self, bus, sender):
        self.bus = bus
        self.sender = sender
        self.queue = []

    def tx_candidate(self, t_us):
        return self.queue[0] if self.queue else None

    def tx_done(self, t_us, ok, kind):
        if ok or not self.bus.host_retransmit:
            self.queue.pop(0)
        if self.queue:
            self.bus.request(self, t_us)


class VirtualCANBus:
    def __init__(self, clock, bitrate=500000, exact_stuffing=True, log_limit=None):
        self.clock = clock
        self.bitrate = bitrate
        self.exact_stuffing = exact_stuffing
        self.log_limit = log_limit  # keep only the newest N log entries if set
        self.nodes = []
        self.log = []  # (t_us, can_id, data) of every frame that completed, in order
        self.errors = []  # (t_us, can_id, kind, sender) of destroyed frames (newest 1000)
        self.fault = None  # None, "no_ack" or "bit_error"
        self.host_retransmit = False  # bus.send() frames that fail are dropped (True: retried)
        self.frames_ok = 0
        self.frames_failed = 0
        self.busy_us = 0
        self._idle_at = clock.now_us
        self._done_until = clock.now_us  # events are processed up to here
        self._contenders = []  # [node, t_request]
        self._cur = None  # frame on the wire: [node, sender, can_id, data, t_start, t_end, kind]
        self._hosts = {}  # id(sender) -> its _HostQueue
        self._running = False
        self._evt_t = clock.now_us  # time of the event being processed
        self._timer = None
        self._timer_t = None
        self._timers_ok = hasattr(clock, "call_at")
        self._on_timer_ref = self._on_timer  # (one bound method, not one per event)
        # The clock's slot timer if free (re-armed by assignment: the bus re-arms at every frame start and
        # end), else an ordinary call_at() timer.
        self._slot = self._timers_ok and hasattr(clock, "claim_slot") and clock.claim_slot(self.run_until)
        self._next_t = -1  # time of the next bus event as of the last run_until() (_NEVER: none); -1: unknown
        self._bits_cache = {}  # (can_id, data) -> stuffed bits SOF..CRC: the same frames come again and again

    # --- topology ----------------------------------------------------------------------------------
    def attach(self, node):
        if node not in self.nodes:
            self.nodes.append(node)
        return node

    def detach(self, node):
        if node in self.nodes:
            self.nodes.remove(node)
        for c in self._contenders:
            if c[0] is node:
                self._contenders.remove(c)
                break
        self._next_t = -1  # recomputed by the next run_until()

    # --- timing helpers ----------------------------------------------------------------------------
    def bits_us(self, nbits):
        """Duration of nbits at the bus bitrate, in whole microseconds (rounded)."""
        return (nbits * 1000000 + (self.bitrate >> 1)) // self.bitrate

    def frame_time_us(self, can_id, data):
        """SOF to end of EOF of a good frame (what the log time is after the frame's start)."""
        return self.bits_us(self._body_bits(can_id, data) + TAIL_OK_BITS)

    def _body_bits(self, can_id, data):
        """Bits SOF..CRC sequence, stuffed unless exact_stuffing is False (cached per frame)."""
        if not self.exact_stuffing:
            return nominal_bits(can_id, data)
        if type(data) is not bytes:  # (a bytearray is not hashable: no caching)
            return stuffed_bits(can_id, data)
        cache = self._bits_cache
        key = (can_id, data)
        n = cache.get(key)  # (a miss is one frame in seven: no KeyError raised for it)
        if n is not None:
            return n
        n = stuffed_bits(can_id, data)
        if len(cache) >= 4096:
            cache.clear()
        cache[key] = n
        return n

    @property
    def idle_at_us(self):
        """When the bus is (or was last) free for a new SOF."""
        return self._idle_at

    @property
    def busy(self):
        return self._cur is not None

    def clear_log(self):
        del self.log[:]
        del self.errors[:]

    # --- transmit side -----------------------------------------------------------------------------
    def send(self, sender, can_id, data=b""):
        """Queue a frame from a host model; it goes out through arbitration like any other."""
        data = bytes(data)
        if len(data) > 8:
            raise ValueError("CAN data is at most 8 bytes")
        hq = self._hosts.get(id(sender))
        if hq is None:  # (the queue keeps its sender alive: the id stays its own)
            hq = _HostQueue(self, sender)
            self._hosts[id(sender)] = hq
        hq.queue.append((can_id, data))
        self.request(hq)

    def request(self, node, t_us=None):
        """node has something to send from t_us (default: now, or the event being processed) on."""
        running = self._running
        if running:
            base = self._evt_t  # called back from inside the engine: time is the event's
        else:
            now = self.clock.now_us
            if now >= self._next_t:
                self.run_until(now)
            elif now > self._done_until:
                self._done_until = now  # (run_until()'s fast path)
            base = self._done_until
        if t_us is None or t_us < base:
            t_us = base
        moved = False
        for c in self._contenders:
            if c[0] is node:
                moved = c[1] != t_us
                c[1] = t_us
                break
        else:
            self._contenders.append([node, t_us])
        if running:
            return  # the engine's loop takes it into account
        if self._cur is not None:
            return  # the frame on the wire ends first: its end is the next event either way
        start = t_us if t_us > self._idle_at else self._idle_at
        if start >= self._next_t >= 0 and not moved:
            return  # an earlier event is due first, and will take this contender into account
        if moved or start <= now:
            self._next_t = -1
            self.run_until(now)  # arbitration now
        else:
            self._next_t = start
            self._schedule(start)

    # --- the engine --------------------------------------------------------------------------------
    def run_until(self, t_us=None):
        """Process every bus event up to t_us (default: now)."""
        if t_us is None:
            t_us = self.clock.now_us
        if self._running:
            return
        if t_us < self._next_t:  # nothing due yet (the usual case: a node catching up before it acts)
            if t_us > self._done_until:
                self._done_until = t_us
            return
        self._running = True
        contenders = self._contenders
        try:
            while True:  # nxt: the next event (a frame's end, or the next arbitration), None if none
                cur = self._cur
                if cur is not None:
                    nxt = cur[5]
                    if nxt > t_us:
                        break
                    self._cur = None
                    self._evt_t = nxt
                    self._finish(cur)
                    continue
                if not contenders:
                    nxt = None
                    break
                nxt = contenders[0][1]
                if len(contenders) > 1:
                    for c in contenders:
                        if c[1] < nxt:
                            nxt = c[1]
                if nxt < self._idle_at:
                    nxt = self._idle_at
                if nxt > t_us:
                    break
                self._evt_t = nxt
                self._arbitrate(nxt)
            if t_us > self._done_until:
                self._done_until = t_us
        finally:
            self._running = False
        if nxt is None:
            nxt = _NEVER
        self._next_t = nxt
        if self._slot:
            self.clock.slot_t = nxt  # (_NEVER is the clock's SLOT_IDLE)
        elif nxt != self._timer_t:
            self._schedule(None if nxt == _NEVER else nxt)

    def _arbitrate(self, start):
        contenders = self._contenders
        if len(contenders) == 1:  # one node pending (the usual case): no arbitration to speak of
            c = contenders[0]
            if c[1] > start:
                return
            node = c[0]
            cand = node.tx_candidate(start)
            del contenders[0]  # it offers its frame now, or has nothing left to send
            if cand is None:
                return
        else:
            node = None
            cand = None
            best_key = -1  # computed only when a second node offers a frame
            offers = None  # every node that offered, in order (only when more than one did)
            for c in contenders[:]:
                if c[1] > start:
                    continue
                n = c[0]
                cn = n.tx_candidate(start)
                if cn is None:
                    contenders.remove(c)
                    continue
                if node is None:
                    node = n
                    cand = cn
                    continue
                if offers is None:
                    offers = [node]
                    best_key = arbitration_key(cand[0])
                offers.append(n)
                key = arbitration_key(cn[0])
                if key < best_key:
                    node = n
                    cand = cn
                    best_key = key
            if node is None:
                return
            for c in contenders:
                if c[0] is node:
                    contenders.remove(c)
                    break
            if offers is not None:
                for other in offers:
                    if other is not node:
                        lost = other.tx_lost
                        if lost is not None:
                            lost(start)
        can_id = cand[0]
        data = cand[1]
        sender = node.sender
        kind = node.tx_error_kind if len(cand) == 2 else cand[2]
        if kind is None:
            fault = self.fault
            if fault == "bit_error":
                kind = "bit"
            elif fault == "no_ack":
                kind = "ack"
            else:
                for n in self.nodes:  # _acked_by_other(sender)
                    if n is not sender and n.acks:
                        break
                else:
                    kind = "ack"
        body = self._body_bits(can_id, data)  # (stuffed or nominal, as exact_stuffing says)
        br = self.bitrate
        if kind is None:
            end = start + ((body + TAIL_OK_BITS) * 1000000 + (br >> 1)) // br  # bits_us()
        else:
            end = start + ((body + TAIL_ERROR_BITS) * 1000000 + (br >> 1)) // br
        self._cur = [node, sender, can_id, data, start, end, kind]
        started = node.tx_started
        if started is not None:
            started(start)

    def _finish(self, cur):
        node, sender, can_id, data, start, end, kind = cur
        br = self.bitrate
        idle = end + (IFS_BITS * 1000000 + (br >> 1)) // br  # bits_us(IFS_BITS)
        self._idle_at = idle
        self.busy_us += idle - start
        if kind is None:
            self.frames_ok += 1
            log = self.log
            log.append((end, can_id, data))
            lim = self.log_limit
            if lim is not None and len(log) > lim:
                del log[: len(log) - lim]
            for n in self.nodes[:]:
                if n is not sender:
                    n.on_frame(end, can_id, data, sender)
            node.tx_done(end, True, None)
        else:
            self.frames_failed += 1
            errs = self.errors
            errs.append((end, can_id, kind, sender))
            if len(errs) > 1000:
                del errs[:500]
            for n in self.nodes[:]:
                if n is not sender:
                    cb = getattr(n, "on_bus_error", None)
                    if cb is not None:
                        cb(end, can_id, kind, sender)
            node.tx_done(end, False, kind)

    def next_event_us(self):
        """Time of the next bus event (frame end or start), None if nothing is pending."""
        if self._cur is not None:
            return self._cur[5]
        if not self._contenders:
            return None
        first = self._contenders[0][1]
        for c in self._contenders:
            if c[1] < first:
                first = c[1]
        return first if first > self._idle_at else self._idle_at

    def _schedule(self, t):
        if self._slot:
            self.clock.slot_t = _NEVER if t is None else t
            return
        if not self._timers_ok or t == self._timer_t:
            return
        clock = self.clock
        if self._timer is not None:
            clock.cancel(self._timer)
        self._timer = None
        self._timer_t = t
        if t is not None:
            self._timer = clock.call_at(t, self._on_timer_ref)

    def _on_timer(self):
        self._timer = None
        self._timer_t = None
        self.run_until(self.clock.now_us)


class RecordingNode:
    """A host node that acks and records what it receives; handy for tests and simple peers."""

    def __init__(self, bus=None, acks=True, name="node"):
        self.acks = acks
        self.name = name
        self.frames = []  # (t_us, can_id, data)
        self.bus = bus
        if bus is not None:
            bus.attach(self)

    def on_frame(self, t_us, can_id, data, sender):
        self.frames.append((t_us, can_id, data))

    def send(self, can_id, data=b""):
        self.bus.send(self, can_id, data)

    def __repr__(self):
        return "<RecordingNode %s>" % self.name
