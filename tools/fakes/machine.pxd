# Cython declarations for machine.py (tools/accel.py compiles the models with them; Python ignores this file):
# the classes the simulator calls most become extension types, their attributes C fields instead of
# dictionary entries. Every attribute an instance gets must be named here: the compiled class has no
# __dict__ (tests/test_accel.py runs scenarios through both kinds and compares their bus logs).


cdef class Pin:
    cdef public object _clock, _ext, _irq_flags, _irq_handler, _irq_trigger, _level, _mode, _out, _pull
    cdef public object _watchers, history, id, irq_count

cdef class _Slot:
    cdef public object begin, block, cs, device, end, exchange, spi

cdef class SPI:
    cdef public object _active, _clock, _devices, _frac_ns, _miso, _mosi, baudrate, bits, bytes_transferred
    cdef public object firstbit, id, max_transactions, phase, polarity, record, transactions
