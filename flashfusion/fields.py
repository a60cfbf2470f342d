"""Model fields: text encrypted at rest."""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    """Fernet keys from FIELD_ENCRYPTION_KEY (newest first), else one derived from SECRET_KEY."""
    keys = list(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        keys = [base64.urlsafe_b64encode(hashlib.sha256(settings.SECRET_KEY.encode()).digest()).decode()]
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEY holds an invalid Fernet key: {exc}") from None


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token (AES-128-CBC + HMAC-SHA256), read back as plain text.

    Rotating keys: put the new key first in FIELD_ENCRYPTION_KEY; old tokens
    still decrypt with the later keys. Lookups on the value are not possible.
    """

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        try:
            return _fernet().decrypt(value.encode()).decode()
        except InvalidToken:
            raise ImproperlyConfigured(
                f"{self.model.__name__}.{self.name} cannot be decrypted: FIELD_ENCRYPTION_KEY or SECRET_KEY changed."
            ) from None

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return _fernet().encrypt(value.encode()).decode()
