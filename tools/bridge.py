"""The simulated inverter on a real CAN bus: check a real TinyPICO on the bench before it meets a real inverter.

    python tools/sim.py bridge --interface socketcan --channel can0        (or slcan, pcan, ... any python-can bus)

The plant models (fakes.plant: inverter, precharge circuit and pack, car) run in real time on a python-can bus
instead of the virtual one. The real board's relays are not wired to the simulated precharge circuit, so the
bridge reads them off the board's own 1D4 (PROTOCOL.md §2/§4: byte 5 bit 6 = a relay closed, byte 4 low nibble
7 = precharged, i.e. main closed) and drives the simulated contactors from that. What the simulated inverter
saw wrong (CRC, counters, timeouts, 50B) is printed as it happens and summed up at the end.
"""

import sys
import time

from fakes import machine as fm
from fakes.clock import VirtualClock
from fakes.plant import Plant
from leafvcu import board as board_mod
from leafvcu.frames import PRECHARGED


class PythonCanBus:
    """What the plant models need from a bus (attach, send), over a python-can Bus."""

    def __init__(self, can_bus, clock):
        self.can = can_bus
        self.clock = clock
        self.nodes = []
        self.fault = None
        self.sent = 0
        self.received = 0

    def attach(self, node):
        self.nodes.append(node)

    def send(self, sender, can_id, data):
        import can

        self.can.send(can.Message(arbitration_id=can_id, data=bytes(data), is_extended_id=False))
        self.sent += 1

    def pump(self, timeout=0.0):
        """Hands every frame that has arrived to the nodes; returns how many."""
        n = 0
        msg = self.can.recv(timeout)
        while msg is not None:
            if not msg.is_extended_id and not msg.is_remote_frame and not msg.is_error_frame:
                n += 1
                self.received += 1
                t = self.clock.now_us
                for node in self.nodes:
                    node.on_frame(t, msg.arbitration_id, bytes(msg.data), self)
            msg = self.can.recv(0.0)
        return n


class RelayMirror:
    """Drives the simulated contactors from the real board's 1D4 (it cannot see the board's relay pins)."""

    acks = True

    def __init__(self, hw):
        self.hw = hw

    def on_frame(self, t_us, can_id, data, sender):
        if can_id != 0x1D4 or len(data) < 6:
            return
        relay = (data[5] & 0x40) != 0
        precharged = (data[4] & 0x0F) == PRECHARGED
        self.hw.relay_pre.value(1 if relay else 0)
        self.hw.relay_main.value(1 if relay and precharged else 0)


class Bridge:
    def __init__(self, can_bus, clock=None):
        self.clock = clock if clock is not None else VirtualClock()
        fm.set_clock(self.clock)
        self.bus = PythonCanBus(can_bus, self.clock)
        self.hw = board_mod.Board(fm)
        self.bus.attach(RelayMirror(self.hw))
        self.plant = Plant(self.clock, self.bus, self.hw)
        self.plant.start()
        self._t0 = time.monotonic()
        self._seen = 0

    def step(self, wall_s=None):
        """Brings the plant to the wall clock (or to wall_s seconds since start) and exchanges frames."""
        now = time.monotonic() - self._t0 if wall_s is None else wall_s
        self.bus.pump()
        self.clock.run_until(int(now * 1e6))
        self.bus.pump()

    def new_violations(self):
        log = self.plant.inv.violation_log
        fresh = log[self._seen:]
        self._seen = len(log)
        return fresh


def run(interface, channel, bitrate, seconds=None, out=sys.stdout):
    import can

    try:
        can_bus = can.Bus(interface=interface, channel=channel, bitrate=bitrate)
    except Exception as e:  # python-can raises many kinds for a missing adapter: say which and stop
        out.write("bridge: cannot open %s channel %s: %s\n" % (interface, channel, e))
        return 2
    bridge = Bridge(can_bus)
    out.write("bridge: simulated inverter on %s %s at %d bit/s; Ctrl-C to stop\n" % (interface, channel, bitrate))
    last = 0.0
    try:
        while seconds is None or time.monotonic() - bridge._t0 < seconds:
            bridge.step()
            for v in bridge.new_violations():
                out.write("inverter saw: %s\n" % (v,))
            now = time.monotonic() - bridge._t0
            if now - last >= 1.0:
                last = now
                out.write("%7.1fs  %s  frames in %d out %d\n" % (now, bridge.plant.status(), bridge.bus.received,
                                                                   bridge.bus.sent))
            time.sleep(0.001)
    except KeyboardInterrupt:
        pass
    finally:
        can_bus.shutdown()
    count = bridge.plant.inv.violation_count()
    out.write("bridge: %d frames received, %d protocol violations seen by the simulated inverter\n" % (
        bridge.bus.received, count))
    return 1 if count else 0
