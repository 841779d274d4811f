"""The front page and the wiring page say what the code does: the wiring table is the board's pin map, and the
README's first lines are the two commands (the main job and the tests)."""

import pathlib
import re

from leafvcu import board

REPO = pathlib.Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
WIRING = (REPO / "docs" / "wiring.md").read_text(encoding="utf-8")


def test_wiring_table_is_the_pin_map():
    rows = dict(re.findall(r"^\| (\w+) \| (\d+) \|", WIRING, re.M))
    assert {k: int(v) for k, v in rows.items()} == board.PINS


def test_first_lines_are_the_two_commands():
    lines = [l.strip() for l in README.splitlines()[1:6] if l.strip()]
    commands = [l.split("#")[0].strip() for l in lines[:2]]
    assert commands[1] == "./run test"
    assert commands[0].startswith("./run ")
