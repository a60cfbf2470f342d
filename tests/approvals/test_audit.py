"""The audit trail is written once and never edited."""

import pytest
from django.contrib import admin
from django.db.models.deletion import RestrictedError
from django.test import RequestFactory

from approvals.models import ApprovalRequest, AuditEntry
from approvals.services import decide, request_delete
from tests.approvals.conftest import member


@pytest.fixture
def trail(jacket, operator, manager):
    approval = request_delete(jacket, user=operator, ip_address="198.51.100.4")
    decide(approval, membership=member(manager), verdict="approve", comment="ok", ip_address="198.51.100.9")
    return approval


def test_every_step_is_recorded_with_who_and_where(trail):
    rows = list(AuditEntry.objects.filter(request=trail).order_by("id").values_list("action", "actor_name", "ip_address"))
    assert rows == [
        ("requested", "operator-acme", "198.51.100.4"),
        ("approved", "manager-acme", "198.51.100.9"),
        ("applied", "manager-acme", "198.51.100.9"),
    ]


def test_entries_cannot_be_edited_or_deleted(trail):
    entry = AuditEntry.objects.filter(request=trail).first()
    entry.message = "nothing happened"
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        AuditEntry.objects.filter(pk=entry.pk).update(message="rewritten")
    with pytest.raises(TypeError):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(RestrictedError):
        ApprovalRequest.objects.filter(pk=trail.pk).delete()
    assert AuditEntry.objects.get(pk=entry.pk).message != "nothing happened"


def test_deleting_the_organization_takes_its_trail_along(trail, org):
    org.delete()
    assert not AuditEntry.objects.exists()


def test_admin_is_read_only(trail, admin_user):
    model_admin = admin.site._registry[AuditEntry]
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, AuditEntry.objects.first())
    assert not model_admin.has_delete_permission(request, AuditEntry.objects.first())
