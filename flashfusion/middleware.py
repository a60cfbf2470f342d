"""Attach the signed-in user's organization and membership (and a full page's live cursor) to each request."""

from flashfusion.models import Event, current_membership


def last_event_id(organization_id: int) -> int:
    """The id of the organization's newest event (0: none), one read of the ``event_org_recent`` index."""
    newest = Event.objects.filter(organization_id=organization_id).order_by("-pk").values_list("pk", flat=True)
    return newest.first() or 0


class OrganizationMiddleware:
    """Sets ``request.membership`` and ``request.organization`` (``None`` when signed out or without one).

    For a full page (a GET that is not an htmx request) it also reads ``request.live_cursor``, the newest
    event id, BEFORE the view reads anything: the page's websocket resumes after it, so an event that
    lands while the view renders is replayed, never skipped (a job page drawn "Queued" stayed so when
    its job finished between the view's read and a cursor read at the end of the template).
    """

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
                if request.method == "GET" and "HX-Request" not in request.headers:
                    request.live_cursor = last_event_id(request.organization.pk)
        return self.get_response(request)
