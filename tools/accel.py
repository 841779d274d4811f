"""The simulator's models compiled with Cython: the same tools/fakes sources, about 1.7 times as fast.

The models are Python and stay Python: tools/fakes/*.py is the only source, the tests and the MicroPython lane
run them as they are. For the simulator's speed (an hour of driving well under a minute), `build()` compiles
the hot ones with Cython into .venv/accel/<key>/, where <key> hashes their sources, the Python version,
Cython's and its directives; `enable()` puts that folder in front of the `fakes` package's path only when a
build for exactly these sources exists. A stale or missing build is never used: the pure models run instead,
and the simulator says which ran. The models' frame codec (fakes.codec) is the firmware's leafvcu/frames.py;
the build compiles that source for them, and the firmware keeps importing its own, interpreted.
tools/fakes/<name>.pxd, where there is one, declares that module's busiest classes as extension types: their
attributes become C fields (no instance __dict__, so every attribute must be listed there), which is most of
the gain.

    python tools/accel.py build [--quiet]   compile, unless built for these sources already (./run does this,
                                            quietly: the C compiler's output only if it fails)
    python tools/accel.py status            which models the simulator would run

Only the simulator's command line (tools/sim.py run as a program) and the bench enable them; a test that
imports the simulator runs the pure models, and tests/test_accel.py checks that both give the same bus log.
"""

import hashlib
import os
import shutil
import sys
import sysconfig
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
FAKES = os.path.join(HERE, "fakes")
ACCEL = os.path.join(REPO, ".venv", "accel")

# Everything the simulator runs between two firmware polls: the chip behind the SPI bus, the bus, the pins,
# the clock, and the plant stepped every 10 ms.
MODULES = ("clock", "machine", "canbus", "mcp2515_chip", "inverter", "plant", "hv", "pdm", "car", "codec")
# Built from another source than fakes/<name>.py: fakes.codec is the firmware's frame codec (fakes/codec.py, the
# pure module, re-exports it), compiled here for the models only: the firmware imports leafvcu.frames.
FIRMWARE_LIB = os.path.join(REPO, "firmware", "lib")
SOURCE_OF = {"codec": os.path.join(FIRMWARE_LIB, "leafvcu", "frames.py")}

DIRECTIVES = {
    "language_level": 3,
    "infer_types": False,  # Python semantics for every local (no C types guessed from literals)
}


def _cython_version():
    try:
        import Cython
    except ImportError:
        return None
    return Cython.__version__


def key():
    """Names the build for these sources, this Python, this Cython and its directives (None without Cython)."""
    cy = _cython_version()
    if cy is None:
        return None
    h = hashlib.sha256()
    h.update(("%s|%s|%s|%r" % (sys.version, sysconfig.get_config_var("EXT_SUFFIX"), cy, sorted(DIRECTIVES.items())))
             .encode())
    for name, path in _sources():
        with open(path, "rb") as f:
            h.update(name.encode() + b"\0" + f.read())
    return h.hexdigest()[:16]


def _sources():
    """[(name in the build's package, source file)]: the package, the modules (fakes/<name>.py unless SOURCE_OF
    names another file), and the modules' Cython declarations (fakes/<name>.pxd: which classes become extension
    types, with which attributes)."""
    pairs = [("__init__.py", os.path.join(FAKES, "__init__.py"))]
    pairs += [(m + ".py", SOURCE_OF.get(m) or os.path.join(FAKES, m + ".py")) for m in MODULES]
    pairs += [(m + ".pxd", os.path.join(FAKES, m + ".pxd")) for m in MODULES
              if os.path.isfile(os.path.join(FAKES, m + ".pxd"))]
    return pairs


def build_dir():
    k = key()
    return None if k is None else os.path.join(ACCEL, k)


def built():
    """The folder of a complete build for the current sources, or None."""
    d = build_dir()
    if d is None or not os.path.isfile(os.path.join(d, "complete")):
        return None
    return d


def enable():
    """Run the compiled models if a build for the current sources exists (call before importing them).
    Returns the folder, or None: the pure models run."""
    d = built()
    if d is None:
        return None
    import fakes

    loaded = [m for m in MODULES if "fakes." + m in sys.modules]
    if loaded:
        raise RuntimeError("enable() after fakes.%s was imported: it would mix the two" % loaded[0])
    if d not in fakes.__path__:
        fakes.__path__.insert(0, d)
    return d


def active():
    """True if the imported models are the compiled ones."""
    m = sys.modules.get("fakes.canbus")
    return m is not None and not m.__file__.endswith(".py")


def build(jobs=2, echo=print):
    """Compiles MODULES into build_dir(); returns it. Raises on a missing Cython or C compiler."""
    d = built()
    if d is not None:
        return d
    if _cython_version() is None:
        raise RuntimeError("Cython is not installed")
    from Cython.Build import cythonize
    from setuptools import Distribution
    from setuptools.command.build_ext import build_ext

    target = build_dir()
    echo("compiling the simulator's models with Cython (once per change to tools/fakes)...")
    with tempfile.TemporaryDirectory(prefix="leafvcu-accel-") as tmp:
        pkg = os.path.join(tmp, "fakes")  # a package folder, so that each compiles as fakes.<name>
        os.makedirs(pkg)
        for name, path in _sources():
            shutil.copy(path, os.path.join(pkg, name))
        sources = [os.path.join(pkg, m + ".py") for m in MODULES]
        exts = cythonize(sources, compiler_directives=DIRECTIVES, nthreads=jobs, quiet=True,
                         build_dir=os.path.join(tmp, "c"))
        dist = Distribution({"ext_modules": exts})
        cmd = build_ext(dist)
        cmd.inplace = False
        cmd.build_lib = os.path.join(tmp, "lib")
        cmd.build_temp = os.path.join(tmp, "obj")
        cmd.parallel = jobs
        cmd.ensure_finalized()
        cmd.run()
        os.makedirs(ACCEL, exist_ok=True)
        stage = tempfile.mkdtemp(prefix="stage-", dir=ACCEL)
        for m in MODULES:
            src = cmd.get_ext_fullpath("fakes." + m)
            shutil.copy(src, os.path.join(stage, os.path.basename(src)))
        with open(os.path.join(stage, "complete"), "w") as f:
            f.write("\n".join(MODULES) + "\n")
        if os.path.isdir(target):
            shutil.rmtree(target)
        os.rename(stage, target)  # a build is there complete or not at all
    for old in os.listdir(ACCEL):  # builds for older sources
        p = os.path.join(ACCEL, old)
        if p != target and os.path.isdir(p):
            shutil.rmtree(p, ignore_errors=True)
    return target


def _quiet_build():
    """build() with the compiler's output (warnings from the generated C) in a log, shown if it fails."""
    if built() is not None:
        return built()
    print("compiling the simulator's models with Cython (once per change to tools/fakes)...", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile(mode="w+") as log:
        saved = (os.dup(1), os.dup(2))
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            return build(echo=lambda *a: None)
        except BaseException:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            log.seek(0)
            sys.stderr.write("".join(log.readlines()[-20:]))
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    cmd = argv[0] if argv else "status"
    if cmd == "build":
        quiet = "--quiet" in argv
        try:
            d = _quiet_build() if quiet else build()
        except Exception as e:  # no compiler, no headers, no Cython: the simulator runs the pure models
            print("compiled models not built (%s): the simulator runs the pure Python models"
                  % (str(e).strip() or type(e).__name__), file=sys.stderr)
            return 1
        if not quiet:
            print("compiled models: %s" % d)
        return 0
    if cmd == "status":
        d = built()
        print("compiled models: %s" % d if d else "compiled models: none for these sources (pure Python)")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
