"""Run on the board by tools/deploy.py (selftest): the MCP2515 in loopback mode through board.py's pins, which
proves the SPI wiring, the INT line and the crystal setting (the saved parameter canxtal); prints its findings as one JSON line after "@@".
_A is defined in front of this text by deploy.py."""
import json, time
from leafvcu import board as B
import mcp2515
_res = {'ok': False, 'devices': None}
# The crystal the firmware will use: the saved parameter canxtal (MHz), as the controller loads it.
try:
    from leafvcu.params import Params
    from leafvcu.settings import Settings
    _p = Params()
    Settings(_p).load()
    _xtal = _p.canxtal * 1000000
    # The devices the saved parameters choose (leafvcu/choice.py), as the controller will build them.
    from leafvcu import choice as _ch
    _d = []
    for _kind, _name, _opts in _ch.KINDS:
        _v = getattr(_p, _name)
        _c = 'none'
        for _val, _cls in _opts:
            if _val == _v and _cls is not None:
                _c = _cls.__name__
        _d.append('%s %s (%s %d)' % (_kind, _c, _name, _v))
    if _p.inverter == 1 and _p.spoof == 0:   # who sends the 2018+ pack's 1C2 / 1ED / 5EB (docs/devices.md)
        _d.append('1C2/1ED/5EB from %s (ze1batt %d)' % (('the pack, watched', 'the controller')[_p.ze1batt], _p.ze1batt))
    _d.append('battery limits from %s (bmsdev %d)' % (('nothing', 'a Leaf battery', 'a CAN BMS')[_p.bmsdev], _p.bmsdev))
    _res['devices'] = ', '.join(_d)
except Exception:
    _xtal = B.CAN_CRYSTAL
try:
    _hw = B.build()
    _can = mcp2515.MCP2515(_hw.spi, _hw.can_cs)
    _rate = _A['rate']
    _can.init(_rate, _xtal, mcp2515.LOOPBACK)
    _can.accept_all()
    _res['mode'] = _can.read_register(0x0E) & 0xE0
    # 1. a frame out and back: MOSI, MISO, SCK, CS and the chip's protocol engine
    _data = bytes([0x55, 0xAA, 0x0F, 0xF0, 0x01, 0x80, 0x3C, 0xC3])
    while _can.recv() >= 0:
        pass
    _ok = _can.send(0x2AA, _data)
    _t = time.ticks_ms()
    _got = -1
    while time.ticks_diff(time.ticks_ms(), _t) < 500:
        _got = _can.recv()
        if _got >= 0:
            break
    _res['echo'] = _got == 0x2AA and bytes(_can.rx_data) == _data
    _res['echo_id'] = _got
    # 2. INT: low while a received frame waits
    _can.send(0x2AA, _data)
    _t = time.ticks_ms()
    _low = False
    while time.ticks_diff(time.ticks_ms(), _t) < 500:
        if _hw.can_int.value() == 0:
            _low = True
            break
    while _can.recv() >= 0:
        pass
    _res['int'] = _low
    # 3. timing: _A['frames'] frames back to back at _A['rate'] bit/s: a wrong crystal setting scales the time
    _best = None
    for _k in range(3):
        while _can.recv() >= 0:
            pass
        _n = 0
        _t0 = time.ticks_us()
        for _i in range(_A['frames']):
            while not _can.send(0x2AA, _data):
                if _can.recv() >= 0:
                    _n += 1
        while _n < _A['frames'] and time.ticks_diff(time.ticks_us(), _t0) < 2000000:
            if _can.recv() >= 0:
                _n += 1
        _dt = time.ticks_diff(time.ticks_us(), _t0)
        if _n == _A['frames'] and (_best is None or _dt < _best):
            _best = _dt
    _res['us'] = _best
    _res['crystal'] = _xtal
    _res['ok'] = True
except Exception as e:
    _res['error'] = '%s: %s' % (type(e).__name__, e)
try:
    _can.set_mode(mcp2515.CONFIG)
except Exception:
    pass
print('@@' + json.dumps(_res))
