"""Approvals pages: the queue, a request's review page, bulk decisions, the audit trail, rules, notifications.

Who may do what (roles from ``flashfusion.choices.Role``):

- read the queue and a request: every member (viewers read);
- decide a request (one or in bulk): members whose role reaches the
  request's current approver role; never the requester's own approval;
- audit trail and rules list: managers and admins; edit rules and
  notification settings: admins.

Another organization's request or rule is a 404 (``get_for_org``).
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Exists, OuterRef, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from approvals.choices import RequestStatus, Verdict
from approvals.diff import review_context
from approvals.filtersets import ApprovalFilterSet, AuditFilterSet, RuleFilterSet
from approvals.forms import (
    ApprovalRuleForm,
    BulkDecisionForm,
    DecisionForm,
    EscalationTierFormSet,
    NotificationSettingsForm,
    rule_snapshot,
)
from approvals.models import ApprovalRequest, ApprovalRule, AuditEntry, Decision, NotificationSettings, WebhookDelivery
from approvals.notifications import send_test_delivery
from approvals.rules import coverage, eligible_reviewer_counts, processes_asking
from approvals.services import (
    bulk_decide,
    decidable_by,
    decide,
    decision_times,
    is_stale,
    outcome_text,
    propose_rule_change,
    record_settings_change,
    refusal,
)
from approvals.tables import ApprovalTable, AuditTable, DeliveryTable, RuleTable
from flashfusion.access import get_for_org, membership_for
from flashfusion.choices import Role
from flashfusion.views import ObjectListView


def client_address(request) -> str | None:
    """The address a request came from, as the web server saw it (``REMOTE_ADDR``)."""
    return request.META.get("REMOTE_ADDR") or None


def annotate_for_reviewer(queryset, user):
    """Adds ``approval_count`` (approvals not dismissed) and ``decided_by_me`` to each request."""
    return queryset.annotate(
        approval_count=Count("decisions", filter=Q(decisions__verdict=Verdict.APPROVE, decisions__dismissed_at__isnull=True)),
        decided_by_me=Exists(Decision.objects.filter(request=OuterRef("pk"), reviewer=user)),
    )


class ApprovalListView(ObjectListView):
    """The queue. Its table reloads on the live "approvals-changed" signal, and that reload also brings the
    "Waiting for me" count (``approvals/partials/approval_table.html``: an out-of-band badge), so the count
    follows the websocket like the table. ``bulk_form``: a bound ``BulkDecisionForm`` with errors, when
    ``approval_bulk`` draws the page again (its ticks stay ticked)."""

    filterset_class = ApprovalFilterSet
    table_class = ApprovalTable
    template_name = "approvals/approval_list.html"
    partial_template = "approvals/partials/approval_table.html"
    live_signal = "approvals-changed"
    compact_exclude = ("select", "reason", "requested_by", "expires_at", "approval_count")
    bulk_form = None

    def get_queryset(self, request):
        queryset = ApprovalRequest.objects.filter(organization=request.organization).select_related("requested_by")
        return annotate_for_reviewer(queryset, request.user)

    def table_kwargs(self, request) -> dict:
        return {"selected": selected_ids(self.bulk_form)}

    def extra_context(self, request) -> dict:
        membership = request.membership
        waiting_for_me = decidable_by(ApprovalRequest.objects.filter(organization=membership.organization), membership)
        if request.htmx:
            return {"waiting_for_me": waiting_for_me.count()}
        rules = list(ApprovalRule.objects.filter(organization=membership.organization).prefetch_related("tiers"))
        return {
            "rules": [r for r in rules if r.is_enabled],
            "waiting_for_me": waiting_for_me.count(),
            "times": decision_times(membership.organization, rules=rules),
            "bulk_form": self.bulk_form or BulkDecisionForm(),
            "can_bulk": membership.has_role(Role.OPERATOR),
            "queue": request.GET.get("queue", ""),
        }


def selected_ids(form) -> set[int]:
    """The request ids ticked in a submitted bulk form (also when the selection itself was refused)."""
    if form is None or not form.is_bound:
        return set()
    return {int(v) for v in form.data.getlist("select") if str(v).isdigit()}


def decision_message(approval: ApprovalRequest) -> str:
    """The line shown after a decision (worded apart from the status badge, so each says its own thing)."""
    if approval.status == RequestStatus.APPLIED:
        return f"Request #{approval.pk}: your approval completed it and the change ran."
    if approval.status == RequestStatus.REJECTED:
        return f"Request #{approval.pk} rejected; the requester can read your comment."
    return f"Request #{approval.pk}: {outcome_text(approval).lower()}."


def approval_detail(request, pk: int):
    """A request's review page: the diff, its state, decisions and audit trail; POST decides it."""
    approval = get_for_org(request, ApprovalRequest.objects.select_related("requested_by", "product", "rule"), pk)
    membership = membership_for(request)
    form = DecisionForm(request.POST or None)
    if request.method == "POST":
        membership.require(approval.required_role)
        if form.is_valid():
            try:
                decided = decide(
                    approval,
                    membership=membership,
                    verdict=form.cleaned_data["verdict"],
                    comment=form.cleaned_data["comment"],
                    ip_address=client_address(request),
                )
            except ValidationError as exc:
                if not hasattr(exc, "error_dict"):
                    messages.error(request, " ".join(exc.messages))
                    return redirect(approval)
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            except PermissionDenied as exc:
                messages.error(request, str(exc))
                return redirect(approval)
            else:
                messages.success(request, decision_message(decided))
                return redirect(approval)
    decisions = list(approval.decisions.select_related("reviewer"))
    my_decision = next((d for d in decisions if d.reviewer_id == request.user.pk), None)
    return render(
        request,
        "approvals/approval_detail.html",
        {
            "approval": approval,
            "review": review_context(approval, request.GET.get("page", 1)),
            "decisions": decisions,
            "audit": approval.audit_entries.order_by("id"),
            "form": form,
            "can_decide": my_decision is None and not refusal(approval, membership, Verdict.REJECT),
            "approve_refusal": refusal(approval, membership, Verdict.APPROVE),
            "my_decision": my_decision,
            "own_request": approval.requested_by_id == request.user.pk,
            "stale": approval.status == RequestStatus.PENDING and is_stale(approval),
        },
    )


@require_POST
def approval_bulk(request):
    """Approve or reject the selected requests; renders one result per item.

    Viewers are refused (403); a selection holding another organization's
    request is a 404. Each item is decided on its own: a refusal (role,
    own request, already closed) is reported and never undoes the others.
    An invalid form (no selection, a reject without a comment) draws the list
    again with the error next to its field, the same filters (the form posts
    to this URL with the list's query string) and the same ticks.
    """
    membership = membership_for(request, Role.OPERATOR)
    form = BulkDecisionForm(request.POST)
    if not form.is_valid():
        view = ApprovalListView(bulk_form=form)
        view.setup(request)
        return view.get(request)
    ids = form.cleaned_data["select"]
    approvals = list(
        ApprovalRequest.objects.filter(organization=membership.organization, pk__in=ids)
        .select_related("requested_by", "product")
        .order_by("pk")
    )
    if len(approvals) != len(ids):
        raise Http404("A selected request does not exist.")
    verdict = form.cleaned_data["verdict"]
    results = bulk_decide(
        approvals, membership=membership, verdict=verdict, comment=form.cleaned_data["comment"], ip_address=client_address(request)
    )
    return render(
        request,
        "approvals/bulk_result.html",
        {"results": results, "verdict": verdict, "done": sum(r.ok for r in results), "refused": sum(not r.ok for r in results)},
    )


class AuditListView(ObjectListView):
    """The audit trail of the organization's approvals and rules, searchable; managers and admins."""

    filterset_class = AuditFilterSet
    table_class = AuditTable
    template_name = "approvals/audit_list.html"
    required_role = Role.MANAGER
    live_signal = "approvals-changed"

    def get_queryset(self, request):
        return AuditEntry.objects.filter(organization=request.organization)


class RuleListView(ObjectListView):
    """The organization's rules; managers read them, admins edit them."""

    filterset_class = RuleFilterSet
    table_class = RuleTable
    template_name = "approvals/rule_list.html"
    required_role = Role.MANAGER

    def table_kwargs(self, request) -> dict:
        return {"can_edit": request.membership.has_role(Role.ADMIN)}

    def get_queryset(self, request):
        return (
            ApprovalRule.objects.filter(organization=request.organization)
            .annotate(waiting=Count("requests", filter=Q(requests__status=RequestStatus.PENDING)))
            .prefetch_related("tiers")
        )

    def extra_context(self, request) -> dict:
        if request.htmx:
            return {}
        return {
            "can_edit": request.membership.has_role(Role.ADMIN),
            "reviewers": eligible_reviewer_counts(request.organization),
            "coverage": coverage(),
        }


def rule_edit(request, pk: int | None = None):
    """Create (no ``pk``) or edit a rule with its escalation tiers; admins only. Errors show next to fields.

    When a rule about rules holds the change, it becomes a request instead.
    """
    if pk is None:
        membership = membership_for(request, Role.ADMIN)
        rule = None
        instance = ApprovalRule(organization=membership.organization)
    else:
        rule = get_for_org(request, ApprovalRule.objects.prefetch_related("tiers"), pk, role=Role.ADMIN)
        membership = request.membership
        instance = rule
    form = ApprovalRuleForm(request.POST or None, instance=instance)
    formset = EscalationTierFormSet(request.POST or None, instance=instance, prefix="tiers")
    if request.method == "POST":
        form_ok = form.is_valid()
        formset.rule_data = form.cleaned_data if form_ok else None
        formset_ok = formset.is_valid()
        if form_ok and formset_ok:
            result = propose_rule_change(
                membership, rule=rule, snapshot=rule_snapshot(form, formset), ip_address=client_address(request)
            )
            if isinstance(result, ApprovalRequest):
                messages.warning(request, f"This rule change waits for review: {result.reason}.")
                return redirect(result)
            messages.success(request, f"Rule saved: {result.describe()}.")
            return redirect("approvals:rules")
    return render(
        request,
        "approvals/rule_form.html",
        {
            "rule": rule,
            "form": form,
            "formset": formset,
            "reviewers": eligible_reviewer_counts(membership.organization),
            "coverage": coverage(),
            "rule_processes": processes_asking(rule.resource_type, rule.action) if rule else [],
            "waiting": rule.requests.filter(status=RequestStatus.PENDING).count() if rule else 0,
        },
    )


@require_POST
def rule_delete(request, pk: int):
    rule = get_for_org(request, ApprovalRule, pk, role=Role.ADMIN)
    result = propose_rule_change(request.membership, rule=rule, snapshot={}, ip_address=client_address(request))
    if isinstance(result, ApprovalRequest):
        messages.warning(request, f"Deleting this rule waits for review: {result.reason}.")
        return redirect(result)
    messages.success(request, f"Rule deleted: {rule.describe()}.")
    return redirect("approvals:rules")


def notification_settings(request):
    """Email on or off and the signed webhook (admins), with the recent deliveries and a test button."""
    membership = membership_for(request, Role.ADMIN)
    organization = membership.organization
    current = NotificationSettings.objects.filter(organization=organization).first() or NotificationSettings(
        organization=organization
    )
    form = NotificationSettingsForm(request.POST or None, instance=current)
    if request.method == "POST" and "test" in request.POST:
        if not current.pk or not current.webhook_url:
            messages.error(request, "Save a webhook URL and secret first.")
        else:
            delivery = send_test_delivery(organization)
            if delivery.status == "delivered":
                messages.success(request, f"Test delivery answered HTTP {delivery.response_status}.")
            else:
                messages.error(request, f"Test delivery failed: {delivery.error}")
        return redirect("approvals:settings")
    if request.method == "POST" and form.is_valid():
        changed = form.changed_fields()
        form.save()
        record_settings_change(membership, changed, ip_address=client_address(request))
        messages.success(request, "Notification settings saved.")
        return redirect("approvals:settings")
    deliveries = DeliveryTable(WebhookDelivery.objects.filter(organization=organization))
    RequestConfig(request, paginate={"per_page": 20}).configure(deliveries)
    return render(
        request,
        "approvals/settings.html",
        {"form": form, "deliveries": deliveries, "has_secret": bool(current.pk and current.webhook_secret)},
    )
