"""Fault injection for the Shopify emulator: the failures a connector meets between it and Shopify.

A ``FaultPlan`` says how often each fault happens; ``FaultState`` applies it
to the calls under ``/admin/api/`` (never to the ``/__emulator__/`` control
routes). Decisions come from one seeded ``random.Random``, and every call
draws the same five numbers in the same order whatever happens to it, so a
client that makes the same calls in the same order meets the same faults.

Order in which a call meets them (first match wins):

1. outage window: every call answers 503 with an HTML body;
2. 429 burst: the next ``burst_429`` calls answer 429 with ``Retry-After``;
3. ``error_rate``: 502 or 503 with an HTML body, as a proxy in front of
   Shopify answers;
4. ``timeout_rate``: the connection is held ``hang_seconds`` and then closed
   without an answer;
5. the call reaches the shop; then ``lost_answer_rate`` (writes only): the
   write IS applied but the answer is a 502, the case that makes idempotent
   writes necessary;
6. ``malformed_rate``: the JSON body is cut short (a write is rolled back
   first: the client saw no valid answer and nothing changed).

``latency`` is added before every answer, faulted or not. Only fault 5
applies a side effect; 1-4 never reach the shop and 6 undoes the write.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FaultPlan:
    """How often each fault happens; shares are probabilities in [0, 1].

    ``outage_start``/``outage_end`` are seconds from the moment the plan is
    set (``start_emulator(faults=...)`` or ``set_faults``); both or neither.
    ``seed`` makes the draws repeatable (``None``: a fresh seed).
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

    def __post_init__(self) -> None:
        for name in ("error_rate", "timeout_rate", "malformed_rate", "lost_answer_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"FaultPlan.{name} must be between 0 and 1, not {value!r}")
        if self.latency < 0 or self.hang_seconds < 0 or self.burst_429 < 0:
            raise ValueError("FaultPlan.latency, hang_seconds and burst_429 cannot be negative")
        if (self.outage_start is None) != (self.outage_end is None):
            raise ValueError("FaultPlan.outage_start and outage_end go together")
        if self.outage_start is not None and not 0 <= self.outage_start <= self.outage_end:
            raise ValueError("FaultPlan outage window must satisfy 0 <= outage_start <= outage_end")


@dataclass
class Decision:
    """What happens to one call before it reaches the shop, and after."""

    kind: str | None = None  # "outage" | "burst_429" | "error" | "timeout" | None (reaches the shop)
    status: int = 0  # for "error": 502 or 503
    lose_answer: bool = False  # apply a write, answer 502
    malform: bool = False  # cut the JSON body short
    latency: float = 0.0
    hang_seconds: float = 0.0


@dataclass
class FaultState:
    """The plan in force, its RNG, the burst counter and the outage window's clock."""

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
            # always five draws, in this order, so the sequence does not depend on earlier outcomes
            error_draw, status_draw, timeout_draw, after_draw = (self.rng.random() for _ in range(4))
            malform_draw = self.rng.random()
            decision = Decision(latency=plan.latency, hang_seconds=plan.hang_seconds)
            elapsed = time.monotonic() - self.set_at
            if plan.outage_start is not None and plan.outage_start <= elapsed < plan.outage_end:
                decision.kind = "outage"
            elif self.burst_left > 0:
                self.burst_left -= 1
                decision.kind = "burst_429"
            elif error_draw < plan.error_rate:
                decision.kind = "error"
                decision.status = 502 if status_draw < 0.5 else 503
            elif timeout_draw < plan.timeout_rate:
                decision.kind = "timeout"
            else:
                decision.lose_answer = is_write and after_draw < plan.lost_answer_rate
                decision.malform = not decision.lose_answer and malform_draw < plan.malformed_rate
            return decision

    def record(self, method: str, path: str, kind: str) -> None:
        with self.lock:
            self.injected.append((method, path, kind))


def html_error(status: int) -> bytes:
    """The HTML page a proxy in front of the API sends with a 5xx (nginx's wording)."""
    reason = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}.get(status, "Error")
    return (f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            ).encode("ascii")


def truncate(body: bytes) -> bytes:
    """A JSON body cut short: the first half (at least one byte less than the whole)."""
    if len(body) <= 1:
        return b"{"
    return body[: max(1, min(len(body) - 1, len(body) // 2))]
