"""The parameter table and Params (cross-interpreter)."""

import unittest

from leafvcu import params as P
from leafvcu.params import Params, TABLE


class Table(unittest.TestCase):
    def test_rows_are_well_formed(self):
        ids = set()
        names = set()
        for r in TABLE:
            with self.subTest(name=r[P.P_NAME]):
                self.assertEqual(len(r), 8)
                pid, name, unit, lo, hi, default, lock, text = r
                self.assertTrue(isinstance(pid, int) and pid > 0)
                self.assertFalse(pid in ids)
                self.assertFalse(name in names)
                ids.add(pid)
                names.add(name)
                self.assertTrue(0 < len(name) <= 8)
                self.assertEqual(name, name.lower())
                self.assertTrue(all(c in "abcdefghijklmnopqrstuvwxyz0123456789" for c in name))
                self.assertTrue(isinstance(unit, str) and unit)
                self.assertTrue(isinstance(lo, int) and isinstance(hi, int) and isinstance(default, int))
                self.assertTrue(lo <= default <= hi)
                self.assertIn(lock, (0, 1))
                self.assertTrue(isinstance(text, str) and 0 < len(text) <= 110 and "\n" not in text)
                if P.is_enum(r):
                    # every enum value named, e.g. "0=Off, 1=On"
                    for v in range(lo, hi + 1):
                        self.assertIn("%d=" % v, unit)

    def test_names_do_not_shadow_methods(self):
        for r in TABLE:
            self.assertFalse(hasattr(Params, r[P.P_NAME]), r[P.P_NAME])

    def test_lookups(self):
        self.assertEqual(P.row("udcnom")[P.P_DEF], 360)
        self.assertEqual(P.row_by_id(1)[P.P_NAME], "udcnom")
        self.assertIsNone(P.row("nosuch"))
        self.assertIsNone(P.row_by_id(9999))

    def test_controller_constants_are_here(self):
        for name in ("udcnom", "udcdelta", "tpcmin", "tpcto", "pctau", "udccol", "negcon", "tgap", "toffmax",
                     "offspd", "tkeep", "tsleep", "tsettle", "tstale", "pot1min", "pot1max", "pot2min", "pot2max",
                     "pottol", "pottime", "potdb", "maxtrq", "maxregen", "regoff", "regbrk", "regtaper", "rampup",
                     "rampdn", "dirspd", "maxspd", "tinvst", "tinvend", "tmotst", "tmotend", "udcmin", "udcmax",
                     "lim1d4h", "lim1d4l", "b1d4run", "gen", "tmp55a", "spoof"):
            self.assertIsNotNone(P.row(name), name)

    def test_defaults_agree_with_the_codec(self):
        from leafvcu import frames

        p = Params()
        self.assertEqual(p.lim1d4h, frames.LIMIT_UPPER_AZE0_RAW)
        self.assertEqual(p.lim1d4l, frames.LIMIT_LOWER_AZE0_RAW)
        self.assertEqual(p.b1d4run, frames.STATUS_1D4_DMZV)
        self.assertEqual(p.b1d4chg, frames.STATUS_1D4_CHARGING)
        self.assertEqual(p.tmp55a, frames.TEMP_55A)
        self.assertEqual(p.tmp55a, frames.TEMP_55A_DMZV)
        self.assertEqual(p.gen, 0)  # AZE0: 50B DLC 7
        self.assertEqual(p.inverr, 0xB0)


class Values(unittest.TestCase):
    def setUp(self):
        self.p = Params()

    def test_defaults_as_attributes(self):
        for r in TABLE:
            self.assertEqual(getattr(self.p, r[P.P_NAME]), r[P.P_DEF])
            self.assertEqual(self.p.get(r[P.P_NAME]), r[P.P_DEF])
            self.assertEqual(self.p.get_id(r[P.P_ID]), r[P.P_DEF])

    def test_iteration_gives_rows(self):
        rows = list(self.p)
        self.assertEqual(len(rows), len(TABLE))
        self.assertEqual(rows[0], TABLE[0])

    def test_set_and_get(self):
        self.assertIsNone(self.p.set("maxtrq", 200))
        self.assertEqual(self.p.maxtrq, 200)
        self.assertIsNone(self.p.set("maxtrq", "180"))
        self.assertEqual(self.p.get("maxtrq"), 180)
        self.assertIsNone(self.p.set("lim1d4h", "0xF7"))
        self.assertEqual(self.p.lim1d4h, 0xF7)
        self.assertIsNone(self.p.set("tinvst", " -10 "))
        self.assertEqual(self.p.tinvst, -10)
        self.assertIsNone(self.p.set("maxtrq", 150.0))
        self.assertEqual(self.p.maxtrq, 150)
        self.assertTrue(isinstance(self.p.maxtrq, int))
        self.assertIsNone(self.p.set_id(60, 100))
        self.assertEqual(self.p.maxtrq, 100)

    def test_error_replies(self):
        p = self.p
        self.assertEqual(p.set("nosuch", 1), "unknown parameter nosuch")
        self.assertEqual(p.set("maxtrq", 900), "value 900 out of range 0..500 Nm")
        self.assertEqual(p.set("negcon", 2), "value 2 out of range 0..1 (0=Absent, 1=Present)")
        self.assertEqual(p.set("maxtrq", "2.5"), "value 2.5 is not a whole number")
        self.assertEqual(p.set("maxtrq", 2.5), "value 2.5 is not a whole number")
        self.assertEqual(p.set("maxtrq", ""), "value  is not a whole number")
        self.assertEqual(p.set_id(9999, 1), "unknown parameter id 9999")
        self.assertEqual(p.maxtrq, 250)  # nothing changed

    def test_hv_lock(self):
        p = self.p
        self.assertEqual(p.set("udcnom", 350, hv_on=True), "cannot change udcnom while HV is on")
        self.assertEqual(p.udcnom, 360)
        self.assertIsNone(p.set("udcnom", 360, hv_on=True))  # same value: nothing changes, fine
        self.assertIsNone(p.set("maxtrq", 100, hv_on=True))  # not locked
        self.assertIsNone(p.set("udcnom", 350))

    def test_garbage_never_raises(self):
        junk = ("", " ", "abc", "1e3", "0x", "--1", "1_000x", "\x00", "9" * 60, "0b102", "+", "nan", "inf",
                None, [], {}, object(), b"\xff\xfe", float("nan"), float("inf"), -1e300)
        for v in junk:
            for name in ("maxtrq", "negcon", 5, None, "", "x" * 200):
                err = self.p.set(name, v)
                self.assertTrue(isinstance(err, str) and err, repr((name, v)))
        for r in TABLE:
            self.assertEqual(getattr(self.p, r[P.P_NAME]), r[P.P_DEF])

    def test_defaults_restores(self):
        self.p.set("maxtrq", 10)
        self.p.defaults()
        self.assertEqual(self.p.maxtrq, 250)
        self.assertEqual(self.p.changed(), [])
        self.p.set("regoff", 11)
        self.assertEqual(self.p.changed(), [("regoff", 11)])

    def test_range_text(self):
        self.assertEqual(P.range_text(P.row("maxtrq")), "0..500 Nm")
        self.assertEqual(P.range_text(P.row("gen")), "0..1 (0=AZE0, 1=ZE0)")


class ParseInt(unittest.TestCase):
    """params.parse_int accepts exactly the grammar of docs/tuning.md: [+|-] then digits, 0x hexdigits or 0b bits,
    ASCII only, blanks around. The oracle is a regular expression written from that sentence, and every string
    of up to four characters from an alphabet of signs, prefix letters, digits and separators is tried, so signs,
    prefixes and digits meet in every order (on CPython and on MicroPython)."""

    ALPHABET = "+-012aFxB_ "
    WHOLE = None

    def oracle(self, text):
        import re

        if ParseInt.WHOLE is None:
            ParseInt.WHOLE = re.compile("^[ ]*([+-]?)(0[xX][0-9a-fA-F]+|0[bB][01]+|[0-9]+)[ ]*$")
        m = ParseInt.WHOLE.match(text)
        if m is None:
            return None
        sign, body = m.group(1), m.group(2)
        if body[:2] in ("0x", "0X"):
            v = int(body[2:], 16)
        elif body[:2] in ("0b", "0B"):
            v = int(body[2:], 2)
        else:
            v = int(body, 10)
        return -v if sign == "-" else v

    def test_every_short_string(self):
        a = self.ALPHABET
        texts = [""]
        level = [""]
        for _ in range(4):
            level = [t + c for t in level for c in a]
            texts.extend(level)
        wrong = []
        for t in texts:
            got, want = P.parse_int(t), self.oracle(t)
            if got != want:
                wrong.append((t, got, want))
        self.assertEqual(wrong[:10], [])
        self.assertTrue(len(texts) > 15000)

    def test_cases_the_old_parser_got_wrong(self):
        for text in ("-0x-5", "0x-5", "0x+5", "0b-1", "+-5", "-+5", "0x_5", "1_000", "0x", "0b", "-"):
            self.assertIsNone(P.parse_int(text), text)

    def test_examples(self):
        for text, v in (("250", 250), ("-40", -40), ("+7", 7), ("0x6E", 110), ("0X6e", 110), ("-0x10", -16),
                        ("0b101", 5), ("+0B11", 3), ("007", 7), (" 42\t", 42), ("-0", 0)):
            self.assertEqual(P.parse_int(text), v, text)
        self.assertEqual(P.parse_int(b"0x10"), 16)
        self.assertEqual(P.parse_int(12), 12)
        self.assertEqual(P.parse_int(12.0), 12)
        self.assertIsNone(P.parse_int(b"\xff"))

    def test_non_ascii_digits_and_blanks_are_not_numbers(self):
        # CPython's int() takes all of these; MicroPython's takes none: the grammar takes none on both.
        for text in ("\u0663", "\uff15", "\u00a05", "5\u2003", "\u0661\u0662"):
            self.assertIsNone(P.parse_int(text), repr(text))


if __name__ == "__main__":
    unittest.main()
