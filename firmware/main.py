# leafvcu: the Nissan Leaf VCM stand-in. Wires the program (DESIGN.md): builds the hardware from board.py, hands it
# to the controller (leafvcu/app.py), which loads the saved parameters and brings the MCP2515 up at the crystal
# they name (canxtal), and runs it. Safe mode (boot.py: brake held while the ignition is off at power-up) leaves
# the board at the REPL instead.
from boot import SAFE

if SAFE:
    print("leafvcu: safe mode, controller not started (release the brake and reset to run)")
else:
    import leafvcu
    from leafvcu import board
    from leafvcu.app import App, run
    from leafvcu.term import UsbSerial

    print(leafvcu.banner())  # first: tools/deploy.py waits for this line to confirm a deploy
    app = App(board.build(), bitrate=board.CAN_BITRATE)
    print("leafvcu: %s" % (app.settings_text or "saved parameters loaded"))
    app.start()
    if not app.can_ok:
        print("leafvcu: CAN controller (canxtal %d MHz): %s" % (app.params.canxtal, app.can_error))
    app.attach_console(UsbSerial())
    from leafvcu.web import board_tasks  # the Wi-Fi dashboard: off until the console turns it on

    run(app, board_tasks)
