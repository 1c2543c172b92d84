"""Drawing data: charts as built, tables in the clinic's words, text from data escaped, a failed part of a page said in its place."""

from __future__ import annotations

import contextlib

import pandas as pd
import streamlit as st
from plotly.basedatatypes import BaseFigure


def chart(spec, where=None, **kw) -> None:
    """Draw a chart that kdash.charts built (a figure, or its dict as cached). Streamlit re-validates a dict
    through plotly on every run (about 30 ms a chart: most of a warm page), but takes a figure's to_dict()
    as it is; these were validated when they were built, so they go in as figures that are their dict."""
    # plotly's own "download as PNG" would export without a role check or an audit row: the case-conference
    # page's PNG / SVG buttons (ui.download) are the way to take a figure away
    (where or st).plotly_chart(spec if isinstance(spec, BaseFigure) else _Built(spec), theme=None, width="stretch",
                               config=CHART_CONFIG, **kw)


CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["toImage"]}


class _Built(BaseFigure):
    def __init__(self, spec: dict):      # no BaseFigure.__init__: that is the validation being skipped
        self._spec = spec

    def to_dict(self) -> dict:
        return self._spec


@contextlib.contextmanager
def section(name: str):
    """Draw one part of a page; if it fails, say so in its place (with the server-log reference) and go on with
    the rest of the page. Streamlit's own stop and rerun pass through."""
    from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

    from kdash.clinical import sections
    try:
        yield
    except ScriptControlException:
        raise
    except Exception as exc:  # noqa: BLE001 - the rest of the page still renders
        failed(sections.Failed(name, sections.log_failure(name, exc)))


def failed(marker) -> None:
    st.error(f"This part of the page ({marker.section}) could not be shown because of an error in kdash; the rest of "
             f"the page is unaffected. Reference for the administrator: {marker.ref} (in the server log).",
             icon=":material/report:")


def plain(text) -> str:
    """Text from data, for st.markdown and titles: every markdown character escaped, so a name, a note or a file
    name is only ever text (never a link, an image, HTML or a colour directive). One rule: kdash.patient.plain."""
    from kdash.clinical import patient
    return patient.plain(text)


def data_table(df: pd.DataFrame, column_config: dict | None = None, keep: tuple[str, ...] = (), **kwargs):
    """A data table in the clinic's words (kdash.vocab): codes as labels, headers in words with their units,
    midnight timestamps as dates, empty cells as "—". column_config (by the frame's own column names) overrides."""
    from kdash import vocab
    config = {c: vocab.header(c) for c in df.columns if isinstance(c, str)}
    config.update(column_config or {})
    kwargs.setdefault("hide_index", True)
    return st.dataframe(vocab.values(df, keep), width="stretch", placeholder=vocab.EMPTY, column_config=config,
                        **kwargs)


def word_table(df: pd.DataFrame) -> None:
    """A short table drawn whole, its long words wrapping in a narrow column (a data grid would scroll sideways):
    values and headers in the clinic's words, as data_table has them."""
    from kdash import vocab
    st.table(vocab.values(df).rename(columns=vocab.header).fillna(vocab.EMPTY), hide_index=True)


def percent_columns(df: pd.DataFrame) -> dict:
    """Shares and rates (0–1) shown as percentages, headed in words."""
    from kdash import vocab
    return {c: st.column_config.NumberColumn(vocab.header(c), format="percent") for c in df.columns
            if isinstance(c, str) and (c.startswith("per_") or c.endswith(("_rate", "_low", "_high", "share")))}


def patient_heading(h: dict) -> None:
    """The patient's two identifiers as the page's heading, and a deceased patient said so before anything else."""
    from kdash.clinical import patient as patient_
    st.subheader(patient_.identity(h))
    if h.get("deceased"):
        died = h.get("deceased_on")
        when = f" on {pd.Timestamp(died):%Y-%m-%d}" if died is not None and pd.notna(died) else ""
        st.error(f"**This patient died{when}** (from the record): no session can be recorded, and no flag or prompt "
                 "of theirs is on a worklist.", icon=":material/sentiment_neutral:")


def patient_plain(text: str) -> str:
    from kdash.clinical import patient as patient_
    return patient_.plain(text)


def percent(x: float | None, digits: int = 0) -> str:
    return "n/a" if x is None else f"{x:.{digits}%}"
