"""/openapi.json is a valid OpenAPI 3 document of the routes the gateway serves, and a
bounded schemathesis run against the gateway's app finds no 5xx answer.

Both go through the app in-process (the `inprocess` fixture): the document and the
answers to what schemathesis generates are the app's, whatever carries them.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

pytestmark = pytest.mark.slow

# Statuses of the requests schemathesis sent, for the check that it really sent some.
SENT: collections.Counter[int] = collections.Counter()


def test_document_validates_and_lists_every_route(inprocess: Any) -> None:
    from openapi_spec_validator import validate

    doc = inprocess.client.get("/openapi.json").json()
    validate(doc)
    paths = set(doc["paths"])
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/v1/models",
                 "/v1/similarity", "/v1/profile", "/v1/answer",
                 "/v1/models/{model_name}", "/v1/models/{model_name}/metadata",
                 "/v1/models/{model_name}:predict",
                 "/v1/models/{model_name}/versions/{version}:predict",
                 "/v1/models/{model_name}/labels/{label}/metadata"):
        assert path in paths, path
    # Documented example paths answer as documented.
    assert inprocess.client.get("/v1/models/qa/labels/nope/metadata").status_code in \
        {int(c) for c in doc["paths"]["/v1/models/{model_name}/labels/{label}/metadata"]["get"][
            "responses"]}


@pytest.fixture
def api_schema(inprocess: Any) -> Iterator[Any]:
    if inprocess.backend != "embedded":
        pytest.skip("one fuzzing run is enough: the REST layer is the same for every runtime")
    SENT.clear()
    yield schemathesis.openapi.from_wsgi("/openapi.json", inprocess.app)
    # Every operation, examples from the coverage phase and a few generated ones each.
    assert sum(SENT.values()) >= 300, SENT
    assert inprocess.client.get("/readyz").status_code == 200  # still healthy


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=2, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_schemathesis_finds_no_server_error(case: Any) -> None:
    from schemathesis.checks import not_a_server_error

    SENT[case.call_and_validate(checks=[not_a_server_error]).status_code] += 1
