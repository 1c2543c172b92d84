"""De-identification for case conferences: stable pseudonyms, relative days, age bands, small-cell suppression.

What a de-identified view may show: a pseudonym ("Case 7QX2-K9MD"), sex, diagnosis, route, age in 5-year
bands, and time as "day N since first treatment". Never a name, MRN, patient ID, birth date, free-text
note or calendar date. Cohort tables hide counts under MIN_CELL patients.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re

import duckdb
import pandas as pd

from kdash.store import db
from kdash.store.db import StoreError

MIN_CELL = 5
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"   # Crockford base32: no I, L, O, U to misread aloud
CASE_PATTERN = re.compile(r"^\s*(?:case\s*)?([0-9A-Z]{4})-?([0-9A-Z]{4})\s*$", re.IGNORECASE)


def secret(con: duckdb.DuckDBPyConnection) -> bytes:
    """The store's pseudonym key (made by migration 8, random per store; never leaves the store)."""
    value = db.meta(con, "deid_secret")
    if not value:
        raise StoreError("this store has no de-identification key yet; open it once with the app or any "
                         "writing command to upgrade it")
    return bytes.fromhex(value)


def pseudonym_with(key: bytes, patient_id: str) -> str:
    """'Case XXXX-XXXX': 40 bits of HMAC-SHA256(store key, patient ID) in base32. Stable within a store,
    unrelated across stores, and not reversible without the key."""
    digest = hmac.new(key, patient_id.encode("utf-8"), hashlib.sha256).digest()
    n = int.from_bytes(digest[:5], "big")
    code = "".join(_ALPHABET[(n >> shift) & 31] for shift in range(35, -1, -5))
    return f"Case {code[:4]}-{code[4:]}"


def pseudonym(con: duckdb.DuckDBPyConnection, patient_id: str) -> str:
    return pseudonym_with(secret(con), patient_id)


def normalise_case(text: str) -> str | None:
    """A typed case code in any spacing or case ('7qx2k9md', 'Case 7QX2-K9MD') → 'Case 7QX2-K9MD'."""
    m = CASE_PATTERN.match(text or "")
    return f"Case {m.group(1).upper()}-{m.group(2).upper()}" if m else None


def find_case(con: duckdb.DuckDBPyConnection, case: str) -> str | None:
    """The patient ID behind a case code, or None (a pass over the patient IDs; 100,000 take ~0.1 s)."""
    wanted = normalise_case(case)
    if wanted is None:
        return None
    key = secret(con)
    cur = con.cursor()
    try:
        ids = [r[0] for r in cur.execute("SELECT patient_id FROM patients").fetchall()]
    finally:
        cur.close()
    return next((pid for pid in ids if pseudonym_with(key, pid) == wanted), None)


def age_band(age: int | float | None) -> str:
    """5-year band: 42 → '40–44'; 90 and over one band, '90+' (HIPAA Safe Harbor: ages over 89 aggregated)."""
    if age is None or pd.isna(age):
        return "age unknown"
    if age >= 90:
        return "90+"
    low = int(age) // 5 * 5
    return f"{low}–{low + 4}"


def day_number(day, first: dt.date | None) -> int | None:
    """Days since the first treatment (day 0); negative before it."""
    if first is None or day is None or pd.isna(day):
        return None
    return (pd.Timestamp(day).date() - pd.Timestamp(first).date()).days


def day_label(n: int | None) -> str:
    return "day ?" if n is None else f"day {n}"


def suppress(df: pd.DataFrame, counts: list[str], derived: dict[str, list[str]] | None = None,
             min_cell: int = MIN_CELL) -> pd.DataFrame:
    """Counts of 1 to min_cell − 1 patients become '<5' (0 stays: it tells nothing about anyone), and
    the columns derived from a hidden count (a rate from it) become '—'."""
    out = df.copy().astype({c: object for c in counts + [d for ds in (derived or {}).values() for d in ds]})
    for col in counts:
        small = df[col].notna() & (df[col] > 0) & (df[col] < min_cell)
        out.loc[small, col] = f"<{min_cell}"
        for dep in (derived or {}).get(col, []):
            out.loc[small, dep] = "—"
    return out


def hide_small_rates(points: pd.DataFrame, min_cell: int = MIN_CELL) -> pd.DataFrame:
    """Timepoint rates (and their intervals) resting on 1 to min_cell − 1 responders or remitters left out: a bar
    of 0.7 % of 281 says "2 patients" as plainly as the count."""
    shown = points.copy()
    for what, count in (("response", "responders"), ("remission", "remitters")):
        small = (shown[count] > 0) & (shown[count] < min_cell)
        shown.loc[small, [f"{what}_rate", f"{what}_low", f"{what}_high"]] = None
    return shown
