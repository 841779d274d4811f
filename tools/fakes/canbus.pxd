# Cython declarations for canbus.py: extension types for the compiled models (tools/accel.py explains; Python
# ignores this file). Every attribute an instance gets must be named here.

cdef class VirtualCANBus:
    cdef public object _bits_cache, _contenders, _cur, _done_until, _evt_t, _hosts, _idle_at, _next_t
    cdef public object _on_timer_ref, _running, _slot, _timer, _timer_t, _timers_ok, bitrate, busy_us, clock
    cdef public object errors, exact_stuffing, fault, frames_failed, frames_ok, host_retransmit, log
    cdef public object log_limit, nodes

cdef class _HostQueue:
    cdef public object bus, queue, sender
