"""The listings list: every listing of the organization's stores, filtered by ``ListingFilterSet``.

A store's page shows this list filtered by that store (``?store=<id>&embed=1``), loaded into the page
by htmx once the page is up (STYLE.md habit 7), so a store with 100,000 listings costs its page one
indexed page of 50 rows, not all of them. Paged without a COUNT (``LazyPaginator``).
"""

from django_htmx.http import push_url
from django_tables2.paginators import LazyPaginator

from flashfusion.views import ObjectListView
from stores.filtersets import ListingFilterSet
from stores.models import Listing
from stores.tables import ListingTable

#: The columns a row shows (the JSON snapshots and hashes of a listing stay in the database).
LISTING_FIELDS = ("id", "organization_id", "store_id", "product_id", "external_id", "state", "last_error",
                  "last_synced_at", "product__title", "product__sku", "store__name")


def listing_rows(organization):
    """``organization``'s listings with their product's title and SKU and their store's name, one query."""
    return (
        Listing.objects.filter(organization=organization)
        .select_related("product", "store")
        .only(*LISTING_FIELDS)
        .order_by("product__title", "pk")
    )


class ListingListView(ObjectListView):
    """``GET /stores/listings/?store=&state=&q=``; ``embed=1``: the store page's card (filters of its own,
    no store column, the address bar left alone)."""

    filterset_class = ListingFilterSet
    table_class = ListingTable
    template_name = "stores/listing_list.html"
    partial_template = "stores/partials/listing_table.html"
    paginator_class = LazyPaginator
    per_page = 50
    #: A finished sync (``store.synced``) changes listing states.
    live_signal = "stores-changed"
    scope_filters = ("store",)

    def get_queryset(self, request):
        return listing_rows(request.organization)

    def table_kwargs(self, request) -> dict:
        return {"one_store": bool(request.GET.get("store"))}

    def extra_context(self, request) -> dict:
        return {"embedded": bool(request.GET.get("embed"))}

    def get(self, request):
        response = super().get(request)
        if request.GET.get("embed"):
            # htmx pushes a boosted link's URL (the table's sort and page links) whatever hx-push-url says;
            # inside a store's page that would put the list's own address in the address bar.
            push_url(response, False)
        return response
