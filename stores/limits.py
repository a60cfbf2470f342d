"""The per-store call gate: a leaky-bucket rate limiter shared through the database, plus the circuit breaker.

``gate_for(store)`` is what every connector gets (``stores.plugins.CallGate``).
``StoreGate.before_call(cost)`` first asks the store's breaker
(``stores.breaker``), then takes ``cost`` units from the store's leaky bucket;
``after_call(...)`` corrects the bucket from the platform's own figures and
reports the outcome to the breaker.

The bucket is the store's ``RateLimitBucket`` row, so every web and worker
process, on any machine, draws from one budget. Units are the platform's
(REST calls, or GraphQL cost points); times are epoch seconds (``time.time()``),
durations seconds.

The shape follows the platforms' own limiters (PLATFORMS.md): Shopify's REST
limit is a leaky bucket (40 calls, 2/s leak on standard plans; shopify.dev
"REST Admin API rate limits") whose state every answer reports in
``X-Shopify-Shop-Api-Call-Limit: used/size``; GraphQL reports
``extensions.cost.throttleStatus.currentlyAvailable`` (shopify.dev "GraphQL
Admin API rate limits"); an over-limit answer is HTTP 429 with
``Retry-After`` seconds, sometimes without it. The capacity and leak rate of a
new bucket come from ``plugin_class(store.platform).rate_limits(store.rate_plan)``.

Taking from the bucket (``before_call``) is one short transaction: the row is
locked (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the project's
``transaction_mode: IMMEDIATE`` takes the database write lock at ``BEGIN``, so
writers are serialized the same way), the level leaks by elapsed × leak_rate,
and the call is granted when ``level + cost`` fits under the capacity less a
safety margin and no 429 block is running. Otherwise the wait is computed,
the transaction ends, and the caller sleeps *outside* it before trying again;
when the wait would pass ``max_wait`` the gate raises ``RateLimited`` with
that wait as ``retry_after``, so the job goes back to the queue instead of
holding a worker.

The safety margin (``margin``: 5 % of the capacity, at least 1 unit) covers
what a shared model cannot see exactly: calls granted to other processes that
are still on the wire when the platform's figures arrive, and the spread of
network delays between the grant and the platform counting the call.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass

from django.db import transaction

from stores.breaker import Breaker
from stores.plugins import OpenGate, RateLimit, RateLimited, Rejected, StoreError, plugin_class

log = logging.getLogger(__name__)

#: Seconds a call may wait for the bucket before the gate gives up with ``RateLimited``.
#: Far below the worker timeout (``Q_TIMEOUT``, 600 s by default): a long wait
#: sends the job back to the queue with the wait as its Retry-After.
MAX_WAIT = 60.0
#: Share of the capacity kept free, and its floor in units (see the module docstring).
MARGIN_SHARE = 0.05
MARGIN_MIN = 1.0
#: Seconds to hold calls back after a 429 that carried no Retry-After (at
#: least the time one unit takes to leak): PLATFORMS.md, "back off on your own then".
BACKOFF_WITHOUT_RETRY_AFTER = 1.0
#: Random seconds added to each sleep, so processes woken by the same wait do not all retry at once.
JITTER = 0.01


def margin(capacity: float) -> float:
    """Units kept free in a bucket of ``capacity`` units."""
    return max(MARGIN_MIN, MARGIN_SHARE * capacity)


def leaked_level(level: float, stamp: float, now: float, leak_rate: float) -> float:
    """The bucket level at ``now`` (epoch s): ``level`` at ``stamp`` less elapsed × ``leak_rate``, never below 0."""
    return max(0.0, level - max(0.0, now - stamp) * leak_rate)


@dataclass
class Grant:
    """One call let through: the bucket's ``calls`` count after it (its sequence number), its cost, when (epoch s),
    and whether it had to wait out a block the store set (a 429)."""

    seq: int
    cost: float
    at: float
    after_block: bool


class StoreGate:
    """The ``CallGate`` of one saved store: rate limiter (``RateLimitBucket`` row) + breaker (``Store`` row).

    ``limit``: the bucket shape (default: the platform's published limit for
    ``store.rate_plan``); ``max_wait``: seconds ``before_call`` may wait;
    ``breaker``: default ``Breaker(store)``; ``sleep`` / ``clock`` replace
    ``time.sleep`` / ``time.time`` in tests. ``last_grant`` is the last call
    let through (``Grant``), for the connector's own bookkeeping and for tests.

    Call it outside any transaction of your own (as the sync agent and the
    health check do): inside one, the bucket's row lock (PostgreSQL) or the
    database write lock (SQLite) would be held through the HTTP call and the
    sleeps, and every other process would queue behind it. Processes on
    several machines share the bucket through epoch timestamps, so their
    clocks should agree (NTP); the safety margin absorbs milliseconds of skew.
    """

    def __init__(self, store, *, limit: RateLimit | None = None, max_wait: float = MAX_WAIT,
                 breaker: Breaker | None = None, sleep=time.sleep, clock=time.time):
        if store.pk is None:
            raise ValueError("StoreGate needs a saved store; use gate_for(), which gives an unsaved one an OpenGate")
        self.store = store
        self._limit = limit
        self.max_wait = float(max_wait)
        self.breaker = breaker or Breaker(store)
        self._sleep = sleep
        self._clock = clock
        self._shape_checked = False
        self.last_grant: Grant | None = None

    @property
    def limit(self) -> RateLimit:
        if self._limit is None:
            self._limit = plugin_class(self.store.platform).rate_limits(self.store.rate_plan)
        return self._limit

    # -- CallGate

    def before_call(self, cost: float = 1.0) -> None:
        """Block until the store's bucket has room for ``cost`` units; raise instead when the store is off limits.

        Raises ``CircuitOpen`` (a ``Transient``) while the breaker is open,
        ``RateLimited`` (``retry_after`` = the wait still needed, seconds)
        when the wait would pass ``max_wait``, ``Rejected`` when ``cost``
        exceeds the whole bucket (the platform would refuse such a call too).
        """
        cost = float(cost)
        if cost <= 0:
            raise ValueError("cost must be positive")
        self.breaker.admit()
        deadline = time.monotonic() + self.max_wait
        waited_for_block = False
        while True:
            wait, blocked = self._try_take(cost, after_block=waited_for_block)
            if wait is None:
                return
            left = deadline - time.monotonic()
            if wait > left:
                raise RateLimited(
                    f"rate limit of store {self.store}: the next call could go in {wait:.1f} s, "
                    f"more than this call may wait ({max(0.0, left):.1f} s left of {self.max_wait:g} s)",
                    retry_after=wait, code="gate_wait_exceeded")
            waited_for_block = waited_for_block or blocked
            self._sleep(wait + random.uniform(0, JITTER))

    def after_call(self, *, error: StoreError | None = None, used: float | None = None, size: float | None = None,
                   available: float | None = None, retry_after: float | None = None) -> None:
        """Correct the bucket from the platform's answer and count the outcome for the breaker.

        ``used``/``size``: ``X-Shopify-Shop-Api-Call-Limit`` (level = used,
        capacity = size); on a bucket whose unit is not "call" (Shopify's
        GraphQL cost points, shared with REST calls through one gate) the
        report is taken as a fullness, level = used / size × capacity.
        ``available``: GraphQL ``currentlyAvailable`` (level = capacity −
        available). Either way the calls granted after this one (possibly
        still on the wire, so not in the platform's figure yet) are added back
        at this call's cost.

        A 429 or GraphQL ``THROTTLED`` (``error`` is ``RateLimited``) counts in
        ``throttled``, fills the bucket unless the answer carried figures, and
        blocks every process until now + ``retry_after`` (the error's own when
        not given), or ``BACKOFF_WITHOUT_RETRY_AFTER`` seconds when the store
        gave none. Another error with a ``retry_after`` (a 503 with
        Retry-After) blocks likewise.
        """
        throttled = isinstance(error, RateLimited)
        if retry_after is None and throttled:
            retry_after = error.retry_after
        if throttled or retry_after is not None or used is not None or available is not None or size is not None:
            self._correct(throttled=throttled, used=used, size=size, available=available, retry_after=retry_after)
        grant = self.last_grant
        self.breaker.record(error, after_block=bool(grant and grant.after_block))

    # -- the bucket row

    def _bucket(self, *, lock: bool):
        """The store's bucket row, created from the platform's published limit on first use.

        Once per gate, a row whose leak rate no longer matches the published
        limit (the store's plan changed) takes the new shape; a capacity
        corrected from the platform's ``size`` header is otherwise kept.
        """
        from stores.models import RateLimitBucket

        rows = RateLimitBucket.objects.filter(store_id=self.store.pk)
        if lock:
            rows = rows.select_for_update()
        bucket = rows.first()
        if bucket is None:
            shape = self.limit
            if shape.capacity <= 0 or shape.leak_rate <= 0:
                raise ValueError(f"rate limit of {self.store.platform} must have a positive capacity and leak rate")
            RateLimitBucket.objects.get_or_create(
                store_id=self.store.pk,
                defaults={"capacity": shape.capacity, "leak_rate": shape.leak_rate, "stamp": self._clock()})
            self._shape_checked = True
            bucket = rows.get()  # locked again: another process may have created it first
        elif not self._shape_checked:
            self._shape_checked = True
            shape = self.limit
            if bucket.leak_rate != shape.leak_rate:
                log.info("store %s: rate plan now %s/s leak, %s capacity (was %s/s, %s)", self.store.pk,
                         shape.leak_rate, shape.capacity, bucket.leak_rate, bucket.capacity)
                bucket.leak_rate, bucket.capacity = shape.leak_rate, shape.capacity
                bucket.save(update_fields=["leak_rate", "capacity"])
        return bucket

    def _try_take(self, cost: float, *, after_block: bool) -> tuple[float | None, bool]:
        """One locked attempt: ``(None, …)`` when granted, else ``(seconds to wait, whether a 429 block is why)``."""
        with transaction.atomic():
            bucket = self._bucket(lock=True)
            now = self._clock()
            if cost > bucket.capacity:
                raise Rejected(f"a call costing {cost:g} {self.limit.unit}s cannot fit the {bucket.capacity:g}-unit "
                               f"rate-limit bucket of store {self.store}", code="cost_exceeds_bucket")
            if now < bucket.blocked_until:
                return bucket.blocked_until - now, True
            level = leaked_level(bucket.level, bucket.stamp, now, bucket.leak_rate)
            ceiling = max(bucket.capacity - margin(bucket.capacity), cost)
            if level + cost > ceiling:
                return (level + cost - ceiling) / bucket.leak_rate, False
            bucket.level = level + cost
            bucket.stamp = now
            bucket.calls += 1
            bucket.save(update_fields=["level", "stamp", "calls"])
            self.last_grant = Grant(seq=bucket.calls, cost=cost, at=now, after_block=after_block)
            return None, False

    def _correct(self, *, throttled: bool, used, size, available, retry_after) -> None:
        grant = self.last_grant
        with transaction.atomic():
            bucket = self._bucket(lock=True)
            now = self._clock()
            level = leaked_level(bucket.level, bucket.stamp, now, bucket.leak_rate)
            in_flight = max(0, bucket.calls - grant.seq) * grant.cost if grant else 0.0
            scale = 1.0
            if size is not None and float(size) > 0:
                if self.limit.unit == "call":
                    bucket.capacity = float(size)
                else:  # a REST used/size report on a cost-point bucket: same fullness, the bucket's units
                    scale = bucket.capacity / float(size)
            if used is not None:
                level = float(used) * scale + in_flight
            elif available is not None:
                level = bucket.capacity - float(available) + in_flight
            fields = ["level", "stamp", "capacity"]
            if throttled:
                bucket.throttled += 1
                fields.append("throttled")
                if used is None and available is None:
                    level = max(level, bucket.capacity)
                if retry_after is None:
                    retry_after = max(BACKOFF_WITHOUT_RETRY_AFTER, 1.0 / bucket.leak_rate)
            if retry_after is not None:
                bucket.blocked_until = max(bucket.blocked_until, now + max(0.0, float(retry_after)))
                fields.append("blocked_until")
            bucket.level = max(0.0, level)
            bucket.stamp = now
            bucket.save(update_fields=fields)


def gate_for(store, **options) -> StoreGate | OpenGate:
    """The call gate of ``store``: a ``StoreGate`` for a saved store, an ``OpenGate`` for an unsaved one.

    An unsaved store has no bucket or breaker row yet; the connect form's
    one test call goes through an ``OpenGate`` (stores/services.test_connection).
    ``options`` go to ``StoreGate`` (``max_wait``, ``limit``, ``breaker``, …).
    """
    if store.pk is None:
        return OpenGate()
    return StoreGate(store, **options)
