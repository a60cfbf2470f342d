from functools import partial

from flashfusion.models import Event


def _last_event_id(organization) -> int:
    return Event.objects.filter(organization=organization).order_by("-pk").values_list("pk", flat=True).first() or 0


def organization(request):
    """Expose the organization, membership and the live cursor (last event id) to every template.

    The cursor lets the page's websocket resume exactly after what the page
    was rendered with. It is read only by a template that shows it (the
    full page's layout: the template calls it), not by htmx fragments.
    """
    org = getattr(request, "organization", None)
    cursor = partial(_last_event_id, org) if org is not None else 0
    return {"organization": org, "membership": getattr(request, "membership", None), "live_cursor": cursor}
