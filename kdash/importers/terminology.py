"""What a coded FHIR concept means to kdash: a depressive diagnosis, a screening item of clinical reference §2, an
antidepressant. Three sources, in this order, each named in what it finds:

1. the published eCQM value sets (VSAC expansions, kdash/importers/valuesets.json, remade by tools/make_valuesets.py):
   major depression (with remission), dysthymia, bipolar disorder, schizophrenia or psychotic disorder, substance use
   disorder, antidepressant medications;
2. ICD-10-CM categories for the §2 items no measure publishes a value set for (aneurysm, intracerebral haemorrhage,
   …), and for depression codes the value sets do not list (F32, F33, F34.1, F31.x);
3. words in the concept's display text, for SNOMED CT and local codes outside both (Synthea's "Dependent drug abuse
   (disorder)"), so a record's own words are never silently lost.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SYSTEMS = {"http://snomed.info/sct": "SNOMED CT", "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
           "http://hl7.org/fhir/sid/icd-10": "ICD-10", "urn:oid:2.16.840.1.113883.6.90": "ICD-10-CM",
           "urn:oid:2.16.840.1.113883.6.96": "SNOMED CT", RXNORM: "RxNorm", "http://loinc.org": "LOINC"}
_ICD = {"http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10", "urn:oid:2.16.840.1.113883.6.90",
        "urn:oid:2.16.840.1.113883.6.3"}
_SCT = {SNOMED, "urn:oid:2.16.840.1.113883.6.96"}

DEPRESSIVE = ("mdd", "pdd", "bipolar_depression")


@dataclass(frozen=True)
class Finding:
    """One thing a concept says: a diagnosis (kind "diagnosis", value mdd/pdd/bipolar_depression/other) or a
    screening item present (kind "screening", value the item), with the rule that said so."""
    kind: str
    value: str
    because: str          # "eCQM value set Major Depression Including Remission (…)", "ICD-10-CM F31.5", "the words …"
    current: bool = False  # a §2 item about now (substance use, pregnancy …): only an active condition counts


@lru_cache(maxsize=1)
def value_sets() -> dict:
    return json.loads(resources.files("kdash.importers").joinpath("valuesets.json").read_text("utf-8"))


@lru_cache(maxsize=1)
def _index() -> dict[tuple[str, str], list[dict]]:
    out: dict[tuple[str, str], list[dict]] = {}
    for vs in value_sets()["value_sets"]:
        for system, code, display in vs["codes"]:
            out.setdefault((_system(system), _code(system, code)), []).append({**vs, "display": display})
    return out


def _system(system: str | None) -> str:
    s = (system or "").strip()
    return ICD10CM if s in _ICD else SNOMED if s in _SCT else s


def _code(system: str | None, code: str | None) -> str:
    """ICD-10 codes with their dot ("F321" → "F32.1"), upper case; others as given."""
    c = (code or "").strip()
    if _system(system) == ICD10CM:
        c = c.upper().replace(".", "")
        return c[:3] + ("." + c[3:] if len(c) > 3 else "")
    return c


def system_name(system: str | None) -> str:
    return SYSTEMS.get((system or "").strip(), system or "no code system")


def in_value_set(system: str | None, code: str | None) -> list[dict]:
    return _index().get((_system(system), _code(system, code)), [])


# --- 2. ICD-10-CM categories (2024 tabular list) for the items of clinical reference §2 -----------------------------
ICD10_ITEMS: tuple[tuple[str, str, bool], ...] = (   # (code prefix, screening item, about now)
    ("I71", "aneurysmal_vascular_disease", False), ("I72", "aneurysmal_vascular_disease", False),
    ("I67.1", "aneurysmal_vascular_disease", False), ("I25.3", "aneurysmal_vascular_disease", False),
    ("Q28.0", "arteriovenous_malformation", False), ("Q28.2", "arteriovenous_malformation", False),
    ("Q27.3", "arteriovenous_malformation", False),
    ("I61", "intracerebral_hemorrhage", False), ("I69.1", "intracerebral_hemorrhage", False),
    ("F20", "psychotic_disorder_history", False), ("F22", "psychotic_disorder_history", False),
    ("F23", "psychotic_disorder_history", False), ("F25", "psychotic_disorder_history", False),
    ("F28", "psychotic_disorder_history", False), ("F29", "psychotic_disorder_history", False),
    ("F16", "ketamine_or_pcp_misuse", False),
    *((f"F1{d}", "substance_use_disorder_3m", True) for d in (0, 1, 2, 3, 4, 5, 6, 8, 9)),   # F17: nicotine
    ("I21", "unstable_cardiovascular", True), ("I22", "unstable_cardiovascular", True),
    ("I20.0", "unstable_cardiovascular", True), ("I63", "unstable_cardiovascular", True),
    ("I50", "unstable_cardiovascular", True),
    ("G47.33", "sleep_apnea_untreated", True),
    ("R56", "seizures_unexplained", False), ("G40", "seizures_unexplained", False),
    *((f"S06.{d}", "severe_head_injury", False) for d in range(1, 10)),     # S06.0: concussion
    ("G93.2", "raised_intracranial_pressure", True), ("G93.6", "raised_intracranial_pressure", True),
    ("K72", "hepatic_impairment_moderate", True), ("K74.6", "hepatic_impairment_moderate", True),
    ("K70.3", "hepatic_impairment_moderate", True), ("K70.4", "hepatic_impairment_moderate", True),
    ("N30.1", "cystitis", False), ("N30.2", "cystitis", False),
    ("F01", "cognitive_impairment", False), ("F02", "cognitive_impairment", False),
    ("F03", "cognitive_impairment", False), ("G30", "cognitive_impairment", False),
    ("G31.84", "cognitive_impairment", False), ("F06.7", "cognitive_impairment", False),
    ("Z33.1", "pregnancy", True), ("O", "pregnancy", True),
)
ICD10_DIAGNOSES: tuple[tuple[str, str], ...] = (   # (prefix, diagnosis), the first match wins
    ("F31.3", "bipolar_depression"), ("F31.4", "bipolar_depression"), ("F31.5", "bipolar_depression"),
    ("F31.75", "bipolar_depression"), ("F31.76", "bipolar_depression"), ("F31", "other"),
    ("F34.1", "pdd"), ("F32", "mdd"), ("F33", "mdd"),
)

# --- 3. words of the display text (SNOMED CT and local codes outside the value sets) -------------------------------
_WORDS: tuple[tuple[str, str, bool], ...] = (   # (pattern, screening item, about now)
    (r"aneurysm", "aneurysmal_vascular_disease", False),
    (r"arteriovenous malformation", "arteriovenous_malformation", False),
    (r"intracerebral ha?emorrhage|cerebral ha?emorrhage|ha?emorrhagic stroke", "intracerebral_hemorrhage", False),
    (r"schizophreni|schizoaffective|psychotic disorder|delusional disorder|\bpsychosis\b", "psychotic_disorder_history",
     False),
    (r"phencyclidine|\bketamine\b.*(abuse|misuse|dependence|use disorder)|hallucinogen.*(abuse|dependence|use "
     r"disorder)", "ketamine_or_pcp_misuse", False),
    (r"(drug|substance|alcohol|opioid|cannabis|cocaine|amphetamine|stimulant|sedative|benzodiazepine)\w* "
     r"(abuse|dependence|use disorder|misuse)|alcoholism|misuses drugs|unhealthy alcohol|drug addiction",
     "substance_use_disorder_3m", True),
    (r"myocardial infarction|unstable angina|cerebrovascular accident|\bstroke\b|heart failure",
     "unstable_cardiovascular", True),
    (r"sleep apn(o)?ea", "sleep_apnea_untreated", True),
    (r"epilep|seizure|convulsi", "seizures_unexplained", False),
    (r"traumatic brain injury|intracranial injury|severe head injury|cerebral contusion|brain injury",
     "severe_head_injury", False),
    (r"intracranial hypertension|raised intracranial pressure|cerebral (o)?edema", "raised_intracranial_pressure", True),
    (r"cirrhosis|hepatic failure|liver failure|hepatic insufficiency", "hepatic_impairment_moderate", True),
    (r"interstitial cystitis|ulcerative cystitis|ketamine.*cystitis|bladder pain syndrome", "cystitis", False),
    (r"dementia|alzheimer|cognitive impairment|neurocognitive disorder", "cognitive_impairment", False),
    (r"\bpregnan(t|cy)\b", "pregnancy", True),
)
_NOT = re.compile(r"history of|past pregnancy|without psychotic|\bno\b|\bnot\b|screening|family history|fear of",
                  re.IGNORECASE)
PSYCHOTIC_FEATURES = re.compile(r"with psychotic|psychotic features|with psychosis|and psychosis|psychosis and",
                                re.IGNORECASE)


def classify_condition(codings: list[dict], text: str | None = None) -> list[Finding]:
    """Everything a Condition's code says, from its codings (and text): at most one diagnosis (the first source that
    knows one) and the screening items present."""
    found: list[Finding] = []
    diagnosis = None
    words = " ".join(dict.fromkeys(w for w in [text or ""] + [c.get("display") or "" for c in codings] if w))
    for c in codings:
        system, code = _system(c.get("system")), _code(c.get("system"), c.get("code"))
        label = f"{system_name(c.get('system'))} {code}"
        for vs in in_value_set(system, code):
            because = f"eCQM value set {vs['title']} ({vs['oid']}, {vs['version']}): {label}"
            if vs["reads_as"] in ("depression", "dysthymia", "bipolar") and diagnosis is None:
                display = vs["display"] or words
                diagnosis = Finding("diagnosis", _diagnosis_of(vs["reads_as"], code if system == ICD10CM else None,
                                                               display), because)
            elif vs["reads_as"] == "psychotic_disorder":
                found.append(Finding("screening", "psychotic_disorder_history", because))
            elif vs["reads_as"] == "substance_use":
                found.append(Finding("screening", "substance_use_disorder_3m", because, current=True))
        if system == ICD10CM:
            if diagnosis is None:
                match = next((d for prefix, d in ICD10_DIAGNOSES if code.startswith(prefix)), None)
                if match:
                    diagnosis = Finding("diagnosis", match, f"ICD-10-CM category of {label}")
            for prefix, item, current in ICD10_ITEMS:
                if code.startswith(prefix):
                    found.append(Finding("screening", item, f"ICD-10-CM category {prefix}: {label}", current))
    if diagnosis is None:
        diagnosis = _diagnosis_from_words(words)
    if diagnosis is not None:
        found.insert(0, diagnosis)
    if PSYCHOTIC_FEATURES.search(words) and not re.search(r"without psychotic", words, re.IGNORECASE):
        found.append(Finding("screening", "psychosis_current", f"the words '{_short(words)}'", current=True))
    if not _NOT.search(words):
        for pattern, item, current in _WORDS:
            if re.search(pattern, words, re.IGNORECASE) and not any(f.value == item for f in found):
                found.append(Finding("screening", item, f"the words '{_short(words)}'", current))
    return _unique(found)


def _diagnosis_of(reads_as: str, icd_code: str | None, display: str) -> str:
    if reads_as == "dysthymia":
        return "pdd"
    if reads_as == "bipolar":
        if icd_code:
            return next((d for prefix, d in ICD10_DIAGNOSES if icd_code.startswith(prefix)), "other")
        return "bipolar_depression" if re.search(r"depress", display, re.IGNORECASE) else "other"
    return "mdd"


def _diagnosis_from_words(words: str) -> Finding | None:
    w = words.lower()
    if "bipolar" in w:
        value = "bipolar_depression" if "depress" in w else "other"
    elif re.search(r"dysthymi|persistent depressive", w):
        value = "pdd"
    elif re.search(r"depressi(ve|on)", w) and re.search(r"disorder|episode|major", w) \
            and not re.search(r"screen|history of|family history", w):
        value = "mdd"
    else:
        return None
    return Finding("diagnosis", value, f"the words '{_short(words)}'")


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:77] + "…"


def _unique(found: list[Finding]) -> list[Finding]:
    seen, out = set(), []
    for f in found:
        if (f.kind, f.value) not in seen:
            seen.add((f.kind, f.value))
            out.append(f)
    return out


# --- antidepressants ----------------------------------------------------------------------------------------------
ANTIDEPRESSANTS = ("sertraline", "fluoxetine", "escitalopram", "citalopram", "paroxetine", "venlafaxine",
                   "desvenlafaxine", "duloxetine", "bupropion", "mirtazapine", "vortioxetine", "nortriptyline",
                   "amitriptyline", "desipramine", "imipramine", "clomipramine", "trazodone", "vilazodone",
                   "fluvoxamine", "levomilnacipran", "phenelzine", "tranylcypromine", "doxepin", "protriptyline",
                   "trimipramine", "maprotiline", "nefazodone", "isocarboxazid", "selegiline", "amoxapine",
                   "esketamine", "brexanolone", "zuranolone", "gepirone")   # dextromethorphan alone: a cough remedy


def antidepressant(codings: list[dict], text: str | None = None) -> tuple[str, str] | None:
    """(drug, the words naming it) for a medication concept that is an antidepressant: by the eCQM antidepressant
    value sets (RxNorm), whose displays name the ingredient, else by an antidepressant's name in the concept's own
    words; None otherwise."""
    words = " ".join(dict.fromkeys(w for w in [text or ""] + [c.get("display") or "" for c in codings] if w)).lower()
    for c in codings:
        for vs in in_value_set(c.get("system"), c.get("code")):
            if vs["reads_as"] == "antidepressant":
                described = f"{vs['display']} {words}".lower()
                drug = next((d for d in ANTIDEPRESSANTS if d in described), None)
                if drug:
                    return drug, described
    drug = next((d for d in ANTIDEPRESSANTS if re.search(rf"\b{d}\b", words)), None)
    return (drug, words) if drug else None
