"""Live fragments for stores: the row on the stores page."""

from django.db.models import Count
from django.template.loader import render_to_string

from stores.models import Store
from stores.tables import StoreTable


def render_store_fragments(store_id: int) -> str:
    store = Store.objects.filter(pk=store_id).annotate(listing_count=Count("listings")).first()
    if store is None:
        return ""
    row = StoreTable([store]).rows[0]
    return "<template>" + render_to_string("partials/table_row.html", {"row": row, "oob": "true"}) + "</template>"
