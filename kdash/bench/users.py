"""`python -m kdash bench --users N`: N people on one server at once, for a fixed time.

N sessions of mixed roles each click through their role's pages with a short pause between clicks, while one
clinician in a real browser (headless Chromium) records sessions. The N sessions speak Streamlit's own websocket
protocol, as a browser tab does (a page switch is the `rerun_script` message a sidebar link sends), signed in with
the same HttpOnly cookie a browser holds; they draw nothing, so the 2 cores go to the server, and a page's
latency is from the click's message to the server's `script_finished`. Every answer is checked: the page's title,
no exception, no sign-in page. The server's CPU and RSS are sampled from /proc.

Not run in CI. The sign-ins it makes stay in the store's sign-in table until they expire.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import threading
import time
from dataclasses import dataclass, field

from kdash.bench import common
from kdash.ui import serving

TARGET_P95, TARGET_RSS_MB = 2.0, 1536
ROLE_MIX = ["clinician", "manager", "clinician", "presenter", "manager", "clinician", "admin", "manager"]


@dataclass(frozen=True)
class Visit:
    page: str             # the url path of the page (st.navigation's page name)
    title: str            # its h1
    query: str = ""


def visits_for(role: str, patient_id: str) -> list[Visit]:
    return {
        "clinician": [Visit("", "Clinic at a glance"), Visit("roster", "Patients"),
                      Visit("patient", "Patient progress", f"patient_id={patient_id}"),
                      Visit("eligibility", "Eligibility", f"patient_id={patient_id}"),
                      Visit("outcomes", "Outcomes"), Visit("side_effects", "Side effects"),
                      Visit("conference", "Case conference")],
        "manager": [Visit("", "Clinic at a glance"), Visit("outcomes", "Outcomes"), Visit("side_effects", "Side effects"),
                    Visit("throughput", "Throughput")],
        "presenter": [Visit("conference", "Case conference")],
        "admin": [Visit("users", "Users"), Visit("audit", "Audit log"), Visit("flag_rules", "Flag rules"),
                  Visit("import_data", "Import")],
    }[role]


@dataclass
class Tally:
    latencies: dict = field(default_factory=dict)       # page → [seconds]
    errors: list = field(default_factory=list)          # (role, page, what)
    saves: list = field(default_factory=list)            # seconds from "Save session" to "Saved session"
    recorder_errors: list = field(default_factory=list)

    def add(self, page: str, seconds: float) -> None:
        self.latencies.setdefault(page or "home", []).append(seconds)


def _p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20, method="inclusive")[-1] if len(xs) > 1 else xs[0]


async def _one_page(ws, visit: Visit, timeout: float) -> tuple[float, str | None]:
    """Ask for a page as a sidebar click does; seconds until its run finished, and what was wrong (or None)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    msg = BackMsg()
    msg.rerun_script.query_string = visit.query
    msg.rerun_script.page_name = visit.page
    t = time.perf_counter()
    await ws.send(msg.SerializeToString())
    titles, problem = [], None
    while True:
        data = await asyncio.wait_for(ws.recv(), timeout=max(0.1, timeout - (time.perf_counter() - t)))
        fwd = ForwardMsg()
        fwd.ParseFromString(data)
        kind = fwd.WhichOneof("type")
        if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
            element = fwd.delta.new_element
            which = element.WhichOneof("type")
            if which == "exception":
                problem = "exception: " + element.exception.type
            elif which == "heading" and element.heading.tag == "h1":
                titles.append(element.heading.body.lstrip("# ").strip())
        elif kind == "page_not_found":
            problem = "page not found"
        elif kind == "script_finished":
            status = fwd.script_finished
            if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                continue                                     # a rerun follows (st.rerun, st.switch_page)
            if status == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
                continue                                     # the idle timer's fragment, not this click
            seconds = time.perf_counter() - t
            if problem is None and visit.title not in titles:
                problem = "landed on " + (repr(titles[-1]) if titles else "no title")
            return seconds, problem


async def _person(url: str, cookie: str, role: str, patient_id: str, until: float, think: tuple[float, float],
                  tally: Tally, seed: int, timeout: float) -> None:
    import websockets
    rng = random.Random(seed)
    ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
    headers = {"Cookie": f"kdash_session={cookie}", "Origin": url}
    visits = visits_for(role, patient_id)
    try:
        async with websockets.connect(ws_url, additional_headers=headers, subprotocols=["streamlit"],
                                      max_size=None, open_timeout=timeout) as ws:
            i = rng.randrange(len(visits))
            while time.perf_counter() < until:
                visit = visits[i % len(visits)]
                i += 1
                try:
                    seconds, problem = await _one_page(ws, visit, timeout)
                except asyncio.TimeoutError:
                    tally.errors.append((role, visit.page or "home", f"no answer in {timeout:.0f} s"))
                    return
                tally.add(visit.page, seconds)
                if problem:
                    tally.errors.append((role, visit.page or "home", problem))
                await asyncio.sleep(rng.uniform(*think))
    except Exception as e:         # a refused or dropped connection is an error of the run, not of the bench
        tally.errors.append((role, "-", f"connection: {type(e).__name__}"))


def _settled(page) -> None:
    page.wait_for_timeout(150)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=60_000)


def fill_session_form(page, weight: str = "70", dose: str = "35", madrs: str | None = "18") -> None:
    """The record-session form's weight, dose and (optionally) MADRS, typed as a clinician does (Tab after each)."""
    for label, value in (("Weight (kg)", weight), ("Dose (mg)", dose)):
        page.get_by_label(label).fill(value)
        page.get_by_label(label).press("Tab")
    if madrs is not None:
        page.get_by_label("MADRS", exact=False).first.fill(madrs)
        page.get_by_label("MADRS", exact=False).first.press("Tab")


def save_session_form(page, settle) -> None:
    """Confirm the form's warnings if it shows any (no sign-off on file, no vitals), save, and wait for "Saved"."""
    from playwright.sync_api import expect
    confirm = page.get_by_text("I have reviewed these and the session went ahead")
    if confirm.count():
        confirm.click()
        settle(page)
    page.get_by_role("button", name="Save session").click()
    expect(page.get_by_text("Saved session")).to_be_visible(timeout=60_000)


def _record_sessions(url: str, patients: list[str], until: float, tally: Tally, password: str,
                     every: float = 20.0) -> None:
    """One clinician in Chromium recording a completed session every `every` seconds (or as fast as the form
    allows, if slower) until the time is up."""
    from playwright.sync_api import expect, sync_playwright
    from kdash.bench import browser as bench_browser
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=serving.chromium_path(), args=serving.CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
        bench_browser.sign_in_timed(page, url, "clinician", password, "Clinic at a glance")
        n = 0
        next_at = time.perf_counter()
        while time.perf_counter() < until:
            time.sleep(max(0.0, next_at - time.perf_counter()))
            next_at = time.perf_counter() + every
            pid = patients[n % len(patients)]
            n += 1
            try:
                page.goto(f"{url}/record_session?patient_id={pid}")
                expect(page.get_by_text(f"ID {pid}").first).to_be_visible(timeout=60_000)
                fill_session_form(page)
                _settled(page)
                t = time.perf_counter()
                save_session_form(page, _settled)
                tally.saves.append(time.perf_counter() - t)
            except Exception as e:
                tally.recorder_errors.append(f"{pid}: {type(e).__name__}: {str(e).splitlines()[0][:120]}")
        browser.close()


class Sampler(threading.Thread):
    """The server process's CPU (as % of one core) and resident memory, from /proc every half second."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.cpu, self.rss_mb, self.stop = pid, [], [], threading.Event()
        self.tick = os.sysconf("SC_CLK_TCK")

    def _read(self) -> tuple[float, float]:
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / self.tick
        with open(f"/proc/{self.pid}/status") as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
        return cpu, rss

    def run(self) -> None:
        last_cpu, last_t = self._read()[0], time.perf_counter()
        while not self.stop.wait(0.5):
            cpu, rss = self._read()
            now = time.perf_counter()
            self.cpu.append(100 * (cpu - last_cpu) / (now - last_t))
            self.rss_mb.append(rss)
            last_cpu, last_t = cpu, now


def sign_ins(db_path: str, roles: list[str]) -> list[str]:
    """A sign-in (its cookie) for each person, made before the server takes the store."""
    from kdash import settings
    from kdash.access import signins
    from kdash.store import db
    cfg = settings.load(db_path)
    con = db.connect(db_path)
    try:
        return [signins.start(con, cfg, role, role) for role in roles]
    finally:
        con.close()


def recordable(db_path: str, n: int = 50) -> list[str]:
    """Patients in an IV ketamine course (the recorder's 35 mg for 70 kg is a valid IV dose, not an esketamine one)."""
    from kdash.store import db
    con = db.connect(db_path, read_only=True)
    try:
        return [p for (p,) in con.execute("""
            SELECT patient_id FROM sessions WHERE status = 'completed' GROUP BY patient_id
            HAVING arg_max(route, scheduled_at) = 'iv_ketamine' ORDER BY patient_id LIMIT $n""", {"n": n}).fetchall()]
    finally:
        con.close()


def run(db_path: str, users: int, seconds: float, patient_id: str, password: str, log_dir: str,
        think: tuple[float, float] = (1.0, 3.0), record: bool = True, timeout: float = 60,
        record_every: float = 20.0) -> dict:
    roles = [ROLE_MIX[i % len(ROLE_MIX)] for i in range(users)]
    cookies = sign_ins(db_path, roles)
    patients = recordable(db_path)
    tally = Tally()
    with serving.streamlit_server(db_path, log_path=os.path.join(log_dir, "bench-users.log"), wait_ready=True) as server:
        sampler = Sampler(server.proc.pid)
        sampler.start()
        until = time.perf_counter() + seconds
        recorder = (threading.Thread(target=_record_sessions,
                                     args=(server.url, patients, until, tally, password, record_every),
                                     daemon=True) if record else None)
        if recorder:
            recorder.start()

        async def everyone():
            await asyncio.gather(*(_person(server.url, cookie, role, patient_id, until, think, tally, seed, timeout)
                                   for seed, (role, cookie) in enumerate(zip(roles, cookies))))
        asyncio.run(everyone())
        if recorder:
            recorder.join(timeout=120)
        sampler.stop.set()
        sampler.join()
    all_latencies = [x for xs in tally.latencies.values() for x in xs]
    pages = {page: {"clicks": len(xs), "median_s": round(statistics.median(xs), 3), "p95_s": round(_p95(xs), 3),
                    "max_s": round(max(xs), 3)} for page, xs in sorted(tally.latencies.items())}
    return {
        "store": db_path, "cores": os.cpu_count(), "users": users, "seconds": seconds,
        "roles": {r: roles.count(r) for r in sorted(set(roles))}, "think_s": list(think),
        "record_every_s": record_every if record else None,
        "clicks": len(all_latencies),
        "overall": {"median_s": round(statistics.median(all_latencies), 3) if all_latencies else None,
                    "p95_s": round(_p95(all_latencies), 3) if all_latencies else None,
                    "max_s": round(max(all_latencies), 3) if all_latencies else None},
        "pages": pages, "errors": len(tally.errors), "error_examples": tally.errors[:10],
        "recorded_sessions": len(tally.saves), "recorder_errors": tally.recorder_errors[:10],
        "save_s": ({"median": round(statistics.median(tally.saves), 3), "max": round(max(tally.saves), 3)}
                   if tally.saves else None),
        "server": {"cpu_mean_pct": round(statistics.mean(sampler.cpu), 1) if sampler.cpu else None,
                   "cpu_max_pct": round(max(sampler.cpu), 1) if sampler.cpu else None,
                   "rss_max_mb": round(max(sampler.rss_mb)) if sampler.rss_mb else None},
        "targets": {"p95_s": TARGET_P95, "errors": 0, "rss_max_mb": TARGET_RSS_MB},
    }


def table(r: dict) -> str:
    lines = [f"{r['users']} people ({', '.join(f'{n} {role}' for role, n in r['roles'].items())}) for {r['seconds']:.0f} s, "
             f"pause {r['think_s'][0]:g}–{r['think_s'][1]:g} s between clicks · {r['cores']} cores · {r['store']}",
             f"{'page':<16}{'clicks':>8}{'median s':>10}{'p95 s':>8}{'max s':>8}"]
    for page, p in r["pages"].items():
        lines.append(f"{page:<16}{p['clicks']:>8}{p['median_s']:>10.2f}{p['p95_s']:>8.2f}{p['max_s']:>8.2f}")
    o, s = r["overall"], r["server"]
    if o["median_s"] is not None:
        lines.append(f"{'all':<16}{r['clicks']:>8}{o['median_s']:>10.2f}{o['p95_s']:>8.2f}{o['max_s']:>8.2f}")
    lines.append(f"errors {r['errors']}" + (f" (e.g. {r['error_examples'][0]})" if r["errors"] else "")
                 + f" · sessions recorded meanwhile {r['recorded_sessions']}"
                 + (f" (one every {r['record_every_s']:g} s asked)" if r["record_every_s"] else "")
                 + (f" (save to saved: median {r['save_s']['median']:.2f} s, max {r['save_s']['max']:.2f} s)"
                    if r["save_s"] else "")
                 + (f", recorder errors {len(r['recorder_errors'])}: {r['recorder_errors'][0]}" if r["recorder_errors"] else ""))
    lines.append(f"server CPU mean {s['cpu_mean_pct']} % of a core (max {s['cpu_max_pct']} %), RSS max {s['rss_max_mb']} MB")
    ok = (o["p95_s"] is not None and o["p95_s"] <= TARGET_P95 and r["errors"] == 0
          and (s["rss_max_mb"] or 0) <= TARGET_RSS_MB)
    lines.append(f"targets: p95 ≤ {TARGET_P95} s, no errors, RSS ≤ {TARGET_RSS_MB / 1024:.1f} GB → "
                 + ("met" if ok else "NOT met"))
    return "\n".join(lines)


def main(args, db_path: str) -> int:
    from kdash.access.users import DEMO_PASSWORD
    result = run(db_path, args.users, args.seconds, args.patient, DEMO_PASSWORD,
                 args.log_dir or os.path.dirname(db_path), think=(args.think / 2, args.think * 1.5),
                 record=not args.no_recorder, record_every=args.record_every)
    return common.emit(args.json, table(result), result)
