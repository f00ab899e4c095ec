"""One clock for everything time-dependent in localcloud.

RAM dates (``CreateDate``, ``UpdateDate``, ``AttachDate``, ``JoinDate``), KMS
times (``CreateTime``, ``PlannedDeleteTime``, ...), the deletion windows that
expire and the call log's ``at`` all read the cloud's clock, so moving it moves
the whole emulated world at once:

    cloud.clock.advance(days=7)          # a KMS recovery window of 7 days is over
    cloud.clock.set(datetime(2027, 1, 1, tzinfo=timezone.utc))
    cloud.clock.reset()                  # back to real time

Any object with a ``now()`` method returning an *aware* datetime can stand in
(``LocalCloud(clock=obj)`` or ``cloud.use_clock(obj)``): a test fixture can
install one clock object into the deployed functions and into localcloud.

What does NOT follow this clock, on purpose (real wall time / monotonic time):

- request signature freshness (``InvalidTimeStamp.Expired``, 15 minutes) and the
  nonce window: the official SDK signs with the real wall time, so checking it
  against a moved clock would refuse every SDK request. A test that moves the
  SDK's own time too can patch ``Authenticator.wall_time``.
- scripted latency, rate limits (``faults.rate_limit``) and hold timeouts: they
  measure real elapsed time of real requests.
"""
import threading
import time as _time
from datetime import datetime, timedelta, timezone

WIRE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def iso(ts):
    """Seconds since the epoch as the APIs print times: ``2026-11-28T09:00:00Z``."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime(WIRE_FORMAT)


def parse_time(value):
    """An aware datetime from a datetime, epoch seconds or an ISO 8601 / RFC 3339 string."""
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        when = datetime.fromisoformat(text)
    else:
        raise TypeError(f"cannot read a time from {type(value).__name__}")
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("the time must be timezone-aware (e.g. 2026-11-28T09:00:00Z)")
    return when.astimezone(timezone.utc)


def check_clock(clock):
    """``clock`` must have ``now()`` returning an aware datetime; return it."""
    now = getattr(clock, "now", None)
    if not callable(now):
        raise TypeError("a clock needs a now() method returning an aware datetime")
    value = now()
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise TypeError("clock.now() must return a timezone-aware datetime")
    return clock


def timestamp(clock):
    """Seconds since the epoch by ``clock`` (any object with an aware ``now()``)."""
    return clock.now().timestamp()


class Clock:
    """Real time, moved by an offset or frozen at an instant; thread-safe.

    ``now()`` -> aware UTC datetime; ``time()`` -> epoch seconds.
    ``set(when, frozen=False)`` makes the clock read ``when`` now (running on from
    there, or standing still with ``frozen=True``); ``advance(seconds, days=, hours=,
    minutes=)`` moves it forward (negative values move it back); ``reset()`` returns
    to real time.
    """

    def __init__(self, wall=_time.time):
        self._wall = wall
        self._offset = 0.0
        self._frozen = None      # epoch seconds while frozen
        self._lock = threading.Lock()

    def time(self):
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return self._wall() + self._offset

    def now(self):
        return datetime.fromtimestamp(self.time(), timezone.utc)

    def set(self, when, frozen=False):
        target = parse_time(when).timestamp()
        with self._lock:
            if frozen:
                self._frozen = target
            else:
                self._frozen = None
                self._offset = target - self._wall()
        return self.now()

    def advance(self, seconds=0, *, days=0, hours=0, minutes=0):
        delta = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds).total_seconds()
        with self._lock:
            if self._frozen is not None:
                self._frozen += delta
            else:
                self._offset += delta
        return self.now()

    def reset(self):
        with self._lock:
            self._offset = 0.0
            self._frozen = None
        return self.now()

    @property
    def offset(self):
        """Seconds this clock is ahead of real time (negative: behind)."""
        with self._lock:
            if self._frozen is not None:
                return self._frozen - self._wall()
            return self._offset

    @property
    def frozen(self):
        return self._frozen is not None

    def describe(self):
        now = self.time()
        return {"now": iso(now), "time": now, "offset": self.offset, "frozen": self.frozen, "controllable": True}

    # -- persistence (--state) -------------------------------------------------------
    def snapshot(self):
        with self._lock:
            return {"offset": self._offset, "frozen": self._frozen}

    def restore(self, data):
        with self._lock:
            self._offset = float(data.get("offset") or 0.0)
            frozen = data.get("frozen")
            self._frozen = float(frozen) if frozen is not None else None

    def __repr__(self):
        return f"Clock(now={iso(self.time())}, offset={self.offset:.0f}s, frozen={self.frozen})"


def describe(clock):
    """What the control API reports for any clock object."""
    if isinstance(clock, Clock):
        return clock.describe()
    now = timestamp(clock)
    return {"now": iso(now), "time": now, "offset": now - _time.time(), "frozen": None,
            "controllable": all(callable(getattr(clock, m, None)) for m in ("set", "advance", "reset"))}
