from functools import partial

from flashfusion.middleware import last_event_id


def organization(request):
    """Expose the organization, membership and the live cursor (last event id) to every template.

    The cursor lets the page's websocket resume after what the page was
    rendered with: for a full page it was read before the view ran
    (``OrganizationMiddleware``); otherwise only a template that shows it
    reads it (the template calls it), not htmx fragments.
    """
    org = getattr(request, "organization", None)
    cursor = getattr(request, "live_cursor", None)
    if cursor is None:  # read early by OrganizationMiddleware for full pages; lazily for the rest
        cursor = partial(last_event_id, org.pk) if org is not None else 0
    return {"organization": org, "membership": getattr(request, "membership", None), "live_cursor": cursor}
