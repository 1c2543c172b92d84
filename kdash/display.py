"""Tables as a person reads them: a missing value is a dash, never "None", "NaT" or "nan" (a clinic's exports
leave optional fields blank). Only for what is drawn; downloads keep empty cells."""

from __future__ import annotations

import pandas as pd

DASH = "—"


def _cell(x, column: pd.Series) -> str:
    if pd.isna(x):
        return DASH
    if pd.api.types.is_datetime64_any_dtype(column):
        stamp = pd.Timestamp(x)
        return f"{stamp:%Y-%m-%d}" if stamp == stamp.normalize() and column.dt.normalize().equals(column) \
            else f"{stamp:%Y-%m-%d %H:%M}"
    if isinstance(x, float):
        return f"{x:g}"
    return str(x)


def blanks_as_dash(df: pd.DataFrame) -> pd.DataFrame:
    """The frame with each column that has a missing value shown as text, the missing ones as a dash; complete
    columns keep their type (so numbers still sort and align as numbers)."""
    out = df.copy()
    for name in out.columns:
        column = out[name]
        if column.isna().any():
            out[name] = [_cell(x, column) for x in column]
    return out
