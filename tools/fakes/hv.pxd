# Cython declarations for hv.py: extension types for the compiled models (tools/accel.py explains; Python
# ignores this file). Every attribute an instance gets must be named here.

cdef class HvCircuit:
    cdef public object _c, _t, ah, c_link, clock, closes, discharge, events, faults, i_load, i_pack
    cdef public object max_open_a, p_charge, p_load, pack_v, r_bleed, r_dis, r_pack, r_pre, t_close_us
    cdef public object t_open_us, v_link
