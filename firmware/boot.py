# Runs first at every boot. Tiny on purpose: nothing here may fail. Safe mode: holding the brake pedal while
# the ignition is off at power-up keeps main.py from starting the controller, so a board whose firmware
# misbehaves can still be reached from the REPL (mpremote) and re-flashed.
SAFE = False
try:
    from leafvcu.board import safe_mode_requested

    SAFE = safe_mode_requested()
except Exception:  # a broken board.py must not keep the REPL away either
    SAFE = False
