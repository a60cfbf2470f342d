"""Approval requests: open, decide (quorum, exactly once), go stale, expire, escalate; rule edits; figures.

Every state change of a request is a conditional UPDATE from ``pending``
(only one writer can win it) inside a transaction that also writes the
audit entry and the event, and queues notifications after commit.
Deciding locks the request row (``select_for_update``; SQLite serializes
writers with IMMEDIATE transactions), so approvals that arrive at the same
moment are counted one after the other and the change runs once.
"""

import logging
import math
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Callable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from approvals import notifications
from approvals.choices import ApproverRole, AuditAction, ChangeAction, RequestStatus, ResourceType, Verdict
from approvals.models import ApprovalRequest, ApprovalRule, AuditEntry, Decision, EscalationTier
from approvals.rules import (
    FALLBACK_DELETE,
    Policy,
    ProposedChange,
    evaluate,
    product_delete_change,
    rule_change,
)
from flashfusion import events
from flashfusion.choices import Role

log = logging.getLogger(__name__)

#: ``actor_name`` of audit entries written by the schedule (expiry, escalation, stale sweep).
SCHEDULER = "scheduler"
#: Keys of a sync-conflict request's ``before`` that are context, not the catalog state.
CONTEXT_KEYS = ("store_snapshot", "synced_snapshot")
#: Actions that replace each other: a newer edit of the same subject makes the older request stale.
EDIT_ACTIONS = (ChangeAction.UPDATE, ChangeAction.PRICE_CHANGE)
#: Most requests one pass of the schedule handles per step.
BATCH = 500
#: The django-q2 schedule that calls ``run_due`` every minute (created by migration 0005).
SCHEDULE_NAME = "approvals: expiry, escalation, stale sweep, webhook retries"
SCHEDULE_FUNC = "approvals.services.run_due"


# --- audit ---------------------------------------------------------------


def record(organization_id: int, action: str, message: str, *, request=None, actor=None, ip_address=None, details=None):
    """Write one ``AuditEntry``; ``actor`` ``None`` means the scheduler. Returns the entry."""
    return AuditEntry.objects.create(
        organization_id=organization_id,
        request=request,
        action=action,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_name=actor.get_username() if actor is not None and actor.is_authenticated else SCHEDULER,
        ip_address=ip_address or None,
        message=message[:300],
        details=details or {},
    )


# --- executors: what "apply" means per resource --------------------------


@dataclass(frozen=True)
class Executor:
    """How an approved request of one resource type and action runs.

    ``apply(approval, actor)`` makes the change (inside the deciding
    transaction; raising rolls the decision back); ``is_stale(approval)``
    says whether the subject moved since the request's ``before``;
    ``reject(approval, actor)``, when given, runs inside the rejecting
    transaction (a sync conflict publishes the catalog over the store's edit).
    """

    apply: Callable
    is_stale: Callable
    reject: Callable | None = None


_EXECUTORS: dict[tuple[str, str], Executor] = {}


def register_executor(resource_type: str, actions, executor: Executor) -> None:
    """Make requests of ``resource_type`` with any of ``actions`` executable (the hook other apps use,
    e.g. the Sync agent for store publishes, bulk pushes and conflict resolutions)."""
    for action in actions:
        _EXECUTORS[(resource_type, action)] = executor


def executor_for(resource_type: str, action: str) -> Executor | None:
    return _EXECUTORS.get((resource_type, action))


def comparable(snapshot: dict) -> dict:
    """``snapshot`` without the context keys of a sync-conflict request (``CONTEXT_KEYS``)."""
    return {k: v for k, v in snapshot.items() if k not in CONTEXT_KEYS}


def is_sync_conflict(approval: ApprovalRequest) -> bool:
    """True for a request opened by the Pull agent for a store edit (its ``before`` holds ``store_snapshot``)."""
    return "store_snapshot" in (approval.before or {})


def _product_is_stale(approval: ApprovalRequest) -> bool:
    product = approval.product
    if product is None or product.deleted_at:
        return True
    return product.snapshot() != comparable(approval.before)


def _apply_product(approval: ApprovalRequest, actor) -> None:
    from products.services import apply_snapshot, delete_product

    if is_sync_conflict(approval):
        from agents.conflicts import accept_store_values

        accept_store_values(approval, actor=actor)
    elif approval.action == ChangeAction.DELETE:
        delete_product(approval.product, actor=actor)
    else:
        apply_snapshot(approval.product, approval.after, actor=actor)


def _reject_product(approval: ApprovalRequest, actor) -> None:
    """A rejected sync conflict keeps the catalog: publish it over the store's edit (``agents.conflicts``)."""
    if is_sync_conflict(approval):
        from agents.conflicts import keep_catalog

        keep_catalog(approval, actor=actor)


def _rule_is_stale(approval: ApprovalRequest) -> bool:
    if approval.action == ChangeAction.CREATE:
        return False
    rule = ApprovalRule.objects.filter(pk=approval.object_id, organization_id=approval.organization_id).first()
    return rule is None or rule.snapshot() != approval.before


def _apply_rule(approval: ApprovalRequest, actor) -> None:
    apply_rule_snapshot(
        approval.organization,
        rule_id=approval.object_id,
        snapshot=approval.after,
        actor=actor,
        ip_address=None,
        approval=approval,
    )


register_executor(
    ResourceType.PRODUCT,
    (ChangeAction.DELETE, ChangeAction.UPDATE, ChangeAction.PRICE_CHANGE),
    Executor(apply=_apply_product, is_stale=_product_is_stale, reject=_reject_product),
)
register_executor(
    ResourceType.RULE,
    (ChangeAction.CREATE, ChangeAction.UPDATE, ChangeAction.DELETE),
    Executor(apply=_apply_rule, is_stale=_rule_is_stale),
)


def is_stale(approval: ApprovalRequest) -> bool:
    """True when the subject no longer matches the request's ``before`` (or is gone).

    Resource types without an executor compare the product when there is one,
    else are never stale.
    """
    executor = executor_for(approval.resource_type, approval.action)
    if executor is not None:
        return executor.is_stale(approval)
    return _product_is_stale(approval) if approval.product_id else False


# --- opening requests ----------------------------------------------------


def open_request(
    organization,
    *,
    resource_type: str,
    action: str,
    title: str,
    before: dict,
    after: dict,
    policy: Policy,
    user,
    product=None,
    object_id: int | None = None,
    ip_address: str | None = None,
    replace_older: bool = True,
) -> ApprovalRequest:
    """Hold a change for review under ``policy``; returns the pending request.

    An identical pending request (same subject, action, before and after) is
    returned instead of a second one, so a double submit asks once. Any
    other pending request for the same subject that this one replaces (the
    same action, or both are edits) is marked stale and its approvals are
    dismissed: reviewers approved a change that will no longer run
    (``replace_older=False`` leaves them pending: a sync conflict does not
    replace an operator's edit; whichever is applied first makes the other
    stale). Raises ``ValueError`` when nothing could execute the change once approved.
    """
    if executor_for(resource_type, action) is None:
        raise ValueError(f"No executor for {resource_type} {action}; register one with register_executor().")
    subject = Q(organization=organization, resource_type=resource_type, status=RequestStatus.PENDING)
    subject &= Q(product=product) if product is not None else Q(object_id=object_id, product__isnull=True)
    now = timezone.now()
    with transaction.atomic():
        for candidate in ApprovalRequest.objects.filter(subject, action=action):
            if candidate.after == after and candidate.before == before:
                return candidate
        plan = list(policy.escalation_plan)
        approval = ApprovalRequest.objects.create(
            organization=organization,
            resource_type=resource_type,
            action=action,
            product=product,
            object_id=object_id,
            product_title=title[:255],
            before=before,
            after=after,
            reason=policy.reason[:300],
            rule=policy.rule,
            initial_role=policy.approver_role,
            required_role=policy.approver_role,
            min_approvals=policy.min_approvals,
            expires_at=now + timedelta(minutes=policy.expiry_minutes),
            escalation_plan=plan,
            next_escalation_at=now + timedelta(hours=plan[0]["after_hours"]) if plan else None,
            notify_on_decision=policy.notify_on_decision,
            requested_by=user if user is not None and user.is_authenticated else None,
        )
        record(
            organization.pk,
            AuditAction.REQUESTED,
            f"Requested: {approval.action_label} “{title}” ({policy.reason})",
            request=approval,
            actor=user,
            ip_address=ip_address,
            details={
                "rule_id": policy.rule.pk if policy.rule else None,
                "required_role": approval.required_role,
                "min_approvals": approval.min_approvals,
                "expires_at": approval.expires_at.isoformat(),
                "escalation_plan": plan,
            },
        )
        # A create has no subject yet: two creates are two different changes.
        replaced = ApprovalRequest.objects.none()
        if replace_older and (product is not None or object_id is not None):
            replaced = ApprovalRequest.objects.filter(subject).exclude(pk=approval.pk)
            replaced = replaced.filter(action__in=EDIT_ACTIONS) if action in EDIT_ACTIONS else replaced.filter(action=action)
        for older in replaced:
            _close_stale(older, f"Replaced by request #{approval.pk}, a newer version of the change", actor=user, ip_address=ip_address)
        events.publish(
            organization.pk,
            "approval.requested",
            f"{user or 'Someone'} {ask_phrase(approval)}: {title}",
            {"approval_id": approval.pk},
            actor=user,
        )
        if policy.notify_on_request:
            notifications.notify(approval, "requested", actor=user)
    return approval


def ask_phrase(approval: ApprovalRequest) -> str:
    """"asks to delete product", "asks for a price change of product": the feed's words for a request."""
    if approval.action in (ChangeAction.PRICE_CHANGE, ChangeAction.BULK):
        return f"asks for a {approval.action_label.lower()}"
    return f"asks to {approval.action_label.lower()}"


def request_change(
    product, *, action: str, after: dict, reason: str, user, policy: Policy | None = None, ip_address=None
) -> ApprovalRequest:
    """Hold a change to ``product`` for review; ``after`` is ``{}`` for a delete.

    ``policy`` comes from the rules (``approvals.rules``); without one the
    strictest rule for ``action`` on products applies, else one manager
    decides within a day. ``reason`` is what reviewers read.
    """
    if policy is None:
        policy = evaluate(product.organization, ProposedChange(ResourceType.PRODUCT, (action,))) or Policy(
            action=action, reason=reason
        )
    policy = replace(policy, action=action, reason=reason)
    return open_request(
        product.organization,
        resource_type=ResourceType.PRODUCT,
        action=action,
        title=product.title,
        before=product.snapshot(),
        after=after,
        policy=policy,
        user=user,
        product=product,
        ip_address=ip_address,
    )


def request_delete(product, *, user, ip_address=None) -> ApprovalRequest:
    """Deleting a product always waits: under the strictest delete rule, else ``FALLBACK_DELETE``."""
    policy = evaluate(product.organization, product_delete_change(product)) or FALLBACK_DELETE
    return request_change(
        product, action=ChangeAction.DELETE, after={}, reason=policy.reason, user=user, policy=policy, ip_address=ip_address
    )


# --- who may decide ------------------------------------------------------


def decidable_by(queryset, membership):
    """Narrow ``queryset`` to the pending requests ``membership`` may approve now: their role reaches the
    request's current approver role (after escalation), they did not ask for it and have not decided it."""
    roles = [r for r in ApproverRole.values if membership.has_role(r)]
    return (
        queryset.filter(status=RequestStatus.PENDING, required_role__in=roles)
        .exclude(requested_by=membership.user)
        .exclude(decisions__reviewer=membership.user)
    )


def refusal(approval: ApprovalRequest, membership, verdict: str = Verdict.APPROVE) -> str:
    """Why ``membership`` may not give ``verdict`` on ``approval`` now, or "" when it may."""
    if membership is None or membership.organization_id != approval.organization_id:
        return "This request belongs to another organization."
    if not approval.is_pending:
        return f"This request is already closed: {approval.get_status_display().lower()}."
    if not membership.has_role(approval.required_role):
        return f"This request needs the {Role(approval.required_role).label.lower()} role or higher."
    if verdict == Verdict.APPROVE and approval.requested_by_id == membership.user_id:
        return "You cannot approve your own request; another reviewer must."
    if verdict == Verdict.APPROVE and executor_for(approval.resource_type, approval.action) is None:
        return f"Nothing in FlashFusion can run a {approval.action_label.lower()} yet, so it can only be rejected."
    return ""


# --- deciding ------------------------------------------------------------


def decide(
    approval: ApprovalRequest, *, membership, verdict: str, comment: str = "", ip_address=None, now=None
) -> ApprovalRequest:
    """Record a reviewer's verdict; a rejection closes the request, the approval that reaches
    ``min_approvals`` applies the change, once.

    Raises ``PermissionDenied`` when the reviewer's role is below the
    request's current approver role, or when the requester approves their
    own request; ``ValidationError`` when the request is closed (a double
    click or another reviewer came first), the reviewer already decided it
    (each reviewer counts once), a rejection has no comment, it expired
    (marked expired, never applied) or its subject changed since it was
    made (marked stale, approvals dismissed, never applied). Returns the
    request, refreshed.
    """
    if verdict not in Verdict.values:
        raise ValidationError({"verdict": "Choose approve or reject."})
    if membership.organization_id != approval.organization_id:
        raise PermissionDenied("This request belongs to another organization.")
    membership.require(approval.required_role)
    reviewer = membership.user
    if verdict == Verdict.APPROVE and approval.requested_by_id == reviewer.pk:
        raise PermissionDenied("You cannot approve your own request; another reviewer must.")
    if verdict == Verdict.REJECT and not comment.strip():
        raise ValidationError({"comment": "Say why you reject it, so the requester can fix the change."})
    if verdict == Verdict.APPROVE and executor_for(approval.resource_type, approval.action) is None:
        raise ValidationError(refusal(approval, membership, verdict))
    now = now or timezone.now()
    problem = None
    try:
        with transaction.atomic():
            if verdict == Verdict.APPROVE:
                # Lock order everywhere: product, then request. Applying one request makes the
                # product's other requests stale, so two deciders on one product must queue here.
                _lock_product(approval.product_id)
            locked = ApprovalRequest.objects.select_for_update().get(pk=approval.pk)
            if locked.status != RequestStatus.PENDING:
                raise ValidationError(f"This request was already decided ({locked.get_status_display().lower()}).")
            membership.require(locked.required_role)  # an escalation may have raised it meanwhile
            if Decision.objects.filter(request=locked, reviewer=reviewer).exists():
                raise ValidationError("You already decided on this request; each reviewer counts once.")
            if locked.expires_at and locked.expires_at <= now:
                _expire(locked, now)
                problem = ValidationError("This request expired before it was approved, so it will never be applied.")
            elif verdict == Verdict.APPROVE and is_stale(locked):
                _close_stale(locked, _stale_reason(locked), actor=reviewer, ip_address=ip_address, now=now)
                problem = ValidationError(
                    f"The {locked.get_resource_type_display().lower()} changed after this request was made, "
                    "so it was marked stale and earlier approvals were dismissed. Ask for the change again."
                )
            else:
                _record_decision(locked, membership, verdict, comment, ip_address, now)
    except IntegrityError:
        raise ValidationError("You already decided on this request; each reviewer counts once.") from None
    if problem is not None:
        raise problem
    approval.refresh_from_db()
    return approval


def _stale_reason(approval: ApprovalRequest) -> str:
    noun = approval.get_resource_type_display().lower()
    return f"The {noun} changed after this request was made"


def _lock_product(product_id: int | None) -> None:
    """Lock the product's row until commit (PostgreSQL), so nothing edits it between the stale check and
    the apply; SQLite's IMMEDIATE transactions already serialize writers."""
    if product_id:
        from products.models import Product

        list(Product.objects.select_for_update().filter(pk=product_id).values_list("pk", flat=True))


def _record_decision(locked: ApprovalRequest, membership, verdict: str, comment: str, ip_address, now) -> None:
    reviewer = membership.user
    seconds = max(0, int((now - locked.created_at).total_seconds()))
    Decision.objects.create(
        request=locked,
        reviewer=reviewer,
        role=membership.role,
        verdict=verdict,
        comment=comment,
        ip_address=ip_address or None,
        seconds_after_request=seconds,
    )
    org_id = locked.organization_id
    if verdict == Verdict.REJECT:
        _finish(locked, RequestStatus.REJECTED, now, decision_seconds=seconds)
        executor = executor_for(locked.resource_type, locked.action)
        if executor is not None and executor.reject is not None:
            executor.reject(locked, reviewer)
        record(org_id, AuditAction.REJECTED, f"Rejected: {comment.strip()[:200]}", request=locked, actor=reviewer,
               ip_address=ip_address, details={"comment": comment, "role": membership.role})
        events.publish(org_id, "approval.decided", f"{reviewer} rejected: {locked}",
                       {"approval_id": locked.pk, "verdict": verdict}, actor=reviewer)
        if locked.notify_on_decision:
            notifications.notify(locked, "rejected", actor=reviewer)
        return
    approvals = locked.decisions.filter(verdict=Verdict.APPROVE, dismissed_at__isnull=True).count()
    record(org_id, AuditAction.APPROVED, f"Approved ({approvals} of {locked.min_approvals})", request=locked,
           actor=reviewer, ip_address=ip_address,
           details={"comment": comment, "role": membership.role, "approvals": approvals, "needed": locked.min_approvals})
    if approvals < locked.min_approvals:
        events.publish(org_id, "approval.approved",
                       f"{reviewer} approved {locked}: {approvals} of {locked.min_approvals} approvals",
                       {"approval_id": locked.pk, "verdict": verdict}, actor=reviewer)
        return
    _finish(locked, RequestStatus.APPLIED, now, decision_seconds=seconds)
    executor_for(locked.resource_type, locked.action).apply(locked, reviewer)
    record(org_id, AuditAction.APPLIED, f"Applied after {approvals} approval{'s' if approvals != 1 else ''}",
           request=locked, actor=reviewer, ip_address=ip_address, details={"after": locked.after})
    events.publish(org_id, "approval.decided", f"{reviewer} approved: {locked}",
                   {"approval_id": locked.pk, "verdict": verdict}, actor=reviewer)
    if locked.product_id:
        dismiss_stale_requests(locked.product, actor=reviewer)
    if locked.notify_on_decision:
        notifications.notify(locked, "applied", actor=reviewer)


def _finish(locked: ApprovalRequest, status: str, now, *, decision_seconds=None, closed_reason: str = "") -> None:
    """pending → ``status`` with a conditional UPDATE; raises ``ValidationError`` if another writer won."""
    won = ApprovalRequest.objects.filter(pk=locked.pk, status=RequestStatus.PENDING).update(
        status=status, decided_at=now, decision_seconds=decision_seconds, closed_reason=closed_reason[:300]
    )
    if not won:
        raise ValidationError("This request was already decided.")
    locked.status, locked.decided_at, locked.decision_seconds, locked.closed_reason = status, now, decision_seconds, closed_reason


def _close_stale(approval: ApprovalRequest, reason: str, *, actor=None, ip_address=None, now=None) -> bool:
    """pending → stale, dismissing its approvals; False when it was no longer pending."""
    now = now or timezone.now()
    won = ApprovalRequest.objects.filter(pk=approval.pk, status=RequestStatus.PENDING).update(
        status=RequestStatus.STALE, decided_at=now, closed_reason=reason[:300]
    )
    if not won:
        return False
    approval.status, approval.decided_at, approval.closed_reason = RequestStatus.STALE, now, reason[:300]
    org_id = approval.organization_id
    dismissed = list(
        Decision.objects.filter(request=approval, verdict=Verdict.APPROVE, dismissed_at__isnull=True).select_related("reviewer")
    )
    if dismissed:
        Decision.objects.filter(pk__in=[d.pk for d in dismissed]).update(dismissed_at=now)
        names = [str(d.reviewer or "a removed user") for d in dismissed]
        record(org_id, AuditAction.DISMISSED, f"Dismissed {len(dismissed)} approval{'s' if len(dismissed) != 1 else ''} "
               f"({', '.join(names)}): {reason}", request=approval, actor=actor, ip_address=ip_address,
               details={"reviewers": names})
    record(org_id, AuditAction.STALE, reason, request=approval, actor=actor, ip_address=ip_address)
    events.publish(org_id, "approval.stale", f"{approval} is stale: {reason}", {"approval_id": approval.pk}, actor=actor)
    if approval.notify_on_decision:
        notifications.notify(approval, "stale", actor=actor)
    return True


def dismiss_stale_requests(product, *, actor=None) -> int:
    """Mark stale every pending request for ``product`` whose ``before`` no longer matches it (after an
    edit or an applied request); their approvals are dismissed. Returns how many."""
    count = 0
    for approval in ApprovalRequest.objects.filter(product=product, status=RequestStatus.PENDING):
        if is_stale(approval) and _close_stale(approval, _stale_reason(approval), actor=actor):
            count += 1
    return count


@dataclass
class BulkResult:
    """The outcome of one item of a bulk decision: ``ok`` and a sentence for the reviewer."""

    approval: ApprovalRequest
    ok: bool
    message: str


def bulk_decide(approvals, *, membership, verdict: str, comment: str = "", ip_address=None) -> list[BulkResult]:
    """Decide each request on its own (one transaction each): one refusal never undoes another item."""
    results = []
    for approval in approvals:
        try:
            decided = decide(approval, membership=membership, verdict=verdict, comment=comment, ip_address=ip_address)
        except PermissionDenied as exc:
            results.append(BulkResult(approval, False, str(exc)))
        except ValidationError as exc:
            results.append(BulkResult(approval, False, " ".join(exc.messages)))
        else:
            results.append(BulkResult(decided, True, outcome_text(decided)))
    return results


def outcome_text(approval: ApprovalRequest) -> str:
    """"Applied", "Rejected" or "Approval recorded: 1 of 2"."""
    if approval.status == RequestStatus.APPLIED:
        return "Approved and applied"
    if approval.status == RequestStatus.REJECTED:
        return "Rejected"
    count = approval.decisions.filter(verdict=Verdict.APPROVE, dismissed_at__isnull=True).count()
    return f"Approval recorded: {count} of {approval.min_approvals}"


# --- the schedule: expiry, escalation, stale sweep, webhook retries ------------


def _expire(approval: ApprovalRequest, now) -> bool:
    won = ApprovalRequest.objects.filter(pk=approval.pk, status=RequestStatus.PENDING).update(
        status=RequestStatus.EXPIRED, decided_at=now, closed_reason="Nobody decided before it expired"
    )
    if not won:
        return False
    approval.status, approval.decided_at = RequestStatus.EXPIRED, now
    hours = (approval.expires_at - approval.created_at).total_seconds() / 3600 if approval.expires_at else 0
    record(approval.organization_id, AuditAction.EXPIRED, f"Expired unanswered after {hours:g} h; never applied",
           request=approval, details={"expires_at": approval.expires_at.isoformat() if approval.expires_at else None})
    events.publish(approval.organization_id, "approval.expired", f"{approval} expired without a decision",
                   {"approval_id": approval.pk})
    if approval.notify_on_decision:
        notifications.notify(approval, "expired")
    return True


def expire_due(now=None) -> int:
    """Expire every pending request whose ``expires_at`` has passed; returns how many."""
    now = now or timezone.now()
    count = 0
    due = ApprovalRequest.objects.filter(status=RequestStatus.PENDING, expires_at__lte=now).order_by("expires_at")
    for approval in due[:BATCH]:
        with transaction.atomic():
            count += _expire(approval, now)
    return count


def escalate_due(now=None) -> int:
    """Ask the next role for every pending request whose next escalation tier is due; returns how many.

    A request whose later tiers are also due (the schedule was down) jumps
    to the last due tier. The conditional UPDATE on ``escalation_level``
    makes two schedulers escalate a request once.
    """
    now = now or timezone.now()
    count = 0
    due = ApprovalRequest.objects.filter(status=RequestStatus.PENDING, next_escalation_at__lte=now).order_by("next_escalation_at")
    for approval in due[:BATCH]:
        plan = approval.escalation_plan or []
        level = approval.escalation_level
        new_level = level
        while new_level < len(plan) and approval.created_at + timedelta(hours=plan[new_level]["after_hours"]) <= now:
            new_level += 1
        if new_level == level:
            continue
        tier = plan[new_level - 1]
        next_at = approval.created_at + timedelta(hours=plan[new_level]["after_hours"]) if new_level < len(plan) else None
        with transaction.atomic():
            won = ApprovalRequest.objects.filter(
                pk=approval.pk, status=RequestStatus.PENDING, escalation_level=level
            ).update(escalation_level=new_level, required_role=tier["role"], next_escalation_at=next_at)
            if not won:
                continue
            approval.escalation_level, approval.required_role, approval.next_escalation_at = new_level, tier["role"], next_at
            role = Role(tier["role"]).label.lower()
            record(approval.organization_id, AuditAction.ESCALATED,
                   f"Unanswered for {tier['after_hours']} h: now asks {role}s", request=approval,
                   details={"tier": new_level, "after_hours": tier["after_hours"], "role": tier["role"]})
            events.publish(approval.organization_id, "approval.escalated",
                           f"{approval} waited {tier['after_hours']} h: {role}s are now asked to decide",
                           {"approval_id": approval.pk, "role": tier["role"]})
            notifications.notify(approval, "escalated")
            count += 1
    return count


def sweep_stale(limit: int = BATCH) -> int:
    """Mark stale the pending product requests whose product changed underneath (imports, syncs); returns how many."""
    count = 0
    pending = (
        ApprovalRequest.objects.filter(status=RequestStatus.PENDING, product__isnull=False)
        .select_related("product__organization")
        .prefetch_related("product__variants")
        .order_by("id")
    )
    for approval in pending[:limit]:
        if is_stale(approval):
            with transaction.atomic():
                count += _close_stale(approval, _stale_reason(approval))
    return count


def run_due(now=None) -> dict:
    """The approvals schedule (django-q2, every minute): expire, escalate, sweep stale, retry webhooks.

    Returns counts, e.g. ``{"expired": 1, "escalated": 0, "stale": 0, "webhooks": 2}``. A failing
    step is logged and does not stop the others.
    """
    now = now or timezone.now()
    steps = {
        "expired": lambda: expire_due(now),
        "escalated": lambda: escalate_due(now),
        "stale": lambda: sweep_stale(),
        "webhooks": lambda: notifications.retry_due_webhooks(now),
    }
    counts = {}
    for name, step in steps.items():
        try:
            counts[name] = step()
        except Exception:
            log.exception("approvals schedule: %s failed", name)
            counts[name] = "failed"
    return counts


# --- rules, edited on the rules page ------------------------------------


def apply_rule_snapshot(organization, *, rule_id, snapshot: dict, actor, ip_address=None, approval=None):
    """Create (``rule_id`` None), update, or delete (``snapshot`` ``{}``) a rule with its tiers, audited.

    ``snapshot`` has ``ApprovalRule.snapshot()``'s shape. Returns the rule (unsaved copy when deleted).
    """
    with transaction.atomic():
        rule = ApprovalRule.objects.filter(pk=rule_id, organization=organization).first() if rule_id else None
        before = rule.snapshot() if rule else {}
        if not snapshot:
            ApprovalRule.objects.filter(pk=rule.pk).delete()
            record(organization.pk, AuditAction.RULE_DELETED, f"Deleted rule: {rule.describe()}", request=approval,
                   actor=actor, ip_address=ip_address, details={"rule_id": rule_id, "before": before})
            return rule
        fields = {k: v for k, v in snapshot.items() if k != "tiers"}
        created = rule is None
        rule = rule or ApprovalRule(organization=organization)
        for name, value in fields.items():
            setattr(rule, name, value)
        rule.full_clean(exclude=["organization"])
        rule.save()
        rule.tiers.all().delete()
        EscalationTier.objects.bulk_create(
            [EscalationTier(rule=rule, after_hours=t["after_hours"], role=t["role"]) for t in snapshot.get("tiers", [])]
        )
        action = AuditAction.RULE_CREATED if created else AuditAction.RULE_UPDATED
        record(organization.pk, action, f"{'Created' if created else 'Changed'} rule: {rule.describe()}", request=approval,
               actor=actor, ip_address=ip_address, details={"rule_id": rule.pk, "before": before, "after": rule.snapshot()})
    return rule


def propose_rule_change(membership, *, rule: ApprovalRule | None, snapshot: dict, ip_address=None):
    """An admin's create / update (``snapshot``) or delete (``snapshot`` ``{}``) of a rule.

    When a rule about rules holds it, returns the pending ``ApprovalRequest``;
    else applies it at once and returns the ``ApprovalRule``.
    """
    membership.require(Role.ADMIN)
    organization = membership.organization
    if rule is not None:  # a fresh copy: a bound form has already written its values onto the caller's instance
        rule = ApprovalRule.objects.prefetch_related("tiers").get(pk=rule.pk, organization=organization)
    action = ChangeAction.CREATE if rule is None else (ChangeAction.UPDATE if snapshot else ChangeAction.DELETE)
    policy = evaluate(organization, rule_change(action))
    if policy is None:
        return apply_rule_snapshot(
            organization, rule_id=rule.pk if rule else None, snapshot=snapshot, actor=membership.user, ip_address=ip_address
        )
    subject = rule
    if subject is None:
        subject = ApprovalRule(organization=organization, **{k: v for k, v in snapshot.items() if k != "tiers"})
        subject.price_drop_over_percent = ApprovalRule._meta.get_field("price_drop_over_percent").to_python(
            subject.price_drop_over_percent
        )
    return open_request(
        organization,
        resource_type=ResourceType.RULE,
        action=action,
        title=subject.describe(),
        before=rule.snapshot() if rule else {},
        after=snapshot,
        policy=policy,
        user=membership.user,
        object_id=rule.pk if rule else None,
        ip_address=ip_address,
    )


def record_settings_change(membership, changed: list[str], ip_address=None) -> None:
    """Audit a change of the notification settings (names of the changed fields; never the secret)."""
    record(membership.organization_id, AuditAction.SETTINGS_CHANGED,
           f"Changed notification settings: {', '.join(changed) or 'nothing'}", actor=membership.user,
           ip_address=ip_address, details={"fields": changed})


# --- time to decision ---------------------------------------------------


@dataclass
class DecisionTime:
    """Time to decision of one group: ``count`` decisions, median and 95th percentile in seconds."""

    label: str
    count: int
    p50: int
    p95: int


def percentile(sorted_values: list[int], pct: float) -> int:
    """Nearest-rank percentile of an ascending list (``pct`` in 0–100)."""
    if not sorted_values:
        return 0
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _figures(groups: dict[str, list[int]]) -> list[DecisionTime]:
    out = []
    for label, values in groups.items():
        values.sort()
        out.append(DecisionTime(label, len(values), percentile(values, 50), percentile(values, 95)))
    return sorted(out, key=lambda f: (-f.count, f.label))


def decision_times(organization, *, rules=None, days: int = 90, cap: int = 5000) -> dict:
    """p50 and p95 of the time to decision over the last ``days`` days (at most ``cap`` newest rows each).

    Returns ``{"by_rule": [DecisionTime], "by_role": [DecisionTime], "days": days}``.
    Per rule: from request to its final approval or rejection. Per reviewer
    role: from request to each reviewer's decision. Expired and stale
    requests are no decision and are left out. ``rules`` may pass the
    organization's rules already loaded.
    """
    since = timezone.now() - timedelta(days=days)
    if rules is None:
        rules = list(ApprovalRule.objects.filter(organization=organization))
    labels = {r.pk: r.describe() for r in rules}
    by_rule: dict[str, list[int]] = {}
    rows = (
        ApprovalRequest.objects.filter(organization=organization, decided_at__gte=since, decision_seconds__isnull=False)
        .order_by("-decided_at")
        .values_list("rule_id", "decision_seconds")[:cap]
    )
    for rule_id, seconds in rows:
        label = labels.get(rule_id, "Deleted rule" if rule_id else "Built-in delete review")
        by_rule.setdefault(label, []).append(seconds)
    by_role: dict[str, list[int]] = {}
    role_rows = (
        Decision.objects.filter(request__organization=organization, created_at__gte=since, seconds_after_request__isnull=False)
        .exclude(role="")
        .order_by("-created_at")
        .values_list("role", "seconds_after_request")[:cap]
    )
    for role, seconds in role_rows:
        by_role.setdefault(Role(role).label, []).append(seconds)
    return {"by_rule": _figures(by_rule), "by_role": _figures(by_role), "days": days}
