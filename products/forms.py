from decimal import Decimal

from django import forms
from django.core import signing

from flashfusion.forms import BootstrapFormMixin
from products.models import CatalogImport, Product, Variant

#: Largest upload accepted, in bytes (10 MiB: about 50,000 CSV rows).
MAX_IMPORT_BYTES = 10 * 1024 * 1024


class CatalogImportForm(BootstrapFormMixin, forms.Form):
    """Upload a WooCommerce or Shopify product CSV."""

    file = forms.FileField(
        label="Catalog file (CSV)",
        help_text="A WooCommerce or Shopify product export, up to 10 MiB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    format = forms.ChoiceField(
        label="Format",
        choices=[("", "Detect from the header")] + CatalogImport.Format.choices,
        required=False,
    )

    def clean(self):
        from products.importers import detect_format

        cleaned = super().clean()
        upload = cleaned.get("file")
        if not upload:
            return cleaned
        if upload.size > MAX_IMPORT_BYTES:
            self.add_error("file", "The file is larger than 10 MiB; split it into smaller files.")
            return cleaned
        raw = upload.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            self.add_error("file", "The file is not UTF-8 text; export it again as CSV UTF-8.")
            return cleaned
        fmt = cleaned.get("format") or detect_format(text)
        if not fmt:
            self.add_error("format", "The header matches neither a WooCommerce nor a Shopify product CSV; choose the format.")
            return cleaned
        cleaned["text"], cleaned["format"] = text, fmt
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
