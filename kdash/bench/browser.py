"""`python -m kdash bench --browser`: what a person feels, click to idle in headless Chromium on a large store.

Each run starts the app afresh (`streamlit run`, as a clinic would), waits until it is ready, and then, for every
role in turn, signs in on a new browser context and clicks through the role's pages twice: the first pass is each
page's first visit in that session, the second its repeat visit. The first sign-in of a run is the first of the
day on that server. "Idle" is Streamlit's script state back at "notRunning" after the click's run, no stale
element left, every plotly chart drawn (its SVG in the page) and every data grid drawn (its canvas).

Not run in CI (a 100,000-patient store takes minutes). Needs playwright (requirements-dev.txt) and Debian's chromium.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from dataclasses import dataclass, field

from kdash.bench import common
from kdash.ui import serving

TARGET_FIRST, TARGET_REPEAT, TARGET_SIGN_IN = 1.0, 0.5, 3.0   # seconds (issue 20)

# Installed before each click: the click's time, and when the script state last went back to "notRunning" (the
# run's end, where React drew it; Runs below is what says a run finished).
_ARM = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  window.__kd = {t0: null, t1: null, tEnd: null};
  if (window.__kdObserver) window.__kdObserver.disconnect();
  window.__kdObserver = new MutationObserver(() => {
    if (app.getAttribute('data-test-script-state') === 'notRunning') window.__kd.tEnd = performance.now();
  });
  window.__kdObserver.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  const stamp = () => { if (window.__kd.t0 === null) window.__kd.t0 = performance.now(); };
  document.addEventListener('click', stamp, {capture: true, once: true});
  document.addEventListener('keydown', e => { if (e.key === 'Enter') stamp(); }, {capture: true, once: true});
}"""

# True (and the time stamped) once the page is idle: run over, nothing stale, every chart and grid drawn.
_IDLE = """(title) => {
  const kd = window.__kd;
  if (!kd || kd.t0 === null) return false;
  const app = document.querySelector("[data-testid='stApp']");
  if (app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector("[data-stale='true']")) return false;
  const h1 = document.querySelector('h1');
  if (title && (!h1 || !h1.textContent.includes(title))) return false;
  // What is on screen or below it; a collapsed expander's or another tab's content draws when it opens.
  const shown = el => el.checkVisibility();
  for (const c of document.querySelectorAll("[data-testid='stPlotlyChart']"))
    if (shown(c) && !c.querySelector('.main-svg')) return false;
  for (const g of document.querySelectorAll("[data-testid='stDataFrame']"))
    if (shown(g) && !g.querySelector('canvas')) return false;
  if (kd.t1 === null) kd.t1 = performance.now();
  return true;
}"""

_STATE = """() => ({kd: window.__kd, state: document.querySelector("[data-testid='stApp']").getAttribute('data-test-script-state'),
  stale: document.querySelectorAll("[data-stale='true']").length, h1: (document.querySelector('h1') || {}).textContent,
  charts: [...document.querySelectorAll("[data-testid='stPlotlyChart']")].map(c => [c.checkVisibility(), !!c.querySelector('.main-svg')]),
  grids: [...document.querySelectorAll("[data-testid='stDataFrame']")].map(g => [g.checkVisibility(), !!g.querySelector('canvas')])})"""


@dataclass(frozen=True)
class Step:
    """One thing a person does: click a sidebar page, click a link, or type into a box and press Enter."""
    name: str
    kind: str             # "nav" | "link" | "type"
    target: str           # the link's label, or the box's label
    title: str            # the h1 the step lands on
    text: str = ""        # what is typed
    again: bool = True    # has a repeat visit (typing the same case code twice runs nothing)


def steps_for(role: str, patient_id: str, case: str) -> list[Step]:
    """A role's clicks, its landing page first (its first visit is the sign-in's own)."""
    nav = lambda name, label: Step(name, "nav", label, label)     # noqa: E731 (a sidebar label is its page title)
    return {
        "clinician": [nav("home", "Clinic at a glance"), nav("roster", "Patients"),
                      nav("patient (empty)", "Patient progress"),
                      Step("patient (ID typed)", "type", "Patient ID", "Patient progress", patient_id),
                      Step("eligibility (link)", "link", "Eligibility checklist", "Eligibility"),
                      nav("record_session (empty)", "Record a session"),
                      nav("outcomes", "Outcomes"), nav("side_effects", "Side effects"),
                      nav("conference", "Case conference")],
        "manager": [nav("home", "Clinic at a glance"), nav("outcomes", "Outcomes"), nav("side_effects", "Side effects"),
                    nav("throughput", "Throughput")],
        "presenter": [nav("conference", "Case conference"),
                      Step("conference (case typed)", "type", "…or type a case code", "Case conference", case,
                           again=False)],
        "admin": [nav("users", "Users"), nav("import_data", "Import"), nav("audit", "Audit log"),
                  nav("flag_rules", "Flag rules")],
    }[role]


def _act(page, step: Step) -> None:
    if step.kind == "nav":
        page.locator("[data-testid='stSidebar']").get_by_role("link", name=step.target, exact=True).click()
    elif step.kind == "link":
        page.locator("[data-testid='stMain']").get_by_role("link", name=step.target).first.click()
    else:
        box = page.get_by_label(step.target, exact=True)
        box.fill(step.text)
        box.press("Enter")


class Runs:
    """Counts the script runs the server reports finished to this page (its websocket's `script_finished`, not a
    fragment's). The page's own script-state attribute is not enough: React can batch "running" and "notRunning"
    into one render, so a quick run leaves no trace in the DOM."""

    def __init__(self, page):
        self.finished = 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
        if not isinstance(payload, bytes):
            return
        msg = ForwardMsg()
        try:
            msg.ParseFromString(payload)
        except Exception:
            return
        if msg.WhichOneof("type") == "script_finished" and msg.script_finished in (
                ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR):
            self.finished += 1

    def wait_past(self, page, seen: int, timeout_ms: float) -> None:
        deadline = time.perf_counter() + timeout_ms / 1000
        while self.finished <= seen:
            if time.perf_counter() > deadline:
                raise TimeoutError("no script run finished")
            page.wait_for_timeout(5)        # lets Playwright deliver the websocket's frames


def timed(page, runs: Runs, act, title: str, timeout_ms: float = 120_000) -> tuple[float, float]:
    """Seconds from the click (or Enter) to idle, and of those the drawing after the script's run ended (charts
    and grids), measured inside the page."""
    page.evaluate(_ARM)
    seen = runs.finished
    act()
    runs.wait_past(page, seen, timeout_ms)
    page.evaluate("() => { window.__kd.tEnd = window.__kd.tEnd || performance.now(); }")
    page.wait_for_function(_IDLE, arg=title, polling="raf", timeout=timeout_ms)
    return page.evaluate("() => [(window.__kd.t1 - window.__kd.t0) / 1000,"
                         " (window.__kd.t1 - (window.__kd.tEnd || window.__kd.t1)) / 1000]")


def sign_in_timed(page, url: str, role: str, password: str, landing: str) -> float:
    from playwright.sync_api import expect
    page.goto(url)
    expect(page.get_by_role("heading", name="Sign in to kdash")).to_be_visible(timeout=120_000)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=120_000)
    page.get_by_label("User name").fill(role)
    page.get_by_label("Password", exact=True).fill(password)
    # The sign-in sets its cookie through a redirect, a new page load: time it from the click with wall time,
    # and wait for idle on the page the redirect loads.
    t = time.perf_counter()
    with page.expect_navigation(wait_until="commit", timeout=120_000):
        page.get_by_role("button", name="Sign in").click()
    page.evaluate("() => { window.__kd = {t0: 0, t1: null, tEnd: null}; }")
    expect(page.get_by_text("Signed in as")).to_be_visible(timeout=120_000)
    page.wait_for_function(_IDLE, arg=landing, polling="raf", timeout=120_000)
    return time.perf_counter() - t


@dataclass
class Timing:
    role: str
    step: str
    first: list[float] = field(default_factory=list)
    repeat: list[float] = field(default_factory=list)
    first_draw: list[float] = field(default_factory=list)       # of each, the part after the run ended
    repeat_draw: list[float] = field(default_factory=list)

    def row(self) -> dict:
        """Median and worst of each visit; None where the step has no such visit (a landing page's first visit
        is its sign-in's)."""
        med = lambda xs: round(statistics.median(xs), 3) if xs else None      # noqa: E731
        worst = lambda xs: round(max(xs), 3) if xs else None                   # noqa: E731
        f, r = self.first, self.repeat
        return {"role": self.role, "page": self.step,
                "first_median_s": med(f), "first_worst_s": worst(f),
                "repeat_median_s": med(r), "repeat_worst_s": worst(r), "runs": max(len(f), len(r)),
                "first_drawing_median_s": med(self.first_draw), "repeat_drawing_median_s": med(self.repeat_draw),
                "meets_target": (not f or med(f) <= TARGET_FIRST) and (not r or med(r) <= TARGET_REPEAT)}


def _or_screenshot(page, log_dir: str, what: str, act):
    """act(), or an error naming the step and a screenshot of where it stuck."""
    try:
        return act()
    except Exception as e:
        shot = os.path.join(log_dir, "bench-browser-" + "".join(c if c.isalnum() else "-" for c in what) + ".png")
        page.screenshot(path=shot)
        state = page.evaluate(_STATE)
        raise RuntimeError(f"{what} did not reach idle: {type(e).__name__}; {state}; screenshot {shot}") from None


def one_run(browser, url: str, roles: list[str], patient_id: str, case: str, password: str, timings: dict,
            sign_ins: list[float], first_sign_in: list[float], viewport: dict, log_dir: str) -> None:
    for i, role in enumerate(roles):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        runs = Runs(page)
        try:
            steps = steps_for(role, patient_id, case)
            t = _or_screenshot(page, log_dir, f"{role} sign-in",
                               lambda: sign_in_timed(page, url, role, password, steps[0].title))
            (first_sign_in if i == 0 else sign_ins).append(t)
            for visit, todo in (("first", steps[1:]), ("repeat", [s for s in steps if s.again])):
                for step in todo:
                    s, drawing = _or_screenshot(page, log_dir, f"{role} {step.name} {visit} visit",
                                                lambda: timed(page, runs, lambda: _act(page, step), step.title))
                    timing = timings.setdefault((role, step.name), Timing(role, step.name))
                    getattr(timing, visit).append(s)
                    getattr(timing, visit + "_draw").append(drawing)
                    if page.locator("[data-testid='stException']").count():
                        raise RuntimeError(f"{role} · {step.name}: the page shows an exception")
        finally:
            context.close()


def case_code(db_path: str, patient_id: str) -> str:
    """The patient's case code, read before a server takes the store."""
    from kdash.clinical import deid
    from kdash.store import db
    con = db.connect(db_path, read_only=True)
    try:
        return deid.pseudonym(con, patient_id)
    finally:
        con.close()


def run(db_path: str, runs: int, roles: list[str], patient_id: str, password: str, log_dir: str,
        viewport: dict | None = None) -> dict:
    case = case_code(db_path, patient_id)
    from playwright.sync_api import sync_playwright
    path = serving.chromium_path()
    if not path:
        raise SystemExit("Debian's chromium is needed: apt-get install -y chromium")
    timings: dict = {}
    sign_ins: list[float] = []
    first_sign_in: list[float] = []
    ready: list[float] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=serving.CHROMIUM_ARGS)
        for n in range(runs):
            t = time.perf_counter()
            with serving.streamlit_server(db_path, log_path=os.path.join(log_dir, f"bench-browser-{n}.log"),
                                          wait_ready=True) as server:
                ready.append(time.perf_counter() - t)
                one_run(browser, server.url, roles, patient_id, case, password, timings, sign_ins, first_sign_in,
                        viewport or {"width": 1440, "height": 900}, log_dir)
            print(f"run {n + 1}/{runs} done", file=sys.stderr)
        browser.close()
    return {"store": db_path, "cores": os.cpu_count(), "runs": runs,
            "server_ready_s": [round(x, 2) for x in ready],
            "first_sign_in_s": {"median": round(statistics.median(first_sign_in), 3),
                                "worst": round(max(first_sign_in), 3), "role": roles[0]},
            "later_sign_in_s": ({"median": round(statistics.median(sign_ins), 3), "worst": round(max(sign_ins), 3)}
                                if sign_ins else None),
            "targets_s": {"first_visit": TARGET_FIRST, "repeat_visit": TARGET_REPEAT, "first_sign_in": TARGET_SIGN_IN},
            "pages": [t.row() for t in timings.values()]}


def table(result: dict) -> str:
    lines = [f"store {result['store']} · {result['cores']} cores · {result['runs']} run(s) · server ready in "
             + ", ".join(f"{s:.1f}" for s in result["server_ready_s"]) + " s",
             f"first sign-in after start ({result['first_sign_in_s']['role']}) to an idle home: median "
             f"{result['first_sign_in_s']['median']:.2f} s, worst {result['first_sign_in_s']['worst']:.2f} s "
             f"(target ≤ {TARGET_SIGN_IN:.0f} s)"]
    if result["later_sign_in_s"]:
        lines.append(f"later sign-ins: median {result['later_sign_in_s']['median']:.2f} s, "
                     f"worst {result['later_sign_in_s']['worst']:.2f} s")
    lines.append(f"{'role':<10}{'page':<24}{'first med':>10}{'worst':>8}{'repeat med':>12}{'worst':>8}"
                 f"{'drawing':>9}  verdict")
    for r in result["pages"]:
        # no first visit: a landing page, its sign-in's; no repeat visit: the same case typed twice runs nothing
        cell = lambda x, w, none="—": f"{x:>{w}.2f}" if x is not None else f"{none:>{w}}"   # noqa: E731
        lines.append(f"{r['role']:<10}{r['page']:<24}{cell(r['first_median_s'], 10, 'sign-in')}"
                     f"{cell(r['first_worst_s'], 8, 'sign-in')}"
                     f"{cell(r['repeat_median_s'], 12)}{cell(r['repeat_worst_s'], 8)}"
                     f"{cell(r['repeat_drawing_median_s'], 9)}  "
                     + ("ok" if r["meets_target"] else "over target"))
    lines.append(f"targets: first visit ≤ {TARGET_FIRST} s, repeat ≤ {TARGET_REPEAT} s (medians), seconds click to idle; "
                 "drawing: of a repeat visit, the seconds after the script's run ended (charts, grids)")
    return "\n".join(lines)


def main(args, db_path: str) -> int:
    from kdash.access.users import DEMO_PASSWORD
    roles = args.role or ["clinician", "manager", "presenter", "admin"]
    result = run(db_path, args.runs, roles, args.patient, DEMO_PASSWORD, args.log_dir or os.path.dirname(db_path))
    return common.emit(args.json, table(result), result)
