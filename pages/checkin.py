"""Check-in: the patient's own page (clinical reference §8, data-contract §8). No staff sign-in and nothing of the
clinic's: a code and the patient's birth date open one check-in; the forms, one screen each, with their standard
wording; "Send" saves once; the last screen thanks the patient and, after a suicide-item answer above 0, asks them
to speak to a member of staff now. `?kiosk=1` (a waiting-room tablet) goes back to the start after sending or
after [checkin] kiosk_idle_seconds without a touch."""

import datetime as dt
import re
import time

import streamlit as st

from kdash import ui
from kdash.clinical import checkin

ui.require_app_frame()

cfg = ui.clinic_settings()
con = ui.connection()
c = cfg["checkin"]
kiosk = st.query_params.get("kiosk") in ("1", "true", "yes")
S = st.session_state


def reset() -> None:
    """Back to the start screen, with nothing of the last patient's left in this tab."""
    for key in [k for k in S if k.startswith("ck_")]:
        del S[key]
    S["ck_round"] = time.time()      # new widget keys: no typed code or birth date survives
    if "code" in st.query_params:
        del st.query_params["code"]


def birth_date(text: str) -> dt.date | None:
    """A typed birth date: month/day/year (05/01/1980, 5-1-1980) or year-month-day (1980-05-01)."""
    t = (text or "").strip()
    try:
        if m := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", t):
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        if m := re.fullmatch(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})", t):
            return dt.date(int(m[3]), int(m[1]), int(m[2]))
    except ValueError:
        return None
    return None


def start_screen() -> None:
    st.title("Check-in")
    st.write(f"{cfg['clinic']['name']}: a few questions before your visit. Your answers go to your care team.")
    given = st.query_params.get("code", "") if not kiosk else ""
    with st.form(f"ck_open_{S.get('ck_round', 0)}", border=False):
        code = st.text_input("Check-in code (on your slip)", value=given or "", max_chars=20,
                             placeholder="e.g. 7QX2-K9MD", autocomplete="off")
        born = st.text_input("Your date of birth (month/day/year)", max_chars=12, placeholder="MM/DD/YYYY",
                             autocomplete="off")
        go = st.form_submit_button("Next", type="primary", use_container_width=True)
    if go:
        opened = checkin.open_checkin(con, cfg, code, birth_date(born), client=ui.client_address())
        if isinstance(opened, str):
            st.error(opened, icon=":material/error:")
            return
        S["ck_opened"], S["ck_step"], S["ck_answers"] = opened, 0, {}
        st.rerun()


def form_screen(opened: checkin.Opened, step: int) -> None:
    form, n = opened.forms[step], len(opened.forms)
    answers = S["ck_answers"].setdefault(form, [None] * len(checkin.ITEMS[form]))
    for i in range(len(answers)):                 # this tap's answer, before the progress above it is drawn
        key = f"ck_{form}_{i}_{S.get('ck_round', 0)}"
        if S.get(key) is not None:
            answers[i] = S[key]
    st.title("Check-in")
    st.markdown(f"Part {step + 1} of {n}")          # body text: a caption's grey is under 4.5:1 (WCAG AA)
    st.progress(sum(a is not None for a in answers) / len(answers),
                text=f"{sum(a is not None for a in answers)} of {len(answers)} questions answered")
    st.markdown(f"**{checkin.QUESTION if form == 'PHQ9' else checkin.GAD_QUESTION}**")
    for i, item in enumerate(checkin.ITEMS[form]):
        chosen = st.radio(f"{i + 1}. {item}", range(4), index=answers[i], format_func=lambda v: checkin.OPTIONS[v],
                          key=f"ck_{form}_{i}_{S.get('ck_round', 0)}")
        answers[i] = chosen
    if form == "PHQ9":
        S["ck_difficulty"] = st.radio(checkin.DIFFICULTY, range(4), index=S.get("ck_difficulty"),
                                      format_func=lambda v: checkin.DIFFICULTY_OPTIONS[v],
                                      key=f"ck_difficulty_{S.get('ck_round', 0)}")
    last = step == n - 1
    cols = st.columns(2)
    if step > 0 and cols[0].button("Back", use_container_width=True, key=f"ck_back_{step}"):
        S["ck_step"] = step - 1
        st.rerun()
    if cols[1].button("Send" if last else "Next", type="primary", use_container_width=True, key=f"ck_go_{step}"):
        missing = [i + 1 for i, a in enumerate(answers) if a is None]
        if missing:
            st.error(f"Please answer question{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))}.",
                     icon=":material/error:")
            return
        if not last:
            S["ck_step"] = step + 1
            st.rerun()
        send(opened)


def send(opened: checkin.Opened) -> None:
    answers = {f: list(S["ck_answers"][f]) for f in opened.forms}
    S["ck_item9"] = "PHQ9" in answers and answers["PHQ9"][8] >= cfg["safety"]["phq9_item9_min"]
    try:
        result = checkin.send(con, cfg, opened, answers, S.get("ck_difficulty"))
    except checkin.CheckinError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    S["ck_done"], S["ck_saved"], S["ck_sent_at"] = True, result["saved"], time.time()
    if result["saved"]:
        ui.clear_caches()             # the worklist and the patient page read the new scores at their next run
    st.rerun()


def thanks_screen() -> None:
    st.title("Thank you")
    if not S.get("ck_saved"):
        st.info(checkin.SENT_ALREADY, icon=":material/check_circle:")
    else:
        st.success("Your answers have been sent to your care team.", icon=":material/check_circle:")
    if S.get("ck_item9"):
        lines = [line for line in (c["crisis_line"], c["national_line"]) if line]
        st.error("**Please speak to a member of staff now.** Tell them you would like to talk about the thoughts of "
                 "hurting yourself that you told us about.\n\n"
                 + ("If you are not at the clinic, or need help at any time: " + "; ".join(lines) + "."
                    if lines else ""), icon=":material/support_agent:")
    if kiosk:
        st.write("This screen goes back to the start by itself in a few seconds.")
        if st.button("Finish", type="primary", use_container_width=True):
            reset()
            st.rerun()
    else:
        st.write("You can close this page now.")


@st.fragment(run_every=5)
def kiosk_watch() -> None:
    """A kiosk tablet forgets the last patient: after the thank-you, or after a quiet spell mid-way."""
    quiet = time.time() - S.get("ck_touched", time.time())
    done_for = time.time() - S.get("ck_sent_at", time.time())
    if (S.get("ck_done") and done_for > c["kiosk_thanks_seconds"]) or quiet > c["kiosk_idle_seconds"]:
        reset()
        st.rerun(scope="app")


if kiosk and "ck_round" not in S:
    S["ck_round"] = time.time()
S["ck_touched"] = time.time()          # every tap reruns this page; the kiosk watch's own runs do not touch it
if S.get("ck_done"):
    thanks_screen()
elif S.get("ck_opened") is None:
    start_screen()
else:
    form_screen(S["ck_opened"], S.get("ck_step", 0))
if kiosk:
    kiosk_watch()
