"""Uploaded files for the Import page: unpacked into a private temporary folder, CSV and FHIR apart."""

from __future__ import annotations

import io
import shutil
import tempfile
import zipfile
from pathlib import Path

MAX_BYTES = 200 * 1024 * 1024
KINDS = {".csv": "csv", ".json": "fhir", ".ndjson": "fhir"}


class UploadError(ValueError):
    pass


def unpack(files: list[tuple[str, bytes]]) -> tuple[Path, list[str]]:
    """Write (name, content) uploads — zips opened — into <tmp>/csv and <tmp>/fhir; returns the folder and
    the import sources within it. Only a file's own name is used, so a zip cannot write outside the folder.
    The size limit counts the bytes actually unpacked (a zip may declare any size), and two files of the same
    name (two uploads, or an upload and a zip's member) are refused, naming both."""
    root = Path(tempfile.mkdtemp(prefix="kdash-import-"))
    budget = [MAX_BYTES]
    placed: dict[str, str] = {}          # file name → where it came from
    try:
        for name, data in files:
            if name.lower().endswith(".zip"):
                try:
                    archive = zipfile.ZipFile(io.BytesIO(data))
                except zipfile.BadZipFile:
                    raise UploadError(f"{name} is not a readable zip file") from None
                for member in archive.infolist():
                    if not member.is_dir():
                        _place(root, Path(member.filename).name, _read_member(archive, member, name, budget),
                               f"{member.filename} in {name}", placed)
            else:
                _spend(budget, len(data))
                _place(root, Path(name).name, data, name, placed)
    except Exception:
        shutil.rmtree(root, ignore_errors=True)
        raise
    sources = [str(root / kind) for kind in ("csv", "fhir") if (root / kind).is_dir()]
    if not sources:
        shutil.rmtree(root, ignore_errors=True)
        raise UploadError("no CSV (patients.csv, sessions.csv, …) or FHIR JSON file in the upload")
    return root, sources


def _spend(budget: list[int], n: int) -> None:
    budget[0] -= n
    if budget[0] < 0:
        raise UploadError(f"the upload unpacks to more than {MAX_BYTES // (1024 * 1024)} MB")


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, zip_name: str, budget: list[int]) -> bytes:
    """A zip member's bytes, read in chunks and counted as they come, whatever size the zip declares."""
    out = io.BytesIO()
    try:
        with archive.open(member) as f:
            while chunk := f.read(1024 * 1024):
                _spend(budget, len(chunk))
                out.write(chunk)
    except (zipfile.BadZipFile, zlib_error(), EOFError, NotImplementedError) as exc:
        raise UploadError(f"{member.filename} in {zip_name} cannot be unpacked ({exc})") from None
    return out.getvalue()


def zlib_error():
    import zlib
    return zlib.error


def _place(root: Path, name: str, data: bytes, origin: str, placed: dict[str, str]) -> None:
    kind = KINDS.get(Path(name).suffix.lower())
    if kind is None or name.startswith("."):
        return
    if name.lower() in placed:
        raise UploadError(f"two files named {name}: {placed[name.lower()]} and {origin}; upload one of them")
    placed[name.lower()] = origin
    folder = root / kind
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(data)


def sample_zip(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(folder.glob("*.csv")):
            z.write(f, f.name)
    return buf.getvalue()
