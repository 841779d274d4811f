# Cython declarations for machine.py: extension types for the compiled models (tools/accel.py explains; Python
# ignores this file). Every attribute an instance gets must be named here.

cdef class Pin:
    cdef public object _clock, _ext, _irq_flags, _irq_handler, _irq_trigger, _level, _mode, _out, _pull
    cdef public object _watchers, history, id, irq_count

cdef class _Slot:
    cdef public object begin, block, cs, device, end, exchange, spi

cdef class SPI:
    cdef public object _active, _clock, _devices, _frac_ns, _miso, _mosi, baudrate, bits, bytes_transferred
    cdef public object firstbit, id, max_transactions, phase, polarity, record, transactions
