"""The simulated car around the controller: HV circuit, inverter, motor and car, and the driver's controls.

A host model (CPython 3.11 and MicroPython 1.27). One object wires the parts to the virtual clock, the CAN bus and
the board's fake pins, steps them together every 10 ms and takes the fault injections by name:

    clock = VirtualClock(); bus = VirtualCANBus(clock)
    hw = board.Board(fakes.machine)                 # or anything with the same pin / ADC attributes
    plant = Plant(clock, bus, hw, params=app.params)
    plant.start()                                   # steps itself on the clock every 10 ms from now on
    plant.controls.ignition(True); plant.controls.pedal(40, over_s=2.0); plant.inject("can_loss")

Parts: plant.hv (fakes.hv.HvCircuit on hw.relay_pre / relay_main / relay_neg), plant.inv (fakes.inverter.Inverter
on the bus), plant.car (fakes.car.Car), plant.controls (Controls: hw.in_ignition / in_brake / in_forward /
in_reverse pins and the hw.pedal_a / pedal_b ADCs).

Each 10 ms tick (on the inverter's grid, so its 1DA leaves exactly every 10 ms), in this order: the HV circuit
integrates up to now (contactor changes land at their own instants in between), the car moves with the torque of
the last interval, the controls advance their ramps, the inverter reads the DC voltage and the motor speed, checks
its receive timeouts, updates its torque and sends 1DA (and 55A); then the load the inverter now draws and its
active discharge go to the HV circuit for the next interval.

Inverter 12 V: `inverter_power="always"` (default: permanent 12 V; the inverter sleeps when the VCM's 50B says so,
and its active discharge empties the DC link after key-off) or "ignition" (follows hw.in_ignition, the usual
conversion wiring: it goes silent at key-off).
"""

from fakes.hv import HvCircuit
from fakes.car import Car
from fakes.inverter import Inverter, PERIOD_US, PHASE_US
from fakes.bms import BmsModel

# The pedal's own two tracks (the hardware, which the params table's defaults describe: firmware params.py
# pot1min/pot1max/pot2min/pot2max). A user who changes those parameters miscalibrates; the pedal stays.
PEDAL_A = (10000, 55000)
PEDAL_B = (5000, 27500)
ADC_MAX = 65535

# name: (what, default argument or None). Scenario files use these names (tools/scenario.py checks them).
INJECTIONS = {
    "can_loss": ("the inverter stops sending (1DA, 55A)", None),
    "inverter_frozen": ("the inverter repeats one 1DA (counter stuck)", None),
    "inverter_bad_crc": ("the inverter's 1DA CRC is wrong", None),
    "inverter_vinvalid": ("the inverter reports its DC voltage invalid (1DA byte 0 0xFF)", None),
    "inverter_error": ("error bits in 1DA byte 6 (value, default 0x80)", 0x80),
    "inverter_off": ("the inverter loses its 12 V: silent, no ack", None),
    "overtemp": ("inverter temperature held at value degC (default 90)", 90.0),
    "precharge_open": ("missing / open precharge resistor: never charges", None),
    "precharge_short": ("shorted precharge resistor: charges impossibly fast", None),
    "main_welded": ("welded main contactor: DC link at pack voltage before precharge", None),
    "no_pack": ("no pack: 0 V", None),
    "dc_collapse": ("the pack voltage collapses to value V (default 100)", 100.0),
    "pack_open": ("the pack path opens (fuse): the DC link is on its own", None),
    "can_bus_error": ("every frame on the bus is destroyed by a bit error (wiring fault)", None),
    "pedal_disagree": ("pedal channel B reads value % of travel away from A (default 40)", 40.0),
    "pedal_a_open": ("pedal channel A open (reads 0)", None),
    "pedal_b_open": ("pedal channel B open (reads 0)", None),
    "pedal_a_short": ("pedal channel A shorted to supply (reads 65535)", None),
    "pedal_b_short": ("pedal channel B shorted to supply (reads 65535)", None),
    "pdm_silent": ("the PDM stops sending 390 / 393 (it goes on charging)", None),
    "ac_abnormal": ("the PDM reports abnormal AC (390 AC class 3): output 0", None),
    "charger_runaway": ("the PDM delivers value W whatever it is told (default 3300)", 3300.0),
    "stall": ("the controller's firmware freezes for value ms (default 100), as a garbage collection or a flash "
              "write freezes the ESP32; the bus, the car and the models go on (the simulator's, not the plant's; "
              "ends by itself)", 100.0),
    "bms_silent": ("the battery (BMS or Leaf battery, fakes.bms) stops sending", None),
    "bms_alarm": ("the BMS raises 35A alarm condition value (0 general .. 12 imbalance; default 1 high voltage)", 1),
    "bms_temp": ("the battery's temperature is value degC (default -5: too cold to charge)", -5.0),
    "bms_soc": ("the battery reports value % SOC (default 99: near full)", 99.0),
    "bms_dcl": ("the BMS's discharge current limit is value A (default 100)", 100.0),
    "bms_ccl": ("the BMS's charge current limit is value A (default 10)", 10.0),
    "bms_cvl": ("the BMS's charge voltage limit is value V (default 386)", 386.0),
}
# Injections that end by themselves (no `restore`), and what they allow as a value: (lowest, highest).
ONE_SHOT = {"stall": (1.0, 60000.0)}
_PDM = ("pdm_silent", "ac_abnormal", "charger_runaway")
_INV = {"can_loss": "mute", "inverter_frozen": "frozen", "inverter_bad_crc": "bad_crc", "inverter_error": "error",
        "inverter_off": "off", "overtemp": "overtemp", "inverter_vinvalid": "vinvalid"}
_BMS = ("bms_silent", "bms_alarm", "bms_temp", "bms_soc", "bms_dcl", "bms_ccl", "bms_cvl")
_HV = ("precharge_open", "precharge_short", "main_welded", "no_pack", "dc_collapse", "pack_open")

# Values a scenario's `expect SIGNAL OP NUMBER` can test: name -> unit.
SIGNALS = {
    "speed": "km/h",  # car speed, signed (reverse < 0)
    "rpm": "rpm",  # motor speed, signed
    "udc": "V",  # DC-link voltage
    "torque": "Nm",  # the inverter's effective torque
    "request": "Nm",  # the last 1D4 torque request the inverter accepted (clamped to the 1D4 limits)
    "pedal": "%",  # pedal position the driver holds
    "main": "0/1",  # main contactor physically closed
    "pre": "0/1",  # precharge relay physically closed
    "ipack": "A",  # pack current (+ = discharging)
    "tinv": "degC",  # inverter temperature
    "violations": "count",  # protocol violations the inverter counted
    "inverr": "raw",  # 1DA byte 6 error bits the inverter sends (bits 7..2 in place)
    "distance": "m",
    "chgcmd": "W",  # the charge power the PDM was last told (1F2)
    "chgout": "W",  # the power the PDM delivers
    "pack": "V",  # pack EMF (rises while charging)
    "soc": "%",  # the SOC the battery (fakes.bms) reports
    "dcl": "A",  # the discharge current limit the BMS sends
    "ccl": "A",  # the charge current limit the BMS sends
}

DIRECTIONS = {"forward": 1, "fwd": 1, "drive": 1, "d": 1, "reverse": -1, "rev": -1, "r": -1, "neutral": 0, "n": 0}


class Controls:
    """The driver: ignition, brake, direction switch (pins driven with pin.drive) and the pedal (two ADCs).
    pedal(pct, over_s, now_us) ramps linearly when over_s > 0 (step() advances the ramp)."""

    def __init__(self, hw, clock=None, pedal_a=PEDAL_A, pedal_b=PEDAL_B):
        self.hw = hw
        self.clock = clock
        self.cal_a = pedal_a
        self.cal_b = pedal_b
        self.pct = 0.0
        self.brake_on = False
        self.ign = False
        self.dir = 0
        self.faults = {}
        self._from = 0.0
        self._to = 0.0
        self._t0 = 0
        self._t1 = 0
        self.ignition(False)
        self.brake(False)
        self.direction("neutral")
        self._write()

    def _now(self, now_us):
        if now_us is not None:
            return now_us
        return self.clock.now_us if self.clock is not None else 0

    def ignition(self, on):
        self.ign = bool(on)
        self.hw.in_ignition.drive(1 if on else 0)

    def brake(self, on):
        self.brake_on = bool(on)
        self.hw.in_brake.drive(1 if on else 0)

    def direction(self, name):
        """forward / reverse / neutral (or 1, -1, 0)."""
        d = DIRECTIONS[name] if isinstance(name, str) else name
        self.dir = d
        self.hw.in_forward.drive(1 if d > 0 else 0)
        self.hw.in_reverse.drive(1 if d < 0 else 0)

    def pedal(self, pct, over_s=0.0, now_us=None):
        """Pedal to pct % of travel, at once or ramped over over_s seconds."""
        pct = float(pct)
        pct = 0.0 if pct < 0.0 else (100.0 if pct > 100.0 else pct)
        now = self._now(now_us)
        if over_s and over_s > 0.0:
            self._from = self.pct
            self._to = pct
            self._t0 = now
            self._t1 = now + int(over_s * 1000000)
        else:
            self.pct = pct
            self._to = pct
            self._t1 = now
        self._write()

    def step(self, now_us):
        if self.pct != self._to:
            if now_us >= self._t1:
                self.pct = self._to
            else:
                self.pct = self._from + (self._to - self._from) * (now_us - self._t0) / (self._t1 - self._t0)
            self._write()

    def inject(self, name, value=None):
        self.faults[name] = value
        self._write()

    def restore(self, name):
        self.faults.pop(name, None)
        self._write()

    def raw(self):
        """(A, B) ADC readings for the present pedal and faults."""
        f = self.faults
        p = self.pct
        a = _track(self.cal_a, p)
        pb = p
        if "pedal_disagree" in f:
            off = f["pedal_disagree"]
            off = 40.0 if off is None else float(off)
            pb = p + off if p + off <= 100.0 else p - off
        b = _track(self.cal_b, pb)
        if "pedal_a_open" in f:
            a = 0
        if "pedal_a_short" in f:
            a = ADC_MAX
        if "pedal_b_open" in f:
            b = 0
        if "pedal_b_short" in f:
            b = ADC_MAX
        return a, b

    def _write(self):
        a, b = self.raw()
        self.hw.pedal_a.set_u16(a)
        self.hw.pedal_b.set_u16(b)


def _track(cal, pct):
    lo, hi = cal
    return int(lo + (hi - lo) * pct / 100.0 + 0.5)


class Plant:
    """clock, bus, hw: see the module docstring. params: the firmware's Params (negcon: whether the negative
    contactor is fitted; None = not fitted). inverter_power: "always" or "ignition". Keyword arguments starting
    with hv_ go to HvCircuit (hv_pack_v=360.0, ...), car_ to Car."""

    def __init__(self, clock, bus, hw, params=None, inverter_power="always", phase_us=PHASE_US, **kw):
        self.clock = clock
        self.bus = bus
        self.hw = hw
        hv_kw = {}
        car_kw = {}
        for k in kw:
            if k.startswith("hv_"):
                hv_kw[k[3:]] = kw[k]
            elif k.startswith("car_"):
                car_kw[k[4:]] = kw[k]
            else:
                raise TypeError("unknown argument %s" % k)
        negcon = params is not None and getattr(params, "negcon", 0)
        self.hv = HvCircuit(clock, hw.relay_pre, hw.relay_main, hw.relay_neg if negcon else None, **hv_kw)
        self.car = Car(**car_kw)
        self.controls = Controls(hw, clock)
        if inverter_power == "ignition":
            self.inv = Inverter(clock, bus, power_pin=hw.in_ignition, phase_us=phase_us)
        elif inverter_power == "always":
            self.inv = Inverter(clock, bus, powered=True, phase_us=phase_us)
        else:
            raise ValueError("inverter_power: always or ignition")
        self.pdm = None  # a fakes.pdm.PdmModel when the car has a charger (attach_pdm)
        # The battery's own controller on the bus (fakes.bms); profile 0 (absent) until set_profile.
        self.bms = BmsModel(clock, bus, hv=self.hv)
        self.injected = {}
        self.ticks = 0
        self._t = clock.now_us
        self._timer = None
        self._running = False

    def set_inverter(self, model, every_keepalive=False):
        """The car's inverter model: "aze0" (fakes.inverter, the default), "ze1" (110 kW) or "ze1-160"
        (fakes.ze1); every_keepalive: a ZE1 that wants the keep-alives no source ties to a DTC as well. Before the
        run (a scenario's time 0): the new model takes the old one's place on the bus, power and grid."""
        old = self.inv
        if model == "aze0":
            from fakes.inverter import Inverter as cls
            kw = {}
        else:
            from fakes.ze1 import Ze1Inverter as cls
            kw = {"kw": 160 if model == "ze1-160" else 110, "evidence": "all" if every_keepalive else "notes"}
        self.bus.detach(old)
        self.inv = cls(self.clock, self.bus, powered=old._supply, phase_us=old.phase_us, **kw)

    def attach_pdm(self, v_per_kwh=3.0, **kw):
        """Gives the car a PDM on the bus, charging this plant's pack (fakes.pdm.HvPack). v_per_kwh: how fast
        the pack voltage rises with energy in (a small value for a real pack; the simulator uses a big one so
        a charge to the target fits in a minute)."""
        from fakes.pdm import PdmModel, HvPack

        self.pdm = PdmModel(self.clock, self.bus, pack=HvPack(self.hv, v_per_kwh), **kw)
        return self.pdm

    def plug(self, on):
        """The charge plug in (the PDM wakes and sends 0x679) or out."""
        if self.pdm is None:
            raise ValueError("this car has no PDM (Plant.attach_pdm)")
        if on:
            self.pdm.plug_in()
        else:
            self.pdm.unplug()

    # --- time -----------------------------------------------------------------------------------------------
    def start(self):
        """Step every 10 ms on the clock from now on (at the inverter's tick grid)."""
        self._running = True
        self._schedule(self.clock.now_us)

    def stop(self):
        self._running = False
        self.clock.cancel(self._timer)
        self._timer = None

    def _schedule(self, after_us):
        ph = self.inv.phase_us
        m = (after_us - ph) // PERIOD_US + 1
        self._timer = self.clock.call_at(ph + m * PERIOD_US, self._on_timer)

    def _on_timer(self):
        now = self.clock.now_us
        self.step(now)
        if self._running:
            self._schedule(now)

    def step(self, now_us):
        """Bring every part to now_us (a no-op when already there)."""
        dt_us = now_us - self._t
        if dt_us <= 0:
            return
        self._t = now_us
        self.ticks += 1
        hv = self.hv
        car = self.car
        inv = self.inv
        hv.advance(now_us)
        car.step(dt_us * 1e-6)
        c = self.controls
        c.step(now_us)
        car.brake = 1.0 if c.brake_on else 0.0
        inv.v_dc = hv.v_link
        inv.rpm = car.rpm
        inv.step(now_us)
        car.torque = inv.torque_nm
        hv.p_load = car.p_elec()
        hv.discharge = inv.discharging

    # --- faults ---------------------------------------------------------------------------------------------
    def inject(self, name, value=None):
        """Injects a fault by INJECTIONS name; value None = its default."""
        if name not in INJECTIONS:
            raise ValueError("unknown injection %s" % name)
        if name in ONE_SHOT:
            raise ValueError("%s acts on the controller, not the car: the simulator's World.stall()" % name)
        if value is None:
            value = INJECTIONS[name][1]
        self.step(self.clock.now_us)
        self.injected[name] = value
        if name in _INV:
            self.inv.inject(_INV[name], value)
        elif name in _HV:
            self.hv.inject(name, value)
        elif name == "can_bus_error":
            self.bus.fault = "bit_error"
        elif name in _PDM:
            self._pdm_inject(name, value)
        elif name in _BMS:
            self._bms_inject(name, value)
        else:
            self.controls.inject(name, value)

    def restore(self, name):
        """Undoes an injection."""
        if name not in INJECTIONS:
            raise ValueError("unknown injection %s" % name)
        self.step(self.clock.now_us)
        self.injected.pop(name, None)
        if name in _INV:
            self.inv.restore(_INV[name])
        elif name in _HV:
            self.hv.restore(name)
        elif name == "can_bus_error":
            self.bus.fault = None
        elif name in _PDM:
            self._pdm_inject(name, None, restore=True)
        elif name in _BMS:
            self._bms_inject(name, None, restore=True)
        else:
            self.controls.restore(name)

    def _pdm_inject(self, name, value, restore=False):
        from fakes.pdm import AC_ABNORMAL

        pdm = self.pdm
        if pdm is None:
            raise ValueError("this car has no PDM (Plant.attach_pdm)")
        if name == "pdm_silent":
            pdm.silent = not restore
        elif name == "ac_abnormal":
            pdm.set_ac(pdm.ac_plugged if restore else AC_ABNORMAL)
        else:
            pdm.stuck_w = None if restore else float(value)

    def _bms_inject(self, name, value, restore=False):
        b = self.bms
        if name == "bms_silent":
            b.silent = not restore
        elif name == "bms_alarm":
            if restore:
                b.alarms.clear()
            else:
                b.alarms.add(int(value))
        elif name == "bms_temp":
            b.temp_c = 25.0 if restore else float(value)
        elif name == "bms_cvl":
            b.cvl = 393.6 if restore else float(value)
        else:
            setattr(b, name[4:] + "_force", None if restore else float(value))

    # --- views ----------------------------------------------------------------------------------------------
    def signal(self, name):
        """The value of a SIGNALS name (float or int)."""
        if name == "speed":
            return self.car.speed_kmh
        if name == "rpm":
            return self.car.rpm
        if name == "udc":
            return self.hv.v_link
        if name == "torque":
            return self.inv.torque_nm
        if name == "request":
            return self.inv.request_nm
        if name == "pedal":
            return self.controls.pct
        if name == "main":
            return 1 if self.hv.closed("main") else 0
        if name == "pre":
            return 1 if self.hv.closed("pre") else 0
        if name == "ipack":
            return self.hv.i_pack
        if name == "tinv":
            return self.inv.inverter_c
        if name == "violations":
            return self.inv.violation_count()
        if name == "inverr":
            return self.inv.errors
        if name == "distance":
            return self.car.x
        if name in ("chgcmd", "chgout"):
            if self.pdm is None:
                return 0
            return self.pdm.cmd_w if name == "chgcmd" else self.pdm.out_w
        if name == "pack":
            return self.hv.pack_v
        if name in ("soc", "dcl", "ccl"):
            return getattr(self.bms, name)
        raise ValueError("unknown signal %s" % name)

    def status(self):
        """One line for a live status display."""
        inv = self.inv
        return "udc %5.1f V  %6.1f km/h %6.0f rpm  torque %6.1f Nm  inv %s%s" % (
            self.hv.v_link, self.car.speed_kmh, self.car.rpm, inv.torque_nm, inv.why or "ready",
            (" err 0x%02X" % inv.errors) if inv.errors else "")
