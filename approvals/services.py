"""Approval requests: create, decide, apply exactly once."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from approvals.choices import ChangeAction, RequestStatus, Verdict
from approvals.models import ApprovalRequest, Decision
from flashfusion import events
from flashfusion.choices import Role


def request_change(product, *, action: str, after: dict, reason: str, user) -> ApprovalRequest:
    """Hold a change to ``product`` for review; ``after`` is ``{}`` for a delete.

    An identical pending request (same product, action and after) is
    returned instead of a second one, so a double submit asks once.
    """
    with transaction.atomic():
        existing = ApprovalRequest.objects.filter(
            organization_id=product.organization_id,
            product=product,
            action=action,
            status=RequestStatus.PENDING,
        )
        for candidate in existing:
            if candidate.after == after:
                return candidate
        approval = ApprovalRequest.objects.create(
            organization_id=product.organization_id,
            action=action,
            product=product,
            product_title=product.title,
            before=product.snapshot(),
            after=after,
            reason=reason,
            requested_by=user,
        )
        events.publish(
            product.organization_id,
            "approval.requested",
            f"{user} asks to {approval.get_action_display().lower()}: {product.title}",
            {"approval_id": approval.pk},
            actor=user,
        )
    return approval


def request_delete(product, *, user) -> ApprovalRequest:
    """Deleting a product always waits for a reviewer."""
    return request_change(product, action=ChangeAction.DELETE, after={}, reason="Deleting a product needs review", user=user)


def is_stale(approval: ApprovalRequest) -> bool:
    """True when the product no longer matches the request's ``before`` snapshot (or is gone)."""
    product = approval.product
    if product is None or product.deleted_at:
        return True
    return product.snapshot() != approval.before


def decide(approval: ApprovalRequest, *, membership, verdict: str, comment: str = "", ip_address=None) -> ApprovalRequest:
    """Record a manager's verdict and, on approval, apply the change once.

    Raises ``PermissionDenied`` below the manager role or when the requester
    approves their own request; ``ValidationError`` when the request was
    already decided (a double click or a second reviewer: the conditional
    UPDATE lets exactly one decision through), a rejection has no comment, or
    the product changed since the request (it is then marked stale, never
    applied).
    """
    from products.services import apply_snapshot, delete_product

    membership.require(Role.MANAGER)
    reviewer = membership.user
    if verdict == Verdict.APPROVE and approval.requested_by_id == reviewer.pk:
        raise PermissionDenied("You cannot approve your own request; another manager must review it.")
    if verdict == Verdict.REJECT and not comment.strip():
        raise ValidationError({"comment": "Say why you reject it, so the requester can fix the change."})
    if verdict == Verdict.APPROVE and is_stale(approval):
        # Applying blindly would apply a different change than the one reviewed.
        ApprovalRequest.objects.filter(pk=approval.pk, status=RequestStatus.PENDING).update(
            status=RequestStatus.STALE, decided_at=timezone.now()
        )
        events.publish(
            approval.organization_id,
            "approval.stale",
            f"{approval} is stale: the product changed after it was requested",
            {"approval_id": approval.pk},
            actor=reviewer,
        )
        raise ValidationError("The product changed after this request was made, so it was marked stale. Ask for the change again.")
    new_status = RequestStatus.APPLIED if verdict == Verdict.APPROVE else RequestStatus.REJECTED
    with transaction.atomic():
        won = ApprovalRequest.objects.filter(pk=approval.pk, status=RequestStatus.PENDING).update(
            status=new_status, decided_at=timezone.now()
        )
        if not won:
            raise ValidationError("This request was already decided.")
        approval.refresh_from_db()
        Decision.objects.create(
            request=approval, reviewer=reviewer, verdict=verdict, comment=comment, ip_address=ip_address
        )
        if verdict == Verdict.APPROVE and approval.product is not None:
            if approval.action == ChangeAction.DELETE:
                delete_product(approval.product, actor=reviewer)
            else:
                apply_snapshot(approval.product, approval.after, actor=reviewer)
        events.publish(
            approval.organization_id,
            "approval.decided",
            f"{reviewer} {'approved' if verdict == Verdict.APPROVE else 'rejected'}: {approval}",
            {"approval_id": approval.pk, "verdict": verdict},
            actor=reviewer,
        )
    return approval
