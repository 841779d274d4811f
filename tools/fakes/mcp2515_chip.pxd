# Cython declarations for mcp2515_chip.py: extension types for the compiled models (tools/accel.py explains; Python
# ignores this file). Every attribute an instance gets must be named here.

cdef class MCP2515Chip:
    cdef public object _bm_addr, _bm_mask, _bo_recover_at, _bus_off, _gen, _int_level, _lb_cur, _lb_end
    cdef public object _lb_frame, _lb_idle, _mode_pending, _offered, _opmode, _present, _ptr, _rate_bus
    cdef public object _rate_key, _rate_ok, _rate_xtal, _rec, _rxb_clear, _state, _suspend_until, _tec, _timer
    cdef public object _timer_t, _timers_ok, _txing, _txing_abort, _txing_gen, ack_error_passive_exception
    cdef public object bus, clock, crystal, frames_received, frames_sent, int_pin, regs, rx0bf_pin, rx1bf_pin
    cdef public object rx_overflows, rx_rejected, sender, strict_mode_change, stuck, tx_errors
