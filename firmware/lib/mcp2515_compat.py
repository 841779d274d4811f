"""Calls of JonETJakobsson/micropython-mcp2515 over leafvcu's allocation-free driver.

Scripts written for that library keep working with two changed lines (import, constructor):

    from mcp2515_compat import CAN          # was: from mcp2515.can import CAN
    can = CAN(SPI(1, baudrate=10_000_000, sck=sck, mosi=mosi, miso=miso), cs)
                                             # was: CAN(miso, mosi, sck, cs)
    can.init(bit_rate=500E3, clock_freq=8E6)
    msg = can.read_message()                 # {'id', 'RTR', 'extendedID', 'data_length', 'data'} or False
    can.write_message(0x123, [1, 2, 3])
    can.message_available()
    can.set_filter(id=0x123, filter=0)       # clear=True accepts everything again

This layer allocates (dicts, lists), as the original does; the firmware's hot path uses
mcp2515.MCP2515 directly. Differences, all deliberate:
- init() computes the bit timing from the datasheet rules (mcp2515.bit_timing); the
  SJW/BTLMODE/SAM/PRESEG/PHSEG1/PHSEG2 arguments are accepted and ignored.
- write_message() returns True/False (the original returned None, also when it dropped
  the frame); it never waits for a buffer.
- Nothing is printed; a chip that does not answer raises mcp2515.MCP2515Error.
"""

import mcp2515 as _drv


class CAN:
    def __init__(self, spi, cs, *more, clock=None):
        if more:
            # The original took (miso, mosi, sck, cs) and re-initialised SPI(1) around every
            # register access. Here the script builds the bus once (DESIGN.md: only board
            # code imports machine), e.g.
            #   CAN(SPI(1, baudrate=10_000_000, sck=sck, mosi=mosi, miso=miso), cs)
            raise TypeError("CAN(spi, cs): build the bus once, e.g. CAN(SPI(1, baudrate=10_000_000,"
                            " sck=sck, mosi=mosi, miso=miso), cs)")
        self.driver = _drv.MCP2515(spi, cs, clock=clock)

    def init(self, bit_rate=500e3, clock_freq=8e6, SJW=1, BTLMODE=1, SAM=0, PRESEG=0, PHSEG1=2, PHSEG2=2):
        self.driver.init(bitrate=int(bit_rate), crystal=int(clock_freq))

    def reset(self):
        self.driver.reset()

    # --- messages --------------------------------------------------------------------------
    def message_available(self):
        return bool(self.driver.read_status() & 0x03)

    def read_message(self):
        d = self.driver
        can_id = d.recv()
        if can_id < 0:
            return False
        return {
            "id": can_id,
            "RTR": d.rx_rtr,
            "extendedID": d.rx_ext,
            "data_length": d.rx_dlc,
            "data": list(d.rx_data),
        }

    def write_message(self, id, data_message, rtr=0, extendedID=False):
        data = bytes(data_message)
        if len(data) > 8:
            raise ValueError("at most 8 data bytes")
        return self.driver.send(id, data, len(data), ext=bool(extendedID), rtr=bool(rtr))

    # --- filters ---------------------------------------------------------------------------
    def set_filter(self, id=0x000, filter=0, extendedID=False, clear=False):
        """Filter `filter` (0..5) admits `id` exactly (its buffer's mask fully set);
        clear=True turns filtering off again."""
        d = self.driver
        if clear:
            d.accept_all()
            return
        full = 0x1FFFFFFF if extendedID else 0x7FF
        d.set_mask(0 if filter < 2 else 1, full, ext=extendedID)
        d.set_filter(filter, id, ext=bool(extendedID))

    # --- modes, registers, interrupts --------------------------------------------------------
    def get_opmod(self):
        return self.driver.read_register(0x0E) >> 5

    def set_opmod(self, mode):
        self.driver.set_mode(mode & 0xE0)

    def read_register(self, address):
        return self.driver.read_register(address)

    def write_register(self, address, data):
        self.driver.write_register(address, *data)

    def bitmodify_register(self, address, mask, data):
        self.driver.bit_modify(address, mask, data)

    def read_status(self):
        s = self.driver.read_status()
        return {
            "RX0IF": s & 1, "RX1IF": s >> 1 & 1,
            "TX0REQ": s >> 2 & 1, "TX0IF": s >> 3 & 1,
            "TX1REQ": s >> 4 & 1, "TX1IF": s >> 5 & 1,
            "TX2REQ": s >> 6 & 1, "TX2IF": s >> 7 & 1,
        }

    def rx_status(self):
        s = self.driver.rx_status()
        return {
            "filter_match": s & 0x07, "RTR": s >> 3 & 1, "extendedID": s >> 4 & 1,
            "RXB0": s >> 6 & 1, "RXB1": s >> 7 & 1,
        }

    def enable_interrupts(self, message_error=False, wake_up=False, errors=False, tx0_empty=False,
                          tx1_empty=False, tx2_empty=False, rx0_full=False, rx1_full=False):
        bits = ((0x80 if message_error else 0) | (0x40 if wake_up else 0) | (0x20 if errors else 0)
                | (0x10 if tx2_empty else 0) | (0x08 if tx1_empty else 0) | (0x04 if tx0_empty else 0)
                | (0x02 if rx1_full else 0) | (0x01 if rx0_full else 0))
        self.driver.bit_modify(0x2B, bits, 0xFF)

    def clear_message_error(self):
        self.driver.bit_modify(0x2C, 0x80, 0)

    def clear_wake_up(self):
        self.driver.bit_modify(0x2C, 0x40, 0)

    def clear_error(self):
        self.driver.bit_modify(0x2C, 0x20, 0)

    def which_interrupt(self):
        codes = ("No interrupts", "Error", "Wake-up", "TX0", "TX1", "TX2", "RX0", "RX1")
        return codes[self.driver.read_register(0x0E) >> 1 & 0x07]

    def abort_messages(self):
        self.driver.abort_all()
