"""Holds: park one caller's call of one action, for exact interleavings across processes.

    hold_id = cloud.hold(key_id, "CreateAccessKey", when="after", nth=1)
    ... start instance A (it calls CreateAccessKey with key_id) ...
    assert cloud.wait_held(hold_id, timeout=10)   # A's call ran; its answer is withheld
    ... let instance B run to completion ...
    cloud.release(hold_id)                          # A gets its answer and goes on

A hold counts the calls of ``action`` made with ``access_key_id`` (None: any
caller) from the moment it is placed; the ``nth`` is parked. ``when="before"``
parks it before the action runs (nothing has happened yet); ``when="after"``
parks it after the action ran and was logged, with its answer (success or
error) withheld. Calls are counted once they are authenticated and name a
known action (before authorization and faults), so a refused or faulted call
counts too.

Nothing waits forever: a parked call is released after the hold's ``timeout``
(default 30 s) and the hold ends ``expired`` (reported by ``expired()``, the
control API and a line on stderr); ``wait_held`` takes a timeout; ``reset()``,
``release_all()`` and stopping the server release every parked call. The HTTP
server is threaded, so a parked call never blocks other callers.

States: ``armed`` (counting) -> ``held`` (a call is parked) -> ``released`` |
``expired``; ``cancelled`` when released before any call was parked.
"""
import itertools
import sys
import threading
import time
from dataclasses import dataclass, field

DEFAULT_TIMEOUT = 30.0
WHEN = ("before", "after")


@dataclass
class Hold:
    id: str
    access_key_id: object       # str, or None for any caller
    action: str
    when: str
    nth: int
    timeout: float
    state: str = "armed"
    seen: int = 0
    request_id: str = ""
    held_at: float = None
    ended_at: float = None
    _parked: threading.Event = field(default_factory=threading.Event, repr=False)
    _release: threading.Event = field(default_factory=threading.Event, repr=False)

    def view(self):
        return {"id": self.id, "accessKeyId": self.access_key_id, "action": self.action, "when": self.when,
                "nth": self.nth, "timeout": self.timeout, "state": self.state, "seen": self.seen,
                "requestId": self.request_id, "heldFor": (self.ended_at or time.monotonic()) - self.held_at
                if self.held_at is not None else None}


class Holds:
    def __init__(self, default_timeout=DEFAULT_TIMEOUT, report=None):
        self.default_timeout = default_timeout
        self._holds = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._report = report or _stderr
        self._expired = []          # every expiry ever, kept across clear()/reset()

    def add(self, access_key_id, action, when="before", nth=1, timeout=None):
        """Place a hold; return its id. ``access_key_id=None`` matches every caller."""
        if when not in WHEN:
            raise ValueError(f"when must be one of {WHEN}, not {when!r}")
        if not isinstance(action, str) or not action:
            raise ValueError("action must name an API action, e.g. CreateAccessKey")
        if not isinstance(nth, int) or isinstance(nth, bool) or nth < 1:
            raise ValueError("nth must be an integer >= 1")
        timeout = self.default_timeout if timeout is None else float(timeout)
        if not 0 < timeout <= 3600:
            raise ValueError("timeout must be in (0, 3600] seconds")
        with self._lock:
            hold = Hold(id=f"h{next(self._ids)}", access_key_id=access_key_id or None, action=action, when=when,
                        nth=nth, timeout=timeout)
            self._holds[hold.id] = hold
            return hold.id

    # -- the gateway's side ------------------------------------------------------------
    def enter(self, access_key_id, action, request_id=""):
        """Count this call against every armed hold; return the holds that park it (or ())."""
        if not self._holds:          # fast path: no hold placed (a dict read is atomic)
            return ()
        caught = []
        with self._lock:
            for hold in self._holds.values():
                if hold.state != "armed" or hold.action != action:
                    continue
                if hold.access_key_id is not None and hold.access_key_id != access_key_id:
                    continue
                hold.seen += 1
                if hold.seen == hold.nth:
                    hold.state = "caught"      # parked at its point (before / after) by park()
                    hold.request_id = request_id
                    caught.append(hold)
        return caught

    def park(self, caught, when):
        """Block the calling request thread on each of ``caught`` holds placed for ``when``."""
        for hold in caught:
            if hold.when != when:
                continue
            with self._lock:
                if hold.state != "caught":     # released or cleared before the call got here
                    continue
                hold.state = "held"
                hold.held_at = time.monotonic()
            hold._parked.set()
            released = hold._release.wait(hold.timeout)
            with self._lock:
                hold.ended_at = time.monotonic()
                if not released and hold.state == "held":
                    hold.state = "expired"
                    self._expired.append(hold.view())
                    self._report(f"localcloud: hold {hold.id} ({hold.action} by {hold.access_key_id or 'any caller'}, "
                                 f"{hold.when}) was never released: auto-released after {hold.timeout:g} s")
                elif hold.state == "held":
                    hold.state = "released"

    # -- the controller's side --------------------------------------------------------------
    def _get(self, hold_id):
        hold = self._holds.get(hold_id)
        if hold is None:
            raise KeyError(f"no hold {hold_id!r}")
        return hold

    def wait_held(self, hold_id, timeout=10.0):
        """True once the hold's call is parked (or was: released/expired since); False on timeout."""
        hold = self._get(hold_id)
        return hold._parked.wait(timeout)

    def release(self, hold_id):
        """Let the parked call go on (or cancel the hold if none is parked yet); return its view."""
        with self._lock:
            hold = self._get(hold_id)
            if hold.state in ("armed", "caught"):
                hold.state = "cancelled"
            elif hold.state == "held":
                hold.state = "released"
                hold.ended_at = time.monotonic()
            hold._release.set()
            return hold.view()

    def release_all(self):
        """Release every parked call and cancel every armed hold (reset, shutdown)."""
        with self._lock:
            for hold in self._holds.values():
                if hold.state in ("armed", "caught"):
                    hold.state = "cancelled"
                elif hold.state == "held":
                    hold.state = "released"
                    hold.ended_at = time.monotonic()
                hold._release.set()

    def clear(self):
        """Release everything and forget every hold."""
        self.release_all()
        with self._lock:
            self._holds.clear()

    def get(self, hold_id):
        with self._lock:
            return self._get(hold_id).view()

    def list(self):
        with self._lock:
            return [h.view() for h in self._holds.values()]

    def expired(self):
        """Every hold whose parked call was auto-released because nobody released it (a test bug),
        since this cloud started (kept across ``clear()`` and ``reset()``)."""
        with self._lock:
            return list(self._expired)


def _stderr(message):
    print(message, file=sys.stderr, flush=True)
