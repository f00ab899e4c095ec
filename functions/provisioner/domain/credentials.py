"""Credential rules that need no cloud call: the password generator, how a secret version says
which credential it holds, which of a user's AccessKeys KMS holds (``held_keys``) and the next step
of an AccessKey rotation (``rotation_plan``, CIS 1.6).

A Generic secret's version is named after the AccessKeyId it holds (or ``pw-…``); a RAMCredentials
secret rotated by KMS has version ids of KMS's own, and the key is told from the versions' and keys'
creation times (KMS makes the key first). Never a value: ids and times only."""
from __future__ import annotations

import secrets as _csprng
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

PROGRAMMATIC, CONSOLE = "programmatic", "console"
# A password version's id; an AccessKey version is named after its AccessKeyId (an identifier).
PASSWORD_VERSION_PREFIX = "pw-"  # noqa: S105 - a version-id prefix, not a password
# RAM accepts these in passwords; a conservative subset of ASCII punctuation.
PASSWORD_SYMBOLS = "!@#$%^&*()-_=+[]{}:,.?"  # noqa: S105 - an alphabet, not a password
PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH, PASSWORD_TARGET_LENGTH = 8, 32, 20


def password_version_id(token: str) -> str:
    return f"{PASSWORD_VERSION_PREFIX}{token}"


def is_password_version(version_id: str | None) -> bool:
    return bool(version_id) and str(version_id).startswith(PASSWORD_VERSION_PREFIX)


def make_password(policy: Mapping[str, Any] | None) -> str:
    """A CSPRNG password meeting ``GetPasswordPolicy``'s length and class rules (every class is included)."""
    minimum = int((policy or {}).get("MinimumPasswordLength") or PASSWORD_MIN_LENGTH)
    length = min(max(minimum, PASSWORD_TARGET_LENGTH), PASSWORD_MAX_LENGTH)
    classes = [string.ascii_lowercase, string.ascii_uppercase, string.digits, PASSWORD_SYMBOLS]
    alphabet = "".join(classes)
    chars = [_csprng.choice(c) for c in classes]
    chars += [_csprng.choice(alphabet) for _ in range(length - len(chars))]
    _csprng.SystemRandom().shuffle(chars)
    return "".join(chars)


# -- which AccessKeys KMS holds, and rotation ------------------------------------------------------
# A key that is not (yet) in KMS but younger than this, created after KMS's current version, may be
# another instance's mid-write (a rotation between CreateAccessKey and PutSecretValue, or an onboarding
# racing it): left alone until then. Longer than any invocation may run (s.yaml's timeouts: FC kills
# an invocation at its timeout, so an older key's writer is gone and the key is an orphan).
IN_FLIGHT_SECONDS = 15 * 60


@dataclass(frozen=True)
class Key:
    """One AccessKey as ListAccessKeys describes it (no secret)."""
    access_key_id: str
    status: str
    created: datetime | None

    @property
    def active(self) -> bool:
        return self.status == "Active"


@dataclass(frozen=True)
class Version:
    """One staged secret version as ListSecretVersionIds describes it (no value)."""
    version_id: str
    created: datetime | None


@dataclass(frozen=True)
class Versions:
    current: Version | None = None
    previous: Version | None = None

    @property
    def current_id(self) -> str | None:
        return self.current.version_id if self.current else None


@dataclass(frozen=True)
class Held:
    """The user's keys as KMS sees them. ``current``: the key KMS's current version holds (None when
    none of the user's keys is it); ``previous``: the key of the ACSPrevious version (a rotation's
    overlap); ``in_flight``: young keys another instance is writing; ``strays``: the rest (outside KMS)."""
    current: Key | None
    previous: Key | None
    in_flight: tuple[Key, ...]
    strays: tuple[Key, ...]

    @property
    def kept(self) -> set[str]:
        """Keys a reconcile leaves alone: the current one, an Active previous one, the in-flight ones."""
        kept = {k.access_key_id for k in self.in_flight}
        if self.current is not None:
            kept.add(self.current.access_key_id)
        if self.previous is not None and self.previous.active:
            kept.add(self.previous.access_key_id)
        return kept


def held_keys(keys: list[Key], versions: Versions, now: datetime, ram_secret: bool = False) -> Held:
    """Which of ``keys`` KMS holds. A version written by us is named after its AccessKeyId; a
    RAMCredentials secret that KMS rotated has version ids of KMS's own, and then it holds the newest
    key created up to that version's time (KMS creates the key, then writes the version; the previous
    key, created earlier, is its ACSPrevious)."""
    by_id = {k.access_key_id: k for k in keys}
    current = by_id.get(versions.current_id or "")
    # one version holding both stages (a stage move that left ACSPrevious behind) has no previous key
    previous = (by_id.get(versions.previous.version_id)
                if versions.previous and versions.previous.version_id != versions.current_id else None)
    written_at = versions.current.created if versions.current else None
    if current is None and ram_secret and versions.current is not None and written_at is not None:
        made = sorted((k for k in keys if k.created is not None and k.created <= written_at),
                      key=lambda k: k.created or written_at)
        if made:
            current = made[-1]
            previous = made[-2] if len(made) > 1 else None
    taken = {k.access_key_id for k in (current, previous) if k is not None}
    in_flight = tuple(k for k in keys if k.access_key_id not in taken and current is not None
                      and written_at is not None and k.created is not None and k.created > written_at
                      and (now - k.created).total_seconds() < IN_FLIGHT_SECONDS)
    taken |= {k.access_key_id for k in in_flight}
    return Held(current, previous, in_flight, tuple(k for k in keys if k.access_key_id not in taken))


# What the rotation function does for one user, decided from what RAM and KMS say (every step is
# derived afresh from the state, so a crash between any two calls is finished by the next run).
NOT_DUE, ROTATE, FINISH, WAIT, IN_PROGRESS, NO_KEY = (
    "not-due", "rotate", "finish", "overlap", "in-progress", "no-key-in-kms")


@dataclass(frozen=True)
class RotationPlan:
    action: str                       # one of the constants above
    held: Held
    due_at: datetime | None = None    # when the next step is due (not-due / overlap)


def rotation_plan(held: Held, versions: Versions, now: datetime, max_age_days: int,
                  overlap_hours: int) -> RotationPlan:
    """Pure: the next rotation step for one programmatic user whose secret KMS does not rotate.

    - no Active key that is KMS's current version: nothing to rotate from (onboarding's to repair);
    - another instance's key in flight: wait for it (``in-progress``);
    - an ACSPrevious key still there: the overlap; once ``overlap_hours`` have passed since the new
      version was written it is ``finish``ed (set Inactive, then deleted);
    - the current key older than ``max_age_days``: ``rotate`` (create, write as the current version).
    Strays (keys outside KMS, not in flight) are deleted first whatever the action.

    Both times count from the run that made the key or wrote the version, not from the instant it reached
    this user (up to ``IN_FLIGHT_SECONDS`` into that run): ``now`` is a run's start, so without that slack a
    daily run with a 24-hour overlap would finish a day late, and a key a rotation made would be rotated
    after 91 days, not 90."""
    current = held.current
    if current is None or not current.active:
        return RotationPlan(NO_KEY, held)
    if held.in_flight:
        return RotationPlan(IN_PROGRESS, held)
    written = versions.current.created if versions.current else None
    slack = timedelta(seconds=IN_FLIGHT_SECONDS)            # how far into its run a write may come
    if held.previous is not None:
        ends = (written or now) + timedelta(hours=overlap_hours)
        return RotationPlan(FINISH if now >= ends - slack else WAIT, held, None if now >= ends - slack else ends)
    born = current.created or written
    due = (born or now) + timedelta(days=max_age_days)
    return RotationPlan(ROTATE if now >= due - slack else NOT_DUE, held, None if now >= due - slack else due)
