"""django-q2 schedules: the built-in ones, which functions a schedule may run, how a schedule reads, audited changes.

A ``django_q.models.Schedule`` row makes the cluster call ``func`` (a dotted
path) at its times. Whoever can write ``func`` can run any code on the
workers, so the schedules page never takes a path from a user: new schedules
pick one of ``ALLOWED_FUNCTIONS``, and editing keeps the function.

``BUILTIN_SCHEDULES`` are the schedules the migrations create (agents 0003,
0004, 0005; approvals 0005); every function they run is allowed, and
``restore_builtins`` makes again the ones an operator deleted, with the
migrations' timing.

Schedules belong to the installation, not to an organization: every
organization's jobs are swept by the same "jobs: …" schedule. So changing
them is not an organization role's right: it needs Django's model
permissions on ``django_q.Schedule`` (``add_schedule``, ``change_schedule``,
``delete_schedule``; a superuser has them all, and Django admin grants them
to others) — see ``can_change``. A change is audited
(``AuditAction.SCHEDULE_CHANGED``) in the organization of the user who made it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule, Task

from agents import plugin_manager, triggers
from approvals import services as approval_services
from approvals.choices import AuditAction
from approvals.services import record


@dataclass(frozen=True)
class BuiltinSchedule:
    """A schedule the product needs, as its migration creates it.

    ``schedule_type`` is django-q2's code (``Schedule.MINUTES`` "I",
    ``Schedule.DAILY`` "D"); ``minutes`` only for "I".
    """

    name: str
    func: str
    label: str
    schedule_type: str
    minutes: int | None = None


#: Every schedule the migrations create, with the same name, function and timing.
BUILTIN_SCHEDULES = (
    BuiltinSchedule(plugin_manager.SCHEDULE_NAME, plugin_manager.SCHEDULE_FUNC,
                    "Store health checks that are due (Plugin Manager)", Schedule.MINUTES,
                    plugin_manager.SCHEDULE_MINUTES),
    BuiltinSchedule(approval_services.SCHEDULE_NAME, approval_services.SCHEDULE_FUNC,
                    "Approvals: expire, escalate, mark stale, retry webhooks", Schedule.MINUTES, 1),
    BuiltinSchedule("jobs: take back lost jobs, wake due retries", "agents.runner.sweep",
                    "Jobs: take back lost jobs, wake workers for due retries", Schedule.MINUTES, 1),
    BuiltinSchedule("jobs: prune finished jobs past retention", "agents.services.prune_finished_jobs",
                    "Jobs: delete finished jobs past retention", Schedule.DAILY),
    BuiltinSchedule(triggers.SCHEDULE_NAME, triggers.SCHEDULE_FUNC,
                    "Sync: queue the stores whose automatic sync is due", Schedule.MINUTES, 1),
)

#: Functions a schedule may run: dotted path → what it does, in words (every built-in schedule's).
ALLOWED_FUNCTIONS = {builtin.func: builtin.label for builtin in BUILTIN_SCHEDULES}

#: What each change on the schedules page needs (Django permission codenames of ``django_q.Schedule``).
PERMISSIONS = {"add": "django_q.add_schedule", "change": "django_q.change_schedule",
               "delete": "django_q.delete_schedule"}


def can_change(user, what: str = "change") -> bool:
    """True when ``user`` may ``what`` ("add", "change", "delete") the installation's schedules.

    Django model permissions, not an organization role: an organization's
    admin runs one merchant, while schedules run for every merchant here.
    """
    return bool(user and user.is_authenticated and user.has_perm(PERMISSIONS[what]))


def missing_builtins() -> list[BuiltinSchedule]:
    """The built-in schedules whose function no schedule runs any more (deleted on the page or elsewhere)."""
    present = set(Schedule.objects.filter(func__in=ALLOWED_FUNCTIONS).values_list("func", flat=True))
    return [builtin for builtin in BUILTIN_SCHEDULES if builtin.func not in present]


def restore_builtins(membership, *, ip_address=None) -> list[Schedule]:
    """Create the missing built-in schedules as the migrations made them (next run: now), each audited.

    Returns the schedules created (none when nothing was missing). A name
    taken meanwhile by another function's schedule gets " (built-in)" added.
    """
    created = []
    with transaction.atomic():
        for builtin in missing_builtins():
            name = builtin.name
            if Schedule.objects.filter(name__iexact=name).exists():
                name = f"{name} (built-in)"
            schedule = Schedule.objects.create(
                name=name, func=builtin.func, schedule_type=builtin.schedule_type, minutes=builtin.minutes,
                repeats=-1, next_run=timezone.now(),
            )
            _audit(membership, f"Restored built-in schedule “{schedule.name}”: {describe_timing(schedule)}",
                   None, snapshot(schedule), ip_address)
            created.append(schedule)
    return created

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
