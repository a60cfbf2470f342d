"""The one place the jobs list is filtered: the list page, "retry all that match" and its confirmation reuse it.

Every filter is served by one of ``Job.Meta.indexes`` together with the
organization (status, kind, store, priority, queued time, error group); the
free-text search ``q`` is an ``icontains`` over the organization's jobs,
newest first, so it stops at the first page of matches.
"""

from datetime import timedelta

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone

from agents.choices import JobKind, JobStatus, Priority
from agents.models import Job
from flashfusion.filters import BootstrapFilterSet
from stores.models import Store

#: ``<input type="datetime-local">`` sends and shows this format (local time, minutes).
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"

#: Preset windows of the "Queued" filter: value → (label, age).
QUEUED_WITHIN = {
    "1h": ("In the last hour", timedelta(hours=1)),
    "24h": ("In the last 24 hours", timedelta(hours=24)),
    "7d": ("In the last 7 days", timedelta(days=7)),
}


def _stores(request):
    if request is None or getattr(request, "organization", None) is None:
        return Store.objects.none()
    return Store.objects.filter(organization=request.organization)


def _datetime_input():
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL)


class JobFilterSet(BootstrapFilterSet):
    """Filters of the jobs list. Query parameters:

    ``q`` (text in the summary or error; ``123`` or ``#123`` also matches job 123),
    ``status``, ``kind``, ``store`` (id), ``priority`` (0/10/20/30),
    ``queued`` (``1h``/``24h``/``7d``), ``queued_after`` / ``queued_before``
    (``YYYY-MM-DDTHH:MM`` in the current time zone, inclusive) and
    ``error_group`` (a dead-letter fingerprint, 16 hex characters, as linked
    from the dead-letters page).
    """

    q = django_filters.CharFilter(method="search", label="Search", widget=forms.TextInput(
        attrs={"placeholder": "Text or #id", "type": "search"}))
    status = django_filters.ChoiceFilter(choices=JobStatus.choices, empty_label="Any status")
    kind = django_filters.ChoiceFilter(choices=JobKind.choices, empty_label="Any kind")
    store = django_filters.ModelChoiceFilter(queryset=_stores, empty_label="Any store")
    priority = django_filters.ChoiceFilter(
        choices=[(str(value), label) for value, label in Priority.choices], empty_label="Any priority")
    queued = django_filters.ChoiceFilter(
        choices=[(value, label) for value, (label, _) in QUEUED_WITHIN.items()],
        method="queued_within", empty_label="Any time", label="Queued")
    queued_after = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label="Queued after", widget=_datetime_input())
    queued_before = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lte", label="Queued before", widget=_datetime_input())
    error_group = django_filters.CharFilter(
        field_name="error_fingerprint", label="Error group", max_length=16,
        widget=forms.TextInput(attrs={"placeholder": "From dead letters", "spellcheck": "false"}))

    class Meta:
        model = Job
        fields = ["q", "status", "kind", "store", "priority", "queued", "queued_after", "queued_before", "error_group"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        text = Q(summary__icontains=value) | Q(error__icontains=value)
        number = value.lstrip("#")
        if number.isdigit() and len(number) < 19:
            return queryset.filter(Q(pk=int(number)) | text)
        return queryset.filter(text)

    def queued_within(self, queryset, name, value):
        label_age = QUEUED_WITHIN.get(value)
        if label_age is None:
            return queryset
        return queryset.filter(created_at__gte=timezone.now() - label_age[1])

    def in_words(self) -> str:
        """The active filters as one line, e.g. "status Dead letter, store Demo Woo, search “timeout”".

        Empty string when nothing is filtered (or the form is invalid). Used
        in the retry confirmation and its audit entry.
        """
        if not self.is_bound or not self.form.is_valid():
            return ""
        parts = []
        for name, value in self.form.cleaned_data.items():
            if value in (None, ""):
                continue
            field = self.form.fields[name]
            if name == "q":
                shown = f"“{value}”"
            elif hasattr(field, "choices") and not isinstance(field, forms.ModelChoiceField):
                shown = str(dict(field.choices).get(value, value))
            elif hasattr(value, "strftime"):
                shown = timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
            else:
                shown = str(value)
            parts.append(f"{field.label.lower()} {shown}")
        return ", ".join(parts)
