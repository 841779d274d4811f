# Cython declarations for pdm.py: extension types for the compiled models (tools/accel.py explains; Python
# ignores this file). Every attribute an instance gets must be named here.

cdef class PdmModel:
    cdef public object _buf, _cmd, _t_tx, _t_upd, _timer, _tq, ac, ac_plugged, acks, armed, avail_110_w
    cdef public object avail_230_w, awake, bus, charged, clock, cmd_w, failsafe, frozen, history, hv_min_v
    cdef public object last_1d4, last_1f2, last_vcm, max_w, n390, n393, name, out_w, outbox, pack, period_ms
    cdef public object plugged, sent, silent, sleep_ms, slew_w_s, status, stuck_w, t_ms, timeout_ms
    cdef public object transition, wake_679
    cdef public object strict, startup, why, _t_wake, _t_cmd, _last_b, _gear_p, _gear
