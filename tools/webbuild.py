"""Builds the dashboard's three files from web/ and uPlot (npm), gzip-compressed, for the board and the simulator.

    python tools/webbuild.py [OUT]      writes OUT/index.html.gz, OUT/app.js.gz, OUT/app.css.gz (default out/web)

app.js is uPlot's own minified build (node_modules/uplot/dist/uPlot.iife.min.js) followed by web/dashboard.js;
app.css is uPlot's CSS followed by web/dashboard.css. Nothing generated is kept in the repository: the simulator
(`./run sim web`) and tools/deploy.py call build() each time (it takes milliseconds). gzip with a fixed time
stamp, so the same sources give the same bytes (deploy copies only what changed).
"""

import gzip
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEB = os.path.join(REPO, "web")
UPLOT = os.path.join(REPO, "node_modules", "uplot", "dist")
OUT = os.path.join(REPO, "out", "web")


class BuildError(Exception):
    pass


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        hint = " (run ./run once: it installs node_modules)" if path.startswith(UPLOT) else ""
        raise BuildError("cannot read %s: %s%s" % (os.path.relpath(path, REPO), e.strerror or e, hint))


def sources():
    """{file name: bytes} before compression."""
    return {
        "index.html": _read(os.path.join(WEB, "index.html")),
        "app.js": _read(os.path.join(UPLOT, "uPlot.iife.min.js")) + b"\n" + _read(os.path.join(WEB, "dashboard.js")),
        "app.css": _read(os.path.join(UPLOT, "uPlot.min.css")) + b"\n" + _read(os.path.join(WEB, "dashboard.css")),
    }


def files():
    """{board file name (NAME.gz): gzip bytes}: what goes into the static folder."""
    return dict((name + ".gz", gzip.compress(data, 9, mtime=0)) for name, data in sources().items())


def build(out=OUT):
    """Writes the files into `out`; returns `out`."""
    os.makedirs(out, exist_ok=True)
    for name, data in files().items():
        tmp = os.path.join(out, name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(out, name))
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out = argv[0] if argv else OUT
    try:
        build(out)
    except BuildError as e:
        print("webbuild: %s" % e, file=sys.stderr)
        return 1
    for name in sorted(os.listdir(out)):
        print("%s %d bytes" % (os.path.join(out, name), os.path.getsize(os.path.join(out, name))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
