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
    the import sources within it. Only a file's own name is used, so a zip cannot write outside the folder."""
    root = Path(tempfile.mkdtemp(prefix="kdash-import-"))
    total = 0
    try:
        for name, data in files:
            if name.lower().endswith(".zip"):
                try:
                    archive = zipfile.ZipFile(io.BytesIO(data))
                except zipfile.BadZipFile:
                    raise UploadError(f"{name} is not a readable zip file") from None
                for member in archive.infolist():
                    if member.is_dir():
                        continue
                    total += member.file_size
                    if total > MAX_BYTES:
                        raise UploadError("the upload unpacks to more than 200 MB")
                    _place(root, Path(member.filename).name, archive.read(member))
            else:
                total += len(data)
                _place(root, Path(name).name, data)
    except Exception:
        shutil.rmtree(root, ignore_errors=True)
        raise
    sources = [str(root / kind) for kind in ("csv", "fhir") if (root / kind).is_dir()]
    if not sources:
        shutil.rmtree(root, ignore_errors=True)
        raise UploadError("no CSV (patients.csv, sessions.csv, …) or FHIR JSON file in the upload")
    return root, sources


def _place(root: Path, name: str, data: bytes) -> None:
    kind = KINDS.get(Path(name).suffix.lower())
    if kind is None or name.startswith("."):
        return
    folder = root / kind
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(data)


def sample_zip(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(folder.glob("*.csv")):
            z.write(f, f.name)
    return buf.getvalue()
