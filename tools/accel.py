"""The simulator's models compiled with Cython: the same tools/fakes sources, about 1.7 times as fast.

The models are Python and stay Python: tools/fakes/*.py is the only source, the tests and the MicroPython lane
run them as they are. For the simulator's speed (an hour of driving well under a minute), `build()` compiles the
hot ones with Cython, each into .venv/accel/modules/<name>-<key>, where <key> hashes its sources, the Python
version, Cython's and its directives (a change to one model recompiles that one, about 15 s; the whole set takes
about a minute on 2 cores), and puts them together in .venv/accel/<key of them all>/; `enable()` puts that folder
in front of the `fakes` package's path only when a build for exactly these sources exists. A stale or missing
build is never used: the pure models run instead, and the simulator says which ran. The models' frame codec
(fakes.codec) is the firmware's leafvcu/frames.py; the build compiles that source for them, and the firmware
keeps importing its own, interpreted. tools/fakes/<name>.pxd, where there is one, declares that module's busiest
classes as extension types: their attributes become C fields (no instance __dict__, so every attribute must be
listed there), which is most of the gain.

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


def _env_tag(cy):
    return "%s|%s|%s|%r" % (sys.version, sysconfig.get_config_var("EXT_SUFFIX"), cy, sorted(DIRECTIVES.items()))


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _module_sources(m):
    """[(name in the build's package, source file)] of one module: fakes/<m>.py (unless SOURCE_OF names another
    file) and its Cython declarations fakes/<m>.pxd if there are any (which classes become extension types)."""
    pairs = [(m + ".py", SOURCE_OF.get(m) or os.path.join(FAKES, m + ".py"))]
    pxd = os.path.join(FAKES, m + ".pxd")
    if os.path.isfile(pxd):
        pairs.append((m + ".pxd", pxd))
    return pairs


def _sources():
    """[(name in the build's package, source file)]: the package and every module's sources."""
    pairs = [("__init__.py", os.path.join(FAKES, "__init__.py"))]
    for m in MODULES:
        pairs += _module_sources(m)
    return pairs


def module_keys():
    """{module: the key of its compiled file}, from its sources, the package's __init__.py, this Python, this
    Cython and its directives (None without Cython). A change to one model recompiles that model only."""
    cy = _cython_version()
    if cy is None:
        return None
    common = _env_tag(cy).encode() + b"|__init__.py\0" + _read(os.path.join(FAKES, "__init__.py"))
    keys = {}
    for m in MODULES:
        h = hashlib.sha256(common)
        for name, path in _module_sources(m):
            h.update(b"|" + name.encode() + b"\0" + _read(path))
        keys[m] = h.hexdigest()[:16]
    return keys


def _key_of(keys):
    return hashlib.sha256("".join("%s=%s\n" % (m, keys[m]) for m in MODULES).encode()).hexdigest()[:16]


def key():
    """Names the build for these sources, this Python, this Cython and its directives (None without Cython)."""
    keys = module_keys()
    return None if keys is None else _key_of(keys)


def build_dir():
    k = key()
    return None if k is None else os.path.join(ACCEL, k)


def _complete(d):
    return d is not None and os.path.isfile(os.path.join(d, "complete"))


def built():
    """The folder of a complete build for the current sources, or None."""
    d = build_dir()
    return d if _complete(d) else None


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


def _cached(keys):
    """{module: its compiled file in the module cache (.venv/accel/modules/<name>-<key><suffix>)}."""
    ext = sysconfig.get_config_var("EXT_SUFFIX")
    return {m: os.path.join(ACCEL, "modules", "%s-%s%s" % (m, keys[m], ext)) for m in MODULES}


def _compile(modules, jobs, dest):
    """Compiles `modules` (as fakes.<name>) and puts each one's extension at dest[name]."""
    from Cython.Build import cythonize
    from setuptools import Distribution
    from setuptools.command.build_ext import build_ext

    with tempfile.TemporaryDirectory(prefix="leafvcu-accel-") as tmp:
        pkg = os.path.join(tmp, "fakes")  # a package folder, so that each compiles as fakes.<name>
        os.makedirs(pkg)
        for name, path in _sources():
            shutil.copy(path, os.path.join(pkg, name))
        sources = [os.path.join(pkg, m + ".py") for m in modules]
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
        for m in modules:
            part = dest[m] + ".part"
            shutil.copy(cmd.get_ext_fullpath("fakes." + m), part)
            os.replace(part, dest[m])  # in the cache whole or not at all


def build(jobs=2, echo=print):
    """Compiles the modules the cache lacks for their current sources, then puts the build for them together
    in build_dir(); returns it. Raises on a missing Cython or C compiler."""
    keys = module_keys()  # (the sources hashed once for all that follows)
    if keys is None:
        raise RuntimeError("Cython is not installed")
    target = os.path.join(ACCEL, _key_of(keys))
    if _complete(target):
        return target
    cached = _cached(keys)
    todo = [m for m in MODULES if not os.path.isfile(cached[m])]
    if todo:
        echo("compiling the simulator's models with Cython (once per change to one of them): %s..."
             % ", ".join(todo))
        os.makedirs(os.path.join(ACCEL, "modules"), exist_ok=True)
        _compile(todo, jobs, cached)
    stage = tempfile.mkdtemp(prefix="stage-", dir=ACCEL)
    ext = sysconfig.get_config_var("EXT_SUFFIX")
    for m in MODULES:
        shutil.copy(cached[m], os.path.join(stage, m + ext))
    with open(os.path.join(stage, "complete"), "w") as f:
        f.write("\n".join(MODULES) + "\n")
    if os.path.isdir(target):
        shutil.rmtree(target)
    os.rename(stage, target)  # a build is there complete or not at all
    for old in os.listdir(ACCEL):  # builds for older sources
        p = os.path.join(ACCEL, old)
        if p != target and old != "modules" and os.path.isdir(p):
            shutil.rmtree(p, ignore_errors=True)
    _prune(cached)
    return target


def _prune(cached, older=1):
    """Keeps in the module cache the current compiled file of each module and its `older` newest others (an
    edit undone, or a branch switched back to, costs no compile)."""
    cache = os.path.join(ACCEL, "modules")
    for m, current in cached.items():
        others = [os.path.join(cache, n) for n in os.listdir(cache) if n.split("-", 1)[0] == m]
        others = sorted((p for p in others if p != current), key=os.path.getmtime, reverse=True)
        for p in others[older:]:
            os.remove(p)


def _quiet_build():
    """build() with the compiler's output (warnings from the generated C) in a log, shown if it fails; build()'s
    own line (what it compiles) still goes to stderr."""
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile(mode="w+") as log:
        saved = (os.dup(1), os.dup(2))
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            return build(echo=lambda line: os.write(saved[1], (line + "\n").encode()))
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
