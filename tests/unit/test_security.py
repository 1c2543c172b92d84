"""Security II (issue 31), findings that live below the pages: store files the owner's only whatever the umask, the
rejects file private and formula-safe, and `info` warning about a store others can read. Each fails on the landed
main of issue 30."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from kdash.store import db
from tests.conftest import ROOT

PASSWORD = "correct horse battery staple 26"


def kdash(*args, stdin=None, umask=0o022):
    env = {**os.environ}
    return subprocess.run(["sh", "-c", f"umask {umask:03o}; exec \"$0\" -m kdash \"$@\"", sys.executable, *args],
                          cwd=ROOT, capture_output=True, text=True, input=stdin, timeout=120, env=env)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_init_and_demo_make_stores_and_their_wal_the_owners_only_under_umask_022(tmp_path):
    clinic = tmp_path / "new" / "clinic.duckdb"
    done = kdash("init", "--db", str(clinic), "--admin", "clinic.admin", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert mode(clinic) == 0o600 and mode(clinic.parent) == 0o700
    demo = tmp_path / "demo.duckdb"
    assert kdash("demo", "--db", str(demo), "--patients", "5").returncode == 0
    assert mode(demo) == 0o600
    con = db.connect(str(demo))                        # a write leaves a WAL: the owner's too
    con.execute("CREATE TABLE scratch AS SELECT 1 AS x")
    wal = demo.with_name(demo.name + ".wal")
    if wal.exists():
        assert mode(wal) == 0o600
    con.close()


def test_info_warns_about_a_store_other_users_can_read_and_opening_it_tightens_it(tmp_path):
    store = tmp_path / "old.duckdb"
    db.connect(str(store)).close()
    os.chmod(store, 0o644)                            # as an earlier kdash left it
    done = kdash("info", "--db", str(store), "--json")
    assert "readable or writable by other users (mode 644)" in done.stderr
    db.connect(str(store)).close()                    # a writer opening it makes it private
    assert mode(store) == 0o600
    assert "readable" not in kdash("info", "--db", str(store)).stderr


def test_the_rejects_file_is_private_and_no_cell_of_it_is_a_live_formula(tmp_path):
    store = tmp_path / "c.duckdb"
    assert kdash("init", "--db", str(store), "--admin", "clinic.admin", stdin=PASSWORD + "\n").returncode == 0
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "patients.csv").write_text('"=HYPERLINK(""http://x.example"",""y"")",patient_id,birth_date,sex\n'
                                         "1,P1,1980-01-01,F\n2,=1+2,not a date,F\n")
    rejects = tmp_path / "rejects.csv"
    done = kdash("import", "--db", str(store), str(folder), "--skip-invalid", "--rejects", str(rejects))
    assert done.returncode == 0, done.stderr
    assert mode(rejects) == 0o600
    for line in rejects.read_text().splitlines()[1:]:
        import csv
        for cell in next(csv.reader([line])):
            assert not cell.startswith(("=", "+", "-", "@")), cell


@pytest.mark.parametrize("folder_mode", [0o755, 0o777])
def test_info_warns_about_an_open_folder(tmp_path, folder_mode):
    folder = tmp_path / "shared"
    folder.mkdir()
    store = folder / "c.duckdb"
    db.connect(str(store)).close()
    os.chmod(folder, folder_mode)
    warnings = db.exposure(str(store))
    assert any("open to every user" in w for w in warnings) == bool(folder_mode & 0o007)


def test_a_refused_websocket_origin_makes_no_connection_to_the_internet(monkeypatch):
    """Issue 31: Streamlit's origin check looked this machine's external address up on the internet for an origin
    it then refused. With kdash's server set up (web.stay_offline), the check touches no network at all."""
    import socket
    from streamlit import net_util
    from streamlit.web.server.starlette import starlette_websocket
    from kdash.ui import web
    monkeypatch.setattr(net_util, "get_external_ip", net_util.get_external_ip)     # restored after the test
    monkeypatch.setattr(net_util, "get_internal_ip", net_util.get_internal_ip)
    monkeypatch.setattr(net_util, "_external_ip", None)
    monkeypatch.setattr(net_util, "_internal_ip", None)
    attempts = []

    def refuse(self, address, *args):
        attempts.append(address)
        raise OSError("the network is blocked in this test")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: refuse(None, address))
    web.stay_offline()
    assert not starlette_websocket._is_origin_allowed("https://attacker.example", "127.0.0.1:8501")
    assert starlette_websocket._is_origin_allowed("http://127.0.0.1:8501", "127.0.0.1:8501")
    assert attempts == []


def test_no_table_offers_its_own_download_or_copy():
    """Every st.dataframe keeps Streamlit's toolbar download unless the app's config turns it off (the browser test
    checks the toolbar itself)."""
    import tomllib
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["disableDataExport"] is True and config["client"]["allowedOrigins"] == []
