"""The clinic's own IDs (data-contract §3): printable strings of at most 64 characters, without control characters
or surrounding spaces. One check for the importers, the pages' URL parameters and the CLI, so an ID that could be
imported can always be opened, and a link built from it (URL-encoded) opens that record and no other."""

from __future__ import annotations

from urllib.parse import quote

MAX_LENGTH = 64


def problem(text: str | None, what: str = "patient ID") -> str | None:
    """Why this cannot be an ID, in words, or None."""
    if text is None or not text.strip():
        return f"no {what} was given"
    if len(text) > MAX_LENGTH:
        return f"a {what} has at most {MAX_LENGTH} characters (this one has {len(text)})"
    if text != text.strip():
        return f"a {what} has no spaces before or after it"
    if not text.isprintable():
        return f"a {what} holds no control or other non-printable characters"
    return None


def link(page: str, key: str, value: str) -> str:
    """A same-server link to a page with one parameter, the value URL-encoded (an ID may hold & ? # or spaces)."""
    return f"/{page}?{key}={quote(value, safe='')}"
