"""The compiled models (tools/accel.py) are the pure ones, only faster: every shipped scenario gives the same bus
log, frame by frame and microsecond by microsecond, and the same recorded signals. The rest of the suite runs the
pure models; the simulator's command line runs the compiled ones when built, so this is what vouches for them
(and for the attribute lists in tools/fakes/*.pxd: a compiled instance has no room for an undeclared one).

`./run` builds them; on a machine without a C compiler the simulator runs the pure models, and this test is
skipped there, except in CI (CI=true), where a missing build fails it."""

import glob
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))

import accel  # noqa: E402

# Every shipped scenario: between them they take every model through its paths (driving and regen, error frames
# and bus-off, each injected fault, the PDM charging), and they are what users run.
SCENARIOS = tuple(sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(REPO, "scenarios", "*.scn"))))

RUNNER = r"""
import json, os, sys
sys.path[:0] = [os.path.join(%(repo)r, "tools"), os.path.join(%(repo)r, "firmware", "lib")]
compiled = sys.argv[1] == "compiled"
if compiled:
    import accel
    assert accel.enable(), "no build"
import sim, accel
assert accel.active() == compiled
out = {}
for name in sys.argv[2:]:
    code, world = sim.run_scenario(os.path.join(%(repo)r, "scenarios", name + ".scn"), quiet=True,
                                   echo=lambda *a: None)
    log = ["%%d %%X %%s" %% (t, i, bytes(d).hex()) for t, i, d in world.bus.log]
    out[name] = {"code": code, "log": log, "samples": [list(map(repr, s)) for s in world.samples]}
print(json.dumps(out))
"""


def _run(kind):
    r = subprocess.run([sys.executable, "-c", RUNNER % {"repo": REPO}, kind] + list(SCENARIOS), cwd=REPO,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def both():
    if accel.built() is None:
        if os.environ.get("CI"):
            pytest.fail("no compiled models for these sources: ./run builds them (tools/accel.py build)")
        pytest.skip("no compiled models for these sources (tools/accel.py build; needs a C compiler)")
    return _run("pure"), _run("compiled")


@pytest.mark.parametrize("name", SCENARIOS)
def test_compiled_models_put_the_same_frames_on_the_bus(both, name):
    pure, compiled = both[0][name], both[1][name]
    assert pure["code"] == 0 and compiled["code"] == 0
    assert len(pure["log"]) > 100
    first = next((k for k, (a, b) in enumerate(zip(pure["log"], compiled["log"])) if a != b), None)
    assert first is None, "frame %d differs: pure %s, compiled %s" % (first, pure["log"][first],
                                                                       compiled["log"][first])
    assert len(pure["log"]) == len(compiled["log"])
    assert pure["samples"] == compiled["samples"]


@pytest.fixture
def copied_sources(tmp_path, monkeypatch):
    """accel working on a copy of the models' sources (tmp/fakes, the codec as tmp/frames.py) and a build folder
    of its own: (the copy's folder, the codec's copy, the key of the real sources)."""
    k = accel.key()
    if k is None:
        pytest.skip("Cython is not installed")
    fake = tmp_path / "fakes"
    fake.mkdir()
    for name, path in accel._sources():
        if os.path.dirname(path) == accel.FAKES:
            (fake / name).write_bytes(open(path, "rb").read())
    codec = tmp_path / "frames.py"  # the firmware's codec, compiled as fakes.codec
    codec.write_bytes(open(accel.SOURCE_OF["codec"], "rb").read())
    monkeypatch.setattr(accel, "FAKES", str(fake))
    monkeypatch.setitem(accel.SOURCE_OF, "codec", str(codec))
    monkeypatch.setattr(accel, "ACCEL", str(tmp_path / "accel"))
    return fake, codec, k


def test_a_build_is_used_only_for_the_sources_it_was_built_from(copied_sources):
    # The key covers every compiled module's source: a changed model means another (absent) build.
    fake, codec, k = copied_sources
    assert accel.key() == k
    for name in ("canbus.py", "canbus.pxd"):
        with open(fake / name, "a") as f:
            f.write("\n# a change\n")
        assert accel.key() != k
        k2 = accel.key()
        assert k2 != k
        k = k2
    with open(codec, "a") as f:
        f.write("\n# a change\n")
    assert accel.key() != k
    assert accel.built() is None


def test_a_change_to_one_model_recompiles_that_model_only(copied_sources, monkeypatch):
    # The compiler is replaced by a recorder (a real compile is the `both` fixture's business): build() asks it
    # for what changed only, puts the build together from the module cache, and an undone edit costs nothing.
    fake, codec, _ = copied_sources
    compiled = []

    def recorder(modules, jobs, dest):
        compiled.append(sorted(modules))
        for m in modules:
            with open(dest[m], "w") as f:
                f.write("%s compiled from %s" % (m, accel.module_keys()[m]))

    monkeypatch.setattr(accel, "_compile", recorder)

    def build():
        d = accel.build(echo=lambda *a: None)
        assert d == accel.built()
        return d

    first = build()
    assert compiled == [sorted(accel.MODULES)]
    assert build() == first and len(compiled) == 1  # built already: nothing to do
    original = (fake / "pdm.py").read_bytes()
    (fake / "pdm.py").write_bytes(original + b"\n# an edit\n")
    edited = build()
    assert compiled[-1] == ["pdm"] and edited != first
    ext = accel.sysconfig.get_config_var("EXT_SUFFIX")
    with open(os.path.join(edited, "pdm" + ext)) as f:
        assert f.read() == "pdm compiled from %s" % accel.module_keys()["pdm"]
    assert not os.path.isdir(first)  # the build for the old sources is gone
    (fake / "pdm.py").write_bytes(original)  # undone: the cache still has pdm as it was
    assert build() == first and len(compiled) == 2
    for name, path in (("canbus.pxd", fake / "canbus.pxd"), ("codec", codec)):
        with open(path, "a") as f:
            f.write("\n# an edit\n")
        build()
        assert compiled[-1] == [name.split(".")[0]]
