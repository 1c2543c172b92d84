"""The only Streamlit code outside pages/, one job per module (docs/architecture.md):

- cache: the store connection and the shared cache of data-function results (warmup and refresh keep it warm);
- session: who is signed in (sign-in page, resumed sign-ins, single sign-on, sign-out, idle watch);
- guard: what a role may see and the audit of each look (data-function checks, view audits, counts-only views);
- downloads: exports made and audited at the click;
- show: charts, tables in the clinic's words, escaped text, a failed part of a page;
- frame: the frame each page runs in (store, demo banner, navigation, deep links through app.py);
- finder, flags, filters: the patient finder, the flag worklist, the cohort filters;
- web and serving: the server's own routes, and running it.

Pages call them as `ui.<name>`: this package's names are the pages' one interface to it.
"""

from __future__ import annotations

from kdash.ui.cache import (  # noqa: F401
    CLINIC_WIDE,
    DATA_MODULES,
    DEMO_PATIENTS,
    STALE_SECONDS,
    clear_caches,
    clinic_settings,
    compute,
    connection,
    data_function,
    generation,
    read,
    stale_note,
    store_path,
    today,
)
from kdash.ui.downloads import ExportRefused, csv_download, download, export_refusal  # noqa: F401
from kdash.ui.filters import cohort_filters  # noqa: F401
from kdash.ui.finder import patient_choice, patient_finder, patient_table  # noqa: F401
from kdash.ui.flags import (  # noqa: F401
    SEVERITY_TEXT,
    ack_note,
    acknowledge_form,
    course_prompts,
    flag_panel,
    flag_worklist,
    forget_pick,
    worklist_age,
    WORKLIST_REFRESH_SECONDS,
)
from kdash.ui.frame import (  # noqa: F401
    app_frame,
    demo_banner,
    is_demo_store,
    open_store_or_stop,
    record_note,
    require_app_frame,
    sidebar,
)
from kdash.ui.guard import (  # noqa: F401
    audit_now,
    audit_view,
    connection_for,
    count_text,
    counts_only,
    fetch,
    refuse,
    require,
    suppressed,
    too_few,
)
from kdash.ui.session import (  # noqa: F401
    IDLE_CHECK_SECONDS,
    browser_nonce,
    client_address,
    current_user,
    fragment_guard,
    here,
    idle_watch,
    leave_staff_session,
    sign_in_page,
    sign_out,
    user,
)
from kdash.ui.show import (  # noqa: F401
    CHART_CONFIG,
    chart,
    data_table,
    failed,
    patient_heading,
    patient_plain,
    percent,
    percent_columns,
    plain,
    section,
    word_table,
)
