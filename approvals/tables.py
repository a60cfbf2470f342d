"""Tables of the approvals pages: requests, the audit trail, rules, webhook deliveries."""

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timeuntil

from approvals.models import ApprovalRequest, ApprovalRule, AuditEntry, WebhookDelivery
from flashfusion.choices import Role


def _badge(colour: str, text: str):
    return format_html('<span class="badge text-bg-{}">{}</span>', colour, text)


class ApprovalTable(tables.Table):
    """Requests. Expects the queryset annotated by ``views.annotate_for_reviewer`` (``approval_count``,
    ``decided_by_me``); the "select" column shows a checkbox (for the bulk form) on the rows the
    signed-in reviewer may approve."""

    select = tables.Column(empty_values=(), orderable=False, verbose_name="Select", attrs={"th": {"class": "text-nowrap"}})
    id = tables.Column(linkify=True, verbose_name="Request")
    action = tables.Column(verbose_name="Change")
    product_title = tables.Column(verbose_name="Subject")
    reason = tables.Column(orderable=False)
    requested_by = tables.Column(verbose_name="Requested by", default="—")
    required_role = tables.Column(verbose_name="Who decides")
    approval_count = tables.Column(verbose_name="Approvals", empty_values=())
    status = tables.Column()
    expires_at = tables.Column(verbose_name="Expires", default="—")
    created_at = tables.DateTimeColumn(verbose_name="Requested", format="M j, H:i")

    class Meta:
        model = ApprovalRequest
        fields = (
            "select", "id", "action", "product_title", "reason", "requested_by", "required_role",
            "approval_count", "status", "expires_at", "created_at",
        )
        row_attrs = {"id": lambda record: f"approval-row-{record.pk}"}
        empty_text = "Nothing waits for review. Changes that an approval rule holds will appear here."

    def __init__(self, *args, selected=(), **kwargs):
        """``selected``: request ids to show ticked (a bulk decision drawn again after an error)."""
        super().__init__(*args, **kwargs)
        self.selected = set(selected)

    def render_select(self, record):
        from approvals.services import refusal

        membership = getattr(getattr(self, "request", None), "membership", None)
        if membership is None or refusal(record, membership) or getattr(record, "decided_by_me", False):
            return ""
        return format_html(
            '<input class="form-check-input" type="checkbox" name="select" value="{}" form="bulk-form"{} '
            'aria-label="Select request #{} ({})">',
            record.pk, " checked" if record.pk in self.selected else "", record.pk, record.product_title,
        )

    def render_id(self, value):
        return f"#{value}"

    def render_action(self, record):
        return record.action_label

    def render_required_role(self, record):
        label = f"{Role(record.required_role).label}s"
        if record.escalation_level:
            return format_html('{} <span class="badge text-bg-warning">escalated</span>', label)
        return label

    def render_approval_count(self, record):
        return f"{getattr(record, 'approval_count', 0)} of {record.min_approvals}"

    def render_status(self, record):
        return _badge(record.status_badge, record.get_status_display())

    def render_expires_at(self, record):
        if not record.is_pending or record.expires_at is None:
            return "—"
        if record.expires_at <= timezone.now():
            return "due now"
        return format_html('<span title="{}">in {}</span>', f"{record.expires_at:%b %d, %H:%M} UTC", timeuntil(record.expires_at))


class AuditTable(tables.Table):
    created_at = tables.DateTimeColumn(verbose_name="When", format="M j, Y H:i:s")
    actor_name = tables.Column(verbose_name="Who")
    ip_address = tables.Column(verbose_name="Address", default="—")
    action = tables.Column()
    request = tables.Column(accessor="request_id", verbose_name="Request", default="—")
    message = tables.Column(orderable=False)

    class Meta:
        model = AuditEntry
        fields = ("created_at", "actor_name", "ip_address", "action", "request", "message")
        empty_text = "Nothing recorded yet. Requests, decisions, escalations, expiries and rule changes appear here."

    def render_action(self, record):
        return _badge(record.badge, record.get_action_display())

    def render_request(self, value):
        return format_html('<a href="{}">#{}</a>', reverse("approvals:detail", args=[value]), value)


class RuleTable(tables.Table):
    id = tables.Column(verbose_name="Rule", linkify=True)
    resource_type = tables.Column(verbose_name="Resource")
    action = tables.Column()
    condition = tables.Column(empty_values=(), orderable=False)
    approver_role = tables.Column(verbose_name="Who decides")
    min_approvals = tables.Column(verbose_name="Approvals needed")
    expiry_minutes = tables.Column(verbose_name="Expires after")
    escalation = tables.Column(empty_values=(), orderable=False)
    held_by = tables.Column(verbose_name="Asked by", empty_values=(), orderable=False)
    waiting = tables.Column(verbose_name="Waiting now", empty_values=())
    is_enabled = tables.Column(verbose_name="State")

    class Meta:
        model = ApprovalRule
        fields = ("id", "resource_type", "action", "condition", "approver_role", "min_approvals", "expiry_minutes",
                  "escalation", "held_by", "waiting", "is_enabled")
        empty_text = "No rule: every change applies at once, except deletes, which a manager approves. Add a rule."

    def __init__(self, *args, can_edit: bool = True, **kwargs):
        """``can_edit``: the reader may open a rule's edit page (admins); managers read the rules unlinked."""
        super().__init__(*args, **kwargs)
        if not can_edit:
            self.columns["id"].link = None

    def render_id(self, value):
        return f"#{value}"

    def render_condition(self, record):
        return record.condition_text() or "always"

    def render_approver_role(self, record):
        return f"{record.get_approver_role_display()}s or higher"

    def render_expiry_minutes(self, value):
        return f"{value // 60} h" if value % 60 == 0 else f"{value} min"

    def render_escalation(self, record):
        tiers = record.tiers.all()
        return "; ".join(str(t) for t in tiers) or "none"

    def render_held_by(self, record):
        """The processes that ask this rule (``approvals.rules.processes_asking``); none: it holds nothing."""
        from approvals.rules import processes_asking

        processes = processes_asking(record.resource_type, record.action)
        if not processes:
            return _badge("warning", "No process asks this yet")
        return ", ".join(processes)

    def render_waiting(self, record):
        """Pending requests this rule holds now (``waiting``, annotated by ``views.RuleListView``)."""
        return getattr(record, "waiting", 0)

    def render_is_enabled(self, value):
        return _badge("success", "Enabled") if value else _badge("secondary", "Disabled")


class DeliveryTable(tables.Table):
    created_at = tables.DateTimeColumn(verbose_name="Queued", format="M j, H:i:s")
    event = tables.Column()
    request = tables.Column(accessor="request_id", verbose_name="Request", default="—")
    status = tables.Column()
    attempts = tables.Column()
    response_status = tables.Column(verbose_name="HTTP", default="—")
    error = tables.Column(verbose_name="Last error", default="—", orderable=False)

    class Meta:
        model = WebhookDelivery
        fields = ("created_at", "event", "request", "status", "attempts", "response_status", "error")
        empty_text = "No delivery yet. Set a webhook URL and send a test."

    def render_status(self, record):
        return _badge(record.badge, record.get_status_display())

    def render_request(self, value):
        return format_html('<a href="{}">#{}</a>', reverse("approvals:detail", args=[value]), value)
