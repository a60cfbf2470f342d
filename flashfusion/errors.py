"""Error pages (403, 404; 500 is Django's own view with ``templates/500.html``) and how expected refusals are logged.

A 403 page says why (the ``PermissionDenied`` message every access check
gives, e.g. "This needs the admin role or higher.") and offers a way back: the
page the person came from when it is on this site, else the dashboard.

Logging: Django logs every 403 on ``django.request`` as a warning with the
exception attached, i.e. a full traceback for a refusal the access checks
made on purpose. ``ExpectedRefusalFilter`` keeps that one line, adds the
reason, and drops the traceback; errors (5xx) keep theirs.
"""

import logging

from django.core.exceptions import PermissionDenied
from django.http import HttpResponseForbidden, HttpResponseNotFound
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme


def back_url(request) -> str | None:
    """The page the request came from (``Referer``) when it is on this site and not this page, else ``None``."""
    referer = request.META.get("HTTP_REFERER", "")
    if not referer or not url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    return None if referer == request.build_absolute_uri() else referer


def permission_denied(request, exception=None):
    """``handler403``: the 403 page with the reason and a way back."""
    reason = str(exception or "") or "Your role does not allow this."
    html = render_to_string("403.html", {"reason": reason, "back_url": back_url(request)}, request=request)
    return HttpResponseForbidden(html)


def page_not_found(request, exception=None):
    """``handler404``: the 404 page with a way back (the message of a bare ``Http404`` is not shown: it may be
    Django's own wording about URL patterns)."""
    html = render_to_string("404.html", {"request_path": request.path, "back_url": back_url(request)}, request=request)
    return HttpResponseNotFound(html)


class ExpectedRefusalFilter(logging.Filter):
    """On ``django.request``: a 403 from ``PermissionDenied`` is logged as one line with its reason, no traceback.

    The record stays a warning (so refusals can still be counted); only its
    ``exc_info`` goes. Any other record, a 500's traceback included, passes unchanged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, PermissionDenied):
            record.exc_info = None
            record.exc_text = None
            user = getattr(getattr(record, "request", None), "user", None)
            who = user.get_username() if user is not None and user.is_authenticated else "anonymous"
            record.msg = f"{record.msg} (user %s): %s"
            record.args = (*(record.args or ()), who, str(exc) or "no reason given")
        return True
