# Cython declarations for plant.py: extension types for the compiled models (tools/accel.py explains; Python
# ignores this file). Every attribute an instance gets must be named here.

cdef class Plant:
    cdef public object _running, _t, _timer, bms, bus, car, clock, controls, hv, hw, injected, inv, pdm, ticks
