"""django-q2 schedules: which functions a schedule may run, how a schedule reads, and audited changes.

A ``django_q.models.Schedule`` row makes the cluster call ``func`` (a dotted
path) at its times. Whoever can write ``func`` can run any code on the
workers, so the schedules page never takes a path from a user: new schedules
pick one of ``ALLOWED_FUNCTIONS``, and editing keeps the function.

Schedules belong to the installation, not to an organization: every
organization's jobs are swept by the same "jobs: …" schedule. A change is
audited (``AuditAction.SCHEDULE_CHANGED``) in the organization of the admin
who made it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule, Task

from approvals.choices import AuditAction
from approvals.services import record

#: Functions a schedule may run: dotted path → what it does, in words.
ALLOWED_FUNCTIONS = {
    "agents.plugin_manager.run_due_health_checks": "Store health checks that are due (Plugin Manager)",
    "approvals.services.run_due": "Approvals: expire, escalate, mark stale, retry webhooks",
    "agents.runner.sweep": "Jobs: take back lost jobs, wake workers for due retries",
    "agents.services.prune_finished_jobs": "Jobs: delete finished jobs past retention",
}

#: Schedule types offered on the page (django-q2 has more: biweekly, quarterly…; those rows still show).
EDITABLE_TYPES = [
    (Schedule.ONCE, "Once"),
    (Schedule.MINUTES, "Every N minutes"),
    (Schedule.HOURLY, "Hourly"),
    (Schedule.DAILY, "Daily"),
    (Schedule.WEEKLY, "Weekly"),
    (Schedule.MONTHLY, "Monthly"),
    (Schedule.CRON, "Cron expression"),
]


def function_label(func: str) -> str:
    """What ``func`` does, from the registry; a path outside it is named as such (made elsewhere, e.g. Django admin)."""
    return ALLOWED_FUNCTIONS.get(func, f"Not in the allowed list: {func}")


def describe_timing(schedule: Schedule) -> str:
    """"every 5 minutes", "daily", "cron 0 3 * * *", "once"."""
    kind = schedule.schedule_type
    if kind == Schedule.MINUTES:
        minutes = schedule.minutes or 1
        return "every minute" if minutes == 1 else f"every {minutes} minutes"
    if kind == Schedule.CRON:
        return f"cron {schedule.cron}"
    return schedule.get_schedule_type_display().lower()


def snapshot(schedule: Schedule) -> dict:
    """The audited fields of ``schedule`` (JSON-ready; ``next_run`` ISO 8601 UTC)."""
    return {
        "name": schedule.name,
        "func": schedule.func,
        "schedule_type": schedule.schedule_type,
        "minutes": schedule.minutes,
        "cron": schedule.cron,
        "next_run": schedule.next_run.isoformat() if schedule.next_run else None,
        "repeats": schedule.repeats,
    }


@dataclass
class ScheduleRow:
    """A schedule as the page lists it, with its last task's result (``None`` when no task is on record)."""

    schedule: Schedule
    label: str
    allowed: bool
    timing: str
    last_success: bool | None
    last_stopped: datetime | None
    overdue: bool  # its next run passed over a minute ago: the scheduler (qcluster) is not picking it up


def schedule_rows() -> list[ScheduleRow]:
    """Every schedule, by name, with the result of its last task (two queries)."""
    schedules = list(Schedule.objects.order_by("name", "pk"))
    task_ids = [s.task for s in schedules if s.task]
    tasks = {t["id"]: t for t in Task.objects.filter(id__in=task_ids).values("id", "success", "stopped")}
    rows = []
    late = timezone.now() - timedelta(minutes=1)
    for schedule in schedules:
        task = tasks.get(schedule.task or "")
        rows.append(ScheduleRow(
            schedule=schedule,
            label=function_label(schedule.func),
            allowed=schedule.func in ALLOWED_FUNCTIONS,
            timing=describe_timing(schedule),
            last_success=task["success"] if task else None,
            last_stopped=task["stopped"] if task else None,
            overdue=bool(schedule.repeats != 0 and schedule.next_run and schedule.next_run < late),
        ))
    return rows


def _audit(membership, message: str, before: dict | None, after: dict | None, ip_address) -> None:
    record(membership.organization_id, AuditAction.SCHEDULE_CHANGED, message, actor=membership.user,
           ip_address=ip_address, details={"before": before, "after": after})


def save_schedule(membership, form, *, ip_address=None) -> Schedule:
    """Create or update the schedule of a valid ``ScheduleForm``/``NewScheduleForm``, and audit it. Returns it."""
    with transaction.atomic():
        # The form's instance already holds the new values (ModelForm validation): the old ones come from the row.
        old = Schedule.objects.select_for_update().filter(pk=form.instance.pk).first() if form.instance.pk else None
        before = snapshot(old) if old else None
        schedule = form.save()
        after = snapshot(schedule)
        verb = "Changed" if before else "Created"
        _audit(membership, f"{verb} schedule “{schedule.name}”: {describe_timing(schedule)}", before, after, ip_address)
    return schedule


def delete_schedule(membership, schedule: Schedule, *, ip_address=None) -> None:
    """Delete ``schedule`` and audit it (its tasks on record stay)."""
    before = snapshot(schedule)
    with transaction.atomic():
        schedule.delete()
        _audit(membership, f"Deleted schedule “{before['name']}”", before, None, ip_address)
