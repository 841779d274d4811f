"""VirtualCANBus: a CAN bus on virtual time, with arbitration, acknowledgement and frame times.

Nodes attach with bus.attach(node). A node has:
    acks                                  True while it acknowledges frames (a CAN controller in normal mode)
    on_frame(t_us, can_id, data, sender)  every frame that completed on the bus, except its own
    on_bus_error(t_us, can_id, kind, sender)   optional: a frame destroyed by an error frame
A node that transmits by itself (the MCP2515 model) also has the transmitter hooks, and calls
bus.request(node, t_us) when it has something to send:
    tx_candidate(t_us) -> (can_id, data) or None   asked at each arbitration the node takes part in
    tx_started(t_us) / tx_lost(t_us)               optional: it won / lost arbitration
    tx_done(t_us, ok, kind)                        its frame ended; kind None, "ack" or "bit"
    tx_error_kind                                  optional attribute: "bit" if its frames are garbage
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
when the clock has call_at(), also eagerly as the clock advances.
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

_CRC15_POLY = 0x4599
_crc_table = None  # CRC-15 per byte (MSB first), built on first use
_stuff_table = None  # (stuff bits, next state) per (state, byte); state = last bit << 2 | (run - 1)


def _build_tables():
    global _crc_table, _stuff_table
    crc_t = []
    for b in range(256):
        crc = b << 7
        for _ in range(8):
            crc = ((crc << 1) ^ _CRC15_POLY) if crc & 0x4000 else (crc << 1)
            crc &= 0x7FFF
        crc_t.append(crc)
    st = bytearray(8 * 256)
    for state in range(8):
        for b in range(256):
            last = state >> 2
            run = (state & 3) + 1
            stuff = 0
            k = 7
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
            st[state * 256 + b] = (stuff << 3) | (last << 2) | (run - 1)
    _crc_table = crc_t
    _stuff_table = st


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


def stuffed_bits(can_id, data):
    """Bit count SOF..CRC sequence after bit stuffing (a stuff bit after 5 equal bits)."""
    v, n = frame_fields(can_id, data)
    lead = n & 7
    if lead == 0:
        lead = 8
    # the leading odd bits one by one (SOF first), then whole bytes through the state table
    stuff = 0
    run = 0
    last = 2
    k = n - 1
    while k >= n - lead:
        b = (v >> k) & 1
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
    st = _stuff_table
    state = (last << 2) | (run - 1)
    k -= 7
    while k >= 0:
        e = st[(state << 8) | ((v >> k) & 0xFF)]
        stuff += e >> 3
        state = e & 7
        k -= 8
    return n + stuff


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
        self._hosts = []
        self._running = False
        self._evt_t = clock.now_us  # time of the event being processed
        self._timer = None
        self._timer_t = None

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

    # --- timing helpers ----------------------------------------------------------------------------
    def bits_us(self, nbits):
        """Duration of nbits at the bus bitrate, in whole microseconds (rounded)."""
        return (nbits * 1000000 + (self.bitrate >> 1)) // self.bitrate

    def frame_time_us(self, can_id, data):
        """SOF to end of EOF of a good frame (what the log time is after the frame's start)."""
        return self.bits_us(frame_bits(can_id, data, self.exact_stuffing))

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
        hq = None
        for h in self._hosts:
            if h.sender is sender:
                hq = h
                break
        if hq is None:
            hq = _HostQueue(self, sender)
            self._hosts.append(hq)
        hq.queue.append((can_id, data))
        self.request(hq)

    def request(self, node, t_us=None):
        """node has something to send from t_us (default: now, or the event being processed) on."""
        if self._running:
            base = self._evt_t  # called back from inside the engine: time is the event's
        else:
            self.run_until(self.clock.now_us)
            base = self._done_until
        if t_us is None or t_us < base:
            t_us = base
        for c in self._contenders:
            if c[0] is node:
                c[1] = t_us
                break
        else:
            self._contenders.append([node, t_us])
        if not self._running:
            self.run_until(self.clock.now_us)

    # --- the engine --------------------------------------------------------------------------------
    def run_until(self, t_us=None):
        """Process every bus event up to t_us (default: now)."""
        if t_us is None:
            t_us = self.clock.now_us
        if self._running:
            return
        self._running = True
        try:
            while True:
                cur = self._cur
                if cur is not None:
                    if cur[5] > t_us:
                        break
                    self._cur = None
                    self._evt_t = cur[5]
                    self._finish(cur)
                    continue
                if not self._contenders:
                    break
                first = self._contenders[0][1]
                for c in self._contenders:
                    if c[1] < first:
                        first = c[1]
                start = first if first > self._idle_at else self._idle_at
                if start > t_us:
                    break
                self._evt_t = start
                self._arbitrate(start)
            if t_us > self._done_until:
                self._done_until = t_us
        finally:
            self._running = False
        self._schedule()

    def _arbitrate(self, start):
        best = None
        best_key = 0
        offers = []
        for c in self._contenders[:]:
            if c[1] > start:
                continue
            node = c[0]
            cand = node.tx_candidate(start)
            if cand is None:
                self._contenders.remove(c)
                continue
            key = arbitration_key(cand[0])
            offers.append(node)
            if best is None or key < best_key:
                best = (node, cand[0], cand[1])
                best_key = key
        if best is None:
            return
        node, can_id, data = best
        for c in self._contenders:
            if c[0] is node:
                self._contenders.remove(c)
                break
        for other in offers:
            if other is not node:
                lost = getattr(other, "tx_lost", None)
                if lost is not None:
                    lost(start)
        sender = node.sender if isinstance(node, _HostQueue) else node
        kind = getattr(node, "tx_error_kind", None)
        if kind is None:
            if self.fault == "bit_error":
                kind = "bit"
            elif self.fault == "no_ack" or not self._acked_by_other(sender):
                kind = "ack"
        if kind is None:
            end = start + self.bits_us(frame_bits(can_id, data, self.exact_stuffing))
        else:
            body = stuffed_bits(can_id, data) if self.exact_stuffing else nominal_bits(can_id, data)
            end = start + self.bits_us(body + TAIL_ERROR_BITS)
        self._cur = [node, sender, can_id, data, start, end, kind]
        started = getattr(node, "tx_started", None)
        if started is not None:
            started(start)

    def _acked_by_other(self, sender):
        for n in self.nodes:
            if n is not sender and n.acks:
                return True
        return False

    def _finish(self, cur):
        node, sender, can_id, data, start, end, kind = cur
        self._idle_at = end + self.bits_us(IFS_BITS)
        self.busy_us += self._idle_at - start
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

    def _schedule(self):
        clock = self.clock
        if not hasattr(clock, "call_at"):
            return
        t = self.next_event_us()
        if t == self._timer_t:
            return
        clock.cancel(self._timer)
        self._timer = None
        self._timer_t = t
        if t is not None:
            self._timer = clock.call_at(t, self._on_timer)

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
