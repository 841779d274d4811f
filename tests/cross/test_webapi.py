"""The dashboard's JSON interface and Wi-Fi rules (leafvcu.webapi, leafvcu.wifi, the console's `wifi`),
cross-interpreter: requests as the HTTP layer hands them in, replies checked against what the console itself says.

The app is tests/cross/console_rig.App (real Params / Vcm / Settings; HV really on after a precharge). Every rule
of the module docstring has a test here, its refusal included; tests/test_web_http.py repeats the important
ones through microdot and real HTTP, tests/test_web_browser.py in a real browser against the simulator.
"""

import json
import unittest

from console_rig import App, Term
from memfs import MemFs
from leafvcu import webapi as W
from leafvcu import wifi as WF
from leafvcu.web import Web
from leafvcu.console import LIVE, L_NAME
from leafvcu.params import TABLE, P_NAME


class Rand:
    """Deterministic 'random' bytes: a counter."""

    def __init__(self):
        self.n = 0

    def __call__(self, k):
        out = []
        for _ in range(k):
            self.n += 37
            out.append(self.n & 0xFF)
        return bytes(out)


class FakeAP:
    def __init__(self):
        self.on = False
        self.cfg = {}

    def active(self, on=None):
        if on is not None:
            self.on = on
        return self.on

    def config(self, **kw):
        self.cfg.update(kw)

    def status(self, what):
        return [b"\x01\x02\x03\x04\x05\x06"] if self.on else []

    def ifconfig(self):
        return ("192.168.4.1", "255.255.255.0", "192.168.4.1", "0.0.0.0")


class FakeNetwork:
    AP_IF = 1
    AUTH_WPA2_PSK = 3

    def __init__(self):
        self.ap = FakeAP()

    def WLAN(self, which):
        assert which == self.AP_IF
        return self.ap


HOST = "192.168.4.1"


class Client:
    """A browser's view: the cookie jar and the CSRF token, requests through WebApi.handle."""

    def __init__(self, web, app):
        self.web = web
        self.app = app
        self.cookie = None
        self.csrf = None

    def req(self, method, path, body=None, headers=None, raw=None):
        h = {"Host": HOST}
        if method == "POST":
            h["Content-Type"] = "application/json"
            h["Origin"] = "http://" + HOST
            if self.csrf is not None:
                h["X-CSRF-Token"] = self.csrf
        if self.cookie is not None:
            h["Cookie"] = "theme=dark; sid=" + self.cookie
        if headers:
            for k in headers:
                if headers[k] is None:
                    h.pop(k, None)
                else:
                    h[k] = headers[k]
        if raw is None:
            raw = json.dumps(body).encode() if body is not None else b""
        st, out, extra = self.web.api.handle(method, path, h, raw, self.app.now_ms())
        if not isinstance(out, str):
            out = "".join(list(out))
        for k, v in extra:
            assert k.lower().find("access-control") < 0, k
            if k == "Set-Cookie":
                val = v.split(";")[0].split("=", 1)[1]
                self.cookie = val or None
                assert "HttpOnly" in v and "SameSite=Strict" in v, v
        return st, json.loads(out)

    def login(self, pin=None):
        st, d = self.req("POST", "/api/login", {"pin": self.web.api.pin if pin is None else pin})
        if st == 200:
            self.csrf = d["csrf"]
        return st, d


def rig(network=None):
    app = App()
    web = Web(app, network=network, fs=MemFs(), rand=Rand())
    return app, web, Client(web, app)


def console_says(app, line):
    return Term(app).cmd(line)


class Reads(unittest.TestCase):
    def test_live_has_every_live_value_as_json_gives_it(self):
        app, web, c = rig()
        st, d = c.req("GET", "/api/live")
        self.assertEqual(st, 200)
        self.assertEqual(sorted(d["live"].keys()), sorted([r[L_NAME] for r in LIVE]))
        js = json.loads(console_says(app, "json"))
        self.assertEqual(d["live"], js["live"])
        self.assertEqual(d["t"], app.now_ms())

    def test_params_table_with_ranges_locks_and_web_flag(self):
        app, web, c = rig()
        st, d = c.req("GET", "/api/params")
        self.assertEqual(st, 200)
        self.assertEqual([p["name"] for p in d["params"]], [r[P_NAME] for r in TABLE])
        by = dict((p["name"], p) for p in d["params"])
        self.assertEqual(by["maxtrq"]["value"], 250)
        self.assertEqual(by["udcnom"]["hvlock"], 1)
        self.assertEqual(by["wifi"]["web"], 0)
        self.assertEqual(by["maxtrq"]["web"], 1)
        self.assertEqual(d["hv"], 0)

    def test_params_comes_in_pieces(self):
        app, web, c = rig()
        st, body, extra = web.api.handle("GET", "/api/params", {"Host": HOST}, b"", app.now_ms())
        pieces = list(body)
        self.assertTrue(len(pieces) >= len(TABLE) // 6)
        self.assertTrue(max([len(p) for p in pieces]) < 2000)

    def test_status_is_the_consoles(self):
        app, web, c = rig()
        st, d = c.req("GET", "/api/status")
        self.assertEqual(d["status"], console_says(app, "status"))
        self.assertFalse(d["session"])
        self.assertEqual(d["csrf"], None)
        self.assertTrue(d["errors"][0].startswith("latched: none"))


class Sessions(unittest.TestCase):
    def test_change_without_session_refused(self):
        app, web, c = rig()
        st, d = c.req("POST", "/api/params", {"name": "maxtrq", "value": 200})
        self.assertEqual(st, 401)
        self.assertIn("log in", d["error"])
        self.assertEqual(app.params.maxtrq, 250)

    def test_login_then_change(self):
        app, web, c = rig()
        self.assertEqual(c.login()[0], 200)
        st, d = c.req("POST", "/api/params", {"name": "maxtrq", "value": 200})
        self.assertEqual((st, d["reply"]), (200, "OK"))
        self.assertEqual(app.params.maxtrq, 200)
        st, d = c.req("GET", "/api/status")
        self.assertTrue(d["session"])
        self.assertEqual(d["csrf"], c.csrf)

    def test_csrf_token_required(self):
        app, web, c = rig()
        c.login()
        good = c.csrf
        for bad in (None, "", good[:-1] + ("0" if good[-1] != "0" else "1")):
            c.csrf = bad
            st, d = c.req("POST", "/api/params", {"name": "maxtrq", "value": 200})
            self.assertEqual(st, 403)
            self.assertIn("CSRF", d["error"])
        self.assertEqual(app.params.maxtrq, 250)

    def test_form_content_type_refused(self):
        app, web, c = rig()
        c.login()
        st, d = c.req("POST", "/api/params", raw=b"name=maxtrq&value=200",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(st, 415)
        self.assertEqual(app.params.maxtrq, 250)

    def test_cross_origin_refused(self):
        app, web, c = rig()
        c.login()
        st, d = c.req("POST", "/api/params", {"name": "maxtrq", "value": 200}, headers={"Origin": "http://evil.test"})
        self.assertEqual(st, 403)
        self.assertEqual(app.params.maxtrq, 250)

    def test_foreign_host_refused(self):
        app, web, c = rig()
        for host in ("evil.test", "evil.test:80", "1.2.3", "[::1]:80"):
            st, d = c.req("GET", "/api/live", headers={"Host": host})
            self.assertEqual(st, 403, host)
        for host in ("127.0.0.1:8080", "localhost", "192.168.4.1"):
            self.assertEqual(c.req("GET", "/api/live", headers={"Host": host})[0], 200, host)

    def test_wrong_pin_then_lockout_and_a_new_pin(self):
        app, web, c = rig()
        old = web.api.pin
        wrong = "000000" if old != "000000" else "111111"
        for _ in range(W.PIN_TRIES - 1):
            self.assertEqual(c.login(wrong)[0], 403)
        self.assertEqual(web.api.pin, old)
        self.assertEqual(c.login(wrong)[0], 403)
        self.assertNotEqual(web.api.pin, old)  # drawn anew
        st, d = c.login()  # even the right (new) PIN waits
        self.assertEqual(st, 429)
        self.assertIn("console", d["error"])
        app.rig.t += W.PIN_LOCK_MS
        self.assertEqual(c.login(old)[0], 403)
        self.assertEqual(c.login()[0], 200)

    def test_pin_must_be_text(self):
        app, web, c = rig()
        self.assertEqual(c.login(int(web.api.pin))[0], 403)

    def test_sessions_bounded_and_idle_ones_end(self):
        app, web, c = rig()
        cs = [Client(web, app) for _ in range(W.MAX_SESSIONS + 1)]
        for x in cs:
            self.assertEqual(x.login()[0], 200)
        self.assertEqual(len(web.api.sessions), W.MAX_SESSIONS)
        self.assertEqual(cs[0].req("POST", "/api/clear", {})[0], 401)  # the oldest went
        self.assertEqual(cs[-1].req("POST", "/api/clear", {})[0], 200)
        app.rig.t += W.SESSION_IDLE_MS + 1
        self.assertEqual(cs[-1].req("POST", "/api/clear", {})[0], 401)

    def test_logout(self):
        app, web, c = rig()
        c.login()
        self.assertEqual(c.req("POST", "/api/logout", {})[0], 200)
        self.assertEqual(c.cookie, None)
        self.assertEqual(web.api.sessions, [])

    def test_forged_cookie_refused(self):
        app, web, c = rig()
        c.login()
        c.cookie = "0" * 32
        self.assertEqual(c.req("POST", "/api/clear", {})[0], 401)


class Changes(unittest.TestCase):
    def test_hv_locked_edit_refused_with_the_consoles_message(self):
        app, web, c = rig()
        c.login()
        app.rig.to_ready()
        self.assertTrue(app.vcm.hv_lock)
        expect = console_says(app, "set udcnom 300")
        st, d = c.req("POST", "/api/params", {"name": "udcnom", "value": 300})
        self.assertEqual((st, d["error"]), (409, expect))
        self.assertEqual(d["error"], "cannot change udcnom while HV is on")
        self.assertEqual(app.params.udcnom, 360)
        st, d = c.req("POST", "/api/params", {"name": "maxtrq", "value": 180})  # tunable while driving
        self.assertEqual(st, 200)
        self.assertEqual(app.params.maxtrq, 180)
        st, d = c.req("GET", "/api/params")
        self.assertEqual(d["hv"], 1)

    def test_out_of_range_and_unknown_with_the_consoles_message(self):
        app, web, c = rig()
        c.login()
        for name, value in (("maxtrq", 9999), ("nosuch", 1), ("maxtrq", "abc"), ("mode", 1)):
            expect = console_says(app, "set %s %s" % (name, value))
            st, d = c.req("POST", "/api/params", {"name": name, "value": value})
            self.assertEqual((st, d["error"]), (409, expect))
        self.assertEqual(app.params.maxtrq, 250)

    def test_values_that_are_not_one_word_refused(self):
        app, web, c = rig()
        c.login()
        for v in ("1 2", "1\rsave", "", None, True, 1.5, [1], "9" * 20):
            st, d = c.req("POST", "/api/params", {"name": "maxtrq", "value": v})
            self.assertEqual(st, 400, v)
        for n in ("max trq", "maxtrq\r", "", None, 5, "a" * 40):
            st, d = c.req("POST", "/api/params", {"name": n, "value": 1})
            self.assertEqual(st, 400, n)
        self.assertEqual(app.params.maxtrq, 250)
        st, d = c.req("POST", "/api/params", {"name": "MAXTRQ", "value": "0xC8"})  # as the console takes it
        self.assertEqual(st, 200)
        self.assertEqual(app.params.maxtrq, 200)

    def test_wifi_parameters_only_on_the_console(self):
        app, web, c = rig()
        c.login()
        for name in ("wifi", "wifich"):
            st, d = c.req("POST", "/api/params", {"name": name, "value": 1})
            self.assertEqual(st, 403)
            self.assertIn("console", d["error"])
        self.assertEqual((app.params.wifi, app.params.wifich), (0, 6))

    def test_upload_all_or_nothing_and_key_off_only(self):
        app, web, c = rig()
        c.login()
        st, d = c.req("GET", "/api/params")
        table = dict((p["name"], p["value"]) for p in d["params"])
        table["maxtrq"] = 200
        table["udcnom"] = 350
        bad = dict(table)
        bad["rampup"] = 0  # out of range: nothing changes
        st, d = c.req("POST", "/api/params", {"params": bad})
        self.assertEqual(st, 409)
        self.assertIn("rampup", d["error"])
        self.assertEqual((app.params.maxtrq, app.params.udcnom), (250, 360))
        app.rig.key(True)
        st, d = c.req("POST", "/api/params", {"params": table})
        self.assertEqual(st, 409)
        self.assertIn("key is off", d["error"])
        app.rig.key(False)
        st, d = c.req("POST", "/api/params", {"params": table})
        self.assertEqual((st, d["reply"]), (200, "OK, 2 changed"))
        self.assertEqual((app.params.maxtrq, app.params.udcnom), (200, 350))
        table["wifi"] = 1
        st, d = c.req("POST", "/api/params", {"params": table})
        self.assertEqual(st, 403)
        self.assertEqual(app.params.wifi, 0)

    def test_clear_and_save_are_the_consoles(self):
        app, web, c = rig()
        c.login()
        st, d = c.req("POST", "/api/clear", {})
        self.assertEqual((st, d["reply"]), (200, "OK"))
        st, d = c.req("POST", "/api/save", {})
        self.assertEqual((st, d["reply"]), (200, "OK"))
        self.assertIn("/params.dat", app.fs.disk.files)
        app.rig.to_ready()
        st, d = c.req("POST", "/api/save", {})
        self.assertEqual((st, d["error"]), (409, "cannot save while HV is on"))


class Bounds(unittest.TestCase):
    def test_rate_limit(self):
        app, web, c = rig()
        sts = [c.req("GET", "/api/live")[0] for _ in range(W.RATE_BURST + 5)]
        self.assertEqual(sts.count(200), W.RATE_BURST)
        self.assertEqual(sts[-1], 429)
        app.rig.t += W.RATE_MS * 3
        sts = [c.req("GET", "/api/live")[0] for _ in range(5)]
        self.assertEqual(sts.count(200), 3)

    def test_body_too_large(self):
        app, web, c = rig()
        c.login()
        st, d = c.req("POST", "/api/params", raw=b"{" + b" " * W.MAX_BODY + b"}")
        self.assertEqual(st, 413)

    def test_methods_and_paths(self):
        app, web, c = rig()
        self.assertEqual(c.req("OPTIONS", "/api/params")[0], 405)
        self.assertEqual(c.req("PUT", "/api/params")[0], 405)
        self.assertEqual(c.req("GET", "/api/upload")[0], 404)
        c.login()
        for path in ("/api/upload", "/api/exec", "/api/ota", "/api/wifi"):
            self.assertEqual(c.req("POST", path, {})[0], 404, path)

    def test_not_json(self):
        app, web, c = rig()
        c.login()
        self.assertEqual(c.req("POST", "/api/params", raw=b"{nope")[0], 400)
        self.assertEqual(c.req("POST", "/api/params", raw=b"[1]")[0], 400)


class Wifi(unittest.TestCase):
    def test_off_by_default_and_until_saved_with_the_key_off(self):
        net = FakeNetwork()
        app, web, c = rig(net)
        wf = web.wifi
        wf.poll()
        self.assertEqual(wf.state, WF.OFF)
        self.assertFalse(net.ap.on)
        t = Term(app)
        self.assertEqual(t.cmd("set wifi 1"), "OK")
        wf.poll()
        self.assertEqual(wf.state, WF.OFF)  # not saved
        self.assertIn("not saved", t.lines("wifi")[0])
        app.rig.key(True)
        self.assertEqual(t.cmd("save"), "OK")
        wf.poll()
        self.assertEqual(wf.state, WF.WAITING)  # key on
        self.assertFalse(net.ap.on)
        app.rig.key(False)
        wf.poll()
        self.assertEqual(wf.state, WF.ON)
        self.assertTrue(net.ap.on)
        cfg = net.ap.cfg
        self.assertEqual(cfg["security"], FakeNetwork.AUTH_WPA2_PSK)
        self.assertEqual(cfg["max_clients"], WF.MAX_CLIENTS)
        self.assertEqual(cfg["channel"], 6)
        pw = cfg["key"]
        self.assertEqual(len(pw), WF.PASSWORD_LEN)
        self.assertEqual(cfg["ssid"], wf.ssid)
        self.assertIn(("%s %s\n" % (wf.ssid, pw)).encode(), app_fs(web).disk.files.values())
        ls = t.lines("wifi")
        self.assertEqual(ls[0], "wifi: on, http://192.168.4.1, 1 of 2 clients")
        self.assertEqual(ls[1], "network %s, password %s (WPA2)" % (wf.ssid, pw))
        self.assertIn(web.api.pin, ls[2])
        # the password is nowhere on the web
        for path in ("/api/live", "/api/params", "/api/status"):
            st, d = c.req("GET", path)
            self.assertTrue(pw not in json.dumps(d), path)
        # on through a drive, off at once
        app.rig.to_ready()
        wf.poll()
        self.assertEqual(wf.state, WF.ON)
        self.assertEqual(t.cmd("set wifi 0"), "OK")
        wf.poll()
        self.assertEqual(wf.state, WF.OFF)
        self.assertFalse(net.ap.on)

    def test_password_kept_and_renewed_only_with_the_key_off(self):
        net = FakeNetwork()
        app, web, c = rig(net)
        fs = app_fs(web)
        t = Term(app)
        t.cmd("set wifi 1")
        t.cmd("save")
        web.wifi.poll()
        pw = web.wifi.password
        again = Web(app, network=FakeNetwork(), fs=fs, rand=Rand())  # a reboot: the same password
        again.wifi.saved_on = True
        again.wifi.poll()
        self.assertEqual(again.wifi.password, pw)
        web = Web(app, network=net, fs=fs, rand=Rand())
        web.wifi.saved_on = True
        web.wifi.poll()
        c = Client(web, app)
        c.login()
        app.rig.key(True)
        self.assertEqual(t.cmd("wifi new"), "cannot renew the Wi-Fi password unless the key is off")
        app.rig.key(False)
        pin = web.api.pin
        self.assertEqual(t.cmd("wifi new"), "OK, new network name, password and PIN (every session ended)")
        self.assertNotEqual(web.wifi.password, pw)
        self.assertNotEqual(web.api.pin, pin)
        self.assertEqual(net.ap.cfg["key"], web.wifi.password)
        self.assertEqual(c.req("POST", "/api/clear", {})[0], 401)
        self.assertEqual(t.cmd("wifi bogus"), "usage: wifi [new]")

    def test_no_radio_fails_without_stopping_anything(self):
        class Broken(FakeNetwork):
            def WLAN(self, which):
                raise OSError(5)

        app, web, c = rig(Broken())
        t = Term(app)
        t.cmd("set wifi 1")
        t.cmd("save")
        web.wifi.poll()
        self.assertEqual(web.wifi.state, WF.FAILED)
        self.assertIn("failed to start", t.lines("wifi")[0])

    def test_console_without_a_dashboard(self):
        self.assertEqual(Term().cmd("wifi"), "no Wi-Fi dashboard on this build")


def app_fs(web):
    return web.wifi.fs


if __name__ == "__main__":
    unittest.main()
