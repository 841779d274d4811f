"""Parameters on flash (leafvcu.settings), cross-interpreter: round trips, bad files at boot, power loss at every
step of a save on FAT and LittleFS semantics (tests/cross/memfs.py), and the real file system."""

import os
import sys
import unittest

from memfs import Disk, MemFs, PowerLoss
from leafvcu import faults as F
from leafvcu import settings as S
from leafvcu.faults import Faults
from leafvcu.params import Params, TABLE, P_NAME
from leafvcu.settings import Settings

MAIN = "/params.dat"
NEW = "/params.new"
BAK = "/params.bak"
BAD = "/params.bad"

# A tuned car: values that differ from the defaults (one of them at a range end).
TUNED = (("maxtrq", 200), ("udcnom", 355), ("negcon", 1), ("tinvst", -40), ("lim1d4h", 0xF7))
RETUNED = (("maxtrq", 180), ("udcnom", 370), ("negcon", 0), ("potdb", 7))


def values(p):
    return [getattr(p, r[P_NAME]) for r in TABLE]


def params_with(pairs):
    p = Params()
    for k, v in pairs:
        assert p.set(k, v) is None
    return p


def file_of(pairs, extra=()):
    return S.encode(params_with(pairs), extra)


def boot(disk, fat=False, eager=True):
    """A fresh board on this disk: (params, faults, settings, (loaded, text))."""
    p = Params()
    fl = Faults()
    st = Settings(p, fl, MAIN, MemFs(disk, fat=fat, eager=eager))
    return p, fl, st, st.load(1234)


def notes(fl):
    return [(e[0], e[3], e[4]) for e in fl.entries()]


class Format(unittest.TestCase):
    def test_crc32_is_zlibs(self):
        self.assertEqual(S.crc32_py(b"123456789"), 0xCBF43926)
        self.assertEqual(S.crc32(b"123456789"), 0xCBF43926)
        self.assertEqual(S.crc32_py(b""), 0)

    def test_encode_text(self):
        data = file_of(TUNED)
        text = data.decode()
        lines = text.split("\n")
        self.assertEqual(lines[0], "leafvcu-params 1")
        self.assertEqual(len(lines), len(TABLE) + 3)  # header, one per parameter, crc, "" after the last \n
        self.assertIn("60 200", lines)  # maxtrq is id 60: ids, not names
        self.assertFalse("maxtrq" in text)
        self.assertTrue(lines[-2].startswith("crc ") and len(lines[-2]) == 12)
        self.assertEqual(lines[-1], "")

    def test_decode_round_trip(self):
        entries, why = S.decode(file_of(TUNED, ((500, 7),)))
        self.assertIsNone(why)
        self.assertEqual(len(entries), len(TABLE) + 1)
        self.assertIn((60, 200), entries)
        self.assertIn((500, 7), entries)


class RoundTrip(unittest.TestCase):
    def test_save_then_boot(self):
        for fat in (False, True):
            with self.subTest(fat=fat):
                disk = Disk()
                p = params_with(TUNED)
                st = Settings(p, None, MAIN, MemFs(disk, fat=fat))
                self.assertIsNone(st.save())
                self.assertEqual(sorted(disk.files), [MAIN])
                p2, fl, st2, res = boot(disk, fat)
                self.assertEqual(res, (True, None))
                self.assertEqual(values(p2), values(p))
                self.assertEqual(st2.source, MAIN)
                self.assertEqual(fl.entries(), [])
                # a second save replaces the first (FAT: via .bak, which is gone afterwards)
                for k, v in RETUNED:
                    p2.set(k, v)
                self.assertIsNone(st2.save())
                self.assertEqual(sorted(disk.files), [MAIN])
                p3 = boot(disk, fat)[0]
                self.assertEqual(values(p3), values(p2))

    def test_no_file(self):
        p, fl, st, res = boot(Disk())
        self.assertEqual(res, (False, "no saved parameters"))
        self.assertEqual(values(p), values(Params()))
        self.assertEqual(fl.entries(), [])

    def test_load_replaces_every_value(self):
        disk = Disk({MAIN: file_of(TUNED)})
        p = params_with(RETUNED)
        st = Settings(p, None, MAIN, MemFs(disk))
        self.assertEqual(st.load(), (True, None))
        self.assertEqual(values(p), values(params_with(TUNED)))  # potdb back to its default

    def test_missing_ids_get_defaults(self):
        data = file_of(TUNED)
        lines = data.split(b"\n")
        body = b"\n".join([ln for ln in lines[:-2] if not ln.startswith(b"60 ")]) + b"\n"  # drop maxtrq
        disk = Disk({MAIN: body + ("crc %08x\n" % S.crc32(body)).encode()})
        p, fl, st, res = boot(disk)
        self.assertEqual(res, (True, None))
        self.assertEqual(p.maxtrq, 250)
        self.assertEqual(p.udcnom, 355)

    def test_unknown_ids_are_kept_with_a_warning(self):
        disk = Disk({MAIN: file_of(TUNED, ((900, 5), (901, -3)))})
        p, fl, st, res = boot(disk)
        self.assertEqual(res, (True, "unknown ids kept for the next save: 900,901"))
        self.assertEqual(p.maxtrq, 200)
        self.assertEqual(st.extra, [(900, 5), (901, -3)])
        self.assertEqual(fl.entries(), [])  # a warning, not a fault note
        p.maxtrq = 150
        self.assertIsNone(st.save())
        entries, why = S.decode(disk.files[MAIN])
        self.assertIn((900, 5), entries)
        self.assertIn((901, -3), entries)
        self.assertIn((60, 150), entries)

    def test_out_of_range_value_gets_default_and_a_note(self):
        data = file_of(TUNED).replace(b"\n60 200\n", b"\n60 999\n")
        body = data[:data.rfind(b"crc ")]
        disk = Disk({MAIN: body + ("crc %08x\n" % S.crc32(body)).encode()})
        p, fl, st, res = boot(disk)
        self.assertEqual(res, (True, "out of range, default used: maxtrq"))
        self.assertEqual(p.maxtrq, 250)
        self.assertEqual(p.udcnom, 355)
        self.assertEqual(notes(fl), [(F.PARAM_FILE, S.BAD_VALUE, 60)])


class BadFileAtBoot(unittest.TestCase):
    def check_bad(self, data, reason, b=0):
        disk = Disk({MAIN: data})
        p, fl, st, res = boot(disk)
        self.assertFalse(res[0])
        self.assertIn("kept as /params.bad", res[1])
        self.assertIn("parameters unchanged", res[1])
        self.assertEqual(values(p), values(Params()))  # defaults: the boot goes on
        self.assertEqual(notes(fl), [(F.PARAM_FILE, reason, b)])
        self.assertEqual(F.name(fl.entries()[0][0]), "param_file_bad")
        self.assertEqual(sorted(disk.files), [BAD])  # kept aside, byte for byte
        self.assertEqual(disk.files[BAD], data)
        # the next save works and the one after that boot uses it
        p.maxtrq = 123
        self.assertIsNone(st.save())
        self.assertEqual(boot(disk)[0].maxtrq, 123)

    def test_corrupt(self):
        data = bytearray(file_of(TUNED))
        data[40] ^= 0x04
        self.check_bad(bytes(data), S.BAD_CHECKSUM)

    def test_truncated_at_every_length(self):
        data = file_of(TUNED)
        for n in range(len(data)):
            with self.subTest(n=n):
                self.check_bad(data[:n], S.BAD_CHECKSUM)

    def test_wrong_checksum(self):
        data = file_of(TUNED)
        i = data.rfind(b"crc ") + 4
        digit = b"0" if data[i:i + 1] != b"0" else b"1"
        self.check_bad(data[:i] + digit + data[i + 1:], S.BAD_CHECKSUM)

    def test_wrong_version(self):
        data = file_of(TUNED).replace(b"leafvcu-params 1\n", b"leafvcu-params 2\n")
        body = data[:data.rfind(b"crc ")]
        self.check_bad(body + ("crc %08x\n" % S.crc32(body)).encode(), S.BAD_VERSION, 2)

    def test_not_our_format(self):
        for body in (b"hello\n", b"leafvcu-params 1\n60 x\n", b"leafvcu-params 1\n60 1\n60 2\n",
                     b"leafvcu-params 1\n\xff\xfe 1\n", b"leafvcu-params 1\n60  1\n"):
            with self.subTest(body=body):
                self.check_bad(body + ("crc %08x\n" % S.crc32(body)).encode(), S.BAD_FORMAT,
                               60 if b"60 2" in body else 0)

    def test_garbage_and_huge(self):
        self.check_bad(b"\x00\xff" * 100, S.BAD_CHECKSUM)
        self.check_bad(b"x" * (S.MAX_BYTES + 100), S.BAD_FORMAT)

    def test_unreadable(self):
        disk = Disk({MAIN: file_of(TUNED)})
        fs = MemFs(disk)
        fs.fail_read = (MAIN,)
        p = Params()
        fl = Faults()
        res = Settings(p, fl, MAIN, fs).load(5)
        self.assertFalse(res[0])
        self.assertEqual(notes(fl), [(F.PARAM_FILE, S.BAD_READ, 0)])
        self.assertEqual(sorted(disk.files), [BAD])

    def test_bad_main_falls_back_to_a_good_bak(self):
        disk = Disk({MAIN: b"junk", BAK: file_of(TUNED)})
        p, fl, st, res = boot(disk)
        self.assertTrue(res[0])
        self.assertIn("recovered from /params.bak", res[1])
        self.assertEqual(p.maxtrq, 200)
        self.assertEqual(notes(fl), [(F.PARAM_FILE, S.BAD_CHECKSUM, 0)])
        self.assertEqual(sorted(disk.files), [BAD, MAIN])

    def test_bad_fallbacks_are_ignored_quietly(self):
        disk = Disk({NEW: b"half a fi", BAK: b""})
        p, fl, st, res = boot(disk)
        self.assertEqual(res, (False, "no saved parameters"))
        self.assertEqual(fl.entries(), [])

    def test_load_at_runtime_with_a_bad_file_changes_nothing(self):
        disk = Disk({MAIN: b"junk"})
        p = params_with(RETUNED)
        fl = Faults()
        res = Settings(p, fl, MAIN, MemFs(disk)).load(7)
        self.assertFalse(res[0])
        self.assertEqual(values(p), values(params_with(RETUNED)))


class SaveFailures(unittest.TestCase):
    def test_disk_full_keeps_the_old_file(self):
        old = file_of(TUNED)
        disk = Disk({MAIN: old})
        fs = MemFs(disk)
        fs.full = 100
        st = Settings(params_with(RETUNED), None, MAIN, fs)
        err = st.save()
        self.assertTrue(err.startswith("save failed: "), err)
        self.assertEqual(disk.files[MAIN], old)
        self.assertEqual(values(boot(disk)[0]), values(params_with(TUNED)))

    def test_read_back_mismatch(self):
        class Liar(MemFs):
            def open(self, path, mode):
                f = MemFs.open(self, path, mode)
                if "r" in mode:
                    f.data = f.data[:-3] + b"?\n"
                return f

        old = file_of(TUNED)
        disk = Disk({MAIN: old})
        err = Settings(params_with(RETUNED), None, MAIN, Liar(disk)).save()
        self.assertEqual(err, "save failed: /params.new reads back different")
        self.assertEqual(disk.files, {MAIN: old})


class PowerLossDuringSave(unittest.TestCase):
    """The power goes after k operations of a save, for every k: the next boot has the old or the new values,
    never neither (nor a mix), and the board can save again afterwards."""

    def ops_of_save(self, disk, fat, eager, p):
        fs = MemFs(disk.copy(), fat=fat, eager=eager)
        self.assertIsNone(Settings(p, None, MAIN, fs).save())
        return fs.ops

    def lose_power(self, disk, fat, eager, new_pairs, old_vals):
        """For every k: cut at k, boot, check. Returns the number of cuts tried."""
        p_new = params_with(new_pairs)
        new_vals = values(p_new)
        n = self.ops_of_save(disk, fat, eager, p_new)
        self.assertTrue(n >= 5)
        for k in range(n + 1):
            with self.subTest(fat=fat, eager=eager, k=k):
                d = disk.copy()
                fs = MemFs(d, fat=fat, eager=eager, die_after=k)
                st = Settings(params_with(new_pairs), None, MAIN, fs)
                if k < n:
                    with self.assertRaises(PowerLoss):
                        st.save()
                else:
                    self.assertIsNone(st.save())
                p, fl, st2, res = boot(d, fat, eager)
                got = values(p)
                self.assertTrue(got == old_vals or got == new_vals, (k, fs.log, sorted(d.files)))
                if k == n:
                    self.assertEqual(got, new_vals)
                self.assertEqual(fl.entries(), [])  # an interrupted save is no fault
                # and the board is not wedged: save again, boot again
                p.potdb = 9
                self.assertIsNone(st2.save())
                self.assertEqual(boot(d, fat, eager)[0].potdb, 9)
        return n

    def test_first_save_ever(self):
        for fat in (False, True):
            for eager in (True, False):
                self.lose_power(Disk(), fat, eager, TUNED, values(Params()))

    def test_replacing_a_saved_file(self):
        for fat in (False, True):
            for eager in (True, False):
                self.lose_power(Disk({MAIN: file_of(TUNED)}), fat, eager, RETUNED, values(params_with(TUNED)))

    def test_twice(self):
        # Power lost in a save, the boot recovers, then power lost again at every step of the next save.
        base = Disk({MAIN: file_of(TUNED)})
        p_mid = params_with(RETUNED)
        n = self.ops_of_save(base, True, True, p_mid)
        for k in range(n):
            d = base.copy()
            try:
                Settings(params_with(RETUNED), None, MAIN, MemFs(d, fat=True, die_after=k)).save()
            except PowerLoss:
                pass
            p = boot(d, True)[0]
            self.lose_power(d, True, True, (("maxtrq", 77),), values(p))

    def test_fat_rename_path_is_exercised(self):
        disk = Disk({MAIN: file_of(TUNED)})
        fs = MemFs(disk, fat=True)
        Settings(params_with(RETUNED), None, MAIN, fs).save()
        self.assertIn("rename /params.dat /params.bak", fs.log)
        fs = MemFs(disk, fat=False)
        Settings(params_with(TUNED), None, MAIN, fs).save()
        self.assertFalse("rename /params.dat /params.bak" in fs.log)


class RealFileSystem(unittest.TestCase):
    """The default file system (os + open) of whichever interpreter runs this."""

    def setUp(self):
        if sys.implementation.name == "micropython":
            self.dir = "/settings_test"
        else:
            import tempfile

            self.dir = tempfile.mkdtemp()
        try:
            os.mkdir(self.dir)
        except OSError:
            pass
        self.path = self.dir + "/params.dat"

    def tearDown(self):
        for ext in ("dat", "new", "bak", "bad"):
            try:
                os.remove(self.dir + "/params." + ext)
            except OSError:
                pass
        try:
            os.rmdir(self.dir)
        except OSError:
            pass

    def test_round_trip_and_bad_file(self):
        p = params_with(TUNED)
        st = Settings(p, None, self.path)
        self.assertIsNone(st.save())
        self.assertIsNone(st.save())  # replacing works on this file system
        p2 = Params()
        fl = Faults()
        self.assertEqual(Settings(p2, fl, self.path).load(), (True, None))
        self.assertEqual(values(p2), values(p))
        with open(self.path, "ab") as f:
            f.write(b"x")
        p3 = Params()
        res = Settings(p3, fl, self.path).load(9)
        self.assertFalse(res[0])
        self.assertEqual(values(p3), values(Params()))
        os.stat(self.dir + "/params.bad")
        self.assertEqual(fl.entries()[0][0], F.PARAM_FILE)


if __name__ == "__main__":
    unittest.main()
