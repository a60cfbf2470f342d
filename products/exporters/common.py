"""Helpers shared by the Shopify and WooCommerce product-CSV writers.

The writers are the mirror of ``products/importers``: every cell they fill
is one the matching reader reads, written the way that reader parses it,
so that exporting and importing again gives the same catalog (except what a
format cannot carry; each writer's docstring lists it).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from decimal import Decimal

from products.importers.common import CENT
from products.models import Product

#: Products read per database round trip (their variants come in one more query).
CHUNK = 500


class _Line:
    """A file-like object whose ``write`` returns what it was given (Django's streaming-CSV recipe)."""

    def write(self, value: str) -> str:
        return value


def csv_writer():
    """A ``csv.writer`` whose ``writerow`` returns the row as CSV text (RFC 4180: CRLF, minimal quoting)."""
    return csv.writer(_Line())


def money(value: Decimal | None) -> str:
    """``Decimal("25")`` → ``"25.00"``; None → ``""``. Never scientific notation (both readers refuse it)."""
    return "" if value is None else format(value.quantize(CENT), "f")


def plain_decimal(value: Decimal | None) -> str:
    """Shortest exact spelling: ``Decimal("145.000")`` → ``"145"``, ``Decimal("0.226796")`` → ``"0.226796"``."""
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def catalog_products(organization, products=None):
    """The live products of ``organization`` to export, oldest first, with their variants.

    ``products`` (optional) is a queryset narrowing the export, e.g. the
    products list's filterset queryset; it is re-based on ``pk IN (…)`` so
    its annotations and joins are not carried along, and it can never reach
    past the organization or bring back a deleted product.

    Oldest first (by id) is the order the products were created in, which
    for an imported catalog is the order of its file: the WooCommerce reader
    gives equal handles ``-2``, ``-3``… in file order, so this keeps them.
    """
    queryset = Product.objects.live().filter(organization=organization)
    if products is not None:
        queryset = queryset.filter(pk__in=products.order_by().values("pk"))
    return queryset.order_by("pk")


def iterate(queryset) -> Iterator[Product]:
    """Products in chunks of ``CHUNK``, each chunk's variants prefetched (one query per chunk)."""
    return queryset.prefetch_related("variants").iterator(chunk_size=CHUNK)


def rows_to_text(writer, rows: Iterable[list[str]]) -> str:
    return "".join(writer.writerow(row) for row in rows)
