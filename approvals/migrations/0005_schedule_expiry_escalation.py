"""Register the approvals pass (expiry, escalation, stale sweep, webhook retries) as a django-q2 schedule
that runs every minute, idempotently.

``update_or_create`` by name: running it on a database that already has the
schedule keeps one row and sets its function and period. Reversing removes it.
"""

from django.db import migrations
from django.utils import timezone

SCHEDULE_NAME = "approvals: expiry, escalation, stale sweep, webhook retries"  # approvals.services.SCHEDULE_NAME
SCHEDULE_FUNC = "approvals.services.run_due"  # approvals.services.SCHEDULE_FUNC


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.using(schema_editor.connection.alias).update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": SCHEDULE_FUNC,
            "schedule_type": "I",  # django_q.models.Schedule.MINUTES
            "minutes": 1,
            "repeats": -1,  # forever
            "next_run": timezone.now(),
        },
    )


def remove_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.using(schema_editor.connection.alias).filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("approvals", "0004_seed_default_rules"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
