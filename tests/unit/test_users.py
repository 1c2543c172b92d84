"""Local accounts: argon2 hashes, wrong passwords, disabled accounts, lockout with back-off, audit rows, the CLI."""

import datetime as dt
import subprocess
import sys

import pytest

from kdash import access, settings
from kdash.access import users
from kdash.store import db
from tests.conftest import ROOT

CFG = settings.load()
T0 = dt.datetime(2026, 11, 23, 9, 0)
PASSWORD = "correct horse battery"


@pytest.fixture
def con(tmp_path):
    c = db.connect(str(tmp_path / "u.duckdb"))
    users.add(c, CFG, "dr.ng", "clinician", PASSWORD, at=T0)
    yield c
    c.close()


def audit_rows(con):
    return con.execute("SELECT action, username, role, detail FROM audit_log ORDER BY audit_id").fetchall()


def test_passwords_are_stored_as_argon2_hashes_only(con):
    stored = con.execute("SELECT password_hash FROM users WHERE username = 'dr.ng'").fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert "password_hash" not in users.listing(con).columns


def test_right_and_wrong_passwords(con):
    ok = users.sign_in(con, CFG, "Dr.Ng ", PASSWORD, now=T0)          # names are case- and space-insensitive
    assert (ok.ok, ok.username, ok.role) == (True, "dr.ng", "clinician")
    bad = users.sign_in(con, CFG, "dr.ng", "correct horse battery!", now=T0)
    assert not bad.ok and bad.message == users.WRONG
    unknown = users.sign_in(con, CFG, "nobody", PASSWORD, now=T0)
    assert not unknown.ok and unknown.message == users.WRONG            # the same words: no hint the name exists
    assert [r[0] for r in audit_rows(con)][-3:] == ["sign_in", "sign_in_failed", "sign_in_failed"]
    assert audit_rows(con)[-1][3] == "unknown user name" and audit_rows(con)[-1][1] is None


def test_lockout_after_five_failures_with_a_doubling_back_off(con):
    def locked_until():
        return con.execute("SELECT locked_until FROM users").fetchone()[0]
    for i in range(4):
        assert users.sign_in(con, CFG, "dr.ng", "wrong", now=T0 + dt.timedelta(seconds=i)).message == users.WRONG
    fifth = users.sign_in(con, CFG, "dr.ng", "wrong", now=T0 + dt.timedelta(seconds=5))
    assert fifth.message == users.WRONG                                  # the lock is not announced to a guesser
    assert locked_until() == T0 + dt.timedelta(seconds=65)               # 60 s after the fifth failure
    during = users.sign_in(con, CFG, "dr.ng", PASSWORD, now=T0 + dt.timedelta(seconds=30))
    assert not during.ok and "locked" in during.message and "about 1 minute" in during.message   # the right one
    sixth = users.sign_in(con, CFG, "dr.ng", "wrong", now=T0 + dt.timedelta(seconds=70))
    assert sixth.message == users.WRONG and locked_until() == T0 + dt.timedelta(seconds=190)     # 120 s after 09:01:10
    after = users.sign_in(con, CFG, "dr.ng", PASSWORD, now=T0 + dt.timedelta(minutes=4))
    assert after.ok
    assert con.execute("SELECT failed_attempts, locked_until FROM users").fetchone() == (0, None)
    actions = [r[0] for r in audit_rows(con)]
    assert actions.count("sign_in_locked") == 1 and actions.count("sign_in_failed") == 6


def test_unknown_wrong_and_locked_answer_alike_and_each_checks_a_hash(con, monkeypatch):
    """Finding 6 of issue 19: a locked account answered "locked until …" at once (2.5 ms) where an unknown name
    took an argon2 check (200 ms). Now each case runs one argon2 verification and gets the same words."""
    calls = []
    real = users._verify
    monkeypatch.setattr(users, "_verify", lambda h, p: calls.append(h) or real(h, p))
    unknown = users.sign_in(con, CFG, "nobody.here", "wrong", now=T0)
    wrong = users.sign_in(con, CFG, "dr.ng", "wrong", now=T0)
    con.execute("UPDATE users SET locked_until = ?", [T0 + dt.timedelta(hours=1)])
    locked = users.sign_in(con, CFG, "dr.ng", "wrong", now=T0)
    assert unknown.message == wrong.message == locked.message == users.WRONG
    assert len(calls) == 3


@pytest.mark.parametrize("password", ["aaaaaaaaaaaa", "password1234", " " * 12, "abababababab", "qwertyuiop12",
                                      "dr.ng-password", "iloveyou2026"])
def test_weak_passwords_are_refused(con, password):
    with pytest.raises(users.UserError):
        users.check_password(password, CFG, "dr.ng")


def test_a_long_phrase_is_accepted():
    users.check_password("violet ferry under lantern", CFG, "dr.ng")


def test_the_back_off_stops_at_its_ceiling(con):
    con.execute("UPDATE users SET failed_attempts = 40")
    locked = users.sign_in(con, CFG, "dr.ng", "wrong", now=T0)
    until = con.execute("SELECT locked_until FROM users").fetchone()[0]
    assert until - T0 == dt.timedelta(seconds=CFG["access"]["max_lockout_seconds"]) and not locked.ok


def test_a_disabled_account_cannot_sign_in_until_enabled(con):
    users.set_disabled(con, "dr.ng", True, by="admin")
    refused = users.sign_in(con, CFG, "dr.ng", PASSWORD, now=T0)
    assert not refused.ok and "disabled" in refused.message
    assert users.sign_in(con, CFG, "dr.ng", "wrong", now=T0).message == users.WRONG   # no hint without the password
    users.set_disabled(con, "dr.ng", False, by="admin")
    assert users.sign_in(con, CFG, "dr.ng", PASSWORD, now=T0).ok


def test_a_password_reset_unlocks(con):
    for i in range(5):
        users.sign_in(con, CFG, "dr.ng", "wrong", now=T0)
    users.reset_password(con, CFG, "dr.ng", "a brand new passphrase", by="admin")
    assert users.sign_in(con, CFG, "dr.ng", "a brand new passphrase", now=T0).ok
    assert not users.sign_in(con, CFG, "dr.ng", PASSWORD, now=T0).ok


@pytest.mark.parametrize("name, role, password, problem", [
    ("dr.ng", "clinician", PASSWORD, "exists already"), ("Bad Name", "clinician", PASSWORD, "user name"),
    ("x", "clinician", PASSWORD, "user name"), ("ok.name", "surgeon", PASSWORD, "unknown role"),
    ("ok.name", "admin", "short", "at least 12 characters"), ("robert'); drop table users;--", "admin", PASSWORD, "user name")])
def test_bad_accounts_are_refused_with_the_reason(con, name, role, password, problem):
    with pytest.raises(users.UserError, match=problem):
        users.add(con, CFG, name, role, password)
    assert list(users.listing(con)["username"]) == ["dr.ng"]


@pytest.mark.parametrize("name, password", [("' OR '1'='1", "' OR '1'='1"), ("dr.ng' --", "x"),
                                            ("dr.ng", "' OR 1=1; DROP TABLE users; --"), ("admin\x00", ""),
                                            ("ä" * 500, "p" * 5000)])
def test_injection_strings_in_the_sign_in_fields_change_nothing(con, name, password):
    """Only ever values: no account changes but a counted failure, and every table is still there."""
    query = "SELECT username, role, password_hash, disabled, created_at FROM users"
    before, tables = con.execute(query).fetchall(), con.execute("SELECT count(*) FROM duckdb_tables()").fetchone()
    result = users.sign_in(con, CFG, name, password, now=T0)
    assert not result.ok and result.message == users.WRONG
    assert con.execute(query).fetchall() == before
    assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchone() == tables


@pytest.mark.parametrize("email, role", [("dr.jones@clinic.example", "clinician"), ("DR.JONES@clinic.example", "clinician"),
                                         ("someone@clinic.example", "presenter"), ("x@elsewhere.example", None),
                                         ("not-an-email", None), (None, None)])
def test_single_sign_on_roles_come_from_the_address_then_the_domain(email, role):
    cfg = {**CFG, "access": {**CFG["access"], "oidc_roles": {"dr.jones@clinic.example": "clinician",
                                                              "@clinic.example": "presenter"}}}
    assert users.role_for_email(cfg, email) == role


def test_every_role_has_pages_and_data_calls_are_checked():
    assert {r: access.pages_for(r) for r in access.ROLES} == {
        "clinician": ["home", "roster", "patient", "eligibility", "record_session", "outcomes", "side_effects",
                      "conference", "data_quality", "reference"],
        "manager": ["home", "outcomes", "side_effects", "throughput", "data_quality", "reference"],
        "presenter": ["conference", "reference"],
        "admin": ["users", "import_data", "audit", "flag_rules", "data_quality", "reference"]}
    assert access.may_call("clinician", "patient.view") and not access.may_call("manager", "patient.view")
    assert not access.may_call("presenter", "roster.page") and access.may_call("presenter", "roster.clinicians")
    assert access.may_call("presenter", "conference.pack_for_case") and not access.may_call("presenter", "outcomes.page_view")
    assert not access.may_call("admin", "patient.view") and not access.may_call(None, "clinic.at_a_glance")
    assert not access.may_call("clinician", "nosuchmodule.anything")


def run(*args, stdin=""):
    return subprocess.run([sys.executable, "-m", "kdash", *args], cwd=ROOT, capture_output=True, text=True,
                          input=stdin, timeout=120)


def test_users_cli_reads_passwords_from_stdin_never_arguments(tmp_path):
    path = str(tmp_path / "c.duckdb")
    db.connect(path).close()
    added = run("users", "add", "dr.cli", "--role", "manager", "--db", path, stdin="a long enough password\n")
    assert added.returncode == 0 and "added dr.cli as manager" in added.stderr
    again = run("users", "add", "dr.cli", "--role", "manager", "--db", path, stdin="a long enough password\n")
    assert again.returncode == 1 and "exists already" in again.stderr
    listed = run("users", "list", "--db", path, "--json")
    assert [(u["username"], u["role"], u["disabled"]) for u in __import__("json").loads(listed.stdout)] == \
        [("dr.cli", "manager", False)]
    assert run("users", "disable", "dr.cli", "--db", path).returncode == 0
    assert run("users", "reset-password", "dr.cli", "--db", path, stdin="another long password\n").returncode == 0
    con = db.connect(path)
    try:
        assert not users.sign_in(con, CFG, "dr.cli", "another long password").ok      # still disabled
        actions = [r[0] for r in con.execute("SELECT action FROM audit_log ORDER BY audit_id").fetchall()]
    finally:
        con.close()
    assert actions[:3] == ["user_added", "user_disabled", "password_reset"]
    for args, stdin, reason in [(["add", "dr.x", "--role", "admin"], "", "no password on stdin"),
                                (["add", "dr.x", "--role", "admin"], "short\n", "at least 12 characters"),
                                (["add", "dr.x", "--role", "boss"], "a long enough password\n", "invalid choice"),
                                (["add", "dr.x", "--role", "admin", "--password", "x"], "", "unrecognized arguments"),
                                (["disable", "nobody"], "", "no user named 'nobody'")]:
        out = run("users", *args, "--db", path, stdin=stdin)
        assert out.returncode != 0 and reason in out.stderr and "Traceback" not in out.stderr, (args, out.stderr)


@pytest.mark.parametrize("password, why", [
    ("kdash-demo-2026", "published password"),
    ("Summer2024!!", "common word"), ("changeme2026!!", "common word"), ("P@ssw0rd2026!!", "common word"),
    ("kdash demo clinic 2026!", "clinic.s own words"), ("trustno1trustno1", "too easy to guess"),
])
def test_common_passwords_and_the_clinics_own_words_with_digits_added_are_refused(password, why):
    """Issue 31: the check accepted kdash-demo-2026, Summer2024!! and changeme2026!!."""
    with pytest.raises(users.UserError, match=why):
        users.check_password(password, CFG, "dr.ng")


def test_the_common_password_list_ships_offline_with_more_than_100000_entries():
    listed = users.common_passwords()
    assert len(listed) >= 100_000 and {"123456", "password", "iloveyou", "changeme"} <= listed
    users.check_password("violet ferry under lantern", CFG, "dr.ng")        # a phrase of unrelated words passes


def test_a_flood_of_sign_ins_from_one_address_is_refused_before_any_hash(con, monkeypatch):
    """Issue 31: the password hash ran inside the store's one write lock (every save waited on a guess), and
    nothing limited the attempts of one client address."""
    hashed, original = [], users._verify

    def verify(hashed_password, password):
        assert not db._WRITER._is_owned(), "hashing with the store's write lock held"
        hashed.append(password)
        return original(hashed_password, password)
    monkeypatch.setattr(users, "_verify", verify)
    monkeypatch.setattr(users, "ATTEMPTS", users._Attempts())
    limit = CFG["access"]["sign_ins_per_minute"]
    for _ in range(limit):
        assert users.sign_in(con, CFG, "dr.ng", "wrong guess", now=T0, client="203.0.113.9").message == users.WRONG
    assert len(hashed) == limit
    refused = users.sign_in(con, CFG, "dr.ng", PASSWORD, now=T0, client="203.0.113.9")
    assert not refused.ok and refused.message == users.FLOOD and len(hashed) == limit      # no hash at all
    assert users.sign_in(con, CFG, "nobody", "x", now=T0, client="198.51.100.7").message == users.WRONG
    assert con.execute("SELECT count(*) FROM audit_log WHERE detail = 'too many attempts from one address'"
                       ).fetchone()[0] == 1
