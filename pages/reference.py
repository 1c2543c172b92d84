"""Clinical reference: the scales, rules, thresholds and sources every figure and flag of kdash rests on
(docs/clinical-reference.md, shipped with the product), one section at a time. "Clinical reference §4" elsewhere
in the app points here. Every role may read it: it holds no patient data."""

import streamlit as st

from kdash import ui
from kdash.present import reference

ui.require_app_frame()

st.title("Clinical reference")
st.caption("The scales, eligibility rules, dosing, safety flags, published outcomes and side-effect rates that kdash's "
           "rules and figures come from, with their sources. Every threshold is a default: the clinic changes it in "
           "its settings, and the Flag rules page shows the values in use.")
sections = reference.sections()
asked = st.query_params.get("section")
numbers = [s.number for s in sections]
chosen = st.selectbox("Section", range(len(sections)), format_func=lambda i: sections[i].title,
                      index=numbers.index(asked) if asked in numbers else 0, key="reference_section")
st.markdown(sections[chosen].body)
