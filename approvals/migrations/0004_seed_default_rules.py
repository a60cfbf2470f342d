"""Give every existing organization the two rules that were fixed in code before rules were configurable.

A delete waits for one manager; a price cut larger than the organization's
``price_drop_approval_percent`` waits for one manager. Organizations that
already have a rule are left alone, so running it again changes nothing.
New organizations get the same rules from ``approvals.signals``.
Reversing removes nothing: rules may have been edited since.
"""

from django.db import migrations

# Frozen copy of approvals.rules.default_rule_specs: migrations must not import app code that changes.
DEFAULT_RULES = [
    {"resource_type": "product", "action": "delete", "approver_role": "manager", "min_approvals": 1},
    {"resource_type": "product", "action": "price_change", "approver_role": "manager", "min_approvals": 1, "price_drop": True},
]


def seed(apps, schema_editor):
    db = schema_editor.connection.alias
    Organization = apps.get_model("flashfusion", "Organization")
    ApprovalRule = apps.get_model("approvals", "ApprovalRule")
    with_rules = set(ApprovalRule.objects.using(db).values_list("organization_id", flat=True).distinct())
    for organization in Organization.objects.using(db).exclude(pk__in=with_rules):
        for spec in DEFAULT_RULES:
            fields = {k: v for k, v in spec.items() if k != "price_drop"}
            if spec.get("price_drop"):
                fields["price_drop_over_percent"] = organization.price_drop_approval_percent
            ApprovalRule.objects.using(db).create(organization=organization, **fields)


class Migration(migrations.Migration):

    dependencies = [
        ("approvals", "0003_rules_quorum_audit"),
        ("flashfusion", "0001_initial"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
