"""``--state FILE``: localcloud's state kept across restarts.

The file is one JSON document: the account (id, region, alias), the gateway
credentials (every registered AccessKey pair and STS token), the callers' RAM
policies, the clock's offset, the fingerprint key, and the RAM and KMS state
*including credentials* (AccessKeySecrets, passwords, MFA seeds, secret values)
because RAM and KMS semantics need them and ``minted_credentials()`` must
survive a restart for the leak checks. It is test data, but it holds
credentials: it is created with mode 0600 and must never be committed.

Writes are atomic: a temporary file in the same directory (created 0600,
``O_EXCL``), then ``os.replace``. A kill at any moment leaves either the
previous or the new state, never a torn file. There is no fsync: a killed
process loses nothing (the kernel has the data); only a machine crash could.

Saved after every call that changed state (``Gateway.on_change``: every
successful non-read action, plus GetRandomPassword, whose result joins the
minted credentials), after every control-API change, and on shutdown.
Faults, holds and the call log are not state: a restart starts without them.
"""
import json
import os
import tempfile
import threading
import time
from dataclasses import fields

FORMAT = "localcloud-state"
VERSION = 1


class StateFile:
    def __init__(self, path):
        self.path = os.path.abspath(path)
        self._lock = threading.Lock()
        self.saves = 0
        self.seconds = 0.0         # total time spent saving (snapshot + write), for the docs' figures

    def load(self):
        """The saved document, or None if the file does not exist."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return None
        if data.get("format") != FORMAT or data.get("version") != VERSION:
            raise ValueError(f"{self.path} is not a localcloud state file (format {FORMAT} v{VERSION})")
        return data

    def save(self, snapshot):
        """Write ``snapshot()`` (called under this file's lock, so the last save is the newest state)."""
        with self._lock:
            started = time.perf_counter()
            data = snapshot()
            data.update(format=FORMAT, version=VERSION)
            text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            directory = os.path.dirname(self.path)
            fd, tmp = tempfile.mkstemp(prefix=".localcloud-", suffix=".tmp", dir=directory)   # 0600, O_EXCL
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
                os.chmod(tmp, 0o600)
                os.replace(tmp, self.path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
            self.saves += 1
            self.seconds += time.perf_counter() - started


_FIELD_NAMES = {}


def plain(obj):
    """A dataclass's fields as a dict, one level deep (lists and dicts copied): what ``snapshot``
    serializes after the lock is released. ``dataclasses.asdict`` deep-copies and is 10x slower."""
    names = _FIELD_NAMES.get(type(obj))
    if names is None:
        names = _FIELD_NAMES[type(obj)] = tuple(f.name for f in fields(obj))
    data = {}
    for name in names:
        value = getattr(obj, name)
        data[name] = list(value) if type(value) is list else dict(value) if type(value) is dict else value
    return data
