from decimal import Decimal

from django import forms
from django.conf import settings
from django.core import signing

from flashfusion.forms import BootstrapFormMixin
from products.models import CatalogImport, Product, Variant

#: Bytes of the file's start read to check the encoding and detect the format (the header row).
IMPORT_HEAD_BYTES = 64 * 1024

#: What an unreadable file is told (the same words as the importers' ``UnsupportedFormat``).
UNSUPPORTED_FORMAT = "Not a supported format: we read WooCommerce CSV, Shopify CSV, Magento 2 CSV."


def max_import_mib() -> str:
    """``settings.CATALOG_IMPORT_MAX_BYTES`` in MiB for messages ("200", or "0.5" below one MiB)."""
    mib = settings.CATALOG_IMPORT_MAX_BYTES / (1024 * 1024)
    return f"{mib:.0f}" if mib >= 1 else f"{mib:.1f}"


def file_head(upload) -> str:
    """The first line (the header row) of ``upload``, decoded as UTF-8 (a byte-order mark dropped).

    Reads at most ``IMPORT_HEAD_BYTES`` and rewinds the file, so a 200 MiB upload is not read here.
    Raises ``UnicodeDecodeError`` when those bytes are not UTF-8.
    """
    upload.seek(0)
    head = upload.read(IMPORT_HEAD_BYTES)
    upload.seek(0)
    line, newline, _ = head.partition(b"\n")
    if not newline:
        # No line end in the head: a character may be cut at its end; drop an incomplete tail only.
        for cut in range(4):
            try:
                return line[:len(line) - cut].decode("utf-8-sig")
            except UnicodeDecodeError:
                if cut == 3:
                    raise
    return line.decode("utf-8-sig")


class CatalogImportForm(BootstrapFormMixin, forms.Form):
    """Upload a WooCommerce, Shopify or Magento 2 product CSV, with the format (or detection) and the mode.

    ``cleaned_data``: ``file`` (the upload, rewound), ``format`` (a ``CatalogImport.Format`` value: the one
    chosen, else detected from the header row), ``mode`` (a ``CatalogImport.Mode`` value, default merge).
    ``unsupported_format`` is True after a failed validation because the header matched no format (the page
    links to the formats' documentation then). The size limit is ``settings.CATALOG_IMPORT_MAX_BYTES``.
    """

    file = forms.FileField(
        label="Catalog file (CSV)",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    format = forms.ChoiceField(
        label="Format",
        choices=[("", "Detect from the header")] + CatalogImport.Format.choices,
        required=False,
    )
    mode = forms.ChoiceField(
        label="What the file does to existing products",
        choices=[
            (CatalogImport.Mode.MERGE, "Merge (keep what the file leaves blank, never remove variants)"),
            (CatalogImport.Mode.REPLACE, "Replace products as the file has them (removes variants the file "
                                         "does not list, empties blank fields)"),
        ],
        initial=CatalogImport.Mode.MERGE,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.unsupported_format = False
        self.fields["file"].help_text = (
            f"A WooCommerce, Shopify or Magento 2 product export, up to {max_import_mib()} MiB. "
            "Nothing is written until you have seen the preview and applied it."
        )

    def clean(self):
        from products.importers import detect_format

        cleaned = super().clean()
        upload = cleaned.get("file")
        if not upload:
            return cleaned
        if upload.size > settings.CATALOG_IMPORT_MAX_BYTES:
            self.add_error("file", f"The file is larger than {max_import_mib()} MiB (the upload limit); "
                                   "split it into smaller files.")
            return cleaned
        try:
            header = file_head(upload)
        except UnicodeDecodeError:
            self.add_error("file", "The file is not UTF-8 text; export it again as CSV UTF-8.")
            return cleaned
        if not header.strip():
            self.add_error("file", "The file is empty: export the catalog again and upload that file.")
            return cleaned
        fmt = cleaned.get("format") or detect_format(header)
        if not fmt:
            self.unsupported_format = True
            self.add_error("format", f"{UNSUPPORTED_FORMAT} Its header row matches none of them; if the file "
                                     "is one of these, choose its format.")
            return cleaned
        cleaned["format"] = fmt
        return cleaned


#: Salt of the edit form's signed "opened" values: a value signed for another purpose never passes here.
OPENED_SALT = "products.edit.opened"


class ProductEditForm(BootstrapFormMixin, forms.ModelForm):
    """Title, status and description, and ``opened``: the page's values when it was drawn, signed
    (``products.services.edit_values``), which the save checks against the stored product (optimistic locking).

    Give it ``opened`` (the product's ``edit_values``) when drawing the page; ``cleaned_data["opened"]`` is that
    dict again after a valid POST.
    """

    opened = forms.CharField(widget=forms.HiddenInput, error_messages={
        "required": "This page is out of date: reload the product and make your change again."})

    class Meta:
        model = Product
        fields = ["title", "status", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, opened: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if opened is not None:
            self.initial["opened"] = signing.dumps(opened, salt=OPENED_SALT, compress=True)

    def clean_opened(self) -> dict:
        try:
            values = signing.loads(self.cleaned_data["opened"], salt=OPENED_SALT)
        except signing.BadSignature:
            raise forms.ValidationError("This page is out of date or damaged: reload the product and make your "
                                        "change again.") from None
        if not isinstance(values, dict):
            raise forms.ValidationError("This page is damaged: reload the product and make your change again.")
        return values


class VariantPriceForm(BootstrapFormMixin, forms.ModelForm):
    """Price, compare-at price and stock of one variant (money in the organization's currency)."""

    price = forms.DecimalField(label="Price", min_value=Decimal("0.01"), max_digits=12, decimal_places=2)
    compare_at_price = forms.DecimalField(
        label="Compare-at price", min_value=Decimal("0"), max_digits=12, decimal_places=2, required=False
    )
    stock = forms.IntegerField(
        label="Stock", required=False, min_value=0,
        error_messages={"min_value": "Stock cannot be below 0; leave it empty to stop tracking stock."},
    )

    class Meta:
        model = Variant
        fields = ["price", "compare_at_price", "stock"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        name = self.instance.sku or self.instance.title
        for field_name, field in self.fields.items():
            field.widget.attrs["aria-label"] = f"{field.label} of {name}"

    def clean(self):
        cleaned = super().clean()
        price, compare_at = cleaned.get("price"), cleaned.get("compare_at_price")
        if price is not None and compare_at is not None and compare_at <= price:
            self.add_error("compare_at_price", "The compare-at price must be above the price, or left empty.")
        return cleaned


VariantPriceFormSet = forms.modelformset_factory(Variant, form=VariantPriceForm, extra=0)


class CellsField(forms.MultipleChoiceField):
    """Ticked matrix cells, each ``"<store id>:<product id>"``; the view checks they belong to the organization."""

    def valid_value(self, value):
        store, _, product = str(value).partition(":")
        return store.isdigit() and product.isdigit()

    def clean(self, value):
        return [tuple(int(part) for part in cell.split(":")) for cell in super().clean(value)]


class MatrixSelectionForm(forms.Form):
    """What the publishing matrix posts: an action, the ticked cells, and whether the count was confirmed."""

    action = forms.ChoiceField(choices=[("publish", "Publish selected"), ("unpublish", "Unpublish selected")])
    cells = CellsField(error_messages={"required": "Tick at least one cell (a product in a store) first."})
    confirm = forms.BooleanField(required=False)
