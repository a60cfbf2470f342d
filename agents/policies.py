"""Per-kind job policy (handler, timeout, attempts, backoff) and the concurrency limits.

Defaults live here; ``settings.JOB_POLICY_OVERRIDES`` (``{kind: {field: value}}``)
and the ``FLASHFUSION_JOB_*`` environment variables (see ``flashfusion/settings.py``)
change them without code.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib import import_module

from django.conf import settings

from agents.choices import Backoff, JobKind, Priority


@dataclass(frozen=True)
class JobPolicy:
    """How jobs of one kind run.

    ``handler``: "module.function" (or the function) taking the running ``Job`` and returning a
    dict of result counts. ``timeout``: seconds one attempt may run before it
    is stopped and counted as failed. ``max_attempts``: attempts before the
    job becomes a dead letter. Backoff before attempt n+1:
    exponential ``base·2^(n-1)``, linear ``base·n``, constant ``base``;
    capped at ``cap`` seconds, then up to ``jitter`` (a fraction, 0–1) of it
    taken off at random so retries of many jobs do not land together
    ("full jitter" when 1, per AWS Architecture Blog, "Exponential Backoff
    And Jitter"). A store's Retry-After replaces the computed delay.
    ``concurrency``: most jobs of this kind running at once (``None``: no
    limit of its own).
    """

    handler: "str | Callable"
    timeout: float = 600.0
    max_attempts: int = 3
    backoff: str = Backoff.EXPONENTIAL
    base: float = 5.0
    cap: float = 300.0
    jitter: float = 0.2
    priority: int = Priority.NORMAL
    concurrency: int | None = None
    extra: dict = field(default_factory=dict)

    def delay(self, attempt: int, retry_after: float | None = None, *, rng=random.random) -> float:
        """Seconds to wait before the attempt after ``attempt`` (1-based). Retry-After wins, unjittered."""
        if retry_after is not None:
            return max(0.0, float(retry_after))
        n = max(1, attempt)
        if self.backoff == Backoff.LINEAR:
            raw = self.base * n
        elif self.backoff == Backoff.CONSTANT:
            raw = self.base
        else:
            raw = self.base * 2 ** (n - 1)
        capped = min(self.cap, raw)
        return capped * (1.0 - self.jitter * rng())

    def handler_function(self) -> Callable:
        if callable(self.handler):
            return self.handler
        module, _, name = self.handler.rpartition(".")
        return getattr(import_module(module), name)


#: Built-in kinds. Timeouts: an import of 100k rows takes minutes; a publish
#: of a large catalog through Shopify's 100 points/s takes up to an hour at
#: ~1 product/s (see bench/README.md); a health check is one call.
DEFAULT_POLICIES: dict[str, JobPolicy] = {
    JobKind.CATALOG_IMPORT: JobPolicy(
        "products.services.run_import", timeout=1800, max_attempts=3, backoff=Backoff.CONSTANT, base=10, concurrency=2
    ),
    JobKind.STORE_PUBLISH: JobPolicy("agents.sync.run_publish", timeout=3600, max_attempts=5, base=5, cap=300),
    JobKind.STORE_PULL: JobPolicy("agents.pull.run_pull", timeout=300, max_attempts=5, base=5, cap=120),
    JobKind.STORE_HEALTH: JobPolicy(
        "stores.services.run_health_check", timeout=60, max_attempts=1, backoff=Backoff.CONSTANT, base=30,
        priority=Priority.LOW,
    ),
}

_registered: dict[str, JobPolicy] = {}


def register(kind: str, policy: JobPolicy) -> None:
    """Add a job kind (a plugin's or a benchmark's); a built-in kind cannot be replaced.

    Raises ``ValueError`` when ``kind`` is built in.
    """
    if kind in DEFAULT_POLICIES:
        raise ValueError(f"job kind {kind!r} is built in and cannot be replaced")
    _registered[kind] = policy


def unregister(kind: str) -> None:
    _registered.pop(kind, None)


def policy_for(kind: str) -> JobPolicy:
    """The policy for ``kind`` with ``settings.JOB_POLICY_OVERRIDES`` applied. Raises ``KeyError`` for an unknown kind.

    An override with a ``handler`` for a kind not built in or registered declares that kind.
    """
    overrides = getattr(settings, "JOB_POLICY_OVERRIDES", {}).get(kind)
    policy = _registered.get(kind) or DEFAULT_POLICIES.get(kind)
    if policy is None:
        if not overrides or "handler" not in overrides:
            raise KeyError(kind)
        return JobPolicy(**overrides)  # a kind declared in settings (a deployment's own job, a benchmark's)
    return replace(policy, **overrides) if overrides else policy


def known_kinds() -> list[str]:
    declared = [k for k, v in getattr(settings, "JOB_POLICY_OVERRIDES", {}).items() if "handler" in v]
    return list(dict.fromkeys([*DEFAULT_POLICIES, *_registered, *declared]))


@dataclass(frozen=True)
class ConcurrencyLimits:
    """Most jobs running at once: in all (``total``), per store, and per kind (``per_kind``)."""

    total: int
    per_store: int
    per_kind: dict

    def for_kind(self, kind: str) -> int | None:
        if kind in self.per_kind:
            return self.per_kind[kind]
        try:
            return policy_for(kind).concurrency
        except KeyError:
            return None


def concurrency_limits() -> ConcurrencyLimits:
    """Read from ``settings.JOB_CONCURRENCY`` (``{"total", "per_store", "per_kind": {kind: n}}``)."""
    conf = settings.JOB_CONCURRENCY
    return ConcurrencyLimits(total=conf["total"], per_store=conf["per_store"], per_kind=dict(conf.get("per_kind", {})))
