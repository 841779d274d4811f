# leafvcu: the controller that stands in for a Nissan Leaf VCM (see ../shared/DESIGN.md).
VERSION = "0.1.0"

# Which exact firmware this is: tools/deploy.py writes leafvcu/build.py onto the board when it installs the
# firmware (git commit + a hash of every byte it copied; never committed). Anything else reports "dev".
try:
    from leafvcu.build import BUILD
except ImportError:
    BUILD = "dev"


def banner():
    """The start line the firmware prints at boot; tools/deploy.py waits for it to confirm a deploy."""
    return "leafvcu %s build %s" % (VERSION, BUILD)
