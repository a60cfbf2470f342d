"""The bulk change page: choose products (ids or the list's filter), an operation, preview, apply.

The form lives here rather than in ``products/forms.py`` because it only
serves this page and parses into ``products.bulk.Operation``.
"""

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse

from flashfusion.access import membership_for
from flashfusion.choices import Role
from flashfusion.forms import BootstrapFormMixin
from products import bulk
from products.filtersets import ProductFilterSet
from products.models import Product
from stores.choices import LISTING_BADGES, ListingState
from stores.models import Store

#: Querystring keys of the products list that are not filters.
NOT_FILTERS = ("ids", "page", "sort", "per_page", "cursor")


class BulkOperationForm(BootstrapFormMixin, forms.Form):
    """One operation and its parameters; ``clean`` asks only for the fields the operation needs."""

    operation = forms.ChoiceField(label="Operation", choices=bulk.Kind.CHOICES)
    mode = forms.ChoiceField(label="Change by", choices=[("percent", "Percent"), ("amount", "Amount")], initial="percent", required=False)
    direction = forms.ChoiceField(label="Direction", choices=[("down", "Down (cut)"), ("up", "Up (raise)")], initial="down", required=False)
    value = forms.DecimalField(
        label="By how much", required=False, min_value=Decimal("0.01"), max_digits=12, decimal_places=2,
        help_text="A percent (10 = 10 %) or an amount in the catalog's currency.",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0.01", "inputmode": "decimal"}),
    )
    rounding = forms.ChoiceField(label="Rounding", choices=bulk.Rounding.CHOICES, initial=bulk.Rounding.NONE, required=False)
    compare_at = forms.ChoiceField(
        label="Compare-at price",
        choices=[("keep", "Keep as it is"), ("sale", "Set to the old price (show as sale)")],
        initial="keep", required=False,
    )
    stock = forms.IntegerField(label="Stock of every variant", required=False, min_value=0, max_value=10_000_000)
    stores = forms.ModelMultipleChoiceField(
        label="Stores", queryset=Store.objects.none(), required=False, widget=forms.CheckboxSelectMultiple,
    )
    ids = forms.CharField(required=False, widget=forms.HiddenInput)
    filter = forms.CharField(required=False, widget=forms.HiddenInput)
    fingerprint = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.fields["stores"].queryset = Store.objects.filter(organization=organization).order_by("name")
        self.fields["value"].label = f"By how much (% or {organization.currency})"

    def clean_ids(self):
        raw = self.cleaned_data.get("ids", "").strip()
        if not raw:
            return []
        try:
            ids = sorted({int(part) for part in raw.split(",") if part.strip()})
        except ValueError:
            raise forms.ValidationError("The selection is not a list of product ids.") from None
        return ids

    def clean(self):
        data = super().clean()
        kind = data.get("operation")
        if kind == bulk.Kind.PRICE:
            value = data.get("value")
            if value is None:
                self.add_error("value", "Enter by how much the prices change.")
            elif data.get("mode") == "percent" and data.get("direction") == "down" and value >= 100:
                self.add_error("value", "A cut of 100 % or more leaves no price; prices must stay above 0.")
            if data.get("compare_at") == "sale" and data.get("direction") == "up":
                self.add_error("compare_at", "“Show as sale” fits a price cut only; keep the compare-at price for a raise.")
        elif kind == bulk.Kind.STOCK and data.get("stock") is None:
            self.add_error("stock", "Enter the stock every variant gets (0 or more).")
        elif kind in (bulk.Kind.PUBLISH, bulk.Kind.UNPUBLISH):
            stores = data.get("stores") or []
            if not stores:
                self.add_error("stores", "Choose at least one store.")
            disabled = [s.name for s in stores if not s.is_enabled]
            if disabled:
                self.add_error("stores", f"{', '.join(disabled)}: disabled, so no job can be queued. An admin can re-enable it.")
        return data

    def operation_value(self) -> bulk.Operation:
        data = self.cleaned_data
        kind = data["operation"]
        if kind == bulk.Kind.PRICE:
            return bulk.Operation(
                kind, mode=data.get("mode") or "percent", direction=data.get("direction") or "down",
                value=data["value"], rounding=data.get("rounding") or bulk.Rounding.NONE,
                compare_at=data.get("compare_at") or "keep",
            )
        if kind == bulk.Kind.STOCK:
            return bulk.Operation(kind, stock=data["stock"])
        if kind in (bulk.Kind.PUBLISH, bulk.Kind.UNPUBLISH):
            return bulk.Operation(kind, store_ids=tuple(sorted(s.pk for s in data["stores"])))
        return bulk.Operation(kind)


def filter_query(query: QueryDict) -> str:
    """The products list's filter querystring without selection, paging and sorting keys."""
    query = query.copy()
    for key in NOT_FILTERS:
        query.pop(key, None)
    return query.urlencode()


def selection(request, organization, ids: list[int], filter_string: str):
    """``(queryset, words)``: the chosen ids, else the filter evaluated with ``ProductFilterSet`` for the organization.

    Ids of another organization's products (or deleted ones) are simply not found.
    """
    live = Product.objects.live().filter(organization=organization)
    if ids:
        qs = live.filter(pk__in=ids)
        return qs, f"{len(ids)} selected product{'s' if len(ids) != 1 else ''}"
    filterset = ProductFilterSet(QueryDict(filter_string) or None, queryset=live, request=request)
    if filter_string and filterset.is_bound and not filterset.is_valid():
        # Never widen a refused filter to the whole catalog: select nothing and say why.
        problems = "; ".join(f"{filterset.form.fields[k].label if k in filterset.form.fields else k}: {' '.join(v)}"
                             for k, v in filterset.form.errors.items())
        return live.none(), f"No product: the filter has an error ({problems})"
    if filter_string and filterset.is_bound and filterset.is_valid():
        shown = [f"{filterset.form.fields[k].label or k}: {v}" for k, v in filterset.form.cleaned_data.items()
                 if v not in (None, "", [])]
        return filterset.qs, "Every product matching " + ("; ".join(shown) if shown else "the filter")
    return live, "Every product in the catalog (no filter)"


def bulk_change(request):
    """GET: the form for the selection in the querystring. POST ``preview``: the form plus the preview.
    POST ``apply``: run it or hold it for review, then redirect. Operators and above."""
    membership = membership_for(request, Role.OPERATOR)
    organization = membership.organization
    if request.method == "POST":
        form = BulkOperationForm(request.POST, organization=organization)
    else:
        ids = request.GET.get("ids", "")
        form = BulkOperationForm(
            initial={"ids": ids, "filter": filter_query(request.GET), "operation": request.GET.get("operation", bulk.Kind.PRICE)},
            organization=organization,
        )
    preview = None
    problems: list[str] = []
    valid = request.method == "POST" and form.is_valid()
    if valid:
        ids, filter_string = form.cleaned_data["ids"], form.cleaned_data["filter"]
    else:
        ids = _ids(form["ids"].value())
        filter_string = form["filter"].value() or ""
    products, selection_text = selection(request, organization, ids, filter_string)
    if valid:
        operation = form.operation_value()
        if request.POST.get("action") == "apply":
            try:
                outcome = bulk.apply(organization, products, operation, request.user,
                                     fingerprint=form.cleaned_data["fingerprint"])
            except bulk.BulkError as exc:
                problems = exc.messages
            else:
                return _after_apply(request, organization, outcome)
        try:
            preview = bulk.preview(organization, products, operation)
        except bulk.BulkError as exc:
            problems = problems or exc.messages
        else:
            data = form.data.copy()
            data["fingerprint"] = preview.fingerprint
            form.data = data
    context = {
        "form": form, "preview": preview, "problems": problems, "selection_text": selection_text,
        "back": reverse("products:list") + (f"?{filter_string}" if filter_string and not ids else ""),
        "membership": membership, "currency": organization.currency,
        "not_publishable": ListingState.NOT_PUBLISHABLE.label,
        "not_publishable_badge": LISTING_BADGES[ListingState.NOT_PUBLISHABLE],
    }
    template = "products/bulk_panel.html" if request.htmx else "products/bulk.html"
    return render(request, template, context)


def _ids(raw) -> list[int]:
    try:
        return sorted({int(p) for p in str(raw or "").split(",") if p.strip()})
    except ValueError:
        return []


def _after_apply(request, organization, outcome):
    from django_htmx.http import HttpResponseClientRedirect

    if isinstance(outcome, bulk.BulkResult):
        messages.success(request, outcome.message(organization.currency))
        target = reverse("agents:job_list") if outcome.jobs else reverse("products:list")
    else:
        messages.warning(request, f"This bulk change waits for review: {outcome.reason}.")
        target = outcome.get_absolute_url()
    if request.htmx:
        return HttpResponseClientRedirect(target)
    return redirect(target)
