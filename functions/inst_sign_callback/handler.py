"""IF-INST-004 签章回执接口: the e-signature service's signed callback (raw body verified)."""

from waterrev.api import doc, lambda_handler, new_app, raw_body, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.installation import signing
from waterrev.installation.models.sign import SignCallback, SignCallbackReply

app = new_app()


# Validation is off for this route: the raw body is verified and parsed by signing.callback (a signature
# covers the exact bytes). `body` is declared only so /openapi.json shows the callback.
@app.post(
    "/admin-api/installation/contract/sign/callback",
    enable_validation=False,
    **doc(
        SignCallbackReply,
        ErrorCode.UNAUTHORIZED,
        summary="签章回执（电子签章服务回调）",
        description="HMAC-SHA256 签名（X-Waterrev-Key-Id/Timestamp/Nonce/Signature，5 分钟窗口，nonce 一次）。"
        "同一 requestNo 的结果只写一次：重复回执答 IGNORE_REPEAT；无法回写（请求不对应、已签文件摘要不符、"
        "已有结论）答 FAIL 并留存待人工核查。",
    ),
)
def callback(body: SignCallback = None) -> dict:  # type: ignore[assignment]
    event = app.current_event
    return ok(signing.callback(request_context(app), dict(event.headers), raw_body(event.raw_event)))


handler = lambda_handler(app)
