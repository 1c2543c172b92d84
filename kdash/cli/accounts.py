"""`users`: local accounts (add, list, link, disable, enable, reset-password)."""


from __future__ import annotations

import os
import sys

from kdash import settings
from kdash.cli.common import Parser, emit, read_password
from kdash.store import db


def add_parsers(sub) -> None:
    p = sub.add_parser("users", help="local accounts: add, list, link, disable, enable, reset-password")
    users_sub = p.add_subparsers(dest="action", required=True, parser_class=Parser)
    q = users_sub.add_parser("add", help="create an account (password from a prompt, or stdin when piped)")
    q.add_argument("name")
    q.add_argument("--role", required=True, choices=("clinician", "manager", "presenter", "admin"))
    q.add_argument("--db")
    q.add_argument("--json", action="store_true")
    q = users_sub.add_parser("list", help="every account, without password hashes")
    q.add_argument("--db")
    q.add_argument("--json", action="store_true")
    q = users_sub.add_parser("link", help="link an account to a clinician name of the record, for 'my patients'")
    q.add_argument("name")
    q.add_argument("--clinician", required=True, help="as in patients.csv's clinician column; '' to unlink")
    q.add_argument("--db")
    q.add_argument("--json", action="store_true")
    for action, text in (("disable", "stop an account signing in"), ("enable", "let a disabled account sign in"),
                         ("reset-password", "set a new password (prompt or stdin) and unlock the account")):
        q = users_sub.add_parser(action, help=text)
        q.add_argument("name")
        q.add_argument("--db")
        q.add_argument("--json", action="store_true")


def cmd_users(args) -> int:
    from kdash.access import users
    path = settings.store_path(args.db)
    con = db.connect(path, create=False, derived=False)
    try:
        cfg = settings.load(path)
        by = f"cli:{os.environ.get('USER', 'unknown')}"
        try:
            if args.action == "list":
                table = users.listing(con)
                rows = [{**r, "locked_until": None if r["locked_until"] is None or r["locked_until"] != r["locked_until"]
                         else str(r["locked_until"]), "created_at": str(r["created_at"])}
                        for r in table.to_dict("records")]
                if not args.json:
                    for r in rows:
                        state = "disabled" if r["disabled"] else ("locked" if r["locked_until"] else "active")
                        print(f"{r['username']:<24}{r['role']:<12}{state}")
                emit(args, f"users: {len(rows)} account(s)", rows)
                return 0
            if args.action != "list":
                users.check_name(args.name)          # before asking for a password
            if args.action == "link":
                linked = users.link_clinician(con, args.name, args.clinician, by=by)
                emit(args, f"users: {args.name} linked to {linked!r}" if linked else f"users: {args.name} unlinked",
                      {"username": args.name, "clinician": linked})
            elif args.action == "add":
                name = users.add(con, cfg, args.name, args.role, read_password("Password: "), by=by)
                emit(args, f"users: added {name} as {args.role}", {"username": name, "role": args.role})
            elif args.action in ("disable", "enable"):
                users.set_disabled(con, args.name, args.action == "disable", by=by)
                emit(args, f"users: {args.name} {args.action}d", {"username": args.name, "disabled": args.action == "disable"})
            else:
                users.reset_password(con, cfg, args.name, read_password("New password: "), by=by)
                emit(args, f"users: new password set for {args.name}; the account is unlocked", {"username": args.name})
        except users.UserError as exc:
            print(f"error: users: {exc}", file=sys.stderr)
            return 1
    finally:
        con.close()
    return 0


COMMANDS = {"users": cmd_users}
