"""Fault injection shared by the store emulators: the failures a connector meets between it and a store.

A ``FaultPlan`` says how often each fault happens; a ``FaultState`` holds the
plan in force and draws, call by call, what happens to it. Each emulator
renders the answers in its platform's shape and applies faults to its API
routes only, never to its ``/__emulator__/`` control routes.

The faults, in the order a call meets them (first match wins), each with
where it comes from:

1. outage window (``outage_start``–``outage_end`` seconds after the plan
   was set): every call answers 503 with an HTML page and ``Retry-After``
   (a site in maintenance mode, a host that is down);
2. 429 bursts with ``Retry-After: retry_after``: the first ``burst_429``
   calls after the plan is set, and a burst of ``rate_limit_burst`` calls
   each time a ``rate_limit_rate`` draw hits. Shopify answers 429 with
   ``Retry-After`` (shopify.dev); WooCommerce core has no REST limit, but
   the host's or WAF's limiter in front of it does;
3. ``error_rate``: a 5xx from ``error_statuses`` (default 502 or 503, as a
   proxy in front of the API answers; add 500 for PHP's fatal error);
4. ``timeout_rate``: the connection is held ``hang_seconds`` (make it longer
   than the client's timeout) and then closed without an answer;
5. the call reaches the shop; then ``lost_answer_rate`` (writes only): the
   write IS applied but the answer is a 502 — the case that makes
   idempotent writes necessary (DESIGN.md);
6. ``malformed_rate``: a 200 whose body is not valid JSON (cut short, or a
   PHP warning printed before it); the write is not applied (or rolled
   back): the client saw no valid answer and nothing changed.

``latency`` seconds are added before every answer, faulted or not. Only
fault 5 has a side effect. Draws come from one ``random.Random(seed)``, and
every call draws the same numbers in the same order whatever happens to it,
so a client that makes the same calls in the same order meets the same
faults (with ``seed=None`` the dice are fresh each time).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, fields

RATE_SHARES = ("error_rate", "timeout_rate", "malformed_rate", "lost_answer_rate", "rate_limit_rate")


@dataclass(frozen=True)
class FaultPlan:
    """How often each fault happens (see the module docstring); shares are probabilities in [0, 1].

    Seconds: ``latency``, ``hang_seconds``, ``retry_after`` and the outage
    window ``outage_start``/``outage_end``, counted from the moment the plan
    is set (``start_emulator(faults=...)`` or ``set_faults``); both or
    neither. ``seed`` makes the draws repeatable (``None``: a fresh seed).
    """

    error_rate: float = 0.0
    latency: float = 0.0
    burst_429: int = 0
    timeout_rate: float = 0.0
    hang_seconds: float = 30.0
    malformed_rate: float = 0.0
    lost_answer_rate: float = 0.0
    outage_start: float | None = None
    outage_end: float | None = None
    seed: int | None = 0
    rate_limit_rate: float = 0.0
    rate_limit_burst: int = 3
    retry_after: float = 1.0
    error_statuses: tuple[int, ...] = (502, 503)

    def __post_init__(self) -> None:
        for name in RATE_SHARES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"FaultPlan.{name} must be between 0 and 1, not {value!r}")
        if self.latency < 0 or self.hang_seconds < 0 or self.burst_429 < 0 or self.retry_after < 0:
            raise ValueError("FaultPlan.latency, hang_seconds, burst_429 and retry_after cannot be negative")
        if self.rate_limit_burst < 1:
            raise ValueError(f"FaultPlan.rate_limit_burst must be at least 1, not {self.rate_limit_burst!r}")
        if (self.outage_start is None) != (self.outage_end is None):
            raise ValueError("FaultPlan.outage_start and outage_end go together")
        if self.outage_start is not None and not 0 <= self.outage_start <= self.outage_end:
            raise ValueError("FaultPlan outage window must satisfy 0 <= outage_start <= outage_end")
        statuses = tuple(int(s) for s in self.error_statuses)
        if not statuses or any(not 500 <= s <= 599 for s in statuses):
            raise ValueError(f"FaultPlan.error_statuses must be 5xx codes, not {self.error_statuses!r}")
        object.__setattr__(self, "error_statuses", statuses)

    @property
    def active(self) -> bool:
        """True when the plan changes anything at all."""
        return (any(getattr(self, name) for name in RATE_SHARES) or self.latency > 0 or self.burst_429 > 0
                or self.outage_start is not None)

    @classmethod
    def from_dict(cls, data: dict) -> FaultPlan:
        """A plan from JSON-like data; unknown keys are refused, naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown FaultPlan field(s): {', '.join(unknown)}")
        values = dict(data)
        if "error_statuses" in values:
            values["error_statuses"] = tuple(values["error_statuses"])
        return cls(**values)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["error_statuses"] = list(self.error_statuses)
        return data


@dataclass
class Decision:
    """What happens to one call before it reaches the shop, and after."""

    kind: str | None = None  # "outage" | "burst_429" | "error" | "timeout" | None (reaches the shop)
    status: int = 0  # for "error": one of the plan's error_statuses
    lose_answer: bool = False  # apply a write, answer 502
    malform: bool = False  # answer 200 with a body that is not JSON; nothing applied
    latency: float = 0.0
    hang_seconds: float = 0.0
    retry_after: float | None = None  # seconds, for "outage" and "burst_429"


@dataclass
class FaultState:
    """The plan in force, its RNG, the burst counter and the outage window's clock (thread-safe)."""

    plan: FaultPlan | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    rng: random.Random = field(default_factory=random.Random)
    burst_left: int = 0
    set_at: float = 0.0
    injected: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, kind)

    def set(self, plan: FaultPlan | None) -> None:
        with self.lock:
            self.plan = plan
            self.rng = random.Random(plan.seed if plan else None)
            self.burst_left = plan.burst_429 if plan else 0
            self.set_at = time.monotonic()

    def decide(self, *, is_write: bool) -> Decision:
        """Draw the fate of one call (``is_write``: would it change the shop?)."""
        with self.lock:
            plan = self.plan
            if plan is None:
                return Decision()
            # always the same draws, in this order, so the sequence does not depend on earlier outcomes
            error_draw, status_draw, timeout_draw, after_draw = (self.rng.random() for _ in range(4))
            malform_draw = self.rng.random()
            limit_draw = self.rng.random() if plan.rate_limit_rate else 1.0
            decision = Decision(latency=plan.latency, hang_seconds=plan.hang_seconds)
            elapsed = time.monotonic() - self.set_at
            if plan.outage_start is not None and plan.outage_start <= elapsed < plan.outage_end:
                decision.kind = "outage"
                decision.status = 503
                decision.retry_after = float(max(1, math.ceil(plan.outage_end - elapsed)))
            elif self.burst_left > 0 or limit_draw < plan.rate_limit_rate:
                if self.burst_left > 0:
                    self.burst_left -= 1
                else:
                    self.burst_left = plan.rate_limit_burst - 1
                decision.kind = "burst_429"
                decision.status = 429
                decision.retry_after = plan.retry_after
            elif error_draw < plan.error_rate:
                decision.kind = "error"
                statuses = plan.error_statuses
                decision.status = statuses[min(len(statuses) - 1, int(status_draw * len(statuses)))]
            elif timeout_draw < plan.timeout_rate:
                decision.kind = "timeout"
            else:
                decision.lose_answer = is_write and after_draw < plan.lost_answer_rate
                decision.malform = not decision.lose_answer and malform_draw < plan.malformed_rate
            return decision

    def record(self, method: str, path: str, kind: str) -> None:
        with self.lock:
            self.injected.append((method, path, kind))

    def counts(self) -> dict[str, int]:
        """Faults injected so far (every plan since the emulator started), by kind: "outage",
        "burst_429", "error", "timeout", "lost_answer", "malformed"."""
        with self.lock:
            return dict(Counter(kind for _method, _path, kind in self.injected))


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` delta-seconds: a whole number of seconds, at least 0 (RFC 9110 §10.2.3)."""
    return str(max(0, math.ceil(seconds)))


_REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}


def html_error(status: int) -> bytes:
    """The HTML page a proxy in front of the API sends with a 429 or 5xx (nginx's wording)."""
    reason = _REASONS.get(status, "Error")
    return (f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            ).encode("ascii")


def truncate(body: bytes) -> bytes:
    """A JSON body cut short: the first half (at least one byte less than the whole)."""
    if len(body) <= 1:
        return b"{"
    return body[: max(1, min(len(body) - 1, len(body) // 2))]


#: WordPress in maintenance mode (``wp_maintenance()``, wp-includes/load.php), answered with a 503.
MAINTENANCE_PAGE = (b"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Maintenance</title></head>"
                    b"<body><h1>Briefly unavailable for scheduled maintenance. Check back in a minute.</h1>"
                    b"</body></html>")

#: A PHP warning printed into a WordPress answer before a cut-off JSON body (``display_errors`` on).
PHP_WARNING_BODY = (b"<br />\n<b>Warning</b>:  Undefined array key \"sku\" in "
                    b"<b>/var/www/html/wp-content/plugins/inventory-sync/sync.php</b> on line <b>214</b><br />\n"
                    b"{\"id\":")
