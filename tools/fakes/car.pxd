# Cython declarations for car.py: extension types for the compiled models (tools/accel.py explains; Python
# ignores this file). Every attribute an instance gets must be named here.

cdef class Car:
    cdef public object _k, _m_eff, brake, brake_decel, cda, crr, eff, gear, grade_pct, j_motor, mass, rho
    cdef public object torque, v, wheel_r, x
