"""Rerun the attacks of the red-team passes (issues 19 and 31) against this checkout; not part of CI.

    python tools/red_team.py            # prints one line per attack: held or FAILED, with what was seen

Each attack is made the way an attacker would, on a scratch store in a temporary folder (the browser attacks run
in the e2e suite: tests/e2e/test_privacy_browser.py, tests/e2e/test_signin_sessions.py).
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kdash import settings
from kdash.access import signins, users
from kdash.clinical import outcomes
from kdash.present.views import outcomes as outcomes_view
from kdash.store import backup, db  # noqa: E402


def kdash(*args, stdin=None):
    return subprocess.run(["sh", "-c", 'umask 022; exec "$0" -m kdash "$@"', sys.executable, *args], cwd=ROOT,
                          capture_output=True, text=True, input=stdin, timeout=300)


def world_readable(path: Path) -> bool:
    return bool(stat.S_IMODE(path.stat().st_mode) & 0o077)


def attacks(tmp: Path):
    store = tmp / "demo.duckdb"
    kdash("demo", "--db", str(store), "--patients", "60")
    yield "store files readable by others (umask 022)", not world_readable(store), oct(store.stat().st_mode)

    folder = tmp / "backup"
    backup.backup(str(store), str(folder))
    planted = tmp / "owned.txt"
    (folder / "schema.sql").write_text(f"COPY (SELECT 'owned') TO '{planted}';")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = {p.name: backup._sha256(p) for p in folder.iterdir() if p.name != "manifest.json"}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    try:
        backup.restore(str(folder), str(tmp / "restored.duckdb"))
    except db.StoreError:
        pass
    yield "restore runs a planted schema.sql", not planted.exists(), "no file written" if not planted.exists() else ""

    secret = tmp / "enc"
    backup.backup(str(store), str(secret), passphrase="violet ferry under lantern")
    m = json.loads((secret / "manifest.json").read_text())
    m["made_at"] = "1999-01-01T00:00:00"
    (secret / "manifest.json").write_text(json.dumps(m))
    try:
        backup.restore(str(secret), str(tmp / "tampered.duckdb"), passphrase="violet ferry under lantern")
        held, seen = False, "a changed manifest was restored"
    except db.StoreError as exc:
        held, seen = True, str(exc)
    yield "a tampered backup manifest", held, seen

    folder_in = tmp / "import"
    folder_in.mkdir()
    (folder_in / "patients.csv").write_text('"=HYPERLINK(""http://x"")",patient_id,birth_date,sex\n1,=1+2,x,F\n')
    rejects = tmp / "rejects.csv"
    clinic = tmp / "clinic.duckdb"
    kdash("init", "--db", str(clinic), "--admin", "red.admin", stdin="violet ferry under lantern\n")
    kdash("import", "--db", str(clinic), str(folder_in), "--skip-invalid", "--rejects", str(rejects))
    text = rejects.read_text() if rejects.exists() else ""
    live = [c for line in text.splitlines()[1:] for c in line.split(",") if c.startswith(("=", "+", "-", "@"))]
    yield "a live formula or a readable rejects file", rejects.exists() and not live and not world_readable(rejects), \
        f"{len(live)} live cells"

    cfg = settings.load()
    weak = [p for p in ("kdash-demo-2026", "Summer2024!!", "changeme2026!!", "P@ssw0rd2026!!")
            if _accepted(p, cfg)]
    yield "weak passwords accepted", not weak, ", ".join(weak) or "all refused"

    ticket = signins.ticket_for("a-cookie", "attackers-browser")
    yield "a sign-in ticket redeemed in another browser", signins.redeem(ticket, "victims-browser") is None, ""

    con = db.connect(str(store))
    users.ATTEMPTS = users._Attempts()
    answers = [users.sign_in(con, cfg, "clinician", "guess", client="203.0.113.1").message for _ in range(12)]
    yield "a sign-in flood from one address", users.FLOOD in answers, f"{answers.count(users.FLOOD)} refused of 12"

    today = dt.date.today()
    start, end = outcomes.whole_months(today.replace(day=1) - dt.timedelta(days=200), today, today)
    view = outcomes_view.page_view(con, cfg, hide_small=True, scale="MADRS", start=start, end=end, today=today)
    yield "per-patient marks in a counts-only view", view.get("waterfall_chart") is None, \
        "suppressed" if view.get("suppressed") else "no waterfall"
    con.close()

    from kdash.ui import web
    from streamlit.web.server.starlette import starlette_websocket
    calls = []
    original = socket.socket.connect
    socket.socket.connect = lambda self, address: calls.append(address) or (_ for _ in ()).throw(OSError("blocked"))
    try:
        web.stay_offline()
        starlette_websocket._is_origin_allowed("https://attacker.example", "127.0.0.1:8501")
    finally:
        socket.socket.connect = original
    yield "the origin check reaching the internet", not calls, f"{len(calls)} connections"


def _accepted(password: str, cfg: dict) -> bool:
    try:
        users.check_password(password, cfg, "red.admin")
        return True
    except users.UserError:
        return False


def main() -> int:
    failed = 0
    with tempfile.TemporaryDirectory(prefix="kdash-red-team-") as tmp:
        for name, held, seen in attacks(Path(tmp)):
            failed += not held
            print(f"{'held  ' if held else 'FAILED'}  {name}" + (f": {seen}" if seen else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
