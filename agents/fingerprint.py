"""Error fingerprints: dead letters with the same kind, error class and message shape form one group."""

import hashlib
import re

# Order matters: URLs and quoted values before bare numbers.
_SHAPES = [
    (re.compile(r"https?://\S+"), "<url>"),
    (re.compile(r"'[^']*'"), "'…'"),
    (re.compile(r'"[^"]*"'), '"…"'),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<uuid>"),
    (re.compile(r"gid://\S+"), "<gid>"),
    (re.compile(r"#\d+"), "#N"),
    # Keep 3-digit HTTP statuses (422, 500): they tell groups apart; other numbers vary per item.
    (re.compile(r"\b(?![1-5]\d\d\b)\d+(?:[.,]\d+)*\b"), "N"),
    (re.compile(r"\s+"), " "),
]


def message_shape(message: str) -> str:
    """``message`` with the parts that differ per item (ids, numbers, quoted values, URLs) replaced.

    "Rejected: product 1234 'blue-shirt' price must be positive" →
    "Rejected: product N '…' price must be positive". Cut to 300 characters.
    """
    shape = message.strip()
    for pattern, replacement in _SHAPES:
        shape = pattern.sub(replacement, shape)
    return shape[:300]


def fingerprint(kind: str, error_class: str, message: str) -> str:
    """16 hex characters naming the group of ``(kind, error_class, message_shape(message))``."""
    raw = f"{kind}\x1f{error_class}\x1f{message_shape(message)}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]
