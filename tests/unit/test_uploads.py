"""Uploads (issue 19, finding 7): the size limit counts what is unpacked, deep nesting is a clear problem, and two
files of one name are refused."""

import io
import json
import shutil
import struct
import zipfile

import pytest

from kdash.importers import uploads
from kdash.importers import fhir


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _declare_size(data: bytes, size: int) -> bytes:
    """The same zip claiming its (first) member unpacks to `size` bytes, in both headers."""
    b = bytearray(data)
    local = b.find(b"PK\x03\x04")
    struct.pack_into("<I", b, local + 22, size)
    central = b.find(b"PK\x01\x02")
    struct.pack_into("<I", b, central + 24, size)
    return bytes(b)


def test_a_zip_that_unpacks_past_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(uploads, "MAX_BYTES", 1_000_000)
    bomb = _zip({"patients.csv": b"0" * 3_000_000})              # 3 MB of zeros, a few KB zipped
    assert len(bomb) < 50_000
    with pytest.raises(uploads.UploadError, match="more than"):
        uploads.unpack([("bomb.zip", bomb)])


def test_a_zip_lying_about_its_size_is_refused_not_believed(monkeypatch):
    monkeypatch.setattr(uploads, "MAX_BYTES", 1_000_000)
    liar = _declare_size(_zip({"patients.csv": b"0" * 3_000_000}), 42)
    assert zipfile.ZipFile(io.BytesIO(liar)).infolist()[0].file_size == 42
    with pytest.raises(uploads.UploadError):         # either past the limit or unreadable: never 3 MB in memory
        uploads.unpack([("liar.zip", liar)])


def test_many_members_count_together(monkeypatch):
    monkeypatch.setattr(uploads, "MAX_BYTES", 1_000_000)
    many = _zip({f"p{i}.json": b" " * 300_000 for i in range(4)})
    with pytest.raises(uploads.UploadError, match="more than"):
        uploads.unpack([("many.zip", many)])


def test_two_files_of_one_name_are_refused_naming_both():
    csv = b"patient_id,sex\nP1,F\n"
    with pytest.raises(uploads.UploadError, match=r"two files named patients.csv: patients.csv and "
                                                  r"export/patients.csv in clinic.zip"):
        uploads.unpack([("patients.csv", csv), ("clinic.zip", _zip({"export/patients.csv": csv}))])


def test_distinct_names_unpack():
    root, sources = uploads.unpack([("patients.csv", b"patient_id\nP1\n"),
                                    ("more.zip", _zip({"sessions.csv": b"session_id\nS1\n"}))])
    try:
        assert sorted(p.name for p in (root / "csv").iterdir()) == ["patients.csv", "sessions.csv"]
    finally:
        shutil.rmtree(root)


def test_deeply_nested_json_is_a_problem_named_not_a_recursion_error(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    found, problems = fhir.load([deep])
    assert found == [] and problems == [f"deep.json: nested 100000 levels deep, more than the {fhir.MAX_DEPTH} a "
                                        "FHIR resource needs; not read"]


def test_nesting_depth_skips_brackets_in_strings():
    assert fhir.nesting_depth(json.dumps({"a": [1, {"b": "[[[[{{{{"}]})) == 3
