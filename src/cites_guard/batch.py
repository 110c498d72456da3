"""Score a stream of listings on every core, in order, with memory flat in input size.

Worker processes each build their own :class:`~cites_guard.guard.Guard` from the
:class:`~cites_guard.config.Settings` (the model path travels, never a live ONNX session);
the parent reads and validates input, sends batches, and yields results in input order.
At most ``workers * 4`` batches are in flight, so a 5 GB input never sits in memory.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from cites_guard._batching import iter_batches
from cites_guard._records import parse_jsonl_line
from cites_guard.assessment import Assessment
from cites_guard.config import Settings
from cites_guard.errors import ModelError
from cites_guard.guard import Guard
from cites_guard.listing import Listing
from cites_guard.model import bundled_model_dir, load_manifest, verify_model_dir
from cites_guard.taxonomy import load_taxonomy

__all__ = [
    "assess_parallel",
    "assess_parallel_json",
    "default_workers",
    "preflight",
    "score_jsonl_parallel",
]

_worker_guard: Guard | None = None
_T = TypeVar("_T")
_R = TypeVar("_R")


def default_workers() -> int:
    """All the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def preflight(settings: Settings) -> None:
    """Fail fast, in the parent, on what would break every worker: bad model, bad taxonomy.

    Cheaper than building a guard: checksums and validation only, no ONNX session.

    Raises:
        ModelError: The model directory is missing, invalid or altered.
        TaxonomyError: An extra taxonomy file is invalid.
    """
    load_taxonomy(settings.taxonomy.extra_files)
    if settings.model.enabled:
        directory = settings.model.path or bundled_model_dir()
        verify_model_dir(directory, load_manifest(directory))


#: Seconds between a worker's checks that the process that started it is still alive.
_PARENT_CHECK_SECONDS = 0.5


def _exit_with_parent(parent: int) -> None:
    """End this worker once its parent is gone (killed with SIGKILL, or out of memory).

    A pool's workers otherwise outlive a killed parent, each holding a model in memory.
    """
    while os.getppid() == parent:
        time.sleep(_PARENT_CHECK_SECONDS)
    os._exit(1)


def _init_worker(settings_json: str) -> None:
    global _worker_guard  # noqa: PLW0603 - one guard per worker process, built once
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    # Ctrl-C is the parent's to handle: it checkpoints and shuts the pool down cleanly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # One thread per process for ONNX and for the tokenizer: the processes are the
    # parallelism, and idle threads spinning beside busy workers only steal their cores.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    settings = Settings.model_validate_json(settings_json)
    model = settings.model.model_copy(update={"intra_op_threads": 1})
    _worker_guard = Guard.default(settings.model_copy(update={"model": model}))


def _score_batch(batch: list[Listing]) -> list[str]:
    # Listings travel pickled, not re-validated: what was cut to size stays known.
    if _worker_guard is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("worker not initialised")
    return [a.model_dump_json() for a in _worker_guard.assess_many(batch)]


def assess_parallel_json(
    listings: Iterable[Listing],
    *,
    settings: Settings | None = None,
    workers: int | None = None,
    batch_size: int = 64,
) -> Iterator[str]:
    """Assess listings in worker processes; yield each assessment as JSON, in input order.

    Args:
        listings: Any iterable, read lazily.
        settings: Settings for every worker's guard (default ``Settings()``).
        workers: Worker processes (default: all cores).
        batch_size: Listings per task.
    """
    batches = (list(batch) for batch in iter_batches(listings, batch_size))
    for results in _ordered_pool(
        _score_batch, batches, settings or Settings(), workers or default_workers()
    ):
        yield from results


def _ordered_pool(
    function: Callable[[_T], list[_R]], tasks: Iterable[_T], settings: Settings, workers: int
) -> Iterator[list[_R]]:
    """Run ``function`` over ``tasks`` in worker processes; yield results in task order.

    At most ``workers * 4`` tasks are in flight, so memory stays flat in input size.
    """
    context = multiprocessing.get_context("spawn")  # fork + onnxruntime threads can deadlock
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(settings.model_dump_json(),),
    ) as pool:
        pending: deque[Future[list[_R]]] = deque()
        try:
            for task in tasks:
                pending.append(pool.submit(function, task))
                if len(pending) >= workers * 4:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        except BrokenProcessPool as exc:
            raise ModelError(
                "a scoring worker process died (out of memory, or killed); "
                "rerun, with fewer --workers if memory is short"
            ) from exc


def assess_parallel(
    listings: Iterable[Listing],
    *,
    settings: Settings | None = None,
    workers: int | None = None,
    batch_size: int = 64,
) -> Iterator[Assessment]:
    """Like :func:`assess_parallel_json`, yielding :class:`Assessment` objects.

    Example:
        >>> from cites_guard import Listing
        >>> ads = [Listing(id=str(i), title="carved ivory bangle") for i in range(3)]
        >>> [a.listing_id for a in assess_parallel(ads, workers=2)]
        ['0', '1', '2']
    """
    for text in assess_parallel_json(
        listings, settings=settings, workers=workers, batch_size=batch_size
    ):
        yield Assessment.model_validate_json(text)


def _score_lines(
    batch: list[tuple[int, bytes]], *, with_listings: bool = True
) -> list[tuple[int, str, str, str | None, str]]:
    """Parse, validate and score raw JSONL lines in a worker.

    Returns, per line, ``(line, "ok", assessment_json, truncated_fields, listing_json)``
    (``listing_json`` only when ``with_listings`` and the policy reports the decision, else
    empty) or ``(line, "error", reason, field, raw)``.
    """
    if _worker_guard is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("worker not initialised")
    records = [parse_jsonl_line(line, chunk) for line, chunk in batch]
    good = [r.listing for r in records if r.listing is not None]
    results = iter(_worker_guard.assess_many(good))
    out: list[tuple[int, str, str, str | None, str]] = []
    for record in records:
        if record.listing is None:
            error = record.error
            reason = error.reason if error else "unreadable"
            out.append((record.line, "error", reason, error.field if error else None, record.raw))
        else:
            truncated = ",".join(record.listing.truncated_fields) or None
            assessment = next(results)
            # The listing travels back only when the policy reports it (for --report).
            reportable = with_listings and _worker_guard.policy.should_report(assessment.decision)
            listing_json = record.listing.model_dump_json() if reportable else ""
            out.append((record.line, "ok", assessment.model_dump_json(), truncated, listing_json))
    return out


def score_jsonl_parallel(
    lines: Iterable[tuple[int, bytes]],
    *,
    settings: Settings,
    workers: int,
    batch_size: int = 128,
    with_listings: bool = True,
) -> Iterator[tuple[int, str, str, str | None, str]]:
    """Score raw JSON Lines in worker processes; yield per-line outcomes in input order.

    The parent only reads bytes: parsing, validation and scoring all happen in the workers,
    so throughput grows with the number of cores. ``with_listings=False`` (nothing is
    reported) spares serialising reportable listings and sending them back.
    """
    score = functools.partial(_score_lines, with_listings=with_listings)
    for results in _ordered_pool(score, iter_batches(lines, batch_size), settings, workers):
        yield from results
