"""Attach the signed-in user's organization and membership to each request."""

from flashfusion.models import Membership


class OrganizationMiddleware:
    """Sets ``request.membership`` and ``request.organization`` (``None`` when signed out or without one).

    A user in several organizations works in the one chosen in the session
    (``organization_id``), else the oldest membership.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = None
        request.organization = None
        if request.user.is_authenticated:
            memberships = Membership.objects.filter(user=request.user).select_related("organization")
            chosen = request.session.get("organization_id")
            membership = (chosen and memberships.filter(organization_id=chosen).first()) or memberships.order_by("id").first()
            if membership:
                request.membership = membership
                request.organization = membership.organization
        return self.get_response(request)
