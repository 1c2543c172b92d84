"""What a person sees cut off or in code: text that overflows its box, chart titles and legends outside their
figure, tables wider than their frame, and raw codes (the vocabulary's keys, None, nan, midnight timestamps).

Run on its own to survey a store (screenshots and findings):
    python -m tests.e2e.layout STORE OUTDIR
"""

from __future__ import annotations

import re

# Text boxes that must show their whole text: metric tiles, titles, captions, static table headers, buttons.
OVERFLOW_JS = """
() => {
  const found = [];
  const visible = el => el.offsetParent !== null && el.getClientRects().length > 0;
  const metric = ["stMetricValue", "stMetricLabel", "stMetricDelta"]
    .map(t => `[data-testid='${t}'], [data-testid='${t}'] *`).join(", ");
  const sel = metric + ", " +
              "h1, h2, h3, [data-testid='stTable'] th, [data-testid='stExpander'] summary p," +
              "[data-testid='stMarkdownContainer'] p, button p, [data-testid='stWidgetLabel'] p";
  for (const el of document.querySelectorAll(sel)) {
    if (!visible(el)) continue;
    if (el.scrollWidth > el.clientWidth + 1)
      found.push({what: "text", text: el.innerText.slice(0, 80), scroll: el.scrollWidth, client: el.clientWidth});
  }
  // plotly: a title or legend drawn past its figure's edge is clipped
  for (const svg of document.querySelectorAll(".js-plotly-plot .main-svg:first-of-type")) {
    if (!visible(svg)) continue;
    const box = svg.getBoundingClientRect();
    const root = svg.closest(".js-plotly-plot");
    for (const part of root.querySelectorAll(".gtitle, .legend, .g-xtitle, .g-ytitle, .annotation-text")) {
      const r = part.getBoundingClientRect();
      if (r.width === 0) continue;
      if (r.left < box.left - 2 || r.right > box.right + 2 || r.top < box.top - 2 || r.bottom > box.bottom + 2)
        found.push({what: "chart", text: (part.textContent || "").slice(0, 80),
                    part: part.getAttribute("class"), left: r.left - box.left, right: r.right - box.right,
                    top: r.top - box.top, bottom: r.bottom - box.bottom});
    }
  }
  // a data table whose columns do not fit its frame scrolls sideways: the person misses columns
  for (const grid of document.querySelectorAll("[data-testid='stDataFrame'] .dvn-scroller")) {
    if (!visible(grid)) continue;
    if (grid.scrollWidth > grid.clientWidth + 2) {
      const heads = [...grid.closest("[data-testid='stDataFrame']").querySelectorAll("[role='columnheader']")]
        .map(h => h.textContent).join(" | ");
      found.push({what: "table", text: heads.slice(0, 160), scroll: grid.scrollWidth, client: grid.clientWidth});
    }
  }
  return found;
}
"""

# The page's words: visible text without literal code (st.code, backticks: file and column names of the
# data contract are shown on purpose), plus the data tables' headers and cells, which live in a canvas.
TEXT_JS = """
() => {
  const main = document.querySelector("[data-testid='stMain']") || document.body;
  const copy = main.cloneNode(true);
  copy.querySelectorAll("code, pre, [data-testid='stCode'], .js-plotly-plot .modebar").forEach(e => e.remove());
  const grid = [...main.querySelectorAll("[role='columnheader'], [role='gridcell']")].map(e => e.textContent);
  const svg = [...main.querySelectorAll(".js-plotly-plot text")].map(e => e.textContent);
  return [copy.innerText, ...grid, ...svg].join("\\n");
}
"""

NOT_WORDS = re.compile(r"\bNone\b|\bnan\b|\bNaT\b|\b\d{4}-\d\d-\d\d 00:00(:00)?(?![:.\d])|\bTrue\b|\bFalse\b")


def raw_codes(text: str) -> list[str]:
    """Vocabulary codes (those a person would not write: with an underscore) and Python's empty values."""
    from kdash import vocab
    codes = sorted({c for c in vocab.all_codes() if "_" in c}, key=len, reverse=True)
    found = [m.group(0) for m in NOT_WORDS.finditer(text)]
    pattern = re.compile(r"(?<![\w/.=-])(" + "|".join(map(re.escape, codes)) + r")(?![\w.=])")
    found += [m.group(1) for m in pattern.finditer(text)]
    return sorted(set(found))


def findings(page) -> dict:
    return {"overflow": page.evaluate(OVERFLOW_JS), "codes": raw_codes(page.evaluate(TEXT_JS))}


def deep_links(store: str) -> dict[str, list[str]]:
    """Per role, the paths to check: every page, and the patient and case pages with a patient drawn (read from the
    store before a server takes it)."""
    import duckdb

    from kdash import access
    from kdash.clinical import deid
    con = duckdb.connect(store, read_only=True)
    try:
        pid = con.execute("""SELECT patient_id FROM sessions WHERE status = 'completed' GROUP BY patient_id
                             ORDER BY count(*) DESC, patient_id LIMIT 1""").fetchone()
        case = deid.pseudonym(con, pid[0]) if pid else None
    finally:
        con.close()
    links = {role: ["/" if p == "home" else f"/{p}" for p in access.pages_for(role)] for role in access.ROLES}
    if pid:
        from urllib.parse import quote
        links["clinician"] += [f"/patient?patient_id={quote(pid[0])}", f"/eligibility?patient_id={quote(pid[0])}"]
        links["presenter"] += [f"/conference?case={quote(case)}"]
    return links


def _survey(store: str, outdir: str) -> None:
    import json
    import shutil
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    from kdash import access
    from tests.e2e.browser import CHROMIUM_ARGS, sign_in, streamlit_server, wait_for_app
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    report, links = {}, deep_links(store)
    with streamlit_server(store) as url, sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        for role in access.ROLES:
            ctx = b.new_context(viewport={"width": 1440, "height": 900})
            pg = ctx.new_page()
            pg.goto(url)
            sign_in(pg, role)
            for path in links[role]:
                name = path.strip("/").replace("?", "-").replace("=", "-").replace("%20", "_") or "home"
                pg.goto(url + path)
                wait_for_app(pg)
                pg.wait_for_timeout(800)
                for w, h in ((1440, 900), (1280, 720)):
                    pg.set_viewport_size({"width": w, "height": h})
                    pg.wait_for_timeout(600)
                    found = findings(pg)
                    report[f"{role}/{name}/{w}"] = found
                    pg.screenshot(path=str(out / f"{role}-{name}-{w}.png"))
                    if found["overflow"] or found["codes"]:
                        print(role, name, w, json.dumps(found, ensure_ascii=False)[:1500])
                pg.set_viewport_size({"width": 1440, "height": 900})
            ctx.close()
        b.close()
    (out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    import sys
    _survey(sys.argv[1], sys.argv[2])
