"""The serial console (leafvcu.console), cross-interpreter: typed into exactly as a user would, reply text checked.

The app is tests/cross/console_rig.App: the real Params / Vcm / Faults / codec state of a core_rig.Rig (so HV
is really on after a precharge), real sched.Periodic tasks, real Settings on an in-memory file system.
"""

import gc
import json
import sys
import unittest

from console_rig import App, Term
from memfs import MemFs
from leafvcu import console as C
from leafvcu import faults as F
from leafvcu import vcm as V
from leafvcu.params import Params, TABLE, P_NAME
from leafvcu.settings import Settings

MICROPYTHON = sys.implementation.name == "micropython"


def ready_term():
    """A console on a car in READY (HV on)."""
    t = Term()
    t.app.rig.to_ready()
    assert t.app.vcm.hv_on
    return t


class Help(unittest.TestCase):
    def test_help_lists_every_command(self):
        t = Term()
        ls = t.lines("help")
        self.assertEqual(len(ls), len(C.COMMANDS))
        for (name, args, text), ln in zip(C.COMMANDS, ls):
            self.assertTrue(ln.startswith(name + " "), ln)
            self.assertIn(text, ln)
            self.assertTrue(hasattr(t.con, "_c_" + name), name)
        self.assertEqual(ls[3], "list                       parameters: value, unit, range, default; then the live values")

    def test_help_name(self):
        t = Term()
        self.assertEqual(t.cmd("help maxtrq"), "maxtrq: motor torque at full pedal (the inverter itself stops at "
                                               "~250-280 Nm) (0..500 Nm, default 250, id 60)")
        self.assertEqual(t.cmd("help negcon"), "negcon: negative contactor fitted (closes first, opens last) "
                                               "(0..1 (0=Absent, 1=Present), default 0, HV lock, id 7)")
        self.assertEqual(t.cmd("help udc"), "udc: DC link voltage (1DA; 0 while invalid) (live, V)")
        self.assertEqual(t.cmd("help mode"), "mode: the controller's state: off, precharge, ready, drive, shutdown, "
                                             "fault, charge (live)")
        for row in C.LIVE:  # every live value's help names it once
            self.assertFalse(t.cmd("help " + row[C.L_NAME]).startswith("%s: %s:" % (row[C.L_NAME], row[C.L_NAME])))
        self.assertEqual(t.cmd("help stream"), "stream MS NAME[,NAME..]: a line of values every MS ms until a key "
                                               "is pressed")
        self.assertEqual(t.cmd("help clear"), "clear: clear latched faults once every contactor is open")
        self.assertEqual(t.cmd("help nosuch"), "unknown command or parameter nosuch")
        # a command that shares its name with a live value: both are told
        self.assertEqual(t.cmd("help rec"), "rec [clear]: flight recordings on flash: fault, time, size (clear: "
                                            "remove them; not while HV is on); the live value rec: CAN receive "
                                            "error counter (-1: no controller) (live)")


class Get(unittest.TestCase):
    def test_parameter_and_live_values(self):
        t = Term()
        self.assertEqual(t.cmd("get maxtrq"), "250")
        self.assertEqual(t.cmd("get lim1d4h"), "110")
        self.assertEqual(t.cmd("get tinvst"), "65")
        self.assertEqual(t.cmd("get mode"), "off")
        self.assertEqual(t.cmd("get udc"), "0")
        self.assertEqual(t.cmd("get maxtrq,udc,mode,tinv"), "250,0,off,30.0")
        self.assertEqual(t.cmd("GET MaxTrq"), "250")

    def test_live_values_follow_the_car(self):
        t = ready_term()
        self.assertEqual(t.cmd("get mode,hv,inv,udc"), "ready,1,ok,380")
        t.app.inv.torque_raw = -3
        t.app.vcm.torque = 49
        t.app.temps.inverter_c10 = -5
        self.assertEqual(t.cmd("get invtq,torque,tinv"), "-1.5,12.25,-0.5")

    def test_errors(self):
        t = Term()
        self.assertEqual(t.cmd("get nosuch"), "unknown parameter nosuch")
        self.assertEqual(t.cmd("get maxtrq,nosuch"), "unknown parameter nosuch")
        self.assertEqual(t.cmd("get"), "usage: get NAME[,NAME..]")
        self.assertEqual(t.cmd("get maxtrq udc"), "usage: get NAME[,NAME..]")
        self.assertEqual(t.cmd("get ,"), "no names given")


class Set(unittest.TestCase):
    def test_ok(self):
        t = Term()
        p = t.app.params
        self.assertEqual(t.cmd("set maxtrq 200"), "OK")
        self.assertEqual(p.maxtrq, 200)
        self.assertEqual(t.cmd("set lim1d4h 0xF7"), "OK")
        self.assertEqual(p.lim1d4h, 0xF7)
        self.assertEqual(t.cmd("set tinvst -40"), "OK")
        self.assertEqual(p.tinvst, -40)
        self.assertEqual(t.cmd("SET MAXREGEN 90"), "OK")
        self.assertEqual(p.maxregen, 90)
        self.assertEqual(t.cmd("get maxtrq"), "200")

    def test_errors_change_nothing(self):
        t = Term()
        before = [getattr(t.app.params, r[P_NAME]) for r in TABLE]
        self.assertEqual(t.cmd("set maxtrq 900"), "value 900 out of range 0..500 Nm")
        self.assertEqual(t.cmd("set maxtrq -1"), "value -1 out of range 0..500 Nm")
        self.assertEqual(t.cmd("set negcon 2"), "value 2 out of range 0..1 (0=Absent, 1=Present)")
        self.assertEqual(t.cmd("set maxtrq 2.5"), "value 2.5 is not a whole number")
        self.assertEqual(t.cmd("set maxtrq lots"), "value lots is not a whole number")
        self.assertEqual(t.cmd("set nosuch 1"), "unknown parameter nosuch")
        self.assertEqual(t.cmd("set MaxTrqX 1"), "unknown parameter MaxTrqX")
        self.assertEqual(t.cmd("set maxtrq"), "usage: set NAME VALUE")
        self.assertEqual(t.cmd("set maxtrq 1 2"), "usage: set NAME VALUE")
        self.assertEqual(t.cmd("set udc 300"), "udc is a live value (read only)")
        self.assertEqual(t.cmd("set maxtrq 1_0"), "value 1_0 is not a whole number")  # CPython's int() would
        self.assertEqual(t.cmd("set lim1d4h 0x6_E"), "value 0x6_E is not a whole number")
        self.assertEqual([getattr(t.app.params, r[P_NAME]) for r in TABLE], before)
        self.assertEqual(t.con.errors, 12)

    def test_settings_that_share_the_bus_refused_in_either_order(self):
        # params.EXCLUDES: a ZE1 sends 0x355, a CAN BMS does too; a Leaf battery sends the 1DB the spoof would.
        t = Term()
        p = t.app.params
        self.assertEqual(t.cmd("set inverter 1"), "OK")
        self.assertEqual(t.cmd("set bmsdev 2"), "bmsdev 2 does not go with inverter 1: a ZE1 and a CAN BMS both "
                                                 "use id 0x355 (P§7.1): the BMS would need a bus of its own")
        self.assertEqual((p.inverter, p.bmsdev), (1, 0))
        self.assertEqual(t.cmd("set inverter 0"), "OK")
        self.assertEqual(t.cmd("set bmsdev 2"), "OK")
        self.assertEqual(t.cmd("set inverter 1"), "inverter 1 does not go with bmsdev 2: a ZE1 and a CAN BMS both "
                                                   "use id 0x355 (P§7.1): the BMS would need a bus of its own")
        self.assertEqual((p.inverter, p.bmsdev), (0, 2))
        self.assertEqual(t.cmd("set bmsdev 1"), "bmsdev 1 does not go with spoof 1: a Leaf battery on the bus "
                                                 "sends 1DB / 1DC / 55B itself: set spoof 0 first")
        self.assertEqual(p.bmsdev, 2)
        self.assertEqual(t.cmd("set spoof 0"), "OK")
        self.assertEqual(t.cmd("set bmsdev 1"), "OK")
        self.assertEqual(t.cmd("set spoof 1"), "spoof 1 does not go with bmsdev 1: a Leaf battery on the bus "
                                                "sends 1DB / 1DC / 55B itself: set spoof 0 first")
        self.assertEqual((p.spoof, p.bmsdev), (0, 1))

    def test_hv_lock(self):
        t = ready_term()
        p = t.app.params
        self.assertEqual(t.cmd("set udcnom 300"), "cannot change udcnom while HV is on")
        self.assertEqual(p.udcnom, 360)
        self.assertEqual(t.cmd("set udcnom 360"), "OK")  # the same value passes
        self.assertEqual(t.cmd("set pot1min 9000"), "cannot change pot1min while HV is on")
        self.assertEqual(t.cmd("set maxtrq 180"), "OK")  # not locked: tune while driving
        self.assertEqual(p.maxtrq, 180)
        self.assertEqual(t.cmd("set udcnom 900"), "value 900 out of range 100..500 V")  # range first
        # HV off again (key off, contactors open): allowed
        t.app.rig.key(False)
        t.app.rig.run_until(lambda v: v.mode == V.OFF and not v.hv_on, 10000)
        self.assertEqual(t.cmd("set udcnom 300"), "OK")
        self.assertEqual(p.udcnom, 300)

    def test_locked_from_the_start_of_precharge(self):
        # Not only with the main contactor closed: a precharge in progress is locked too (the App-level test at
        # the wire is tests/cross/test_safety.py).
        t = Term()
        r = t.app.rig
        r.key(True)
        r.run_until(lambda v: v.relay_pre, 5000)
        self.assertFalse(t.app.vcm.hv_on)
        self.assertEqual(t.cmd("set tgap 60"), "cannot change tgap while HV is on")
        self.assertEqual(t.cmd("set udcnom 100"), "cannot change udcnom while HV is on")


class List(unittest.TestCase):
    def test_list(self):
        t = Term()
        t.cmd("set maxtrq 200")
        ls = t.lines("list")
        self.assertEqual(len(ls), len(TABLE) + len(C.LIVE))
        self.assertEqual(ls[0], "udcnom = 360 V (100..500, default 360, HV lock)")
        self.assertIn("maxtrq = 200 Nm (0..500, default 250)", ls)
        self.assertIn("negcon = 0 (0=Absent, 1=Present; default 0, HV lock)", ls)
        self.assertIn("tinvst = 65 degC (-40..200, default 65)", ls)
        self.assertIn("mode = off (live)", ls)
        self.assertIn("udc = 0 V (live)", ls)
        self.assertIn("torque = 0.00 Nm (live)", ls)
        for r, ln in zip(TABLE, ls):
            self.assertTrue(ln.startswith(r[P_NAME] + " = "), ln)

    def test_names_never_collide(self):
        names = [r[P_NAME] for r in TABLE] + [r[C.L_NAME] for r in C.LIVE]
        self.assertEqual(len(names), len(set(names)))
        for n in C.STATUS:
            self.assertTrue(C.live_row(n) is not None, n)


class SaveLoadDefaults(unittest.TestCase):
    def test_round_trip(self):
        t = Term()
        self.assertEqual(t.cmd("load"), "no saved parameters")
        self.assertEqual(t.cmd("set maxtrq 200"), "OK")
        self.assertEqual(t.cmd("set negcon 1"), "OK")
        self.assertEqual(t.cmd("save"), "OK")
        self.assertEqual(t.cmd("defaults"), "OK")
        self.assertEqual(t.cmd("get maxtrq,negcon"), "250,0")
        self.assertEqual(t.cmd("load"), "OK")
        self.assertEqual(t.cmd("get maxtrq,negcon"), "200,1")
        # what a reboot sees
        p = Params()
        self.assertEqual(Settings(p, None, "/params.dat", MemFs(t.app.fs.disk)).load(), (True, None))
        self.assertEqual((p.maxtrq, p.negcon), (200, 1))

    def test_load_reports_warnings_and_bad_files(self):
        t = Term()
        t.cmd("save")
        t.app.fs.disk.files["/params.dat"] = b"junk"
        self.assertEqual(t.cmd("load"), "/params.dat truncated or corrupt, kept as /params.bad; parameters unchanged")
        self.assertEqual(t.app.vcm.faults.entries()[-1][0], F.PARAM_FILE)
        t.app.fs.disk.files["/params.bak"] = t.app.fs.disk.files["/params.bad"]
        t.app.settings.p.maxtrq = 111
        t.cmd("save")
        t.app.fs.disk.files["/params.bak"] = t.app.fs.disk.files.pop("/params.dat")
        self.assertEqual(t.cmd("load"), "OK, recovered from /params.bak")

    def test_refused_while_hv_on(self):
        t = ready_term()
        t.cmd("set maxtrq 180")
        self.assertEqual(t.cmd("save"), "cannot save while HV is on")
        self.assertEqual(t.cmd("load"), "cannot load while HV is on")
        self.assertEqual(t.cmd("defaults"), "cannot load defaults while HV is on")
        self.assertEqual(t.app.params.maxtrq, 180)
        self.assertEqual(t.app.fs.disk.files, {})

    def test_save_failure(self):
        t = Term()
        t.app.fs.full = 10
        self.assertEqual(t.cmd("save"), "save failed: filesystem full (no room for /params.new)")
        self.assertEqual(sorted(t.app.fs.disk.files), [])  # no half-written params.new for the next boot

    def test_no_settings(self):
        t = Term()
        t.app.settings = None
        self.assertEqual(t.cmd("save"), "no parameter storage on this build")
        self.assertEqual(t.cmd("load"), "no parameter storage on this build")


class Status(unittest.TestCase):
    def test_off(self):
        t = Term()
        self.assertEqual(t.cmd("status"),
                         "mode=off hv=off inv=none udc=0V speed=0rpm pedal=0.0% torque=0.00Nm faults=none dev=aze0,pdm,spoofed bms=none")

    def test_driving(self):
        t = Term()
        rig = t.app.rig
        rig.to_drive()
        rig.set_pedal(500)
        rig.speed = 1200
        rig.step(30)
        s = t.cmd("status")
        self.assertTrue(s.startswith("mode=drive hv=on inv=ok udc=380V speed=1200rpm pedal=47.3% torque="), s)
        self.assertTrue(s.endswith("Nm faults=none dev=aze0,pdm,spoofed bms=none"), s)
        self.assertEqual(t.cmd("get torque"), C.fixed(t.app.vcm.torque * 25, 2))

    def test_fault_and_stale_inverter(self):
        t = ready_term()
        t.app.rig.talk = False
        t.app.rig.step(20)
        self.assertEqual(t.cmd("status"),
                         "mode=fault hv=off inv=stale udc=380V speed=0rpm pedal=0.0% torque=0.00Nm "
                         "faults=inverter_can_lost dev=aze0,pdm,spoofed bms=none")


class ErrorsAndClear(unittest.TestCase):
    def test_empty_log(self):
        t = Term()
        self.assertEqual(t.lines("errors"), ["latched: none; log: 0 entries, 0 written, boot 0"])

    def test_log_with_times(self):
        t = Term()
        rig = t.app.rig
        rig.key(True, start=False)  # (with the key off a trip is cleared at once by the key cycle rule)
        rig.step(10)
        t.app.vcm.trip(F.PC_TIMEOUT, rig.t, 250, 5000)
        t0 = rig.t
        rig.step(150)  # 1.5 s later
        ls = t.lines("errors")
        self.assertEqual(ls, ["latched: precharge_timeout; log: 1 entries, 1 written, boot 0",
                              "boot 0 t=%d ms (1.5 s ago) precharge_timeout (1) a=250 b=5000" % t0])

    def test_clear(self):
        t = ready_term()
        rig = t.app.rig
        rig.talk = False
        rig.step(15)
        self.assertEqual(t.app.vcm.mode, V.FAULT)
        self.assertTrue(t.app.vcm.relay_pre)  # still opening (main first, then precharge)
        self.assertEqual(t.cmd("clear"), "cannot clear: contactors still opening")
        self.assertEqual(t.app.vcm.mode, V.FAULT)
        rig.step(20)
        self.assertEqual(t.cmd("clear"), "OK")
        self.assertEqual(t.app.vcm.mode, V.OFF)
        self.assertEqual(t.app.vcm.faults.latched, 0)
        ls = t.lines("errors")
        self.assertEqual(ls[0], "latched: none; log: 2 entries, 2 written, boot 0")
        self.assertIn("faults_cleared (22)", ls[2])
        self.assertEqual(t.cmd("clear"), "OK")  # nothing to clear


class Stream(unittest.TestCase):
    def test_lines_until_a_key(self):
        t = Term()
        rig = t.app.rig
        rig.talk = False  # the test sets the 1DA voltage itself
        self.assertEqual(t.type("stream 100 udc,mode,maxtrq\r"), "")
        self.assertTrue(t.con.streaming)
        got = []
        for i in range(50):  # 500 ms
            t.app.rig.step()
            if i == 20:
                rig.inv.dc_voltage = 42
            del t.out[:]
            t.con.poll(rig.t)
            got.extend(t.out)
        self.assertEqual(got, ["0,off,250\r\n"] * 3 + ["42,off,250\r\n"] * 3)
        self.assertEqual(t.type("\r"), "")  # Enter stops it, and is no command
        self.assertFalse(t.con.streaming)
        del t.out[:]
        t.con.poll(ticks(rig, 1000))
        self.assertEqual(t.out, [])

    def test_crlf_after_the_command_does_not_stop_it(self):
        t = Term()
        t.type("stream 50 mode\r\n")
        self.assertTrue(t.con.streaming)
        t.type(b"\n")  # an LF on its own does
        self.assertFalse(t.con.streaming)

    def test_a_typed_command_stops_it_and_runs(self):
        t = Term()
        t.type("stream 100 udc speed\r")  # names separated by spaces work too
        t.con.poll(t.app.now_ms())
        self.assertEqual(t.out, ["0,0\r\n"])
        self.assertEqual(t.type("get maxtrq\r"), "250\r\n")
        self.assertFalse(t.con.streaming)
        t.type("stream 100 udc\r")
        t.type(b"\xff")
        self.assertFalse(t.con.streaming)
        self.assertEqual(t.type("get maxtrq\r"), "250\r\n")

    def test_errors(self):
        t = Term()
        self.assertEqual(t.cmd("stream"), "usage: stream MS NAME[,NAME..]")
        self.assertEqual(t.cmd("stream 100"), "usage: stream MS NAME[,NAME..]")
        self.assertEqual(t.cmd("stream 10 udc"), "interval 10 out of range 50..60000 ms")
        self.assertEqual(t.cmd("stream fast udc"), "interval fast out of range 50..60000 ms")
        self.assertEqual(t.cmd("stream 100 udc,nosuch"), "unknown parameter nosuch")
        self.assertEqual(t.cmd("stream 100 " + ",".join(["udc"] * 17)), "at most 16 names")
        self.assertFalse(t.con.streaming)

    def test_late_poll_does_not_burst(self):
        t = Term()
        t.type("stream 100 mode\r")
        now = t.app.now_ms()
        t.con.poll(now)
        del t.out[:]
        t.con.poll(ticks(t.app.rig, 1000))  # the console task was late by 1 s: one line, not ten
        t.con.poll(ticks(t.app.rig, 1000))
        self.assertEqual(len(t.out), 1)


def ticks(rig, ms):
    from leafvcu.compat import ticks_add

    return ticks_add(rig.t, ms)


class Json(unittest.TestCase):
    def test_one_line(self):
        t = Term()
        t.cmd("set maxtrq 200")
        s = t.type("json\r")
        self.assertTrue(s.endswith("\r\n"))
        self.assertEqual(s.count("\n"), 1)
        d = json.loads(s)
        self.assertEqual(len(d["params"]), len(TABLE))
        self.assertEqual(d["params"]["maxtrq"], 200)
        self.assertEqual(d["params"]["tinvst"], 65)
        self.assertEqual(len(d["live"]), len(C.LIVE))
        self.assertEqual(d["live"]["mode"], "off")
        self.assertEqual(d["live"]["tinv"], 30.0)
        self.assertEqual(d["live"]["faults"], "none")

    def test_full(self):
        t = ready_term()
        d = json.loads(t.type("json full\r"))
        self.assertEqual(d["params"]["negcon"], {"id": 7, "value": 0, "unit": "0=Absent, 1=Present", "min": 0,
                                                 "max": 1, "default": 0, "hvlock": 1})
        self.assertEqual(d["params"]["maxtrq"]["unit"], "Nm")
        self.assertEqual(d["live"]["hv"], 1)
        self.assertEqual(t.cmd("json please"), "usage: json [full]")


class Stats(unittest.TestCase):
    def test_counters(self):
        t = Term()
        t.app.run_tasks(100)
        t.app.can.stats.tx_frames = 12
        t.app.can.tec = 5
        t.app.can.eflg = 0x15
        t.cmd("nosuch")
        ls = t.lines("stats")
        self.assertTrue(ls[0].startswith("task ctl: every 10 ms, runs=10 overruns=0 late_max="), ls[0])
        self.assertTrue(ls[1].startswith("task console: every 20 ms, runs=5 overruns=0"), ls[1])
        self.assertTrue(ls[2].startswith("can: tx_frames=12 tx_done=0 "), ls[2])
        self.assertIn("bus_off=0", ls[2])
        self.assertEqual(ls[3], "can errors: tec=5 rec=0 eflg=0x15")
        self.assertEqual(ls[4], "console: lines=2 errors=1 refused=0")
        self.assertEqual(len(ls), 5)
        self.assertEqual(t.cmd("stats reset"), "OK")
        self.assertTrue(t.lines("stats")[0].startswith("task ctl: every 10 ms, runs=0 "))
        self.assertEqual(t.cmd("stats please"), "usage: stats [reset|mem]")
        self.assertEqual(t.cmd("stats reset mem"), "usage: stats [reset|mem]")

    def test_mem(self):
        t = Term()
        if MICROPYTHON:
            self.assertTrue(t.cmd("stats mem").startswith("mem: free="))
        else:
            self.assertEqual(t.cmd("stats mem"), "no gc.mem_free on this interpreter")
        t = ready_term()
        self.assertEqual(t.cmd("stats mem"), "cannot scan the heap while HV is on")

    def test_no_can_controller(self):
        t = Term(App(can=False))
        self.assertIn("can: no controller", t.lines("stats"))
        self.assertEqual(t.cmd("get tec,rec"), "-1,-1")
        self.assertEqual(t.cmd("stats reset"), "OK")


class Reset(unittest.TestCase):
    # What `reset` does to the board (no fault logged, every relay low): through the App in
    # test_safety.py::ConsoleSmall::test_reset_logs_no_fault_and_leaves_every_relay_open.
    def test_refused_while_hv_on(self):
        t = ready_term()
        self.assertEqual(t.cmd("reset"), "cannot reset while HV is on")
        self.assertEqual(t.app.resets, 0)


class Unknown(unittest.TestCase):
    def test_unknown_command(self):
        t = Term()
        self.assertEqual(t.cmd("foo"), "unknown command foo (try help)")
        self.assertEqual(t.cmd("_c_set maxtrq 1"), "unknown command _c_set (try help)")
        self.assertEqual(t.cmd("__init__"), "unknown command __init__ (try help)")
        self.assertEqual(t.cmd("set_ maxtrq 1"), "unknown command set_ (try help)")
        self.assertEqual(t.app.params.maxtrq, 250)

    def test_commands_without_arguments_refuse_them(self):
        t = Term()
        t.cmd("set maxtrq 200")
        for c in ("list", "save", "load", "defaults", "status", "errors", "clear", "reset"):
            self.assertEqual(t.cmd(c + " now"), "usage: %s (no arguments)" % c)
        self.assertEqual(t.app.params.maxtrq, 200)
        self.assertEqual(t.app.resets, 0)
        self.assertEqual(t.app.fs.disk.files, {})

    def test_a_failing_command_does_not_escape(self):
        t = Term()

        def boom():
            raise ValueError("disk on fire")

        t.app.settings.save = boom
        self.assertEqual(t.cmd("save"), "error: ValueError disk on fire")
        self.assertEqual(t.cmd("get maxtrq"), "250")


class Input(unittest.TestCase):
    def test_line_ends(self):
        for end in ("\r", "\n", "\r\n"):
            with self.subTest(end=end):
                t = Term()
                self.assertEqual(t.type("get maxtrq" + end + "get udcnom" + end), "250\r\n360\r\n")

    def test_byte_at_a_time(self):
        t = Term()
        out = []
        for b in b"set maxtrq 201\r\nget maxtrq\r\n":
            t.type(bytes([b]))
            out.extend(t.out)
        self.assertEqual("".join(out), "OK\r\n201\r\n")

    def test_crlf_split_across_chunks_is_one_line_end(self):
        t = Term()
        self.assertEqual(t.type("get maxtrq\r"), "250\r\n")
        self.assertEqual(t.type("\n"), "")
        self.assertEqual(t.type("\n"), "")  # a blank line: no reply

    def test_blank_lines_say_nothing(self):
        t = Term()
        self.assertEqual(t.type("\r\n\r\n   \r\t\n"), "")

    def test_backspace_and_tab(self):
        t = Term()
        self.assertEqual(t.type("get maxtrx\x08q\r"), "250\r\n")
        self.assertEqual(t.type("get\tmaxtrq\x7f\x7f\x7ftrq\r"), "250\r\n")
        self.assertEqual(t.type("\x08\x08get udcnom\r"), "360\r\n")

    def test_ctrl_c_is_ignored(self):
        t = Term()
        self.assertEqual(t.type("get \x03maxtrq\r"), "250\r\n")
        self.assertEqual(t.type("\x03\x03"), "")

    def test_line_too_long(self):
        t = Term()
        s = t.type("set maxtrq 200 " + "x" * 200 + "\r")
        self.assertEqual(s, "line too long (max 96 characters)\r\n")
        self.assertEqual(t.app.params.maxtrq, 250)
        self.assertEqual(t.type("get maxtrq\r"), "250\r\n")  # the next line is fine
        self.assertEqual(t.type("get " + " " * (C.MAX_LINE - 10) + "maxtrq\r"), "250\r\n")  # 96 exactly

    def test_garbage_bytes_spoil_the_line(self):
        t = Term()
        for junk in (b"set maxtrq 2\xff00\r", b"set maxtrq \x1b[A200\r", b"set \x00maxtrq 200\r",
                     "set maxtrq 20\u00e90\r", b"\xc3\x28\xa0\xa1\r"):
            with self.subTest(junk=junk):
                self.assertEqual(t.type(junk), "line ignored: control or non-ASCII bytes in it\r\n")
        self.assertEqual(t.app.params.maxtrq, 250)
        self.assertEqual(t.con.refused, 5)

    def test_one_command_per_feed(self):
        t = Term()
        data = b"set maxtrq 200\rget maxtrq\rget udcnom\r"
        n = t.con.feed(data)
        self.assertEqual(n, len(b"set maxtrq 200\r"))
        self.assertEqual(t.out, ["OK\r\n"])
        n2 = t.con.feed(data[n:])
        self.assertEqual(n2, len(b"get maxtrq\r"))
        self.assertEqual(t.con.feed(data[n + n2:]), len(b"get udcnom\r"))
        self.assertEqual(t.out, ["OK\r\n", "200\r\n", "360\r\n"])
        self.assertEqual(t.con.feed(b"get ma"), 6)  # no line end: all consumed, nothing run
        self.assertEqual(t.con.feed(b""), 0)
        self.assertEqual(t.con.feed(bytearray(b"xtrq\r")), 5)
        self.assertEqual(t.out[-1], "200\r\n")
        self.assertEqual(t.con.feed(memoryview(b"\r\n\r\nget udcnom\r")), 15)  # blank lines don't count

    def test_long_replies_come_a_line_per_step(self):
        t = Term()
        con = t.con
        now = t.app.now_ms()
        n_list = len(TABLE) + len(C.LIVE)
        for cmd, lines in (("list", n_list), ("help", len(C.COMMANDS)), ("errors", 1), ("stats", None)):
            with self.subTest(cmd=cmd):
                del t.out[:]
                self.assertEqual(con.feed(cmd + "\rget maxtrq\r"), len(cmd) + 1)
                self.assertEqual(len(t.out), 1)  # the first line only
                self.assertTrue(con.busy or lines == 1)
                self.assertEqual(con.feed("get maxtrq\r"), 0 if con.busy else len("get maxtrq\r"))
                steps = 0
                while con.poll(now):
                    steps += 1
                    self.assertEqual(len(t.out), steps + 1)  # one line per step
                self.assertFalse(con.busy)
                if lines is not None:
                    self.assertEqual(len(t.out), lines)
                if lines != 1:
                    self.assertEqual(con.feed("get maxtrq\r"), len("get maxtrq\r"))
                    self.assertEqual(t.out[-1], "250\r\n")

    def test_json_comes_in_pieces_of_one_line(self):
        t = Term()
        con = t.con
        con.feed("json\r")
        steps = 1
        while con.poll(t.app.now_ms()):
            steps += 1
        self.assertEqual(steps, (len(TABLE) + len(C.LIVE)) // 8 + 1)
        s = "".join(t.out)
        self.assertEqual(s.count("\n"), 1)
        self.assertEqual(json.loads(s)["params"]["maxtrq"], 250)

    def test_execute_writes_the_whole_reply(self):
        t = Term()
        t.con.execute("list")
        self.assertFalse(t.con.busy)
        self.assertEqual(len(t.out), len(TABLE) + len(C.LIVE))

    def test_echo(self):
        t = Term(echo=True)
        self.assertEqual(t.type("get maxtrx\x08q\r"), "get maxtrx\x08 \x08q\r\n250\r\n")
        self.assertEqual(t.type("x" * 100 + "\r"), "x" * 96 + "\r\nline too long (max 96 characters)\r\n")
        self.assertEqual(t.type("\x08"), "")

    def test_execute(self):
        t = Term()
        t.con.execute("set maxtrq 222")
        self.assertEqual(t.out, ["OK\r\n"])
        t.con.execute("")
        self.assertEqual(t.out, ["OK\r\n"])

    def test_ordinary_characters_allocate_nothing(self):
        if not MICROPYTHON:
            self.skipTest("gc.mem_alloc is MicroPython's")
        t = Term()
        con = t.con
        chunk = b"get maxtrq,udc"
        con.feed(chunk)  # warm
        con.feed(b"\r")
        gc.collect()
        a = gc.mem_alloc()
        i = 0
        while i < 5:
            con.feed(chunk)
            con.feed(b"\x08\x08")
            i += 1
        d = gc.mem_alloc() - a
        self.assertEqual(d, 0)


if __name__ == "__main__":
    unittest.main()
