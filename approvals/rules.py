"""The rules engine: does a proposed change wait for review, and for whom?

Callers describe what they want to do as a ``ProposedChange`` and ask
``evaluate(organization, change)``; the answer is a ``Policy`` (the
governing rule's frozen settings and a human reason) or ``None`` when the
change may apply at once. Products use ``product_edit_change`` and
``product_delete_change``; the rules page uses ``rule_change``; the Sync
agent will describe store publishes, unpublishes and bulk pushes the same
way (resource "store", action "publish", ``listings_touched``).

``seed_default_rules`` gives an organization the two rules that existed
before rules were configurable: a delete waits for a manager, and so does a
price cut larger than ``Organization.price_drop_approval_percent``.

Which rules can hold anything: every process that asks the rules declares
what it asks with ``register_checkpoint`` (product edits, deletes and rule
changes here; bulk changes in ``products.bulk.register``). The rules pages
show ``coverage()``: for every resource and action a rule may name, the
processes that ask it, so a rule nobody asks is shown as such.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from approvals.choices import RESOURCE_ACTIONS, ApproverRole, ChangeAction, ResourceType
from approvals.models import ApprovalRule
from flashfusion.choices import Role


@dataclass(frozen=True)
class ProposedChange:
    """A change described for the rules.

    ``actions``: every action the change amounts to, e.g. ``("update",
    "price_change")`` for an edit that also cuts a price; a rule for any of
    them may hold it. ``price_drop_percent`` is the largest price cut
    (0 when no price drops) at ``price_drop_item`` (a SKU);
    ``listings_touched`` is how many store listings the change reaches.
    """

    resource_type: str
    actions: tuple[str, ...]
    price_drop_percent: Decimal = Decimal(0)
    price_drop_item: str = ""
    listings_touched: int = 0


@dataclass(frozen=True)
class Policy:
    """What a waiting request needs, frozen from the governing rule when the request is made.

    ``rule`` is ``None`` for the built-in ``FALLBACK_DELETE`` policy.
    ``escalation_plan``: ``[{"after_hours": 4, "role": "admin"}]``.
    """

    action: str
    reason: str
    approver_role: str = ApproverRole.MANAGER
    min_approvals: int = 1
    expiry_minutes: int = 1440
    escalation_plan: list = field(default_factory=list)
    notify_on_request: bool = True
    notify_on_decision: bool = True
    rule: ApprovalRule | None = None


#: A product delete always waits (``request_delete``'s contract): without an
#: enabled delete rule, one manager decides within a day.
FALLBACK_DELETE = Policy(
    action=ChangeAction.DELETE,
    reason="Deleting a product needs review (no delete rule is enabled, so a manager decides)",
)


# --- which processes ask the rules ------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A process that asks ``evaluate`` before it changes something: ``process`` in words ("bulk changes"),
    and the resource type and actions its ``ProposedChange`` names (a rule for any of them may hold it)."""

    process: str
    resource_type: str
    actions: tuple[str, ...]


_CHECKPOINTS: list[Checkpoint] = []


def register_checkpoint(process: str, resource_type: str, actions) -> None:
    """Declare that ``process`` asks the rules about ``resource_type`` with these ``actions`` (idempotent).

    Call it next to the code that builds the ``ProposedChange``, so the rules
    pages say what is really checked.
    """
    checkpoint = Checkpoint(process, str(resource_type), tuple(str(a) for a in actions))
    if checkpoint not in _CHECKPOINTS:
        _CHECKPOINTS.append(checkpoint)


def processes_asking(resource_type: str, action: str) -> list[str]:
    """The processes that ask about ``resource_type``/``action`` (``[]``: a rule for it holds nothing today)."""
    found = []
    for checkpoint in _CHECKPOINTS:
        if checkpoint.resource_type == resource_type and action in checkpoint.actions and checkpoint.process not in found:
            found.append(checkpoint.process)
    return found


@dataclass(frozen=True)
class Coverage:
    """One resource type's actions as the rules pages list them: ``checked`` maps an action's label to the
    processes asking it; ``unchecked`` are the labels of the actions no process asks yet."""

    resource_label: str
    checked: list[tuple[str, list[str]]]
    unchecked: list[str]


def coverage() -> list[Coverage]:
    """For every resource type and action a rule may name (``RESOURCE_ACTIONS``), who asks it."""
    rows = []
    for resource_type, actions in RESOURCE_ACTIONS.items():
        checked, unchecked = [], []
        for action in actions:
            label = ChangeAction(action).label.lower()
            processes = processes_asking(resource_type, action)
            if processes:
                checked.append((label, processes))
            else:
                unchecked.append(label)
        rows.append(Coverage(ResourceType(resource_type).label, checked, unchecked))
    return rows


def rule_matches(rule: ApprovalRule, change: ProposedChange) -> bool:
    """True when ``rule`` is enabled, is about this resource and action, and every set condition holds."""
    if not rule.is_enabled or rule.resource_type != change.resource_type or rule.action not in change.actions:
        return False
    if rule.price_drop_over_percent is not None and not change.price_drop_percent > rule.price_drop_over_percent:
        return False
    if rule.listings_touched_over is not None and not change.listings_touched > rule.listings_touched_over:
        return False
    return True


def strictness(rule: ApprovalRule) -> tuple:
    """Sort key: the higher approver role, then the larger quorum, then the shorter expiry, then the older rule."""
    return (-Role.rank(rule.approver_role), -rule.min_approvals, rule.expiry_minutes, rule.pk or 0)


def evaluate(organization, change: ProposedChange, *, rules=None) -> Policy | None:
    """The policy of the strictest enabled rule of ``organization`` that matches ``change``, or ``None``.

    ``rules`` may pass the organization's rules already loaded (with tiers
    prefetched) to save queries.
    """
    if rules is None:
        rules = ApprovalRule.objects.filter(
            organization=organization, resource_type=change.resource_type, action__in=change.actions, is_enabled=True
        ).prefetch_related("tiers")
    matching = sorted((r for r in rules if rule_matches(r, change)), key=strictness)
    if not matching:
        return None
    rule = matching[0]
    return Policy(
        action=_request_action(rule, change),
        reason=_reason(rule, change),
        approver_role=rule.approver_role,
        min_approvals=rule.min_approvals,
        expiry_minutes=rule.expiry_minutes,
        escalation_plan=rule.escalation_plan(),
        notify_on_request=rule.notify_on_request,
        notify_on_decision=rule.notify_on_decision,
        rule=rule,
    )


def _request_action(rule: ApprovalRule, change: ProposedChange) -> str:
    """The action a request shows: the most specific one the change amounts to (a price change over an update)."""
    if ChangeAction.PRICE_CHANGE in change.actions:
        return ChangeAction.PRICE_CHANGE
    return rule.action


def _reason(rule: ApprovalRule, change: ProposedChange) -> str:
    if rule.price_drop_over_percent is not None:
        limit = f"{rule.price_drop_over_percent:f}".rstrip("0").rstrip(".")
        return (
            f"Price of {change.price_drop_item or 'a variant'} drops {change.price_drop_percent}% "
            f"(more than the {limit}% allowed without review)"
        )
    if rule.listings_touched_over is not None:
        return (
            f"{rule.get_action_display()} touches {change.listings_touched} store listings "
            f"(more than {rule.listings_touched_over} need review)"
        )
    if rule.resource_type == ResourceType.PRODUCT and rule.action == ChangeAction.DELETE:
        return "Deleting a product needs review"
    return f"Rule: {rule.describe()} needs review"


# --- describing product and rule changes ---------------------------------

PRODUCT_LEVEL_FIELDS = ("title", "status", "description")
VARIANT_LEVEL_FIELDS = ("price", "compare_at_price", "stock")


def product_edit_change(product, before: dict, after: dict) -> ProposedChange:
    """Describe an edit of ``product`` from snapshot ``before`` to ``after`` (``Product.snapshot()`` shapes).

    Resource "product"; actions: "update" always, "price_change" when any
    variant's price differs. A rule about variants is asked separately by
    ``evaluate_product_edit``.
    """
    from products.services import largest_price_drop

    actions = [ChangeAction.UPDATE]
    if _prices_differ(before, after):
        actions.append(ChangeAction.PRICE_CHANGE)
    drop, item = largest_price_drop(before, after)
    return ProposedChange(
        resource_type=ResourceType.PRODUCT,
        actions=tuple(actions),
        price_drop_percent=drop,
        price_drop_item=item,
        listings_touched=product.listings.count(),
    )


PRODUCT_EDITS = "product edits (the product page; store edits held as conflicts)"
register_checkpoint(PRODUCT_EDITS, ResourceType.PRODUCT, (ChangeAction.UPDATE, ChangeAction.PRICE_CHANGE))
register_checkpoint(PRODUCT_EDITS, ResourceType.VARIANT, (ChangeAction.UPDATE, ChangeAction.PRICE_CHANGE))


def evaluate_product_edit(product, before: dict, after: dict) -> Policy | None:
    """The policy for an edit of ``product``: the strictest of the product rules and, when a
    variant field changed, the variant rules (same actions and sizes)."""
    change = product_edit_change(product, before, after)
    changes = [change]
    if _variants_differ(before, after):
        changes.append(
            ProposedChange(
                resource_type=ResourceType.VARIANT,
                actions=change.actions,
                price_drop_percent=change.price_drop_percent,
                price_drop_item=change.price_drop_item,
                listings_touched=change.listings_touched,
            )
        )
    rules = list(
        ApprovalRule.objects.filter(
            organization_id=product.organization_id,
            resource_type__in=[c.resource_type for c in changes],
            action__in=change.actions,
            is_enabled=True,
        ).prefetch_related("tiers")
    )
    policies = [p for c in changes if (p := evaluate(None, c, rules=rules))]
    if not policies:
        return None
    return sorted(policies, key=lambda p: strictness(p.rule))[0]


register_checkpoint("product deletes", ResourceType.PRODUCT, (ChangeAction.DELETE,))


def product_delete_change(product) -> ProposedChange:
    """Describe deleting ``product`` (resource "product", action "delete", its listings touched)."""
    return ProposedChange(
        resource_type=ResourceType.PRODUCT,
        actions=(ChangeAction.DELETE,),
        listings_touched=product.listings.count(),
    )


register_checkpoint("rule changes", ResourceType.RULE, (ChangeAction.CREATE, ChangeAction.UPDATE, ChangeAction.DELETE))


def rule_change(action: str) -> ProposedChange:
    """Describe creating, updating or deleting an approval rule."""
    return ProposedChange(resource_type=ResourceType.RULE, actions=(action,))


def _variant_map(snapshot: dict) -> dict:
    return {v["sku"] or f"#{v['position']}": v for v in snapshot.get("variants", [])}


def _prices_differ(before: dict, after: dict) -> bool:
    old = _variant_map(before)
    return any(
        key in old and old[key].get("price") != v.get("price") for key, v in _variant_map(after).items()
    )


def _variants_differ(before: dict, after: dict) -> bool:
    old = _variant_map(before)
    return any(
        key in old and any(old[key].get(f) != v.get(f) for f in VARIANT_LEVEL_FIELDS)
        for key, v in _variant_map(after).items()
    )


# --- the rules every organization starts with ------------------------------


def default_rule_specs(organization) -> list[dict]:
    """Field values of the two rules that exist before an admin changes anything."""
    return [
        {
            "resource_type": ResourceType.PRODUCT,
            "action": ChangeAction.DELETE,
            "approver_role": ApproverRole.MANAGER,
            "min_approvals": 1,
        },
        {
            "resource_type": ResourceType.PRODUCT,
            "action": ChangeAction.PRICE_CHANGE,
            "price_drop_over_percent": organization.price_drop_approval_percent,
            "approver_role": ApproverRole.MANAGER,
            "min_approvals": 1,
        },
    ]


def seed_default_rules(organization) -> list[ApprovalRule]:
    """Create the default rules for an organization that has no rule yet; returns what it created.

    Idempotent: an organization with any rule (even disabled) is left alone,
    so an admin who deleted a default rule does not get it back.
    """
    if ApprovalRule.objects.filter(organization=organization).exists():
        return []
    return [ApprovalRule.objects.create(organization=organization, **spec) for spec in default_rule_specs(organization)]


def eligible_reviewer_counts(organization) -> dict[str, int]:
    """How many members may decide at each approver role: ``{"operator": 5, "manager": 2, "admin": 1}``."""
    from flashfusion.models import Membership

    roles = list(Membership.objects.filter(organization=organization).values_list("role", flat=True))
    return {r: sum(1 for role in roles if Role.rank(role) >= Role.rank(r)) for r in ApproverRole.values}

