from flashfusion.models import Event


def organization(request):
    """Expose the organization, membership and the live cursor (last event id) to every template.

    The cursor lets the page's websocket resume exactly after what the page
    was rendered with.
    """
    org = getattr(request, "organization", None)
    cursor = 0
    if org is not None:
        cursor = Event.objects.filter(organization=org).order_by("-pk").values_list("pk", flat=True).first() or 0
    return {"organization": org, "membership": getattr(request, "membership", None), "live_cursor": cursor}
