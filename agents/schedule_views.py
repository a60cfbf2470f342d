"""The schedules page: django-q2 schedules, read-only for members, created, edited and deleted by admins.

Schedules belong to the whole installation (``agents.schedules``); any
organization's admin may change them, and the change is audited in that
admin's organization. Every view calls ``membership_for`` first: no
membership is a 403, and changing anything needs the admin role (403, also
for GET of the edit pages, so a non-admin never sees a form).
"""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django_q.models import Schedule

from agents.schedule_forms import NewScheduleForm, ScheduleForm
from agents.schedules import (
    ALLOWED_FUNCTIONS,
    delete_schedule,
    describe_timing,
    function_label,
    save_schedule,
    schedule_rows,
)
from approvals.views import client_address
from flashfusion.access import membership_for
from flashfusion.choices import Role


def schedule_list(request):
    membership = membership_for(request)
    rows = schedule_rows()
    return render(request, "agents/schedule_list.html", {
        "rows": rows,
        "any_overdue": any(row.overdue for row in rows),
        "can_edit": membership.has_role(Role.ADMIN),
        "allowed_functions": ALLOWED_FUNCTIONS,
        "membership": membership,
    })


def schedule_create(request):
    membership = membership_for(request, Role.ADMIN)
    form = NewScheduleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        schedule = save_schedule(membership, form, ip_address=client_address(request))
        messages.success(request, f"Schedule “{schedule.name}” created: {describe_timing(schedule)}.")
        return redirect("schedules:list")
    return render(request, "agents/schedule_form.html", {"form": form, "schedule": None, "membership": membership})


def schedule_edit(request, pk: int):
    membership = membership_for(request, Role.ADMIN)
    schedule = get_object_or_404(Schedule, pk=pk)
    form = ScheduleForm(request.POST or None, instance=schedule)
    if request.method == "POST" and form.is_valid():
        schedule = save_schedule(membership, form, ip_address=client_address(request))
        messages.success(request, f"Schedule “{schedule.name}” saved: {describe_timing(schedule)}.")
        return redirect("schedules:list")
    return render(request, "agents/schedule_form.html", {
        "form": form, "schedule": schedule, "label": function_label(schedule.func), "membership": membership,
    })


def schedule_delete(request, pk: int):
    """GET: the confirmation page; POST: delete."""
    membership = membership_for(request, Role.ADMIN)
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
