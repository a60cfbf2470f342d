"""Shared fixtures: an organization with a user of each role, and an outsider."""

import pytest

from flashfusion.choices import Role
from tests.factories import MembershipFactory, OrganizationFactory

PASSWORD = "correct horse battery"


@pytest.fixture
def org(db):
    return OrganizationFactory(name="Acme Outfitters", slug="acme")


def _member(org, role):
    return MembershipFactory(organization=org, role=role, user__username=f"{role}-{org.slug}").user


@pytest.fixture
def viewer(org):
    return _member(org, Role.VIEWER)


@pytest.fixture
def operator(org):
    return _member(org, Role.OPERATOR)


@pytest.fixture
def manager(org):
    return _member(org, Role.MANAGER)


@pytest.fixture
def admin_user(org):
    return _member(org, Role.ADMIN)


@pytest.fixture
def other_org(db):
    return OrganizationFactory(name="Rival Goods", slug="rival")


@pytest.fixture
def outsider(other_org):
    """An admin of another organization: sees nothing of ``org``."""
    return _member(other_org, Role.ADMIN)


@pytest.fixture(autouse=True)
def _import_files_in_tmp(settings, tmp_path_factory):
    """Uploaded catalog files go to a per-test directory, never to the project's var/imports."""
    settings.CATALOG_IMPORT_ROOT = tmp_path_factory.mktemp("imports")


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache (lists keep htmx fragments for a few seconds: flashfusion.views)."""
    from django.core.cache import cache

    cache.clear()
    yield
