# Cython declarations for clock.py: extension types for the compiled models (tools/accel.py explains; Python
# ignores this file). Every attribute an instance gets must be named here.

cdef class VirtualClock:
    cdef public object _epoch_s, _seq, _slot_cb, _timers, now_us, slot_t, wake
