"""Catalog exports: the live catalog as a Shopify or WooCommerce product CSV.

The mirror of ``products.importers``: the files are the platforms' own
product CSV formats (``shared/PLATFORMS.md``; Shopify help, "Using CSV files
to import and export products"; WooCommerce docs, "Product CSV Importer and
Exporter"), written cell by cell the way our importers read them, so that

    apply_catalog(org, parse_catalog(fmt, export_catalog(org, fmt)))

changes nothing (``created`` 0, ``updated`` 0) and importing an export
into another organization gives products with equal snapshots
(``Product.snapshot()``), as far as the format can carry them. What each
format loses is listed in ``shopify.py`` and ``woocommerce.py``, and, as
data for one catalog, by ``dropped_fields`` (the export page and its
``left-out.txt`` show it; a merge import of the file keeps those fields).
Deleted products are never exported.
Money is written exactly (2 decimals) in the organization's currency; the
files name no currency.

``iter_catalog`` yields the file in pieces (header, then one product's
rows per piece) while reading products from the database in chunks, so a
100,000-product catalog streams without being held in memory;
``export_catalog`` joins the pieces into one string.
"""

from __future__ import annotations

from collections.abc import Iterator

from products.exporters import shopify, woocommerce

#: format name -> writer module (``iter_csv(organization, products=None)``).
FORMATS = {shopify.FORMAT: shopify, woocommerce.FORMAT: woocommerce}
LABELS = {shopify.FORMAT: "Shopify", woocommerce.FORMAT: "WooCommerce"}

__all__ = ["FORMATS", "LABELS", "dropped_fields", "export_catalog", "iter_catalog"]


def dropped_fields(organization, fmt: str, products=None):
    """What the ``fmt`` export of ``organization``'s live catalog (or ``products``) leaves out.

    A list of ``common.DroppedField`` (field, label, products count, example
    titles, whole_product), [] when the format carries everything. Raises
    ``ValueError`` for an unknown format.
    """
    writer = FORMATS.get(fmt)
    if writer is None:
        raise ValueError(f"expected the format {' or '.join(FORMATS)}, got {fmt!r}")
    return writer.dropped_fields(organization, products)


def iter_catalog(organization, fmt: str, products=None) -> Iterator[str]:
    """The export of ``organization``'s live catalog in ``fmt`` ("shopify" or "woocommerce"), in pieces.

    ``products``: optional queryset of the organization's products to
    export (e.g. the products list's filterset queryset); deleted products
    and other organizations' are left out whatever it holds. Raises
    ``ValueError`` for an unknown format.
    """
    writer = FORMATS.get(fmt)
    if writer is None:
        raise ValueError(f"expected the format {' or '.join(FORMATS)}, got {fmt!r}")
    return writer.iter_csv(organization, products)


def export_catalog(organization, fmt: str, products=None) -> str:
    """The whole export as one string (BOM included for WooCommerce). See ``iter_catalog``."""
    return "".join(iter_catalog(organization, fmt, products))
