"""Words from inside the code (issue 36), as AppTest sees every page of every role: captions, markdown, widget
labels and their options, metric tiles and chart titles (table headers as drawn: tests/e2e/test_layout.py) carry no store code (`iv_ketamine`,
`PHQ9`), no command line a clinician would have to type, no file name of the reference, no shouted severity; and
the flags' evidence strings, as the rules write them on the whole demo, read as words too."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from kdash import access, scales, settings
from tests.app.session import signed_in
from tests.e2e.layout import raw_codes

# what a clinic's staff should never have to read
INSIDE_WORDS = re.compile(r"python -m kdash|clinical-reference|\bURGENT\b|\bCAUTION\b|\bat minute\b"
                          r"|\b(?:" + "|".join(c for c in scales.SCALES if not c.isalpha() or c.isupper()
                                              and c not in ("MADRS", "CADSS", "CSSRS"))
                          + r")\b(?![-\w])")


def page_text(at) -> str:
    """Every piece of text the page drew, as a person would read it (AppTest reads markdown sources, so the escapes
    of record text are dropped)."""
    parts = []
    for kind in ("title", "header", "subheader", "caption", "markdown", "info", "warning", "error", "success"):
        parts += [e.value for e in getattr(at, kind)]
    for kind in ("selectbox", "multiselect", "radio", "text_input", "number_input", "date_input", "checkbox",
                 "button", "toggle"):
        for w in getattr(at, kind):
            parts.append(str(getattr(w, "label", "")))
            parts.append(str(getattr(w, "help", "") or ""))
            options = getattr(w, "options", None)
            if options:
                parts += [str(o) for o in options]
    for m in at.metric:
        parts += [m.label, str(m.value), str(getattr(m, "delta", "") or "")]
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        title = spec.get("layout", {}).get("title", {})
        parts.append(title.get("text", "") if isinstance(title, dict) else str(title))
        parts += [str(t.get("name", "")) for t in spec.get("data", [])]
    return "\n".join(parts).replace("\\", "")


@pytest.mark.parametrize("role", access.ROLES)
def test_no_page_of_any_role_shows_words_from_inside_the_code(app_env, role):
    found = {}
    for page in access.pages_for(role):
        at = signed_in(role).run()
        if page != "home":
            at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, at.exception)
        text = page_text(at)
        bad = sorted(set(INSIDE_WORDS.findall(text)) | set(raw_codes(text)))
        # an administrator's pages name the server's commands on purpose (they run them)
        if role == "admin":
            bad = [b for b in bad if b != "python -m kdash"]
        if bad:
            found[page] = bad
    assert found == {}


def test_every_evidence_string_the_rules_write_on_the_demo_reads_as_words(demo_store):
    """The flag log holds every piece of evidence of every rule for every demo patient (and its clears)."""
    from kdash.store import db, flag_log
    con = db.connect(demo_store, read_only=True)
    try:
        text, params = flag_log.logged_query(con, settings.load(demo_store), dt.date.today())
        values = {v for (v,) in con.execute(f"SELECT DISTINCT value FROM ({text})", params).fetchall()}
    finally:
        con.close()
    assert len(values) > 50
    bad = {v for v in values if INSIDE_WORDS.search(v) or raw_codes(v)}
    assert bad == set()


def test_the_word_checks_can_fail():
    assert INSIDE_WORDS.search("PHQ9 12 on 2026-01-02") and INSIDE_WORDS.search("150/95 mmHg at minute -5")
    assert INSIDE_WORDS.search("run `python -m kdash users link`") and INSIDE_WORDS.search("CAUTION dose")
    assert not INSIDE_WORDS.search("PHQ-9 12 on 2026-01-02, MADRS 30, GAD-7 9, 5 min before the dose")
    assert raw_codes("route iv_ketamine") == ["iv_ketamine"]
