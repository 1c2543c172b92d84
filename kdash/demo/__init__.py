"""The synthetic demo clinic (`python -m kdash demo`): `demo.build(path, patients, seed)` makes a store of it.

clinic.py builds it from people.py (who the patients are), sessions.py (their sessions, vitals and side effects),
assessments.py (ratings) and history.py (what the staff did); docs/data.md says how it is calibrated."""

from __future__ import annotations

from kdash.demo.assessments import allocate_items, qids_items  # noqa: F401
from kdash.demo.clinic import build, generate  # noqa: F401
from kdash.demo.people import ABSOLUTE, WARNINGS  # noqa: F401
from kdash.demo.sessions import SIDE_EFFECTS  # noqa: F401
