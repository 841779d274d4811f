# Cython declarations for inverter.py: extension types for the compiled models (tools/accel.py explains; Python
# ignores this file). Every attribute an instance gets must be named here.

cdef class Inverter:
    cdef public object _alpha, _asleep, _auto, _awake50b, _b1da, _b55a, _car_on, _comm, _comm_t, _dead, _heard
    cdef public object _hv_low, _k, _last1da, _n, _next, _on_seen, _p11a, _p1d4, _session, _supply, _t11a
    cdef public object _t1d4, _t50b, _t_on, _timer, _to11a, _to1d4, _to50b, ambient_c, bus, clock, discharging
    cdef public object errors, injected, inverter_c, motor_c, phase_us, powered, r11a, r1d4, r50b, received
    cdef public object recover_us, request_nm, rpm, rx_timeout_50b_us, rx_timeout_us, sent, sessions, status
    cdef public object target_nm, torque_nm, v_dc, violation_log, violations, why, strict, _loss_t, _pnib, _t7, _s55a
    cdef public object t_max_nm, p_max_w
