"""Organizations, memberships and the event table."""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import models

from flashfusion.choices import Role


class Organization(models.Model):
    """A merchant account; every row an operator sees belongs to one."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    currency = models.CharField(
        max_length=3, default="USD", help_text="ISO 4217 code of the catalog's prices."
    )
    price_drop_approval_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=20,
        help_text="A price cut larger than this percentage waits for a reviewer.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name


class Membership(models.Model):
    """A user's place in an organization, with one role."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "organization"], name="membership_unique_user_org")]

    def __str__(self):
        return f"{self.user} in {self.organization} ({self.role})"

    def has_role(self, role: str) -> bool:
        """True when this membership's role is ``role`` or higher."""
        return Role.rank(self.role) >= Role.rank(role)

    def require(self, role: str) -> None:
        """Raise ``PermissionDenied`` unless the role is at least ``role``."""
        if not self.has_role(role):
            raise PermissionDenied(f"This needs the {Role(role).label.lower()} role or higher.")


class Event(models.Model):
    """An immutable record that something happened.

    ``topic`` is dotted (``job.updated``, ``product.deleted``); ``payload`` is
    JSON. Written in the same transaction as the change, fanned out to
    websockets after commit (see ``flashfusion.events``).
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="events")
    topic = models.CharField(max_length=64)
    message = models.CharField(max_length=300, help_text="One line for the activity feed.")
    payload = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["organization", "-id"], name="event_org_recent")]

    def __str__(self):
        return f"{self.topic}: {self.message}"


def current_membership(user, chosen_organization_id: int | None = None) -> Membership | None:
    """The membership a user works in: the one chosen in the session, else the oldest."""
    memberships = Membership.objects.filter(user=user).select_related("organization")
    if chosen_organization_id:
        chosen = memberships.filter(organization_id=chosen_organization_id).first()
        if chosen:
            return chosen
    return memberships.order_by("id").first()
