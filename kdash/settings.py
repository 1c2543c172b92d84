"""Clinic settings: packaged defaults merged with an optional clinic TOML file."""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path

DEFAULT_DB = "data/kdash.duckdb"


def store_path(explicit: str | None = None) -> str:
    """The store to use: an explicit path, else $KDASH_DB, else the default."""
    return explicit or os.environ.get("KDASH_DB") or DEFAULT_DB


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _clinic_file(db_path: str | None) -> Path | None:
    env = os.environ.get("KDASH_SETTINGS")
    if env:
        return Path(env)
    if db_path and not str(db_path).startswith(("postgresql://", "postgres://")):
        beside = Path(db_path).resolve().parent / "settings.toml"
        if beside.exists():
            return beside
    return None


@lru_cache(maxsize=8)
def _load(clinic_file: str | None) -> dict:
    defaults = tomllib.loads(resources.files("kdash").joinpath("defaults.toml").read_text("utf-8"))
    if clinic_file is None:
        return defaults
    with open(clinic_file, "rb") as fh:
        return _merge(defaults, tomllib.load(fh))


def load(db_path: str | None = None) -> dict:
    """Settings for a store: defaults, overridden by the clinic's file; on a PostgreSQL store, by the settings kept
    in the record itself (`python -m kdash settings --db URL --set FILE`), so every replica derives alike."""
    text = _in_record.get(db_path) if db_path else None
    if text is not None:
        return _from_text(text)
    clinic = _clinic_file(db_path)
    return _load(str(clinic) if clinic else None)


RECORD_KEY = "clinic_settings"
_in_record: dict[str, str] = {}      # store URL → the TOML text its record holds (set by kdash/store/pg.py's replica)


@lru_cache(maxsize=8)
def _from_text(text: str) -> dict:
    defaults = _load(None)
    return _merge(defaults, tomllib.loads(text))


def check_text(text: str) -> dict:
    """A clinic settings file's text, parsed and merged over the defaults (ValueError naming the problem)."""
    try:
        override = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"not a TOML settings file: {exc}") from None
    defaults = _load(None)
    unknown = [k for k in override if k not in defaults]
    if unknown:
        raise ValueError(f"unknown settings section(s): {', '.join(sorted(unknown))} (known: "
                         f"{', '.join(sorted(defaults))})")
    return _merge(defaults, override)
