"""The clinical reference ships with kdash: every role reads it on its page, and the sections the app's rules cite
("clinical reference §4") are there."""

import re

import pytest

from kdash import access, rulebook
from kdash.present import reference
from tests.app.session import signed_in


def test_every_section_the_app_cites_is_in_the_shipped_reference():
    numbers = {s.number for s in reference.sections()}
    cited = {n for r in rulebook.RULES.values() for n in re.findall(r"§(\d+)", r.source)}
    assert cited and cited <= numbers and {"1", "2", "4", "9"} <= numbers


@pytest.mark.parametrize("role", access.ROLES)
def test_each_role_reads_a_section_by_its_number(app_env, role):
    at = signed_in(role)
    at.query_params["section"] = "4"
    at.switch_page("pages/reference.py").run()
    assert not at.exception and at.title[0].value == "Clinical reference"
    assert at.selectbox(key="reference_section").value == [s.number for s in reference.sections()].index("4")
    assert any("Suicidal" in m.value or "suicid" in m.value for m in at.markdown)
