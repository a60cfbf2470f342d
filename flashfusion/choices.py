"""Choices shared by every app: roles and their ranks."""

from django.db import models


class Role(models.TextChoices):
    """Membership roles, lowest to highest (DESIGN.md, Terms)."""

    VIEWER = "viewer", "Viewer"
    OPERATOR = "operator", "Operator"
    MANAGER = "manager", "Manager"
    ADMIN = "admin", "Admin"

    @classmethod
    def rank(cls, role: str) -> int:
        return [c.value for c in cls].index(role)
