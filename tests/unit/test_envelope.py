"""The envelope {code, data, msg}, the page shape, and how values go on the wire."""

import datetime as dt
import json
from decimal import Decimal

from waterrev import envelope


def test_ok_wraps_data_with_code_zero() -> None:
    """Given some data
    When answered as success
    Then the envelope is exactly {code: 0, data, msg: "success"}."""
    assert envelope.ok({"id": 1}) == {"code": 0, "data": {"id": 1}, "msg": "success"}
    assert envelope.ok() == {"code": 0, "data": None, "msg": "success"}


def test_page_has_the_seed_shape() -> None:
    """Given a page of items
    When shaped as a page
    Then it carries list, total, pageNo and pageSize, nothing else."""
    shaped = envelope.page([{"id": 1}, {"id": 2}], 42, 3, 2)

    assert shaped == {"list": [{"id": 1}, {"id": 2}], "total": 42, "pageNo": 3, "pageSize": 2}


def test_fail_carries_code_msg_and_optional_data() -> None:
    """Given an error code and message
    When answered as failure
    Then the envelope has that code and msg, and data only if given."""
    assert envelope.fail(404, "请求的资源不存在") == {"code": 404, "data": None, "msg": "请求的资源不存在"}
    assert envelope.fail(409, "冲突", {"amount": Decimal("1.5")})["data"] == {"amount": "1.50"}


def test_decimals_go_out_as_strings_padded_to_two_places_never_rounded() -> None:
    """Given Decimals anywhere in the data (top level, nested, in lists and tuples)
    When answered
    Then each is a string with at least two places and all of its own: money (two places at its
    source) reads "12.30", a four-place unit price or tax rate keeps its four, and nothing is a float."""
    data = {
        "total": Decimal("12.3"),
        "lines": [Decimal("2.1500"), (Decimal("7"),)],
        "deep": {"x": Decimal("-2.35"), "rate": Decimal("0.0900"), "big": Decimal("1E+2")},
    }

    body = envelope.ok(data)["data"]

    assert body == {
        "total": "12.30",
        "lines": ["2.1500", ["7.00"]],
        "deep": {"x": "-2.35", "rate": "0.0900", "big": "100.00"},
    }


def test_times_go_out_in_the_seed_form() -> None:
    """Given a datetime (with microseconds) and a date
    When answered
    Then the datetime is "YYYY-MM-DD HH:MM:SS" and the date "YYYY-MM-DD"."""
    data = {"payTime": dt.datetime(2026, 11, 2, 9, 5, 7, 123456), "dueDate": dt.date(2026, 3, 28)}

    assert envelope.ok(data)["data"] == {"payTime": "2026-11-02 09:05:07", "dueDate": "2026-03-28"}


def test_page_inside_ok_is_serialized_too() -> None:
    """Given a page whose items hold money and times
    When wrapped in ok()
    Then the items are converted like any other data."""
    shaped = envelope.page([{"totalAmount": Decimal("3.4"), "dueDate": dt.date(2026, 1, 28)}], 1, 1, 10)

    assert envelope.ok(shaped)["data"]["list"] == [{"totalAmount": "3.40", "dueDate": "2026-01-28"}]


def test_other_values_pass_through() -> None:
    """Given plain JSON values
    When answered
    Then they are unchanged."""
    data = {"s": "文本", "i": 3, "b": True, "n": None, "f": 1.5}

    assert envelope.jsonable(data) == data


def test_dumps_is_compact_and_keeps_chinese() -> None:
    """Given an envelope with Chinese text
    When dumped
    Then the JSON is compact and the characters are not escaped."""
    text = envelope.dumps(envelope.fail(1_002_001_001, "客户不存在或已停用"))

    assert text == '{"code":1002001001,"data":null,"msg":"客户不存在或已停用"}'
    assert json.loads(text)["msg"] == "客户不存在或已停用"


def test_a_message_quoting_a_lone_surrogate_is_still_a_utf8_reply() -> None:
    """Given an error message that quotes a request's lone surrogate (found by the signed API fuzz: the
    reply could not be encoded and the connection dropped), the body is UTF-8 JSON that reads back the same."""
    body = envelope.fail(400, "请求参数不正确：退款通知无法解析：\ud800")
    text = envelope.dumps(body)

    assert json.loads(text.encode("utf-8")) == body
    assert envelope.dumps(envelope.fail(400, "中文")) == '{"code":400,"data":null,"msg":"中文"}'
