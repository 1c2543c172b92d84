"""Start-up warm-up: the server fills the shared caches before the first person of the day signs in."""

from __future__ import annotations

import threading

DONE = threading.Event()
DONE.set()        # nothing to warm yet
