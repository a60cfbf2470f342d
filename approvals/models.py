"""Approvals: rules that say which changes wait, the requests that wait, the decisions and the audit trail."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from approvals.choices import (
    AUDIT_BADGES,
    RESOURCE_ACTIONS,
    DELIVERY_BADGES,
    STATUS_BADGES,
    ApproverRole,
    AuditAction,
    ChangeAction,
    DeliveryStatus,
    RequestStatus,
    ResourceType,
    Verdict,
)
from flashfusion.choices import Role
from flashfusion.fields import EncryptedTextField
from flashfusion.models import Organization

#: Actions whose size a "price drops by more than N %" condition can measure.
PRICE_ACTIONS = (ChangeAction.PRICE_CHANGE, ChangeAction.UPDATE, ChangeAction.BULK)


class ApprovalRule(models.Model):
    """Which change waits for whom: one line of an organization's review policy.

    A rule matches a proposed change of ``resource_type`` that amounts to
    ``action`` and meets every condition that is set (``price_drop_over_percent``:
    the largest variant price cut is larger than this percentage;
    ``listings_touched_over``: the change reaches more store listings than
    this). When several enabled rules match, the strictest governs (highest
    approver role, then most approvals; see ``approvals.rules.evaluate``).
    ``tiers`` (``EscalationTier``) raise the approver role while a request
    waits unanswered.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="approval_rules")
    resource_type = models.CharField("resource", max_length=16, choices=ResourceType.choices, default=ResourceType.PRODUCT)
    action = models.CharField(max_length=16, choices=ChangeAction.choices)
    price_drop_over_percent = models.DecimalField(
        "only when a price drops by more than (%)",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(99.99)],
        help_text="Leave empty to match any size of change. 20 means a cut from 100.00 to 79.99 waits, to 80.00 does not.",
    )
    listings_touched_over = models.PositiveIntegerField(
        "only when more store listings are touched than",
        null=True,
        blank=True,
        validators=[MaxValueValidator(10_000_000)],
        help_text="Leave empty to match whatever the number of listings.",
    )
    approver_role = models.CharField(
        max_length=16,
        choices=ApproverRole.choices,
        default=ApproverRole.MANAGER,
        help_text="Members with this role or a higher one may decide.",
    )
    min_approvals = models.PositiveSmallIntegerField(
        "approvals needed",
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text="Quorum: the change applies when this many different reviewers approved it.",
    )
    expiry_minutes = models.PositiveIntegerField(
        "expires after (minutes)",
        default=1440,
        validators=[MinValueValidator(5), MaxValueValidator(60 * 24 * 30)],
        help_text="An unanswered request expires and is never applied. 1440 minutes = 1 day.",
    )
    notify_on_request = models.BooleanField(
        "notify reviewers of new requests", default=True, help_text="Email and webhook when a request starts waiting."
    )
    notify_on_decision = models.BooleanField(
        "notify the requester of the outcome",
        default=True,
        help_text="Email and webhook when a request is applied, rejected, expires or goes stale.",
    )
    is_enabled = models.BooleanField("enabled", default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["resource_type", "action", "id"]
        indexes = [models.Index(fields=["organization", "resource_type", "action"], name="approval_rule_lookup")]

    def __str__(self):
        return self.describe()

    def get_absolute_url(self):
        return reverse("approvals:rule_edit", args=[self.pk])

    def clean(self):
        errors = {}
        allowed = RESOURCE_ACTIONS.get(self.resource_type, [])
        if self.action and self.resource_type and self.action not in allowed:
            labels = ", ".join(ChangeAction(a).label.lower() for a in allowed)
            errors["action"] = f"Rules about {self.get_resource_type_display().lower()}s can name only: {labels}."
        if self.price_drop_over_percent is not None and self.action not in PRICE_ACTIONS:
            errors["price_drop_over_percent"] = (
                "A price condition only applies to price changes, updates and bulk changes."
            )
        if self.price_drop_over_percent is not None and self.resource_type not in (ResourceType.PRODUCT, ResourceType.VARIANT):
            errors["price_drop_over_percent"] = "Only products and variants have prices."
        if self.listings_touched_over is not None and self.resource_type == ResourceType.RULE:
            errors["listings_touched_over"] = "Changing a rule touches no store listing."
        if errors:
            raise ValidationError(errors)

    def condition_text(self) -> str:
        """The rule's condition in words, e.g. "price drops by more than 20%"; "" when it has none."""
        parts = []
        if self.price_drop_over_percent is not None:
            parts.append(f"a price drops by more than {_number(self.price_drop_over_percent)}%")
        if self.listings_touched_over is not None:
            parts.append(f"more than {self.listings_touched_over} store listings are touched")
        return " and ".join(parts)

    def describe(self) -> str:
        """One line, e.g. "Price change of a product when a price drops by more than 20%"."""
        text = f"{self.get_action_display()} of a {self.get_resource_type_display().lower()}"
        condition = self.condition_text()
        return f"{text} when {condition}" if condition else text

    def escalation_plan(self) -> list[dict]:
        """The tiers as frozen on a request: ``[{"after_hours": 4, "role": "admin"}]``, earliest first."""
        return [{"after_hours": t.after_hours, "role": t.role} for t in self.tiers.all()]

    def snapshot(self) -> dict:
        """JSON-safe copy of the rule and its tiers (for rule-change requests and the audit trail)."""
        return {
            "resource_type": self.resource_type,
            "action": self.action,
            "price_drop_over_percent": None if self.price_drop_over_percent is None else str(self.price_drop_over_percent),
            "listings_touched_over": self.listings_touched_over,
            "approver_role": self.approver_role,
            "min_approvals": self.min_approvals,
            "expiry_minutes": self.expiry_minutes,
            "notify_on_request": self.notify_on_request,
            "notify_on_decision": self.notify_on_decision,
            "is_enabled": self.is_enabled,
            "tiers": self.escalation_plan(),
        }


class EscalationTier(models.Model):
    """After ``after_hours`` unanswered (counted from the request), ``role`` is asked and notified.

    Tiers of a rule run in order of ``after_hours``; each asks a higher role
    than the one before (validated by the rule form).
    """

    rule = models.ForeignKey(ApprovalRule, on_delete=models.CASCADE, related_name="tiers")
    after_hours = models.PositiveIntegerField(
        "after (hours)", validators=[MinValueValidator(1), MaxValueValidator(24 * 30)]
    )
    role = models.CharField("ask", max_length=16, choices=ApproverRole.choices)

    class Meta:
        ordering = ["after_hours", "id"]
        constraints = [models.UniqueConstraint(fields=["rule", "after_hours"], name="escalation_tier_unique_hour")]

    def __str__(self):
        return f"after {self.after_hours} h ask {self.get_role_display().lower()}s"


class ApprovalRequest(models.Model):
    """A proposed change held for review.

    ``before`` and ``after`` are snapshots of the resource: for products
    ``Product.snapshot()`` (``after`` is ``{}`` for a delete); for rules
    ``ApprovalRule.snapshot()``. Two further shapes are rendered by
    ``approvals.diff``: a bulk change (``after["bulk"]``) and a sync conflict
    (``before["store_snapshot"]``). ``reason`` says which rule held it,
    e.g. "Price of SKU X drops 40.0% (more than the 20% allowed without review)".

    The governing rule's settings are frozen on the request when it is made
    (``initial_role``, ``min_approvals``, ``expires_at``, ``escalation_plan``,
    ``notify_on_decision``), so editing a rule never changes what a waiting
    request needs. ``required_role`` starts as ``initial_role`` and rises as
    escalation tiers are reached.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="approval_requests")
    resource_type = models.CharField(max_length=16, choices=ResourceType.choices, default=ResourceType.PRODUCT)
    action = models.CharField(max_length=16, choices=ChangeAction.choices)
    product = models.ForeignKey("products.Product", null=True, on_delete=models.SET_NULL, related_name="+")
    object_id = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Primary key of a resource that is not a product (a rule); empty for a create."
    )
    product_title = models.CharField("subject", max_length=255)
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    reason = models.CharField(max_length=300)
    status = models.CharField(max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    closed_reason = models.CharField(max_length=300, blank=True)
    rule = models.ForeignKey(ApprovalRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="requests")
    initial_role = models.CharField(max_length=16, choices=ApproverRole.choices, default=ApproverRole.MANAGER)
    required_role = models.CharField(max_length=16, choices=ApproverRole.choices, default=ApproverRole.MANAGER)
    min_approvals = models.PositiveSmallIntegerField(default=1)
    expires_at = models.DateTimeField(null=True, blank=True)
    escalation_plan = models.JSONField(default=list, blank=True)
    escalation_level = models.PositiveSmallIntegerField(default=0, help_text="How many escalation tiers were reached.")
    next_escalation_at = models.DateTimeField(null=True, blank=True)
    notify_on_decision = models.BooleanField(default=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds from the request to its approval or rejection by people."
    )

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["organization", "status", "-id"], name="approval_org_status"),
            models.Index(fields=["status", "expires_at"], name="approval_due_expiry"),
            models.Index(fields=["status", "next_escalation_at"], name="approval_due_escalation"),
            models.Index(fields=["product", "status"], name="approval_product_status"),
            models.Index(fields=["organization", "decided_at"], name="approval_org_decided"),
        ]

    def __str__(self):
        return f"{self.action_label}: {self.product_title}"

    def get_absolute_url(self):
        return reverse("approvals:detail", args=[self.pk])

    @property
    def status_badge(self) -> str:
        return STATUS_BADGES.get(self.status, "secondary")

    @property
    def is_pending(self) -> bool:
        return self.status == RequestStatus.PENDING

    @property
    def action_label(self) -> str:
        """E.g. "Delete product", "Price change of product", "Update approval rule"."""
        resource = self.get_resource_type_display().lower()
        if self.action in (ChangeAction.PRICE_CHANGE, ChangeAction.BULK):
            return f"{self.get_action_display()} of {resource}"
        return f"{self.get_action_display()} {resource}"

    def approval_count(self) -> int:
        """Approvals that count toward the quorum (not dismissed); one query."""
        return self.decisions.filter(verdict=Verdict.APPROVE, dismissed_at__isnull=True).count()

    def next_tier(self) -> dict | None:
        """The escalation tier still to come, ``{"after_hours", "role"}``, or ``None``."""
        plan = self.escalation_plan or []
        return plan[self.escalation_level] if self.escalation_level < len(plan) else None


class Decision(models.Model):
    """One reviewer's verdict on a request, with a comment and the address it came from.

    Each reviewer decides once per request (a database constraint). An
    approval is ``dismissed_at`` when the request goes stale: the change it
    approved is no longer the one that would run. ``role`` is the reviewer's
    role at the time; ``seconds_after_request`` feeds the time-to-decision
    figures per role.
    """

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="decisions")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    role = models.CharField(max_length=16, choices=Role.choices, blank=True)
    verdict = models.CharField(max_length=8, choices=Verdict.choices)
    comment = models.TextField(blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    seconds_after_request = models.PositiveIntegerField(null=True, blank=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["request", "reviewer"], name="decision_once_per_reviewer")]


class AuditQuerySet(models.QuerySet):
    """Audit entries are written once: bulk updates and deletes are refused."""

    def update(self, **kwargs):
        raise TypeError("Audit entries are never edited.")

    def delete(self):
        raise TypeError("Audit entries are never deleted (only with their organization).")


class AuditEntry(models.Model):
    """One thing that happened to an approval or a rule: who, when, from which address, what.

    Never edited: ``save`` refuses an existing row, ``delete`` and the
    queryset's ``update``/``delete`` refuse too; the Django admin is
    read-only. ``actor_name`` keeps the username as it was ("scheduler" for
    expiry and escalation); ``actor`` keeps no database constraint, so
    deleting a user does not rewrite history. ``details`` is JSON, e.g.
    ``{"verdict": "approve", "approvals": 1, "needed": 2}`` or a rule's
    ``{"before": {...}, "after": {...}}``.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="approval_audit")
    request = models.ForeignKey(
        ApprovalRequest, null=True, blank=True, on_delete=models.RESTRICT, related_name="audit_entries"
    )
    action = models.CharField(max_length=24, choices=AuditAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    actor_name = models.CharField("who", max_length=150)
    ip_address = models.GenericIPAddressField("address", null=True, blank=True)
    message = models.CharField(max_length=300)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField("when", auto_now_add=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["organization", "-id"], name="audit_org_recent"),
            models.Index(fields=["organization", "action", "-id"], name="audit_org_action"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name}: {self.message}"

    @property
    def badge(self) -> str:
        return AUDIT_BADGES.get(self.action, "secondary")

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Audit entries are never edited.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Audit entries are never deleted (only with their organization).")


class NotificationSettings(models.Model):
    """Where an organization's approval notifications go besides the in-app feed.

    ``webhook_url`` receives a POST for each notified event, signed with
    HMAC-SHA256 over ``"<timestamp>.<body>"`` with ``webhook_secret``
    (headers ``X-FlashFusion-Timestamp`` and ``X-FlashFusion-Signature:
    sha256=<hex>``; see ``approvals.notifications``). The secret is encrypted
    at rest.
    """

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="approval_notifications")
    email_enabled = models.BooleanField("send email", default=True)
    webhook_url = models.URLField("webhook URL", max_length=500, blank=True)
    webhook_secret = EncryptedTextField("webhook secret", blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "notification settings"

    def __str__(self):
        return f"Approval notifications of {self.organization}"


class WebhookDelivery(models.Model):
    """One POST of an approval event to the organization's webhook; a small work queue.

    A delivery is claimed with a conditional UPDATE (only one worker sends
    it), tried with a short timeout and, on failure, retried with backoff by
    the approvals schedule until ``MAX_ATTEMPTS`` (then ``gave_up``).
    ``payload`` is the JSON body; ``response_status`` and ``error`` record
    the last attempt.
    """

    MAX_ATTEMPTS = 5
    RETRY_MINUTES = (1, 5, 15, 60)

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    request = models.ForeignKey(ApprovalRequest, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=64)
    url = models.URLField(max_length=500)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due")]

    def __str__(self):
        return f"{self.event} → {self.url} ({self.get_status_display()})"

    @property
    def badge(self) -> str:
        return DELIVERY_BADGES.get(self.status, "secondary")

    def retry_delay(self) -> timedelta:
        """Wait before the next attempt after ``attempts`` failed ones: 1, 5, 15, then 60 minutes."""
        index = min(max(self.attempts - 1, 0), len(self.RETRY_MINUTES) - 1)
        return timedelta(minutes=self.RETRY_MINUTES[index])


def _number(value) -> str:
    """A Decimal without trailing zeros: 20.00 → "20", 12.50 → "12.5"."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
