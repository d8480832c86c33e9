"""Connection applications (报装, IF-INST-001..005) on the real database, S3 on moto's server and the
e-signature simulator over HTTP: the state machine's allowed and refused steps, idempotent repeats,
signed callbacks (SUCCESS, FAIL, CANCEL, duplicates, bad signatures, a tampered hash), the archive with
its evidence hash, and the customer, account and meter a completed application becomes."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import httpx
import pytest

from tests.support import Reply, call, expect_error, signed_headers, sql_all, sql_scalar, unique, wait_for
from waterrev.installation import rules

APPLY = "/admin-api/installation/apply/create"
UPLOAD = "/admin-api/installation/attachment/upload-url"
SURVEY = "/admin-api/installation/survey/result"
INITIATE = "/admin-api/installation/contract/sign/initiate"
CALLBACK = "/admin-api/installation/contract/sign/callback"
ARCHIVE = "/admin-api/installation/archive/submit"
EXCEPTIONS = "/admin-api/installation/contract/sign/exception/page"
NODE_NOT_ALLOWED, NOT_FOUND = 1_002_007_002, 1_002_007_001


def ok(reply: Reply) -> Any:
    assert reply.status == 200 and reply.code == 0, reply.body
    return reply.data


def upload(token: str, name: str, content: bytes, file_type: str = "application/pdf") -> dict[str, Any]:
    """An attachment put into S3 through its presigned link, described as the interfaces take it."""
    link = ok(
        call("POST", UPLOAD, {"fileName": name, "fileType": file_type, "fileSize": len(content)}, token=token)
    )
    put = httpx.put(link["uploadUrl"], content=content, headers={"Content-Type": file_type}, timeout=10)
    assert put.status_code == 200, put.text
    return {
        "fileName": name,
        "fileKey": link["fileKey"],
        "fileType": file_type,
        "fileSize": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }


def apply(token: str, **override: Any) -> Reply:
    body = {
        "applyType": "NEW",
        "applicantName": "报装甲",
        "mobile": "138" + unique("")[-8:],
        "address": f"鼓楼区报装路 {unique('')} 号",
        "waterUseType": "RESIDENT",
        "sourceChannel": "COUNTER",
        **override,
    }
    return call("POST", APPLY, body, token=token)


def detail(token: str, process_id: int) -> dict[str, Any]:
    return dict(ok(call("GET", f"/admin-api/installation/apply/{process_id}", token=token)))


def surveyed(token: str, amount: str = "1200.00") -> int:
    process_id = int(ok(apply(token))["processId"])
    ok(
        call(
            "POST",
            SURVEY,
            {
                "processId": process_id,
                "schemeVersion": "V1",
                "surveyResult": "具备接水条件",
                "estimateAmount": amount,
                "auditResult": "PASS",
            },
            token=token,
        )
    )
    return process_id


def signed(token: str, esign: Any) -> tuple[int, dict[str, Any]]:
    process_id = surveyed(token)
    sent = ok(call("POST", INITIATE, {"processId": process_id}, token=token))
    assert sent["sendStatus"] == "SENT", sent
    wait_for(lambda: detail(token, process_id)["processStatus"] == "SIGNED", what="the signing callback")
    return process_id, sent


def test_an_application_is_accepted_once_with_its_attachments_checked(admin: str, esign: Any) -> None:
    """Given an ID card photo uploaded through its link,
    When the clerk applies twice with the same type, mobile and address,
    Then one process waits for its survey, holding the photo with its digest, and the repeat answers it;
    an attachment whose digest was misdeclared is refused naming it, nothing written."""
    photo = upload(admin, "身份证.jpg", b"\xff\xd8\xff photo of an ID card", "image/jpeg")
    first = ok(apply(admin, mobile="13911112222", address="鼓楼区 报装路 9 号", attachmentList=[photo]))
    again = ok(apply(admin, mobile="13911112222", address="鼓楼区报装路9号", attachmentList=[photo]))

    assert first["processStatus"] == "SURVEYING" and first["acceptStatus"] == "ACCEPTED"
    assert again["processId"] == first["processId"] and "重复" in again["msg"]
    seen = detail(admin, first["processId"])
    assert seen["currentNode"] == "SURVEY" and seen["mobile"] == "139****2222"
    assert [(d["category"], d["sha256"]) for d in seen["documentList"]] == [("APPLY", photo["sha256"])]

    lying = {**upload(admin, "户口簿.pdf", b"%PDF household"), "sha256": "0" * 64}
    before = sql_scalar("SELECT count(*) FROM installation_process")
    expect_error(apply(admin, attachmentList=[lying]), 400, mentions="attachmentList[0]")
    assert sql_scalar("SELECT count(*) FROM installation_process") == before


def test_the_survey_moves_the_application_and_refuses_what_does_not_follow(admin: str) -> None:
    """Given an application waiting for its survey,
    When a survey is recorded without an audit, then passed with an estimate (twice), then rejected,
    Then it stays SURVEYING, becomes SURVEYED (the repeat answers the same transfer), then REJECTED;
    a pass without an estimate, a survey of a rejected application and an unknown one are refused."""
    process_id = int(ok(apply(admin))["processId"])
    body = {"processId": process_id, "schemeVersion": "V1", "surveyResult": "需改管"}
    recorded = ok(call("POST", SURVEY, body, token=admin))
    assert (recorded["processStatus"], recorded["nextNode"]) == ("SURVEYING", "SURVEY")
    expect_error(
        call("POST", SURVEY, {**body, "auditResult": "PASS"}, token=admin), 400, mentions="estimateAmount"
    )

    passed = ok(
        call(
            "POST",
            SURVEY,
            {**body, "schemeVersion": "V2", "estimateAmount": "980.5", "auditResult": "PASS"},
            token=admin,
        )
    )
    repeat = ok(
        call(
            "POST",
            SURVEY,
            {**body, "schemeVersion": "V2", "estimateAmount": "980.5", "auditResult": "PASS"},
            token=admin,
        )
    )
    assert (passed["processStatus"], passed["nextNode"]) == ("SURVEYED", "CONTRACT_SIGN")
    assert repeat["transferId"] == passed["transferId"]
    assert detail(admin, process_id)["estimateAmount"] == "980.50"

    rejected = ok(call("POST", SURVEY, {**body, "schemeVersion": "V3", "auditResult": "REJECT"}, token=admin))
    assert (rejected["processStatus"], rejected["nextNode"]) == ("REJECTED", "END")
    refused = expect_error(
        call("POST", SURVEY, {**body, "schemeVersion": "V4"}, token=admin), NODE_NOT_ALLOWED
    )
    assert refused.data["currentStatus"] == "REJECTED"
    expect_error(call("POST", SURVEY, {**body, "processId": 9_999_999_999}, token=admin), NOT_FOUND)
    code = detail(admin, process_id)["processCode"]
    told = sql_all(
        "SELECT template_code, channel, payload->>'processStatus' AS status FROM biz_message"
        " WHERE message_biz_no LIKE :k ORDER BY id",
        {"k": f"INST:{code}:%"},
    )
    assert [(m["template_code"], m["channel"], m["status"]) for m in told] == [
        ("INSTALL_PROGRESS", "SMS", s) for s in ("SURVEYING", "SURVEYED", "REJECTED")
    ]


def test_steps_out_of_order_are_refused_with_the_current_status(admin: str, esign: Any) -> None:
    """Given an application still waiting for its survey,
    When the contract is initiated, or a CHECK or FINISH archive submitted,
    Then each is refused (1_002_007_002) naming SURVEYING, and nothing moves."""
    process_id = int(ok(apply(admin))["processId"])
    paper = upload(admin, "验收单.pdf", b"%PDF check " + unique("").encode())

    for method, path, body in (
        ("POST", INITIATE, {"processId": process_id}),
        (
            "POST",
            ARCHIVE,
            {
                "processId": process_id,
                "archiveType": "CHECK",
                "attachmentList": [paper],
                "meterInfo": {"meterNo": unique("M"), "caliber": "DN20"},
            },
        ),
        ("POST", ARCHIVE, {"processId": process_id, "archiveType": "FINISH", "attachmentList": [paper]}),
    ):
        refused = expect_error(call(method, path, body, token=admin), NODE_NOT_ALLOWED)
        assert refused.data["currentStatus"] == "SURVEYING", refused.body
    assert detail(admin, process_id)["processStatus"] == "SURVEYING"


def test_a_contract_signed_is_written_back_once(admin: str, esign: Any) -> None:
    """Given an application surveyed and passed,
    When its contract is sent, the simulator signs and calls back, and calls back again,
    Then the application is SIGNED with the signature, its evidence and the signed copy (whose digest is
    the evidence hash) recorded once; the repeat is answered IGNORE_REPEAT with the same ids."""
    process_id, sent = signed(admin, esign)
    task = esign.task(sent["requestNo"])
    assert task["taskStatus"] == "SUCCESS" and task["contractId"] == sent["contractId"]

    esign.call_back_again(sent["requestNo"])
    answers = wait_for(
        lambda: [c for c in esign.callbacks() if c["body"]["requestNo"] == sent["requestNo"]][1:] or None,
        what="the repeated callback",
    )
    assert answers[0]["writeBackStatus"] == "IGNORE_REPEAT"
    (contract,) = detail(admin, process_id)["contractList"]
    assert (contract["contractStatus"], contract["signStatus"]) == ("SIGNED", "SUCCESS")
    assert contract["hashValue"] == task["hashValue"] and contract["evidenceNo"] == task["evidenceNo"]
    docs = {d["category"]: d for d in detail(admin, process_id)["documentList"]}
    assert docs["SIGNED"]["sha256"] == task["hashValue"] and docs["CONTRACT"]["sha256"] == sent["fileSha256"]
    assert (
        sql_scalar(
            "SELECT count(*) FROM installation_signature WHERE request_no = :r", {"r": sent["requestNo"]}
        )
        == 1
    )
    again = ok(call("POST", INITIATE, {"processId": process_id}, token=admin))
    assert again["requestNo"] == sent["requestNo"] and again["processStatus"] == "SIGNED"


@pytest.mark.parametrize("verdict", ["FAIL", "CANCEL"])
def test_a_refused_signature_sends_the_application_back_for_a_new_contract(
    admin: str, esign: Any, verdict: str
) -> None:
    """Given a contract the signer refuses (FAIL) or withdraws (CANCEL),
    When the callback arrives,
    Then the contract ends so, the application is SURVEYED again, and a new contract can be sent."""
    esign.behaviour(hold_sign=True)
    process_id = surveyed(admin)
    first = ok(call("POST", INITIATE, {"processId": process_id}, token=admin))
    esign.sign(first["requestNo"], verdict)
    wait_for(lambda: detail(admin, process_id)["processStatus"] == "SURVEYED", what="the refusal")

    second = ok(call("POST", INITIATE, {"processId": process_id}, token=admin))
    assert second["requestNo"] != first["requestNo"] and second["processStatus"] == "SIGNING"
    statuses = [(c["contractStatus"], c["signStatus"]) for c in detail(admin, process_id)["contractList"]]
    assert statuses == [({"FAIL": "FAILED", "CANCEL": "CANCELLED"}[verdict], verdict), ("SIGNING", None)]


def test_a_callback_signed_with_another_key_is_refused(admin: str, esign: Any) -> None:
    """Given a contract out for signature,
    When a callback arrives signed with a key we do not hold, or with an old timestamp,
    Then it is refused 401 and nothing is written: the contract still waits."""
    esign.behaviour(hold_sign=True)
    process_id = surveyed(admin)
    sent = ok(call("POST", INITIATE, {"processId": process_id}, token=admin))
    body = json.dumps(
        {"contractId": sent["contractId"], "requestNo": sent["requestNo"], "signStatus": "CANCEL"}
    )

    forged = call(
        "POST",
        CALLBACK,
        raw_body=body.encode(),
        headers=signed_headers(body, secret="guess", key_id=esign.key_id),
    )
    stale = call(
        "POST",
        CALLBACK,
        raw_body=body.encode(),
        headers=signed_headers(
            body,
            secret="esign-callback-secret-not-for-production",
            key_id=esign.key_id,
            timestamp=int(time.time()) - 3600,
        ),
    )

    assert (forged.status, stale.status) == (401, 401)
    assert detail(admin, process_id)["processStatus"] == "SIGNING"
    esign.behaviour(bad_signature=True)
    esign.sign(sent["requestNo"], "SUCCESS")
    wait_for(
        lambda: any(
            c["status"] == 401 for c in esign.callbacks() if c["body"]["requestNo"] == sent["requestNo"]
        ),
        what="the simulator's badly signed callback",
    )
    assert detail(admin, process_id)["processStatus"] == "SIGNING"


def test_a_signed_file_that_does_not_match_its_hash_is_not_written_back(admin: str, esign: Any) -> None:
    """Given the service calls back SUCCESS with a hashValue that is not the signed file's,
    When the callback arrives,
    Then it answers FAIL, the application stays SIGNING, and the back office lists the exception."""
    esign.behaviour(tamper_hash=True)
    process_id = surveyed(admin)
    sent = ok(call("POST", INITIATE, {"processId": process_id}, token=admin))
    wait_for(
        lambda: any(
            c["writeBackStatus"] == "FAIL"
            for c in esign.callbacks()
            if c["body"]["requestNo"] == sent["requestNo"]
        ),
        what="the FAIL answer",
    )

    assert detail(admin, process_id)["processStatus"] == "SIGNING"
    listed = ok(call("GET", EXCEPTIONS, token=admin, query="pageSize=100"))
    assert any(i["requestNo"] == sent["requestNo"] and "摘要" in i["reason"] for i in listed["list"])
    from tests.support import admin_login, new_admin_user

    taijiang = admin_login(new_admin_user(dept_id=3), "Passw0rd!")  # not the application's office
    theirs = ok(call("GET", EXCEPTIONS, token=taijiang, query="pageSize=100"))
    assert not any(i["requestNo"] == sent["requestNo"] for i in theirs["list"])


def test_an_unreachable_service_leaves_the_request_pending_until_initiated_again(
    admin: str, esign: Any
) -> None:
    """Given the service answers 503,
    When the contract is initiated, and initiated again once the service is back,
    Then the first answer is PENDING (the application SIGNING), the second sends the same request."""
    process_id = surveyed(admin)
    esign.behaviour(errors_5xx=1, hold_sign=True)
    first = ok(call("POST", INITIATE, {"processId": process_id}, token=admin))
    second = ok(call("POST", INITIATE, {"processId": process_id}, token=admin))

    assert (first["sendStatus"], first["processStatus"]) == ("PENDING", "SIGNING")
    assert (second["sendStatus"], second["requestNo"]) == ("SENT", first["requestNo"])
    assert esign.task(first["requestNo"])["taskStatus"] == "SIGNING"


def test_the_archive_checks_every_document_and_completes_into_a_customer(admin: str, esign: Any) -> None:
    """Given a signed application,
    When its check papers are archived with one bad file, then all good with the meter; the signed contract
    archived; then the FINISH papers (twice),
    Then the first batch is PARTIAL and moves nothing, the CHECK makes it CONSTRUCTED, the FINISH makes it
    COMPLETED with a customer, an account and the meter linked (the repeat answers the same batch), and
    each batch's evidence hash covers every document of the application."""
    process_id, _ = signed(admin, esign)
    check_paper = upload(admin, "验收单.pdf", b"%PDF check " + unique("").encode())
    bad = {**upload(admin, "照片.png", b"\x89PNG photo", "image/png"), "fileSize": 3}
    meter_no = unique("MI")
    check = {
        "processId": process_id,
        "archiveType": "CHECK",
        "meterInfo": {"meterNo": meter_no, "caliber": "DN20", "initialReading": "3"},
    }

    partial = ok(call("POST", ARCHIVE, {**check, "attachmentList": [check_paper, bad]}, token=admin))
    assert (partial["archiveStatus"], partial["archiveCount"], partial["processStatus"]) == (
        "PARTIAL",
        1,
        "SIGNED",
    )
    assert partial["failList"][0]["fileName"] == "照片.png"
    failed = ok(call("POST", ARCHIVE, {**check, "attachmentList": [bad]}, token=admin))
    assert (failed["archiveStatus"], failed["archiveCount"]) == ("FAIL", 0)

    checked = ok(call("POST", ARCHIVE, {**check, "attachmentList": [check_paper]}, token=admin))
    assert (checked["archiveStatus"], checked["processStatus"]) == ("SUCCESS", "CONSTRUCTED")
    contract = detail(admin, process_id)["contractList"][0]
    signed_copy = upload(admin, "合同.txt", b"contract scan " + unique("").encode(), "text/plain")
    archived = ok(
        call(
            "POST",
            ARCHIVE,
            {
                "processId": process_id,
                "archiveType": "CONTRACT",
                "attachmentList": [signed_copy],
                "contractId": contract["contractId"],
                "evidenceId": contract["evidenceId"],
            },
            token=admin,
        )
    )
    assert archived["archiveStatus"] == "SUCCESS" and archived["processStatus"] == "CONSTRUCTED"

    finish_paper = upload(admin, "竣工单.pdf", b"%PDF finish " + unique("").encode())
    finish = {"processId": process_id, "archiveType": "FINISH", "attachmentList": [finish_paper]}
    done = ok(call("POST", ARCHIVE, finish, token=admin))
    repeat = ok(call("POST", ARCHIVE, finish, token=admin))

    assert (done["archiveStatus"], done["processStatus"]) == ("SUCCESS", "COMPLETED")
    assert repeat["archiveBatchNo"] == done["archiveBatchNo"] and repeat["processStatus"] == "COMPLETED"
    docs = sql_all(
        "SELECT category, file_name, sha256 FROM installation_document WHERE process_id = :p",
        {"p": process_id},
    )
    assert done["evidenceHash"] == rules.evidence_hash(
        [rules.Document(d["category"], d["file_name"], d["sha256"]) for d in docs]
    )
    assert {d["category"] for d in docs} == {"CONTRACT", "SIGNED", "CHECK", "FINISH"}
    seen = detail(admin, process_id)
    assert seen["custId"] and seen["accountId"] and seen["meterId"] and seen["completedTime"]
    customer = ok(call("GET", f"/admin-api/revenue/customer/{seen['custId']}", token=admin))
    assert customer["name"] == "报装甲" and customer["custType"] == "RESIDENT"
    assert [m["meterNo"] for m in customer["meterList"]] == [meter_no]
    assert sql_scalar("SELECT initial_reading FROM biz_meter WHERE id = :m", {"m": seen["meterId"]}) == 3
    expect_error(
        call(
            "POST", SURVEY, {"processId": process_id, "schemeVersion": "V9", "surveyResult": "x"}, token=admin
        ),
        NODE_NOT_ALLOWED,
    )


def test_another_offices_application_reads_as_missing(admin: str) -> None:
    """Given an application of 鼓楼营业所,
    When a 台江 user holding every permission asks for it, surveys it or initiates its contract,
    Then each answers 1_002_007_001 exactly as for an application that does not exist."""
    from tests.support import admin_login, new_admin_user

    process_id = int(ok(apply(admin, deptId=2))["processId"])
    taijiang = admin_login(new_admin_user(dept_id=3), "Passw0rd!")

    for method, path, body in (
        ("GET", f"/admin-api/installation/apply/{process_id}", None),
        ("POST", SURVEY, {"processId": process_id, "schemeVersion": "V1", "surveyResult": "x"}),
        ("POST", INITIATE, {"processId": process_id}),
    ):
        mine = expect_error(call(method, path, body, token=taijiang), NOT_FOUND)
        missing = expect_error(
            call(
                method,
                path.replace(str(process_id), "9999999999"),
                body and {**body, "processId": 9999999999},
                token=taijiang,
            ),
            NOT_FOUND,
        )
        assert mine.msg.replace(str(process_id), "?") == missing.msg.replace("9999999999", "?")


def test_concurrent_duplicate_applications_make_one(admin: str, esign: Any) -> None:
    """Given four clerks submitting the same application at the same moment,
    When the requests run concurrently,
    Then one process exists for it and every answer names that one."""
    from concurrent.futures import ThreadPoolExecutor

    body = {"mobile": "13722223333", "address": f"台江区并发路 {unique('')} 号", "deptId": 2}
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: ok(apply(admin, **body)), range(4)))

    assert len({a["processId"] for a in answers}) == 1
    assert (
        sql_scalar("SELECT count(*) FROM installation_apply WHERE address = :a", {"a": body["address"]}) == 1
    )


def test_concurrent_duplicate_callbacks_write_one_signature(admin: str, esign: Any) -> None:
    """Given a contract the signer has signed, whose callback is delivered four times at once (as a
    service retrying while the first is still running),
    When the four signed callbacks arrive concurrently,
    Then one answers SUCCESS and three IGNORE_REPEAT with the same ids; one signature and one evidence
    row exist, and the application is SIGNED."""
    from concurrent.futures import ThreadPoolExecutor

    esign.behaviour(no_callback=True)
    process_id = surveyed(admin)
    sent = ok(call("POST", INITIATE, {"processId": process_id}, token=admin))
    task = esign.sign(sent["requestNo"], "SUCCESS")
    body = json.dumps(
        {
            "contractId": sent["contractId"],
            "requestNo": sent["requestNo"],
            "signStatus": "SUCCESS",
            "signerId": "SIGNER-1",
            "signatureTime": task["signatureTime"],
            "evidenceNo": task["evidenceNo"],
            "fileUrl": task["fileUrl"],
            "hashValue": task["hashValue"],
        }
    )

    def deliver(_: int) -> Reply:
        headers = signed_headers(body, secret="esign-callback-secret-not-for-production", key_id=esign.key_id)
        return call("POST", CALLBACK, raw_body=body.encode(), headers=headers)

    with ThreadPoolExecutor(4) as pool:
        answers = [ok(r) for r in pool.map(deliver, range(4))]

    assert sorted(a["writeBackStatus"] for a in answers) == ["IGNORE_REPEAT"] * 3 + ["SUCCESS"]
    assert len({(a["signatureId"], a["evidenceId"]) for a in answers}) == 1
    contract_id = sent["contractId"]
    assert (
        sql_scalar("SELECT count(*) FROM installation_signature WHERE contract_id = :c", {"c": contract_id})
        == 1
    )
    assert (
        sql_scalar("SELECT count(*) FROM installation_evidence WHERE contract_id = :c", {"c": contract_id})
        == 1
    )
    assert detail(admin, process_id)["processStatus"] == "SIGNED"


def test_duplicated_and_late_callbacks_from_the_simulator_change_nothing(admin: str, esign: Any) -> None:
    """Given the simulator set to deliver every callback three times, after a slower signer,
    When a contract is signed,
    Then the first copy is written (SUCCESS) and the two others answered IGNORE_REPEAT."""
    esign.behaviour(duplicate=3, sign_delay_seconds=0.3)
    process_id = surveyed(admin)
    sent = ok(call("POST", INITIATE, {"processId": process_id}, token=admin))
    copies = wait_for(
        lambda: (
            (c := [c for c in esign.callbacks() if c["body"]["requestNo"] == sent["requestNo"]])[2:] and c
        ),
        what="three callbacks",
    )

    assert [c["writeBackStatus"] for c in copies] == ["SUCCESS", "IGNORE_REPEAT", "IGNORE_REPEAT"]
    assert detail(admin, process_id)["processStatus"] == "SIGNED"


def test_a_verdict_whose_callback_never_came_is_fetched_by_initiating_again(admin: str, esign: Any) -> None:
    """Given a contract the signer signed but whose callback never arrived (the service's noCallback),
    When the contract is initiated again,
    Then the service is asked, the verdict written as its callback would have been (SIGNED, with the
    evidence), and a further initiation answers the signed contract."""
    esign.behaviour(no_callback=True)
    process_id = surveyed(admin)
    sent = ok(call("POST", INITIATE, {"processId": process_id}, token=admin))
    wait_for(lambda: esign.task(sent["requestNo"])["taskStatus"] == "SUCCESS", what="the signer")
    assert detail(admin, process_id)["processStatus"] == "SIGNING"

    asked = ok(call("POST", INITIATE, {"processId": process_id}, token=admin))
    again = ok(call("POST", INITIATE, {"processId": process_id}, token=admin))

    assert (asked["processStatus"], asked["requestNo"]) == ("SIGNED", sent["requestNo"])
    assert again["processStatus"] == "SIGNED" and "已签署" in again["msg"]
    (contract,) = detail(admin, process_id)["contractList"]
    assert (
        contract["signStatus"] == "SUCCESS"
        and contract["hashValue"] == esign.task(sent["requestNo"])["hashValue"]
    )
