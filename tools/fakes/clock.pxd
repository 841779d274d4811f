# Cython declarations for clock.py (tools/accel.py compiles the models with them; Python ignores this file):
# the classes the simulator calls most become extension types, their attributes C fields instead of
# dictionary entries. Every attribute an instance gets must be named here: the compiled class has no
# __dict__ (tests/test_accel.py runs scenarios through both kinds and compares their bus logs).


cdef class VirtualClock:
    cdef public object _epoch_s, _seq, _slot_cb, _timers, now_us, slot_t, wake
