"""A battery that watches itself, on the simulated bus: a CAN BMS speaking the 0x35x set, or a real Leaf battery.

Host model (CPython 3.11 and MicroPython 1.27), used by the simulator (fakes.plant.Plant.bms) and the tests.
`profile` says what it is, as the firmware's parameter `bmsdev` does: 0 absent (sends nothing), 1 a Leaf battery
(awake while the VCM's frames come: 1DB and 1DC every 10 ms, 55B and 5BC every 100 ms, 59E every 500 ms, with
their counters and CRCs, through the firmware's own codec; with `ze1` True a 2018+ 62 kWh pack, which also sends
1C2 and 1ED every 10 ms and 5EB every 500 ms, PROTOCOL.md section 6.1),
2 a CAN BMS like SimpBMS (351, 355, 356, 35A, 373 every `period_ms`, one burst, SimpBMS's layout and scales:
PROTOCOL.md section 7.2; 35A pairs with the low bit set = active).

Its pack is the simulated HV circuit's (`hv`: fakes.hv.HvCircuit, pack_v = EMF, i_pack = current, + out of the
pack); without one, a fixed 380 V and 0 A. What it reports:
    soc       from the EMF, linear between v_empty and v_full (or `soc_force`, %)
    cells     EMF / cells, the highest cell `spread_mv` above the lowest
    limits    discharge dcl_max A, falling linearly to 0 between 20 % and 5 % SOC and outside -20..60 degC (full
              from -10 to 50 degC); charge ccl_max A, falling to 0 between 90 % and 100 % SOC, 0 below 0 degC and
              above 55 degC (full from 10 to 45 degC); charge voltage limit cvl V. Each can be forced (`*_force`).
    alarms    `alarms`: a set of 35A condition numbers (0 general .. 12 cell imbalance, firmware bms.ALARM_NAMES)
    silent    sends nothing (the simulator's "bms_silent")
"""

from leafvcu import frames as fr

_LEAF_SLEEP_US = 500000  # a Leaf battery goes to sleep this long after the VCM's last frame


def _ramp(x, lo0, lo1, hi1, hi0):
    # 0 at or below lo0, 1 from lo1 to hi1, 0 at or above hi0, linear in between.
    if x <= lo0 or x >= hi0:
        return 0.0
    if x < lo1:
        return (x - lo0) / (lo1 - lo0)
    if x > hi1:
        return (hi0 - x) / (hi0 - hi1)
    return 1.0


class BmsModel:
    def __init__(self, clock, bus=None, hv=None, profile=0, period_ms=100, cells=96, cvl=393.6, dvl=300.0,
                 ccl_max=60.0, dcl_max=300.0, v_empty=320.0, v_full=400.0, temp_c=25.0, spread_mv=20,
                 name="bms"):
        self.clock = clock
        self.bus = bus
        self.hv = hv
        self.profile = profile
        self.period_ms = period_ms
        self.cells = cells
        self.cvl = cvl
        self.dvl = dvl
        self.ccl_max = ccl_max
        self.dcl_max = dcl_max
        self.v_empty = v_empty
        self.v_full = v_full
        self.temp_c = temp_c
        self.spread_mv = spread_mv
        self.name = name
        self.acks = True
        self.silent = False
        self.alarms = set()
        self.soc_force = None
        self.dcl_force = None
        self.ccl_force = None
        self.sent = {}
        self._buf = bytearray(8)
        self._m1db = fr.BatteryStatus()
        self._m1dc = fr.BatteryLimits()
        self._n10 = 0
        self._n55b = 0
        self._n5bc = 0
        self.ze1 = False    # a 2018+ 62 kWh pack: 1C2, 1ED and 5EB too (the simulator's `battery leaf62`)
        self._n1c2 = 0
        self._k5eb = 0
        self._vcm_t = None
        self._wake_t = 0
        self._k = 0
        self._ticking = False
        if bus is not None:
            bus.attach(self)
        self.set_profile(profile)

    def set_profile(self, profile):
        """0 absent, 1 Leaf battery, 2 CAN BMS (the firmware's `bmsdev`); the clock ticks it from the first non-zero."""
        self.profile = profile
        if profile and not self._ticking and self.clock is not None:
            self._ticking = True
            self.clock.call_later(10000, self._tick)

    # --- what it measures and decides ----------------------------------------------------------------------
    @property
    def emf(self):
        return self.hv.pack_v if self.hv is not None else 380.0

    @property
    def current(self):
        """A, + into the pack (charging), as the BMS reports it."""
        return -self.hv.i_pack if self.hv is not None else 0.0

    @property
    def soc(self):
        """%."""
        if self.soc_force is not None:
            return float(self.soc_force)
        s = (self.emf - self.v_empty) / (self.v_full - self.v_empty) * 100.0
        return 0.0 if s < 0.0 else (100.0 if s > 100.0 else s)

    @property
    def dcl(self):
        if self.dcl_force is not None:
            return float(self.dcl_force)
        s = self.soc
        f = 1.0 if s >= 20.0 else (0.0 if s <= 5.0 else (s - 5.0) / 15.0)
        return self.dcl_max * f * _ramp(self.temp_c, -20.0, -10.0, 50.0, 60.0)

    @property
    def ccl(self):
        if self.ccl_force is not None:
            return float(self.ccl_force)
        s = self.soc
        f = 1.0 if s <= 90.0 else (0.0 if s >= 100.0 else (100.0 - s) / 10.0)
        return self.ccl_max * f * _ramp(self.temp_c, 0.0, 10.0, 45.0, 55.0)

    def cell_mv(self):
        mid = self.emf / self.cells * 1000.0
        return int(mid - self.spread_mv / 2), int(mid + self.spread_mv / 2)

    # --- the bus ------------------------------------------------------------------------------------------
    def on_frame(self, t_us, can_id, data, sender=None):
        # A Leaf battery wakes with the VCM (its frames) and sleeps when they stop.
        if can_id in (0x11A, 0x1D4, 0x50B):
            if self._vcm_t is None or t_us - self._vcm_t > _LEAF_SLEEP_US:
                self._wake_t = t_us
            self._vcm_t = t_us

    def on_bus_error(self, t_us, can_id, kind, sender):
        pass

    def _tick(self):
        self.clock.call_later(10000, self._tick)
        p = self.profile
        if self.silent or p == 0:
            return
        self._k += 1
        if p == 1:
            self._leaf_tick()
        elif p == 2 and self._k % (self.period_ms // 10) == 0:
            self._35x()

    def _send(self, can_id, data, n=8):
        self.sent[can_id] = self.sent.get(can_id, 0) + 1
        if self.bus is not None:
            self.bus.send(self, can_id, bytes(data[:n]))

    def _put(self, b, i, v):
        v = int(v) & 0xFFFF
        b[i] = v & 0xFF
        b[i + 1] = v >> 8

    def frames_35x(self):
        """[(id, bytes)] of one burst, SimpBMS's layout (P§7.2)."""
        out = []
        b = bytearray(8)
        self._put(b, 0, round(self.cvl * 10))
        self._put(b, 2, round(self.ccl * 10))
        self._put(b, 4, round(self.dcl * 10))
        self._put(b, 6, round(self.dvl * 10))
        out.append((0x351, bytes(b)))
        b = bytearray(8)
        s = self.soc
        self._put(b, 0, int(s))
        self._put(b, 2, 100)
        self._put(b, 4, round(s * 10))
        out.append((0x355, bytes(b)))
        b = bytearray(8)
        self._put(b, 0, round(self.emf * 100))
        self._put(b, 2, round(self.current * 10))
        self._put(b, 4, round(self.temp_c * 10))
        out.append((0x356, bytes(b)))
        b = bytearray(8)
        for k in self.alarms:
            b[k >> 2] |= 1 << ((k & 3) << 1)
        out.append((0x35A, bytes(b)))
        b = bytearray(8)
        lo, hi = self.cell_mv()
        self._put(b, 0, lo)
        self._put(b, 2, hi)
        self._put(b, 4, int(self.temp_c) + 273)
        self._put(b, 6, int(self.temp_c) + 274)
        out.append((0x373, bytes(b)))
        return out

    def _35x(self):
        for can_id, data in self.frames_35x():
            self._send(can_id, data)

    def _leaf_tick(self):
        # Awake while the VCM talks: 1DB / 1DC from 60 ms after its first frame, 55B and 5BC every 100 ms from
        # 150 ms, 59E every 500 ms from 2.07 s (a real AZE0-era start-up, tools/conformance.py's reference).
        now = self.clock.now_us
        if self._vcm_t is None or now - self._vcm_t > _LEAF_SLEEP_US:
            return
        el = (now - self._wake_t) // 1000
        if el < 60:
            return
        k = (el - 60) // 10
        self._leaf(el >= 150 and k % 10 == 9)
        if el >= 2070 and k % 50 == 1:
            fr.encode_59e(self._buf)
            self._send(0x59E, self._buf)

    def _leaf(self, with_55b):
        # A Leaf battery: 1DB (current + charging, 0.5 A; voltage 0.5 V; SOC), 1DC (discharge / charge power
        # limits 0.25 kW from the current limits at the EMF, charger power 0.1 kW offset -10 kW), 55B (SOC 0.1 %).
        v = self.emf
        m = self._m1db
        m.current_raw = round(self.current * 2)
        m.voltage_raw = round(v * 2)
        m.soc = int(self.soc)
        m.relay_cut = 3 if 9 in self.alarms or 0 in self.alarms else 0
        m.full_charge = self.soc >= 99.5
        n = self._n10
        fr.encode_1db(self._buf, m, n)
        self._send(0x1DB, self._buf)
        c = self._m1dc
        c.discharge_raw = int(self.dcl * v / 250)
        c.charge_raw = int(self.ccl * v / 250)
        w = self.ccl * v
        c.charger_raw = 100 + int((w if w < 6600 else 6600) / 100)
        fr.encode_1dc(self._buf, c, n)
        self._send(0x1DC, self._buf)
        self._n10 = (n + 1) & 3
        if self.ze1:
            b = self._buf
            fr.encode_nib(b, 0x50, self._n1c2)
            self._n1c2 = (self._n1c2 + 1) & 15
            self._send(0x1C2, b, 1)
            fr.encode_1ed(b, n)
            self._send(0x1ED, b, 3)
            self._k5eb = self._k5eb + 1 if self._k5eb < 49 else 0
            if self._k5eb == 0:
                self._send(0x5EB, fr.FRAME_5EB)
        if with_55b:
            b = self._buf
            fr.encode_55b(b, self._n55b)  # a real pack's frame (P§2), with this pack's SOC in bytes 0-1
            r = int(self.soc * 10)
            b[0] = r >> 2
            b[1] = ((r & 3) << 6) | (b[1] & 0x3F)
            b[7] = fr.crc8(b, 7)
            self._n55b = (self._n55b + 1) & 3
            self._send(0x55B, b)
            fr.encode_5bc(b, 1 if self._n5bc >= 5 else 0)
            self._n5bc = self._n5bc + 1 if self._n5bc < 9 else 0
            self._send(0x5BC, b)
