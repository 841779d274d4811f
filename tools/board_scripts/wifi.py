"""Run on the board by tools/deploy.py (selftest): the dashboard's state, without its secrets: the saved `wifi`
parameter, whether the radio, microdot, the page and the board's Wi-Fi key are there, and the access point's
state (active, network name). Prints one JSON line after "@@". _A is defined in front of this text by deploy.py."""
import json, os
_res = {}
try:
    from leafvcu.params import Params
    from leafvcu.settings import Settings
    _p = Params()
    Settings(_p).load()
    _res['wifi'] = _p.wifi
except Exception as e:
    _res['wifi'] = None


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


_res['microdot'] = _exists('/lib/microdot/microdot.mpy') or _exists('/lib/microdot/microdot.py') or \
    _exists('/lib/microdot.py') or _exists('/lib/microdot.mpy')
_res['page'] = _exists('/web/index.html.gz') and _exists('/web/app.js.gz') and _exists('/web/app.css.gz')
_res['key'] = _exists('/wifi.key')
try:
    import network
    _ap = network.WLAN(network.AP_IF)
    _res['radio'] = True
    _res['active'] = bool(_ap.active())
    try:
        _res['ssid'] = _ap.config('ssid') if _res['active'] else None
    except Exception:
        _res['ssid'] = None
except ImportError:
    _res['radio'] = False
print('@@' + json.dumps(_res))
