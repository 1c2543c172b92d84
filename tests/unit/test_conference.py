"""De-identification and case-conference packs.

A store with known names, MRNs, birth dates and calendar dates is exported as PDF and PPTX for a patient and
for a cohort; every piece of text in the files (the PDF's text and metadata, every XML part of the PPTX, and
the SVG of every figure) is searched for those identifiers and for anything that looks like a calendar date.
"""

import datetime as dt
import io
import re
import shutil
import subprocess
import zipfile

import pytest

from kdash import settings
from kdash.clinical import deid
from kdash import demo
from kdash.present import conference, export
from kdash.store import db
from tests.builders import Clinic, day

CFG = settings.load()
TODAY = day(60)

# identifiers that must never leave the store in a de-identified pack
PEOPLE = {
    "P-7001": ("Aurelia", "Quenneville", "MRN-48213977", dt.date(1979, 4, 23)),
    "P-7002": ("Bartholomew", "Xiong-Ramsay", "MRN-55120934", dt.date(1962, 11, 2)),
}
DATE_LIKE = [
    re.compile(r"\b(19|20)\d\d[-/.](0?[1-9]|1[0-2])[-/.](0?[1-9]|[12]\d|3[01])\b"),          # 2026-03-02
    re.compile(r"\b(0?[1-9]|[12]\d|3[01])[-/.](0?[1-9]|1[0-2])[-/.]((19|20)?\d\d)\b"),         # 02/03/2026
    re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{1,2},? (19|20)\d\d\b", re.I),
    re.compile(r"\b\d{1,2} (jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]* (19|20)\d\d\b", re.I),
    re.compile(r"\b(19|20)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\b"),                         # 20260302
]


def identifiers() -> list[str]:
    out = []
    for pid, (given, family, mrn, born) in PEOPLE.items():
        out += [pid, given, family, mrn, born.isoformat(), born.strftime("%d/%m/%Y"), born.strftime("%m/%d/%Y"),
                born.strftime("%d %b %Y"), born.strftime("%B %d, %Y")]
    return out


def leaks(text: str) -> list[str]:
    found = [x for x in identifiers() if x.lower() in text.lower()]
    found += [m.group(0) for pattern in DATE_LIKE for m in pattern.finditer(text)]
    return found


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Two named patients with a full course, and 8 more so that a cohort of 10 can be shown."""
    c = Clinic(str(tmp_path_factory.mktemp("conf") / "conf.duckdb"))
    for i in range(10):
        pid = list(PEOPLE)[i] if i < 2 else f"P-71{i:02d}"
        given, family, mrn, born = PEOPLE.get(pid, ("Test", f"Person{i}", f"MRN-9{i:07d}", dt.date(1970 + i, 1, 15)))
        c.patient(pid, sex="F" if i % 2 == 0 else "M", born=born, given_name=given, family_name=family, mrn=mrn)
        c.score(pid, -2, "MADRS", 30 + i % 5)
        sessions = [c.session(pid, d) for d in (0, 3, 7, 10, 14, 17)]
        c.bp(pid, sessions[0], -10, 150, 92)
        c.bp(pid, sessions[0], 40, 172, 98)
        c.score(pid, 0, "CADSS", 6, session_id=sessions[0])
        c.side_effect(sessions[0], "nausea", "mild")
        c.side_effect(sessions[1], "dizziness", "moderate")
        c.score(pid, 8, "MADRS", 20 - i)
        c.score(pid, 18, "MADRS", 12 - i % 4)
    c.con.execute("INSERT INTO antidepressant_trials VALUES ('P-7001', 'sertraline', 150, ?, ?, 'no_response', TRUE)",
                  [day(-400), day(-330)])
    yield c.con
    c.close()


@pytest.fixture(scope="module")
def packs(store):
    patient = conference.patient_pack(store, CFG, "P-7001", TODAY)
    cohort = conference.cohort_pack(store, CFG, route="all", analysis_set="itt")
    return {"patient": patient, "cohort": cohort}


def test_pseudonyms_are_stable_within_a_store_and_differ_across_stores(tmp_path, store):
    first = deid.pseudonym(store, "P-7001")
    assert re.fullmatch(r"Case [0-9A-Z]{4}-[0-9A-Z]{4}", first)
    assert deid.pseudonym(store, "P-7001") == first != deid.pseudonym(store, "P-7002")
    a, b = str(tmp_path / "a.duckdb"), str(tmp_path / "b.duckdb")
    demo.build(a, patients=5, seed=1)
    demo.build(b, patients=5, seed=1)          # the same patients, another store
    ca, cb = db.connect(a), db.connect(b)
    try:
        ids = [r[0] for r in ca.execute("SELECT patient_id FROM patients").fetchall()]
        in_a = [deid.pseudonym(ca, p) for p in ids]
        assert in_a == [deid.pseudonym(ca, p) for p in ids]                       # stable across calls
        assert all(x != y for x, y in zip(in_a, (deid.pseudonym(cb, p) for p in ids)))
    finally:
        ca.close()
        cb.close()
    reopened = db.connect(a)
    try:
        assert [deid.pseudonym(reopened, p) for p in ids] == in_a                  # stable across runs
    finally:
        reopened.close()


def test_a_case_code_finds_its_patient_however_it_is_typed(store):
    case = deid.pseudonym(store, "P-7002")
    code = case.removeprefix("Case ")
    for typed in (case, code, code.lower(), code.replace("-", ""), f"  case {code}  "):
        assert deid.find_case(store, typed) == "P-7002"
    assert deid.find_case(store, "Case 0000-0000") is None
    assert deid.find_case(store, "not a code") is None


@pytest.mark.parametrize("age, band", [(18, "15–19"), (40, "40–44"), (44, "40–44"), (45, "45–49"), (None, "age unknown"),
                                       (89, "85–89"), (90, "90+"), (95, "90+"), (104, "90+")])   # Safe Harbor: 90+
def test_age_bands_are_five_years_wide(age, band):
    assert deid.age_band(age) == band


def test_small_cells_are_hidden_and_their_rates_with_them():
    import pandas as pd
    df = pd.DataFrame({"effect": ["a", "b", "c"], "patients": [0, 3, 12], "share": [0.0, 0.03, 0.12]})
    out = deid.suppress(df, ["patients"], {"patients": ["share"]})
    assert list(out["patients"]) == [0, "<5", 12]
    assert list(out["share"]) == [0.0, "—", 0.12]


def test_the_patient_pack_tells_the_case_without_identifying_it(packs, store):
    p = packs["patient"]
    assert p.title == deid.pseudonym(store, "P-7001")
    assert p.summary[0] == ("Age 45–49 · female · major depressive disorder · IV ketamine · "
                            "1 prior failed adequate antidepressant trial")     # 1979 → 46 at day 0 (2026-03-02)
    assert p.summary[1].startswith("6 completed sessions from day 0 to day 17")
    assert [f.key for f in p.figures] == ["trend_madrs", "sessions", "blood_pressure", "dissociation", "side_effects"]
    sessions = next(t.df for t in p.tables if t.title == "Sessions")
    assert list(sessions["Day"]) == [0, 3, 7, 10, 14, 17]
    scores = next(t.df for t in p.tables if t.title == "MADRS scores")
    assert list(scores["Day"]) == [-2, 8, 18]
    trend = p.figures[0].fig
    assert trend["data"][0]["customdata"] == ("day -2", "day 8", "day 18") or \
        list(trend["data"][0]["customdata"]) == ["day -2", "day 8", "day 18"]


def test_the_cohort_pack_shows_outcomes_and_side_effects(packs):
    c = packs["cohort"]
    assert c.refusal is None
    assert c.summary[0] == "MADRS; 10 treated, 10 evaluable"
    assert [f.key for f in c.figures] == ["timepoints", "mean_course", "waterfall", "time_to_response", "side_effects"]
    effects = next(t.df for t in c.tables if t.title.startswith("Side effects"))
    assert set(effects["Side effect"]) == {"nausea", "dizziness"}
    assert set(effects["Patients with it (95 % CI)"]) == {"10 of 10 · 100.0 % (72.2–100.0 %)"}   # Wilson, n = 10


def test_a_cohort_under_five_patients_is_refused(store):
    pack = conference.cohort_pack(store, CFG, route="all", analysis_set="itt", sex="F", age_band="65+")
    assert pack.refusal and not pack.figures and not pack.tables


@pytest.mark.parametrize("text, problem", [("rout=x", "unknown cohort filter 'rout'"), ("route", "not key=value"),
                                           ("route=iv", "unknown route 'iv'"), ("sex=Q", "unknown sex"),
                                           ("set=all", "unknown analysis set"), ("start=2026-02-30", "expected a date"),
                                           ("age_band=18-29,scale=XYZ", "unknown outcome scale")])
def test_cohort_filters_from_the_command_line_name_their_problem(text, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        conference.parse_cohort(text)


def test_cohort_filters_parse(text="route=esketamine, set=completers,sex=F,age_band=30-44"):
    assert conference.parse_cohort(text) == {"route": "esketamine", "analysis_set": "completers", "sex": "F",
                                             "age_band": "30–44"}
    assert conference.parse_cohort("all") == {"route": "all", "analysis_set": "itt"}


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages) + "\n" + " ".join(
        str(v) for k, v in (reader.metadata or {}).items() if k != "/CreationDate")


def pptx_xml(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith((".xml", ".rels")))


@pytest.mark.parametrize("kind", ["patient", "cohort"])
def test_exported_files_hold_no_identifier_and_no_calendar_date(packs, kind, tmp_path):
    pack = packs[kind]
    pdf, deck = export.pdf(pack), export.pptx(pack)
    assert leaks(pdf_text(pdf)) == []
    assert leaks(pptx_xml(deck)) == []
    for f in pack.figures:                      # text drawn inside the figures
        assert leaks(export.image(f.fig, "svg").decode("utf-8")) == [], f.key
    assert pack.title in pdf_text(pdf) and conference.FOOTER in pdf_text(pdf)
    assert conference.FOOTER in pptx_xml(deck)
    (tmp_path / f"{kind}.pdf").write_bytes(pdf)
    (tmp_path / f"{kind}.pptx").write_bytes(deck)


def test_the_checker_would_catch_a_leak():
    """The search above can fail: it finds names, MRNs, birth dates and dates in the usual formats."""
    assert leaks("Aurelia Quenneville MRN-48213977") == ["Aurelia", "Quenneville", "MRN-48213977"]
    assert len(leaks("born 1979-04-23; seen 02/03/2026, 5 March 2026, March 5, 2026, 20260302")) == 6


@pytest.mark.parametrize("kind", ["patient", "cohort"])
def test_the_pptx_opens_with_the_expected_slides(packs, kind):
    from pptx import Presentation
    pack = packs[kind]
    deck = Presentation(io.BytesIO(export.pptx(pack)))
    titles = [next(s.text_frame.text for s in slide.shapes if s.has_text_frame) for slide in deck.slides]
    assert titles[0] == pack.title
    assert titles[1:1 + len(pack.figures)] == [f.title for f in pack.figures]
    assert all(any(t.startswith(table.title) for t in titles) for table in pack.tables)
    pictures = [s for slide in deck.slides for s in slide.shapes if s.shape_type == 13]
    assert len(pictures) == len(pack.figures)
    footers = [slide for slide in deck.slides if any(s.has_text_frame and s.text_frame.text == conference.FOOTER
                                                     for s in slide.shapes)]
    assert len(footers) == len(deck.slides)


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_the_pdf_renders_to_png_pages(packs, tmp_path):
    (tmp_path / "p.pdf").write_bytes(export.pdf(packs["patient"]))
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(tmp_path / "p.pdf"), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 3
    from PIL import Image
    with Image.open(pages[0]) as im:
        assert im.size[1] > im.size[0] and len(im.convert("L").getcolors(65536) or []) > 10   # portrait, not blank


def test_exported_figures_use_the_screen_template(packs):
    """The PNG / SVG come from the very figure the page draws, with the kdash template's colours."""
    fig = packs["patient"].figures[0].fig
    assert fig["layout"]["template"]["layout"]["colorway"][0] == "#0072B2"
    svg = export.image(fig, "svg").decode("utf-8")
    assert "rgb(0, 114, 178)" in svg or "#0072B2".lower() in svg.lower()
    assert export.image(fig, "png")[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("kind", ["patient", "cohort"])
def test_every_pack_table_header_is_in_the_vocabulary(packs, kind):
    from kdash import vocab
    words = set(vocab.COLUMNS.values())
    for t in packs[kind].tables:
        assert set(t.df.columns) <= words, (t.title, set(t.df.columns) - words)
        assert not any("_" in str(v) for v in t.df.astype(str).to_numpy().ravel()), t.title   # no codes in cells


def test_cohort_rates_are_percentages_with_their_interval_and_n(packs):
    table = next(t for t in packs["cohort"].tables if t.title == "Outcomes by timepoint").df
    cells = [c for c in table["Response (95 % CI)"] if c not in ("—",) and not c.startswith("<")]
    assert cells and all(re.fullmatch(r"\d+ of \d+ · \d+\.\d % \(\d+\.\d–\d+\.\d %\)", c) for c in cells), cells


@pytest.mark.parametrize("kind", ["patient", "cohort"])
def test_the_synthetic_marker_is_on_every_page_and_slide_of_a_demo_pack_only(packs, store, kind):
    from pptx import Presentation
    from pypdf import PdfReader
    plain = packs[kind]
    assert not plain.synthetic
    assert conference.SYNTHETIC not in pdf_text(export.pdf(plain))
    store.execute("INSERT OR REPLACE INTO meta VALUES ('demo', 'true')")
    try:
        marked = (conference.patient_pack(store, CFG, "P-7001", TODAY) if kind == "patient"
                  else conference.cohort_pack(store, CFG, route="all", analysis_set="itt"))
    finally:
        store.execute("DELETE FROM meta WHERE key = 'demo'")
    assert marked.synthetic
    pages = PdfReader(io.BytesIO(export.pdf(marked))).pages
    assert all(conference.SYNTHETIC in p.extract_text() for p in pages)
    slides = Presentation(io.BytesIO(export.pptx(marked))).slides
    assert all(any(s.has_text_frame and conference.SYNTHETIC in s.text_frame.text for s in slide.shapes)
               for slide in slides)


@pytest.mark.parametrize("kind", ["patient", "cohort"])
def test_the_deck_has_a_slide_per_figure_and_per_dozen_table_rows(packs, kind):
    from pptx import Presentation
    pack = packs[kind]
    slides = Presentation(io.BytesIO(export.pptx(pack))).slides
    assert len(slides) == 1 + len(pack.figures) + sum(max(1, -(-len(t.df) // export.ROWS_PER_SLIDE))
                                                      for t in pack.tables)


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
@pytest.mark.parametrize("kind", ["patient", "cohort"])
def test_no_page_of_the_handout_is_near_empty(packs, kind, tmp_path):
    """Each page but the last is filled at least half way down (figures two to a page, tables flowing on)."""
    from PIL import Image
    pack = packs[kind]
    (tmp_path / "p.pdf").write_bytes(export.pdf(pack))
    subprocess.run(["pdftoppm", "-r", "30", "-gray", "-png", str(tmp_path / "p.pdf"), str(tmp_path / "page")],
                   check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) <= 1 + -(-len(pack.figures) // 2) + len(pack.tables)
    for path in pages[:-1]:
        with Image.open(path) as im:
            px = im.load()
            w, h = im.size
            ink = (lambda v: (v[0] if isinstance(v, tuple) else v) < 200)
            inked = [y for y in range(int(h * 0.9)) if any(ink(px[x, y]) for x in range(0, w, 2))]
            assert inked and max(inked) > h / 2, f"{path.name} of {kind} is near empty"
