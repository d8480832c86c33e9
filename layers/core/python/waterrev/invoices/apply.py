"""IF-REV-008 发票申请: invoice whole paid bills of one customer through SYS-008 (IF-EXT-006).

In one transaction: the bills are checked (paid, not invoiced, not voided, the customer's), the
invoice and its lines (one per cost component and tax rate) are written SUBMITTED with its
compensation context, the bills are held (invoice_status PENDING, a conditional update), the
customer's invoice profile is updated, and all of it audited. Then, outside the transaction, SYS-008
is asked; its acceptance (sysRequestNo) makes the invoice PENDING, its refusal REJECTED (the bills
free again). A timeout or a crash between the call and the commit leaves SUBMITTED, which the
compensation query repairs (SYS-008 is idempotent by requestNo = applicationNo).

Idempotent by applicationNo, and by custId + chargeIds (a unique index over the live and issued
invoices): a second application for the same bills, even at the same moment, answers the first.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from waterrev import audit, crypto
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.lifecycle import sql_in
from waterrev.domain.states import HOLDING_INVOICE, BillInvoiceStatus, BillStatus, InvoiceStatus
from waterrev.errors import AppError, ErrorCode
from waterrev.invoices import results, rules
from waterrev.invoices.commands import ApplyInvoice
from waterrev.logs import get_logger
from waterrev.money import fmt
from waterrev.settings import get_settings
from waterrev.visibility import require_customer_visible

FIRST_QUERY_AFTER = dt.timedelta(minutes=1)

_EXISTING = (
    "SELECT id, application_no, cust_id, invoice_status, sys_request_no, charge_key FROM biz_invoice"
    " WHERE application_no = :a OR (cust_id = :c AND charge_key = :k"
    f" AND invoice_status IN ({sql_in(HOLDING_INVOICE)})) ORDER BY (application_no = :a) DESC LIMIT 1"
)


def next_number(uow: UnitOfWork, prefix: str) -> str:
    """FP / ZF / HC + the date + a sequence number: our request numbers to SYS-008."""
    seq = uow.scalar("SELECT nextval('biz_invoice_no_seq')")
    return f"{prefix}{dt.date.today():%Y%m%d}{int(seq):08d}"


def apply(ctx: RequestContext, cmd: ApplyInvoice) -> dict[str, Any]:
    ids = sorted(set(cmd.charge_ids))
    key = rules.charge_key(ids)
    with UnitOfWork() as uow:
        require_customer_visible(uow, ctx, cmd.cust_id)
        existing = uow.one(_EXISTING, {"a": cmd.application_no or "", "c": cmd.cust_id, "k": key})
    if existing is not None:
        return _repeat(ctx, cmd, existing)
    outcome = _create(ctx, cmd, ids, key)
    if isinstance(outcome, str):  # a concurrent duplicate committed first: answer it
        with UnitOfWork() as uow:
            first = uow.one(_EXISTING, {"a": outcome, "c": cmd.cust_id, "k": key})
        if first is None:
            raise AppError(ErrorCode.CONFLICT, "同一申请正在处理，请稍后查询")
        return _repeat(ctx, cmd, first)
    invoice_id, application_no, payload = outcome
    return send(ctx, invoice_id, application_no, payload)


def _create(
    ctx: RequestContext, cmd: ApplyInvoice, ids: list[int], key: str
) -> tuple[int, str, dict[str, Any]] | str:
    """Write the application in one transaction: (id, applicationNo, SYS-008 payload), or the
    applicationNo asked for when a concurrent duplicate holds the key."""
    with UnitOfWork() as uow:
        bills = uow.all(
            "SELECT c.id, c.cust_id, c.status, c.invoice_status, c.total_amount, d.line_no, d.cost_component,"
            " COALESCE(cc.name, d.cost_component) AS component_name, d.tax_rate, d.amount"
            " FROM biz_charge c LEFT JOIN biz_charge_detail d ON d.charge_id = c.id"
            " LEFT JOIN biz_cost_component cc ON cc.template_id = c.price_template_id AND cc.code = d.cost_component"
            " WHERE c.id = ANY(CAST(:ids AS bigint[])) ORDER BY c.id, d.line_no",
            {"ids": ids},
        )
        problems = _bill_problems(cmd.cust_id, ids, bills)
        profile = uow.one(
            "SELECT title_type, invoice_title FROM biz_cust_invoice WHERE cust_id = :c", {"c": cmd.cust_id}
        )
        kind = rules.title_type(
            cmd.invoice_title,
            cmd.tax_no,
            profile["title_type"] if profile and profile["invoice_title"] == cmd.invoice_title else None,
        )
        problems += rules.title_problems(
            invoice_type=cmd.invoice_type, kind=kind, tax_no=cmd.tax_no, email=cmd.email, mobile=cmd.mobile
        )
        details = [
            rules.DetailLine(b["cost_component"], b["component_name"], b["tax_rate"], b["amount"])
            for b in bills
            if b["cost_component"] is not None
        ]
        lines = rules.invoice_lines(details)
        if not problems and not lines:
            problems.append("chargeIds: 所选账单没有可开票的费用明细")
        if problems:
            # a concurrent duplicate may have taken these very bills since the first look: answer it
            first = uow.one(_EXISTING, {"a": cmd.application_no or "", "c": cmd.cust_id, "k": key})
            if first is not None:
                return str(first["application_no"])
            raise AppError(ErrorCode.INVOICE_NOT_ELIGIBLE, "; ".join(problems))
        amount = sum((line.amount for line in lines), Decimal("0.00"))
        tax = sum((line.tax_amount for line in lines), Decimal("0.00"))
        application_no = cmd.application_no or next_number(uow, "FP")
        mobile = crypto.columns("mobile", crypto.keys(uow.conn).pii(crypto.MOBILE, cmd.mobile))
        invoice_id = uow.scalar(
            "INSERT INTO biz_invoice (application_no, cust_id, invoice_type, invoice_status, amount, tax_amount,"
            " charge_key, title_type, invoice_title, tax_no, email, mobile, mobile_cipher, mobile_index,"
            " source_channel, remark, operator_id, next_plan_time) VALUES (:a, :c, :t, :s, :amount, :tax, :k,"
            " :kind, :title, :tax_no, :email, :mobile, :mobile_cipher, :mobile_index, :src, :remark, :op,"
            " now() + make_interval(secs => :first)) ON CONFLICT DO NOTHING RETURNING id",
            {
                "a": application_no,
                "c": cmd.cust_id,
                "t": cmd.invoice_type,
                "s": InvoiceStatus.SUBMITTED,
                "amount": amount,
                "tax": tax,
                "k": key,
                "kind": kind,
                "title": cmd.invoice_title,
                "tax_no": cmd.tax_no,
                "email": cmd.email,
                **mobile,
                "src": cmd.source_channel,
                "remark": cmd.remark,
                "op": ctx.principal.user_id,
                "first": FIRST_QUERY_AFTER.total_seconds(),
            },
        )
        if invoice_id is None:
            return application_no
        held = uow.all(
            "UPDATE biz_charge SET invoice_status = :pending WHERE id = ANY(CAST(:ids AS bigint[])) AND cust_id = :c"
            " AND status = :paid AND invoice_status = :none RETURNING id, total_amount",
            {
                "pending": BillInvoiceStatus.PENDING,
                "ids": ids,
                "c": cmd.cust_id,
                "paid": BillStatus.PAID,
                "none": BillInvoiceStatus.NONE,
            },
        )
        if len(held) != len(ids):  # taken meanwhile by another application: nothing is kept
            raise AppError(ErrorCode.INVOICE_NOT_ELIGIBLE, "chargeIds: 部分账单已被其他发票申请占用")
        uow.execute(
            "INSERT INTO biz_invoice_charge (invoice_id, charge_id, amount)"
            " SELECT :i, u.c, u.a FROM unnest(CAST(:cs AS bigint[]), CAST(:as AS numeric[])) AS u(c, a)",
            {"i": invoice_id, "cs": [h["id"] for h in held], "as": [h["total_amount"] for h in held]},
        )
        uow.execute(
            "INSERT INTO biz_invoice_taxrate (invoice_id, line_no, cost_component, item_name, tax_code, tax_rate,"
            " amount, amount_ex_tax, tax_amount) SELECT :i, u.* FROM unnest(CAST(:n AS smallint[]),"
            " CAST(:comp AS varchar[]), CAST(:item AS varchar[]), CAST(:code AS varchar[]),"
            " CAST(:rate AS numeric[]), CAST(:amt AS numeric[]), CAST(:ex AS numeric[]),"
            " CAST(:tax AS numeric[])) AS u",
            {
                "i": invoice_id,
                "n": [line.line_no for line in lines],
                "comp": [line.cost_component for line in lines],
                "item": [line.item_name for line in lines],
                "code": [line.tax_code for line in lines],
                "rate": [line.tax_rate for line in lines],
                "amt": [line.amount for line in lines],
                "ex": [line.amount_ex_tax for line in lines],
                "tax": [line.tax_amount for line in lines],
            },
        )
        # the customer's invoice profile (the seed's 去向 of the title fields), bank details kept
        uow.execute(
            "INSERT INTO biz_cust_invoice (cust_id, invoice_type, title_type, invoice_title, tax_no, email, mobile,"
            " mobile_cipher, mobile_index) VALUES (:c, :t, :kind, :title, :tax_no, :email, :mobile, :mobile_cipher,"
            " :mobile_index) ON CONFLICT (cust_id) DO UPDATE SET"
            " invoice_type = :t, title_type = :kind, invoice_title = :title, tax_no = :tax_no,"
            " email = COALESCE(:email, biz_cust_invoice.email), mobile = COALESCE(:mobile, biz_cust_invoice.mobile),"
            " mobile_cipher = COALESCE(:mobile_cipher, biz_cust_invoice.mobile_cipher),"
            " mobile_index = COALESCE(:mobile_index, biz_cust_invoice.mobile_index)",
            {
                "c": cmd.cust_id,
                "t": cmd.invoice_type,
                "kind": kind,
                "title": cmd.invoice_title,
                "tax_no": cmd.tax_no,
                "email": cmd.email,
                **mobile,
            },
        )
        audit.record(
            uow,
            ctx,
            module="REV-005",
            operation="INVOICE_APPLY",
            object_type="biz_invoice",
            object_id=invoice_id,
            after={
                "applicationNo": application_no,
                "custId": cmd.cust_id,
                "chargeIds": ids,
                "amount": amount,
                "invoiceType": cmd.invoice_type,
                "sourceChannel": cmd.source_channel,
                "remark": cmd.remark,
            },
        )
        uow.commit()
    return (
        invoice_id,
        application_no,
        application_payload(
            application_no=application_no,
            cust_id=cmd.cust_id,
            invoice_type=cmd.invoice_type,
            title=cmd.invoice_title,
            tax_no=cmd.tax_no,
            email=cmd.email,
            mobile=cmd.mobile,
            bills=[(h["id"], h["total_amount"]) for h in held],
            lines=lines,
            remark=cmd.remark,
        ),
    )


def _bill_problems(cust_id: int, ids: list[int], rows: list[dict[str, Any]]) -> list[str]:
    found = {r["id"]: r for r in rows}
    problems = []
    for charge_id in ids:
        bill = found.get(charge_id)
        if bill is None or bill["cust_id"] != cust_id:
            problems.append(f"chargeIds: 账单 {charge_id} 不存在")
        elif bill["status"] == BillStatus.CANCELLED:
            problems.append(f"chargeIds: 账单 {charge_id} 已作废")
        elif bill["status"] != BillStatus.PAID:
            problems.append(f"chargeIds: 账单 {charge_id} 未缴清（{bill['status']}），仅已收费账单可开票")
        elif bill["invoice_status"] != BillInvoiceStatus.NONE:
            problems.append(f"chargeIds: 账单 {charge_id} 已开票或开票中（{bill['invoice_status']}）")
    return problems


def _repeat(ctx: RequestContext, cmd: ApplyInvoice, row: dict[str, Any]) -> dict[str, Any]:
    """A second application: by applicationNo it answers the record as it stands; by the same bills, a
    live one is answered, an issued one refused with its information (状态冲突: 拒绝重复申请)."""
    if row["cust_id"] != cmd.cust_id:
        raise AppError(ErrorCode.INVOICE_NOT_ELIGIBLE, "applicationNo: 该申请单号已用于其他申请")
    same_no = cmd.application_no == row["application_no"]
    if not same_no and row["invoice_status"] == InvoiceStatus.SUCCESS:
        raise AppError(
            ErrorCode.INVOICE_NOT_ELIGIBLE,
            f"chargeIds: 所选账单已开具发票（申请单号 {row['application_no']}），不可重复申请",
            data={
                "invoiceId": row["id"],
                "applicationNo": row["application_no"],
                "invoiceStatus": row["invoice_status"],
            },
        )
    if row["invoice_status"] == InvoiceStatus.SUBMITTED and row["sys_request_no"] is None:
        resent = resend(ctx, row["id"])  # the first answer never arrived: ask again (idempotent there)
        if resent is not None:
            return resent
    return reply(
        row["id"],
        row["application_no"],
        row["invoice_status"],
        row["sys_request_no"],
        "重复申请：返回既有发票申请",
    )


def reply(
    invoice_id: int, application_no: str, status: str, sys_request_no: str | None, msg: str
) -> dict[str, Any]:
    return {
        "invoiceId": invoice_id,
        "applicationNo": application_no,
        "invoiceStatus": status,
        "sysRequestNo": sys_request_no,
        "msg": msg,
    }


def application_payload(
    *,
    application_no: str,
    cust_id: int,
    invoice_type: str,
    title: str,
    tax_no: str | None,
    email: str | None,
    mobile: str | None,
    bills: list[tuple[int, Decimal]],
    lines: list[rules.InvoiceLine],
    remark: str | None,
) -> dict[str, Any]:
    """The application in SYS-008's words (the seed's SYS-002 <-> SYS-008 mapping, docs/SYS008.md)."""
    total = sum((line.amount for line in lines), Decimal("0.00"))
    return {
        "requestNo": application_no,
        "customerId": str(cust_id),
        "buyerName": title,
        "buyerTaxNo": tax_no,
        "invoiceType": invoice_type,
        "receiver": {"email": email, "mobile": mobile},
        "billList": [{"sourceBillId": str(c), "amount": fmt(a)} for c, a in bills],
        "lines": [
            {
                "lineNo": line.line_no,
                "itemName": line.item_name,
                "taxRateCode": line.tax_code,
                "taxRate": str(line.tax_rate),
                "amount": fmt(line.amount),
                "amountExTax": fmt(line.amount_ex_tax),
                "taxAmount": fmt(line.tax_amount),
            }
            for line in lines
        ],
        "totalAmount": fmt(total),
        "notifyUrl": get_settings().sys008_notify_url,
        "remark": remark,
    }


def send(
    ctx: RequestContext, invoice_id: int, application_no: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """Ask SYS-008 (outside any transaction) and settle its answer."""
    from waterrev.adapters.sys008 import Sys008Error, Sys008Exception

    try:
        answer = results.platform().apply(payload)
    except Sys008Error as exc:
        if exc.refused:
            out = results.settle(
                ctx,
                "APPLY",
                [
                    {
                        "invoiceId": invoice_id,
                        "requestNo": application_no,
                        "invoiceStatus": "REJECTED",
                        "resultMsg": f"{exc.code}: {exc.message}"[:200],
                    }
                ],
            )
            return reply(
                invoice_id,
                application_no,
                out[0]["invoiceStatus"],
                None,
                f"发票服务拒绝受理：{exc.message or exc.code}",
            )
        return _not_answered(invoice_id, application_no, exc)
    except Sys008Exception as exc:
        return _not_answered(invoice_id, application_no, exc)
    sys_no = str(answer.get("sysRequestNo") or "") or None
    reported = str(answer.get("invoiceStatus") or "PENDING")
    view = {**answer, "requestNo": application_no, "invoiceStatus": reported}
    if reported == InvoiceStatus.SUCCESS:
        view["fileKey"] = results.copy_file(application_no, answer.get("invoiceNo"), answer.get("fileUrl"))
    out = results.settle(ctx, "APPLY", [results.issue_result(view, invoice_id=invoice_id)])
    return reply(
        invoice_id,
        application_no,
        out[0]["invoiceStatus"],
        sys_no,
        "已提交发票服务受理，结果以回写或查询为准",
    )


def _not_answered(invoice_id: int, application_no: str, exc: Exception) -> dict[str, Any]:
    get_logger().warning(
        "SYS-008 did not take the application", extra={"applicationNo": application_no, "error": str(exc)}
    )
    with UnitOfWork() as uow:
        uow.execute(
            "UPDATE biz_invoice SET latest_error = :e, update_time = now() WHERE id = :i",
            {"e": str(exc)[:250], "i": invoice_id},
        )
        uow.commit()
    return reply(
        invoice_id,
        application_no,
        InvoiceStatus.SUBMITTED,
        None,
        "发票服务暂未应答：申请已保存，将由补偿查询继续处理",
    )


def resend(ctx: RequestContext, invoice_id: int) -> dict[str, Any] | None:
    """Send a SUBMITTED application again from what was stored (its first answer never arrived)."""
    with UnitOfWork() as uow:
        row = uow.one("SELECT * FROM biz_invoice WHERE id = :i", {"i": invoice_id})
        if row is None or row["invoice_status"] != InvoiceStatus.SUBMITTED:
            return None
        bills = uow.all(
            "SELECT charge_id, amount FROM biz_invoice_charge WHERE invoice_id = :i ORDER BY charge_id",
            {"i": invoice_id},
        )
        # SYS-008 is sent the mobile itself: opened for the call only (sealed at rest, waterrev.crypto)
        mobile = crypto.keys(uow.conn).open_pii(crypto.MOBILE, row["mobile_cipher"])
        lines = [
            rules.InvoiceLine(
                r["line_no"],
                r["cost_component"],
                r["item_name"],
                r["tax_code"],
                r["tax_rate"],
                r["amount"],
                r["amount_ex_tax"],
                r["tax_amount"],
            )
            for r in uow.all(
                "SELECT * FROM biz_invoice_taxrate WHERE invoice_id = :i ORDER BY line_no", {"i": invoice_id}
            )
        ]
    payload = application_payload(
        application_no=row["application_no"],
        cust_id=row["cust_id"],
        invoice_type=row["invoice_type"],
        title=row["invoice_title"],
        tax_no=row["tax_no"],
        email=row["email"],
        mobile=mobile,
        bills=[(b["charge_id"], b["amount"]) for b in bills],
        lines=lines,
        remark=row["remark"],
    )
    return send(ctx, invoice_id, row["application_no"], payload)
