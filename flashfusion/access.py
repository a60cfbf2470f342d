"""Fetch-and-authorize: every view that takes an object id calls this first."""

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from flashfusion.models import Membership


def membership_for(request, role: str | None = None) -> Membership:
    """The request's membership, at least ``role`` when given.

    Raises ``PermissionDenied`` when the user belongs to no organization or
    the role is too low.
    """
    membership = getattr(request, "membership", None)
    if membership is None:
        raise PermissionDenied("Your account does not belong to an organization yet. Ask an admin to invite you.")
    if role:
        membership.require(role)
    return membership


def get_for_org(request, queryset: type[Model] | QuerySet, pk, role: str | None = None):
    """Return the object ``pk`` of the request's organization.

    Another organization's object is a 404 (``Http404``), so ids do not leak;
    a role below ``role`` is a 403 (``PermissionDenied``).
    """
    membership = membership_for(request)
    if isinstance(queryset, type):
        queryset = queryset._default_manager.all()
    try:
        obj = get_object_or_404(queryset, pk=pk, organization=membership.organization)
    except (ValueError, TypeError):
        raise Http404("No such object.") from None
    if role:
        membership.require(role)
    return obj
