"""A page is built from independent sections; one that fails must not blank the rest (issue: real clinics' data).

A failure is logged with a short reference and where it happened (file, line, function, exception type), never
the exception's message or values, which may carry patient data; the page shows the reference in that section."""

from __future__ import annotations

import logging
import secrets
import traceback
from dataclasses import dataclass
from typing import Any, Callable

log = logging.getLogger("kdash.sections")


@dataclass(frozen=True)
class Failed:
    """What a section holds when building it failed: the reference of its server-log line."""
    section: str
    ref: str


def log_failure(section: str, exc: BaseException) -> str:
    ref = secrets.token_hex(4)
    where = " < ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}"
                       for f in reversed(traceback.extract_tb(exc.__traceback__)[-6:]))
    log.error("section %r failed, reference %s: %s at %s", section, ref, type(exc).__name__, where)
    return ref


def guarded(section: str, build: Callable[..., Any], *args, **kwargs) -> Any:
    """build(*args, **kwargs), or a Failed marker when it raises."""
    try:
        return build(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - one failing section must not take the page down
        return Failed(section, log_failure(section, exc))
