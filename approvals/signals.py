"""New organizations start with the default approval rules (``approvals.rules.seed_default_rules``)."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from flashfusion.models import Organization


@receiver(post_save, sender=Organization, dispatch_uid="approvals-seed-default-rules")
def seed_rules_for_new_organization(sender, instance, created, raw=False, **kwargs):
    """Give a just-created organization the delete and price-drop rules (not when loading fixtures)."""
    if created and not raw:
        from approvals.rules import seed_default_rules

        seed_default_rules(instance)
