"""The REST API's error: a WordPress ``WP_Error`` as it goes out."""

from __future__ import annotations

from typing import Any


class RestError(Exception):
    """A WordPress ``WP_Error`` as the REST API sends it: ``{"code", "message", "data": {"status", ...}}``.

    ``extra`` goes into ``data`` next to ``status`` (e.g. ``resource_id``).
    """

    def __init__(self, code: str, message: str, status: int, **extra: Any):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra

    def data(self) -> dict:
        return {"status": self.status, **self.extra}

    def body(self) -> dict:
        return {"code": self.code, "message": self.message, "data": self.data()}


def _invalid_params(problems: list[tuple[str, str, str, Any]]) -> RestError:
    """400 ``rest_invalid_param`` for ``(param, code, message, data)`` problems (WordPress 6.1 has_valid_params)."""
    return RestError(
        "rest_invalid_param",
        "Invalid parameter(s): " + ", ".join(p[0] for p in problems),
        400,
        params={p[0]: p[2] for p in problems},
        details={p[0]: {"code": p[1], "message": p[2], "data": p[3]} for p in problems},
    )
