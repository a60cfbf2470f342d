"""Choices of the approvals app; status labels and badge colours are defined only here."""

from django.db import models

from flashfusion.choices import Role


class ResourceType(models.TextChoices):
    """What a change is about (DESIGN.md, Terms: change)."""

    PRODUCT = "product", "Product"
    VARIANT = "variant", "Variant"
    STORE = "store", "Store"
    RULE = "rule", "Approval rule"


class ChangeAction(models.TextChoices):
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"
    PRICE_CHANGE = "price_change", "Price change"
    PUBLISH = "publish", "Publish"
    UNPUBLISH = "unpublish", "Unpublish"
    BULK = "bulk", "Bulk change"
    IMPORT = "import", "Catalog import"


#: Actions a rule may name for each resource type.
RESOURCE_ACTIONS = {
    ResourceType.PRODUCT: [a.value for a in ChangeAction],
    ResourceType.VARIANT: [ChangeAction.CREATE, ChangeAction.UPDATE, ChangeAction.DELETE, ChangeAction.PRICE_CHANGE],
    ResourceType.STORE: [
        ChangeAction.CREATE, ChangeAction.UPDATE, ChangeAction.DELETE,
        ChangeAction.PUBLISH, ChangeAction.UNPUBLISH, ChangeAction.BULK,
    ],
    ResourceType.RULE: [ChangeAction.CREATE, ChangeAction.UPDATE, ChangeAction.DELETE],
}


class ApproverRole(models.TextChoices):
    """Roles a rule may ask to decide: viewers only read, so they never approve."""

    OPERATOR = Role.OPERATOR.value, Role.OPERATOR.label
    MANAGER = Role.MANAGER.value, Role.MANAGER.label
    ADMIN = Role.ADMIN.value, Role.ADMIN.label


class RequestStatus(models.TextChoices):
    PENDING = "pending", "Waiting for review"
    APPLIED = "applied", "Approved and applied"
    REJECTED = "rejected", "Rejected"
    STALE = "stale", "Stale (changed since)"
    EXPIRED = "expired", "Expired"


STATUS_BADGES = {
    RequestStatus.PENDING: "warning",
    RequestStatus.APPLIED: "success",
    RequestStatus.REJECTED: "danger",
    RequestStatus.STALE: "secondary",
    RequestStatus.EXPIRED: "dark",
}


class Verdict(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"


class Queue(models.TextChoices):
    """Views of the approvals list: what the signed-in reviewer may decide, or what they asked for."""

    MINE = "mine", "Waiting for me"
    REQUESTED = "requested", "Requested by me"


class AuditAction(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    APPLIED = "applied", "Applied"
    STALE = "stale", "Marked stale"
    DISMISSED = "dismissed", "Approvals dismissed"
    EXPIRED = "expired", "Expired"
    ESCALATED = "escalated", "Escalated"
    RULE_CREATED = "rule_created", "Rule created"
    RULE_UPDATED = "rule_updated", "Rule changed"
    RULE_DELETED = "rule_deleted", "Rule deleted"
    SETTINGS_CHANGED = "settings_changed", "Notification settings changed"
    NOTIFICATION_FAILED = "notification_failed", "Notification failed"
    JOB_CANCELLED = "job_cancelled", "Job cancelled"
    JOB_RETRIED = "job_retried", "Job retried"
    JOBS_RETRIED = "jobs_retried", "Jobs retried in bulk"
    SCHEDULE_CHANGED = "schedule_changed", "Schedule changed"


AUDIT_BADGES = {
    AuditAction.REQUESTED: "primary",
    AuditAction.APPROVED: "success",
    AuditAction.REJECTED: "danger",
    AuditAction.APPLIED: "success",
    AuditAction.STALE: "secondary",
    AuditAction.DISMISSED: "secondary",
    AuditAction.EXPIRED: "dark",
    AuditAction.ESCALATED: "warning",
    AuditAction.RULE_CREATED: "info",
    AuditAction.RULE_UPDATED: "info",
    AuditAction.RULE_DELETED: "info",
    AuditAction.SETTINGS_CHANGED: "info",
    AuditAction.NOTIFICATION_FAILED: "danger",
    AuditAction.JOB_CANCELLED: "dark",
    AuditAction.JOB_RETRIED: "warning",
    AuditAction.JOBS_RETRIED: "warning",
    AuditAction.SCHEDULE_CHANGED: "info",
}


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Queued"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed, will retry"
    GAVE_UP = "gave_up", "Failed for good"


DELIVERY_BADGES = {
    DeliveryStatus.PENDING: "secondary",
    DeliveryStatus.SENDING: "info",
    DeliveryStatus.DELIVERED: "success",
    DeliveryStatus.FAILED: "warning",
    DeliveryStatus.GAVE_UP: "danger",
}
