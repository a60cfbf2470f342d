"""One request and one answer as the API layer sees them, and how bodies are read and written."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from .constants import API_ROOT
from .errors import RestError
from .php import _wp_parse_list


@dataclass
class _Context:
    """What a render needs besides the post: the request context and the route's product id."""

    context: str = "view"
    route_product_id: int = 0


@dataclass
class _Request:
    """One HTTP request as the API layer sees it."""

    method: str  # after X-HTTP-Method-Override / _method, as WordPress dispatches it
    http_method: str  # as sent; OAuth signs this one
    raw_path: str  # path of the request target, still percent-encoded
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes
    https: bool = False
    authenticated: bool = False


@dataclass
class _Response:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def _json_bytes(body: Any) -> bytes:
    """``wp_json_encode``: ASCII with \\u escapes and escaped slashes, as WordPress sends it (seen)."""
    return json.dumps(body, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode("ascii")

def _filter_fields(data: Any, fields: str) -> Any:
    """``rest_filter_response_fields``: keep the ``_fields`` keys, dotted for nested ones (WordPress; source).

    Like WordPress, a dotted field reaches into objects only: ``images.src``
    leaves ``images`` empty, because a list's keys are its indexes.
    """
    tree: dict = {}
    for name in (f.strip() for f in _wp_parse_list(fields)):
        node, parts = tree, name.split(".")
        for part in parts[:-1]:
            if node.get(part) is True:
                break
            node = node.setdefault(part, {})
        else:
            node[parts[-1]] = True

    def keep(value: Any, spec: dict) -> Any:
        if isinstance(value, list):
            return [keep(v, spec[str(i)]) if isinstance(spec.get(str(i)), dict) else v
                    for i, v in enumerate(value) if str(i) in spec]
        if not isinstance(value, dict):
            return value
        return {k: (keep(v, spec[k]) if isinstance(spec[k], dict) and isinstance(v, (dict, list)) else v)
                for k, v in value.items() if k in spec}

    if isinstance(data, list):
        return [keep(item, tree) for item in data]
    return keep(data, tree)


def _is_api_path(path: str) -> bool:
    lowered = path.lower()
    return lowered == API_ROOT or lowered.startswith(API_ROOT + "/")


def _content_type(request: _Request) -> str:
    return (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()


def _json_params(body: bytes) -> dict:
    """``parse_json_params``: an empty body is fine; bad JSON is 400 ``rest_invalid_json`` (source)."""
    if not body.strip():
        return {}

    def refuse_constant(name: str):
        raise ValueError(name)  # NaN/Infinity are not JSON for PHP

    try:
        value = json.loads(body.decode("utf-8"), parse_constant=refuse_constant)
    except UnicodeDecodeError:
        raise RestError("rest_invalid_json", "Invalid JSON body passed.", 400, json_error_code=5,
                        json_error_message="Malformed UTF-8 characters, possibly incorrectly encoded") from None
    except ValueError:
        raise RestError("rest_invalid_json", "Invalid JSON body passed.", 400, json_error_code=4,
                        json_error_message="Syntax error") from None
    return value if isinstance(value, dict) else {}
