"""Host models shared by the tests and the simulator (they run under CPython 3.11 and MicroPython 1.27).

    clock.VirtualClock         the MicroPython `time` API on virtual time, plus timers for the models
    machine                    a fake `machine` module: Pin, SPI, ADC, WDT
    canbus.VirtualCANBus       a CAN bus with arbitration, ACK, frame times and a log
    mcp2515_chip.MCP2515Chip   a register-level MCP2515 that a driver talks to byte by byte over fake SPI
    inverter.Inverter          a simulated AZE0 inverter on the bus: sends 1DA / 55A, checks 11A / 1D4 / 50B
    hv.HvCircuit               pack, contactors on the relay pins, precharge resistor, DC-link capacitor
    car.Car                    motor torque -> car speed, the power it takes
    plant.Plant                all of the above plus the driver's controls, stepped together every 10 ms

Nothing here is imported by the firmware; the firmware receives these objects as constructor arguments.
"""
