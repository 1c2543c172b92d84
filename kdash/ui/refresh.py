"""The background refresher's inbox. A page that finds a clinic-wide figure stale asks for it here (refresh_soon), a
write wakes the warm-up (after_write); kdash/ui/warmup.py runs the threads that serve both. Apart from them, so that
the cache (kdash/ui/cache.py) and the warm-up each import it and not each other."""

from __future__ import annotations

import queue
import threading

WAKE = threading.Event()          # a write made the cached views stale
STARTED = threading.Event()       # this process runs the warm-up (a server, not AppTest or the CLI)
QUEUE: queue.Queue = queue.Queue()
_queued: set = set()
_queued_lock = threading.Lock()


def after_write() -> None:
    """kdash.ui.cache.clear_caches calls this: warm again shortly."""
    WAKE.set()


def running() -> bool:
    return STARTED.is_set()


def refresh_soon(path: str, func: str, params: tuple) -> None:
    """Compute this clinic-wide view at the current generation in the background (once, however many ask)."""
    with _queued_lock:
        if (path, func, params) in _queued:
            return
        _queued.add((path, func, params))
    QUEUE.put((path, func, params))


def done(path: str, func: str, params: tuple) -> None:
    with _queued_lock:
        _queued.discard((path, func, params))
