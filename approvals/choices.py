from django.db import models


class ChangeAction(models.TextChoices):
    DELETE = "delete", "Delete product"
    PRICE_CHANGE = "price_change", "Price change"


class RequestStatus(models.TextChoices):
    PENDING = "pending", "Waiting for review"
    APPLIED = "applied", "Approved and applied"
    REJECTED = "rejected", "Rejected"
    STALE = "stale", "Stale (product changed)"


STATUS_BADGES = {
    RequestStatus.PENDING: "warning",
    RequestStatus.APPLIED: "success",
    RequestStatus.REJECTED: "danger",
    RequestStatus.STALE: "secondary",
}


class Verdict(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"
