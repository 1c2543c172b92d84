"""The roster: sorted by urgency, searchable, filtered, linked to the patient page."""


from tests.app.session import signed_in


def open_roster():
    at = signed_in("clinician").run()
    return at.switch_page("pages/roster.py").run()


def matching(at) -> int:
    return int(next(c.value for c in at.caption if "patients match" in c.value).split(" ")[0].replace(",", ""))


def rows(at):
    """The roster's own table (the worklist's, in its expander above, has a Severity column)."""
    return next(d.value for d in at.dataframe if "patient_id" in d.value.columns)


def test_roster_lists_patients_most_urgent_first(app_env):
    at = open_roster()
    assert not at.exception
    df = rows(at)
    assert len(df) == 50
    assert df["patient_id"].iloc[0].startswith("P")
    ranks = [0 if f.startswith("Urgent") else 1 if f.startswith("High") else 2 if f.startswith("Caution")
             else 3 if f.startswith("Review") else 4 for f in df["flags"]]
    assert ranks == sorted(ranks) and ranks[0] < 4        # the demo clinic acknowledges most flags


def test_search_by_id_finds_that_patient(app_env):
    at = open_roster()
    at.text_input[0].input("P000042").run()
    df = rows(at)
    assert list(df["patient_id"]) == ["P000042"]


def test_filters_narrow_the_list(app_env):
    at = open_roster()
    everyone = matching(at)
    at.selectbox[0].select("esketamine").run()
    assert {c.split(" · ")[0] for c in rows(at)["course"]} == {"Esketamine"}
    esk = matching(at)
    assert 0 < esk < everyone
    at.selectbox[4].select("predose_bp").run()
    assert not at.exception
    flagged = rows(at)["flags"] if any("patient_id" in d.value.columns for d in at.dataframe) else []
    assert all(f for f in flagged)


def test_a_search_that_matches_nobody_says_so(app_env):
    at = open_roster()
    at.text_input[0].input("zzzz' OR 1=1 --").run()
    assert not at.exception
    assert "No patients match" in at.info[0].value
