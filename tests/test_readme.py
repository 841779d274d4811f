"""The README says what the code does: its wiring table is the board's pin map, and its first lines are the
two commands (the main job and the tests)."""

import pathlib
import re

from leafvcu import board

README = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_wiring_table_is_the_pin_map():
    section = README.split("## Wiring", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| (\w+) \| (\d+) \|", section, re.M))
    assert {k: int(v) for k, v in rows.items()} == board.PINS


def test_first_lines_are_the_two_commands():
    lines = [l.strip() for l in README.splitlines()[1:6] if l.strip()]
    commands = [l.split("#")[0].strip() for l in lines[:2]]
    assert commands[1] == "./run test"
    assert commands[0].startswith("./run ")
