"""Approval requests: risky changes that wait for a reviewer."""

from django.conf import settings
from django.db import models
from django.urls import reverse

from approvals.choices import STATUS_BADGES, ChangeAction, RequestStatus, Verdict
from flashfusion.models import Organization


class ApprovalRequest(models.Model):
    """A proposed change held for review.

    ``before`` and ``after`` are product snapshots (``Product.snapshot()``;
    ``after`` is ``{}`` for a delete). ``reason`` says which rule held it,
    e.g. "price of SKU X drops 40.0% (limit 20%)".
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="approval_requests")
    action = models.CharField(max_length=16, choices=ChangeAction.choices)
    product = models.ForeignKey("products.Product", null=True, on_delete=models.SET_NULL, related_name="+")
    product_title = models.CharField(max_length=255)
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    reason = models.CharField(max_length=300)
    status = models.CharField(max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["organization", "status", "-id"], name="approval_org_status")]

    def __str__(self):
        return f"{self.get_action_display()}: {self.product_title}"

    def get_absolute_url(self):
        return reverse("approvals:detail", args=[self.pk])

    @property
    def status_badge(self) -> str:
        return STATUS_BADGES.get(self.status, "secondary")


class Decision(models.Model):
    """One reviewer's verdict on a request, with a comment and the address it came from."""

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="decisions")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    verdict = models.CharField(max_length=8, choices=Verdict.choices)
    comment = models.TextField(blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
