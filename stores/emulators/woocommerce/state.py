"""The shop's stored data and its persistence (a JSON file replaced atomically on every change)."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from .constants import FIRST_META_ID, FIRST_POST_ID, STATE_VERSION, UNCATEGORIZED
from .php import _intval


class _State:
    """The shop's data: in memory, guarded by ``lock``, persisted to ``path`` when given.

    Shape (JSON)::

        {"version": 1, "next_id": int, "next_meta_id": int, "next_term_id": int,
         "posts": {"<id>": {"id", "post_type": "product"|"product_variation"|"attachment", ...}},
         "terms": {"product_cat": {"<id>": {"id", "name", "slug"}}, "product_tag": {...}},
         "nonces": {"<consumer key>": {"<timestamp>": "<nonce>"}}}

    Post ids share one increasing sequence, like WordPress post ids. Each
    change is written to a temporary file, fsynced and renamed over ``path``.
    """

    def __init__(self, path: str | os.PathLike | None):
        self.lock = threading.RLock()
        self.path = Path(path) if path else None
        self.data = self._load() if self.path and self.path.exists() else self._fresh()

    @staticmethod
    def _fresh() -> dict:
        return {
            "version": STATE_VERSION, "next_id": FIRST_POST_ID, "next_meta_id": FIRST_META_ID, "next_term_id": 16,
            "posts": {}, "terms": {"product_cat": {str(UNCATEGORIZED["id"]): dict(UNCATEGORIZED)}, "product_tag": {}},
            "nonces": {},
        }

    def _load(self) -> dict:
        with open(self.path, encoding="utf-8") as handle:
            data = json.load(handle)
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise ValueError(f"{self.path}: not a WooCommerce emulator state file (version {STATE_VERSION})")
        return data

    def save(self) -> None:
        if not self.path:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.data, handle, ensure_ascii=False, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def new_id(self) -> int:
        value = self.data["next_id"]
        self.data["next_id"] = value + 1
        return value

    def new_meta_id(self) -> int:
        value = self.data["next_meta_id"]
        self.data["next_meta_id"] = value + 1
        return value

    def get(self, post_id: Any, post_type: str | tuple | None = None) -> dict | None:
        """The post with id ``(int) post_id`` when it is of ``post_type`` (a name or a tuple of names)."""
        post = self.data["posts"].get(str(_intval(post_id)))
        if post is None:
            return None
        types = (post_type,) if isinstance(post_type, str) else post_type
        return post if types is None or post["post_type"] in types else None

    def put(self, post: dict) -> None:
        self.data["posts"][str(post["id"])] = post

    def remove(self, post_id: int) -> None:
        self.data["posts"].pop(str(post_id), None)

    def posts(self, *post_types: str) -> list[dict]:
        return [p for p in self.data["posts"].values() if p["post_type"] in post_types]
