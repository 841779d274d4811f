"""Which device module talks to each CAN peer, from the parameters: one row per kind of peer.

    KINDS = ((kind, parameter, ((value, module class), ...)), ...)

The shell (app.py) builds the chosen devices in this order (inverter, charger, battery: the order of their rows
in a batch) and hands them to devices.Frames. Adding a device: a module with a Device subclass, one entry here,
and a value in the parameter's enum text (params.py); see docs/devices.md.
"""

from leafvcu.dev_leafinv import LeafInverter
from leafvcu.dev_ze1 import Ze1Inverter
from leafvcu.dev_pdm import LeafPdm
from leafvcu.dev_spoof import SpoofedBattery
from leafvcu.dev_leafbatt import LeafBattery

KINDS = (
    ("inverter", "inverter", ((0, LeafInverter), (1, Ze1Inverter))),
    ("charger", "charger", ((0, None), (1, LeafPdm))),
    ("battery", "spoof", ((0, LeafBattery), (1, SpoofedBattery))),
)


# Parameters that change a chosen device's tables (not which device): the tables are built again when they change.
SHAPES = ("ze1batt",)

_KEYS = tuple([k[1] for k in KINDS]) + SHAPES


def key(p):
    """An int that changes whenever the selection or a table's shape does (the 100 ms job compares it: no
    allocation)."""
    k = 0
    i = 0
    n = len(_KEYS)
    while i < n:
        k = k * 16 + getattr(p, _KEYS[i])
        i += 1
    return k


def build(app):
    """The chosen devices, a new object each (allocates: configuration only)."""
    p = app.params
    out = []
    for kind, name, opts in KINDS:
        v = getattr(p, name)
        cls = opts[0][1]
        for val, c in opts:
            if val == v:
                cls = c
        if cls is not None:   # None: no such peer on the bus
            out.append(cls(app))
    return out


def names(devs):
    """"aze0,pdm,spoofed": the chosen devices in KINDS order (inverter, charger, battery), "none" for a peer with no
    device (allocates: console only)."""
    out = []
    for kind, name, opts in KINDS:
        t = "none"
        for d in devs:
            if d.KIND == kind:
                t = d.state()
        out.append(t)
    return ",".join(out)
