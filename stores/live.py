"""Live fragments for stores: a refresh signal for store tables."""

from django.template.loader import render_to_string


def render_store_fragments(store_id: int) -> list[tuple[str, str]]:
    """``[("stores", html)]``: a signal that makes store tables reload themselves."""
    return [("stores", render_to_string("partials/live_signal.html", {"signal": "stores-changed", "event_id": store_id}))]
