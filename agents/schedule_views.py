"""The schedules page: django-q2 schedules, read by every member, changed by the installation's operators.

Schedules belong to the whole installation (``agents.schedules``): one
organization's admin must not stop another organization's syncs, so changes
need Django's permissions on ``django_q.Schedule`` (``schedules.can_change``:
superusers, or users granted them in Django admin), whatever the
organization role. Every view calls ``membership_for`` first (no membership
is a 403; a change is audited in that organization); changing anything
without the permission is a 403, also for GET of the edit pages, so nobody
is shown a form they cannot send.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_q.models import Schedule

from agents.schedule_forms import NewScheduleForm, ScheduleForm
from agents.schedules import (
    ALLOWED_FUNCTIONS,
    can_change,
    delete_schedule,
    describe_timing,
    function_label,
    missing_builtins,
    restore_builtins,
    save_schedule,
    schedule_rows,
)
from approvals.views import client_address
from flashfusion.access import membership_for

#: Why a member without the permission cannot change schedules (the page says it; a 403 gives it as the reason).
REFUSAL = ("Schedules run for every organization on this installation, so only its operators change them "
           "(Django superusers, or users given the scheduled-task permissions in Django admin).")


def _membership_allowed_to(request, what: str):
    membership = membership_for(request)
    if not can_change(request.user, what):
        raise PermissionDenied(REFUSAL)
    return membership


def schedule_list(request):
    membership = membership_for(request)
    rows = schedule_rows()
    return render(request, "agents/schedule_list.html", {
        "rows": rows,
        "any_overdue": any(row.overdue for row in rows),
        "can_add": can_change(request.user, "add"),
        "can_edit": can_change(request.user, "change"),
        "can_delete": can_change(request.user, "delete"),
        "refusal": REFUSAL,
        "missing": missing_builtins(),
        "allowed_functions": ALLOWED_FUNCTIONS,
        "membership": membership,
    })


def schedule_create(request):
    membership = _membership_allowed_to(request, "add")
    form = NewScheduleForm(request.POST or None, initial={"func": request.GET.get("func", "")})
    if request.method == "POST" and form.is_valid():
        schedule = save_schedule(membership, form, ip_address=client_address(request))
        messages.success(request, f"Schedule “{schedule.name}” created: {describe_timing(schedule)}.")
        return redirect("schedules:list")
    return render(request, "agents/schedule_form.html", {"form": form, "schedule": None, "membership": membership})


@require_POST
def schedule_restore(request):
    """"Restore built-in schedules": create the missing ones with the migrations' timing."""
    membership = _membership_allowed_to(request, "add")
    created = restore_builtins(membership, ip_address=client_address(request))
    if created:
        names = ", ".join(f"“{s.name}” ({describe_timing(s)})" for s in created)
        messages.success(request, f"Restored {len(created)} built-in schedule{'s' if len(created) != 1 else ''}: {names}.")
    else:
        messages.info(request, "Every built-in schedule is there already; nothing was changed.")
    return redirect("schedules:list")


def schedule_edit(request, pk: int):
    membership = _membership_allowed_to(request, "change")
    schedule = get_object_or_404(Schedule, pk=pk)
    form = ScheduleForm(request.POST or None, instance=schedule)
    if request.method == "POST" and form.is_valid():
        schedule = save_schedule(membership, form, ip_address=client_address(request))
        messages.success(request, f"Schedule “{schedule.name}” saved: {describe_timing(schedule)}.")
        return redirect("schedules:list")
    return render(request, "agents/schedule_form.html", {
        "form": form, "schedule": schedule, "label": function_label(schedule.func), "membership": membership,
        "can_delete": can_change(request.user, "delete"),
    })


def schedule_delete(request, pk: int):
    """GET: the confirmation page; POST: delete."""
    membership = _membership_allowed_to(request, "delete")
    schedule = get_object_or_404(Schedule, pk=pk)
    if request.method == "POST":
        name = schedule.name
        delete_schedule(membership, schedule, ip_address=client_address(request))
        messages.success(request, f"Schedule “{name}” deleted.")
        return redirect("schedules:list")
    return render(request, "agents/schedule_delete.html", {
        "schedule": schedule, "label": function_label(schedule.func), "timing": describe_timing(schedule),
        "allowed": schedule.func in ALLOWED_FUNCTIONS, "membership": membership,
    })
