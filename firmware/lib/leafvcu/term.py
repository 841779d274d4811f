"""The console task: moves bytes between a serial port and the Console without ever holding up the 10 ms job.

`Port` is anything with `read_some(n) -> bytes` (what has arrived, at most n bytes, b"" when nothing: never
blocks) and `write(str)`. On the board that is the USB serial (`UsbSerial`: sys.stdin polled with select, so
Ctrl-C still reaches MicroPython as KeyboardInterrupt); on the host, the simulator's terminal or a test.

Each turn of the task does a bounded amount of work and then yields: at most READ_CHUNK bytes read, at most
one command executed (Console.feed), at most one line of a long reply produced, at most WRITE_CHUNK characters
written. A terminal that floods garbage or a `json` dump therefore costs the scheduler one small slice per turn,
never a frame (tests/test_console_flood.py).
"""

from leafvcu.compat import async_sleep_ms

READ_CHUNK = 32
WRITE_CHUNK = 64
IDLE_MS = 5


class Outbox:
    """Console output waiting for the port: Console.write appends, the task drains WRITE_CHUNK at a time."""

    def __init__(self, limit=8192):
        self.parts = []
        self.size = 0
        self.limit = limit
        self.dropped = 0

    def write(self, text):
        # A terminal that never reads must not eat the heap: past the limit, output is dropped (counted).
        if self.size + len(text) > self.limit:
            self.dropped += len(text)
            return
        self.parts.append(text)
        self.size += len(text)

    def take(self, n):
        """Up to n characters, oldest first; "" when empty."""
        if not self.parts:
            return ""
        head = self.parts[0]
        if len(head) <= n:
            self.parts.pop(0)
            self.size -= len(head)
            return head
        self.parts[0] = head[n:]
        self.size -= n
        return head[:n]


class UsbSerial:
    """The board's USB serial port as a Port: stdin polled without blocking, stdout for replies."""

    def __init__(self):
        import sys
        import select

        self._in = sys.stdin
        self._out = sys.stdout
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)

    def read_some(self, n):
        got = ""
        while len(got) < n and self._poll.poll(0):
            got += self._in.read(1)
        return got.encode()

    def write(self, text):
        self._out.write(text)


async def console_task(console, port, outbox, now_ms, sleep_ms=async_sleep_ms):
    """Runs the console over `port` forever. console: a Console writing into `outbox`; now_ms(): ticks_ms."""
    pending = b""
    while True:
        busy = False
        if len(pending) < READ_CHUNK:
            pending += port.read_some(READ_CHUNK)
        if pending:
            used = console.feed(pending)
            pending = pending[used:]
            busy = used > 0 and len(pending) > 0
        if console.poll(now_ms()):
            busy = True
        text = outbox.take(WRITE_CHUNK)
        if text:
            port.write(text)
            busy = True
        await sleep_ms(0 if busy else IDLE_MS)
