"""A circuit breaker per store, kept in the ``Store`` row so every worker process sees one state.

The pattern is Michael Nygard's (*Release It!*, "Circuit Breaker"; also
Martin Fowler's bliki entry "CircuitBreaker"): after enough consecutive
failed calls, stop calling for a while, then let one probe call decide.

States (``stores.choices.BreakerState``) and the fields that hold them:

* **closed** — calls flow. Each failed call adds one to
  ``Store.breaker_failures``; each call the store answered sets it back to 0.
  At ``threshold`` consecutive failures (default 5) the breaker opens.
* **open** — every call is refused with ``CircuitOpen`` (no request is sent)
  until ``breaker_opened_at`` + ``cool_down`` (default 60 seconds).
* **half-open** — the first call after the cool-down becomes the probe and
  ``breaker_opened_at`` becomes the probe's start time. Other calls are
  refused until the probe reports: its success closes the breaker, its
  failure opens it again for a fresh cool-down. A probe that never reports
  (its worker died) is given up after another cool-down and a new probe may go.

What counts (``outcome``):

* failure — ``Transient`` (5xx, 408, timeout, dropped connection, unreadable
  answer), and ``RateLimited`` when the call was made after waiting out the
  store's previous block (a 429 *after* honouring a Retry-After: the limiter
  already retried and the store still refused).
* neutral — a first 429: the limiter handles it (``stores.limits``); it
  neither counts nor resets.
* success — no error, or an answer that names a problem with the request
  (``Rejected``, ``NotFound``, ``AuthFailed``): the store is up and answering.

Every transition publishes an event (topic ``store.breaker``, payload
``{"store_id", "state"}``) in the transaction that changes the row.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from flashfusion import events
from stores.choices import BreakerState
from stores.plugins import RateLimited, StoreError, Transient

#: Consecutive failed calls that open the breaker.
THRESHOLD = 5
#: Seconds an open breaker refuses calls before one probe may go.
COOL_DOWN = 60.0

FAILURE, NEUTRAL, SUCCESS = "failure", "neutral", "success"


class CircuitOpen(Transient):
    """The store's breaker is open: no call was sent.

    ``retry_after``: seconds until a probe may go (the end of the cool-down,
    or of the current probe's window). ``until``: that moment (aware UTC).
    Retryable like every ``Transient``; the job runner puts a job that hits it
    back in the queue for ``retry_after`` without counting an attempt.
    """

    def __init__(self, message: str, *, retry_after: float, until: datetime, store_id: int | None = None):
        super().__init__(message, code="circuit_open")
        self.retry_after = max(0.0, float(retry_after))
        self.until = until
        self.store_id = store_id


def outcome(error: StoreError | None, *, after_block: bool = False) -> str:
    """``FAILURE``, ``NEUTRAL`` or ``SUCCESS`` for one call's result (see the module docstring).

    ``after_block``: the call was granted only after waiting out the store's
    previous Retry-After (``StoreGate`` knows).
    """
    if error is None:
        return SUCCESS
    if isinstance(error, RateLimited):
        return FAILURE if after_block else NEUTRAL
    if isinstance(error, Transient):
        return FAILURE
    return SUCCESS


class Breaker:
    """The breaker of one saved store: ``admit()`` before a call, ``record()`` after it.

    ``threshold``: consecutive failures that open it; ``cool_down``: seconds
    it stays open before a probe. Reads and writes go to the ``Store`` row by
    primary key (never the possibly stale ``store`` object), with conditional
    UPDATEs / ``select_for_update`` so two processes never both take the
    probe or lose a count.
    """

    def __init__(self, store, *, threshold: int = THRESHOLD, cool_down: float = COOL_DOWN):
        if threshold < 1 or cool_down <= 0:
            raise ValueError("threshold must be at least 1 and cool_down positive (seconds)")
        self.store = store
        self.threshold = int(threshold)
        self.cool_down = float(cool_down)

    # -- before a call

    def admit(self) -> None:
        """Return when a call may go; raise ``CircuitOpen`` while the breaker is open or another call probes.

        The first caller after the cool-down moves open → half-open (a
        conditional UPDATE only one caller wins) and its call is the probe.
        """
        from stores.models import Store

        for _ in range(3):  # re-read when another process changed the row between read and update
            state, since = Store.objects.filter(pk=self.store.pk).values_list(
                "breaker_state", "breaker_opened_at").get()
            if state == BreakerState.CLOSED:
                return
            now = timezone.now()
            until = (since or now) + timedelta(seconds=self.cool_down)
            if since is not None and now < until:
                what = "open" if state == BreakerState.OPEN else "half-open (a probe call is out)"
                raise CircuitOpen(
                    f"circuit {what} for store {self.store} until {until:%Y-%m-%d %H:%M:%S} UTC",
                    retry_after=(until - now).total_seconds(), until=until, store_id=self.store.pk)
            with transaction.atomic():
                won = Store.objects.filter(pk=self.store.pk, breaker_state=state, breaker_opened_at=since).update(
                    breaker_state=BreakerState.HALF_OPEN, breaker_opened_at=now)
                if won:
                    self._publish(BreakerState.HALF_OPEN,
                                  f"{self.store}: circuit half-open, one probe call goes to the store")
                    return
        raise CircuitOpen(f"circuit for store {self.store} is changing state; try again shortly",
                          retry_after=1.0, until=timezone.now() + timedelta(seconds=1), store_id=self.store.pk)

    def blocked_for(self) -> float | None:
        """Seconds until a call may go, or None when one may go now (closed, or the cool-down is over)."""
        from stores.models import Store

        state, since = Store.objects.filter(pk=self.store.pk).values_list("breaker_state", "breaker_opened_at").get()
        if state == BreakerState.CLOSED or since is None:
            return None
        left = (since + timedelta(seconds=self.cool_down) - timezone.now()).total_seconds()
        return left if left > 0 else None

    # -- after a call

    def record(self, error: StoreError | None, *, after_block: bool = False) -> None:
        """Count one call's result (see ``outcome``)."""
        verdict = outcome(error, after_block=after_block)
        if verdict == SUCCESS:
            self.record_success()
        elif verdict == FAILURE:
            self.record_failure(error)

    def record_success(self) -> None:
        """half-open → closed (with an event); in closed, reset the failure count. An open breaker stays open."""
        from stores.models import Store

        # Read first, write only when something changes: most calls succeed on a closed breaker
        # with no failures, and a write would take SQLite's database lock for nothing.
        state, failures = Store.objects.filter(pk=self.store.pk).values_list("breaker_state", "breaker_failures").get()
        if state == BreakerState.HALF_OPEN:
            with transaction.atomic():
                closed = Store.objects.filter(pk=self.store.pk, breaker_state=BreakerState.HALF_OPEN).update(
                    breaker_state=BreakerState.CLOSED, breaker_failures=0, breaker_opened_at=None)
                if closed:
                    self._publish(BreakerState.CLOSED, f"{self.store}: circuit closed, the probe call succeeded")
        elif state == BreakerState.CLOSED and failures:
            Store.objects.filter(pk=self.store.pk, breaker_state=BreakerState.CLOSED,
                                 breaker_failures__gt=0).update(breaker_failures=0)

    def record_failure(self, error: StoreError | None = None) -> None:
        """Count a failure: closed → open at ``threshold``; half-open → open again (fresh cool-down)."""
        from stores.models import Store

        reason = f": {type(error).__name__}: {error}" if error is not None else ""
        with transaction.atomic():
            state, failures = Store.objects.select_for_update().filter(pk=self.store.pk).values_list(
                "breaker_state", "breaker_failures").get()
            failures += 1
            fields = {"breaker_failures": failures}
            now = timezone.now()
            until = now + timedelta(seconds=self.cool_down)
            message = None
            if state == BreakerState.HALF_OPEN:
                fields.update(breaker_state=BreakerState.OPEN, breaker_opened_at=now)
                message = (f"{self.store}: probe call failed, circuit open again until "
                           f"{until:%H:%M:%S} UTC{reason}")
            elif state == BreakerState.CLOSED and failures >= self.threshold:
                fields.update(breaker_state=BreakerState.OPEN, breaker_opened_at=now)
                message = (f"{self.store}: circuit opened after {failures} consecutive failed calls; "
                           f"calls paused until {until:%H:%M:%S} UTC{reason}")
            Store.objects.filter(pk=self.store.pk).update(**fields)
            if message:
                self._publish(BreakerState.OPEN, message)

    def reset(self) -> None:
        """Close the breaker by hand (e.g. after an admin fixed the store); publishes when it was not closed."""
        from stores.models import Store

        with transaction.atomic():
            changed = Store.objects.filter(pk=self.store.pk).exclude(breaker_state=BreakerState.CLOSED).update(
                breaker_state=BreakerState.CLOSED, breaker_failures=0, breaker_opened_at=None)
            Store.objects.filter(pk=self.store.pk).update(breaker_failures=0)
            if changed:
                self._publish(BreakerState.CLOSED, f"{self.store}: circuit closed by hand")

    def _publish(self, state: str, message: str) -> None:
        events.publish(self.store.organization_id, "store.breaker", message,
                       {"store_id": self.store.pk, "state": str(state)})
