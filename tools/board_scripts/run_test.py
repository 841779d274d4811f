"""Run on the board by tools/deploy.py (selftest): one tests/cross module under micropython-lib's unittest, in a
fresh interpreter; prints "@@[passed, failed, skipped]". _A is defined in front of this text by deploy.py."""
import sys, gc
sys.path[:0] = [_A['tests'], _A['lib']]
import unittest
_m = __import__(_A['module'])
_s = unittest.TestSuite()
for _n in dir(_m):
    _o = getattr(_m, _n)
    if isinstance(_o, type) and issubclass(_o, unittest.TestCase) and _o is not unittest.TestCase:
        _s.addTest(_o)
_r = unittest.TextTestRunner().run(_s)
_bad = _r.errorsNum + _r.failuresNum
print('@@[%d, %d, %d]' % (_r.testsRun - _bad - _r.skippedNum, _bad, _r.skippedNum))
