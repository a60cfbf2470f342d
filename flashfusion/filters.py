"""Shared FilterSet base: Bootstrap classes on every widget, organization-scoped choices, strict validation."""

import django_filters
from django import forms


class FilterFormMixin:
    """A filter form that refuses a range whose low end is above its high end, and marks bad fields.

    ``ranges``: ``[(low field, high field, message)]``; the message may name
    ``{low}`` and ``{high}``, and shows next to the low field. After
    validation a bad field's widget gets ``is-invalid`` and ``aria-invalid``
    (its ``aria-describedby`` already names its error box).
    """

    ranges: tuple = ()

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()
                attrs["aria-invalid"] = "true"

    def clean(self):
        data = super().clean()
        for low, high, message in self.ranges:
            start, end = data.get(low), data.get(high)
            if start is not None and end is not None and start > end:
                self.add_error(low, message.format(low=start, high=end))
        return data


class BootstrapFilterSet(django_filters.FilterSet):
    """Adds Bootstrap's form classes to each widget so every list's filters look alike.

    Subclasses get ``self.request`` (may be None) to scope choices to the
    request's organization, and may declare ``ranges`` (see ``FilterFormMixin``).

    Strict, as django-filter's own ``FilterView`` is: a bound filter with an
    error selects nothing (``qs`` is empty) and the form holds the error, which
    ``partials/filter_form.html`` shows next to its field. A lenient filterset
    would drop the bad field and quietly select more than was asked — a list,
    an export or a bulk change of the wrong products.
    """

    ranges: tuple = ()

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        for name, field in self.form.fields.items():
            widget = field.widget
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs.setdefault("class", css)
            widget.attrs.setdefault("aria-describedby", f"filter-error-{name}")

    def get_form_class(self):
        form_class = super().get_form_class()
        return type(form_class.__name__, (FilterFormMixin, form_class), {"ranges": self.ranges})

    @property
    def qs(self):
        if self.is_bound and not self.form.is_valid():
            return self.queryset.none()
        return super().qs
