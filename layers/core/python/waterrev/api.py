"""The edge of every HTTP function: authenticate by the catalog, resolve, answer in the envelope.

A handler module builds its resolver with `new_app()`, declares routes with pydantic models, and
exposes `handler = lambda_handler(app)`. Authentication happens before the resolver runs (so an
anonymous caller learns nothing from validation errors); every exception becomes {code, data, msg}.
"""

from __future__ import annotations

import functools
import json
import traceback
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from waterrev import catalog, envelope, metrics
from waterrev.context import Principal, RequestContext, UserType
from waterrev.db import UnitOfWork
from waterrev.errors import AppError, ErrorCode
from waterrev.fields import wire_problem
from waterrev.logs import get_logger
from waterrev.masking import mask_text
from waterrev.security import load_principal

_decimal_json = functools.partial(json.loads, parse_float=Decimal)
M = TypeVar("M", bound=BaseModel)


def new_app(*, validation: bool = True) -> APIGatewayHttpResolver:
    """The resolver every function uses. `validation=False` only for a route that takes the raw body
    and checks it itself (a webhook verifying a signature over the exact bytes)."""
    app = APIGatewayHttpResolver(
        enable_validation=validation, json_body_deserializer=_decimal_json, serializer=envelope.dumps
    )

    @app.exception_handler(AppError)
    def _app_error(exc: AppError) -> Response:
        get_logger().info("rejected", extra={"error_code": exc.error.code, "error": exc.msg})
        return respond(exc.error.http_status, envelope.fail(exc.error.code, exc.msg, exc.data))

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response:
        return respond(400, envelope.fail(ErrorCode.BAD_REQUEST.code, validation_message(exc.errors())))

    @app.not_found
    def _not_found(_: Exception) -> Response:
        return error_response(AppError(ErrorCode.NOT_FOUND))

    @app.exception_handler(Exception)
    def _unhandled(exc: Exception) -> Response:
        # Handled here so the resolver does not log the raw exception text itself (unmasked).
        ctx = app.context.get("ctx")
        return internal_error(exc, ctx.request_id if isinstance(ctx, RequestContext) else "-")

    return app


def error_schema(codes: list[int]) -> dict[str, Any]:
    """The JSON schema of an error envelope whose code is one of `codes`."""
    return {
        "type": "object",
        "required": ["code", "data", "msg"],
        "additionalProperties": False,
        "properties": {
            "code": {"type": "integer", "enum": sorted(set(codes))},
            "data": {"description": "出错时的补充数据（如冲突账单的当前状态、差额），多数错误为 null"},
            "msg": {"type": "string", "description": "错误说明，指明字段与原因"},
        },
    }


def doc(
    reply: Any,
    *errors: ErrorCode,
    summary: str | None = None,
    description: str | None = None,
    media_type: str = "application/json",
) -> dict[str, Any]:
    """Keyword arguments for a route decorator: the reply (the model of `data` inside the envelope, or
    for another media type a description of the bytes) and the errors this operation answers besides
    the generic ones of its caller kind (the OpenAPI builder adds 400, 401, 403 and 415 from the
    catalog). The same declarations let the tests check every reply against its documentation."""
    from collections import defaultdict

    from waterrev.fields import Envelope

    if media_type == "application/json":
        ok_content: dict[str, Any] = {"application/json": {"model": Envelope[reply]}}
    else:
        ok_content = {media_type: {"schema": {"type": "string", "format": "binary"}}}
    responses: dict[int, Any] = {200: {"description": summary or "成功", "content": ok_content}}
    by_status: dict[int, list[ErrorCode]] = defaultdict(list)
    for error in errors:
        by_status[error.http_status].append(error)
    for status, group in by_status.items():
        responses[status] = {
            "description": "; ".join(f"{e.code} {e.message}" for e in group),
            "content": {"application/json": {"schema": error_schema([e.code for e in group])}},
        }
    kwargs: dict[str, Any] = {"responses": responses}
    if summary:
        kwargs["summary"] = summary
    if description:
        kwargs["description"] = description
    return kwargs


def internal_error(exc: Exception, request_id: str) -> Response:
    """Log an unexpected failure with its trace masked (exception texts quote parameters) and answer 500."""
    trace = "".join(traceback.format_exception(exc))
    get_logger().error(
        "unhandled error", extra={"exception_name": type(exc).__name__, "exception": mask_text(trace)}
    )
    return respond(500, envelope.fail(ErrorCode.INTERNAL_ERROR.code, f"系统异常（请求号 {request_id}）"))


def validation_message(errors: Any) -> str:
    parts = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",))
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(msg if not loc and ": " in msg else f"{loc or 'body'}: {msg}")
    return "请求参数不正确：" + "; ".join(parts)


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_MAX_JSON_DEPTH = 64


def _json_depth(value: Any, limit: int) -> bool:
    """True when `value` nests deeper than `limit` (iteratively: the check itself must not recurse)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


MAX_BODY_BYTES = 1024 * 1024  # JSON requests; files go to S3 through upload links, never through the API


def check_body_size(event: dict[str, Any]) -> None:
    """A body over MAX_BODY_BYTES is refused before it is parsed (413): no interface takes one, and
    parsing megabytes of JSON is work a caller should not be able to ask for."""
    body = event.get("body") or ""
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode("utf-8", "surrogatepass"))
    if size > MAX_BODY_BYTES:
        raise AppError(ErrorCode.PAYLOAD_TOO_LARGE, f"body: {size} 字节，超过 {MAX_BODY_BYTES} 字节上限")


def check_json_body(event: dict[str, Any]) -> None:
    """Refuse, in the envelope, a body the resolver could not read: a declared type other than JSON
    (415), bytes that are not UTF-8, text that is not JSON, JSON nested beyond reason (400). The
    resolver's own parse would raise inside the handler and answer 500."""
    body = event.get("body")
    if not body:
        return
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    media = (headers.get("content-type") or "application/json").split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise AppError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, f"Content-Type 为 {media[:80]}")
    text = text_body(event)
    try:
        parsed = json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except RecursionError:
        raise AppError(ErrorCode.BAD_REQUEST, "body: JSON 嵌套层数过多") from None
    except json.JSONDecodeError as exc:
        raise AppError(
            ErrorCode.BAD_REQUEST, f"body: 不是合法的 JSON（第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}）"
        ) from None
    except ValueError as exc:  # an integer beyond the interpreter's digit limit, NaN, Infinity
        raise AppError(ErrorCode.BAD_REQUEST, f"body: 不是可接受的 JSON（{exc}）") from None
    if _json_depth(parsed, _MAX_JSON_DEPTH):
        raise AppError(ErrorCode.BAD_REQUEST, f"body: JSON 嵌套超过 {_MAX_JSON_DEPTH} 层")
    if event.get("isBase64Encoded"):  # the resolver reads text: hand it the decoded body
        event["body"], event["isBase64Encoded"] = text, False


def _no_constant(name: str) -> Any:
    raise ValueError(f"不接受 {name}")


def check_parameters(event: dict[str, Any]) -> None:
    """Query and path values the database could not store (a NUL byte) are a 400 naming them."""
    for source in ("queryStringParameters", "pathParameters"):
        for key, value in (event.get(source) or {}).items():
            problem = wire_problem(value, key)
            if problem:
                raise AppError(ErrorCode.BAD_REQUEST, problem)


def raw_body(event: Any) -> bytes:
    """The request body as the caller sent it, byte for byte: what a webhook signature covers. API
    Gateway hands over a body that is not valid text base64-encoded; decoding it as text (as
    `decoded_body` does) would fail on such a body before it could be kept and refused cleanly."""
    import base64
    import binascii

    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return body.encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error:
        raise AppError(ErrorCode.BAD_REQUEST, "body: isBase64Encoded 的请求体不是合法的 base64") from None


def text_body(event: Any) -> str:
    """The request body as UTF-8 text (what the JSON interfaces and the HMAC webhooks take); a body
    that is not UTF-8 is a clear 400, not a decoding failure inside the handler."""
    try:
        return raw_body(event).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AppError(ErrorCode.BAD_REQUEST, f"body: 不是 UTF-8 文本（第 {exc.start} 字节）") from None


def parse_body(model: type[M], raw: str) -> M:
    """Validate a raw body against a model (routes that must read the raw body, e.g. webhooks)."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise AppError(ErrorCode.BAD_REQUEST, validation_message(exc.errors()).split("：", 1)[1]) from exc


def respond(status: int, body: dict[str, Any]) -> Response:
    return Response(status_code=status, content_type="application/json", body=envelope.dumps(body))


def error_response(exc: AppError) -> Response:
    return respond(exc.error.http_status, envelope.fail(exc.error.code, exc.msg, exc.data))


def _as_lambda(response: Response) -> dict[str, Any]:
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": "application/json"},
        "body": response.body,
        "isBase64Encoded": False,
    }


def request_context(app: APIGatewayHttpResolver) -> RequestContext:
    ctx = app.context.get("ctx")
    if not isinstance(ctx, RequestContext):
        raise AppError(ErrorCode.UNAUTHORIZED)
    return ctx


def _bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization") or headers.get("Authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authenticate(route: catalog.Route, headers: dict[str, str]) -> Principal | None:
    """The caller's principal, or an AppError (401/403). PUBLIC routes need no principal."""
    if route.caller in (catalog.Caller.PUBLIC, catalog.Caller.WEBHOOK):
        return None  # webhooks verify their signature on the raw body in the route itself
    token = _bearer(headers)
    if token is None:
        raise AppError(ErrorCode.UNAUTHORIZED)
    with UnitOfWork() as uow:
        principal = load_principal(uow, token)
    if principal is None:
        raise AppError(ErrorCode.UNAUTHORIZED)
    expected = UserType.ADMIN if route.caller is catalog.Caller.ADMIN else UserType.MEMBER
    if principal.user_type is not expected:
        raise AppError(ErrorCode.FORBIDDEN, "令牌类型与接口不符")
    if route.permission and not principal.has(route.permission):
        raise AppError(ErrorCode.FORBIDDEN, route.permission)
    return principal


def lambda_handler(app: APIGatewayHttpResolver) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    logger = get_logger()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        request = event.get("requestContext") or {}
        request_id = str(request.get("requestId") or "-")
        route_key = str(event.get("routeKey") or "")
        # Per thread (contextvars): locally several requests run at once in one process, and each log
        # line must carry its own request's id (in Lambda an environment serves one at a time).
        logger.thread_safe_append_keys(request_id=request_id, route=route_key)
        try:
            found = catalog.route_for(route_key)
            if found is None:
                raise AppError(ErrorCode.NOT_FOUND, route_key)
            interface, route = found
            logger.thread_safe_append_keys(interface=interface.if_id)
            principal = authenticate(route, {k.lower(): v for k, v in (event.get("headers") or {}).items()})
            if route.rate is not None and principal is not None:
                from waterrev import limits

                limits.check(route_key, route.rate, f"{principal.user_type}:{principal.user_id}")
            check_body_size(event)
            check_parameters(event)
            if route.method in _BODY_METHODS and route.caller is not catalog.Caller.WEBHOOK:
                check_json_body(event)
            http = request.get("http") or {}
            app.append_context(
                ctx=RequestContext(
                    request_id=request_id,
                    principal=principal or Principal(0, UserType.SYSTEM, "anonymous"),
                    source_ip=http.get("sourceIp"),
                    user_agent=http.get("userAgent"),
                ),
                route=route,
            )
            return app.resolve(event, context)
        except AppError as exc:
            logger.info("rejected", extra={"error_code": exc.error.code, "error": exc.msg})
            return _as_lambda(error_response(exc))
        except Exception as exc:
            return _as_lambda(internal_error(exc, request_id))
        finally:
            app.clear_context()
            logger.thread_safe_clear_keys()
            metrics.flush()  # the business metrics the use case counted, one EMF line

    return handler
