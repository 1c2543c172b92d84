"""Every page on a replica's read model of a PostgreSQL record shows what it shows on an embedded store holding the
same data (issue 21: "every page shows the same numbers as the embedded store")."""

from __future__ import annotations

import json

import pytest

from kdash import access
from kdash import demo
from tests.conftest import TODAY
from tests.realshape import PAGE_FILES, _app_env, _run, _signed_in, page_problems

# Pages whose content is this moment's (the audit log's times and row ids; accounts' creation and sign-in times on
# the users page and on an administrator's home page).
MOMENTARY = {"audit", "users"}


def content(at) -> dict:
    """What a person reads on the page: title, tiles, words, table cells, chart data; not the replica's own note."""
    charts = []
    for c in at.get("plotly_chart"):
        spec = json.loads(c.proto.spec)
        charts.append([{k: t.get(k) for k in ("name", "x", "y", "text", "type")} for t in spec["data"]])
    return {"title": [t.value for t in at.title],
            "metrics": [(m.label, m.value) for m in at.metric],
            "words": [m.value for m in at.markdown] + [c.value for c in at.caption if "Record as of" not in c.value],
            "tables": [d.value.astype(str).fillna("").values.tolist() for d in [*at.dataframe, *at.table]],
            "charts": charts}


def views(store: str, patient: str) -> dict:
    out = {}
    with _app_env(store):
        for role in access.ROLES:
            at = _signed_in(role)
            _run(at)
            if role != "admin":
                out[(role, "home")] = content(at)
            for page in access.pages_for(role):
                if page in MOMENTARY:
                    continue
                _run(at, PAGE_FILES[page])
                out[(role, page)] = content(at)
        at = _signed_in("clinician")
        for page in ("patient", "eligibility"):
            _run(at, PAGE_FILES[page], {"patient_id": patient})
            out[("clinician", page, patient)] = content(at)
    return out


@pytest.fixture(scope="module")
def twin_stores(tmp_path_factory, pg_cluster):
    """The same 60-patient demo clinic twice: an embedded file, and a PostgreSQL record."""
    import uuid
    path = str(tmp_path_factory.mktemp("twin") / "demo.duckdb")
    demo.build(path, patients=60, seed=5, as_of=TODAY)
    name = "twin" + uuid.uuid4().hex[:8]
    pg_cluster.psql(f"CREATE DATABASE {name} OWNER kdash")
    url = pg_cluster.url.rsplit("/", 1)[0] + "/" + name
    with pytest.MonkeyPatch.context() as env:           # the password for this module's tests only
        env.setenv("PGPASSWORD", pg_cluster.password)
        demo.build(url, patients=60, seed=5, as_of=TODAY)
        yield path, url


def test_every_page_on_a_replica_shows_what_the_embedded_store_shows(twin_stores):
    path, url = twin_stores
    from kdash.store import db
    con = db.connect(path, read_only=True)
    patient = con.execute("SELECT patient_id FROM sessions GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()[0]
    con.close()
    embedded, replica = views(path, patient), views(url, patient)
    assert embedded.keys() == replica.keys()
    assert len(embedded) >= 15
    for where in embedded:
        assert replica[where] == embedded[where], where
    assert any(v["metrics"] for v in embedded.values()) and any(v["charts"] for v in embedded.values())


def test_the_sidebar_says_how_fresh_the_replica_is(twin_stores):
    _, url = twin_stores
    with _app_env(url):
        at = _signed_in("manager")
        _run(at)
        notes = [c.value for c in at.sidebar.caption if "Record as of" in c.value]
        assert len(notes) == 1, [c.value for c in at.sidebar.caption]


def test_no_page_on_a_replica_shows_a_problem(twin_stores):
    _, url = twin_stores
    problems = page_problems(url, patient_ids=[], table_nulls=True)
    assert not problems, "\n".join(problems[:20])
