"""A bounded API fuzz run (schemathesis) over the served OpenAPI document, on the local gateway and a real
database: no operation answers a server error to any input its schema allows or refuses, and every
reply matches what the operation documents. `make fuzz` runs the same with many more examples."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import admin_login, bind, channel_login, unique

EXAMPLES = int(os.environ.get("WATERREV_FUZZ_EXAMPLES", "12"))
# `make test` replays the same examples every run; `make fuzz` draws new ones (and many more).
DERANDOMIZE = os.environ.get("WATERREV_FUZZ_RANDOM", "0") != "1"


@pytest.fixture(scope="module")
def gateway(_invoice_platform: Any) -> Iterator[str]:
    """The gateway with the outside systems `make run` starts that a route reaches synchronously: the
    local S3 (the statistics export uploads its file while answering)."""
    from waterrev.local.gateway import make_server

    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def tokens() -> dict[str, str]:
    openid = unique("fz")
    member = channel_login(openid)
    assert bind(member, openid, 1).code == 0
    return {"adminToken": admin_login(), "customerToken": member}


def _schema() -> Any:
    import schemathesis

    from waterrev.local.gateway import build_targets, merged_openapi

    return schemathesis.openapi.from_dict(merged_openapi(build_targets()))


def _operations() -> list[str]:
    return sorted(op.ok().label for op in _schema().get_all_operations())


@pytest.mark.parametrize("label", _operations())
def test_no_server_error_and_replies_match_their_documentation(
    label: str, gateway: str, tokens: dict[str, str]
) -> None:
    """Given any request the schema generates for an operation (valid and invalid), when it is sent with
    the caller's token, then no 5xx, and the status, body and content type are documented."""
    from schemathesis import checks as st_checks

    st_checks.load_all_checks()

    schema = _schema()
    operation = next(op.ok() for op in schema.get_all_operations() if op.ok().label == label)  # type: ignore[attr-defined]
    security = [name for req in operation.definition.raw.get("security", []) for name in req]
    headers = {"Authorization": f"Bearer {tokens[security[0]]}"} if security and security[0] in tokens else {}
    import schemathesis

    strategy = st.one_of(
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=DERANDOMIZE,
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        response = case.call(base_url=gateway, headers=headers, timeout=30)
        case.validate_response(
            response,
            checks=[
                st_checks.not_a_server_error,
                st_checks.status_code_conformance,
                st_checks.content_type_conformance,
                st_checks.response_schema_conformance,
            ],
        )

    run()
