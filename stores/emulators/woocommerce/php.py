"""PHP and WordPress helpers (casts, sanitizers, query strings, ``wpautop``, prices as HTML) and dates."""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote_plus, unquote_plus

_NUMERIC = re.compile(r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$")
_LEADING_NUMBER = re.compile(r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _is_numeric(value: Any) -> bool:
    """PHP ``is_numeric``."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return not (isinstance(value, float) and (math.isnan(value) or math.isinf(value)))
    return isinstance(value, str) and bool(_NUMERIC.match(value))


def _php_str(value: Any) -> str:
    """PHP string cast."""
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, (list, dict)):
        return "Array"
    return str(value)


_BARE_AMPERSAND = re.compile(r"&(?!(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);)")


def _kses_entities(text: str) -> str:
    """``wp_kses_normalize_entities`` as the shop applies it to product texts: a bare ``&`` becomes ``&amp;``,
    entities already there stay (seen on WooCommerce 7.9.0: ``Salt & vinegar &lt;`` → ``Salt &amp; vinegar
    &lt;``; quotes untouched)."""
    return _BARE_AMPERSAND.sub("&amp;", text)


def _intval(value: Any) -> int:
    """PHP ``intval``: leading number of a string, truncation of a float."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else 0
    if isinstance(value, (list, dict)):
        return 1 if value else 0
    match = _LEADING_NUMBER.match(_php_str(value))
    return int(float(match.group(0))) if match else 0


def _absint(value: Any) -> int:
    return abs(_intval(value))


def _php_empty(value: Any) -> bool:
    """PHP ``empty``: '', '0', 0, 0.0, [], false, null."""
    return value in (None, False, "", "0", 0, 0.0) or value == [] or value == {}


def _php_truthy(value: Any) -> bool:
    return not _php_empty(value)


def _isset(params: dict, key: str) -> bool:
    """PHP ``isset($request[$key])``: present and not null."""
    return params.get(key) is not None


def _wc_string_to_bool(value: Any) -> bool:
    """``wc_string_to_bool`` (source): true, 1, '1', 'yes', 'true'."""
    if isinstance(value, bool):
        return value
    if value == 1 and not isinstance(value, float):
        return True
    return isinstance(value, str) and value.lower() in ("yes", "true", "1")


def _wc_format_decimal(value: Any) -> str:
    """``wc_format_decimal($n)`` without rounding: keeps digits, '-' and the last '.' (source)."""
    if value is None or value is False:
        return ""
    if isinstance(value, float):
        text = f"{value:.6f}".rstrip("0").rstrip(".")
        return text
    text = _sanitize_text_field(_php_str(value))
    text = re.sub(r"\.(?![^.]+$)|[^0-9.-]", "", text)
    return text


def _sanitize_text_field(value: Any) -> str:
    """WordPress ``sanitize_text_field``: no tags, no line breaks, no %XX octets, trimmed."""
    text = _php_str(value)
    text = re.sub(r"<[^>]*>", "", text)
    text = re.sub(r"[\r\n\t ]+", " ", text)
    found = False
    while True:
        match = re.search(r"%[a-fA-F0-9]{2}", text)
        if not match:
            break
        text = text.replace(match.group(0), "")
        found = True
    if found:
        text = re.sub(r" +", " ", text)
    return text.strip()


def _sanitize_title(value: Any) -> str:
    """WordPress ``sanitize_title`` for slugs and attribute keys."""
    text = unicodedata.normalize("NFKD", _php_str(value))
    text = text.encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"<[^>]*>", "", text).lower()
    text = text.replace(".", "-")
    text = re.sub(r"&.+?;", "", text)
    text = re.sub(r"[^a-z0-9 _-]", "", text)
    text = re.sub(r"\s+", "-", text)
    text = re.sub(r"-+", "-", text)
    return text.strip("-")


def _sanitize_key(value: Any) -> str:
    return re.sub(r"[^a-z0-9_\-]", "", _php_str(value).lower())


def _wp_parse_list(value: Any) -> list:
    if isinstance(value, list):
        return value
    return [part for part in re.split(r"[\s,]+", _php_str(value)) if part]


def _wp_parse_id_list(value: Any) -> list[int]:
    out: list[int] = []
    for item in _wp_parse_list(value):
        number = _absint(item)
        if number not in out:
            out.append(number)
    return out


def _php_urlencode(text: str) -> str:
    """PHP ``urlencode``: like ``quote_plus`` but '~' is encoded too."""
    return quote_plus(text, safe="").replace("~", "%7E")


def _php_parse_query(query: str) -> dict[str, str]:
    """PHP's ``$_GET`` from a raw query string: decoded, last value wins, '.' and ' ' in names become '_'."""
    params: dict[str, str] = {}
    for part in query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        key = unquote_plus(key).replace(".", "_").replace(" ", "_")
        if not key:
            continue
        params[key] = unquote_plus(value)
    return params


def _add_query_args(url: str, args: dict[str, str]) -> str:
    """WordPress ``add_query_arg`` of ``args`` (raw values) onto ``url`` (source: functions.php).

    Values already in ``url`` are decoded then ``urlencode``-d again; new
    values go in as they are, and ``k=`` with an empty value loses its ``=``.
    """
    base, _, query = url.partition("?")
    merged: dict[str, str] = {k: _php_urlencode(v) for k, v in _php_parse_query(query).items()}
    merged.update(args)
    built = "&".join(f"{k}={v}" for k, v in merged.items())
    built = re.sub(r"=(&|$)", r"\1", built)
    return f"{base}?{built}" if built else base


def _wpautop(text: str) -> str:
    """A reduced ``wpautop``: blank-line separated blocks become ``<p>…</p>``, lone newlines ``<br />``."""
    if not text or not text.strip():
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    block_tag = re.compile(
        r"^</?(?:table|thead|tfoot|caption|col|colgroup|tbody|tr|td|th|div|dl|dd|dt|ul|ol|li|pre|form|map|"
        r"area|blockquote|address|math|style|p|h[1-6]|hr|fieldset|legend|section|article|aside|hgroup|header|"
        r"footer|nav|figure|figcaption|details|menu|summary)\b",
        re.I,
    )
    out = []
    for block in blocks:
        if block_tag.match(block):
            out.append(block)
        else:
            out.append("<p>" + block.replace("\n", "<br />\n") + "</p>")
    return "\n".join(out) + "\n"


def _php_gt(a: str, b: str) -> bool:
    """PHP 8 ``$a > $b`` for two strings: numeric when both are numeric, else byte order."""
    if _is_numeric(a) and _is_numeric(b):
        return float(a) > float(b)
    return a > b


def _num(value: str) -> float:
    return float(value) if _is_numeric(value) else 0.0


def _money(value: str) -> str:
    """``wc_price``: USD, symbol left, two decimals (the store settings of the captured site; seen)."""
    amount = _num(value)
    sign = "-" if amount < 0 else ""
    return (
        '<span class="woocommerce-Price-amount amount"><bdi>' + sign
        + '<span class="woocommerce-Price-currencySymbol">&#36;</span>' + f"{abs(amount):,.2f}" + "</bdi></span>"
    )


def _sale_html(regular: str, sale: str) -> str:
    """``wc_format_sale_price`` (seen)."""
    return f'<del aria-hidden="true">{_money(regular)}</del> <ins>{_money(sale)}</ins>'


def _range_html(low: str, high: str) -> str:
    """``wc_format_price_range`` (seen)."""
    return f"{_money(low)} &ndash; {_money(high)}"

# --------------------------------------------------------------------------- dates

def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0, tzinfo=None)


def _iso(moment: datetime | None) -> str | None:
    """``wc_rest_prepare_date_response``: ``YYYY-MM-DDTHH:MM:SS``, no zone (the site's zone is UTC)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") if moment else None


def _parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)?$")


def _parse_date(text: Any, *, strict: bool) -> datetime | None:
    """A date from a request, in UTC. ``strict`` is ``rest_parse_date`` (full RFC 3339); else dates alone pass too."""
    if not isinstance(text, str) or not text.strip():
        return None
    text = text.strip()
    if strict and not _RFC3339.match(text):
        return None
    candidate = text.replace("z", "Z").replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", candidate):
        candidate = candidate[:-2] + ":" + candidate[-2:]
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=0)
