"""An in-memory file system with a power switch, for leafvcu.settings (not a test module).

`Disk` is what survives a power loss: path -> committed bytes. `MemFs(disk, fat=..., eager=..., die_after=k)`
is the view a running board has of it (the `os` + `open` interface settings.py uses): every call (stat, open,
read, write, close, rename, remove) is one operation, and the k-th operation (0-based) "cuts the power": it
does not happen, raises PowerLoss, and so does every later call. "Reboot" = a new MemFs on the same Disk.

fat=True: rename onto an existing name fails (OSError EEXIST), as on FAT; False: it replaces (LittleFS).
eager=True: written bytes reach the disk at once, and a write the power cuts leaves half its bytes (a torn
file, worst case for FAT); eager=False: a file's new content is committed at close only (LittleFS); opening
for write creates the (empty) file at once either way.
"""

_ENOENT = 2
_EEXIST = 17


class PowerLoss(Exception):
    pass


class Disk:
    def __init__(self, files=None):
        self.files = dict(files) if files else {}

    def copy(self):
        return Disk(self.files)


class _File:
    def __init__(self, fs, path, data, writing):
        self.fs = fs
        self.path = path
        self.data = data
        self.pos = 0
        self.writing = writing

    def read(self, n=-1):
        self.fs._op("read")
        if n is None or n < 0:
            n = len(self.data) - self.pos
        out = self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out

    def write(self, b):
        fs = self.fs
        b = bytes(b)
        if fs.eager and fs.left == 0 and not fs.dead:
            # the power goes in the middle of this write: half of it is on the disk
            fs.disk.files[self.path] = self.data + b[:len(b) // 2]
        fs._op("write")
        if fs.full is not None and len(self.data) + len(b) > fs.full:
            raise OSError(28)  # ENOSPC
        self.data = self.data + b
        if fs.eager:
            fs.disk.files[self.path] = self.data
        return len(b)

    def flush(self):
        self.fs._op("flush")

    def close(self):
        self.fs._op("close")
        if self.writing:
            self.fs.disk.files[self.path] = self.data
            self.writing = False

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


class MemFs:
    def __init__(self, disk=None, fat=False, eager=True, die_after=None):
        self.disk = disk if disk is not None else Disk()
        self.fat = fat
        self.eager = eager
        self.left = die_after
        self.dead = False
        self.ops = 0
        self.log = []
        self.full = None  # a size limit for written files (ENOSPC)
        self.fail_read = ()  # paths whose open for reading fails (EIO)

    def _op(self, what):
        if self.dead:
            raise PowerLoss(what)
        if self.left is not None:
            if self.left <= 0:
                self.dead = True
                raise PowerLoss(what)
            self.left -= 1
        self.ops += 1
        self.log.append(what)

    def stat(self, path):
        self._op("stat " + path)
        if path not in self.disk.files:
            raise OSError(_ENOENT)
        return (0x8000, 0, 0, 0, 0, 0, len(self.disk.files[path]), 0, 0, 0)

    def open(self, path, mode):
        self._op("open %s %s" % (path, mode))
        files = self.disk.files
        if "r" in mode:
            if path not in files:
                raise OSError(_ENOENT)
            if path in self.fail_read:
                raise OSError(5)  # EIO
            return _File(self, path, files[path], False)
        if self.eager or path not in files:
            files[path] = b""
        return _File(self, path, b"", True)

    def rename(self, a, b):
        self._op("rename %s %s" % (a, b))
        files = self.disk.files
        if a not in files:
            raise OSError(_ENOENT)
        if b in files:
            if self.fat:
                raise OSError(_EEXIST)
        files[b] = files.pop(a)

    def remove(self, path):
        self._op("remove " + path)
        if path not in self.disk.files:
            raise OSError(_ENOENT)
        del self.disk.files[path]
