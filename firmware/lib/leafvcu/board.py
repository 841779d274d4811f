"""The TinyPICO pin map, and the only module that imports `machine` (DESIGN.md: one door to hardware).

Everything else receives the objects built here, so tests and the simulator hand in fakes instead.
`build(machine)` takes the machine module as an argument for the same reason: the simulator passes
`fakes.machine`, the board its own.

Pin choice: the TinyPICO brings out 14 GPIOs (25 26 27 15 14 4 | 33 32 21 22 5 18 19 23); 2/12/13 drive its
APA102 LED and 34/35 sense its battery. The MCP2515 sits on the ESP32's VSPI pins, the pedal on the two
ADC1 pins (ADC2 cannot be read while the radio is on). That leaves seven pins for three relays and four
inputs, so ignition doubles as the start request (the controller starts when ignition is on and the pedal
released) and the direction switch uses two inputs (neither = neutral). GPIO15 is a strapping pin that
only silences the ROM boot log when low, harmless for an input. Relay outputs float while the ESP32
resets: the relay drivers need pull-down resistors so a rebooting board never closes a contactor.
"""

# name: GPIO number. One table, also printed in docs/wiring.md.
PINS = {
    "spi_sck": 18,
    "spi_mosi": 23,
    "spi_miso": 19,
    "can_cs": 5,        # MCP2515 CS, active low
    "can_int": 4,       # MCP2515 INT, active low, open drain: pulled up here
    "relay_pre": 25,    # precharge relay driver, high = closed
    "relay_main": 26,   # main positive contactor driver, high = closed
    "relay_neg": 27,    # main negative contactor driver (optional), high = closed
    "in_ignition": 14,  # ignition / start: key on, high = on (through an opto or divider to 3.3 V)
    "in_brake": 21,     # brake pedal switch, high = pressed
    "in_forward": 22,   # direction switch forward, high = selected
    "in_reverse": 15,   # direction switch reverse, high = selected
    "pedal_a": 32,      # throttle channel A (ADC1_CH4)
    "pedal_b": 33,      # throttle channel B (ADC1_CH5)
}

SPI_ID = 2              # VSPI
SPI_BAUD = 8_000_000    # MCP2515 allows 10 MHz
# Most MCP2515 breakout boards carry an 8 MHz crystal, some 16 MHz: the firmware runs the chip at the saved
# parameter canxtal (MHz, default 8 = this), never at this constant; the simulator's chip model and the selftest's
# expectation use it as the usual module's crystal.
CAN_CRYSTAL = 8_000_000
CAN_BITRATE = 500_000   # EV-CAN


class Board:
    """The hardware objects the controller needs, built from PINS."""

    def __init__(self, machine):
        Pin = machine.Pin
        p = PINS
        self.spi = machine.SPI(SPI_ID, baudrate=SPI_BAUD, polarity=0, phase=0,
                               sck=Pin(p["spi_sck"]), mosi=Pin(p["spi_mosi"]), miso=Pin(p["spi_miso"]))
        self.can_cs = Pin(p["can_cs"], Pin.OUT, value=1)
        self.can_int = Pin(p["can_int"], Pin.IN, Pin.PULL_UP)
        # value=0 first: the outputs come up open (contactors released).
        self.relay_pre = Pin(p["relay_pre"], Pin.OUT, value=0)
        self.relay_main = Pin(p["relay_main"], Pin.OUT, value=0)
        self.relay_neg = Pin(p["relay_neg"], Pin.OUT, value=0)
        self.in_ignition = Pin(p["in_ignition"], Pin.IN, Pin.PULL_DOWN)
        self.in_brake = Pin(p["in_brake"], Pin.IN, Pin.PULL_DOWN)
        self.in_forward = Pin(p["in_forward"], Pin.IN, Pin.PULL_DOWN)
        self.in_reverse = Pin(p["in_reverse"], Pin.IN, Pin.PULL_DOWN)
        self.pedal_a = self._adc(machine, p["pedal_a"])
        self.pedal_b = self._adc(machine, p["pedal_b"])
        self._machine = machine
        self._rtc = machine.RTC()
        self.WDT_RESET = machine.WDT_RESET

    @staticmethod
    def _adc(machine, gpio):
        adc = machine.ADC(machine.Pin(gpio))
        try:
            adc.atten(machine.ADC.ATTN_11DB)  # full 0..3.3 V range for a 5 V pedal through a divider
        except AttributeError:
            pass
        return adc

    def keep(self, data):
        """Keeps a small blob across soft and watchdog resets (RTC memory: the fault log)."""
        self._rtc.memory(data)

    def kept(self):
        return self._rtc.memory()

    def reset(self):
        self._machine.reset()

    def watchdog(self, timeout_ms):
        """The hardware watchdog. On the ESP32 it cannot be stopped once started, so the controller arms it
        only when HV is first requested (see docs/safety.md)."""
        return self._machine.WDT(timeout=timeout_ms)

    def reset_cause(self):
        return self._machine.reset_cause()


def build():
    """The board's own hardware. The one `import machine` of the firmware (boot.py aside)."""
    import machine

    return Board(machine)


def safe_mode_requested():
    """boot.py's check: brake held and ignition off at power-up."""
    import machine

    brake = machine.Pin(PINS["in_brake"], machine.Pin.IN, machine.Pin.PULL_DOWN)
    ignition = machine.Pin(PINS["in_ignition"], machine.Pin.IN, machine.Pin.PULL_DOWN)
    return brake.value() == 1 and ignition.value() == 0
