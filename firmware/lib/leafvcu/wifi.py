"""The dashboard's Wi-Fi access point: off by default, on only by the console, with a password of its own.

Rules (docs/dashboard.md):
  * Off until the console turns it on: the parameter `wifi` set to 1 AND saved (`set wifi 1`, `save`), and then it
    starts only while the key is off and no HV relay is closed. Once on it stays on through a drive (the
    dashboard is read-only for everything HV-locked then). `set wifi 0` turns it off at once, saved or not.
  * At its first start each board draws its own network name and WPA2 password (os.urandom: the ESP32's hardware
    RNG) and keeps them in KEY_FILE on its flash, written atomically (a flash write: only ever with HV off). They
    are shown by the console's `wifi` only, never over the web (they are not parameters, so neither `json`,
    `list` nor /api/params can name them). `wifi new` draws new ones (key off).
  * WPA2 only, at most MAX_CLIENTS stations.

`network`: MicroPython's network module (main.py hands it in; this module imports no hardware itself); None in
the simulator, where the dashboard is served on the host instead (state "simulated"). `fs`: the file system
(settings.OsFs on the board). The saved value of `wifi` is followed through the Settings object: the value the
boot loaded, then each successful `save` (Settings.save is wrapped here, so the console and the web's `save`
are both seen, and settings.py stays unchanged).
"""

from leafvcu.settings import OsFs

KEY_FILE = "/wifi.key"
MAX_CLIENTS = 2
PASSWORD_LEN = 16
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off a console, typed on a phone
AP_ADDRESS = "192.168.4.1"  # MicroPython's default for the ESP32 access point

OFF = "off"
WAITING = "waiting"
ON = "on"
SIMULATED = "simulated"
FAILED = "failed"


def draw(rand, n):
    """n characters of _ALPHABET from rand(n) bytes (a small bias: 256 % 31; 16 characters hold > 75 bits)."""
    b = rand(n)
    return "".join([_ALPHABET[x % len(_ALPHABET)] for x in b])


class Wifi:
    def __init__(self, app, network=None, fs=None, rand=None, path=KEY_FILE):
        from leafvcu.webapi import _urandom

        self.app = app
        self.net = network
        self.fs = fs if fs is not None else OsFs()
        self._rand = rand if rand is not None else _urandom
        self.path = path
        self.saved_on = app.params.wifi == 1  # what the boot loaded
        self.ap = None
        self.state = OFF
        self.error = None
        self.ssid = None
        self.password = None
        s = getattr(app, "settings", None)
        if s is not None:
            save = s.save

            def saved():
                err = save()
                if err is None:
                    self.saved_on = app.params.wifi == 1
                return err

            s.save = saved

    def key_off(self):
        app = self.app
        return not app.inp.ign and not app.vcm.hv_lock

    def wanted(self):
        return self.app.params.wifi == 1 and self.saved_on

    def poll(self):
        """Called by the web task every few hundred ms: starts or stops the access point by the rules above."""
        if self.state in (ON, SIMULATED):
            if self.app.params.wifi != 1:
                self.stop()
            return
        if not self.wanted():
            self.state = OFF
            return
        if not self.key_off():
            self.state = WAITING
            return
        if self.state != FAILED:
            self.start()

    # --- the key file ---------------------------------------------------------------------------------------
    def _load_key(self):
        try:
            with self.fs.open(self.path, "rb") as f:
                words = f.read(128).decode().split()
            if len(words) == 2 and 8 <= len(words[1]) <= 63:
                self.ssid, self.password = words
                return True
        except (OSError, ValueError):  # missing; not text
            pass
        return False

    def new_key(self):
        """New network name and password, written atomically (a new file renamed over the old)."""
        ssid = "leafvcu-" + draw(self._rand, 4)
        pw = draw(self._rand, PASSWORD_LEN)
        tmp = self.path + ".new"
        with self.fs.open(tmp, "wb") as f:
            f.write(("%s %s\n" % (ssid, pw)).encode())
        try:
            self.fs.rename(tmp, self.path)
        except OSError:  # FAT: no rename onto an existing name
            try:
                self.fs.remove(self.path)
            except OSError:
                pass
            self.fs.rename(tmp, self.path)
        self.ssid = ssid
        self.password = pw

    # --- the radio ------------------------------------------------------------------------------------------
    def start(self):
        self.error = None
        try:
            if not self._load_key():
                self.new_key()  # the first start: this board's own name and password
            net = self.net
            if net is None:
                self.state = SIMULATED
                return
            ap = net.WLAN(net.AP_IF)
            ap.active(True)
            ch = self.app.params.wifich
            try:  # MicroPython 1.2x names
                ap.config(ssid=self.ssid, key=self.password, security=net.AUTH_WPA2_PSK, channel=ch,
                          max_clients=MAX_CLIENTS)
            except (TypeError, ValueError, AttributeError):  # older names
                ap.config(essid=self.ssid, password=self.password, authmode=net.AUTH_WPA2_PSK, channel=ch,
                          max_clients=MAX_CLIENTS)
            self.ap = ap
            self.state = ON
        except Exception as e:  # noqa: no radio must never stop the controller
            self.error = "%s %s" % (type(e).__name__, e)
            self.state = FAILED
            self._off()

    def _off(self):
        ap = self.ap
        self.ap = None
        if ap is not None:
            try:
                ap.active(False)
            except Exception:  # noqa
                pass

    def stop(self):
        self._off()
        self.state = OFF

    def clients(self):
        if self.ap is None:
            return 0
        try:
            return len(self.ap.status("stations"))
        except Exception:  # noqa: a port without the station list
            return -1

    def address(self):
        if self.ap is None:
            return AP_ADDRESS
        try:
            return self.ap.ifconfig()[0]
        except Exception:  # noqa
            return AP_ADDRESS

    def describe(self):
        """The console's one line on the access point (never with the password: `wifi` adds it)."""
        st = self.state
        if st == OFF:
            if self.app.params.wifi == 1:
                return "wifi: off (wifi is 1 but not saved: save, with the key off, turns it on)"
            return "wifi: off (to turn it on: set wifi 1, then save, with the key off)"
        if st == WAITING:
            return "wifi: waiting for the key off (and every HV relay open) to start"
        if st == FAILED:
            return "wifi: failed to start: %s (set wifi 0, then 1, to try again)" % self.error
        if st == SIMULATED:
            return "wifi: simulated (no radio here: the simulator serves the dashboard itself)"
        return "wifi: on, http://%s, %d of %d clients" % (self.address(), self.clients(), MAX_CLIENTS)
