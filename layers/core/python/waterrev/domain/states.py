"""Every status the system stores or answers with, each with its lifecycle. Pure: no I/O.

A lifecycle lists the changes that commit. A bill chunk claims its readings (and their tasks) BILLED
in one statement and puts back to VALID (READ), before it commits, those it could not price
(docs/DECISIONS.md 15): that undoes its own claim, and BILLED has nothing after it.

Values are the seed's exactly (003 接口设计: orderStatus, writeOffStatus, validateStatus,
invoiceStatus, pushStatus, batchStatus, processStatus, signStatus, the IF-REV-013 four states) or,
where the seed names a field without values, the ones the schema has used since it was written
(bk_transaction.status CLOSED, biz_charge.status, biz_reading_data.status, ...). The named sets below
replace literal lists in the use cases; the settlement functions in the database use the same lists,
and tests/integration/test_status_drift.py reads those functions' source to keep them equal.

The coming lifecycles (withholding batch, business process, e-signature) are here before their use
cases so that those start from the seed's words and rules.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from waterrev.domain.lifecycle import Lifecycle
from waterrev.errors import ErrorCode


# ---------------------------------------------------------------------------- payment order --
class OrderStatus(StrEnum):
    """bk_transaction.status: the seed's orderStatus / tradeStatus (INIT, PAYING, SUCCESS, FAIL) and
    CLOSED, an order ended unpaid by us or the platform (expired, renewed, sent back)."""

    INIT = "INIT"  # committed, not yet answered by SYS-009
    PAYING = "PAYING"  # SYS-009 has the trade
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"
    CLOSED = "CLOSED"


ORDER = Lifecycle(
    "订单",
    OrderStatus,
    {
        OrderStatus.INIT: {OrderStatus.PAYING, OrderStatus.SUCCESS, OrderStatus.FAIL, OrderStatus.CLOSED},
        # PAYING again: a create sent again (its first answer never arrived) writes the pay URL anew
        OrderStatus.PAYING: {OrderStatus.PAYING, OrderStatus.SUCCESS, OrderStatus.FAIL, OrderStatus.CLOSED},
        # the platform's SUCCESS after a FAIL or a close: the money did arrive, and is booked
        OrderStatus.FAIL: {OrderStatus.SUCCESS},
        OrderStatus.CLOSED: {OrderStatus.SUCCESS},
    },
    # a counter or bank trade is recorded settled (docs/DECISIONS.md 23)
    initial=frozenset({OrderStatus.INIT, OrderStatus.SUCCESS}),
    error=ErrorCode.CHARGE_ALREADY_WRITTEN_OFF,
)
# A live order holds its bills (biz_order_charge.live), is queried by compensation, and answers a
# repeat of its request; the partial indexes on bk_transaction are written with this list.
LIVE_ORDER = frozenset({OrderStatus.INIT, OrderStatus.PAYING})
# The platform results that end a live order without money, and all that end it.
UNPAID_ENDS = frozenset({OrderStatus.FAIL, OrderStatus.CLOSED})
ORDER_ENDS = UNPAID_ENDS | {OrderStatus.SUCCESS}


class OrderHold(StrEnum):
    """bk_transaction.hold_reason: an order a person decides; no platform result changes it meanwhile."""

    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"  # money arrived, not the order's amount
    REFUND = "REFUND"  # the money was sent back: held for good


# ------------------------------------------------------------------------------------- bill --
class BillStatus(StrEnum):
    """biz_charge.status, answered as payStatus."""

    UNPAID = "UNPAID"
    PARTIAL = "PARTIAL"
    PAID = "PAID"
    CANCELLED = "CANCELLED"
    BAD_DEBT = "BAD_DEBT"  # 扩展: what was still owed was written off as bad debt (IF-REV-007)


BILL = Lifecycle(
    "账单",
    BillStatus,
    {
        BillStatus.UNPAID: {BillStatus.PARTIAL, BillStatus.PAID, BillStatus.CANCELLED, BillStatus.BAD_DEBT},
        # a second part-payment; a reversal (冲正, IF-REV-007) of the only payment; bad debt
        BillStatus.PARTIAL: {BillStatus.PARTIAL, BillStatus.PAID, BillStatus.UNPAID, BillStatus.BAD_DEBT},
        BillStatus.PAID: {BillStatus.PARTIAL, BillStatus.UNPAID},  # a reversal (冲正) of a payment
    },
    initial=frozenset({BillStatus.UNPAID}),
    error=ErrorCode.CHARGE_ALREADY_WRITTEN_OFF,
)
# The bills a payment may settle, and arrears: the statuses a bill may be paid from.
PAYABLE_BILLS = BILL.sources(BillStatus.PAID)


# ------------------------------------------------------------------------------- collection --
class CollectionStatus(StrEnum):
    """biz_collection.status, answered as writeOffStatus (seed: SUCCESS, PARTIAL, PENDING). A
    collection is one payment's write-off, written once: SUCCESS when it settled every bill it was
    for, PARTIAL when some remain owed. PENDING is money still on its way (a bill in a live order;
    a withholding batch not returned yet)."""

    SUCCESS = "SUCCESS"
    PARTIAL = "PARTIAL"
    PENDING = "PENDING"


COLLECTION = Lifecycle(
    "收费记录",
    CollectionStatus,
    {CollectionStatus.PENDING: {CollectionStatus.SUCCESS, CollectionStatus.PARTIAL}},
    initial=frozenset(CollectionStatus),
)


class CollectionItemType(StrEnum):
    """biz_collection_item.item_type: what a write-off line paid on its bill. The late-payment penalty is
    a line of its own, never mixed into the water fee (docs/DECISIONS.md 49)."""

    PRINCIPAL = "PRINCIPAL"  # the water fee (biz_charge.paid_amount)
    PENALTY = "PENALTY"  # 违约金


# ---------------------------------------------------------------------- bank agreements --
class AgreementStatus(StrEnum):
    """biz_cust_collection_rel.status, biz_cust_withholding_rel.status: a customer's bank agreement
    (托收 / 代扣). One SIGNED agreement of each kind at most; a new one terminates the old."""

    SIGNED = "SIGNED"
    TERMINATED = "TERMINATED"


AGREEMENT = Lifecycle(
    "银行协议",
    AgreementStatus,
    {AgreementStatus.SIGNED: {AgreementStatus.TERMINATED}},
    initial=frozenset({AgreementStatus.SIGNED}),
)


# ------------------------------------------------------------------------- penalty waiver --
class PenaltyWaiverStatus(StrEnum):
    """biz_penalty_waiver.status: a request to waive a bill's penalty, effective only once a second
    person approves it (IF-REV-007 path; answered as resultStatus PENDING_APPROVAL, SUCCESS, FAIL)."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


PENALTY_WAIVER = Lifecycle(
    "违约金减免申请",
    PenaltyWaiverStatus,
    {PenaltyWaiverStatus.PENDING: {PenaltyWaiverStatus.APPROVED, PenaltyWaiverStatus.REJECTED}},
    initial=frozenset({PenaltyWaiverStatus.PENDING}),
    error=ErrorCode.ADJUST_STATE_NOT_ALLOWED,
)


# -------------------------------------------------------------------------------- readings --
class ValidateStatus(StrEnum):
    """biz_reading_data.validate_status, IF-REV-004's validateStatus: the verdict on a reading when it
    came in, kept as it was (a WARN reading a supervisor approves stays WARN; its status moves)."""

    PASS = "PASS"
    WARN = "WARN"
    REJECT = "REJECT"


VALIDATION = Lifecycle("读数校验", ValidateStatus, {}, initial=frozenset(ValidateStatus))


class ReadingStatus(StrEnum):
    """biz_reading_data.status."""

    VALID = "VALID"  # ready for billing
    PENDING_REVIEW = "PENDING_REVIEW"  # WARN: not billed until a supervisor approves it
    REJECTED = "REJECTED"
    BILLED = "BILLED"
    SUPERSEDED = "SUPERSEDED"  # a later reading on the same task replaced it while under review


READING = Lifecycle(
    "读数",
    ReadingStatus,
    {
        ReadingStatus.PENDING_REVIEW: {ReadingStatus.VALID, ReadingStatus.REJECTED, ReadingStatus.SUPERSEDED},
        ReadingStatus.VALID: {ReadingStatus.BILLED},
    },
    initial=frozenset({ReadingStatus.VALID, ReadingStatus.PENDING_REVIEW}),
)
# The readings whose usage counts: for the recent average and the customer's usage history.
COUNTED_READINGS = frozenset({ReadingStatus.VALID, ReadingStatus.BILLED})


class MeterReadStatus(StrEnum):
    """biz_meter_read.status: a meter's reading task of one period."""

    OPEN = "OPEN"
    READ = "READ"
    REVIEW = "REVIEW"
    BILLED = "BILLED"
    CLOSED = "CLOSED"  # closed unread; no use case closes tasks yet


METER_READ = Lifecycle(
    "抄表任务",
    MeterReadStatus,
    {
        MeterReadStatus.OPEN: {MeterReadStatus.READ, MeterReadStatus.REVIEW, MeterReadStatus.CLOSED},
        # a new reading on a task under review replaces the one waiting; a rejection reopens it
        MeterReadStatus.REVIEW: {MeterReadStatus.READ, MeterReadStatus.REVIEW, MeterReadStatus.OPEN},
        MeterReadStatus.READ: {MeterReadStatus.BILLED},
    },
    initial=frozenset({MeterReadStatus.OPEN}),
    error=ErrorCode.METER_READ_TASK_NOT_FOUND_OR_CLOSED,
)
# The tasks a reading may be recorded on.
READABLE_TASKS = METER_READ.sources(MeterReadStatus.REVIEW)


class ReviewStatus(StrEnum):
    """biz_reading_review.status: a supervisor's decision on a reading below the last one."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    USED = "USED"  # the approved reading became the meter's new start


READING_REVIEW = Lifecycle(
    "读数审批单",
    ReviewStatus,
    {
        ReviewStatus.PENDING: {ReviewStatus.APPROVED, ReviewStatus.REJECTED},
        ReviewStatus.APPROVED: {ReviewStatus.USED},
    },
    initial=frozenset({ReviewStatus.PENDING}),
)


# -------------------------------------------------------------------------------- bill run --
class BillRunStatus(StrEnum):
    """biz_bill_run.status."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    PARTIAL = "PARTIAL"  # some readings or chunks failed; they stay VALID for the next run
    FAILED = "FAILED"  # nothing billed


BILL_RUN = Lifecycle(
    "开账批次",
    BillRunStatus,
    {BillRunStatus.RUNNING: {BillRunStatus.SUCCEEDED, BillRunStatus.PARTIAL, BillRunStatus.FAILED}},
    initial=frozenset({BillRunStatus.RUNNING}),
)


# ------------------------------------------------------------------------ payment exception --
class PaymentExceptionStatus(StrEnum):
    """bk_transaction_exception.status: open until a person decides it (IF-REV-006 人工复核)."""

    OPEN = "OPEN"
    RESOLVED = "RESOLVED"


PAYMENT_EXCEPTION = Lifecycle(
    "支付异常",
    PaymentExceptionStatus,
    {PaymentExceptionStatus.OPEN: {PaymentExceptionStatus.RESOLVED}},
    initial=frozenset({PaymentExceptionStatus.OPEN}),
)


class PaymentExceptionType(StrEnum):
    """bk_transaction_exception.exception_type."""

    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    UNPARSABLE = "UNPARSABLE"
    UNKNOWN_TRADE = "UNKNOWN_TRADE"
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    PAID_ELSEWHERE = "PAID_ELSEWHERE"
    BANK_RETURN_INVALID = "BANK_RETURN_INVALID"  # a withholding return file refused (1_002_006_002): biz_order_no is the batchNo


# ---------------------------------------------------------------------------------- invoices --
class InvoiceStatus(StrEnum):
    """biz_invoice.invoice_status (IF-REV-008, IF-REV-009, IF-EXT-007, IF-CS-004)."""

    SUBMITTED = "SUBMITTED"  # committed, SYS-008's acceptance not yet recorded
    PENDING = "PENDING"  # sent to SYS-008 (sysRequestNo kept), no result yet
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"
    REJECTED = "REJECTED"  # the application itself was refused by SYS-008
    INVALID = "INVALID"  # 作废
    RED_INK = "RED_INK"  # 红冲


INVOICE = Lifecycle(
    "发票",
    InvoiceStatus,
    {
        # SUBMITTED straight to a result: SYS-008's result (callback or query) arrived before the
        # acceptance was recorded (a crash between the call and the commit, or a fast platform)
        InvoiceStatus.SUBMITTED: {
            InvoiceStatus.PENDING,
            InvoiceStatus.REJECTED,
            InvoiceStatus.SUCCESS,
            InvoiceStatus.FAIL,
        },
        InvoiceStatus.PENDING: {InvoiceStatus.SUCCESS, InvoiceStatus.FAIL},
        # 作废与红冲仅允许对当前 invoiceStatus=SUCCESS 的记录发起; a later failed result never
        # overwrites SUCCESS (an exception for a person); INVALID and RED_INK refuse a second time
        InvoiceStatus.SUCCESS: {InvoiceStatus.INVALID, InvoiceStatus.RED_INK},
    },
    initial=frozenset({InvoiceStatus.SUBMITTED}),
    error=ErrorCode.INVOICE_WRITEBACK_INVALID,
)
# Applications without a result: what the compensation sweep queries, and what holds its bills.
LIVE_INVOICE = frozenset({InvoiceStatus.SUBMITTED, InvoiceStatus.PENDING})
# The invoices that hold their bills (the idempotency key custId + chargeIds covers these).
HOLDING_INVOICE = LIVE_INVOICE | {InvoiceStatus.SUCCESS}
# The results that end an application without an invoice: its bills are invoiceable again.
UNISSUED_ENDS = frozenset({InvoiceStatus.FAIL, InvoiceStatus.REJECTED})


class BillInvoiceStatus(StrEnum):
    """biz_charge.invoice_status, IF-CS-002's invoiceStatus of a bill: the state of the invoice that
    holds it (PENDING for a live application, SUCCESS once issued) or NONE."""

    NONE = "NONE"
    PENDING = "PENDING"
    SUCCESS = "SUCCESS"


BILL_INVOICE = Lifecycle(
    "账单开票状态",
    BillInvoiceStatus,
    {
        BillInvoiceStatus.NONE: {BillInvoiceStatus.PENDING},
        BillInvoiceStatus.PENDING: {BillInvoiceStatus.SUCCESS, BillInvoiceStatus.NONE},
        # the invoice voided or red-inked: the bill may be invoiced again
        BillInvoiceStatus.SUCCESS: {BillInvoiceStatus.NONE},
    },
    initial=frozenset({BillInvoiceStatus.NONE}),
    error=ErrorCode.INVOICE_NOT_ELIGIBLE,
)


class ChargeBindStatus(StrEnum):
    """biz_invoice.charge_bind_status: whether the invoice's bills are marked invoiced by it."""

    UNBOUND = "UNBOUND"
    BOUND = "BOUND"


class InvoiceModifyType(StrEnum):
    """biz_process_invoice_modifys.modify_type, with its trigger source and target status."""

    INVALIDATE = "INVALIDATE"
    RED_INK = "RED_INK"


class InvoiceModifyStatus(StrEnum):
    """biz_process_invoice_modifys.status: a void or red-ink request's progress at SYS-008."""

    SUBMITTED = "SUBMITTED"  # committed, SYS-008's acceptance not recorded
    PENDING = "PENDING"  # accepted by SYS-008 (the immediate reply means only that)
    SUCCESS = "SUCCESS"  # the invoice is INVALID / RED_INK
    FAIL = "FAIL"  # refused or abandoned (a red-letter form denied, expired, withdrawn): still SUCCESS


INVOICE_MODIFY = Lifecycle(
    "发票后处理",
    InvoiceModifyStatus,
    {
        InvoiceModifyStatus.SUBMITTED: {
            InvoiceModifyStatus.PENDING,
            InvoiceModifyStatus.SUCCESS,
            InvoiceModifyStatus.FAIL,
        },
        InvoiceModifyStatus.PENDING: {InvoiceModifyStatus.SUCCESS, InvoiceModifyStatus.FAIL},
    },
    initial=frozenset({InvoiceModifyStatus.SUBMITTED}),
    error=ErrorCode.INVOICE_WRITEBACK_INVALID,
)
LIVE_MODIFY = frozenset({InvoiceModifyStatus.SUBMITTED, InvoiceModifyStatus.PENDING})


class RedFormStatus(StrEnum):
    """The red-letter confirmation form (红字确认单) of a 数电票 red-ink, as the tax platform codes it."""

    NO_CONFIRM = "01"  # 无需确认
    SELLER_WAITING_BUYER = "02"  # 销方录入待购方确认
    BUYER_WAITING_SELLER = "03"  # 购方录入待销方确认
    CONFIRMED = "04"  # 购销双方已确认
    VOID_BUYER_DENIED = "05"  # 作废（销方录入购方否认）
    VOID_SELLER_DENIED = "06"  # 作废（购方录入销方否认）
    VOID_TIMEOUT = "07"  # 作废（超72小时未确认）
    VOID_WITHDRAWN = "08"  # 作废（发起方已撤销）


# The forms that let the red invoice be issued, and those that end the red-ink unissued.
RED_FORM_ISSUABLE = frozenset({RedFormStatus.NO_CONFIRM, RedFormStatus.CONFIRMED})
RED_FORM_VOID = frozenset(
    {
        RedFormStatus.VOID_BUYER_DENIED,
        RedFormStatus.VOID_SELLER_DENIED,
        RedFormStatus.VOID_TIMEOUT,
        RedFormStatus.VOID_WITHDRAWN,
    }
)
# The form's moves (its codes are digits, not words: a table rather than a Lifecycle): a form waiting
# for one side ends confirmed or void; the others are final as they come.
RED_FORM_MOVES: dict[RedFormStatus, frozenset[RedFormStatus]] = {
    RedFormStatus.SELLER_WAITING_BUYER: frozenset(
        {
            RedFormStatus.CONFIRMED,
            RedFormStatus.VOID_BUYER_DENIED,
            RedFormStatus.VOID_TIMEOUT,
            RedFormStatus.VOID_WITHDRAWN,
        }
    ),
    RedFormStatus.BUYER_WAITING_SELLER: frozenset(
        {
            RedFormStatus.CONFIRMED,
            RedFormStatus.VOID_SELLER_DENIED,
            RedFormStatus.VOID_TIMEOUT,
            RedFormStatus.VOID_WITHDRAWN,
        }
    ),
}


class InvoiceExceptionStatus(StrEnum):
    """biz_invoice_exception.status: a conflicting result kept for a person (人工核查入口)."""

    OPEN = "OPEN"
    RESOLVED = "RESOLVED"


INVOICE_EXCEPTION = Lifecycle(
    "发票异常",
    InvoiceExceptionStatus,
    {InvoiceExceptionStatus.OPEN: {InvoiceExceptionStatus.RESOLVED}},
    initial=frozenset({InvoiceExceptionStatus.OPEN}),
)


class PushStatus(StrEnum):
    """biz_invoice.push_status: the e-invoice sent on to the customer (IF-CS-004). PUSHED: handed to
    the message pipeline (biz_message); FAIL: the pipeline reported it undelivered."""

    NONE = "NONE"
    PUSHED = "PUSHED"
    FAIL = "FAIL"


PUSH = Lifecycle(
    "电子发票推送",
    PushStatus,
    {
        PushStatus.NONE: {PushStatus.PUSHED, PushStatus.FAIL},
        PushStatus.PUSHED: {PushStatus.PUSHED, PushStatus.FAIL},  # pushed again; or not delivered
        PushStatus.FAIL: {PushStatus.PUSHED, PushStatus.FAIL},  # tried again; the new reason kept
    },
    initial=frozenset({PushStatus.NONE}),
)


# ------------------------------------------------------------------ messages and reminders -----
class MessageStatus(StrEnum):
    """The four states of a reminder task (IF-REV-013) and of a message's delivery (IF-EXT-008, SYS-010's
    sendStatus mapped by SYS-002): biz_reminder_task.status and biz_message.status."""

    PENDING = "PENDING"  # sent, or accepted by SYS-010 without a final result (a timeout stays here)
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"
    MANUAL_VERIFIED = "MANUAL_VERIFIED"  # no final result for long; a person checked and recorded it


_FOUR_STATES: dict[MessageStatus, set[MessageStatus]] = {
    MessageStatus.PENDING: {MessageStatus.SUCCESS, MessageStatus.FAIL, MessageStatus.MANUAL_VERIFIED},
    # a SUCCESS that arrives after a FAIL: it did reach the customer (外部结果晚到, 补写回执); a late FAIL
    # never overwrites SUCCESS or MANUAL_VERIFIED (不得回退已确认成功状态), and a person verifies only PENDING
    MessageStatus.FAIL: {MessageStatus.SUCCESS},
}
MESSAGE = Lifecycle("消息", MessageStatus, _FOUR_STATES, initial=frozenset({MessageStatus.PENDING}))
REMINDER = Lifecycle(
    "催缴任务",
    MessageStatus,
    _FOUR_STATES,
    # a task with no usable contact is recorded FAIL at once (1_002_008_001), and sent again as a new task
    initial=frozenset({MessageStatus.PENDING, MessageStatus.FAIL}),
)


class DispatchState(StrEnum):
    """biz_message.dispatch_state: where a message is on its way to SYS-010 (not a business state)."""

    NEW = "NEW"  # written with its business change; the relay puts it on the queue when due
    QUEUED = "QUEUED"  # on the SQS queue (again, after a timeout or a 5xx: retried with backoff)
    SENDING = "SENDING"  # a consumer claimed it and is calling SYS-010 (a lease: claim_time)
    ACCEPTED = "ACCEPTED"  # SYS-010 accepted it; its result comes by callback
    DEAD = "DEAD"  # retries spent: in the dead-letter queue and biz_message_exception, until replayed
    CLOSED = "CLOSED"  # nothing more to send: SYS-010 refused it, or a person verified it


DISPATCH = Lifecycle(
    "消息投递",
    DispatchState,
    {
        DispatchState.NEW: {DispatchState.QUEUED, DispatchState.CLOSED},
        # QUEUED again: a relay that crashed after sending and before committing sends once more
        DispatchState.QUEUED: {
            DispatchState.QUEUED,
            DispatchState.SENDING,
            DispatchState.DEAD,
            DispatchState.CLOSED,
        },
        DispatchState.SENDING: {
            DispatchState.SENDING,  # a lease that ran out (the consumer died mid-call) is taken again
            DispatchState.ACCEPTED,
            DispatchState.QUEUED,
            DispatchState.DEAD,
            DispatchState.CLOSED,
        },
        DispatchState.DEAD: {DispatchState.NEW, DispatchState.SENDING, DispatchState.CLOSED},  # replayed
        DispatchState.ACCEPTED: {DispatchState.CLOSED},
    },
    initial=frozenset({DispatchState.NEW}),
)
# What a consumer may claim for a call (a SENDING one only once its lease has run out).
CLAIMABLE = frozenset({DispatchState.NEW, DispatchState.QUEUED, DispatchState.DEAD})


class MessageExceptionStatus(StrEnum):
    """biz_message_exception.status: open until a person replays or dismisses it."""

    OPEN = "OPEN"
    RESOLVED = "RESOLVED"


MESSAGE_EXCEPTION = Lifecycle(
    "消息异常",
    MessageExceptionStatus,
    {MessageExceptionStatus.OPEN: {MessageExceptionStatus.RESOLVED}},
    initial=frozenset({MessageExceptionStatus.OPEN}),
)


class MessageExceptionType(StrEnum):
    """biz_message_exception.exception_type."""

    DEAD_LETTER = "DEAD_LETTER"  # retries spent (timeouts, 5xx, a body nobody could read)
    UNKNOWN_RESULT = "UNKNOWN_RESULT"  # a verified result callback for a message we never sent


# ---------------------------------------------------------------------- bank withholding ------
class WithholdingBatchStatus(StrEnum):
    """bk_withholding_batch.status, batchStatus: 送盘, 回盘, 对账, 结算 in that order. 扩展: SENDING (the
    file is being uploaded: neither cancellable nor sendable again) and CANCELLED (cancelled before the
    bank took the file)."""

    CREATED = "CREATED"
    SENDING = "SENDING"
    SENT = "SENT"
    RETURNED = "RETURNED"
    RECONCILED = "RECONCILED"
    SETTLED = "SETTLED"
    CANCELLED = "CANCELLED"


WITHHOLDING_BATCH = Lifecycle(
    "代扣批次",
    WithholdingBatchStatus,
    {
        WithholdingBatchStatus.CREATED: {WithholdingBatchStatus.SENDING, WithholdingBatchStatus.CANCELLED},
        # back to CREATED when the upload failed (the file is put in place by its last step, a rename)
        WithholdingBatchStatus.SENDING: {WithholdingBatchStatus.SENT, WithholdingBatchStatus.CREATED},
        WithholdingBatchStatus.SENT: {WithholdingBatchStatus.RETURNED, WithholdingBatchStatus.CANCELLED},
        WithholdingBatchStatus.RETURNED: {WithholdingBatchStatus.RECONCILED},
        WithholdingBatchStatus.RECONCILED: {WithholdingBatchStatus.SETTLED},
    },
    initial=frozenset({WithholdingBatchStatus.CREATED}),
    error=ErrorCode.WITHHOLDING_BATCH_MISSING_OR_SENT,
)


class WithholdingItemStatus(StrEnum):
    """bk_withholding_item.status."""

    PENDING = "PENDING"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"
    WRITE_OFF_FAILED = "WRITE_OFF_FAILED"


class ReconcileDiffStatus(StrEnum):
    """bk_reconcile_diff.status."""

    OPEN = "OPEN"
    RESOLVED = "RESOLVED"


# ----------------------------------------------------------------- coming: business process ----
class ProcessStatus(StrEnum):
    """biz_process.status, processStatus (IF-CS-006 业务办理)."""

    INIT = "INIT"
    ACCEPTED = "ACCEPTED"
    PROCESSING = "PROCESSING"
    DONE = "DONE"
    REJECTED = "REJECTED"


PROCESS = Lifecycle(
    "业务办理单",
    ProcessStatus,
    {
        ProcessStatus.INIT: {ProcessStatus.ACCEPTED, ProcessStatus.REJECTED},
        ProcessStatus.ACCEPTED: {ProcessStatus.PROCESSING, ProcessStatus.REJECTED},
        ProcessStatus.PROCESSING: {ProcessStatus.DONE, ProcessStatus.REJECTED},
    },
    initial=frozenset({ProcessStatus.INIT}),
    error=ErrorCode.PROCESS_NODE_NOT_ALLOWED,
)


# ------------------------------------------------------------ connection application (报装) ----
class InstallStatus(StrEnum):
    """biz_process.process_status of an INSTALL process (IF-INST-001..005). The seed's IF-INST-001
    answers INIT, ACCEPTED or SURVEYING; an accepted application waits for its survey (SURVEYING).
    The rest are ours: the survey passed with an estimate (SURVEYED), the contract is with the
    e-signature service (SIGNING), signed (SIGNED), built and checked (CONSTRUCTED, the CHECK archive),
    finished with its customer, account and meter (COMPLETED, the FINISH archive); refused by the
    survey audit (REJECTED)."""

    SURVEYING = "SURVEYING"
    SURVEYED = "SURVEYED"
    SIGNING = "SIGNING"
    SIGNED = "SIGNED"
    CONSTRUCTED = "CONSTRUCTED"
    COMPLETED = "COMPLETED"
    REJECTED = "REJECTED"


INSTALL = Lifecycle(
    "报装申请",
    InstallStatus,
    {
        # a survey recorded without an audit result leaves it waiting for the audit
        InstallStatus.SURVEYING: {InstallStatus.SURVEYING, InstallStatus.SURVEYED, InstallStatus.REJECTED},
        # a new scheme version may be audited again before the contract goes out
        InstallStatus.SURVEYED: {InstallStatus.SURVEYED, InstallStatus.SIGNING, InstallStatus.REJECTED},
        # FAIL or CANCEL from the signer sends it back: a new contract may be initiated
        InstallStatus.SIGNING: {InstallStatus.SIGNED, InstallStatus.SURVEYED},
        InstallStatus.SIGNED: {InstallStatus.CONSTRUCTED},
        InstallStatus.CONSTRUCTED: {InstallStatus.COMPLETED},
    },
    initial=frozenset({InstallStatus.SURVEYING}),
    error=ErrorCode.PROCESS_NODE_NOT_ALLOWED,
)
# the node each status waits at (IF-INST-002 nextNode)
INSTALL_NEXT_NODE = {
    InstallStatus.SURVEYING: "SURVEY",
    InstallStatus.SURVEYED: "CONTRACT_SIGN",
    InstallStatus.SIGNING: "SIGN_CALLBACK",
    InstallStatus.SIGNED: "CONSTRUCTION_CHECK",
    InstallStatus.CONSTRUCTED: "FINISH_ARCHIVE",
    InstallStatus.COMPLETED: "END",
    InstallStatus.REJECTED: "END",
}


class ContractStatus(StrEnum):
    """installation_contract.contract_status: one signing request's contract."""

    SIGNING = "SIGNING"
    SIGNED = "SIGNED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


CONTRACT = Lifecycle(
    "报装合同",
    ContractStatus,
    {ContractStatus.SIGNING: {ContractStatus.SIGNED, ContractStatus.FAILED, ContractStatus.CANCELLED}},
    initial=frozenset({ContractStatus.SIGNING}),
    error=ErrorCode.PROCESS_NODE_NOT_ALLOWED,
)


# --------------------------------------------------------------------- coming: e-signature -----
class SignStatus(StrEnum):
    """installation_signature.signature_status, signStatus (IF-INST-004): the CA's verdict on one
    signing request, written once; a repeated receipt is answered IGNORE_REPEAT and changes nothing."""

    SUCCESS = "SUCCESS"
    FAIL = "FAIL"
    CANCEL = "CANCEL"


SIGNATURE = Lifecycle("签章", SignStatus, {}, initial=frozenset(SignStatus))


# -------------------------------------------------------------- meter work orders and stock ----
class WorkOrderStatus(StrEnum):
    """biz_meter_work_order.status (IF-METER-002 表务工单)."""

    CREATED = "CREATED"
    DISPATCHED = "DISPATCHED"  # a fitter has it
    DONE = "DONE"  # the result is in and applied (a meter changed, moved, verified, repaired)
    CANCELLED = "CANCELLED"


WORK_ORDER = Lifecycle(
    "表务工单",
    WorkOrderStatus,
    {
        WorkOrderStatus.CREATED: {WorkOrderStatus.DISPATCHED, WorkOrderStatus.CANCELLED},
        WorkOrderStatus.DISPATCHED: {WorkOrderStatus.DONE, WorkOrderStatus.CANCELLED},
    },
    initial=frozenset({WorkOrderStatus.CREATED}),
)


class StockStatus(StrEnum):
    """biz_meter.stock_status (IF-METER-003): where a meter is in its life as an asset."""

    IN_STOCK = "IN_STOCK"
    ISSUED = "ISSUED"  # 领用出库: with a fitter, not yet installed
    INSTALLED = "INSTALLED"
    REMOVED = "REMOVED"  # 拆回: taken off by a meter change
    SCRAPPED = "SCRAPPED"


STOCK = Lifecycle(
    "水表库存",
    StockStatus,
    {
        StockStatus.IN_STOCK: {StockStatus.ISSUED, StockStatus.SCRAPPED},
        StockStatus.ISSUED: {StockStatus.IN_STOCK, StockStatus.INSTALLED},
        StockStatus.INSTALLED: {StockStatus.REMOVED},
        StockStatus.REMOVED: {StockStatus.IN_STOCK, StockStatus.SCRAPPED},
    },
    initial=frozenset({StockStatus.IN_STOCK}),
)


# BILL_INVOICE and PUSH are cycles by nature (a bill invoiced again after its invoice was red-inked, a
# push sent again after it failed): every status of those in LIFECYCLES must be able to end.
LIFECYCLES: tuple[Lifecycle[Any], ...] = (
    ORDER,
    BILL,
    COLLECTION,
    VALIDATION,
    READING,
    METER_READ,
    READING_REVIEW,
    BILL_RUN,
    PAYMENT_EXCEPTION,
    PENALTY_WAIVER,
    AGREEMENT,
    INVOICE,
    INVOICE_MODIFY,
    INVOICE_EXCEPTION,
    MESSAGE,
    REMINDER,
    DISPATCH,
    MESSAGE_EXCEPTION,
    WITHHOLDING_BATCH,
    PROCESS,
    SIGNATURE,
    WORK_ORDER,
    STOCK,
    INSTALL,
    CONTRACT,
)
