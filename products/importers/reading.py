"""Reading a catalog file: which format it is, and its products, validated as a whole.

``parse_catalog(format, source, *, warnings=None)`` reads ``source`` (a str,
or a text file object opened with ``encoding="utf-8"`` and ``newline=""``)
as a stream: records are read one at a time by ``csv.reader`` and turned
into compact rows at once, so a 100 MB file is never held as one string or
as a list of records. Then the catalog as a whole is checked
(``checks.check_catalog``) before anything can be planned or written.

Errors (the import would be wrong) → ``ImportValidationError``; a file we
cannot read at all → ``UnsupportedFormat``; suspicious but valid things
(Excel-mangled barcodes, blank SKUs, repeated names…) → appended to
``warnings`` as ``RowError``.
"""

from __future__ import annotations

from products.importers import checks, magento, shopify, woocommerce
from products.importers.common import (
    Errors,
    ImportValidationError,
    ProductData,
    RowError,
    UnsupportedFormat,
)
from products.importers.sheet import Sheet, normalize_header, open_sheet

#: format name -> reader module (``read(sheet, errors, warnings)``, ``matches_header(columns)``,
#: ``missing_columns(sheet)``).
FORMATS = {woocommerce.FORMAT: woocommerce, shopify.FORMAT: shopify, magento.FORMAT: magento}
LABELS = {woocommerce.FORMAT: "WooCommerce", shopify.FORMAT: "Shopify", magento.FORMAT: "Magento 2"}

#: How a file that is no CSV at all starts (after blanks): the kind named in the refusal.
_NOT_CSV = (("<", "an XML or HTML file"), ("{", "a JSON file"), ("[", "a JSON file"))


def detect_format(source) -> str | None:
    """``"woocommerce"``, ``"shopify"``, ``"magento"`` or None, judged by the header row only.

    ``source`` is a str or a text file object; of a file only the header
    record is read, and a seekable file is put back where it was.
    """
    position = None
    if not isinstance(source, str) and hasattr(source, "seekable") and source.seekable():
        position = source.tell()
    try:
        sheet = open_sheet(source, Errors())
    except (UnsupportedFormat, UnicodeDecodeError):
        sheet = None
    finally:
        if position is not None:
            source.seek(position)
    return _format_of(sheet) if sheet is not None else None


def _format_of(sheet: Sheet) -> str | None:
    columns = {normalize_header(name) for name in sheet.header}
    for name, reader in FORMATS.items():
        if reader.matches_header(columns):
            return name
    return None


def parse_catalog(format: str, source, *, warnings: list | None = None) -> list[ProductData]:
    """Validate the whole file in ``format`` ("woocommerce", "shopify" or "magento") and return its products.

    ``source``: a str or a text file object (read once, as a stream).
    ``warnings``: a list that receives ``RowError``s for suspicious but valid
    content (see ``checks``). Raises ``ImportValidationError`` with every
    problem found: bad cells, a file cut short, impossible catalogs, a file
    of another format, an unknown format name (row 0); ``UnsupportedFormat``
    (a subclass) when the file is not one we read at all.
    """
    reader = FORMATS.get(format)
    if reader is None:
        expected = ", ".join(FORMATS)
        raise ImportValidationError([RowError(0, "", f"expected the format {expected}, got {format!r}")])
    errors = Errors()
    sheet = open_sheet(source, errors)
    if sheet is None:
        errors.raise_if_any()
    detected = _format_of(sheet)
    if detected is None:
        found = _not_csv(sheet)
        details = [] if found else reader.missing_columns(sheet)
        raise UnsupportedFormat(details, found=found)
    if detected != format:
        message = (
            f"expected a {LABELS[format]} product CSV, but the header is that of a "
            f"{LABELS[detected]} product CSV"
        )
        raise ImportValidationError([RowError(1, "", message)])
    found_warnings: list[RowError] = []
    products = reader.read(sheet, errors, found_warnings)
    if not errors and not products:
        errors.add(2, "", "expected at least one product row after the header, the file has none")
    if not errors:
        checks.check_catalog(products, errors, found_warnings, format=format)
    errors.raise_if_any()
    if warnings is not None:
        warnings.extend(sorted(found_warnings, key=lambda w: w.row))
    return products


def _not_csv(sheet: Sheet) -> str:
    """What the file looks like when its "header" is plainly not a CSV header ("" if it may be one)."""
    start = ",".join(sheet.header).lstrip()
    for prefix, kind in _NOT_CSV:
        if start.startswith(prefix):
            return kind
    return ""
