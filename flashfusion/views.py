"""A small shared base for list pages (NetBox-style, tens of lines)."""

import hashlib
import random

from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import render
from django.views import View
from django_tables2 import RequestConfig

from flashfusion.access import membership_for
from flashfusion.middleware import last_event_id


#: A table reloads this long after the last live signal of a burst (htmx's ``delay:``), in milliseconds: at
#: least ``LIVE_DELAY_MS[0]``, plus a random share of the rest, drawn per page. Every open page gets the same
#: signal at the same moment; with one fixed delay twenty pages asked at once and the last waited for the
#: other nineteen (bench/bench_jobs_concurrency.py).
LIVE_DELAY_MS = (250, 1250)


#: Stands for the reload delay in a kept fragment (each answer gets its own).
_DELAY_MARK = "8642097531"


def live_delay_ms() -> int:
    """This page's reload delay after a live signal, ms (``LIVE_DELAY_MS``)."""
    return random.randint(*LIVE_DELAY_MS)


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
    #: Seconds an htmx table fragment is kept and served again to members of the same role asking the
    #: same URL while no event of the organization was written since (0: never). Only for lists whose
    #: every change writes an event (``flashfusion.events.publish``); the seconds bound what moves with
    #: the clock alone ("next try in 4 minutes", "queued in the last hour").
    fragment_cache_seconds = 0
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
        if not (request.htmx and self.fragment_cache_seconds):
            return self.render_list(request, membership)
        # Read the organization's last event before the rows: the rows are then at least that new.
        key = "fragment:{}:{}:{}:{}:{}".format(
            type(self).__name__, membership.organization_id, membership.role, last_event_id(membership.organization_id),
            hashlib.sha256(request.get_full_path().encode()).hexdigest())
        cached = cache.get(key)
        if cached is None:
            response = self.render_list(request, membership, live_delay=_DELAY_MARK)
            if response.status_code != 200:
                return response
            cached = response.content
            cache.set(key, cached, self.fragment_cache_seconds)
        # Each answer its own reload delay, or the pages served one fragment would reload together again.
        return HttpResponse(cached.replace(_DELAY_MARK.encode(), str(live_delay_ms()).encode()))

    def render_list(self, request, membership, *, live_delay=None):
        """The full page, or for htmx only the table fragment (``live_delay``: what the table's live reload
        waits, ms; default ``live_delay_ms()``)."""
        filterset = self.filterset_class(request.GET or None, queryset=self.get_queryset(request), request=request)
        compact = bool(request.GET.get("compact"))
        exclude = self.compact_exclude if compact else ()
        table = self.table_class(filterset.qs, exclude=exclude, **self.table_kwargs(request))
        if filterset.is_bound and not filterset.form.is_valid():
            table.empty_text = "A filter above has an error: correct it to see the list."
        elif any(v for k, v in (filterset.form.cleaned_data.items() if filterset.is_bound else [])
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
            "live_delay_ms": live_delay if live_delay is not None else live_delay_ms(),
            "compact": compact,
            **self.extra_context(request),
        }
        if request.htmx:
            return render(request, self.partial_template, context)
        return render(request, self.template_name, context)
