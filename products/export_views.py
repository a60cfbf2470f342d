"""Download the catalog as a Shopify or WooCommerce product CSV (``products.exporters``)."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from flashfusion.access import membership_for
from products.exporters import FORMATS, LABELS, dropped_fields, iter_catalog
from products.exporters.common import catalog_products, left_out_text
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
    selected = _selected(request)
    if isinstance(selected, HttpResponse):
        return selected
    organization, fmt, products = selected
    pieces = _batched(iter_catalog(organization, fmt, products))
    if isinstance(request, ASGIRequest):
        # Django buffers a *sync* iterator whole under ASGI; an async one streams.
        pieces = _async_pieces(pieces)
    response = StreamingHttpResponse(pieces, content_type="text/csv; charset=utf-8")
    filename = f"{organization.slug}-products-{fmt}-{timezone.localdate().isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def product_export_review(request):
    """``GET /products/export/review/?format=…`` plus the list's filters: the page before the download.

    Any member. Shows how many products the file holds and a table of what
    the format leaves out for them (``dropped_fields``: field, how many
    products, a few titles), then links to the CSV and to the same list as a
    text file. Bad format or filters: the download's 400.
    """
    selected = _selected(request)
    if isinstance(selected, HttpResponse):
        return selected
    organization, fmt, products = selected
    query = request.GET.urlencode()
    context = {
        "format": fmt,
        "format_label": LABELS[fmt],
        "exported": catalog_products(organization, products).count(),
        "dropped": dropped_fields(organization, fmt, products),
        "query": query,
    }
    return render(request, "products/export.html", context)


@require_GET
def product_export_left_out(request):
    """``GET /products/export/left-out.txt?format=…`` plus the list's filters: what the export leaves out.

    Any member. A plain-text attachment
    ``<org-slug>-products-<format>-<date>-left-out.txt`` of ``#`` comment
    lines (``common.left_out_text``), kept apart from the CSV so the CSV
    stays importable.
    """
    selected = _selected(request)
    if isinstance(selected, HttpResponse):
        return selected
    organization, fmt, products = selected
    text = left_out_text(LABELS[fmt], organization, dropped_fields(organization, fmt, products),
                         catalog_products(organization, products).count())
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    filename = f"{organization.slug}-products-{fmt}-{timezone.localdate().isoformat()}-left-out.txt"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _selected(request):
    """``(organization, format, products queryset)`` from the request, or the 400 that says what is wrong.

    The member's organization's live products that the list's filters select;
    ``format`` must be one of ``FORMATS``.
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
    return organization, fmt, filterset.qs


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
