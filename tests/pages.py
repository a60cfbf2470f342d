"""Helpers that read a page's form as a browser would: the values it was drawn with, ready to post back."""

from django.urls import reverse


def form_data(form) -> dict[str, str]:
    """A Django form's (or formset's management form's) fields as the page renders them: prefixed name → value."""
    data = {}
    for bound in form:
        value = bound.value()
        data[bound.html_name] = "" if value is None else str(value)
    return data


def product_edit_data(client, product, *, title=None, status=None, description=None, variants=None) -> dict[str, str]:
    """GET the product page and return its edit form's data as drawn (hidden ``opened`` included), with changes.

    ``variants``: variant pk (or SKU) → {"price": …, "compare_at_price": …, "stock": …} to type in.
    """
    response = client.get(reverse("products:detail", args=[product.pk]))
    assert response.status_code == 200, response.status_code
    form, formset = response.context["form"], response.context["formset"]
    data = {**form_data(form), **form_data(formset.management_form)}
    for variant_form in formset.forms:
        data.update(form_data(variant_form))
    for name, value in (("title", title), ("status", status), ("description", description)):
        if value is not None:
            data[form.add_prefix(name)] = value
    for key, changes in (variants or {}).items():
        variant_form = next(f for f in formset.forms if key in (f.instance.pk, f.instance.sku))
        for name, value in changes.items():
            data[variant_form.add_prefix(name)] = "" if value is None else str(value)
    return data
