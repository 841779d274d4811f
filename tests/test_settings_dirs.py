"""Saving on a real file system (CPython: directories): a directory named params.new, which a user can make with
mpremote, must not make every later `save` fail. Through the App's console, as a user types it."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "cross"))

from app_rig import AppRig  # noqa: E402
from sim import DirFs  # noqa: E402  (the simulator's flash: a host directory)


def test_a_directory_named_params_new_does_not_block_saving(tmp_path):
    os.mkdir(tmp_path / "params.new")
    (tmp_path / "params.new" / "junk").write_text("x")  # not empty: it cannot be removed either
    fs = DirFs(tmp_path)
    rig = AppRig(fs=fs)
    rig.console()
    assert rig.type("set maxtrq 200") == "OK"
    assert rig.type("save") == "OK"
    assert rig.type("set maxtrq 180") == "OK"
    assert rig.type("save") == "OK"  # and again
    assert rig.type("load") == "OK"
    assert rig.type("get maxtrq") == "180"
    assert (tmp_path / "params.new").is_dir()
    again = AppRig(fs=DirFs(tmp_path))  # the next boot
    again.console()
    assert again.type("get maxtrq") == "180"
    assert again.type("errors").startswith("latched: none; log: 1 entries")  # the reset cause only


def test_a_complete_params_tmp_is_recovered(tmp_path):
    # A power loss after params.tmp was written (params.new blocked) but before the rename: load completes it.
    os.mkdir(tmp_path / "params.new")
    fs = DirFs(tmp_path)
    rig = AppRig(fs=fs)
    rig.console()
    assert rig.type("set maxtrq 190") == "OK"
    assert rig.type("save") == "OK"
    os.rename(tmp_path / "params.dat", tmp_path / "params.tmp")
    again = AppRig(fs=DirFs(tmp_path))
    again.console()
    assert again.type("get maxtrq") == "190"
    assert (tmp_path / "params.dat").is_file()
