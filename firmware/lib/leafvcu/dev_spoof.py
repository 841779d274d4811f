"""No Leaf battery on the bus: the battery frames the inverter and the PDM expect, spoofed (`spoof 1`).

1DB (status: pack voltage from the DC link, current from the PDM's output, SOC spfsoc) in the third pinned TX
buffer and 1DC (power limits) in the +5 ms batch, both every 10 ms from 50 ms after the wake-up (the first +0 ms
batch at or after that decides for both: 1DC follows 1DB 5 ms later, as a real pack's frames follow 50B);
55B (SOC, counter) and 5BC (byte 4 bit 0 flips every 500 ms, as a real AZE0 pack's) every 100 ms from 100 ms
after the wake-up; 59E every 500 ms from 2 s (PROTOCOL.md section 2, issue 19's start-up order). The contents
come from the core's charger (charger.Charger.fill_1db / fill_1dc). Receives nothing.
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


from leafvcu import frames as fr
from leafvcu.devices import J10, J10B, J100, PIN, LEND, SEND
from leafvcu.dev_ze1pack import Ze1Pack

_T_BATT10 = const(50)
_T_BATT100 = const(100)
_T_59E = const(2000)


class SpoofedBattery(Ze1Pack):
    TX = (
        (0x1DB, 8, 10, 0, J10, PIN, "enc_1db", 0, 4),
        (0x1DC, 8, 10, 0, J10B, LEND, "enc_1dc", 0, 4),
        (0x59E, 8, 500, 0, J10B, LEND, "enc_59e", 0, 0),
        (0x55B, 8, 100, 0, J100, SEND, "enc_55b", 0, 4),
        (0x5BC, 8, 100, 0, J100, SEND, "enc_5bc", 0, 0),
    )

    # With a ZE1 inverter: Ze1Pack.TX_ZE1 (1C2 and 1ED every 10 ms, 5EB every 500 ms), as a 62 kWh pack sends them

    def __init__(self, app):
        Ze1Pack.__init__(self, app)
        self.name = "spoofed"
        if self.p.inverter == 1:
            self.TX = SpoofedBattery.TX + Ze1Pack.TX_ZE1
        self.m1db = fr.RawBatteryStatus()
        self.m1dc = fr.RawBatteryLimits()
        self.go10 = False   # the 10 ms frames may go (_T_BATT10 after the wake-up, seen by a +0 ms batch)
        self.n5bc = 0       # 5BC's 100 ms runs: byte 4 bit 0 is 1 in the second half of each second

    def woke(self):
        self.go10 = False

    def enc_1db(self, buf, n):
        if not self.go10:
            self.go10 = self.app.elapsed() >= _T_BATT10
            if not self.go10:
                return 0
        m = self.m1db
        self.vcm.fill_1db(m)
        fr.encode_1db(buf, m, n)
        return 8

    def enc_1dc(self, buf, n):
        if not self.go10:
            return 0
        m = self.m1dc
        self.vcm.fill_1dc(m)
        fr.encode_1dc(buf, m, n)
        return 8

    def enc_59e(self, buf, n):
        if self.app.elapsed() < _T_59E:
            return 0
        fr.encode_59e(buf)
        return 8

    def enc_55b(self, buf, n):
        if self.app.elapsed() < _T_BATT100:
            return 0
        fr.encode_55b(buf, n)
        return 8

    def enc_5bc(self, buf, n):
        if self.app.elapsed() < _T_BATT100:
            return 0
        k = self.n5bc
        fr.encode_5bc(buf, 1 if k >= 5 else 0)
        self.n5bc = k + 1 if k < 9 else 0
        return 8
