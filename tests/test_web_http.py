"""The dashboard's server (leafvcu/web.py on microdot) over real HTTP on the loopback: what the HTTP layer adds to
webapi's rules. The page's files (gzip, CSP), no CORS anywhere, OPTIONS refused, bounded lines, head, body and
connections, malformed requests answered 400 without a word on the console, a session round trip with a cookie.

The server runs on its own asyncio loop in a thread on 127.0.0.1 (a free port); the app is console_rig.App.
"""

import asyncio
import gzip
import http.client
import json
import os
import socket
import sys
import threading

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "cross"))

from console_rig import App  # noqa: E402
from memfs import MemFs  # noqa: E402
from leafvcu import web as WEB  # noqa: E402
from leafvcu import webapi as W  # noqa: E402
import webbuild  # noqa: E402


class Served:
    def __init__(self, tmp):
        self.app = App()
        self.web = WEB.Web(self.app, fs=MemFs(), static=webbuild.build(str(tmp)))
        self.server = WEB.make_server(self.web)
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def start():
            self.srv = await self.server.start_server(host="127.0.0.1", port=0, start_serving=False)
            await self.srv.start_serving()
            self.port = self.srv.sockets[0].getsockname()[1]
            ready.set()

        self.thread = threading.Thread(target=self._run, args=(start,), daemon=True)
        self.thread.start()
        assert ready.wait(10)

    def _run(self, start):
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(start())
        self.loop.run_forever()

    def stop(self):
        async def down():
            self.srv.close()
            for t in asyncio.all_tasks():
                if t is not asyncio.current_task():
                    t.cancel()
            self.loop.stop()

        asyncio.run_coroutine_threadsafe(down(), self.loop)
        self.thread.join(10)

    def get(self, path, method="GET", body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        h = {"Host": "127.0.0.1:%d" % self.port}
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r, data

    def raw(self, data, timeout=10):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.sendall(data)
        out = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            out += b
        s.close()
        return out


@pytest.fixture
def served(tmp_path):
    s = Served(tmp_path)
    yield s
    s.stop()


def test_page_files_gzip_with_a_strict_csp(served):
    for path, marker in (("/", b"<title>leafvcu</title>"), ("/app.js", b"uPlot"), ("/app.css", b".uplot")):
        r, data = served.get(path)
        assert r.status == 200, path
        assert r.getheader("Content-Encoding") == "gzip"
        csp = r.getheader("Content-Security-Policy")
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert r.getheader("X-Frame-Options") == "DENY"
        assert marker in gzip.decompress(data), path


def test_no_cors_and_no_options(served):
    hdr = {"Origin": "http://evil.test", "Access-Control-Request-Method": "POST"}
    for path in ("/", "/api/live", "/api/params", "/api/status"):
        r, data = served.get(path, headers={"Origin": "http://evil.test"})
        assert not [k for k, v in r.getheaders() if k.lower().startswith("access-control")], path
        r, data = served.get(path, "OPTIONS", headers=hdr)
        assert r.status == 405, path
        assert not [k for k, v in r.getheaders() if k.lower().startswith("access-control")], path


def test_session_round_trip_over_http(served):
    body = json.dumps({"name": "maxtrq", "value": 210})
    ct = {"Content-Type": "application/json"}
    r, data = served.get("/api/params", "POST", body, ct)
    assert r.status == 401
    r, data = served.get("/api/login", "POST", json.dumps({"pin": served.web.api.pin}), ct)
    assert r.status == 200
    cookie = r.getheader("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    sid = cookie.split(";")[0]
    csrf = json.loads(data)["csrf"]
    h = dict(ct, Cookie=sid)
    r, data = served.get("/api/params", "POST", body, h)
    assert r.status == 403
    h["X-CSRF-Token"] = csrf
    r, data = served.get("/api/params", "POST", body, h)
    assert (r.status, json.loads(data)) == (200, {"ok": True, "reply": "OK"})
    assert served.app.params.maxtrq == 210
    r, data = served.get("/api/params")
    assert {"name": "maxtrq", "value": 210} .items() <= [p for p in json.loads(data)["params"]
                                                         if p["name"] == "maxtrq"][0].items()


def test_bounds_on_lines_head_and_body(served, capsys):
    long_line = b"GET /api/live?" + b"x" * WEB.MAX_LINE + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    assert served.raw(long_line).startswith(b"HTTP/1.0 400 ")
    many = b"GET /api/live HTTP/1.1\r\nHost: 127.0.0.1\r\n" + (b"X-Pad: " + b"y" * 100 + b"\r\n") * 60 + b"\r\n"
    assert served.raw(many).startswith(b"HTTP/1.0 400 ")
    big = b"POST /api/params HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d" \
          b"\r\n\r\n" % (W.MAX_BODY + 1)
    assert served.raw(big + b"{" * (W.MAX_BODY + 1)).startswith(b"HTTP/1.0 413 ")
    for junk in (b"\x00\x01\x02\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/1.1\r\nno colon here\r\n\r\n"):
        assert served.raw(junk).startswith(b"HTTP/1.0 400 "), junk
    assert served.web.bad >= 4
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    r, data = served.get("/api/live")  # still serving
    assert r.status == 200


def test_connections_bounded_and_slow_ones_cut_off(served, monkeypatch):
    monkeypatch.setattr(WEB, "CONN_S", 1)
    idle = [socket.create_connection(("127.0.0.1", served.port), timeout=10) for _ in range(WEB.MAX_CONNS)]
    for s in idle:
        s.sendall(b"GET /api/live HTTP/1.1\r\n")  # and then nothing: a slow client
    # one more connection while MAX_CONNS are open is closed without a reply
    for _ in range(100):
        if served.web.conns >= WEB.MAX_CONNS:
            break
        threading.Event().wait(0.05)
    assert served.web.conns == WEB.MAX_CONNS
    # closed without a reply: a plain close, or a reset when the request reached the server before its close
    # (a socket closed with unread data in it answers RST; which one comes is a race): both are "no reply"
    try:
        reply = served.raw(b"GET /api/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    except ConnectionResetError:
        reply = b""
    assert reply == b""
    assert served.web.busy == 1
    # the slow ones are cut off after CONN_S, and the server answers again
    for s in idle:
        assert s.recv(100) == b""
        s.close()
    r, data = served.get("/api/live")
    assert r.status == 200
