"""A small shared base for list pages (NetBox-style, tens of lines)."""

from django.shortcuts import render
from django.views import View
from django_tables2 import RequestConfig

from flashfusion.access import membership_for


class ObjectListView(View):
    """Declare ``filterset_class``, ``table_class`` and ``template_name``; override ``get_queryset``.

    The full page ``include``s ``partial_template`` (the table), and htmx
    requests get only that partial, so sorting and filtering swap the table
    in place and push the URL.
    """

    filterset_class = None
    table_class = None
    template_name = ""
    partial_template = "partials/object_table.html"
    per_page = 50
    #: ``None``: Django's paginator (counts the rows to show "page 3 of 40").
    #: ``django_tables2.paginators.LazyPaginator`` for big tables: no COUNT,
    #: it reads one row past the page to know whether a next page exists.
    paginator_class = None
    required_role = None
    #: DOM event (sent over the live websocket) that reloads the table in place.
    live_signal = ""
    #: Columns left out when the list is embedded as a dashboard tile (``?compact=1``).
    compact_exclude: tuple[str, ...] = ()
    #: Filters that say which list this is (a store's own listings) rather than narrow it: set alone, the
    #: table keeps its own empty text instead of "Nothing matches these filters".
    scope_filters: tuple[str, ...] = ()

    def get_queryset(self, request):
        raise NotImplementedError

    def extra_context(self, request) -> dict:
        return {}

    def table_kwargs(self, request) -> dict:
        """Extra keyword arguments for ``table_class`` (e.g. what every row shows alike, read once)."""
        return {}

    def get(self, request):
        membership = membership_for(request, self.required_role)
        filterset = self.filterset_class(request.GET or None, queryset=self.get_queryset(request), request=request)
        compact = bool(request.GET.get("compact"))
        exclude = self.compact_exclude if compact else ()
        table = self.table_class(filterset.qs, exclude=exclude, **self.table_kwargs(request))
        if any(v for k, v in (filterset.form.cleaned_data.items() if filterset.is_bound and filterset.form.is_valid() else [])
               if k not in self.scope_filters):
            table.empty_text = "Nothing matches these filters. Clear them to see everything."
        paginate = {"per_page": self.per_page}
        if self.paginator_class is not None:
            paginate["paginator_class"] = self.paginator_class
        RequestConfig(request, paginate=paginate).configure(table)
        context = {
            "table": table,
            "filterset": filterset,
            "membership": membership,
            "live_signal": self.live_signal,
            "compact": compact,
            **self.extra_context(request),
        }
        if request.htmx:
            return render(request, self.partial_template, context)
        return render(request, self.template_name, context)
