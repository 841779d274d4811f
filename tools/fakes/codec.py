"""The frame codec the models decode and encode with: the firmware's own (firmware/lib/leafvcu/frames.py), never a
copy of its CRCs or layouts (a model that had its own could agree with a wrong firmware, or disagree with a
right one, and the recordings in ../shared check the firmware's).

This module is that codec itself. In the compiled models (tools/accel.py) the build puts the same source,
compiled, in its place, so that the inverter's and the PDM's decoding runs as C with the other models; the
firmware keeps its own module, interpreted, as it runs on the board.
"""

from leafvcu.frames import *  # noqa: F401,F403
