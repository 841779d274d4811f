# leafvcu: the Nissan Leaf VCM stand-in. Builds the controller from the board and runs it (leafvcu/app.py).
# Safe mode (boot.py: brake held while the ignition is off at power-up) leaves the board at the REPL instead.
from boot import SAFE

if SAFE:
    print("leafvcu: safe mode, controller not started (release the brake and reset to run)")
else:
    from leafvcu import app

    app.run()
