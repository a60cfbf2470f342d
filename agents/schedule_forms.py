"""Forms of the schedules page: a schedule's timing, and a new schedule of an allowed function.

Plain forms (not ModelForms) so every rule and its message is here and the
errors land next to their fields: minutes ≥ 1 for "every N minutes", a
five-field cron expression that fires at least once, a "once" run not in the
past, repeats −1 (forever), 0 (paused) or a count. ``apply`` copies the
cleaned values onto a ``Schedule``; nothing is written until
``agents.schedules.save_schedule``.
"""

from datetime import datetime

from django import forms
from django.utils import timezone
from django_q.models import Schedule

from agents.schedules import ALLOWED_FUNCTIONS, EDITABLE_TYPES
from flashfusion.forms import BootstrapFormMixin

try:
    from croniter import CroniterBadDateError, CroniterError, croniter
except ImportError:  # pragma: no cover - croniter is in requirements.lock; django-q2 needs it for cron schedules
    croniter = None

#: ``<input type="datetime-local">`` value format (minutes; the page works in UTC).
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class ScheduleForm(BootstrapFormMixin, forms.Form):
    """When a schedule runs. ``instance``: the schedule being edited (its values are the initial ones)."""

    schedule_type = forms.ChoiceField(label="How often", choices=EDITABLE_TYPES)
    minutes = forms.IntegerField(
        label="Every how many minutes", required=False,
        help_text="Only for “Every N minutes”: 1 or more.",
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": 1}),
    )
    cron = forms.CharField(
        label="Cron expression", required=False, max_length=100,
        help_text="Only for “Cron expression”: minute hour day month weekday, in UTC, "
                  "e.g. 0 3 * * * (03:00 every day).",
        widget=forms.TextInput(attrs={"class": "font-monospace", "spellcheck": "false", "autocomplete": "off"}),
    )
    next_run = forms.DateTimeField(
        label="Next run (UTC)", required=False, input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"],
        help_text="Empty: at once (a cron schedule: its next time). Required for “Once”, and not in the past.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )
    repeats = forms.IntegerField(
        label="Runs left", initial=-1, min_value=-1,
        help_text="−1 runs forever; 0 pauses the schedule; a number counts down with each run.",
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": -1}),
    )

    def __init__(self, *args, instance: Schedule | None = None, **kwargs):
        self.instance = instance if instance is not None else Schedule()
        if instance is not None and instance.pk and "initial" not in kwargs:
            kwargs["initial"] = {
                "schedule_type": instance.schedule_type,
                "minutes": instance.minutes,
                "cron": instance.cron,
                "next_run": timezone.localtime(instance.next_run) if instance.next_run else None,
                "repeats": instance.repeats,
            }
        super().__init__(*args, **kwargs)
        # A row made elsewhere may use a type the page does not offer (biweekly, yearly…): keep it selectable.
        current = self.instance.schedule_type if self.instance.pk else None
        if current and current not in dict(EDITABLE_TYPES):
            label = dict(Schedule.TYPE).get(current, current)
            self.fields["schedule_type"].choices = [*EDITABLE_TYPES, (current, str(label))]

    def clean(self):
        data = super().clean()
        kind = data.get("schedule_type")
        now = timezone.now()
        if kind == Schedule.MINUTES:
            minutes = data.get("minutes")
            if minutes is None and "minutes" not in self.errors:
                self.add_error("minutes", "Say every how many minutes it runs (1 or more).")
            elif minutes is not None and minutes < 1:
                self.add_error("minutes", "At least 1 minute.")
            elif minutes is not None and minutes > 32767:
                self.add_error("minutes", "At most 32767 minutes (about 22 days); use daily or weekly instead.")
        else:
            data["minutes"] = None
        if kind == Schedule.CRON:
            data["cron"] = " ".join((data.get("cron") or "").split())
            error = cron_error(data["cron"], now)
            if error:
                self.add_error("cron", error)
        else:
            data["cron"] = None
        next_run = data.get("next_run")
        if kind == Schedule.ONCE and "next_run" not in self.errors:
            if next_run is None:
                self.add_error("next_run", "Say when it runs.")
            elif next_run < now.replace(second=0, microsecond=0):
                self.add_error("next_run",
                               f"That is in the past (it is {timezone.localtime(now):%Y-%m-%d %H:%M} UTC now).")
        return data

    def apply(self, schedule: Schedule) -> Schedule:
        """Copy the cleaned timing onto ``schedule`` (not saved); no next run means now (cron: its next time)."""
        data = self.cleaned_data
        schedule.schedule_type = data["schedule_type"]
        schedule.minutes = data["minutes"]
        schedule.cron = data["cron"]
        schedule.repeats = data["repeats"]
        next_run = data.get("next_run")
        if next_run is None:
            now = timezone.now()
            next_run = croniter(schedule.cron, now).get_next(datetime) if schedule.cron else now
        schedule.next_run = next_run
        return schedule

    def save(self) -> Schedule:
        schedule = self.apply(self.instance)
        schedule.save()
        return schedule


class NewScheduleForm(ScheduleForm):
    """A new schedule: a unique name and one of ``ALLOWED_FUNCTIONS`` (never a typed path), then its timing."""

    name = forms.CharField(
        label="Name", max_length=100,
        help_text="Shown here and as the task group of its runs, e.g. “jobs: nightly prune”.",
        error_messages={"required": "Give the schedule a name."},
    )
    func = forms.ChoiceField(
        label="Function",
        choices=[("", "Choose what it runs…"), *ALLOWED_FUNCTIONS.items()],
        help_text="Only these functions can be scheduled here.",
        error_messages={"required": "Choose what the schedule runs.",
                        "invalid_choice": "Choose one of the listed functions."},
    )

    field_order = ["name", "func", "schedule_type", "minutes", "cron", "next_run", "repeats"]

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Give the schedule a name.")
        if Schedule.objects.filter(name__iexact=name).exists():
            raise forms.ValidationError("A schedule with this name exists already; pick another name or edit that one.")
        return name

    def clean_func(self):
        func = self.cleaned_data["func"]
        # The choices already refuse it; stated again because this check is what stops running arbitrary code.
        if func not in ALLOWED_FUNCTIONS:
            raise forms.ValidationError("Choose one of the listed functions.")
        return func

    def apply(self, schedule: Schedule) -> Schedule:
        schedule.name = self.cleaned_data["name"]
        schedule.func = self.cleaned_data["func"]
        return super().apply(schedule)


def cron_error(expression: str, now) -> str | None:
    """Why ``expression`` cannot drive a schedule, or ``None`` when it can.

    Five fields (minute hour day month weekday), valid ranges, and at least one
    time it fires within croniter's search (so "0 0 31 2 *" is refused).
    """
    if not expression:
        return "Enter a cron expression, e.g. */15 * * * * (every 15 minutes)."
    if croniter is None:
        return "Cron schedules need the croniter package, which is not installed here; use another type."
    if len(expression.split()) != 5:
        return "Use five fields: minute hour day-of-month month day-of-week, e.g. 0 3 * * *."
    try:
        croniter(expression, now).get_next(datetime)
    except CroniterBadDateError:
        return "This expression never fires (no such date, e.g. 31 February)."
    except (CroniterError, ValueError, KeyError) as exc:
        detail = str(exc).split("] ", 1)[-1].removeprefix("is not acceptable").strip(" ,.")
        return (f"Not a valid cron expression{': ' + detail if detail else ''}. Ranges: minute 0–59, hour 0–23, "
                "day 1–31, month 1–12, weekday 0–6.")
    return None
