"""A property-based fuzz of the REST API from its own OpenAPI document (schemathesis).

Every operation is called with generated parameters by a member of a lab that has a
scan with data, a queue and a sample, on SQLite and PostgreSQL, through the WSGI app
(no server). Each call runs twice: as generated, and with the lab's real ids put in its
path so the generated query reaches the code behind the lookups. No answer may be a
server error, and every answer must be one the document lists, in its schema.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from pybirch.database import Layout
from pybirch.database.models import Role
from pybirch.database.storage import ChunkData
from web_support import add_member, make_app

#: Examples per operation and generation mode: the whole fuzz takes about a minute.
EXAMPLES = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def lab_world(db):
    """A member's token and the ids of their lab's scan (with a 2-D map), queue and sample."""
    lab = db.create_lab("Fuzz Lab")
    member = add_member(db, lab.id, "fuzz", Role.MEMBER)
    token = db.create_api_token(member, "fuzz")[1]
    queue = db.create_queue("fuzzing", lab_id=lab.id)
    sample = db.create_sample("F-1", lab_id=lab.id)
    scan = db.create_scan("map", lab_id=lab.id, queue_id=queue.id, sample_id=sample.id)
    layout = Layout.build(["signal (V)"], ["y (mm)", "x (mm)"])
    measurement = db.create_measurement_object(scan.id, "Lock-in/X", layout)
    ys, xs = (grid.ravel() for grid in np.meshgrid(np.arange(4.0), np.arange(5.0), indexing="ij"))
    columns = [np.linspace(-1, 1, 20), ys, xs, np.full(20, 1.7e9)]
    db.write_rows(measurement.id, ChunkData(0, 0, columns, 20, 20))
    return {
        "token": token,
        "path": {
            "lab_id": lab.id,
            "queue_id": queue.id,
            "scan_id": scan.scan_id,
            "measurement_name": measurement.name,
        },
    }


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_answers_every_generated_request_without_a_server_error(db, lab_world, mode):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", make_app(db))
    headers = {"Authorization": f"Bearer {lab_world['token']}"}
    statuses: Counter[int] = Counter()

    def call(case: schemathesis.Case) -> None:
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        statuses[response.status_code] += 1

    for result in schema.get_all_operations():
        operation = result.ok()
        real = {k: v for k, v in lab_world["path"].items() if k in operation.path_parameters}
        fuzz(operation, mode, call, real)
    assert sum(statuses.values()) >= EXAMPLES * 10
    if mode is GenerationMode.POSITIVE:
        assert statuses[200] >= EXAMPLES, statuses  # the real ids reach the data


def fuzz(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    call: Callable[[schemathesis.Case], None],
    real: dict[str, Any],
) -> None:
    """Call ``operation`` with generated cases, each again on the ``real`` path ids."""

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,  # the same requests on every run: a failure is reproducible
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        database=None,
    )
    def run(case: schemathesis.Case) -> None:
        call(case)
        if real:  # the same query on the lab's real records
            case.path_parameters = {**case.path_parameters, **real}
            call(case)

    run()
