"""Hand-built stores for rule and statistic tests: a few rows, written in the test that checks them."""

from __future__ import annotations

import datetime as dt
import itertools

from kdash.store import db

D0 = dt.date(2026, 3, 2)      # a Monday
_ids = itertools.count(1)


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


class Clinic:
    """A tiny store with helpers that read like the record: patient(), session(), score(), bp()."""

    def __init__(self, path: str):
        self.path = path
        self.con = db.connect(path)

    def patient(self, pid: str, sex: str = "F", born: dt.date = dt.date(1980, 5, 1), **extra) -> str:
        row = {"patient_id": pid, "sex": sex, "birth_date": born, "given_name": "Test", "family_name": pid,
               "referral_date": day(-40), "consultation_date": day(-20), "primary_diagnosis": "mdd",
               "clinician": "Dr Test", "mrn": f"MRN-{pid}", **extra}
        cols = ", ".join(row)
        self.con.execute(f"INSERT INTO patients ({cols}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
        return pid

    def _points(self, pid: str) -> None:
        """Keep the derived tables current, as every write path of the app does."""
        from kdash.store import db, derived
        with db.transaction(self.con) as cur:
            derived.refresh(cur, [pid])

    def session(self, pid: str, n_day: int, route: str = "iv_ketamine", status: str = "completed",
                dose_mg: float | None = 40.0, weight_kg: float | None = 80.0, phase: str = "induction",
                minutes: int = 75, sid: str | None = None, rems_form_day: int | None = 0) -> str:
        """A booking (completed by default); an esketamine session's REMS form is sent on the session's day unless
        rems_form_day says another day (None: not sent)."""
        sid = sid or f"S{next(_ids):05d}"
        at = dt.datetime.combine(day(n_day), dt.time(9, 0))
        done = status == "completed"
        self.con.execute(
            "INSERT INTO sessions (session_id, patient_id, scheduled_at, status, route, phase, dose_mg, weight_kg, "
            "chair, clinician, started_at, ended_at, rems_form_sent_on) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'Chair 1', 'Dr Test', ?, ?, ?)",
            [sid, pid, at, status, route, phase, dose_mg if done else None, weight_kg if done else None,
             at if done else None, at + dt.timedelta(minutes=minutes) if done else None,
             day(n_day + rems_form_day) if done and route == "esketamine" and rems_form_day is not None else None])
        self._points(pid)
        return sid

    def score(self, pid: str, n_day: int, scale: str, total: int | None = None, items: list[int] | None = None,
              session_id: str | None = None, minute: int | None = None) -> None:
        if total is None:
            total = sum(items)
        self.con.execute("INSERT INTO assessments (patient_id, assessed_on, scale, total, items, session_id, minute) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", [pid, day(n_day), scale, total, items, session_id, minute])
        self._points(pid)

    def bp(self, pid: str, sid: str | None, minute: int | None, systolic: int, diastolic: int,
           n_day: int | None = None, at_time: dt.time = dt.time(10, 0)) -> None:
        at = None if n_day is None else dt.datetime.combine(day(n_day), at_time)
        if sid is not None:
            at = self.con.execute("SELECT scheduled_at + to_minutes(?) FROM sessions WHERE session_id = ?",
                                  [minute, sid]).fetchone()[0]
        self.con.execute("INSERT INTO vitals (session_id, minute, patient_id, measured_at, systolic, diastolic) "
                         "VALUES (?, ?, ?, ?, ?, ?)", [sid, minute, pid, at, systolic, diastolic])
        self._points(pid)

    def side_effect(self, sid: str, effect: str, severity: str = "mild") -> None:
        self.con.execute("INSERT INTO side_effects VALUES (?, ?, ?, NULL)", [sid, effect, severity])
        self._points(self.con.execute("SELECT patient_id FROM sessions WHERE session_id = ?", [sid]).fetchone()[0])

    def close(self) -> None:
        self.con.close()


def fingerprint(con, tables: list[str]) -> dict:
    """Row count and an order-independent content hash of each table: equal before and after = untouched."""
    return {t: con.execute(f"SELECT count(*), coalesce(sum(hash(COLUMNS(*)::VARCHAR)), 0) FROM {t}").fetchall()
            for t in tables}
