"""Where uploaded catalog files are kept: ``settings.CATALOG_IMPORT_ROOT`` (default ``var/imports``)."""

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils import timezone


class ImportFileStorage(FileSystemStorage):
    """A file-system storage rooted at ``settings.CATALOG_IMPORT_ROOT``, read on every use.

    Django's own storage caches its location; reading the setting each time lets a test (or an
    ``override_settings``) send the files elsewhere.
    """

    @property
    def base_location(self):
        return str(settings.CATALOG_IMPORT_ROOT)

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    @property
    def base_url(self):
        return None  # import files are never served over HTTP


_storage = ImportFileStorage()


def import_storage() -> ImportFileStorage:
    """The storage of ``CatalogImport.file`` (a callable, so migrations name it rather than a path)."""
    return _storage


def import_upload_to(instance, filename: str) -> str:
    """``<organization id>/<YYYY-MM-DD>/<file name>``; the storage adds a suffix when the name is taken."""
    return f"{instance.organization_id}/{timezone.now():%Y-%m-%d}/{os.path.basename(filename)}"
