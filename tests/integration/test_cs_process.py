"""IF-CS-006: online business handling - a bound customer applies (attachments through S3 upload links),
follows and supplements; the back office accepts, transfers, asks for a supplement, approves or rejects;
approval really changes what the application asked for."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import (
    audit_rows,
    bind,
    call,
    channel_login,
    expect_error,
    new_customer,
    opened,
    receiver_of,
    sql_all,
    sql_scalar,
    unique,
)

PROCESS = "/app-api/customer/process"
UPLOAD = "/app-api/customer/process/attachment/upload-url"
ADMIN = "/admin-api/customer/process"


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """The local S3 (moto's server) with the attachment bucket."""
    from waterrev.local import s3 as local_s3

    yield local_s3.start()


@pytest.fixture
def member(admin: str) -> tuple[str, int]:
    """A channel user with one bound customer: (token, custId)."""
    cust = int(new_customer(admin, mobile="13912345678")["id"])
    openid = unique("cs6")
    token = channel_login(openid)
    assert bind(token, openid, cust).code == 0
    return token, cust


def attach(token: str, cust: int, content: bytes = b"%PDF-1.4 id card", *, name: str = "id.pdf") -> str:
    """Ask for an upload link and upload through it, as a browser would; the attachment id."""
    digest = hashlib.sha256(content).hexdigest()
    link = call(
        "POST",
        UPLOAD,
        {
            "custId": cust,
            "fileName": name,
            "contentType": "application/pdf",
            "fileSize": len(content),
            "sha256": digest,
        },
        token=token,
    )
    assert link.code == 0, link.body
    posted = httpx.post(
        link.data["uploadUrl"], data=link.data["formFields"], files={"file": (name, content)}, timeout=10
    )
    assert posted.status_code in (200, 204), posted.text
    return str(link.data["attachmentId"])


def apply(
    token: str, cust: int, kind: str, data: dict[str, Any], attachments: list[str] | None = None
) -> Any:
    body = {"action": "CREATE", "custId": cust, "businessTypeCode": kind, "applyData": data}
    return call("POST", PROCESS, {**body, "attachmentList": attachments or []}, token=token)


def step(admin: str, action: str, process_id: int, **extra: Any) -> Any:
    return call("POST", f"{ADMIN}/{action}", {"processId": process_id, **extra}, token=admin)


def notices(process_code: str) -> list[dict[str, Any]]:
    return sql_all(
        "SELECT id, channel, message_biz_no, template_code, receiver, receiver_cipher, payload FROM biz_message WHERE message_biz_no LIKE :c"
        " ORDER BY id",
        {"c": f"{process_code}-%"},
    )


def test_a_rename_from_application_to_done(admin: str, member: tuple[str, int], s3: str) -> None:
    """Given a bound customer, when it applies for a rename with an uploaded attachment and the back
    office accepts and approves, then the customer's name changes (audited), the trail holds every step
    and every step sent the customer a notice through the message pipeline."""
    token, cust = member
    key = attach(token, cust)
    created = apply(token, cust, "RENAME", {"newName": "新名称有限公司"}, [key])
    assert created.code == 0, created.body
    assert created.data["processStatus"] == "INIT" and created.data["currentNode"] == "SUBMITTED"
    assert created.data["attachments"][0]["attachmentId"] == key
    pid = created.data["processId"]
    assert step(admin, "accept", pid).data["processStatus"] == "ACCEPTED"
    done = step(admin, "approve", pid, remark="资料齐全")
    assert done.code == 0, done.body
    assert done.data["processStatus"] == "DONE" and done.data["currentNode"] == "DONE"
    assert [t["action"] for t in done.data["transferList"]] == ["CREATE", "ACCEPT", "APPROVE", "DONE"]
    assert sql_scalar("SELECT name FROM biz_cust WHERE id = :c", {"c": cust}) == "新名称有限公司"
    assert audit_rows("biz_cust", cust, "CUST_RENAME")
    sent = notices(created.data["processCode"])
    assert [n["message_biz_no"].rsplit("-", 1)[1] for n in sent] == ["1", "2", "3", "4"]
    assert {n["template_code"] for n in sent} == {"PROCESS_PROGRESS"} and receiver_of(
        sent[0]
    ) == "13912345678"
    seen = call("GET", PROCESS, query=f"processId={pid}", token=token)
    assert seen.code == 0 and seen.data["processStatus"] == "DONE", seen.body


def test_a_repeated_create_is_the_same_application_and_a_different_one_is_refused(
    admin: str, member: tuple[str, int], s3: str
) -> None:
    """Given a live contact-change application, when the same content is submitted again, then the same
    application answers; when different content is submitted, then 1_002_007_002 names the live one."""
    token, cust = member
    first = apply(token, cust, "CONTACT_CHANGE", {"mobile": "13700000001"})
    again = apply(token, cust, "CONTACT_CHANGE", {"mobile": "13700000001"})
    assert again.code == 0 and again.data["processId"] == first.data["processId"]
    other = apply(token, cust, "CONTACT_CHANGE", {"mobile": "13700000002"})
    expect_error(other, 1_002_007_002, mentions=first.data["processCode"])
    assert sql_scalar("SELECT count(*) FROM biz_process WHERE cust_id = :c", {"c": cust}) == 1


def test_attachments_are_checked_against_what_s3_holds(admin: str, member: tuple[str, int], s3: str) -> None:
    """Given upload links, when an application names an attachment never uploaded, or one whose bytes
    differ from the declared digest, then it is refused naming attachmentList and nothing is written;
    another customer's attachment answers as an unknown one."""
    token, cust = member
    content = b"%PDF-1.4 household register"
    link = call(
        "POST",
        UPLOAD,
        {
            "custId": cust,
            "fileName": "hukou.pdf",
            "contentType": "application/pdf",
            "fileSize": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        },
        token=token,
    )
    assert (
        "X-Amz" not in link.data["uploadUrl"] and link.data["formFields"]["Content-Type"] == "application/pdf"
    )
    missing = apply(token, cust, "POPULATION", {"population": 5}, [link.data["attachmentId"]])
    expect_error(missing, 400, mentions="尚未上传")
    tampered = content.replace(b"household", b"HOUSEHOLD")
    httpx.post(
        link.data["uploadUrl"], data=link.data["formFields"], files={"file": ("h.pdf", tampered)}, timeout=10
    )
    expect_error(
        apply(token, cust, "POPULATION", {"population": 5}, [link.data["attachmentId"]]), 400, mentions="摘要"
    )
    stranger_token, stranger = member_of(admin)
    theirs = attach(stranger_token, stranger)
    expect_error(apply(token, cust, "POPULATION", {"population": 5}, [theirs]), 400, mentions="不存在")
    assert sql_scalar("SELECT count(*) FROM biz_process WHERE cust_id = :c", {"c": cust}) == 0


def member_of(admin: str) -> tuple[str, int]:
    cust = int(new_customer(admin)["id"])
    openid = unique("cs6s")
    token = channel_login(openid)
    assert bind(token, openid, cust).code == 0
    return token, cust


def test_the_lifecycle_allows_and_refuses(admin: str, member: tuple[str, int], s3: str) -> None:
    """Given an application, then approve, transfer before acceptance and a second accept are refused
    with 1_002_007_002 naming the current status; accept -> transfer -> approve is allowed; a finished
    application refuses every further step with its terminal state."""
    token, cust = member
    pid = apply(token, cust, "CONTACT_CHANGE", {"mobile": "13700000003"}).data["processId"]
    expect_error(step(admin, "approve", pid), 1_002_007_002, mentions="INIT")
    expect_error(step(admin, "transfer", pid, toHandlerId=1), 1_002_007_002, mentions="INIT")
    assert step(admin, "accept", pid).data["processStatus"] == "ACCEPTED"
    expect_error(step(admin, "accept", pid), 1_002_007_002, mentions="ACCEPTED")
    moved = step(admin, "transfer", pid, toHandlerId=1, remark="转办")
    assert moved.data["processStatus"] == "PROCESSING" and moved.data["currentNode"] == "HANDLING"
    done = step(admin, "approve", pid)
    assert done.data["processStatus"] == "DONE", done.body
    assert opened("biz_cust", "mobile", "id = :c", {"c": cust}) == "13700000003"
    assert sql_scalar("SELECT mobile FROM biz_cust WHERE id = :c", {"c": cust}) == "137****0003"
    for action, extra in (("accept", {}), ("reject", {"remark": "x"}), ("approve", {})):
        refused = expect_error(step(admin, action, pid, **extra), 1_002_007_002, mentions="DONE")
        assert refused.data["processStatus"] == "DONE"
    # the notice of the last step went to the new reserved mobile
    assert receiver_of(notices(done.data["processCode"])[-1]) == "13700000003"


def test_a_rejected_application_is_final(admin: str, member: tuple[str, int], s3: str) -> None:
    """Given an application, when rejected with a reason, then it is REJECTED, nothing changed, and the
    customer may apply again for the same type."""
    token, cust = member
    pid = apply(token, cust, "LOW_INCOME", {"certificateNo": "DB-1"}, [attach(token, cust)]).data["processId"]
    rejected = step(admin, "reject", pid, remark="证件已过期")
    assert rejected.data["processStatus"] == "REJECTED" and rejected.data["resultMsg"] == "证件已过期"
    assert sql_scalar("SELECT low_income FROM biz_cust WHERE id = :c", {"c": cust}) is False
    again = apply(token, cust, "LOW_INCOME", {"certificateNo": "DB-2"}, [attach(token, cust, b"%PDF new")])
    assert again.code == 0 and again.data["processId"] != pid
    step(admin, "accept", again.data["processId"])
    assert step(admin, "approve", again.data["processId"]).data["processStatus"] == "DONE"
    assert sql_scalar("SELECT low_income FROM biz_cust WHERE id = :c", {"c": cust}) is True


def test_supplements_are_idempotent_and_refused_once_finished(
    admin: str, member: tuple[str, int], s3: str
) -> None:
    """Given an accepted application, a supplement nobody asked for is refused; when the back office asks
    for one, the customer supplements once, the same supplement again changes nothing (the seed's key
    processId + action + attachmentDigest), approval waits for it; once done, a supplement is refused
    with the terminal state."""
    token, cust = member
    pid = apply(token, cust, "POPULATION", {"population": 3}, [attach(token, cust)]).data["processId"]
    step(admin, "accept", pid)
    extra = attach(token, cust, b"%PDF more pages")
    body = {"action": "SUPPLEMENT", "processId": pid, "attachmentList": [extra]}
    expect_error(call("POST", PROCESS, body, token=token), 1_002_007_002, mentions="不需要补件")
    asked = step(admin, "request-supplement", pid, remark="请补充户口簿内页")
    assert asked.data["attachmentRequired"] is True and asked.data["currentNode"] == "SUPPLEMENT"
    expect_error(step(admin, "approve", pid), 1_002_007_002, mentions="补件")
    first = call("POST", PROCESS, body, token=token)
    assert first.code == 0 and first.data["attachmentRequired"] is False, first.body
    repeat = call("POST", PROCESS, body, token=token)
    assert repeat.code == 0 and "未重复处理" in repeat.data["msg"]
    trail = sql_all(
        "SELECT action FROM biz_process_transfer WHERE process_id = :p ORDER BY step_no", {"p": pid}
    )
    assert [t["action"] for t in trail] == ["CREATE", "ACCEPT", "ASK_SUPPLEMENT", "SUPPLEMENT"]
    assert len(repeat.data["attachments"]) == 2
    assert step(admin, "approve", pid).data["processStatus"] == "DONE"
    late = expect_error(call("POST", PROCESS, body, token=token), 1_002_007_002, mentions="已办结")
    assert late.data == {"processStatus": "DONE", "currentNode": "DONE"}


def test_another_customers_application_is_not_there(admin: str, member: tuple[str, int], s3: str) -> None:
    """Given an application of one customer, a stranger's query or supplement answers exactly as for an
    application that does not exist."""
    token, cust = member
    pid = apply(token, cust, "CONTACT_CHANGE", {"mobile": "13700000004"}).data["processId"]
    stranger, _ = member_of(admin)
    theirs = call("GET", PROCESS, query=f"processId={pid}", token=stranger)
    missing = call("GET", PROCESS, query="processId=987654321000", token=stranger)
    assert (theirs.status, theirs.code) == (missing.status, missing.code) == (404, 1_002_007_001)
    assert theirs.msg.replace(str(pid), "N") == missing.msg.replace("987654321000", "N")
    body = {"action": "SUPPLEMENT", "processId": pid, "applyData": {"mobile": "13700000005"}}
    assert call("POST", PROCESS, body, token=stranger).code == 1_002_007_001


def test_transfer_invoice_change_and_bad_apply_data(admin: str, member: tuple[str, int], s3: str) -> None:
    """Given a transfer (过户) and an invoice-method change, when approved, then the owner, identity and
    mobile change and the previous owner's channel bindings end; the invoice profile takes the new
    method. applyData that does not fit its type is refused naming the field."""
    token, cust = member
    bad = apply(
        token,
        cust,
        "TRANSFER",
        {"newName": "李四", "idType": "ID_CARD", "idNo": "123", "mobile": "13800000000"},
    )
    expect_error(bad, 400, mentions="applyData.idNo")
    expect_error(apply(token, cust, "POPULATION", {"population": 0}), 400, mentions="applyData.population")
    inv = apply(
        token,
        cust,
        "INVOICE_CHANGE",
        {"titleType": "ENTERPRISE", "invoiceTitle": "某某公司", "taxNo": "91350100MA2XXXXX1"},
    )
    assert inv.code == 0, inv.body
    step(admin, "accept", inv.data["processId"])
    assert step(admin, "approve", inv.data["processId"]).data["processStatus"] == "DONE"
    profile = sql_all("SELECT * FROM biz_cust_invoice WHERE cust_id = :c", {"c": cust})[0]
    assert (profile["title_type"], profile["invoice_title"], profile["tax_no"]) == (
        "ENTERPRISE",
        "某某公司",
        "91350100MA2XXXXX1",
    )
    files = [attach(token, cust), attach(token, cust, b"%PDF deed")]
    owner = {"newName": "李四", "idType": "ID_CARD", "idNo": "11010519491231002X", "mobile": "13800000009"}
    pid = apply(token, cust, "TRANSFER", owner, files).data["processId"]
    assert pid and step(admin, "accept", pid).code == 0
    done = step(admin, "approve", pid)
    assert done.data["processStatus"] == "DONE", done.body
    row = sql_all("SELECT name, id_no, mobile FROM biz_cust WHERE id = :c", {"c": cust})[0]
    assert row == {"name": "李四", "id_no": "110105********002X", "mobile": "138****0009"}  # masked in clear
    assert opened("biz_cust", "id_no", "id = :c", {"c": cust}, "id-no") == "11010519491231002X"
    assert opened("biz_cust", "mobile", "id = :c", {"c": cust}) == "13800000009"
    assert (
        sql_scalar(
            "SELECT count(*) FROM biz_cust_app_binds WHERE cust_id = :c AND status = 'BOUND'", {"c": cust}
        )
        == 0
    )
    # the previous owner's channel no longer sees the customer nor its application
    assert call("GET", PROCESS, query=f"processId={pid}", token=token).code == 1_002_007_001
    assert admin and call("GET", f"{ADMIN}/{pid}", token=admin).data["applyData"]["idNo"] != owner["idNo"]


def bound_household(admin: str) -> tuple[str, Any]:
    from tests.support import household

    home = household(admin, mobile="13912340000")
    openid = unique("cs6h")
    token = channel_login(openid)
    assert bind(token, openid, home.cust_id).code == 0
    return token, home


def test_a_self_reading_goes_through_the_reading_rules(admin: str, s3: str) -> None:
    """Given a household read at 100 and an open task for the next period, when its self reading of 80
    is approved, then it is refused as a reading below the last (1_002_002_002) and the application stays
    as it was; a self reading of 130 is recorded as a SELF reading of 30 m³ ready for billing."""
    from tests.support import generate

    token, home = bound_household(admin)
    home.read(admin, "2025-03", [100])
    generate(admin, home.book_id, "2025-04")
    meter = home.meter_ids[0]
    photo = attach(token, home.cust_id, b"\x89PNG dial")
    low = apply(token, home.cust_id, "SELF_READING", {"meterId": meter, "currentReading": "80"}, [photo])
    assert low.code == 0, low.body
    step(admin, "accept", low.data["processId"])
    expect_error(step(admin, "approve", low.data["processId"]), 1_002_002_002)
    assert (
        call("GET", PROCESS, query=f"processId={low.data['processId']}", token=token).data["processStatus"]
        == "ACCEPTED"
    )
    step(admin, "reject", low.data["processId"], remark="读数有误")
    good = apply(
        token,
        home.cust_id,
        "SELF_READING",
        {"meterId": meter, "currentReading": "130"},
        [attach(token, home.cust_id, b"%PDF dial 2")],
    )
    step(admin, "accept", good.data["processId"])
    done = step(admin, "approve", good.data["processId"])
    assert done.data["processStatus"] == "DONE", done.body
    row = sql_all(
        "SELECT read_type, usage_amount, status FROM biz_reading_data WHERE meter_id = :m AND bill_period = '2025-04'",
        {"m": meter},
    )
    assert [(r["read_type"], str(r["usage_amount"]), r["status"]) for r in row] == [
        ("SELF", "30.00", "VALID")
    ]
    wrong_meter = apply(token, home.cust_id, "METER_CHANGE", {"meterId": 987654321000, "reason": "坏了"})
    expect_error(wrong_meter, 400, mentions="applyData.meterId")


def test_household_population_widens_the_tiers_of_later_bills(admin: str, s3: str) -> None:
    """Given twin households using 40 m³ a month, when one registers 8 people online and it is approved,
    then its next bill is priced on wider tiers (cheaper than its twin's), and the bill written before
    the change is unchanged."""
    from tests.support import generate

    token, home = bound_household(admin)
    _, twin = bound_household(admin)
    for h in (home, twin):
        h.read(admin, "2025-05", [400])
        h.bill(admin, "2025-05")
    before = sql_scalar(
        "SELECT total_amount FROM biz_charge WHERE cust_id = :c AND bill_period = '2025-05'",
        {"c": home.cust_id},
    )
    pid = apply(token, home.cust_id, "POPULATION", {"population": 8}, [attach(token, home.cust_id)]).data[
        "processId"
    ]
    step(admin, "accept", pid)
    assert step(admin, "approve", pid).data["processStatus"] == "DONE"
    assert sql_scalar("SELECT population FROM biz_cust WHERE id = :c", {"c": home.cust_id}) == 8
    for h in (home, twin):
        h.read(admin, "2025-06", [800])
        h.bill(admin, "2025-06")
    mine = sql_scalar(
        "SELECT total_amount FROM biz_charge WHERE cust_id = :c AND bill_period = '2025-06'",
        {"c": home.cust_id},
    )
    theirs = sql_scalar(
        "SELECT total_amount FROM biz_charge WHERE cust_id = :c AND bill_period = '2025-06'",
        {"c": twin.cust_id},
    )
    assert mine < theirs, (mine, theirs)
    assert (
        sql_scalar(
            "SELECT total_amount FROM biz_charge WHERE cust_id = :c AND bill_period = '2025-05'",
            {"c": home.cust_id},
        )
        == before
    )
    assert generate  # the tasks come from Household.read


def test_a_meter_change_application_waits_for_its_work_order(admin: str, s3: str) -> None:
    """Given an approved meter-change application, then a CHANGE work order is open for the meter and the
    application waits at WORK_ORDER (approving again is refused); when the order is cancelled the
    application is back with its handler, and it may be approved again for a new order."""
    token, home = bound_household(admin)
    meter = home.meter_ids[0]
    pid = apply(token, home.cust_id, "METER_CHANGE", {"meterId": meter, "reason": "表停走"}).data["processId"]
    step(admin, "accept", pid)
    waiting = step(admin, "approve", pid)
    assert waiting.data["processStatus"] == "PROCESSING" and waiting.data["currentNode"] == "WORK_ORDER", (
        waiting.body
    )
    order = waiting.data["workOrderNo"]
    assert sql_scalar("SELECT process_id FROM biz_meter_work_order WHERE order_no = :o", {"o": order}) == pid
    expect_error(step(admin, "approve", pid), 1_002_007_002, mentions=order)
    cancelled = call(
        "POST", "/admin-api/meter/work-order/handle", {"workOrderNo": order, "action": "CANCEL"}, token=admin
    )
    assert cancelled.data["orderStatus"] == "CANCELLED", cancelled.body
    back = call("GET", PROCESS, query=f"processId={pid}", token=token).data
    assert back["currentNode"] == "HANDLING" and back["workOrderNo"] is None
    again = step(admin, "approve", pid)
    assert again.data["currentNode"] == "WORK_ORDER" and again.data["workOrderNo"] != order


def test_an_upload_link_is_bounded_and_an_oversized_file_never_counts(
    admin: str, member: tuple[str, int], s3: str
) -> None:
    """Given the upload-link route, a type other than JPEG, PNG or PDF, a size above the limit and a
    malformed digest are refused naming the field; a file larger than declared is refused by S3's policy
    or by our read-back, and the application naming it is refused."""
    token, cust = member
    good = {
        "custId": cust,
        "fileName": "a.pdf",
        "contentType": "application/pdf",
        "fileSize": 10,
        "sha256": "a" * 64,
    }
    expect_error(
        call("POST", UPLOAD, {**good, "contentType": "text/html"}, token=token), 400, mentions="contentType"
    )
    expect_error(
        call("POST", UPLOAD, {**good, "fileSize": 20 * 1024 * 1024}, token=token), 400, mentions="fileSize"
    )
    expect_error(call("POST", UPLOAD, {**good, "sha256": "XYZ"}, token=token), 400, mentions="sha256")
    content = b"%PDF-1.4 twice as long as declared"
    link = call(
        "POST",
        UPLOAD,
        {**good, "fileSize": len(content) // 2, "sha256": hashlib.sha256(content).hexdigest()},
        token=token,
    )
    assert link.code == 0 and link.data["maxBytes"] == len(content) // 2
    httpx.post(
        link.data["uploadUrl"], data=link.data["formFields"], files={"file": ("a.pdf", content)}, timeout=10
    )
    refused = apply(token, cust, "RENAME", {"newName": "甲"}, [link.data["attachmentId"]])
    expect_error(refused, 400, mentions="attachmentList")


def test_the_back_office_lists_applications_in_its_scope(
    admin: str, member: tuple[str, int], s3: str
) -> None:
    """Given applications of a customer, the back office pages them by customer, status and type, and the
    customer pages its own."""
    token, cust = member
    pid = apply(token, cust, "CONTACT_CHANGE", {"mobile": "13700000006"}).data["processId"]
    listed = call(
        "GET",
        f"{ADMIN}/page",
        query=f"custId={cust}&status=INIT&businessTypeCode=CONTACT_CHANGE",
        token=admin,
    )
    assert listed.code == 0 and [p["processId"] for p in listed.data["list"]] == [pid], listed.body
    mine = call("GET", f"{PROCESS}/page", query=f"custId={cust}", token=token)
    assert (
        mine.code == 0
        and mine.data["total"] == 1
        and mine.data["list"][0]["applyData"]["mobile"] == "137****0006"
    )


def test_an_attachment_serves_one_application(admin: str, member: tuple[str, int], s3: str) -> None:
    """Given an attachment used by one application, another application naming it is refused; a transfer
    to a user that does not exist is refused naming toHandlerId."""
    token, cust = member
    key = attach(token, cust)
    first = apply(token, cust, "RENAME", {"newName": "甲乙"}, [key])
    assert first.code == 0, first.body
    expect_error(apply(token, cust, "LOW_INCOME", {"certificateNo": "D9"}, [key]), 400, mentions="已用于")
    step(admin, "accept", first.data["processId"])
    expect_error(
        step(admin, "transfer", first.data["processId"], toHandlerId=987654321000),
        400,
        mentions="toHandlerId",
    )
