"""One app process of a clinic network, as a test drives it: records N sessions on the record at URL (round the
patients, oldest first), editing every 7th after it is saved and deleting every 11th; with a STOP file's path, it
stops early once that file exists. Prints the session IDs that remain, one per line, then "done"."""

import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kdash import settings
from kdash.clinical import recording
from kdash.store import db  # noqa: E402


def main(url: str, tag: str, n: int, stop: str | None = None) -> None:
    con = db.connect(url, create=False)
    cfg = settings.load(url)
    pids = [r[0] for r in con.execute("SELECT patient_id FROM patients ORDER BY 1").fetchall()]
    kept = []
    today = dt.date.today()
    for i in range(n):
        if stop and Path(stop).exists():
            break
        pid = pids[(i * 7 + len(tag)) % len(pids)]
        e = recording.Entry(patient_id=pid, day=today - dt.timedelta(days=i % 20), route="iv_ketamine",
                            weight_kg=75.0, dose_mg=37.5, chair=f"Chair {i % 3 + 1}", start=dt.time(9, 0),
                            end=dt.time(10, 0), clinician=tag, scores={"MADRS": str(20 + i % 10)},
                            vitals=[{"minute": 0, "systolic": 120 + i % 50, "diastolic": 80}],
                            side_effects=[{"effect": "nausea", "severity": "mild"}] if i % 2 else [])
        sid = recording.save(con, cfg, e, username=tag)
        if i % 7 == 6:
            e.dose_mg = 40.0
            recording.save(con, cfg, e, username=tag, replaces=sid)
        if i % 11 == 10:
            recording.delete(con, cfg, sid, username=tag)
        else:
            kept.append(sid)
    print("\n".join(kept))
    print("done")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), *sys.argv[4:5])
