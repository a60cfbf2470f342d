"""Tables whose body is drawn in Python, for lists that show many rows.

django-tables2 draws each cell through its template loop and inspects the
``render_<column>`` method's signature for every cell: about 1 ms a row for a
nine-column table (bench/bench_products_page.py), most of a page's time.
``PythonRowsTable`` draws the same cells itself and does the per-column work
(signature, choices, ``td`` attributes) once per page. Headers, sorting and
paging stay django-tables2's.
"""

import inspect

import django_tables2 as tables
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.utils.formats import localize
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.timezone import template_localtime
from django_tables2.utils import AttributeDict

#: What a ``render_<column>`` method may ask for, as in django-tables2.
CELL_ARGUMENTS = ("value", "record", "column", "bound_column", "bound_row", "table")
#: What a callable ``td`` attribute may ask for (``BoundColumn.attrs``).
TD_ARGUMENTS = ("table", "bound_column", "record", "value")


class PythonRowsTable(tables.Table):
    """A django-tables2 table drawn with ``body_html``. Cells match ``BoundRow.get_cell``: the
    ``render_<column>`` method (any of ``CELL_ARGUMENTS``), a choice field's label, the column's default
    for an empty value, escaped and localized as the template would. Columns of other classes (links,
    templates, dates) or with ``linkify`` are drawn by ``get_cell`` (correct, slower); ``localize=`` is
    not supported."""

    body_template = "django_tables2/python_rows.html"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("template_name", self.body_template)
        super().__init__(*args, **kwargs)

    def body_html(self):
        """The ``<tr>`` rows of the current page (or the empty text's row)."""
        painters = [_Painter(self, column) for column in self.columns]
        row_attrs = _RowAttrs(self)
        rows = [
            format_html("<tr {}>{}</tr>", row_attrs.html(row),
                        format_html_join("", "<td {}>{}</td>", (p.cell(row) for p in painters)))
            for row in self.paginated_rows
        ]
        if not rows and self.empty_text:
            rows = [format_html('<tr><td colspan="{}">{}</td></tr>', len(painters), self.empty_text)]
        return mark_safe("".join(rows))


class _RowAttrs:
    """``BoundRow.attrs`` (``Meta.row_attrs`` and the even/odd class) with each callable's arguments found once."""

    def __init__(self, table):
        self.table = table
        self.items = [(name, value, _wanted(value, ("table", "record")) if callable(value) else None)
                      for name, value in table.row_attrs.items()]

    def html(self, row):
        given = {"table": self.table, "record": row.record}
        attrs = AttributeDict({
            name: value(**{a: given[a] for a in wants}) if wants is not None else value
            for name, value, wants in self.items
        })
        parity = row.get_even_odd_css_class()
        attrs["class"] = f"{attrs['class']} {parity}" if attrs.get("class") else parity
        return attrs.as_html()


class _Painter:
    """Draws one column's cells; everything that does not depend on the row is worked out here, once."""

    def __init__(self, table, bound_column):
        column = bound_column.column
        self.bound_column = bound_column
        self.name = bound_column.name
        self.default = bound_column.default
        self.empty_values = column.empty_values
        if column.localize is not None:
            raise ImproperlyConfigured(
                f"{type(table).__name__}.{bound_column.name}: PythonRowsTable draws no localize= column"
            )
        self.slow = type(column) is not tables.Column or bound_column.link is not None
        attrs = {**table.attrs, **column.attrs}  # as BoundColumn.attrs merges them
        td = attrs.get("td", attrs.get("cell", {}))
        self.td_per_row = any(callable(v) for v in td.values())
        self.td = None if self.td_per_row else bound_column.attrs["td"].as_html()
        # Per-row attributes (a title from the record): the fixed ones and the class worked out once, only the
        # callables called per row, with what ``BoundColumn.attrs`` gives them. A computed class: its own way.
        self.td_items = None
        if self.td_per_row and not callable(td.get("class")):
            self.td_items = [(name, value, _wanted(value, TD_ARGUMENTS) if callable(value) else None)
                             for name, value in td.items()]
            self.td_class = bound_column.get_td_class(td)
        accessor = str(bound_column.accessor)
        # "product__title" is an identifier too, but a path through a relation: only plain names are attributes.
        self.attribute = accessor if accessor.isidentifier() and "__" not in accessor else None
        self.accessor = bound_column.accessor
        self.labels = _choice_labels(table, self.attribute)
        method = getattr(table, f"render_{self.name}", None)
        self.render = method
        self.wants = _wanted(method, CELL_ARGUMENTS) if method else []

    def cell(self, row) -> tuple:
        record = row.record
        if self.slow:
            html = row.get_cell(self.name)
        else:
            if self.attribute is not None:
                value = getattr(record, self.attribute, None)
            else:
                value = self.accessor.resolve(record, quiet=True)
            if self.labels is not None:
                value = self.labels.get(value, value)
            if value in self.empty_values:
                html = self.default
            elif self.render is None:
                html = value
            else:
                given = {"value": value, "record": record, "column": self.bound_column.column,
                         "bound_column": self.bound_column, "bound_row": row, "table": self.bound_column._table}
                html = self.render(**{a: given[a] for a in self.wants})
        return self._td(row, record, html), _as_template_would(html)

    def _td(self, row, record, html):
        if not self.td_per_row:
            return self.td
        if self.td_items is not None and html is not None:
            given = {"table": self.bound_column._table, "bound_column": self.bound_column, "record": record,
                     "value": html}
            attrs = AttributeDict({name: value(**{a: given[a] for a in wants}) if wants is not None else value
                                   for name, value, wants in self.td_items})
            attrs["class"] = self.td_class
            return attrs.as_html()
        self.bound_column.current_record, self.bound_column.current_value = record, html
        return self.bound_column.attrs["td"].as_html()


def _wanted(function, offered) -> list:
    """The arguments of ``offered`` that ``function`` takes (all of them when it takes ``**kwargs``)."""
    parameters = inspect.signature(function).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return list(offered)
    return [p.name for p in parameters if p.name in offered]


def _choice_labels(table, attribute):
    """A choice field's value → label (django-tables2 shows ``get_FOO_display()``), else None."""
    model = getattr(table._meta, "model", None)
    if model is None or attribute is None:
        return None
    try:
        field = model._meta.get_field(attribute)
    except FieldDoesNotExist:
        return None
    return dict(field.flatchoices) if getattr(field, "choices", None) else None


def _as_template_would(value):
    """``{{ cell }}``: local time, localized, escaped unless already safe."""
    # The common cells first: text is only escaped, and a whole number is its digits unless thousands are
    # grouped (``localize`` looks the number format up again for every cell, a third of a page's drawing).
    if isinstance(value, str):
        return conditional_escape(value)
    if type(value) is int and not settings.USE_THOUSAND_SEPARATOR:
        return str(value)
    value = localize(template_localtime(value))
    return conditional_escape(value if isinstance(value, str) else str(value))
