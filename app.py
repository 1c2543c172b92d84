"""kdash: router and frame only (settings, store, sign-in, navigation per role, the demo banner).

`streamlit run app.py` imports this file once to find its server (`app`, Streamlit's st.App with kdash's two
sign-in routes, kdash/ui/web.py); every browser tab then runs it as a script, i.e. main().
"""

import streamlit as st


def main() -> None:
    from kdash import access, ui

    # A local icon: a Material name would make the browser fetch the favicon from a font CDN.
    # A narrower sidebar than Streamlit's 300 px: tables and tiles get the width on a 1280 px projector.
    st.set_page_config(page_title="kdash", page_icon="kdash/assets/icon.png", layout="wide",
                       initial_sidebar_state=240)

    con = ui.open_store_or_stop()
    cfg = ui.clinic_settings()

    # Each url_path is its file's name: on a process's first run Streamlit resolves a deep link against the
    # legacy pages/ folder before app.py has run (see kdash.ui.require_app_frame).
    sections = {
        "Clinic": [
            st.Page("pages/home.py", title="Clinic at a glance", icon=":material/home:", default=True),
            st.Page("pages/roster.py", title="Patients", icon=":material/groups:", url_path="roster"),
            st.Page("pages/patient.py", title="Patient progress", icon=":material/monitoring:", url_path="patient"),
            st.Page("pages/eligibility.py", title="Eligibility", icon=":material/checklist:", url_path="eligibility"),
            st.Page("pages/record_session.py", title="Record a session", icon=":material/edit_note:",
                    url_path="record_session"),
        ],
        "Clinic-wide": [
            st.Page("pages/outcomes.py", title="Outcomes", icon=":material/query_stats:", url_path="outcomes"),
            st.Page("pages/side_effects.py", title="Side effects", icon=":material/vital_signs:", url_path="side_effects"),
            st.Page("pages/throughput.py", title="Throughput", icon=":material/event_available:", url_path="throughput"),
            st.Page("pages/conference.py", title="Case conference", icon=":material/co_present:", url_path="conference"),
        ],
        "Admin": [
            st.Page("pages/users.py", title="Users", icon=":material/manage_accounts:", url_path="users"),
            st.Page("pages/import_data.py", title="Import", icon=":material/upload_file:", url_path="import_data"),
            st.Page("pages/audit.py", title="Audit log", icon=":material/policy:", url_path="audit"),
            st.Page("pages/flag_rules.py", title="Flag rules", icon=":material/rule:", url_path="flag_rules"),
        ],
        "Records": [      # every role but the presenter: gaps in the record (managers see counts only)
            st.Page("pages/data_quality.py", title="Data quality", icon=":material/fact_check:",
                    url_path="data_quality"),
        ],
        "Help": [         # every role: the rules and sources the app's figures and flags cite
            st.Page("pages/reference.py", title="Clinical reference", icon=":material/menu_book:",
                    url_path="reference"),
        ],
    }
    # The patients' own page: no staff sign-in, and no staff session seen from it (kdash/clinical/checkin.py).
    checkin = st.Page("pages/checkin.py", title="Check-in", icon=":material/how_to_reg:", url_path="checkin")
    # Every page is routable (so a deep link survives signing in); the sidebar shows a role only its own.
    page = st.navigation([p for pages in sections.values() for p in pages] + [checkin], position="hidden")
    if page.url_path == "checkin":
        ui.leave_staff_session(con, cfg)
        with ui.app_frame():
            page.run()
        st.stop()
    ui.demo_banner(con)

    user = ui.current_user(con, cfg)
    if user is None:
        ui.sign_in_page(con, cfg, next_path=ui.here(page))
        st.stop()

    ui.sidebar(sections, user["role"], user["name"])
    ui.idle_watch(con, cfg)          # patient data goes from the screen at the idle time, without a click
    asked = page.url_path or "home"
    if not access.may_open(user["role"], asked):
        if asked == "home":           # the landing page of a role without the clinic overview: its first page
            st.switch_page(next(p for ps in sections.values() for p in ps
                                if (p.url_path or "home") == access.pages_for(user["role"])[0]))
        st.title(access.PAGE_TITLES.get(asked, "Not available"))
        ui.refuse(f"the {access.PAGE_TITLES.get(asked, asked)} page")
        st.stop()
    with ui.app_frame():
        page.run()


if __name__ == "__main__":       # a browser tab's run (Streamlit runs its script as __main__; so does AppTest)
    main()
else:                            # the server, when `streamlit run app.py` imports this file
    from kdash.ui import warmup, web
    web.stay_offline()           # no lookup of this machine's external address on the internet
    web.refuse_public_demo()     # a demo store's published password stays on this machine
    # The lifespan fills the shared cache with every page's opening view as the server starts (kdash/ui/warmup.py).
    from starlette.middleware import Middleware
    app = st.App("app.py", routes=web.routes(), lifespan=warmup.lifespan, middleware=[Middleware(web.BrowserNonce)])
