"""The timer's sweep: disable users whose day has ended, delete users whose grace is over.

Sweep decisions:

- only users whose ``Comments`` carry our marker are considered (ListUsers paged, MaxItems=1000, over
  ALL users); the state is re-read right before acting (the ledger's head, then GetUser): a user the
  ledger says active (a rehire being applied) is ``skipped``, neither disabled nor deleted;
- dry-run (payload ``dryRun`` or ``OFFBOARD_DRY_RUN``; either one turns it on)
  performs only reads and reports, per user, exactly the steps it would take;
- mass-deletion brake: at most ``min(OFFBOARD_MAX_DELETIONS_PER_RUN,
  payload.maxDeletions)`` deletions (a user, or an orphan secret) per run; the
  rest are reported ``pending`` and one ERROR line with
  ``alert="mass-deletion-brake"`` is logged. Disabling is not braked (it is
  reversible and every step of it is kept for a rehire);
- a permanent failure for one user gives that user a ``failed`` row and the
  sweep goes on. Transient failures (still failing after the in-invocation
  retries) also give ``failed`` rows; after everyone else was handled the
  report is logged and TransientError is raised so FC's async retry re-runs
  the sweep (idempotent: done users are skipped, the rest finished) — except
  when the brake engaged: then a re-run would only delete more, so the sweep
  returns and the next scheduled tick continues;
- the report (counts, plus one row per user touched) is returned; it is logged as one
  ``sweep user`` line per row and one ``sweep report`` line with the counts;
- never reads a secret value (DescribeSecret / ListSecrets metadata only).
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..cloud import directory
from ..cloud.errors import CloudError, TransientError
from ..cloud.ledger import Ledger, claim_tick
from ..domain import lifecycle
from ..domain.lifecycle import Due, iso
from ..domain.ordering import Entry
from ..domain.ownership import TAG_EMPLOYEE, TAG_USER, Marker, owned_by
from ..domain.results import Result, Status, error_fields
from ..platform import clock, log
from . import steps
from .offboarding import plan_delete, plan_disable
from .steps import Step

if TYPE_CHECKING:
    from ..platform.runtime import Runtime


class _Sweep:
    def __init__(self, rt: Runtime, dry_run: bool, limit: int) -> None:
        self.rt, self.dry_run, self.limit = rt, dry_run, limit
        self.tick, self.invocation = "", ""
        self.tick_owner: str | None = None       # another run of this tick owns its deletions
        self.tick_claimed = False
        self.when: datetime = clock.now()
        self.deletions = 0
        self.rows: list[dict[str, Any]] = []
        self.counts = {"disabled": 0, "deleted": 0, "secretsScheduled": 0, "pending": 0, "skipped": 0,
                       "failed": 0}
        self.transient: list[str] = []
        self.not_due = 0

    def braked(self) -> bool:
        """The mass-deletion brake: this run made its ``limit`` deletions (users and orphan secrets alike)."""
        return self.deletions >= self.limit

    def may_delete(self) -> bool:
        """The brake holds per scheduled tick however many runs of it overlap (FC's retry, a manual
        run): the first run to claim the tick deletes, the others only disable and report. Claimed
        at the first deletion, so a sweep with nothing to delete writes nothing."""
        if self.tick and not self.tick_claimed and not self.dry_run:
            self.tick_claimed = True
            if not claim_tick(self.rt, self.tick, self.invocation):
                self.tick_owner = "another run"
                log.alert(logging.WARNING, "another run owns this tick's deletions", log.SWEEP_TICK_OWNED_ALERT,
                          tick=self.tick)
        return self.tick_owner is None

    def row(self, action: str, user_name: str, employee_id: str | None = None, plan: list[Step] | None = None,
            **extra: Any) -> None:
        row: dict[str, Any] = {"userName": user_name, "employeeId": employee_id, "action": action}
        if plan is not None:
            row["steps"] = steps.describe(plan)
        row.update(extra)
        self.add(row)
        self.counts[action] += 1

    def add(self, row: dict[str, Any]) -> None:
        """One row per user touched; each is logged on its own line (a sweep that touches thousands
        must not build one log line larger than the log service accepts)."""
        self.rows.append(row)
        log.info("sweep user", dryRun=self.dry_run, **row)

    def due(self, marker: Marker) -> Due | None:
        s = self.rt.settings
        return lifecycle.due(marker, self.when, s.hr_timezone, s.offboard_grace_days)

    def guarded(self, user_name: str, employee_id: str, work: Callable[[], None]) -> None:
        """Run one user's work; a failure becomes that user's ``failed`` row, naming the step that
        failed (e.g. the MFA serial to clean up) and how many steps before it were done."""
        try:
            work()
        except CloudError as err:
            self.row("failed", user_name, employee_id, **steps.failure_fields(err), error=error_fields(err))
        except TransientError as err:
            self.transient.append(user_name)
            self.row("failed", user_name, employee_id, **steps.failure_fields(err),
                     error={"code": "Transient", "detail": str(err)})

    def user(self, listed: directory.ManagedUser) -> None:
        user_name, listed_marker = listed.user_name, listed.marker
        action = self.due(listed_marker)
        if action is None:
            self.not_due += 1
            return
        employee_id = listed_marker.employee_id
        if action == Due.DELETE and self.braked():
            self.row("pending", user_name, employee_id, reason="mass-deletion brake")
            return
        self.guarded(user_name, employee_id, lambda: self._act(user_name, employee_id))

    def _act(self, user_name: str, employee_id: str) -> None:
        # Re-read: the listing may be minutes old and a rehire may have reactivated the user.
        ledger = Ledger(self.rt, employee_id)
        head = ledger.head()
        marker = owned_by(directory.get_user(self.rt.cloud, user_name), employee_id)
        action = self.due(marker) if marker is not None else None
        from .converge import active_before
        entries = ledger.entries() if action is not None and head is not None and head.for_user(user_name) else []
        if entries and lifecycle.desired(entries, self.when, self.rt.settings.hr_timezone, initially_active=(
                active_before(self.rt, ledger, entries, user_name, employee_id, marker))
        ).target != lifecycle.Target.DISABLED:
            action = None   # a rehire is being applied (active, or until a later leave): never disable or delete
        if marker is None or action is None:
            self.row("skipped", user_name, employee_id, reason="no longer due on re-read")
            return
        try:
            self._due(user_name, employee_id, marker, action, head)
        except CloudError as err:
            if not (err.code or "").startswith("DeleteConflict."):
                raise
            # Something was attached between the plan and DeleteUser: a rehire (a newer event), or a
            # person (a failure for a human, and the next run plans again).
            if ledger.head() == head:
                raise
            self.row("skipped", user_name, employee_id, reason="a newer event arrived while deleting")
        finally:
            if not self.dry_run and ledger.head() != head:
                self.repair(ledger, user_name, employee_id)

    def repair(self, ledger: Ledger, user_name: str, employee_id: str) -> None:
        """A newer event arrived while this user was disabled or deleted: converge to it now (the
        event's own instance may have finished before these steps ran)."""
        from .converge import converge_to_head
        log.warning("a newer event arrived during the sweep's work; converging to it", step="sweep-repair",
                    userName=user_name)
        converge_to_head(self.rt, ledger, user_name, employee_id)
        if directory.get_user(self.rt.cloud, user_name) is not None:
            # the user lives on (a rehire landed before this run's DeleteSecret of the ledger, so no
            # write of the rehire brought it back): a ledger left scheduled would be purged under a
            # live user, and a stale leaver could then disable it
            ledger.restore()

    def _due(self, user_name: str, employee_id: str, marker: Marker, action: Due, head: Entry | None) -> None:
        if action == Due.DISABLE:
            plan = plan_disable(self.rt, user_name, marker, self.when)
            if not self.dry_run:
                steps.execute(self.rt, plan)
            self.row("disabled", user_name, employee_id, plan)
            return
        if self.braked():
            self.row("pending", user_name, employee_id, reason="mass-deletion brake")
            return
        if not self.may_delete():
            self.row("pending", user_name, employee_id, reason="this tick's deletions belong to another run")
            return
        plan = plan_delete(self.rt, user_name, marker, head)
        self.deletions += 1
        if not self.dry_run:
            steps.execute(self.rt, plan)
        self.row("deleted", user_name, employee_id, plan)
        if any(s.action == "DeleteSecret" for s in plan):
            self.counts["secretsScheduled"] += 1

    def orphan_secrets(self, user_names: set[str]) -> None:
        """Secrets tagged ours whose RAM user is gone (a crash between DeleteUser and DeleteSecret)."""
        for secret in directory.list_secrets(self.rt.cloud):
            if secret.get("PlannedDeleteTime"):
                continue
            tags = directory.secret_tags(secret)
            user_name, employee_id = tags.get(TAG_USER), tags.get(TAG_EMPLOYEE)
            if not user_name or not employee_id or user_name in user_names:
                continue
            self.guarded(user_name, employee_id, functools.partial(self._orphan, secret["SecretName"], user_name,
                                                                   employee_id))

    def _orphan(self, secret_name: str, user_name: str, employee_id: str) -> None:
        if directory.get_user(self.rt.cloud, user_name) is not None:
            return                                      # created since the listing: not an orphan
        if self.braked() or not self.may_delete():
            self.row("pending", user_name, employee_id, reason="mass-deletion brake", secretName=secret_name)
            return
        plan = [steps.kms("DeleteSecret", SecretName=secret_name,
                          RecoveryWindowInDays=str(self.rt.settings.secret_recovery_days))]
        self.deletions += 1
        if not self.dry_run:
            steps.execute(self.rt, plan)
        self.add({"userName": user_name, "employeeId": employee_id, "action": "secretScheduled",
                  "steps": steps.describe(plan)})
        self.counts["secretsScheduled"] += 1


def run(payload: dict[str, Any], rt: Runtime, tick: str = "", invocation: str = "") -> Result:
    """The timer's work, for a payload already validated. Returns (and logs) the report; see the
    module docstring for the rules."""
    s = rt.settings
    dry_run = bool(payload.get("dryRun")) or s.offboard_dry_run
    limit = s.offboard_max_deletions_per_run
    if payload.get("maxDeletions") is not None:
        limit = min(limit, payload["maxDeletions"])
    work = _Sweep(rt, dry_run, limit)
    with log.keys(sweepAt=iso(work.when), dryRun=dry_run):
        work.tick, work.invocation = tick, invocation
        listing = directory.list_users(rt.cloud)
        for managed in listing.managed:
            work.user(managed)
        work.orphan_secrets(listing.names)
        report: Result = {"status": Status.SWEPT.value, "dryRun": dry_run, "sweptAt": iso(work.when),
                          "timezone": s.hr_timezone, "graceDays": s.offboard_grace_days, "maxDeletions": limit,
                          "scanned": len(listing.names), "managed": len(listing.managed), "notDue": work.not_due,
                          "counts": work.counts, "users": work.rows}
        if work.counts["pending"]:
            report["brake"] = {"limit": limit, "pending": work.counts["pending"]}
            log.alert(logging.ERROR, "mass-deletion brake engaged: deletions stopped", log.MASS_DELETION_BRAKE_ALERT,
                      limit=limit, deleted=work.deletions, pending=work.counts["pending"])
        log.info("sweep report", **{k: v for k, v in report.items() if k not in ("status", "users")},
                 status=Status.SWEPT.value, rows=len(work.rows))
        if work.transient and not work.counts["pending"]:
            raise TransientError(f"sweep: {len(work.transient)} user(s) hit transient errors after retries "
                                 f"({len(work.rows) - len(work.transient)} handled); a re-run is safe")
        return report
