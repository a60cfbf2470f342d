"""Fixtures for approvals: a two-variant product, a second manager, email kept in memory, rule helpers."""

from decimal import Decimal

import pytest

from approvals.models import ApprovalRule, EscalationTier
from flashfusion.choices import Role
from products.services import edit_product
from tests.factories import MembershipFactory, ProductFactory, VariantFactory


@pytest.fixture(autouse=True)
def email_in_memory(settings):
    """Django's locmem backend: sent mail lands in ``django.core.mail.outbox``."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def jacket(org):
    product = ProductFactory(organization=org, title="Summit Jacket", sku="JKT", description="Warm and light shell.")
    VariantFactory(product=product, sku="JKT-M", price=Decimal("100.00"), position=1)
    VariantFactory(product=product, sku="JKT-L", price=Decimal("100.00"), position=2)
    return product


@pytest.fixture
def manager2(org):
    return MembershipFactory(organization=org, role=Role.MANAGER, user__username="manager2-acme").user


def member(user):
    """The user's only membership (every fixture user belongs to one organization)."""
    return user.memberships.get()


def edit_prices(product, user, price, **product_data):
    """Set every variant of ``product`` to ``price`` through the operator's edit service."""
    variants = {
        v.pk: {"price": Decimal(price), "compare_at_price": v.compare_at_price, "stock": v.stock} for v in product.variants.all()
    }
    data = {"title": product.title, "status": product.status, "description": product.description, **product_data}
    return edit_product(product, data, variants, user)


def delete_rule(org) -> ApprovalRule:
    return ApprovalRule.objects.get(organization=org, action="delete")


def set_rule(rule: ApprovalRule, *, tiers=(), **fields) -> ApprovalRule:
    """Change a rule's fields and replace its escalation tiers with ``[(after_hours, role)]``."""
    for name, value in fields.items():
        setattr(rule, name, value)
    rule.full_clean()
    rule.save()
    rule.tiers.all().delete()
    for hours, role in tiers:
        EscalationTier.objects.create(rule=rule, after_hours=hours, role=role)
    return rule
