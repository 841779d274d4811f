"""Run on the board by tools/deploy.py (commit()): the switch-over, sent whole and then run without the host.
Writes the journal, moves main.py aside (a power cut from here on boots to the REPL, controller off, never a
mix of old and new modules), deletes what shadows /lib (--remove-shadows), renames the staged files into place,
deletes stale files (and the parameters with --reset-params), writes the manifest, puts main.py back last,
removes the journal and the staging folder. _A is defined in front of this text by deploy.py."""
import os, json
_S = _A['stage']
def _exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False
def _mkdirs(d):
    p = ''
    for part in d.split('/')[1:]:
        p += '/' + part
        if not _exists(p):
            os.mkdir(p)
def _place(src, dst):
    _mkdirs(dst.rsplit('/', 1)[0] or '/')
    try:
        os.rename(src, dst)
    except OSError:
        try:
            os.remove(dst)
        except OSError:
            pass
        os.rename(src, dst)
def _rm(p):
    try:
        os.remove(p)
    except OSError:
        pass
def _rmtree(d):
    try:
        it = list(os.ilistdir(d))
    except OSError:
        return
    for e in it:
        p = d + '/' + e[0]
        if e[1] & 0x4000:
            _rmtree(p)
        else:
            _rm(p)
    try:
        os.rmdir(d)
    except OSError:
        pass
_moves = _A['moves']
_stale = _A['stale']
for _p, _d in _A['shadows']:
    if _d:
        _rmtree(_p)
    else:
        _rm(_p)
_params = _A['params']
_f = open(_A['journal'], 'w')
_f.write(json.dumps({'moves': _moves, 'stale': _stale}))
_f.close()
if _exists('/main.py'):
    _place('/main.py', _A['aside'])
for _p in _moves:
    if _p not in ('/main.py', '/boot.py') and _exists(_S + _p):
        _place(_S + _p, _p)
for _p in _stale:
    _rm(_p)
for _p in _params:
    _rm(_p)
if '/boot.py' in _moves and _exists(_S + '/boot.py'):
    _place(_S + '/boot.py', '/boot.py')
_f = open(_A['manifest'] + '.new', 'w')
_f.write(_A['manifest_text'])
_f.close()
_place(_A['manifest'] + '.new', _A['manifest'])
if '/main.py' in _moves and _exists(_S + '/main.py'):
    _place(_S + '/main.py', '/main.py')
elif not _exists('/main.py') and _exists(_A['aside']):
    _place(_A['aside'], '/main.py')
_rm(_A['aside'])
_rm(_A['journal'])
_rmtree(_S)
print('@@{"ok": true}')
