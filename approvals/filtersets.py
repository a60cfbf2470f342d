"""The one place approvals lists are filtered: requests, the audit trail, rules."""

import django_filters
from django import forms
from django.db.models import Q

from approvals.choices import AuditAction, ChangeAction, Queue, RequestStatus, ResourceType
from approvals.models import ApprovalRequest, ApprovalRule, AuditEntry
from flashfusion.filters import BootstrapFilterSet


class ApprovalFilterSet(BootstrapFilterSet):
    """Requests; ``queue`` narrows to what the signed-in reviewer may decide now (``services.decidable_by``)
    or to what they asked for."""

    q = django_filters.CharFilter(method="search", label="Search")
    queue = django_filters.ChoiceFilter(
        choices=Queue.choices, method="filter_queue", empty_label="Everyone's requests", label="Queue"
    )
    status = django_filters.ChoiceFilter(choices=RequestStatus.choices, empty_label="Any status")
    action = django_filters.ChoiceFilter(choices=ChangeAction.choices, empty_label="Any change")
    resource_type = django_filters.ChoiceFilter(choices=ResourceType.choices, empty_label="Any resource", label="Resource")

    class Meta:
        model = ApprovalRequest
        fields = ["q", "queue", "status", "action", "resource_type"]

    def search(self, queryset, name, value):
        value = value.strip()
        if value.lstrip("#").isdigit():
            return queryset.filter(Q(pk=int(value.lstrip("#"))) | Q(product_title__icontains=value))
        return queryset.filter(Q(product_title__icontains=value) | Q(reason__icontains=value))

    def filter_queue(self, queryset, name, value):
        from approvals.services import decidable_by

        membership = getattr(self.request, "membership", None)
        if membership is None:
            return queryset.none()
        if value == Queue.MINE:
            return decidable_by(queryset, membership)
        if value == Queue.REQUESTED:
            return queryset.filter(requested_by=membership.user)
        return queryset


class AuditFilterSet(BootstrapFilterSet):
    """The audit trail: words in the message or the actor's name, an action, a request number, a date range."""

    q = django_filters.CharFilter(method="search", label="Search")
    action = django_filters.ChoiceFilter(choices=AuditAction.choices, empty_label="Any action")
    request = django_filters.NumberFilter(field_name="request_id", label="Request #", min_value=1)
    since = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label="Until", widget=forms.DateInput(attrs={"type": "date"})
    )

    ranges = (("since", "until", "“From” is after “until” ({low} > {high}): swap them."),)

    class Meta:
        model = AuditEntry
        fields = ["q", "action", "request", "since", "until"]

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(
            Q(message__icontains=value) | Q(actor_name__icontains=value) | Q(ip_address__startswith=value)
        )


class RuleFilterSet(BootstrapFilterSet):
    resource_type = django_filters.ChoiceFilter(choices=ResourceType.choices, empty_label="Any resource", label="Resource")
    action = django_filters.ChoiceFilter(choices=ChangeAction.choices, empty_label="Any action")
    is_enabled = django_filters.BooleanFilter(
        label="Enabled",
        widget=forms.Select(choices=[("", "Enabled or not"), ("true", "Enabled"), ("false", "Disabled")]),
    )

    class Meta:
        model = ApprovalRule
        fields = ["resource_type", "action", "is_enabled"]
