"""Run on the board by tools/deploy.py (probe()): what the board says about itself, as one JSON line after "@@":
MicroPython's version and .mpy format, free space, the SHA-256 of the files named in _A["paths"] and of every
file under _A["dirs"] (None: missing), the deploy manifest, the installed leafvcu version, the entries at the
filesystem root (what could shadow /lib). _A is defined in front of this text by deploy.py."""
import sys, os, json
def _h(p):
    try:
        f = open(p, 'rb')
    except OSError:
        return None
    try:
        import hashlib, binascii
        h = hashlib.sha256()
        b = bytearray(1024)
        m = memoryview(b)
        while True:
            n = f.readinto(b)
            if not n:
                break
            h.update(m[:n])
        return binascii.hexlify(h.digest()).decode()
    except ImportError:
        return 'nohash'
    finally:
        f.close()
def _walk(d, acc):
    try:
        it = list(os.ilistdir(d))
    except OSError:
        return acc
    for e in it:
        p = d + '/' + e[0]
        if e[1] & 0x4000:
            _walk(p, acc)
        else:
            acc.append(p)
    return acc
_i = sys.implementation
_r = {'ver': list(_i.version[:3]), 'mpy': getattr(_i, '_mpy', None), 'platform': sys.platform,
      'machine': getattr(_i, '_machine', '')}
try:
    _s = os.statvfs('/')
    _r['free'] = _s[1] * _s[4]
    _r['total'] = _s[1] * _s[2]
except Exception:
    _r['free'] = None
_p = _A['paths']
for _d in _A['dirs']:
    _walk(_d, _p)
_r['files'] = dict([(_x, _h(_x)) for _x in _p])
_r['root'] = [(_e[0], _e[1] & 0x4000 != 0) for _e in os.ilistdir('/')]
try:
    _f = open(_A['manifest'])
    _r['manifest'] = json.loads(_f.read())
    _f.close()
except Exception:
    _r['manifest'] = None
try:
    import leafvcu
    _r['installed'] = [leafvcu.VERSION, getattr(leafvcu, 'BUILD', None)]
except Exception:
    _r['installed'] = None
print('@@' + json.dumps(_r))
