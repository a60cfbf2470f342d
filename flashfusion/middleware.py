"""Attach the signed-in user's organization and membership to each request."""

from flashfusion.models import current_membership


class OrganizationMiddleware:
    """Sets ``request.membership`` and ``request.organization`` (``None`` when signed out or without one)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = None
        request.organization = None
        if request.user.is_authenticated:
            membership = current_membership(request.user, request.session.get("organization_id"))
            if membership:
                request.membership = membership
                request.organization = membership.organization
        return self.get_response(request)
