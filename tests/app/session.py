"""AppTests of a signed-in user: the app frame checks the role on every page and data call."""

import time

from streamlit.testing.v1 import AppTest

from kdash import access
from tests.conftest import ROOT


def signed_in(role: str | None = "clinician", name: str | None = None) -> AppTest:
    """app.py as a user of this role (None: signed out), as if they had just signed in."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    if role is not None:
        at.session_state["user"] = {"name": name or f"test-{role}", "role": role, "seen": time.time()}
    return at


def role_for(page: str) -> str:
    """A role that may open this page file (pages/NAME.py)."""
    stem = page.rsplit("/", 1)[-1].removesuffix(".py")
    return next(r for r in access.ROLES if access.may_open(r, stem))
