"""Helpers shared by the Shopify and WooCommerce product-CSV writers.

The writers are the mirror of ``products/importers``: every cell they fill
is one the matching reader reads, written the way that reader parses it,
so that exporting and importing again gives the same catalog (except what a
format cannot carry; each writer's docstring lists it).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q

from products.importers.common import CENT
from products.models import Product, Variant

#: Products read per database round trip (their variants come in one more query).
CHUNK = 500


class _Line:
    """A file-like object whose ``write`` returns what it was given (Django's streaming-CSV recipe)."""

    def write(self, value: str) -> str:
        return value


def csv_writer():
    """A ``csv.writer`` whose ``writerow`` returns the row as CSV text (RFC 4180: CRLF, minimal quoting)."""
    return csv.writer(_Line())


#: A cell starting with one of these, or with tab or CR, is run as a formula by spreadsheets (OWASP "CSV
#: Injection"; WooCommerce's exporter ``WC_CSV_Exporter::escape_data`` guards the same six). The readers
#: (ours, and WooCommerce's ``unescape_data``) remove a quote before these four again.
QUOTED_TRIGGERS = ("=", "+", "-", "@")


def neutralize_formula(value: str) -> str:
    """A text cell that no spreadsheet runs as a formula (OWASP "CSV Injection"); harmless text unchanged.

    * Leading whitespace (tab, CR, LF, spaces) is removed: spreadsheets skip it and run what follows
      (``"\t=1+1"``), and every reader we mirror trims cells anyway (ours, Shopify's, WooCommerce's
      ``wc_clean``), so dropping it loses nothing that survived an import before.
    * Then a cell starting with ``= + - @`` gets a leading apostrophe (``"=HYPERLINK(…)"`` →
      ``"'=HYPERLINK(…)"``), as WooCommerce's exporter writes it; a cell already starting with an
      apostrophe before one of those gets one more, so a reader's single strip gives it back unchanged.

    Only for free text: cells written from numbers (prices, stock, grams, positions) must not be
    passed here; a number cannot form a formula and ``-3`` must stay a number (WooCommerce's
    exporter leaves ints and floats alone for the same reason).
    """
    text = value.lstrip()
    if text.startswith(QUOTED_TRIGGERS) or (text[:1] == "'" and text[1:2] in QUOTED_TRIGGERS):
        return "'" + text
    return text


def guarded_row(row: dict[str, str], columns: list[str], numeric: frozenset[str]) -> list[str]:
    """``row``'s cells in ``columns`` order, each free-text cell through ``neutralize_formula``.

    ``numeric``: the columns this writer fills from numbers only (left as they are).
    """
    return [row[c] if c in numeric else neutralize_formula(row[c]) for c in columns]


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


# --- what a format cannot carry, for one catalog -------------------------------

#: Product titles shown per dropped field.
EXAMPLES = 3


@dataclass(frozen=True, slots=True)
class DroppedField:
    """One field a format cannot carry, as it concerns one catalog.

    ``field``: the catalog field (``"short_description"``, ``"kind=grouped"`` …);
    ``label``: what the merchant reads; ``products``: how many of the
    exported products have a value there that the file leaves out;
    ``examples``: up to ``EXAMPLES`` of their titles; ``whole_product``: True
    when the product is not written at all (e.g. grouped products in Shopify).
    """

    field: str
    label: str
    products: int
    examples: tuple[str, ...]
    whole_product: bool = False


@dataclass(frozen=True, slots=True)
class Loss:
    """A rule of a writer: products matching ``condition`` (a ``Q`` on ``Product``) lose ``field``."""

    field: str
    label: str
    condition: Q
    whole_product: bool = False


def measure_losses(organization, losses: list[Loss], products=None) -> list[DroppedField]:
    """The ``losses`` that concern the exported products (``catalog_products``), in rule order.

    One aggregate query counts every rule; one more per rule that matches
    fetches its example titles, so the cost does not grow with the catalog.
    """
    queryset = catalog_products(organization, products)
    counts = queryset.aggregate(**{f"n{i}": Count("pk", filter=loss.condition) for i, loss in enumerate(losses)})
    found = []
    for i, loss in enumerate(losses):
        if counts[f"n{i}"]:
            titles = queryset.filter(loss.condition).values_list("title", flat=True)[:EXAMPLES]
            found.append(DroppedField(loss.field, loss.label, counts[f"n{i}"], tuple(titles), loss.whole_product))
    return found


def has_variant(*conditions, **lookups) -> Exists:
    """True for a product with a variant matching ``conditions``/``lookups`` (or any variant, without them)."""
    return Exists(Variant.objects.filter(*conditions, product=OuterRef("pk"), **lookups))


def has_dimensions() -> Q:
    """A product with a length, width or height of its own or on a variant."""
    own = Q(length_mm__isnull=False) | Q(width_mm__isnull=False) | Q(height_mm__isnull=False)
    on_variant = Exists(
        Variant.objects.filter(product=OuterRef("pk"))
        .filter(Q(length_mm__isnull=False) | Q(width_mm__isnull=False) | Q(height_mm__isnull=False))
    )
    return own | Q(on_variant)


def left_out_text(fmt_label: str, organization, dropped: list[DroppedField], exported: int) -> str:
    """The comment file offered next to the CSV: every line a ``#`` comment, so no importer reads it as data."""
    lines = [
        f"# What the {fmt_label} product CSV of {organization.name} leaves out",
        f"# {exported} product(s) exported. Importing the file again in merge mode keeps these fields in the",
        "# catalog: a blank cell never empties a field there.",
        "#",
    ]
    if not dropped:
        lines.append("# Nothing is lost: this format carries every field of your catalog.")
    for item in dropped:
        lines.append(f"# {item.label}: {item.products} product(s)" + (" (not in the file at all)" if item.whole_product else ""))
        lines.append(f"#   field: {item.field}")
        lines.append("#   e.g. " + "; ".join(item.examples))
    return "\n".join(lines) + "\n"
