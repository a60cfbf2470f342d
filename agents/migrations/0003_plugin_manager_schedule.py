"""Register the Plugin Manager's health-check pass as a django-q2 schedule (every minute), idempotently.

``update_or_create`` by name: running the migration on a database that already
has the schedule (e.g. created by hand) keeps one row and sets its function
and period. Reversing the migration removes it.
"""

from django.db import migrations
from django.utils import timezone

SCHEDULE_NAME = "plugin-manager: store health checks"  # agents.plugin_manager.SCHEDULE_NAME
SCHEDULE_FUNC = "agents.plugin_manager.run_due_health_checks"  # agents.plugin_manager.SCHEDULE_FUNC


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
        ("agents", "0002_issue3_plugins"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
