"""The schedules page: django-q2 schedules listed for members, changed only by the installation's operators
(Django's schedule permissions, not an organization role), only for allowed functions; built-ins restorable."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule, Task

from agents.schedule_forms import cron_error
from agents.schedules import ALLOWED_FUNCTIONS, BUILTIN_SCHEDULES, PERMISSIONS
from agents.triggers import SCHEDULE_FUNC as SYNC_FUNC
from agents.triggers import SCHEDULE_NAME as SYNC
from approvals.choices import AuditAction
from approvals.models import AuditEntry

SWEEP = "jobs: take back lost jobs, wake due retries"
PRUNE = "jobs: prune finished jobs past retention"
HEALTH = "plugin-manager: store health checks"
APPROVALS = "approvals: expiry, escalation, stale sweep, webhook retries"


@pytest.fixture
def schedule_admin(admin_user):
    """An organization admin who was also given Django's three schedule permissions (as the demo admin is)."""
    from django.contrib.auth.models import Permission

    codenames = [perm.split(".", 1)[1] for perm in PERMISSIONS.values()]
    admin_user.user_permissions.add(*Permission.objects.filter(content_type__app_label="django_q", codename__in=codenames))
    return admin_user


def edit_data(schedule, **changes):
    data = {
        "schedule_type": schedule.schedule_type,
        "minutes": schedule.minutes or "",
        "cron": schedule.cron or "",
        "next_run": timezone.localtime(schedule.next_run).strftime("%Y-%m-%dT%H:%M") if schedule.next_run else "",
        "repeats": schedule.repeats,
    }
    data.update(changes)
    return data


def later(minutes=30):
    return (timezone.now() + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")


# ---- the list -------------------------------------------------------------------------


def test_list_shows_the_migration_schedules(client, org, viewer):
    client.force_login(viewer)
    response = client.get(reverse("schedules:list"))
    assert response.status_code == 200
    html = response.content.decode()
    for name in (SWEEP, PRUNE, HEALTH, APPROVALS):
        assert name in html
    assert ALLOWED_FUNCTIONS["agents.runner.sweep"] in html
    assert "Every minute" in html and "Daily" in html
    assert "shared by the whole installation" in html
    assert "Not run yet" in html


def test_list_shows_the_last_result(client, org, viewer):
    now = timezone.now()
    Task.objects.create(id="a" * 32, name="t1", func="agents.runner.sweep", started=now, stopped=now, success=False)
    Schedule.objects.filter(name=SWEEP).update(task="a" * 32)
    Schedule.objects.filter(name=PRUNE).update(task="b" * 32)  # its task was not kept
    client.force_login(viewer)
    html = client.get(reverse("schedules:list")).content.decode()
    row = html.split(f"{SWEEP}</th>")[1].split("</tr>")[0]
    assert "Failed" in row
    assert "Not on record" in html.split(f"{PRUNE}</th>")[1].split("</tr>")[0]


def test_an_overdue_schedule_is_flagged(client, org, viewer):
    Schedule.objects.filter(name=SWEEP).update(next_run=timezone.now() - timedelta(minutes=5))
    Schedule.objects.exclude(name=SWEEP).update(next_run=timezone.now() + timedelta(minutes=5))
    Schedule.objects.filter(name=PRUNE).update(next_run=timezone.now() - timedelta(minutes=5), repeats=0)  # paused
    client.force_login(viewer)
    html = client.get(reverse("schedules:list")).content.decode()
    assert 'id="schedules-overdue"' in html
    assert "Overdue" in html.split(f"{SWEEP}</th>")[1].split("</tr>")[0]
    assert "Paused" in html.split(f"{PRUNE}</th>")[1].split("</tr>")[0]
    assert "Overdue" not in html.split(f"{PRUNE}</th>")[1].split("</tr>")[0]


def test_a_non_admin_sees_no_edit_buttons(client, org, operator):
    client.force_login(operator)
    html = client.get(reverse("schedules:list")).content.decode()
    assert "Add a schedule" not in html and "/edit" not in html
    schedule = Schedule.objects.get(name=SWEEP)
    assert reverse("schedules:edit", args=[schedule.pk]) not in html
    assert "only its operators change them" in html


def test_an_installation_operator_sees_edit_buttons(client, org, schedule_admin):
    client.force_login(schedule_admin)
    html = client.get(reverse("schedules:list")).content.decode()
    schedule = Schedule.objects.get(name=SWEEP)
    assert reverse("schedules:edit", args=[schedule.pk]) in html
    assert reverse("schedules:create") in html


@pytest.mark.parametrize("name", ["schedules:create", "schedules:edit", "schedules:delete"])
def test_it_rejects_an_operator(client, org, operator, name):
    schedule = Schedule.objects.get(name=SWEEP)
    before = (schedule.minutes, Schedule.objects.count())
    client.force_login(operator)
    url = reverse(name) if name == "schedules:create" else reverse(name, args=[schedule.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, edit_data(schedule, minutes=7, name="x", func="agents.runner.sweep")).status_code == 403
    schedule.refresh_from_db()
    assert (schedule.minutes, Schedule.objects.count()) == before
    assert not AuditEntry.objects.exists()


def test_it_rejects_a_user_without_an_organization(client, django_user_model):
    user = django_user_model.objects.create_user("loner", password="x")
    client.force_login(user)
    assert client.get(reverse("schedules:list")).status_code == 403


# ---- editing --------------------------------------------------------------------------


def test_admin_changes_the_minutes_and_it_is_audited(client, org, schedule_admin):
    schedule = Schedule.objects.get(name=SWEEP)
    client.force_login(schedule_admin)
    response = client.post(reverse("schedules:edit", args=[schedule.pk]), edit_data(schedule, minutes=5))
    assert response.status_code == 302 and response["Location"] == reverse("schedules:list")
    schedule.refresh_from_db()
    assert (schedule.schedule_type, schedule.minutes, schedule.func) == ("I", 5, "agents.runner.sweep")
    entry = AuditEntry.objects.get(action=AuditAction.SCHEDULE_CHANGED)
    assert entry.organization_id == org.pk and entry.actor == schedule_admin
    assert entry.details["before"]["minutes"] == 1 and entry.details["after"]["minutes"] == 5
    assert "every 5 minutes" in entry.message


def test_admin_sets_a_cron_expression(client, org, schedule_admin):
    schedule = Schedule.objects.get(name=PRUNE)
    client.force_login(schedule_admin)
    response = client.post(reverse("schedules:edit", args=[schedule.pk]),
                           edit_data(schedule, schedule_type="C", cron="  0 3 * * * ", next_run=""))
    assert response.status_code == 302
    schedule.refresh_from_db()
    assert (schedule.schedule_type, schedule.cron, schedule.minutes) == ("C", "0 3 * * *", None)
    assert schedule.next_run > timezone.now() and (schedule.next_run.hour, schedule.next_run.minute) == (3, 0)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"schedule_type": "I", "minutes": 0}, "minutes", "At least 1 minute."),
        ({"schedule_type": "I", "minutes": ""}, "minutes", "Say every how many minutes"),
        ({"schedule_type": "C", "cron": "61 * * * *"}, "cron", "Not a valid cron expression"),
        ({"schedule_type": "C", "cron": "every day"}, "cron", "Use five fields"),
        ({"schedule_type": "C", "cron": "0 0 31 2 *"}, "cron", "never fires"),
        ({"schedule_type": "O", "next_run": "2020-01-01T00:00"}, "next_run", "in the past"),
        ({"schedule_type": "O", "next_run": ""}, "next_run", "Say when it runs."),
        ({"repeats": -2}, "repeats", "greater than or equal to -1"),
        ({"schedule_type": "X"}, "schedule_type", "Select a valid choice"),
    ],
)
def test_invalid_values_show_next_to_the_field_and_write_nothing(client, org, schedule_admin, changes, field, message):
    schedule = Schedule.objects.get(name=SWEEP)
    before = (schedule.schedule_type, schedule.minutes, schedule.cron, schedule.next_run, schedule.repeats)
    client.force_login(schedule_admin)
    response = client.post(reverse("schedules:edit", args=[schedule.pk]), edit_data(schedule, **changes))
    assert response.status_code == 200
    form = response.context["form"]
    assert message in " ".join(form.errors[field])
    html = response.content.decode()
    assert f'id="id_{field}_error"' in html and f'aria-describedby="id_{field}_error"' in html
    schedule.refresh_from_db()
    assert (schedule.schedule_type, schedule.minutes, schedule.cron, schedule.next_run, schedule.repeats) == before
    assert not AuditEntry.objects.exists()


def test_cron_error_accepts_a_good_expression():
    assert cron_error("*/15 * * * *", timezone.now()) is None


def test_edit_page_shows_the_function_read_only(client, org, schedule_admin):
    schedule = Schedule.objects.get(name=HEALTH)
    client.force_login(schedule_admin)
    html = client.get(reverse("schedules:edit", args=[schedule.pk])).content.decode()
    assert ALLOWED_FUNCTIONS[schedule.func] in html
    assert 'name="func"' not in html
    assert 'for="id_minutes"' in html and 'type="datetime-local"' in html


def test_editing_ignores_a_forged_function(client, org, schedule_admin):
    schedule = Schedule.objects.get(name=SWEEP)
    client.force_login(schedule_admin)
    client.post(reverse("schedules:edit", args=[schedule.pk]), edit_data(schedule, func="os.system", minutes=2))
    schedule.refresh_from_db()
    assert schedule.func == "agents.runner.sweep" and schedule.minutes == 2


# ---- creating and deleting ------------------------------------------------------------


def test_admin_creates_a_schedule_of_an_allowed_function(client, org, schedule_admin):
    client.force_login(schedule_admin)
    page = client.get(reverse("schedules:create")).content.decode()
    for func in ALLOWED_FUNCTIONS:
        assert f'value="{func}"' in page
    response = client.post(reverse("schedules:create"), {
        "name": "jobs: extra prune", "func": "agents.services.prune_finished_jobs",
        "schedule_type": "O", "next_run": later(), "repeats": -1,
    })
    assert response.status_code == 302
    schedule = Schedule.objects.get(name="jobs: extra prune")
    assert (schedule.func, schedule.schedule_type) == ("agents.services.prune_finished_jobs", "O")
    entry = AuditEntry.objects.get(action=AuditAction.SCHEDULE_CHANGED)
    assert entry.details["before"] is None and entry.details["after"]["func"] == schedule.func


@pytest.mark.parametrize("func", ["os.system", "django.core.management.call_command", "agents.runner.sweep "])
def test_a_forged_function_is_refused(client, org, schedule_admin, func):
    count = Schedule.objects.count()
    client.force_login(schedule_admin)
    response = client.post(reverse("schedules:create"), {
        "name": "evil", "func": func, "schedule_type": "I", "minutes": 1, "repeats": -1,
    })
    assert response.status_code == 200
    assert response.context["form"].errors["func"]
    assert 'id="id_func_error"' in response.content.decode()
    assert Schedule.objects.count() == count and not Schedule.objects.filter(func=func).exists()
    assert not AuditEntry.objects.exists()


def test_a_name_in_use_is_refused(client, org, schedule_admin):
    client.force_login(schedule_admin)
    response = client.post(reverse("schedules:create"), {
        "name": SWEEP.upper(), "func": "agents.runner.sweep", "schedule_type": "I", "minutes": 1, "repeats": -1,
    })
    assert "exists already" in " ".join(response.context["form"].errors["name"])
    assert Schedule.objects.filter(name__iexact=SWEEP).count() == 1


def test_admin_deletes_after_confirming(client, org, schedule_admin):
    schedule = Schedule.objects.get(name=PRUNE)
    client.force_login(schedule_admin)
    page = client.get(reverse("schedules:delete", args=[schedule.pk]))
    assert page.status_code == 200 and "no longer runs on its own" in page.content.decode()
    assert Schedule.objects.filter(pk=schedule.pk).exists()  # GET only asks
    response = client.post(reverse("schedules:delete", args=[schedule.pk]))
    assert response.status_code == 302
    assert not Schedule.objects.filter(pk=schedule.pk).exists()
    entry = AuditEntry.objects.get(action=AuditAction.SCHEDULE_CHANGED)
    assert entry.details["after"] is None and entry.details["before"]["name"] == PRUNE


def test_a_missing_schedule_is_a_404(client, org, schedule_admin):
    client.force_login(schedule_admin)
    assert client.get(reverse("schedules:edit", args=[999999])).status_code == 404


# ---- built-in schedules ---------------------------------------------------------------


def test_every_builtin_is_there_as_migrated_and_allowed(client, org, viewer):
    for builtin in BUILTIN_SCHEDULES:
        schedule = Schedule.objects.get(name=builtin.name)
        assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
            builtin.func, builtin.schedule_type, builtin.minutes)
        assert builtin.func in ALLOWED_FUNCTIONS
    client.force_login(viewer)
    html = client.get(reverse("schedules:list")).content.decode()
    row = html.split(f"{SYNC}</th>")[1].split("</tr>")[0]
    assert ALLOWED_FUNCTIONS[SYNC_FUNC] in row
    assert "Not in the allowed list" not in html
    assert 'id="schedules-missing"' not in html


def test_a_deleted_builtin_is_restored_from_the_page(client, org, schedule_admin):
    client.force_login(schedule_admin)
    sync = Schedule.objects.get(name=SYNC)
    assert client.post(reverse("schedules:delete", args=[sync.pk])).status_code == 302
    assert not Schedule.objects.filter(func=SYNC_FUNC).exists()
    html = client.get(reverse("schedules:list")).content.decode()
    missing = html.split('id="schedules-missing"')[1].split("</div>\n</div>")[0]
    assert SYNC in missing and "Restore built-in schedules" in missing
    assert reverse("schedules:restore") in missing

    response = client.post(reverse("schedules:restore"), follow=True)
    restored = Schedule.objects.get(func=SYNC_FUNC)
    assert (restored.name, restored.schedule_type, restored.minutes, restored.repeats) == (SYNC, "I", 1, -1)
    assert restored.next_run <= timezone.now()
    assert "Restored 1 built-in schedule" in response.content.decode()
    assert 'id="schedules-missing"' not in response.content.decode()
    entry = AuditEntry.objects.filter(action=AuditAction.SCHEDULE_CHANGED).order_by("-pk").first()
    assert entry.details["before"] is None and entry.details["after"]["func"] == SYNC_FUNC
    assert entry.actor == schedule_admin

    count = Schedule.objects.count()
    response = client.post(reverse("schedules:restore"), follow=True)
    assert Schedule.objects.count() == count and "nothing was changed" in response.content.decode()


def test_the_new_schedule_form_offers_the_sync_function(client, org, schedule_admin):
    client.force_login(schedule_admin)
    page = client.get(reverse("schedules:create")).content.decode()
    assert f'value="{SYNC_FUNC}"' in page
    response = client.post(reverse("schedules:create"), {
        "name": "sync: every 5 minutes", "func": SYNC_FUNC, "schedule_type": "I", "minutes": 5, "repeats": -1,
    })
    assert response.status_code == 302
    assert Schedule.objects.get(name="sync: every 5 minutes").func == SYNC_FUNC


# ---- who may change the installation's schedules --------------------------------------


def test_an_organization_admin_cannot_change_the_installations_schedules(client, org, admin_user):
    sync = Schedule.objects.get(name=SYNC)
    client.force_login(admin_user)
    html = client.get(reverse("schedules:list")).content.decode()
    assert reverse("schedules:delete", args=[sync.pk]) not in html
    assert reverse("schedules:edit", args=[sync.pk]) not in html and "Add a schedule" not in html
    assert "only its operators change them" in html
    for url in (reverse("schedules:delete", args=[sync.pk]), reverse("schedules:edit", args=[sync.pk]),
                reverse("schedules:create"), reverse("schedules:restore")):
        response = client.post(url, edit_data(sync, minutes=9))
        assert response.status_code == 403, url
        assert "only its operators change them" in response.content.decode()
    sync.refresh_from_db()
    assert sync.minutes == 1 and Schedule.objects.filter(pk=sync.pk).exists()
    assert not AuditEntry.objects.exists()


def test_the_restore_button_is_hidden_from_an_organization_admin(client, org, admin_user):
    Schedule.objects.filter(func=SYNC_FUNC).delete()
    client.force_login(admin_user)
    html = client.get(reverse("schedules:list")).content.decode()
    assert SYNC in html.split('id="schedules-missing"')[1]
    assert reverse("schedules:restore") not in html


def test_a_superuser_member_changes_schedules(client, org, viewer):
    viewer.is_superuser = True
    viewer.save(update_fields=["is_superuser"])
    sweep = Schedule.objects.get(name=SWEEP)
    client.force_login(viewer)
    assert client.post(reverse("schedules:edit", args=[sweep.pk]), edit_data(sweep, minutes=3)).status_code == 302
    sweep.refresh_from_db()
    assert sweep.minutes == 3


def test_the_demo_admin_may_change_schedules(db, tmp_path, settings):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from agents.schedules import can_change

    settings.VAR_DIR = tmp_path
    call_command("demo_setup", stdout=open(tmp_path / "out.txt", "w"))
    users = {u.username: get_user_model().objects.get(username=u.username) for u in get_user_model().objects.all()}
    assert all(can_change(users["admin"], what) for what in ("add", "change", "delete"))
    assert not can_change(users["manager"], "delete") and not can_change(users["operator"], "add")
