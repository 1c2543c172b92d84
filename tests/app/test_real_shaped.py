"""Every page copes with real-shaped data (issue 15): stores made by `init` and fed by the importers, not the demo.

- hypothesis builds CSV import folders within data-contract §3 (tests/realshape.py: only the required columns,
  all columns, random blanks in every optional column, totals without items, vitals by session and minute),
  imports each into a store made by init, and runs every page as every role that may open it, and the patient,
  eligibility, case-conference and record-session pages for every patient: no exception, no error, no
  None / NaT / nan on screen, and the SQL and Python safety flags equal;
- the FHIR fixture sets imported together: the progress, eligibility and conference views of three patients of each
  shape the fixtures hold render (../shared/tools/real-data-smoke opens every patient);
- a hand-made folder of only the required columns.

KDASH_REALSHAPE_EXAMPLES sets the number of generated folders rendered (default 4, about 35 s on two cores; the
generator's own coverage check, tests/unit/test_realshape_generator.py, draws 60 folders without rendering them; a
failure stops at the first failing folder). KDASH_REALSHAPE_KEEP_GOING=1 runs every folder and reports every
kind of problem at the end; KDASH_REALSHAPE_SHRINK=1 lets hypothesis shrink a failing folder to a smaller one (slow:
each step imports and renders a store); KDASH_REALSHAPE_TABLE_NULLS=0 stops counting table cells drawn as "None". A
failing folder is kept on disk; its path is in the failure message.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, note, settings

from tests.conftest import ROOT
from tests.realshape import (clinic_store, csv_folders, describe, flag_mismatches, page_problems, store_patients,
                             summarise, write_folder)

EXAMPLES = int(os.environ.get("KDASH_REALSHAPE_EXAMPLES", "4"))
SHRINK = os.environ.get("KDASH_REALSHAPE_SHRINK") == "1"
KEEP_GOING = os.environ.get("KDASH_REALSHAPE_KEEP_GOING") == "1"
FHIR = ROOT / "tests" / "fixtures" / "fhir"
FHIR_SETS = ("cms159_fhir_testcases", "cms128_fhir_testcases", "synthea_auc_fhir", "us_core_phq9")


def report(problems: list[str], limit: int = 80) -> str:
    """The distinct problems first (one example each), then every one of them."""
    every = problems[:limit] + ([f"… and {len(problems) - limit} more"] if len(problems) > limit else [])
    return (f"{len(problems)} problem(s), of these kinds:\n  " + "\n  ".join(summarise(problems))
            + "\nevery one:\n  " + "\n  ".join(every))


def keep(files: dict[str, str]) -> Path:
    """A copy of a failing folder that outlives the test, to import and open by hand."""
    return write_folder(files, Path(tempfile.mkdtemp(prefix="kdash-realshape-")))


def test_generated_clinic_folders_render_on_every_page_for_every_role(tmp_path_factory):
    every: list[str] = []
    folders: list[Path] = []

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=True,
              phases=[Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if SHRINK else []),
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(files=csv_folders())
    def example(files):
        note(describe(files))
        folder = tmp_path_factory.mktemp("realshape")
        store = folder / "clinic.duckdb"
        clinic_store(store, files)                       # asserts the folder imports with no problem at all
        problems = page_problems(store) + flag_mismatches(store)
        shutil.rmtree(folder, ignore_errors=True)
        if problems:
            kept = keep(files)
            if KEEP_GOING:                               # every example, then every kind of problem at once
                every.extend(problems)
                folders.append(kept)
                return
            raise AssertionError(f"folder kept at {kept} (python -m kdash init, then import it, to look)\n"
                                 + report(problems))

    example()
    assert every == [], report(every) + "\nfailing folders kept at:\n  " + "\n  ".join(map(str, folders))


def test_the_fhir_fixture_sets_imported_together_render_for_patients_of_every_shape(tmp_path):
    store = tmp_path / "fhir.duckdb"
    rep = clinic_store(store, [FHIR / name for name in FHIR_SETS], skip_invalid=True)
    assert rep.written["patients"] >= 20, rep.written
    assert len(store_patients(store)) == rep.written["patients"]
    problems = page_problems(store, patient_ids=fhir_sample(store), patient_pages={
        "patient": "patient_id", "eligibility": "patient_id", "conference": "case"})
    problems += flag_mismatches(store)
    assert problems == [], report(problems)


def fhir_sample(store, per_shape: int = 3) -> list[str]:
    """Three patients of each shape the fixtures hold (which scales, items or totals only, readings, trials,
    screening, diagnosis), to keep CI short; `../shared/tools/real-data-smoke` opens every patient of external/."""
    from kdash.store import db
    con = db.connect(str(store), read_only=True)
    try:
        rows = con.execute("""
            SELECT p.patient_id,
                   (SELECT string_agg(DISTINCT scale || CASE WHEN items IS NULL THEN '' ELSE '+items' END, ','
                                      ORDER BY scale || CASE WHEN items IS NULL THEN '' ELSE '+items' END)
                      FROM assessments a WHERE a.patient_id = p.patient_id) AS scales,
                   EXISTS (SELECT 1 FROM vitals v WHERE v.patient_id = p.patient_id) AS readings,
                   EXISTS (SELECT 1 FROM antidepressant_trials t WHERE t.patient_id = p.patient_id) AS trials,
                   EXISTS (SELECT 1 FROM screening x WHERE x.patient_id = p.patient_id) AS screened,
                   p.primary_diagnosis IS NOT NULL AS diagnosed
            FROM patients p ORDER BY p.patient_id""").fetchall()
    finally:
        con.close()
    chosen, seen = [], {}
    for pid, *shape in rows:
        key = tuple(shape)
        if seen.get(key, 0) < per_shape:
            seen[key] = seen.get(key, 0) + 1
            chosen.append(pid)
    return chosen


MINIMAL = {
    "patients.csv": "patient_id,birth_date,sex\n"
                    "P-1,1980-05-01,F\n"
                    "Q & A #2,1975-11-30,M\n"
                    "Ærø 3?,1990-02-14,X\n"
                    "never treated,1969-07-20,F\n",
    "antidepressant_trials.csv": "patient_id,drug,dose_mg_per_day,start_date,outcome\n"
                                 "P-1,sertraline,150,2024-01-10,no_response\n"
                                 "P-1,venlafaxine,225,2024-06-01,partial_response\n",
    "screening.csv": "patient_id,item,status\nP-1,pregnancy,absent\nQ & A #2,psychosis_current,absent\n",
    "sessions.csv": "session_id,patient_id,scheduled_at,status,route\n"
                    "S1,P-1,{d1}T09:00,completed,iv_ketamine\n"
                    "S2,P-1,{d2}T09:00,completed,iv_ketamine\n"
                    "S3,P-1,{d3}T09:00,no_show,iv_ketamine\n"
                    "S4,Q & A #2,{d2}T10:30,completed,esketamine\n"
                    "S5,Q & A #2,{d3}T10:30,cancelled,esketamine\n"
                    "S6,Ærø 3?,{d3}T14:00,completed,sc_ketamine\n",
    "assessments.csv": "patient_id,assessed_on,scale,total\n"
                       "P-1,{d0},MADRS,32\nP-1,{d2},MADRS,20\nP-1,{d3},PHQ9,9\n"
                       "Q & A #2,{d0},PHQ9,18\nQ & A #2,{d2},CADSS,12\nQ & A #2,{d2},MOAAS,3\n"
                       "Ærø 3?,{d3},HAMD17,21\n",
    "vitals.csv": "session_id,minute,systolic,diastolic\n"
                  "S1,-5,150,95\nS1,40,185,112\nS4,-5,128,82\nS4,40,144,88\n",
    "side_effects.csv": "session_id,effect\nS1,dissociation\nS4,nausea\n",
}


def test_a_folder_of_only_the_required_columns_renders_everywhere(tmp_path):
    import datetime as dt
    today = dt.date.today()
    days = {f"d{i}": (today - dt.timedelta(days=n)).isoformat() for i, n in enumerate((12, 9, 6, 3))}
    files = {name: text.format(**days) for name, text in MINIMAL.items()}
    store = tmp_path / "minimal.duckdb"
    clinic_store(store, files, cli=True)             # init and import as a clinic would, on the command line
    problems = page_problems(store) + flag_mismatches(store)
    assert problems == [], report(problems)


# ---------------------------------------------------------------------------------------------------------------
# the harness itself: it sees what goes wrong, and finds nothing on a store that renders cleanly

def test_the_harness_finds_nothing_wrong_on_the_demo(tmp_path):
    """The demo renders cleanly, so anything found here is the harness's mistake (or a new product bug)."""
    from kdash import demo
    store = tmp_path / "demo.duckdb"
    demo.build(str(store), patients=30, seed=4)
    pids = [p for p, _ in store_patients(store)][:4]
    problems = page_problems(store, patient_ids=pids) + flag_mismatches(store)
    assert problems == [], report(problems)


def test_the_harness_sees_an_exception_an_error_and_a_missing_value_on_screen():
    from streamlit.testing.v1 import AppTest

    from tests.realshape import link_problems, visible_problems

    def script():
        import pandas as pd
        import streamlit as st
        st.subheader(f"{None} Smith")
        st.metric("Dose", f"{float('nan'):g} mg")
        st.caption("[eligibility](/eligibility?patient_id=A&B #1)")
        st.error("No patient with ID 'A&B #1' in this store.")
        with st.expander(f"Earlier {pd.NaT}"):
            st.write("none of these words is a problem: Nancy, nonetheless, NaNa, Nan, none")
        st.selectbox("Session", ["2026-01-01 · <NA> mg"])
        raise KeyError("chair")

    from streamlit.testing.v1.util import patch_config_options
    with patch_config_options({"client.showErrorDetails": "full"}):     # as page_problems runs the app
        at = AppTest.from_function(script).run()
    found = visible_problems(at) + link_problems(at, {"patient_id": {"A&B #1"}})
    kinds = [p.split(":")[0] for p in found]
    assert kinds == ["exception", "error alert", "None on screen (subheader)", "nan on screen (metric)",
                     "NaT on screen (expander)", "<NA> on screen (selectbox option)", "broken link (caption)"], found
    assert "KeyError: 'chair'" in found[0]
