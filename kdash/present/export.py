"""Static exports of a conference pack: PNG / SVG figures (kaleido with the system Chromium), a PDF handout
(fpdf2) and a PPTX deck (python-pptx). Nothing here reaches the network: plotly.js comes from the plotly
package, MathJax is off, fonts are bundled, and the files carry no creation date.
"""

from __future__ import annotations

import atexit
import datetime as dt
import io
import re
import threading
import zipfile
from pathlib import Path

from kdash.present.conference import SYNTHETIC, Pack

SYNTHETIC_BANNER = f"{SYNTHETIC}: made up by the kdash demo generator"

FONTS = Path(__file__).parents[1] / "assets" / "fonts"
PNG_WIDTH, PNG_SCALE = 1100, 2
_browser_lock = threading.Lock()
_server_started = False


class ExportError(Exception):
    """An export that could not be made, with a reason a person can act on."""


def browser() -> str | None:
    """The system Chromium kaleido will drive, if there is one (kaleido never downloads one here)."""
    import os
    import shutil
    return os.environ.get("BROWSER_PATH") or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


def image(fig: dict, fmt: str = "png", width: int = PNG_WIDTH, scale: float = PNG_SCALE) -> bytes:
    """A figure as PNG or SVG, drawn by plotly.js in one shared headless Chromium (one export at a time)."""
    if fmt not in ("png", "svg"):
        raise ExportError(f"unknown image format {fmt!r}; png or svg")
    import kaleido
    global _server_started
    if browser() is None:
        raise ExportError("figures are drawn by Chromium, which is not installed: apt-get install chromium")
    height = fig.get("layout", {}).get("height") or 450
    with _browser_lock:
        try:
            if not _server_started:
                kaleido.start_sync_server(n=1, mathjax=False, timeout=90, silence_warnings=True)
                atexit.register(kaleido.stop_sync_server, silence_warnings=True)
                _server_started = True
            return kaleido.calc_fig_sync(fig, opts=dict(format=fmt, width=width, height=height, scale=scale))
        except Exception as exc:   # the browser is missing or died: say so, not a traceback
            raise ExportError(f"could not draw the figure with Chromium ({type(exc).__name__}); "
                              "is Debian's chromium installed (apt-get install chromium)?") from exc


# ---------------------------------------------------------------- PDF handout

PDF_FIGURE_MM = 112      # at most this tall: two figures with their titles and captions fill an A4 page


_CREATION = re.compile(rb"/CreationDate \(D:[0-9Z+\-']*\)")


def without_creation_date(data: bytes) -> bytes:
    """The PDF with its CreationDate entry blanked: fpdf2 always writes one (its fixed 1969 epoch here), and a
    de-identified file carries no date. Spaces of the same length keep every byte offset of the cross-reference
    table right."""
    return _CREATION.sub(lambda m: b" " * len(m.group(0)), data)


def pdf(pack: Pack, projector: bool = False) -> bytes:
    """An A4 handout: the title and summary, then each figure at half a page with its title and caption
    (two to a page), then the tables flowing on (headers repeated on a new page). projector=True: the deck's
    layout in a PDF, A4 landscape, one figure a page as large as the page allows, in larger type, for a room."""
    from fpdf import FPDF

    class Handout(FPDF):
        def header(self):
            if pack.synthetic:
                self.set_font("DejaVu", "B", 9)
                self.set_text_color(170, 60, 0)
                self.cell(0, 5, SYNTHETIC_BANNER, align="C", new_x="LMARGIN", new_y="NEXT")
                self.set_text_color(0)
                self.ln(1)

        def footer(self):
            self.set_y(-12)
            self.set_font("DejaVu", size=8)
            self.set_text_color(90)
            self.cell(0, 6, f"{pack.footer_line} · page {self.page_no()}", align="C")

    doc = Handout(orientation="L" if projector else "P", unit="mm", format="A4")
    big = 1.35 if projector else 1.0           # type size
    # fpdf2's fixed epoch (its marker for reproducible files) instead of the day it was made
    doc.set_creation_date(dt.datetime(1969, 12, 31, 19, 0, 0, tzinfo=dt.timezone.utc))
    doc.set_title(pack.title)
    doc.set_author("kdash")
    doc.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    doc.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    doc.set_auto_page_break(True, margin=18)
    doc.add_page()
    doc.set_font("DejaVu", "B", 20 * big)
    doc.multi_cell(0, 10 * big, new_x="LMARGIN", new_y="NEXT", align="L", text=pack.title)
    doc.set_font("DejaVu", size=11 * big)
    doc.ln(2)
    for line in pack.summary:
        doc.multi_cell(0, 6 * big, new_x="LMARGIN", new_y="NEXT", align="L", text=line)
    if pack.refusal:
        doc.ln(4)
        doc.multi_cell(0, 6 * big, new_x="LMARGIN", new_y="NEXT", align="L", text=pack.refusal)
    for f in pack.figures:
        png = image(f.fig, "png")
        ratio = _png_height(png)
        caption_lines = max(1, int(len(f.caption) * big) // (140 if projector else 95) + 1)
        if projector:    # a page each: the figure fills what the title and caption leave
            doc.add_page()
            room = doc.eph - 10 * big - 5 * big * caption_lines - 8
            width = min(doc.epw, room / ratio)
        else:
            width = min(doc.epw, PDF_FIGURE_MM / ratio)
            if doc.will_page_break(8 + width * ratio + 5 * caption_lines + 4):   # title, figure, caption together
                doc.add_page()
            else:
                doc.ln(5)
        doc.set_font("DejaVu", "B", 13 * big)
        doc.multi_cell(0, 7 * big, new_x="LMARGIN", new_y="NEXT", align="L", text=f.title)
        doc.image(io.BytesIO(png), x=doc.l_margin + (doc.epw - width) / 2, w=width)
        doc.set_font("DejaVu", size=9 * big)
        doc.multi_cell(0, 5 * big, new_x="LMARGIN", new_y="NEXT", align="L", text=f.caption)
    for t in pack.tables:
        if projector or doc.will_page_break(8 + 7 * min(len(t.df) + 1, 6)):     # a title with a few of its rows
            doc.add_page()
        else:
            doc.ln(6)
        doc.set_font("DejaVu", "B", 13 * big)
        doc.multi_cell(0, 7 * big, new_x="LMARGIN", new_y="NEXT", align="L", text=t.title)
        doc.set_font("DejaVu", size=9 * big)
        with doc.table(text_align="LEFT", first_row_as_headings=True, repeat_headings=1) as table:
            table.row([str(c) for c in t.df.columns])
            for row in t.df.itertuples(index=False):
                table.row([_cell(v) for v in row])
    return without_creation_date(bytes(doc.output()))


def _png_height(png: bytes) -> float:
    """Height over width of a PNG."""
    from PIL import Image
    with Image.open(io.BytesIO(png)) as im:
        return im.height / im.width


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# ---------------------------------------------------------------- PPTX deck

ROWS_PER_SLIDE = 12


def pptx(pack: Pack) -> bytes:
    from pptx import Presentation
    from pptx.util import Inches, Pt

    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(13.333), Inches(7.5)
    blank = deck.slide_layouts[6]

    def slide(title: str):
        s = deck.slides.add_slide(blank)
        _text(s, title, Inches(0.5), Inches(0.3), Inches(12.3), Inches(0.9), Pt(30), bold=True)
        _text(s, pack.footer_line, Inches(0.5), Inches(6.95), Inches(12.3), Inches(0.4), Pt(11), grey=True)
        if pack.synthetic:
            _text(s, SYNTHETIC_BANNER, Inches(7.3), Inches(0.05), Inches(5.8), Inches(0.35), Pt(12), bold=True,
                  colour=(0xAA, 0x3C, 0x00))
        return s

    first = slide(pack.title)
    body = "\n".join(pack.summary + ([pack.refusal] if pack.refusal else []))
    _text(first, body, Inches(0.5), Inches(1.5), Inches(12.3), Inches(5), Pt(22))
    for f in pack.figures:
        s = slide(f.title)
        png = image(f.fig, "png")
        pic = s.shapes.add_picture(io.BytesIO(png), Inches(0.5), Inches(1.2), height=Inches(4.9))
        if pic.width > Inches(12.3):    # wide figures: fit the width instead
            ratio = Inches(12.3) / pic.width
            pic.width, pic.height = int(pic.width * ratio), int(pic.height * ratio)
        _text(s, f.caption, Inches(0.5), Inches(6.2), Inches(12.3), Inches(0.7), Pt(16))
    for t in pack.tables:
        for start in range(0, max(len(t.df), 1), ROWS_PER_SLIDE):
            part = t.df.iloc[start:start + ROWS_PER_SLIDE]
            more = f" ({start + 1}–{start + len(part)} of {len(t.df)})" if len(t.df) > ROWS_PER_SLIDE else ""
            s = slide(t.title + more)
            shape = s.shapes.add_table(len(part) + 1, len(t.df.columns), Inches(0.5), Inches(1.3),
                                       Inches(12.3), Inches(0.4) * (len(part) + 1))
            for j, col in enumerate(t.df.columns):
                shape.table.cell(0, j).text = str(col)
            for i, row in enumerate(part.itertuples(index=False), start=1):
                for j, value in enumerate(row):
                    shape.table.cell(i, j).text = _cell(value)
            for cell in (c for r in shape.table.rows for c in r.cells):
                for para in cell.text_frame.paragraphs:
                    for run in para.runs:
                        run.font.size = Pt(14)
    props = deck.core_properties
    props.title, props.author, props.last_modified_by = pack.title, "kdash", "kdash"
    props.subject = "Clinic report" if pack.kind == "report" else "Case conference"
    out = io.BytesIO()
    deck.save(out)
    return _without_dates(out.getvalue())


def _text(slide, text: str, left, top, width, height, size, bold: bool = False, grey: bool = False,
          colour: tuple | None = None) -> None:
    from pptx.dml.color import RGBColor
    box = slide.shapes.add_textbox(left, top, width, height)
    box.text_frame.word_wrap = True
    for i, line in enumerate(text.split("\n")):
        para = box.text_frame.paragraphs[0] if i == 0 else box.text_frame.add_paragraph()
        run = para.add_run()
        run.text = line
        run.font.size, run.font.bold = size, bold
        if grey or colour:
            run.font.color.rgb = RGBColor(*(colour or (0x66, 0x66, 0x66)))


_DATED = re.compile(rb"<dcterms:(created|modified)[^>]*>[^<]*</dcterms:\1>")


def _without_dates(pptx_bytes: bytes) -> bytes:
    """The deck without the template's created/modified timestamps (a de-identified file has no dates)."""
    src = zipfile.ZipFile(io.BytesIO(pptx_bytes))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "docProps/core.xml":
                data = _DATED.sub(b"", data)
            item.date_time = (1980, 1, 1, 0, 0, 0)     # the zip format's zero, not the day it was made
            dst.writestr(item, data)
    return out.getvalue()
