"""The check-in slip staff hand a patient (kdash/clinical/checkin.py): the clinic, the one-time code in large type,
its QR code (segno, made here: no network) and until when it is valid. No name, ID or birth date: a slip that is lost
or photographed names no one, and the birth date the patient types is the second half of the key."""

from __future__ import annotations

import datetime as dt
import io

from kdash.present.export import FONTS, without_creation_date

SLIP_MM = (105, 148)     # A6: four to an A4 sheet, or a receipt-sized page


def qr_png(url: str, scale: int = 8) -> bytes:
    """The QR code of the check-in address, as a PNG (error correction M: a slip may be creased)."""
    import segno
    buf = io.BytesIO()
    segno.make_qr(url, error="m").save(buf, kind="png", scale=scale, border=2)
    return buf.getvalue()


def slip_pdf(clinic: str, code: str, url: str, expires_at: str, forms: list[str], synthetic: bool = False) -> bytes:
    from fpdf import FPDF
    from kdash import scales
    doc = FPDF(orientation="P", unit="mm", format=SLIP_MM)
    doc.set_creation_date(dt.datetime(1969, 12, 31, 19, 0, 0, tzinfo=dt.timezone.utc))
    doc.set_title("Check-in")
    doc.set_author("kdash")
    doc.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    doc.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    doc.set_auto_page_break(False)
    doc.set_margins(8, 8, 8)
    doc.add_page()
    if synthetic:
        doc.set_font("DejaVu", "B", 7)
        doc.set_text_color(170, 60, 0)
        doc.cell(0, 4, "SYNTHETIC DEMO DATA", align="C", new_x="LMARGIN", new_y="NEXT")
        doc.set_text_color(0)
    doc.set_font("DejaVu", "B", 13)
    doc.multi_cell(0, 6, clinic, align="C", new_x="LMARGIN", new_y="NEXT")
    doc.set_font("DejaVu", size=9)
    doc.multi_cell(0, 4.5, "Before your visit, answer a few questions on your phone: scan the code, or open the "
                           "address below and type the code. You will also be asked your date of birth.",
                   align="C", new_x="LMARGIN", new_y="NEXT")
    doc.image(io.BytesIO(qr_png(url)), x=(SLIP_MM[0] - 48) / 2, y=doc.get_y() + 2, w=48, h=48)
    doc.set_y(doc.get_y() + 52)
    doc.set_font("DejaVu", "B", 26)
    doc.cell(0, 12, code, align="C", new_x="LMARGIN", new_y="NEXT")
    doc.set_font("DejaVu", size=7.5)
    doc.multi_cell(0, 4, url, align="C", new_x="LMARGIN", new_y="NEXT")
    doc.set_font("DejaVu", size=9)
    names = ", ".join(scales.SCALES[f].name for f in forms)
    until = dt.datetime.fromisoformat(expires_at)
    doc.ln(1)
    doc.multi_cell(0, 4.5, f"Questions: {names}. The code works once, until {until:%a %d %b %Y, %H:%M}.",
                   align="C", new_x="LMARGIN", new_y="NEXT")
    return without_creation_date(bytes(doc.output()))
