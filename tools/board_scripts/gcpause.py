"""Run on the board by tools/deploy.py (selftest): what a garbage collection costs on this board with the
controller's heap, as one JSON line after "@@". The controller is built as main.py builds it (board.build(),
App, its console) but never started: the relay pins stay low, the CAN controller untouched. Then the collector
(leafvcu/collector.py) times collections of that heap, with the console's kind of garbage in it (short strings and
lists, STEP bytes of them, what the slot finds when it collects), and the gc.mem_alloc() call its slot makes.
_A is defined in front of this text by deploy.py."""
import gc, json, sys, time
_res = {'ok': False, 'platform': sys.platform}
try:
    from leafvcu import board as B
    from leafvcu.app import App
    from leafvcu import collector as C
    _app = App(B.build(), bitrate=B.CAN_BITRATE)

    class _Port:
        def read_some(self, n):
            return b''

        def write(self, text):
            pass

    _app.attach_console(_Port(), echo=False)
    _col = _app.collector
    _times = []
    for _k in range(_A['rounds']):
        _junk = []
        _n = 0
        while _n < _col.step:
            _junk.append('%d,%d' % (_n, _k) + 'x' * 20)
            _n += 48
        _junk = None
        _times.append(_col.collect())
    _res['collect_us'] = _times
    _res['live'] = _col.live
    _res['heap'] = _col.size
    _t0 = time.ticks_us()
    for _k in range(10):
        gc.mem_alloc()
    _res['mem_alloc_us'] = time.ticks_diff(time.ticks_us(), _t0) // 10
    _res['slot_us'] = C.SLOT_US
    _res['gap_us'] = C.GAP_US
    _res['late_budget_us'] = C.LATE_BUDGET_US
    _res['ok'] = True
except Exception as e:
    _res['error'] = '%s: %s' % (type(e).__name__, e)
print('@@' + json.dumps(_res))
