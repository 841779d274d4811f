"""The dashboard's HTTP side: microdot (pip / mip `microdot`) serving webapi.WebApi and the page's three files.

`Web(app, ...)` ties the pieces together and is what the console's `wifi` reaches (app.web): the access point
(wifi.Wifi), the JSON interface with its sessions (webapi.WebApi), and the server. `Web.task()` is the coroutine
main.py runs beside the controller's jobs: it follows the access point's rules every POLL_MS and serves
http://<AP address>/ while the access point is up. microdot is imported only then, so a board without it (or
with Wi-Fi off, the default) never loads it.

What the server bounds, on top of webapi's rules (tests/test_web_http.py):
  * at most MAX_CONNS connections at once (more are closed at once); each gets CONN_S seconds in all;
  * a request line or header line of at most MAX_LINE bytes, MAX_HEAD bytes of head in all, MAX_BODY of body
    (microdot's own limits, set here); a malformed request gets 400 and nothing is printed on the console;
  * OPTIONS is refused (no CORS preflight can succeed); only GET and POST, only the routes below;
  * the page's files come from STATIC (built by tools/webbuild.py: gzip, 1 KB per socket write) with a
    Content-Security-Policy that allows nothing from anywhere else.
Bounded work per turn: a request is parsed a line per socket read, a reply written a piece per socket write, and
on MicroPython every socket read and write goes through the scheduler (tests/test_web_load.py measures it).
"""

from leafvcu.compat import async_sleep_ms
from leafvcu import webapi as W
from leafvcu import wifi as WF

POLL_MS = 500
PORT = 80
MAX_CONNS = 4
CONN_S = 5
MAX_LINE = 1024
MAX_HEAD = 4096
STATIC = "/web"
# The page's files: (URL, file under STATIC, content type). Built, gzip-compressed, by tools/webbuild.py.
FILES = (("/", "index.html.gz", "text/html"), ("/app.js", "app.js.gz", "application/javascript"),
         ("/app.css", "app.css.gz", "text/css"))
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class Web:
    """app: the shell; network: MicroPython's network module (None: no radio, the simulator); fs: the flash
    (settings.OsFs); rand(n): random bytes; static: the folder holding the built page."""

    def __init__(self, app, network=None, fs=None, rand=None, static=STATIC):
        self.app = app
        self.api = W.WebApi(app, rand)
        self.wifi = WF.Wifi(app, network, fs, rand)
        self.static = static
        self.server = None
        self.conns = 0
        self.bad = 0     # malformed or oversized requests
        self.busy = 0    # connections closed because MAX_CONNS were open
        app.web = self

    # --- the console's `wifi` -------------------------------------------------------------------------------
    def console(self, con, args):
        """`wifi`: the access point, its name and password, the dashboard's PIN; `wifi new`: new ones (key off).
        Replies through con (a Console); the lines of the password are the only place it is ever shown."""
        wf = self.wifi
        if args:
            if len(args) != 1 or args[0].lower() != "new":
                con._err("usage: wifi [new]")
                return
            if not wf.key_off():
                con._err("cannot renew the Wi-Fi password unless the key is off")
                return
            wf.new_key()
            self.api.new_pin()
            if wf.state == WF.ON:
                wf.stop()
                wf.poll()  # up again at once with the new password
            con.reply("OK, new network name, password and PIN (every session ended)")
            return
        con.reply(wf.describe())
        if wf.ssid is not None:
            con.reply("network %s, password %s (WPA2)" % (wf.ssid, wf.password))
        con.reply("dashboard PIN %s (new at every boot; %d session(s) open)" % (self.api.pin, len(self.api.sessions)))

    # --- serving --------------------------------------------------------------------------------------------
    def make_server(self):
        return make_server(self)

    async def task(self, sleep_ms=async_sleep_ms, port=PORT):
        """main.py's coroutine: the access point's rules, and the server while it is up."""
        import asyncio

        while True:
            self.wifi.poll()
            up = self.wifi.state in (WF.ON, WF.SIMULATED)
            if up and self.server is None:
                try:
                    self.server = make_server(self)
                    asyncio.create_task(self.server.start_server(host="0.0.0.0", port=port))
                except Exception as e:  # noqa: microdot missing (deploy.py installs it): Wi-Fi on, no page
                    self.wifi.error = "no web server: %s %s" % (type(e).__name__, e)
                    self.wifi.stop()
                    self.wifi.state = WF.FAILED
                    self.server = None
            elif not up and self.server is not None:
                self.server.shutdown()
                self.server = None
            await sleep_ms(POLL_MS)


def board_tasks(app):
    """main.py's extra tasks: the dashboard's (Web.task), on a board with a radio (`network`); none without."""
    try:
        import network
    except ImportError:
        return ()
    return (Web(app, network=network).task(),)


class _Bounded:
    """The request's reader, refusing a head of more than MAX_HEAD bytes (microdot bounds each line but not
    their number). OSError(ECONNRESET): microdot stays quiet about it."""

    def __init__(self, reader):
        self.r = reader
        self.n = 0

    async def readline(self):
        line = await self.r.readline()
        self.n += len(line)
        if self.n > MAX_HEAD:
            raise OSError(104)
        return line

    async def readexactly(self, n):
        return await self.r.readexactly(n)

    async def read(self, n=-1):
        return await self.r.read(n)


def make_server(web, now_ms=None):
    """The microdot application serving `web` (a Web). now_ms(): ticks_ms (the app's clock by default)."""
    from microdot import Microdot, Request, Response

    Request.max_content_length = W.MAX_BODY
    Request.max_body_length = W.MAX_BODY
    Request.max_readline = MAX_LINE
    if now_ms is None:

        def now_ms():
            return web.app.now_ms()  # (web.app changes when the simulated board reboots)

    def headers(ctype, extra=()):
        h = {"Content-Type": ctype}
        for k, v in W.BASE_HEADERS:
            h[k] = v
        cookies = []
        for k, v in extra:
            if k == "Set-Cookie":
                cookies.append(v)
            else:
                h[k] = v
        if cookies:
            h["Set-Cookie"] = cookies
        return h

    class Server(Microdot):
        async def handle_request(self, reader, writer):
            import asyncio

            try:
                await asyncio.wait_for(self.serve_conn(reader, writer), CONN_S)
            except Exception:  # noqa: a timed-out or broken connection: closed, nothing printed
                web.bad += 1
                try:
                    await writer.aclose()
                except Exception:  # noqa
                    pass

        async def serve_conn(self, reader, writer):
            """One connection: one request, one reply (HTTP/1.0 as microdot speaks it), then closed."""
            if web.conns >= MAX_CONNS:
                web.busy += 1
                await writer.aclose()
                return
            web.conns += 1
            try:
                req = None
                try:
                    req = await Request.create(self, _Bounded(reader), writer, writer.get_extra_info("peername"))
                except Exception:  # noqa: malformed, too long: 400 below, silently
                    web.bad += 1
                res = await self.dispatch_request(req)
                try:
                    await res.write(writer)
                    await writer.aclose()
                except OSError:
                    pass
            finally:
                web.conns -= 1

    app = Server()
    app.options_handler = None  # no preflight: OPTIONS is 405 like any method a route does not take

    def refused(status, text):
        st, body, extra = W._err(status, text)
        return Response(body, st, headers(W.JSON_TYPE, extra))

    @app.route("/api/<path:rest>", methods=["GET", "POST"])
    async def api_route(req, rest):
        st, body, extra = web.api.handle(req.method, req.path, req.headers, req.body, now_ms())
        return Response(body, st, headers(W.JSON_TYPE, extra))

    def static_route(name, ctype):
        async def serve(req):
            if not web.api.admit(now_ms()):
                return refused(429, "too many requests")
            if not W._host_ok(req.headers.get("Host")):
                return refused(403, "refused: the dashboard answers only on its own address")
            path = web.static + "/" + name
            try:
                f = open(path, "rb")
            except OSError:
                return refused(404, "the dashboard's files are not on this board (deploy.py puts them there)")
            h = headers(ctype)
            h["Content-Encoding"] = "gzip"
            h["Content-Security-Policy"] = CSP
            return Response(f, 200, h)

        return serve

    for url, name, ctype in FILES:
        app.route(url, methods=["GET"])(static_route(name, ctype))

    @app.errorhandler(404)
    async def not_found(req):
        return refused(404, "no such page")

    @app.errorhandler(405)
    async def not_allowed(req):
        return refused(405, "method not allowed")

    @app.errorhandler(400)
    async def bad_request(req):
        return refused(400, "bad request")

    @app.errorhandler(500)
    async def failed(req):
        return refused(500, "internal error")

    @app.errorhandler(413)
    async def too_large(req):
        return refused(413, "request too large (max %d bytes)" % W.MAX_BODY)

    return app
