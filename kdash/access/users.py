"""Local accounts: argon2 password hashes, disabled accounts, lockout with a timed back-off.

Every sign-in attempt is audited in the same transaction as its effect on the account. Messages say what
a person can do about it, and never whether a name exists unless the right password was given.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import threading
import time
from dataclasses import dataclass

import duckdb
import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kdash import access
from kdash.access import audit, signins
from kdash.store import db

HASHER = PasswordHasher()      # argon2id with the library's current recommended cost
_DUMMY = HASHER.hash("not a password anyone has")   # unknown names cost the same time as known ones
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
WRONG = "Wrong user name or password."


class UserError(ValueError):
    """An account change that cannot be made, with the reason."""


@dataclass(frozen=True)
class SignIn:
    ok: bool
    message: str
    username: str | None = None
    role: str | None = None


def check_name(name: str) -> str:
    name = (name or "").strip().lower()
    if not NAME.match(name):
        raise UserError("a user name is 2–40 characters: lower-case letters, digits, '.', '_' or '-', "
                        "starting with a letter or digit")
    return name


def check_password(password: str, cfg: dict, name: str | None = None) -> None:
    """NIST SP 800-63B: long enough, and not the published demo password, a common password (a list of 412,000,
    shipped offline), nor a common password or the clinic's own words with digits and symbols around them
    ("Summer2024!!", "changeme2026!!", "kdash-demo-2026"), nor a repetition or a keyboard walk (zxcvbn: a guess
    estimate of score 3, about 10^8 guesses, or better), nor the user name."""
    from zxcvbn import zxcvbn
    least = cfg["access"]["min_password_length"]
    password = password or ""
    if len(password) < least:
        raise UserError(f"a password needs at least {least} characters")
    if not password.strip() or len(set(password)) <= 2:
        raise UserError("a password cannot be one or two characters repeated")
    if name and name.lower() in password.lower():
        raise UserError("a password cannot contain the user name")
    if password == DEMO_PASSWORD:
        raise UserError("that is the demo accounts' published password")
    context = context_words(cfg, name)
    lowered = password.lower()
    if lowered in common_passwords():
        raise UserError("that password is on the list of common passwords")
    words = [w for w in re.split(r"[^a-z]+", _unleet(lowered)) if w]
    rest = [w for w in words if w not in context]
    if not rest or "".join(rest) in common_passwords() or (len(rest) == 1 and len(rest[0]) < 8):
        raise UserError("that password is a common word or the clinic's own words with digits or symbols added; "
                        "use a longer phrase of unrelated words")
    verdict = zxcvbn(password[:72], user_inputs=[name or "", *sorted(context)])
    if verdict["score"] < 3:
        why = verdict["feedback"]["warning"] or "it is too easy to guess"
        raise UserError(f"that password is too easy to guess ({why.rstrip('.').lower()}); "
                        "use a longer phrase of unrelated words")


def context_words(cfg: dict, name: str | None) -> set[str]:
    """Words an attacker tries first here: the clinic's name, the user's, kdash, the year, the trade."""
    year = dt.date.today().year
    words = {"kdash", "ketamine", "esketamine", "clinic", "demo", "password", "admin", "spravato", str(year),
             str(year - 1), str(year + 1)}
    words |= {w for w in re.split(r"[^a-z0-9]+", (cfg.get("clinic", {}).get("name") or "").lower()) if len(w) > 2}
    words |= {w for w in re.split(r"[^a-z0-9]+", (name or "").lower()) if len(w) > 2}
    return words


_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})


def _unleet(text: str) -> str:
    """p@ssw0rd → password, inside a word only (a trailing 2026!! stays digits and symbols)."""
    return re.sub(r"(?<=[a-z])[0134579@$!]+(?=[a-z])", lambda m: m.group(0).translate(_LEET), text)


@functools.lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list (kdash/assets/common-passwords.txt.gz, its source in kdash/assets/SOURCES.md)."""
    import gzip
    from importlib import resources
    data = resources.files("kdash").joinpath("assets", "common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode("utf-8").split("\n")) - {""}


def add(con: duckdb.DuckDBPyConnection, cfg: dict, name: str, role: str, password: str,
        by: str | None = None, at: dt.datetime | None = None, demo: bool = False) -> str:
    """An account; its password checked (demo: the documented demo accounts of a synthetic store, whose password
    is published on purpose)."""
    name = check_name(name)
    if role not in access.ROLES:
        raise UserError(f"unknown role {role!r}; choose {', '.join(access.ROLES)}")
    if not demo:
        check_password(password, cfg, name)
    with db.transaction(con) as cur:
        if cur.execute("SELECT 1 FROM users WHERE username = ?", [name]).fetchone():
            raise UserError(f"a user named {name!r} exists already")
        cur.execute("INSERT INTO users (username, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                    [name, role, HASHER.hash(password), at or dt.datetime.now()])
        audit.log(cur, "user_added", username=by, detail=f"{name} as {role}")
    return name


def listing(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every account without its hash."""
    cur = con.cursor()
    try:
        return cur.execute("SELECT username, role, clinician, disabled, failed_attempts, locked_until, created_at "
                           "FROM users ORDER BY username").df()
    finally:
        cur.close()


def clinician_names(con: duckdb.DuckDBPyConnection, cfg: dict | None = None) -> list[str]:
    """The clinician names of the record (patients.clinician) an account may follow: staff names, no patient's."""
    return [r[0] for r in db.query(con, "clinicians").itertuples(index=False)]


def set_disabled(con: duckdb.DuckDBPyConnection, name: str, disabled: bool = True, by: str | None = None) -> None:
    name = check_name(name)
    with db.transaction(con) as cur:
        if not cur.execute("UPDATE users SET disabled = ? WHERE username = ? RETURNING 1", [disabled, name]).fetchone():
            raise UserError(f"no user named {name!r}")
        if disabled:
            signins.end_all(cur, name, "disabled")
        audit.log(cur, "user_disabled" if disabled else "user_enabled", username=by, detail=name)


def link_clinician(con: duckdb.DuckDBPyConnection, name: str, clinician: str, by: str | None = None) -> str | None:
    """Link an account to a clinician name of the record (patients.clinician), so its worklist can show "my
    patients"; a blank name unlinks it."""
    name = check_name(name)
    clinician = (clinician or "").strip() or None
    if clinician and (len(clinician) > 100 or any(ord(c) < 32 for c in clinician)):
        raise UserError("a clinician name is at most 100 printable characters")
    with db.transaction(con) as cur:
        if not cur.execute("UPDATE users SET clinician = ? WHERE username = ? RETURNING 1", [clinician, name]).fetchone():
            raise UserError(f"no user named {name!r}")
        audit.log(cur, "user_linked", username=by, detail=f"{name} → {clinician or 'no clinician'}")
    return clinician


def reset_password(con: duckdb.DuckDBPyConnection, cfg: dict, name: str, password: str, by: str | None = None,
                   keep_signin: str | None = None) -> None:
    """A new password; the account's open sign-ins end (all but `keep_signin`, the resetter's own)."""
    name = check_name(name)
    check_password(password, cfg, name)
    with db.transaction(con) as cur:
        if not cur.execute("UPDATE users SET password_hash = ?, failed_attempts = 0, locked_until = NULL "
                           "WHERE username = ? RETURNING 1", [HASHER.hash(password), name]).fetchone():
            raise UserError(f"no user named {name!r}")
        signins.end_all(cur, name, "password_reset", keep=keep_signin)
        audit.log(cur, "password_reset", username=by, detail=name)


def is_disabled(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether an administrator has disabled this local account (checked on every run of a signed-in session, so
    disabling ends the account's open sessions at their next click)."""
    return bool(db.scalar(con, "SELECT disabled FROM users WHERE username = $n", {"n": name}))


def count(con: duckdb.DuckDBPyConnection) -> int:
    return int(db.scalar(con, "SELECT count(*) FROM users") or 0)


class _Attempts:
    """Sign-in attempts per client address in the last minute, in this process (a flood of guesses from one address
    is refused before any password is hashed)."""

    def __init__(self):
        self.lock, self.seen = threading.Lock(), {}

    def allow(self, client: str, limit: int, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self.lock:
            recent = [t for t in self.seen.get(client, []) if now - t < 60]
            if len(recent) >= limit:
                self.seen[client] = recent
                return False
            self.seen[client] = recent + [now]
            if len(self.seen) > 10_000:                 # forget the quiet ones
                self.seen = {k: v for k, v in self.seen.items() if v and now - v[-1] < 60}
            return True


ATTEMPTS = _Attempts()
FLOOD = "Too many sign-in attempts from this address: wait a minute and try again."


def sign_in(con: duckdb.DuckDBPyConnection, cfg: dict, name: str, password: str,
            now: dt.datetime | None = None, client: str | None = None) -> SignIn:
    """Check a name and password; count failures, lock after too many, audit every attempt. The password is hashed
    outside the store's write lock (every save waits on that lock), and a client address trying more than
    [access] sign_ins_per_minute times a minute is refused before any hashing."""
    now = now or dt.datetime.now()
    a = cfg["access"]
    typed = (name or "").strip().lower()[:40]
    if client and not ATTEMPTS.allow(client, a.get("sign_ins_per_minute", 10)):
        with db.transaction(con) as cur:
            audit.log(cur, "sign_in_failed", detail="too many attempts from one address", at=now)
        return SignIn(False, FLOOD)
    row = db.record_row(con, "SELECT role, password_hash, disabled, failed_attempts, locked_until FROM users "
                      "WHERE username = ?", [typed]) if NAME.match(typed) else None
    if row is None:
        _verify(_DUMMY, password)
        with db.transaction(con) as cur:
            audit.log(cur, "sign_in_failed", detail="unknown user name", at=now)
        return SignIn(False, WRONG)
    role, hashed, disabled, _, locked_until = row
    # The password is checked first, whatever the account's state: unknown names, wrong passwords and locked
    # accounts get one message in about the same time; only the right password learns of a lock.
    right = _verify(hashed, password)
    rehashed = HASHER.hash(password) if right and HASHER.check_needs_rehash(hashed) else None
    with db.transaction(con) as cur:
        if locked_until is not None and locked_until > now:
            audit.log(cur, "sign_in_locked", username=typed, role=role, at=now,
                      detail="right password" if right else "wrong password")
            if not right:
                return SignIn(False, WRONG)
            wait = max(1, round((locked_until - now).total_seconds() / 60))
            return SignIn(False, f"This account is locked after too many failed sign-ins: try again in about {wait} "
                                 f"minute{'s' if wait != 1 else ''}, or ask an administrator to reset it.")
        if not right:
            failures = cur.execute("UPDATE users SET failed_attempts = failed_attempts + 1 WHERE username = ? "
                                   "RETURNING failed_attempts", [typed]).fetchone()[0]
            over = failures - a["max_failed_sign_ins"]
            if over >= 0:
                until = now + dt.timedelta(seconds=min(a["lockout_seconds"] * 2 ** over, a["max_lockout_seconds"]))
                cur.execute("UPDATE users SET locked_until = ? WHERE username = ?", [until, typed])
            audit.log(cur, "sign_in_failed", username=typed, role=role, detail=f"wrong password ({failures})", at=now)
            return SignIn(False, WRONG)
        if disabled:
            audit.log(cur, "sign_in_failed", username=typed, role=role, detail="account disabled", at=now)
            return SignIn(False, "This account is disabled; ask an administrator.")
        cur.execute("UPDATE users SET failed_attempts = 0, locked_until = NULL WHERE username = ?", [typed])
        if rehashed:
            cur.execute("UPDATE users SET password_hash = ? WHERE username = ?", [rehashed, typed])
        audit.log(cur, "sign_in", username=typed, role=role, at=now)
        return SignIn(True, "Signed in.", typed, role)


def _verify(hashed: str, password: str) -> bool:
    try:
        return HASHER.verify(hashed, password or "")
    except (VerificationError, InvalidHashError):
        return False


def role_for_email(cfg: dict, email: str | None) -> str | None:
    """The role an OIDC account gets (settings [access.oidc_roles]: the exact address first, then its domain)."""
    if not email or "@" not in email:
        return None
    roles = {k.lower(): v for k, v in cfg["access"].get("oidc_roles", {}).items()}
    email = email.strip().lower()
    role = roles.get(email) or roles.get("@" + email.rsplit("@", 1)[1])
    return role if role in access.ROLES else None


DEMO_PASSWORD = "kdash-demo-2026"
DEMO_ACCOUNTS = {role: role for role in access.ROLES}   # user name = role name, on demo stores only


def add_demo_accounts(con: duckdb.DuckDBPyConnection, cfg: dict) -> None:
    for name, role in DEMO_ACCOUNTS.items():
        add(con, cfg, name, role, DEMO_PASSWORD, by="demo", demo=True)
