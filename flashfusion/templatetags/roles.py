"""``{% if membership|has_role:"operator" %}``: draw an action only for the roles its view allows."""

from django import template

register = template.Library()


@register.filter
def has_role(membership, role: str) -> bool:
    """True when ``membership`` (a ``Membership`` or None) has ``role`` or a higher one (``Membership.has_role``)."""
    return membership is not None and membership.has_role(role)
