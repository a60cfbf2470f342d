"""Download the catalog as a Shopify or WooCommerce product CSV (``products.exporters``)."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from flashfusion.access import membership_for
from products.exporters import FORMATS, iter_catalog
from products.filtersets import ProductFilterSet
from products.models import Product

#: Products' rows sent per piece of the response (and per thread hop under ASGI).
PRODUCTS_PER_PIECE = 200


@require_GET
def product_export(request):
    """``GET /products/export/?format=shopify|woocommerce`` plus the products list's filters.

    Any member may export. The file holds the live products of the member's
    organization that the list's filters (``q``, ``status``, ``kind`` …)
    select, streamed as an attachment named
    ``<org-slug>-products-<format>-<date>.csv``. A missing or unknown
    ``format`` is a 400 that names the parameter and its values.
    """
    membership = membership_for(request)
    fmt = request.GET.get("format", "")
    if fmt not in FORMATS:
        allowed = " or ".join(FORMATS)
        got = f"got {fmt!r}" if fmt else "it is missing"
        return HttpResponseBadRequest(
            f"The “format” parameter must be {allowed}; {got}.", content_type="text/plain; charset=utf-8"
        )
    organization = membership.organization
    live = Product.objects.live().filter(organization=organization)
    filterset = ProductFilterSet(request.GET, queryset=live, request=request)
    if not filterset.is_valid():
        problems = "; ".join(f"{filterset.form.fields[k].label if k in filterset.form.fields else k}: {' '.join(v)}"
                             for k, v in filterset.form.errors.items())
        return HttpResponseBadRequest(f"Nothing exported: the filters have an error. {problems}",
                                      content_type="text/plain; charset=utf-8")
    pieces = _batched(iter_catalog(organization, fmt, filterset.qs))
    if isinstance(request, ASGIRequest):
        # Django buffers a *sync* iterator whole under ASGI; an async one streams.
        pieces = _async_pieces(pieces)
    response = StreamingHttpResponse(pieces, content_type="text/csv; charset=utf-8")
    filename = f"{organization.slug}-products-{fmt}-{timezone.localdate().isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _batched(pieces, size: int = PRODUCTS_PER_PIECE):
    """Join the exporter's per-product pieces into bigger ones (fewer writes, fewer thread hops)."""
    batch = []
    for piece in pieces:
        batch.append(piece)
        if len(batch) >= size:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


async def _async_pieces(pieces):
    """Pull each piece in Django's sync thread (database access), hand it to the ASGI server."""
    iterator = iter(pieces)
    next_piece = sync_to_async(lambda: next(iterator, None), thread_sensitive=True)
    while (piece := await next_piece()) is not None:
        yield piece
