"""Fuzzing of every page form (the writes outside the API, which the OpenAPI fuzz does not reach).

The page URLs that take a POST are read from the access matrix's expectation table, so a new form is fuzzed
as soon as it is classified there. Staff (who hold every role) post arbitrary fields, values and files, and
every answer is below 500, with the database's invariants intact.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_access_matrix import EXPECTED, World, world  # noqa: F401 - `world` is a fixture
from tests.test_fuzz_api import assert_no_half_written_rows

pytestmark = pytest.mark.django_db

FORMS = [
    (key, index)
    for key, probes in EXPECTED.items()
    for index, probe in enumerate(probes)
    if probe.method == "post" and not key.split(":")[-1].startswith("api-") and key not in ("logout", "login")
]
FIELD_NAMES = ["name", "description", "file", "use_for_candidates", "prediction_sets", "threshold", "aggregation",
               "min_annotations", "apply_adjudications", "labels", "note", "action", "extra", "next"]  # fmt: skip
TEXT = st.text(max_size=200) | st.sampled_from(["", "0", "-1", "1e309", "NaN", "true", "<script>", "9" * 30])
# Deeply nested JSON, as a field and as a JSONL upload (a RecursionError once made such a file a 500).
DEEP = st.integers(1, 3000).map(lambda depth: '{"image": "x", "classes": ' + "[" * depth + "]" * depth + "}")
VALUE = (
    TEXT
    | DEEP
    | st.lists(TEXT, max_size=4)
    | st.binary(max_size=3000).map(lambda data: SimpleUploadedFile("f.csv", data))
    | DEEP.map(lambda line: SimpleUploadedFile("f.jsonl", f"{line}\n".encode()))
)
FORM = st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=10), VALUE, max_size=8)


def test_the_page_forms_to_fuzz_are_found():
    assert {key for key, _ in FORMS} >= {"prediction_sets:upload", "prediction_sets:candidate-sources"}, FORMS


@pytest.mark.parametrize(("key", "index"), FORMS, ids=[f"{key} #{index}" for key, index in FORMS])
def test_no_form_post_gives_a_server_error_or_leaves_a_half_written_row(request, client, staff, key, index):
    built: World = request.getfixturevalue("world")
    probe = EXPECTED[key][index]
    url = reverse(key, kwargs=probe.kwargs(built)) + probe.query
    client.force_login(staff)

    @settings(
        max_examples=40, deadline=None, database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )  # fmt: skip
    @given(form=FORM)
    def post(form: dict) -> None:
        for value in form.values():
            if isinstance(value, SimpleUploadedFile):
                value.seek(0)
        response = client.post(url, form)
        assert response.status_code < 500, f"POST {url} {form!r}: {response.status_code}"
        assert_no_half_written_rows()

    post()
