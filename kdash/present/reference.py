"""The clinical reference shipped with kdash (docs/clinical-reference.md), cut into its numbered sections for the
Clinical reference page."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

FILE = Path(__file__).resolve().parents[2] / "docs" / "clinical-reference.md"


@dataclass(frozen=True)
class Section:
    number: str          # "4", or "" for the preamble and the sources
    title: str
    body: str


@functools.cache
def sections() -> tuple[Section, ...]:
    """The preamble, each "## N. Title" section and the sources, in the file's order."""
    text = FILE.read_text("utf-8")
    parts = re.split(r"^## ", text, flags=re.M)
    intro = parts[0].split("\n", 1)[1].strip() if "\n" in parts[0] else ""
    found = [Section("", "About this reference", intro)]
    for part in parts[1:]:
        heading, _, body = part.partition("\n")
        m = re.match(r"(\d+)\.\s*(.*)", heading.strip())
        number, title = (m.group(1), f"§{m.group(1)} {m.group(2)}") if m else ("", heading.strip())
        found.append(Section(number, title, body.strip()))
    return tuple(found)
