"""A bounded API fuzz run (schemathesis) over the served OpenAPI document, on the local gateway and a real
database: no operation answers a server error to any input its schema allows or refuses, and every
reply matches what the operation documents. `make fuzz` runs the same with many more examples.

Webhook operations are sent as their platform sends them: signed over the exact bytes that go on the
wire (the signing happens in the HTTP session, on the prepared request, after schemathesis has
serialized the body once), with a current timestamp and a fresh nonce, so the fuzz reaches what lies
behind each signature check and not only the check itself."""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import admin_login, bind, channel_login, unique

EXAMPLES = int(os.environ.get("WATERREV_FUZZ_EXAMPLES", "12"))
# `make test` replays the same examples every run; `make fuzz` draws new ones (and many more).
DERANDOMIZE = os.environ.get("WATERREV_FUZZ_RANDOM", "0") != "1"


# Which platform signs each webhook route, and how: "SYS009" is the payment platform's RSA signature
# (adapters/paysign), every other name a key set of waterrev.webhook's HMAC (WATERREV_WEBHOOK_KEYS).
WEBHOOK_PLATFORMS = {
    "/open-api/pay/notify": "SYS009",
    "/open-api/pay/refund-notify": "SYS009",
    "/open-api/bank/charge/query": "BANK",
    "/open-api/bank/charge/pay": "BANK",
    "/open-api/bank/withholding/return": "BANK",
    "/open-api/iot/reading/push": "IOT",
    "/open-api/invoice/result": "SYS008",
    "/open-api/message/result": "SYS010",
    "/admin-api/installation/contract/sign/callback": "ESIGN",
}
HMAC_KEY_ID = "fuzz-key"


def signature_headers(platform: str, keys: dict[str, Any], raw: bytes) -> dict[str, str]:
    """The headers `platform` signs `raw` with: a current timestamp, a fresh nonce, the signature."""
    ts, nonce = str(int(time.time())), secrets.token_hex(16)
    if platform == "SYS009":
        from waterrev.adapters import paysign

        private_pem, serial = keys["SYS009"]
        return {
            "X-Sys009-Timestamp": ts,
            "X-Sys009-Nonce": nonce,
            "X-Sys009-Serial": serial,
            "X-Sys009-Signature": paysign.sign_notification(private_pem, ts, nonce, raw),
        }
    from waterrev.webhook import sign

    # The HMAC platforms sign text; bytes that are not UTF-8 cannot be signed by them at all (the handler
    # refuses them before or at the check), so they go with a signature over their U+FFFD form.
    return {
        "X-Waterrev-Key-Id": HMAC_KEY_ID,
        "X-Waterrev-Timestamp": ts,
        "X-Waterrev-Nonce": nonce,
        "X-Waterrev-Signature": sign(keys[platform], ts, nonce, raw.decode("utf-8", "replace")),
    }


class SigningSession(requests.Session):
    """Signs each request the way `platform` does, over the body bytes as prepared for the wire."""

    def __init__(self, platform: str, keys: dict[str, Any]) -> None:
        super().__init__()
        self.platform, self.keys = platform, keys

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        body = request.body or b""
        raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        for name in [h for h in request.headers if h.lower().startswith(("x-sys009-", "x-waterrev-"))]:
            del request.headers[name]  # whatever schemathesis generated for the signature's header parameters
        request.headers.update(signature_headers(self.platform, self.keys, raw))
        return super().send(request, **kwargs)


@pytest.fixture(scope="module")
def platform_keys() -> Iterator[dict[str, Any]]:
    """Every webhook platform's key known to our settings: an RSA pair for SYS-009 (its public half by
    serial), an HMAC secret for each other platform under HMAC_KEY_ID."""
    from waterrev.adapters import paysign
    from waterrev.settings import reset_settings

    private_pem, public_pem = paysign.new_key_pair()
    serial = paysign.key_serial(public_pem)
    hmac_keys = {p: secrets.token_hex(16) for p in set(WEBHOOK_PLATFORMS.values()) - {"SYS009"}}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WATERREV_WEBHOOK_KEYS", json.dumps({p: {HMAC_KEY_ID: s} for p, s in hmac_keys.items()}))
        mp.setenv("WATERREV_SYS009_PLATFORM_KEYS", json.dumps({serial: public_pem}))
        reset_settings()
        yield {"SYS009": (private_pem, serial), **hmac_keys}
    reset_settings()


@pytest.fixture(scope="module")
def gateway(_invoice_platform: Any, platform_keys: dict[str, Any]) -> Iterator[str]:
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
    label: str, gateway: str, tokens: dict[str, str], platform_keys: dict[str, Any]
) -> None:
    """Given any request the schema generates for an operation (valid and invalid), when it is sent with
    the caller's token, then no 5xx, and the status, body and content type are documented."""
    from schemathesis import checks as st_checks

    st_checks.load_all_checks()

    schema = _schema()
    operation = next(op.ok() for op in schema.get_all_operations() if op.ok().label == label)  # type: ignore[attr-defined]
    security = [name for req in operation.definition.raw.get("security", []) for name in req]
    headers = {"Authorization": f"Bearer {tokens[security[0]]}"} if security and security[0] in tokens else {}
    platform = WEBHOOK_PLATFORMS.get(operation.path)
    statuses: list[int] = []
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
        session = SigningSession(platform, platform_keys) if platform else None
        response = case.call(base_url=gateway, headers=headers, session=session, timeout=30)
        statuses.append(response.status_code)
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
    if platform:  # the signatures held: some request got past the check (every refusal of it is a 401)
        assert any(status != 401 for status in statuses), f"{label}: every signed request was refused"


def test_every_webhook_route_is_signed_here() -> None:
    """Given the catalog's webhook routes, then each has its platform above (a new one is not fuzzed unsigned)."""
    from waterrev import catalog

    routes = {r.path for i in catalog.built() for r in i.routes if r.caller is catalog.Caller.WEBHOOK}
    assert routes == set(WEBHOOK_PLATFORMS)


@pytest.mark.parametrize("path", sorted(WEBHOOK_PLATFORMS))
def test_a_wrong_signature_is_a_documented_refusal(
    path: str, gateway: str, platform_keys: dict[str, Any]
) -> None:
    """Given a webhook route, its documented security is its platform's signature, and a request whose
    signature does not hold is answered with a refusal (401) the route documents, code included."""
    operation = _schema().raw_schema["paths"][path]["post"]
    scheme = "sys009Signature" if WEBHOOK_PLATFORMS[path] == "SYS009" else "platformHmac"
    assert operation["security"] == [{scheme: []}]

    headers = signature_headers(WEBHOOK_PLATFORMS[path], platform_keys, b"{}")
    response = requests.post(
        gateway + path,
        data=b'{"tampered":true}',  # not the body that was signed
        headers={"Content-Type": "application/json", **headers},
        timeout=30,
    )

    assert response.status_code == 401, response.text
    documented = operation["responses"]["401"]["content"]["application/json"]["schema"]
    assert response.json()["code"] in documented["properties"]["code"]["enum"]


def _with_each_string_replaced(value: Any, by: str) -> Iterator[Any]:
    """`value` once for every string inside it (at any depth), that string replaced by `by`."""
    if isinstance(value, str):
        yield by
    elif isinstance(value, dict):
        for key, inner in value.items():
            for changed in _with_each_string_replaced(inner, by):
                yield {**value, key: changed}
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            for changed in _with_each_string_replaced(inner, by):
                yield [*value[:i], changed, *value[i + 1 :]]


@pytest.mark.parametrize("path", sorted(WEBHOOK_PLATFORMS))
def test_text_postgresql_cannot_hold_is_refused_not_a_server_error(
    path: str, gateway: str, platform_keys: dict[str, Any]
) -> None:
    """Given a webhook's documented example, when any one of its strings is a NUL (JSON \\u0000) or a lone
    surrogate (JSON \\ud800) - text no generator draws and PostgreSQL cannot hold - and the body is validly
    signed, then the reply is not a server error and its status is one the route documents."""
    spec = _schema().raw_schema
    operation = spec["paths"][path]["post"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    example = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["examples"][0]
    replies: list[tuple[int, str]] = []
    for bad in ("x\x00", "\ud800"):
        for body in _with_each_string_replaced(example, bad):
            raw = json.dumps(body).encode()  # ASCII: the NUL and the surrogate go as JSON escapes
            headers = signature_headers(WEBHOOK_PLATFORMS[path], platform_keys, raw)
            response = requests.post(
                gateway + path, data=raw, headers={"Content-Type": "application/json", **headers}, timeout=30
            )
            replies.append((response.status_code, raw.decode()))
    assert not [(s, b) for s, b in replies if s >= 500 or str(s) not in operation["responses"]]
