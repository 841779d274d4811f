# Cython declarations for canbus.py (tools/accel.py compiles the models with them; Python ignores this file):
# the classes the simulator calls most become extension types, their attributes C fields instead of
# dictionary entries. Every attribute an instance gets must be named here: the compiled class has no
# __dict__ (tests/test_accel.py runs scenarios through both kinds and compares their bus logs).


cdef class VirtualCANBus:
    cdef public object _bits_cache, _contenders, _cur, _done_until, _evt_t, _hosts, _idle_at, _next_t
    cdef public object _on_timer_ref, _running, _slot, _timer, _timer_t, _timers_ok, bitrate, busy_us, clock
    cdef public object errors, exact_stuffing, fault, frames_failed, frames_ok, host_retransmit, log
    cdef public object log_limit, nodes

cdef class _HostQueue:
    cdef public object bus, queue, sender
