def organization(request):
    """Expose the current organization and membership to every template."""
    return {
        "organization": getattr(request, "organization", None),
        "membership": getattr(request, "membership", None),
    }
