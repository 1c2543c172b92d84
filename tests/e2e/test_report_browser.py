"""A manager hands over last month's report in one click: the PDF and the deck download from Throughput."""

import io
import re

from tests.e2e.browser import open_as


def test_one_click_downloads_last_months_report(page, server):
    from pptx import Presentation
    from pypdf import PdfReader

    from kdash.present import conference
    open_as(page, server + "/throughput", "manager")
    with page.expect_download(timeout=120_000) as pdf_download:
        page.get_by_role("button", name="PDF report").click()
    pdf = open(pdf_download.value.path(), "rb").read()
    assert pdf[:5] == b"%PDF-" and pdf_download.value.suggested_filename.startswith("kdash-report-")
    reader = PdfReader(io.BytesIO(pdf))
    text = re.sub(r" +", " ", "\n".join(p.extract_text() for p in reader.pages))
    assert "Clinic report: last full month" in text and "Headline figures" in text
    assert all(conference.SYNTHETIC in p.extract_text() for p in reader.pages)      # a demo store's report
    assert "P000" not in text                                                        # counts and rates only
    with page.expect_download(timeout=120_000) as deck_download:
        page.get_by_role("button", name="PowerPoint").click()
    deck = Presentation(deck_download.value.path())
    assert len(deck.slides) >= 5
    assert page.app_errors == []
