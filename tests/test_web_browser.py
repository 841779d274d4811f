"""The dashboard in a real headless browser (Debian's chromium through Selenium and chromium-driver) against the
simulator serving it (`tools/sim.py web scenarios/demo-drive.scn`, the car driving in real time): the page loads,
live values move while the car drives, a request without a session is refused, a parameter edit round-trips, an
HV-locked edit is refused with the console's message.

Without chromium the tests skip and name the command that installs it (CI, where ./run installs it, fails
instead). Waits are bounded polls for what the page shows; nothing asserts on how long anything took.
"""

import os
import re
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INSTALL = "apt-get install chromium chromium-driver"
WAIT_S = 30


def _find(*names):
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    return None


CHROMIUM = _find("chromium", "chromium-browser")
DRIVER = _find("chromedriver")


def _need_browser():
    if CHROMIUM and DRIVER:
        return
    msg = "no headless browser: %s (./run test installs it when run as root)" % INSTALL
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The simulator serving the dashboard on a free port: (url, pin, process)."""
    flash = tmp_path_factory.mktemp("flash")
    p = subprocess.Popen([sys.executable, os.path.join(REPO, "tools", "sim.py"), "--flash", str(flash), "web",
                          os.path.join(REPO, "scenarios", "demo-drive.scn"), "--port", "0", "--seconds", "90",
                          "--no-console"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
    line = p.stdout.readline()
    m = re.match(r"dashboard: (http://\S+) PIN (\d{6})", line)
    if not m:
        p.kill()
        raise AssertionError("sim web did not start: %r %s" % (line, p.stdout.read()))
    yield m.group(1), m.group(2), p
    p.terminate()
    p.wait(10)


@pytest.fixture(scope="module")
def browser():
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium fetch a driver or a browser
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=412,915"):  # a phone's screen
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield d
    d.quit()


def _wait(driver, cond, what):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(lambda d: cond(d), "waited for " + what)


def _text(driver, id_):
    return driver.find_element("id", id_).text


def _fetch(driver, method, path, body=None, csrf=None):
    # fetch() from the page itself: what the page's own code (or a script injected into it) could send.
    return driver.execute_async_script("""
        const [method, path, body, csrf, done] = arguments;
        const h = {"Content-Type": "application/json"};
        if (csrf) h["X-CSRF-Token"] = csrf;
        fetch(path, {method: method, headers: h, body: body === null ? undefined : JSON.stringify(body)})
          .then(r => r.text().then(t => done([r.status, t])));""", method, path, body, csrf)


def test_dashboard_end_to_end(served, browser):
    url, pin, proc = served
    d = browser
    d.get(url)
    # the page loads and its live values fill in
    _wait(d, lambda d: _text(d, "live-mode") != "", "the live values")
    assert d.execute_script("return typeof uPlot") == "function"
    assert d.find_elements("css selector", "#chart canvas"), "the plot is drawn"
    # live values move while the simulated car drives (demo-drive: pedal from 4 s)
    _wait(d, lambda d: _text(d, "live-mode") == "drive", "mode drive")
    first = float(_text(d, "live-speed"))
    _wait(d, lambda d: float(_text(d, "live-speed")) > first + 50, "the motor speed to rise")
    # a change without a session is refused
    st, body = _fetch(d, "POST", "/api/params", {"name": "maxtrq", "value": 200})
    assert st == 401 and "log in" in body
    # log in with the PIN the console shows
    d.find_element("css selector", "nav button[data-tab=params]").click()
    d.find_element("id", "pin").send_keys(pin)
    d.find_element("id", "login").click()
    _wait(d, lambda d: "logged in" in _text(d, "msg"), "the login")
    # a parameter edit round-trips (maxtrq may change while driving)
    box = _wait(d, lambda d: d.find_element("id", "param-maxtrq"), "the parameter table")
    box.clear()
    box.send_keys("200")
    d.find_element("id", "set-maxtrq").click()
    _wait(d, lambda d: _text(d, "msg") == "OK", "the reply to set maxtrq")
    st, body = _fetch(d, "GET", "/api/params")
    assert st == 200 and '"name":"maxtrq","value":200,' in body
    _wait(d, lambda d: d.find_element("id", "param-maxtrq").get_attribute("value") == "200", "the new value shown")
    # an HV-locked edit is refused with the console's message
    box = d.find_element("id", "param-udcnom")
    box.clear()
    box.send_keys("300")
    d.find_element("id", "set-udcnom").click()
    _wait(d, lambda d: _text(d, "msg") == "cannot change udcnom while HV is on", "the console's refusal")
    st, body = _fetch(d, "GET", "/api/params")
    assert '"name":"udcnom","value":360,' in body
    # the page's own cookie without the CSRF token is refused as well
    st, body = _fetch(d, "POST", "/api/clear", {})
    assert st == 403 and "CSRF" in body
    assert proc.poll() is None


def test_no_cors_from_another_origin(served, browser):
    # A page from another origin (here: a data: URL) cannot read the API: no Access-Control-Allow-Origin.
    url, pin, proc = served
    d = browser
    d.get("data:text/html,<title>x</title>")
    got = d.execute_async_script("""
        const done = arguments[1];
        fetch(arguments[0] + "api/live").then(r => done("read " + r.status), e => done("blocked"));""", url)
    assert got == "blocked"
