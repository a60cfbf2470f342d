"""Chunked, resumable writes of an import: short transactions of at most a few hundred products, with a checkpoint.

Why: on the embedded SQLite database one transaction holds the only write
lock; a 20,000-product import written in one transaction kept logins and the
workers' heartbeats waiting until SQLite's busy timeout ran out ("database is
locked"). Written in chunks with a pause of
``settings.CATALOG_IMPORT_CHUNK_PAUSE_SECONDS`` between them, other writers
wait for one chunk at most.

A chunk is bounded in time, not only in products: it holds at most
``settings.CATALOG_IMPORT_CHUNK_PRODUCTS`` products, and each next chunk is
sized from the pace of the last so that its transaction lasts about
``settings.CATALOG_IMPORT_CHUNK_SECONDS``. On a loaded machine 200 products
took 0.5 s and more, which every login's writes waited for; a fixed count
cannot know how busy the machine is, the clock does. (A short chunk also
keeps waiters in SQLite's busy handler at its short retry steps, 25 ms and
less, so a pause of 50 ms lets them in.)

Resume: the checkpoint ``CatalogImport.checkpoint`` =
``{"chunks_done": n, "products_done": p, "chunk_size": s, "counts": {...}, "state": {...}}``
(``s``: the products of chunk ``n``)
is written in the same transaction as chunk ``n``, so after a crash it says
exactly which chunks are in the database; the next attempt starts at product
``p`` and never writes a chunk twice. At the start of every chunk the
checkpoint is read again under a row lock (``select_for_update``; SQLite's
IMMEDIATE transactions hold the write lock from the start): if another
process advanced it, this one stops with ``CheckpointConflict``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from django.conf import settings
from django.db import transaction

__all__ = ["CheckpointConflict", "add_counts", "resumed_state", "write_in_chunks"]


class CheckpointConflict(Exception):
    """Another process wrote chunks of the same import since this one read its checkpoint.

    Raised before anything of the chunk is written (its transaction is rolled back). The job is
    retried: the new attempt starts from the checkpoint that the other process committed.
    """


def add_counts(total: dict, more: dict) -> dict:
    """``total`` + ``more`` per key (numbers), as a new dict; keys of either are kept."""
    out = dict(total)
    for key, value in (more or {}).items():
        out[key] = out.get(key, 0) + value
    return out


def resumed_state(catalog_import) -> dict | None:
    """The ``state`` saved with the import's last committed chunk, or ``None`` when no chunk was written yet.

    A caller that makes decisions before the first chunk (e.g. which SKUs move between products)
    passes them as ``write_in_chunks(state=...)``; a resumed run must reuse them, as the database
    no longer shows what the first run saw.
    """
    checkpoint = (catalog_import.checkpoint or {}) if catalog_import is not None else {}
    if not checkpoint.get("chunks_done"):
        return None
    return checkpoint.get("state") or {}


def write_in_chunks(
    catalog_import,
    entries: Sequence,
    write_chunk: Callable[[Sequence], dict],
    *,
    chunk_size: int | None = None,
    pause: float | None = None,
    seconds: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    state: dict | None = None,
) -> dict:
    """Write ``entries`` (per-product work items, in plan order) chunk by chunk; return the summed counts.

    ``write_chunk(entries_slice) -> {name: int}`` writes one chunk; it is called inside the
    transaction opened here, and the checkpoint is saved in that same transaction.
    ``chunk_size``: entries per transaction, every chunk the same (tests, callers that want exact
    boundaries); unset, chunks hold at most ``settings.CATALOG_IMPORT_CHUNK_PRODUCTS`` entries and
    are sized to last about ``seconds`` each (default ``settings.CATALOG_IMPORT_CHUNK_SECONDS``; 0
    turns the time bound off): the first holds a tenth of the most, each next one as many as the
    last chunk's pace fits in ``seconds``, at most twice the last;
    ``pause``: seconds slept between chunks, outside any transaction, so other writers get the
    SQLite write lock (default ``settings.CATALOG_IMPORT_CHUNK_PAUSE_SECONDS``).
    ``progress(done, total)``: entries written so far and in all, called after each chunk has
    committed (so what it records is true; ``Job.set_progress`` may raise ``JobCancelled`` /
    ``JobLost`` there, and the next attempt resumes after that chunk). ``state``: JSON-safe
    decisions kept in the checkpoint (see ``resumed_state``).

    ``catalog_import``: the ``CatalogImport`` whose ``checkpoint`` records the chunks written, or
    ``None`` for a write without a checkpoint (tests, the exporters' round trips). Resuming starts
    at the checkpoint's ``products_done`` with its counts; a checkpoint made with another chunk
    size resumes at the same product.

    Raises ``CheckpointConflict`` when another process advanced the checkpoint; whatever
    ``write_chunk`` raises rolls back that chunk only (earlier chunks stay committed).
    """
    most = max(1, int(chunk_size or settings.CATALOG_IMPORT_CHUNK_PRODUCTS))
    budget = 0.0 if chunk_size else (settings.CATALOG_IMPORT_CHUNK_SECONDS if seconds is None else seconds)
    budget = max(0.0, float(budget))
    size = max(1, most // 10) if budget else most
    pause = settings.CATALOG_IMPORT_CHUNK_PAUSE_SECONDS if pause is None else max(0.0, float(pause))
    total = len(entries)
    checkpoint = dict(catalog_import.checkpoint or {}) if catalog_import is not None else {}
    chunks_done = int(checkpoint.get("chunks_done", 0))
    start = int(checkpoint.get("products_done", chunks_done * int(checkpoint.get("chunk_size", most))))
    counts = dict(checkpoint.get("counts", {}))
    if chunks_done and state is None:
        state = checkpoint.get("state")
    if progress is not None and start:
        progress(min(start, total), total)
    offset = start
    while offset < total:
        if offset > start and pause:
            time.sleep(pause)  # outside the transaction: SQLite's write lock is free meanwhile
        piece = entries[offset : offset + size]
        with transaction.atomic():
            began = time.monotonic()  # after BEGIN: waiting for the write lock is not this chunk's pace
            if catalog_import is not None:
                _check_checkpoint(catalog_import, chunks_done, offset)
            counts = add_counts(counts, write_chunk(piece))
            chunks_done += 1
            if catalog_import is not None:
                checkpoint = {
                    "chunks_done": chunks_done,
                    "products_done": offset + len(piece),
                    "chunk_size": len(piece),
                    "counts": counts,
                    "state": state or {},
                }
                type(catalog_import).objects.filter(pk=catalog_import.pk).update(checkpoint=checkpoint)
                catalog_import.checkpoint = checkpoint
        took = time.monotonic() - began
        offset += len(piece)
        if progress is not None:
            progress(offset, total)
        if budget:
            size = _next_size(len(piece), took, budget, most)
    return counts


def _next_size(last: int, took: float, budget: float, most: int) -> int:
    """Entries for the next chunk: what the last one's pace (``last`` in ``took`` s) fits in ``budget`` s.

    Never more than twice ``last`` (one quick chunk may be luck) nor ``most``; at least 1.
    """
    fits = int(last * budget / took) if took > 0 else most
    return max(1, min(most, 2 * last, fits))


def _check_checkpoint(catalog_import, chunks_done: int, offset: int) -> None:
    stored = (
        type(catalog_import).objects.select_for_update().filter(pk=catalog_import.pk)
        .values_list("checkpoint", flat=True).first()
    )
    if stored is None:
        raise CheckpointConflict(f"import #{catalog_import.pk} was deleted while it was being written")
    stored = stored or {}
    stored_chunks = int(stored.get("chunks_done", 0))
    stored_products = int(stored.get("products_done", offset if stored_chunks == chunks_done else -1))
    if stored_chunks != chunks_done or (stored_chunks and stored_products != offset):
        raise CheckpointConflict(
            f"import #{catalog_import.pk} was advanced by another process: its checkpoint says "
            f"{stored_chunks} chunks ({stored.get('products_done', 0)} products) written, this process "
            f"expected {chunks_done} ({offset}); the next attempt resumes from the checkpoint"
        )
