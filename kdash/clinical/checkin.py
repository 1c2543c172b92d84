"""Patients' own scores before a session (clinical reference §8, data-contract §8): one-time check-in codes, the
forms with their standard wording, and the self-reports they save.

A code is 8 characters of Crockford's base32 (no I, L, O or U, so nothing reads as another; 40 bits from `secrets`),
shown as 7QX2-K9MD. The store keeps only its SHA-256 and its last four characters (for the list on the patient
page): whoever reads the store cannot open a check-in with it. A code opens one patient's check-in, with that
patient's birth date, until it is sent, expires, is revoked or is locked by `max_tries` wrong birth dates; every
refusal is the same sentence, so a try learns nothing about any patient. Attempts are also limited per client
address (in this process). Sending marks the code used in the same transaction that saves the scores, with a
conditional UPDATE: a double tap, a reload or a second tab never saves twice, on either back end.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import secrets

import duckdb
import pandas as pd

from kdash import ids, scales
from kdash.access import audit
from kdash.clinical import rules
from kdash.access.users import _Attempts
from kdash.store import db, derived

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"       # Crockford's base32: 32 symbols, 5 bits each
LENGTH = 8                                           # 40 bits
_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})
FORMS = ("PHQ9", "GAD7")
SELF_REPORT = "self_report"
PATIENT = ("check-in", "patient")                    # the audit's actor for what the patient does

# One sentence for every refusal: unknown, spent, expired, revoked or locked code, or a wrong birth date.
REFUSED = ("This code and birth date do not open a check-in. Please check them, or ask a member of staff "
           "for a new code.")
FLOOD = "Too many tries from this device. Please wait a minute, or ask a member of staff."
SENT_ALREADY = "These answers have been sent already. Thank you."

QUESTION = "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
GAD_QUESTION = "Over the last 2 weeks, how often have you been bothered by the following problems?"
OPTIONS = ("Not at all", "Several days", "More than half the days", "Nearly every day")   # scored 0–3
ITEMS = {   # Kroenke, Spitzer & Williams 2001 (PHQ-9); Spitzer et al. 2006 (GAD-7): free to use, Pfizer
    "PHQ9": ("Little interest or pleasure in doing things",
             "Feeling down, depressed, or hopeless",
             "Trouble falling or staying asleep, or sleeping too much",
             "Feeling tired or having little energy",
             "Poor appetite or overeating",
             "Feeling bad about yourself — or that you are a failure or have let yourself or your family down",
             "Trouble concentrating on things, such as reading the newspaper or watching television",
             "Moving or speaking so slowly that other people could have noticed? Or the opposite — being so "
             "fidgety or restless that you have been moving around a lot more than usual",
             "Thoughts that you would be better off dead or of hurting yourself in some way"),
    "GAD7": ("Feeling nervous, anxious or on edge",
             "Not being able to stop or control worrying",
             "Worrying too much about different things",
             "Trouble relaxing",
             "Being so restless that it is hard to sit still",
             "Becoming easily annoyed or irritable",
             "Feeling afraid as if something awful might happen"),
}
DIFFICULTY = ("If you checked off any problems, how difficult have these problems made it for you to do your work, "
              "take care of things at home, or get along with other people?")
DIFFICULTY_OPTIONS = ("Not difficult at all", "Somewhat difficult", "Very difficult", "Extremely difficult")
SEND_GRACE = dt.timedelta(hours=1)     # a check-in opened before its code expired may still be sent this long after

ATTEMPTS = _Attempts()


class CheckinError(ValueError):
    """A code that cannot be issued or revoked, or answers that cannot be saved, with the reason."""


@dataclasses.dataclass(frozen=True)
class Opened:
    """A check-in the code and birth date opened: which code (by its hash) and which forms; never the patient's
    name, which the patient's screen does not show."""
    code_hash: str
    forms: tuple[str, ...]


# --- codes --------------------------------------------------------------------------------------------------------

def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalise(typed: str | None) -> str | None:
    """A typed or scanned code as its 8 symbols ('7qx2 k9md', '7QX2-K9MD', '7QX2-K9MO' → '7QX2K9M0'), or None when it
    cannot be one. Look-alikes a person may type (O, I, L, U) are read as the symbol they resemble."""
    text = "".join(c for c in (typed or "")[:40].upper() if c not in " -\t").translate(_ALIASES)
    if len(text) != LENGTH or any(c not in ALPHABET for c in text):
        return None
    return text


def code_hash(code: str) -> str:
    return hashlib.sha256(("kdash-checkin:" + code).encode()).hexdigest()


def pretty(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def parse_forms(text: str | list | tuple | None, cfg: dict) -> tuple[str, ...]:
    """'PHQ9,GAD7' (or a list) as the forms, in the order of FORMS; the clinic's default when none are named."""
    if text is None or (isinstance(text, str) and not text.strip()):
        names = list(cfg["checkin"]["forms"])
    else:
        names = [t.strip().upper().replace("-", "") for t in (text.split(",") if isinstance(text, str) else text)]
    unknown = [n for n in names if n not in FORMS]
    if unknown:
        raise CheckinError(f"unknown form {', '.join(unknown)}; the check-in knows {', '.join(FORMS)}")
    if not names:
        raise CheckinError("choose at least one form")
    return tuple(f for f in FORMS if f in names)


def issue(con: duckdb.DuckDBPyConnection, cfg: dict, patient_id: str, forms=None, hours: float | None = None,
          by: str | None = None, now: dt.datetime | None = None) -> dict:
    """A new one-time code for this patient (data-contract §8), stored as its hash and audited."""
    now = (now or dt.datetime.now()).replace(microsecond=0)
    problem = ids.problem(patient_id)
    if problem:
        raise CheckinError(f"the patient ID {problem}")
    chosen = parse_forms(forms, cfg)
    hours = cfg["checkin"]["hours"] if hours is None else hours
    if not 0 < float(hours) <= 24 * 7:
        raise CheckinError(f"a code is valid for more than 0 and at most {24 * 7} hours, not {hours}")
    row = db.record_row(con, "SELECT deceased FROM patients WHERE patient_id = $p", {"p": patient_id})
    if row is None:
        raise CheckinError(f"there is no patient {patient_id}")
    if row[0]:
        raise CheckinError(f"the record says patient {patient_id} has died")
    code = normalise(new_code())
    expires = now + dt.timedelta(hours=float(hours))
    with db.transaction(con) as cur:
        # one live code per patient: a new slip replaces the last (a lost or unused slip opens nothing more)
        replaced = cur.execute("UPDATE checkin_codes SET revoked_at = $now, revoked_by = $by WHERE patient_id = $p "
                               "AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $now RETURNING hint",
                               {"now": now, "by": by or "cli", "p": patient_id}).fetchall()
        cur.execute("INSERT INTO checkin_codes (code_hash, patient_id, hint, forms, issued_by, issued_at, expires_at) "
                    "VALUES ($h, $p, $hint, $f, $by, $now, $exp)",
                    {"h": code_hash(code), "p": patient_id, "hint": code[-4:], "f": ",".join(chosen), "by": by,
                     "now": now, "exp": expires}).fetchall()
        audit.log(cur, "checkin_issued", username=by, role=None if by else "cli", patient_id=patient_id,
                  detail=f"code …{code[-4:]}; {', '.join(chosen)}; valid {float(hours):g} h"
                         + (f"; replaces …{', …'.join(r[0] for r in replaced)}" if replaced else ""))
    return {"patient_id": patient_id, "code": pretty(code), "url": f"/checkin?code={pretty(code)}",
            "forms": list(chosen), "expires_at": expires.isoformat()}


def state_of(row: dict, cfg: dict, now: dt.datetime) -> str:
    if row.get("used_at") is not None and not pd.isna(row["used_at"]):
        return "used"
    if row.get("revoked_at") is not None and not pd.isna(row["revoked_at"]):
        return "revoked"
    if int(row["failed_tries"]) >= cfg["checkin"]["max_tries"]:
        return "locked"
    if pd.Timestamp(row["expires_at"]) <= pd.Timestamp(now):
        return "expired"
    return "open"


def codes_for(con: duckdb.DuckDBPyConnection, cfg: dict, patient_id: str, now: dt.datetime | None = None,
              limit: int = 20) -> pd.DataFrame:
    """A patient's codes, newest first, with their state (open, used, expired, revoked, locked)."""
    now = now or dt.datetime.now()
    cur = con.cursor()
    try:
        rows = cur.execute("SELECT hint, forms, issued_by, issued_at, expires_at, opened_at, used_at, failed_tries, "
                           "revoked_at, revoked_by FROM checkin_codes WHERE patient_id = $p "
                           "ORDER BY issued_at DESC, hint LIMIT $n", {"p": patient_id, "n": limit}).df()
    finally:
        cur.close()
    rows["state"] = [state_of(r, cfg, now) for r in rows.to_dict("records")]
    return rows


def revoke(con: duckdb.DuckDBPyConnection, cfg: dict, patient_id: str, hint: str, by: str,
           now: dt.datetime | None = None) -> int:
    """Revoke this patient's open codes ending in `hint`; returns how many."""
    now = now or dt.datetime.now()
    with db.transaction(con) as cur:
        done = cur.execute("UPDATE checkin_codes SET revoked_at = $now, revoked_by = $by WHERE patient_id = $p "
                           "AND hint = $hint AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $now "
                           "RETURNING hint", {"now": now, "by": by, "p": patient_id, "hint": hint}).fetchall()
        if not done:
            raise CheckinError(f"no open code ending in {hint} for this patient (used, expired or revoked already)")
        audit.log(cur, "checkin_revoked", username=by, patient_id=patient_id, detail=f"code …{hint}")
    return len(done)


# --- the patient's side --------------------------------------------------------------------------------------------

def open_checkin(con: duckdb.DuckDBPyConnection, cfg: dict, typed_code: str | None, birth_date: dt.date | None,
                 client: str | None = None, now: dt.datetime | None = None) -> Opened | str:
    """The check-in a code and birth date open, or the one sentence that says no (REFUSED or FLOOD). A wrong birth date
    for a live code counts towards its lock; every attempt counts towards the client address's limit."""
    now = now or dt.datetime.now()
    c = cfg["checkin"]
    if client and not ATTEMPTS.allow(client, c["tries_per_minute"]):
        _audit_refusal(con, None, "too many tries from one address", now)
        return FLOOD
    code = normalise(typed_code)
    row = db.record_row(con, "SELECT k.patient_id, k.forms, k.expires_at, k.used_at, k.revoked_at, k.failed_tries, "
                             "p.birth_date, p.deceased FROM checkin_codes k JOIN patients p USING (patient_id) "
                             "WHERE k.code_hash = $h", {"h": code_hash(code)}) if code else None
    if row is None:
        _audit_refusal(con, None, "unknown code", now)
        return REFUSED
    pid, forms, expires, used, revoked, tries, born, deceased = row
    live = used is None and revoked is None and tries < c["max_tries"] and expires > now and not deceased
    if not live:
        _audit_refusal(con, pid, "code used, expired, revoked or locked", now)
        return REFUSED
    if birth_date is None or pd.Timestamp(born).date() != birth_date:
        with db.transaction(con) as cur:
            cur.execute("UPDATE checkin_codes SET failed_tries = failed_tries + 1 WHERE code_hash = $h",
                        {"h": code_hash(code)}).fetchall()
            audit.log(cur, "checkin_refused", *PATIENT, patient_id=pid, at=now,
                      detail=f"code …{code[-4:]}: wrong birth date ({tries + 1} of {c['max_tries']})"
                             + ("; the code is locked" if tries + 1 >= c["max_tries"] else ""))
        return REFUSED
    with db.transaction(con) as cur:
        cur.execute("UPDATE checkin_codes SET opened_at = coalesce(opened_at, $now) WHERE code_hash = $h",
                    {"now": now, "h": code_hash(code)}).fetchall()
        audit.log(cur, "checkin_opened", *PATIENT, patient_id=pid, at=now, detail=f"code …{code[-4:]}")
    return Opened(code_hash(code), tuple(forms.split(",")))


def _audit_refusal(con, patient_id: str | None, why: str, now: dt.datetime) -> None:
    with db.transaction(con) as cur:
        audit.log(cur, "checkin_refused", *PATIENT, patient_id=patient_id, detail=why, at=now)


def answers_problem(opened: Opened, answers: dict[str, list]) -> str | None:
    """What is missing from the answers, in the patient's words, or None."""
    for form in opened.forms:
        given = answers.get(form) or []
        missing = [i + 1 for i, a in enumerate(given + [None] * (len(ITEMS[form]) - len(given))) if a is None]
        if missing:
            return f"Please answer question{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))} of " \
                   f"{scales.SCALES[form].name}."
    return None


def send(con: duckdb.DuckDBPyConnection, cfg: dict, opened: Opened, answers: dict[str, list],
         difficulty: int | None = None, now: dt.datetime | None = None) -> dict:
    """Save the answers once, as self-reported assessments of the code's patient, and spend the code, in one
    transaction; the flags are evaluated in it (item 9 above 0 opens the urgent flag at once). Returns
    {"saved": bool, "item9_positive": bool}; saved False when the code was spent meanwhile (another tab, a
    double tap): nothing is written then."""
    now = (now or dt.datetime.now()).replace(microsecond=0)
    problem = answers_problem(opened, answers)
    if problem:
        raise CheckinError(problem)
    for form in opened.forms:
        if any(int(a) not in (0, 1, 2, 3) for a in answers[form]):
            raise CheckinError("an answer is out of range")
    if difficulty is not None and int(difficulty) not in (0, 1, 2, 3):
        raise CheckinError("the difficulty answer is out of range")
    item9 = "PHQ9" in opened.forms and int(answers["PHQ9"][8]) >= cfg["safety"]["phq9_item9_min"]
    with db.transaction(con) as cur:
        spent = cur.execute("UPDATE checkin_codes SET used_at = $now WHERE code_hash = $h AND used_at IS NULL "
                            "AND revoked_at IS NULL AND failed_tries < $max AND opened_at IS NOT NULL "
                            "AND expires_at > $oldest RETURNING patient_id, hint",
                            {"now": now, "h": opened.code_hash, "max": cfg["checkin"]["max_tries"],
                             "oldest": now - SEND_GRACE}).fetchall()
        if not spent:
            return {"saved": False, "item9_positive": False}
        pid, hint = spent[0]
        for form in opened.forms:
            items = [int(a) for a in answers[form]]
            cur.execute("INSERT INTO assessments (patient_id, assessed_on, scale, total, items, session_id, minute, "
                        "source, reported_at, difficulty) VALUES ($p, $d, $sc, $t, $i, NULL, NULL, $src, $at, $dif)",
                        {"p": pid, "d": now.date(), "sc": form, "t": sum(items), "i": items, "src": SELF_REPORT,
                         "at": now, "dif": difficulty if form == "PHQ9" else None}).fetchall()
        derived.refresh(cur, [pid])
        derived.refresh_stamped(con, cur, cfg, [pid])
        audit.log(cur, "checkin_sent", *PATIENT, patient_id=pid, at=now,
                  detail=f"code …{hint}; {', '.join(opened.forms)}" + ("; PHQ-9 item 9 above 0" if item9 else ""))
    return {"saved": True, "item9_positive": item9}


# --- in the clinic -------------------------------------------------------------------------------------------------

def strike(con: duckdb.DuckDBPyConnection, cfg: dict, patient_id: str, scale: str, reported_at, reason: str,
           by: str, now: dt.datetime | None = None) -> None:
    """Strike a self-report made in error: moved to struck_assessments with who, when and why (kept, audited), so
    no statistic, trend or flag reads it any more."""
    now = now or dt.datetime.now()
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise CheckinError("give the reason the self-report was made in error")
    if len(reason) > 500:
        raise CheckinError(f"the reason has {len(reason)} characters; at most 500")
    at = pd.Timestamp(reported_at).to_pydatetime()
    key = {"p": patient_id, "s": scale, "at": at, "src": SELF_REPORT}
    where = "patient_id = $p AND scale = $s AND reported_at = $at AND source = $src"
    with db.transaction(con) as cur:
        rows = cur.execute(f"SELECT total FROM assessments WHERE {where}", key).fetchall()
        if not rows:
            raise CheckinError("that self-report is not in the record (struck already?)")
        cur.execute("INSERT INTO struck_assessments SELECT patient_id, assessed_on, scale, total, items, session_id, "
                    "minute, source, reported_at, difficulty, $by, $now, $why FROM assessments WHERE " + where,
                    {**key, "by": by, "now": now, "why": reason}).fetchall()
        cur.execute(f"DELETE FROM assessments WHERE {where}", key).fetchall()
        derived.refresh(cur, [patient_id])
        derived.refresh_stamped(con, cur, cfg, [patient_id])
        audit.log(cur, "self_report_struck", username=by, patient_id=patient_id,
                  detail=json.dumps({"scale": scale, "reported_at": at.isoformat(), "total": rows[0][0],
                                     "reason": reason}))


def self_reports(con: duckdb.DuckDBPyConnection, cfg: dict, patient_id: str, since: dt.date | None = None) -> pd.DataFrame:
    """A patient's self-reports (newest first), struck ones too, with who struck them and why."""
    cur = con.cursor()
    try:
        return cur.execute(
            "SELECT scale, assessed_on, reported_at, total, items, difficulty, NULL AS struck_by, NULL AS struck_at, "
            "NULL AS reason FROM assessments WHERE patient_id = $p AND source = 'self_report' "
            "AND ($since IS NULL OR assessed_on >= $since) "
            "UNION ALL SELECT scale, assessed_on, reported_at, total, items, difficulty, struck_by, struck_at, reason "
            "FROM struck_assessments WHERE patient_id = $p AND ($since IS NULL OR assessed_on >= $since) "
            "ORDER BY reported_at DESC NULLS LAST, scale", {"p": patient_id, "since": since}).df()
    finally:
        cur.close()


def summary(row: dict) -> str:
    """'PHQ-9 14 (moderate), item 9 = 0' for a self-report row: for staff, never for the patient."""
    sc = scales.SCALES[row["scale"]]
    text = f"{sc.name} {int(row['total'])} ({sc.band(int(row['total']))})"
    items = rules.item_scores(row.get("items"))
    if row["scale"] == "PHQ9" and items is not None and len(items) >= 9:
        text += f", item 9 = {items[8]}"
    return text


def todays_sessions(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date) -> pd.DataFrame:
    """Today's booked or completed sessions, with each patient's names and whether they sent a self-report today
    and hold an open code: the list staff issue check-in codes from."""
    cur = con.cursor()
    try:
        rows = cur.execute(
            "SELECT s.scheduled_at, s.patient_id, p.given_name, p.family_name, p.birth_date, s.status, "
            "EXISTS (SELECT 1 FROM assessments a WHERE a.patient_id = s.patient_id AND a.source = 'self_report' "
            "        AND a.assessed_on = $today) AS reported_today, "
            "EXISTS (SELECT 1 FROM checkin_codes k WHERE k.patient_id = s.patient_id AND k.used_at IS NULL "
            "        AND k.revoked_at IS NULL AND k.expires_at > $now AND k.failed_tries < $max) AS open_code "
            "FROM sessions s JOIN patients p USING (patient_id) "
            "WHERE s.scheduled_at >= $today AND s.scheduled_at < $today + INTERVAL 1 DAY "
            "AND s.status IN ('scheduled', 'completed') AND NOT coalesce(p.deceased, FALSE) "
            "ORDER BY s.scheduled_at, s.patient_id",
            {"today": today, "now": dt.datetime.now(), "max": cfg["checkin"]["max_tries"]}).df()
    finally:
        cur.close()
    return rows


def self_report_counts(con: duckdb.DuckDBPyConnection, cfg: dict, start: dt.date, end: dt.date,
                       clinician: str | None = None) -> tuple[int, int]:
    """(self-reported, all) depression and anxiety scores of [start, end] (struck ones are not in the record), for
    the manager's report: how much of the clinic's measurement the patients send themselves."""
    cur = con.cursor()
    try:
        row = cur.execute(
            "SELECT count(*) FILTER (WHERE a.source = 'self_report'), count(*) FROM assessments a "
            "JOIN patients p USING (patient_id) WHERE a.assessed_on BETWEEN $start AND $end "
            "AND list_contains($scales, a.scale) AND ($clinician IS NULL OR p.clinician = $clinician)",
            {"start": start, "end": end, "clinician": clinician,
             "scales": [*scales.DEPRESSION_SCALES, "GAD7"]}).fetchone()
    finally:
        cur.close()
    return int(row[0]), int(row[1])
