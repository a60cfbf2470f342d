"""Shared FilterSet base: Bootstrap classes on every widget, organization-scoped choices."""

import django_filters
from django import forms


class BootstrapFilterSet(django_filters.FilterSet):
    """Adds Bootstrap's form classes to each widget so every list's filters look alike.

    Subclasses get ``self.request`` (may be None) to scope choices to the
    request's organization.
    """

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        for field in self.form.fields.values():
            widget = field.widget
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs.setdefault("class", css)
