"""The parameter reference, generated from the one table (firmware/lib/leafvcu/params.py), so docs never disagree.

    python tools/paramdoc.py                  prints the Markdown table of every parameter
    python tools/paramdoc.py --live           prints the table of the console's live values instead
    python tools/paramdoc.py --check FILE     exit 1 unless FILE holds exactly the generated table between its
                                              markers <!-- params:begin --> ... <!-- params:end --> (and the live
                                              table between live:begin / live:end, where those are present)
    python tools/paramdoc.py --write FILE     rewrites what is between those markers

tests/test_paramdoc.py runs the check on docs/tuning.md.
"""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "firmware", "lib"))

from leafvcu import params as P  # noqa: E402
from leafvcu import console as C  # noqa: E402

BLOCKS = ("params", "live")


def _cell(s):
    return str(s).replace("|", "\\|")


def params_table():
    out = ["| id | name | unit | min | max | default | HV lock | help |",
           "|---:|---|---|---:|---:|---:|:---:|---|"]
    for r in P.TABLE:
        out.append("| %d | `%s` | %s | %d | %d | %d | %s | %s |" % (
            r[P.P_ID], r[P.P_NAME], _cell(r[P.P_UNIT]), r[P.P_MIN], r[P.P_MAX], r[P.P_DEF],
            "yes" if r[P.P_LOCK] else "", _cell(r[P.P_HELP])))
    return "\n".join(out) + "\n"


def live_table():
    out = ["| name | unit | meaning |", "|---|---|---|"]
    for r in C.LIVE:
        out.append("| `%s` | %s | %s |" % (r[C.L_NAME], _cell(r[C.L_UNIT]), _cell(r[C.L_HELP])))
    return "\n".join(out) + "\n"


def render(block="params"):
    return params_table() if block == "params" else live_table()


def markers(block):
    return "<!-- %s:begin -->" % block, "<!-- %s:end -->" % block


def between(text, block):
    """The text between a block's markers, or None when the file lacks them."""
    b, e = markers(block)
    i = text.find(b)
    j = text.find(e)
    if i < 0 or j < i:
        return None
    return text[i + len(b):j]


def replace(text, block):
    b, e = markers(block)
    i = text.find(b)
    j = text.find(e)
    if i < 0 or j < i:
        return text
    return text[:i + len(b)] + "\n" + render(block) + text[j:]


def check(path):
    """List of block names whose content differs from the generated one (absent blocks are not checked)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    bad = []
    for blk in BLOCKS:
        got = between(text, blk)
        if got is not None and got.strip() != render(blk).strip():
            bad.append(blk)
    return bad


def main(argv):
    if len(argv) == 2 and argv[0] in ("--check", "--write"):
        path = argv[1]
        if argv[0] == "--write":
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for blk in BLOCKS:
                text = replace(text, blk)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            return 0
        with open(path, encoding="utf-8") as f:
            if between(f.read(), "params") is None:
                print("%s: no %s ... %s markers" % ((path,) + markers("params")))
                return 1
        bad = check(path)
        for blk in bad:
            print("%s: the %s table is not what tools/paramdoc.py generates (run --write)" % (path, blk))
        return 1 if bad else 0
    if argv == ["--live"]:
        sys.stdout.write(live_table())
        return 0
    if argv:
        print(__doc__)
        return 2
    sys.stdout.write(params_table())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
