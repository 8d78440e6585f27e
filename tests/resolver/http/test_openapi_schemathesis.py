"""schemathesis against the live server's ``/api/openapi.json``: no 5xx, responses as documented.

Generated cases go out anonymous or as the prefix administrator, and a share of
them target handles of the seeded prefix so writes reach the store.
"""

from __future__ import annotations

import asyncio

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation.case import Case
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from registry.store import HandleStore
from tests.resolver.http.test_rest_harness import ADMIN_ID, NA, PREFIX, SECRET, TV, basic, serve

EXAMPLES_PER_OPERATION = 40
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ADMIN_HEADERS = {"Authorization": basic(ADMIN_ID, SECRET)}
KNOWN_HANDLES = [TV, NA, f"{PREFIX}/fuzz", f"{PREFIX}/TV-0001"]


def _cases(operation: APIOperation) -> st.SearchStrategy[Case]:
    names = {p.name for p in operation.path_parameters}
    if "handle" not in names:
        return operation.as_strategy()
    return st.one_of(
        operation.as_strategy(),
        st.sampled_from(KNOWN_HANDLES).flatmap(
            lambda handle: operation.as_strategy(path_parameters={"handle": handle})
        ),
    )


def _run(operation: APIOperation, base_url: str) -> None:
    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=_cases(operation), admin=st.booleans())
    def check(case: Case, admin: bool) -> None:
        case.call_and_validate(
            base_url=base_url, headers=ADMIN_HEADERS if admin else None, checks=CHECKS, timeout=10
        )

    check()


def _fuzz(base_url: str) -> list[str]:
    """Run every operation on generated cases; the operations exercised."""
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")
    exercised: list[str] = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            raise result.err()
        operation = result.ok()
        _run(operation, base_url)
        exercised.append(operation.label)
    return exercised


async def test_openapi_document_holds(database: HandleStore) -> None:
    async with serve(database, allow_insecure_auth=True) as node:
        exercised = await asyncio.to_thread(_fuzz, node.url)
    assert {
        "GET /api/handles", "GET /api/handles/{handle}", "PUT /api/handles/{handle}",
        "DELETE /api/handles/{handle}", "POST /api/sessions", "GET /api/sessions/{which}",
        "PUT /api/sessions/{which}", "DELETE /api/sessions/{which}", "GET /healthz",
        "GET /metrics", "GET /", "GET /{handle}", "POST /api/cert-requests",
        "GET /api/cert-requests/{id}",
    } <= set(exercised)
