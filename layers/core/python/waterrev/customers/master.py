"""IF-REV-001 customer query and IF-REV-002 customer master data maintenance."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.exc import IntegrityError

from waterrev import audit, crypto
from waterrev.context import RequestContext
from waterrev.customers.changes import sealed_changes
from waterrev.customers.commands import (
    BankRelation,
    Contact,
    CustomerChanges,
    InvoiceInfo,
    MeterLink,
    NewCustomer,
    PriceSplit,
    StatusChange,
    as_wire,
)
from waterrev.db import UnitOfWork
from waterrev.errors import AppError, ErrorCode
from waterrev.masking import mask_bank_account, mask_id_no, mask_mobile
from waterrev.visibility import customer_not_found, customer_scope, dept_visible, require_customer_visible

QUERY_TYPES = ("base", "account", "meter", "invoice", "all")
MODULE = "REV-001"
_NEXT_CODE = "SELECT nextval('biz_cust_code_seq')"


_DETAIL = (
    "SELECT c.*, d.name AS dept_name FROM biz_cust c JOIN system_dept d ON d.id = c.dept_id WHERE c.id = :id"
)


# ------------------------------------------------------------------------------ query ----------
def get_customer(
    ctx: RequestContext, *, cust_id: int | None = None, code: str | None = None, query_type: str = "all"
) -> dict[str, Any]:
    """One customer by id or by code; one the caller may not see reads as absent (waterrev.visibility)."""
    if query_type not in QUERY_TYPES:
        raise AppError(ErrorCode.BAD_REQUEST, f"queryType 须为 {'/'.join(QUERY_TYPES)}")
    asked = f"custId={cust_id}" if cust_id is not None else f"code={code}"
    with UnitOfWork() as uow:
        if cust_id is None:
            cust_id = uow.scalar("SELECT id FROM biz_cust WHERE code = :code", {"code": code})
            if cust_id is None:
                raise customer_not_found(ctx, asked)
        require_customer_visible(uow, ctx, cust_id, asked=asked)
        cust = uow.one(_DETAIL, {"id": cust_id})
        assert cust is not None
        return _detail(uow, cust, query_type)


def _detail(uow: UnitOfWork, cust: dict[str, Any], query_type: str) -> dict[str, Any]:
    wants = (lambda part: True) if query_type == "all" else (lambda part: part == query_type)
    out: dict[str, Any] = {
        "id": cust["id"],
        "code": cust["code"],
        "name": cust["name"],
        "custType": cust["cust_type"],
        "mobile": mask_mobile(cust["mobile"]),
        "address": cust["address"],
        "status": cust["status"],
        "idType": cust["id_type"],
        "idNo": mask_id_no(cust["id_no"]),
        "deptId": cust["dept_id"],
        "deptName": cust["dept_name"],
        "population": cust["population"],
        "lowIncome": cust["low_income"],
        "version": cust["version"],
    }
    if wants("base") or wants("account"):
        out["contactList"] = [
            {
                "id": c["id"],
                "name": c["name"],
                "mobile": mask_mobile(c["mobile"]),
                "relation": c["relation"],
                "isPrimary": c["is_primary"],
            }
            for c in uow.all(
                "SELECT * FROM biz_cust_contact WHERE cust_id = :id ORDER BY id", {"id": cust["id"]}
            )
        ]
    if wants("account"):
        accounts = uow.all("SELECT * FROM biz_account WHERE cust_id = :id ORDER BY id", {"id": cust["id"]})
        out["accountList"] = [_account(a) for a in accounts]
        out["accountInfo"] = _account(accounts[0]) if accounts else None
        out["collectionRel"] = _bank_rel(uow, "biz_cust_collection_rel", cust["id"], "agreement_no")
        out["withholdingRel"] = _bank_rel(uow, "biz_cust_withholding_rel", cust["id"], "sign_no")
    if wants("meter"):
        meters = uow.all(
            "SELECT m.*, cm.bind_date FROM biz_cust_meter cm JOIN biz_meter m ON m.id = cm.meter_id"
            " WHERE cm.cust_id = :id AND cm.status = 'ACTIVE' ORDER BY m.id",
            {"id": cust["id"]},
        )
        splits = _split_versions(uow, [int(m["id"]) for m in meters])
        out["meterList"] = [
            {
                "meterId": m["id"],
                "meterNo": m["meter_no"],
                "caliber": m["caliber"],
                "model": m["model"],
                "meterType": m["meter_type"],
                "maxReading": m["max_reading"],
                "initialReading": m["initial_reading"],
                "installAddress": m["install_address"],
                "installDate": m["install_date"],
                "meterStatus": m["status"],
                "bindDate": m["bind_date"],
                "priceSplitList": splits.get(int(m["id"]), []),
            }
            for m in meters
        ]
    if wants("invoice"):
        inv = uow.one("SELECT * FROM biz_cust_invoice WHERE cust_id = :id", {"id": cust["id"]})
        out["invoiceInfo"] = (
            None
            if inv is None
            else {
                "invoiceType": inv["invoice_type"],
                "titleType": inv["title_type"],
                "invoiceTitle": inv["invoice_title"],
                "taxNo": inv["tax_no"],
                "email": inv["email"],
                "mobile": mask_mobile(inv["mobile"]),
                "bankName": inv["bank_name"],
                "bankAccount": mask_bank_account(inv["bank_account"]),
                "addressPhone": inv["address_phone"],
            }
        )
    return out


def _split_versions(uow: UnitOfWork, meter_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Each meter's mixed-use split versions (一表多价), newest first, with their parts in order."""
    out: dict[int, list[dict[str, Any]]] = {}
    for r in uow.all(
        "SELECT * FROM biz_meter_price_split WHERE meter_id = ANY(CAST(:m AS bigint[]))"
        " ORDER BY meter_id, effective_date DESC, part_no",
        {"m": meter_ids},
    ):
        versions = out.setdefault(int(r["meter_id"]), [])
        if not versions or versions[-1]["effectiveDate"] != r["effective_date"]:
            versions.append(
                {"effectiveDate": r["effective_date"], "expireDate": r["expire_date"], "parts": []}
            )
        versions[-1]["parts"].append(
            {
                "partNo": r["part_no"],
                "priceCode": r["price_code"],
                "splitMode": r["split_mode"],
                "ratio": r["ratio"],
                "quantity": r["quantity"],
            }
        )
    return out


def _write_split(
    uow: UnitOfWork, ctx: RequestContext, cust_id: int, meter_id: int, split: PriceSplit
) -> None:
    """A meter's mixed-use split from its effective date: the version in force ends the day before (as a
    price version does); no parts ends the split. The meter must be this customer's, the codes known,
    and the date later than the meter's latest version."""
    bound = uow.scalar(
        "SELECT 1 FROM biz_cust_meter WHERE cust_id = :c AND meter_id = :m AND status = 'ACTIVE'",
        {"c": cust_id, "m": meter_id},
    )
    if bound is None:
        raise AppError(ErrorCode.BAD_REQUEST, f"priceSplits: 水表 {meter_id} 未绑定该客户")
    codes = sorted({p.price_code for p in split.parts})
    known = {
        r["code"]
        for r in uow.all(
            "SELECT DISTINCT code FROM biz_price_template WHERE code = ANY(CAST(:c AS varchar[]))",
            {"c": codes},
        )
    }
    if missing := [c for c in codes if c not in known]:
        raise AppError(
            ErrorCode.BAD_REQUEST, f"priceSplit.parts.priceCode: 价格编码 {', '.join(missing)} 不存在"
        )
    effective = split.effective_date or dt.date.today()
    before = uow.all(
        "SELECT * FROM biz_meter_price_split WHERE meter_id = :m ORDER BY effective_date, part_no FOR UPDATE",
        {"m": meter_id},
    )
    previous = _split_versions(uow, [meter_id]).get(meter_id, [])
    latest = max((r["effective_date"] for r in before), default=None)
    if latest is not None and effective <= latest:
        raise AppError(
            ErrorCode.CONFLICT,
            f"priceSplits.effectiveDate: 须晚于水表 {meter_id} 当前分项的生效日期 {latest}",
            data={"meterId": meter_id, "effectiveDate": latest},
        )
    uow.execute(
        "UPDATE biz_meter_price_split SET expire_date = :x WHERE meter_id = :m"
        " AND (expire_date IS NULL OR expire_date >= :e)",
        {"x": effective - dt.timedelta(days=1), "m": meter_id, "e": effective},
    )
    for n, part in enumerate(split.parts, start=1):
        uow.execute(
            "INSERT INTO biz_meter_price_split (meter_id, part_no, price_code, split_mode, ratio, quantity,"
            " effective_date, operator_id) VALUES (:m, :n, :c, :mode, :r, :q, :e, :op)",
            {
                "m": meter_id,
                "n": n,
                "c": part.price_code,
                "mode": part.split_mode,
                "r": part.ratio,
                "q": part.quantity,
                "e": effective,
                "op": ctx.principal.user_id or None,
            },
        )
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation="METER_PRICE_SPLIT",
        object_type="biz_meter",
        object_id=meter_id,
        before=previous[0] if previous else None,
        after={"effectiveDate": effective, "parts": [p._asdict() for p in split.parts]},
    )


def _account(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "accountId": a["id"],
        "accountNo": a["account_no"],
        "balance": a["balance"],
        "arrearsAmount": a["arrears_amount"],
        "status": a["status"],
    }


def _bank_rel(uow: UnitOfWork, table: str, cust_id: int, no_col: str) -> dict[str, Any] | None:
    row = uow.one(f"SELECT * FROM {table} WHERE cust_id = :id AND status = 'SIGNED'", {"id": cust_id})
    if row is None:
        return None
    return {
        "bankCode": row["bank_code"],
        "bankAccount": mask_bank_account(row["bank_account"]),
        "accountName": row["account_name"],
        "agreementNo": row[no_col],
        "status": row["status"],
    }


def _suffix_matches(uow: UnitOfWork, suffix: str, clause: str, params: dict[str, Any]) -> list[int]:
    """The customers (in `clause`) whose mobile or a contact's ends with `suffix` (5-10 digits): the masked
    forms narrow it to those ending with its last four, whose sealed mobiles are then opened."""
    keys = crypto.keys(uow.conn)
    rows = uow.all(
        "SELECT c.id, c.mobile_cipher AS cipher FROM biz_cust c WHERE " + clause + " AND c.mobile LIKE :mob"
        " UNION ALL SELECT c.id, t.mobile_cipher FROM biz_cust c JOIN biz_cust_contact t ON t.cust_id = c.id"
        " WHERE " + clause + " AND t.mobile LIKE :mob",
        params,
    )
    return sorted(
        {
            int(r["id"])
            for r in rows
            if r["cipher"] is not None and (keys.open_pii(crypto.MOBILE, r["cipher"]) or "").endswith(suffix)
        }
    )


def page_customers(
    ctx: RequestContext,
    *,
    mobile: str | None,
    code: str | None,
    name: str | None,
    page_no: int,
    page_size: int,
) -> dict[str, Any]:
    """Search by exact code, by mobile (customer's or a contact's; a suffix of 4+ digits matches) or name."""
    in_scope, params = customer_scope(ctx)
    where = [in_scope]
    if code:
        where.append("c.code = :code")
        params["code"] = code
    suffix: str | None = None
    if mobile:
        # sealed (waterrev.crypto): a whole mobile by its blind index; a suffix by the last four digits the
        # masked form keeps, the candidates' sealed mobiles then opened to check the rest of the suffix
        digits = mobile.replace("%", "").replace("_", "")
        if len(digits) == 11:
            where.append(
                "(c.mobile_index = :mob OR EXISTS (SELECT 1 FROM biz_cust_contact t WHERE t.cust_id = c.id"
                " AND t.mobile_index = :mob))"
            )
        else:
            suffix = digits
            where.append(
                "(c.mobile LIKE :mob OR EXISTS (SELECT 1 FROM biz_cust_contact t WHERE t.cust_id = c.id"
                " AND t.mobile LIKE :mob))"
            )
            params["mob"] = "%" + digits[-4:]
    if name:
        where.append("c.name LIKE :name")
        params["name"] = "%" + name.replace("%", "").replace("_", "") + "%"
    with UnitOfWork() as uow:
        if mobile and suffix is None:
            params["mob"] = crypto.keys(uow.conn).pii_index(crypto.MOBILE, mobile)
        if suffix is not None and len(suffix) > 4:
            where.append("c.id = ANY(CAST(:suffix_ids AS bigint[]))")
            params["suffix_ids"] = _suffix_matches(uow, suffix, in_scope, params)
        clause = " AND ".join(where)
        total = uow.scalar(f"SELECT count(*) FROM biz_cust c WHERE {clause}", params)
        rows = uow.all(
            "SELECT c.*, a.id AS account_id, a.account_no, a.balance, a.arrears_amount, a.status AS account_status"
            " FROM biz_cust c LEFT JOIN LATERAL (SELECT * FROM biz_account WHERE cust_id = c.id"
            f" ORDER BY id LIMIT 1) a ON true WHERE {clause} ORDER BY c.id LIMIT :lim OFFSET :off",
            {**params, "lim": page_size, "off": (page_no - 1) * page_size},
        )
    items = [
        {
            "id": r["id"],
            "code": r["code"],
            "name": r["name"],
            "custType": r["cust_type"],
            "mobile": mask_mobile(r["mobile"]),
            "address": r["address"],
            "status": r["status"],
            "deptId": r["dept_id"],
            "accountInfo": None
            if r["account_id"] is None
            else {
                "accountId": r["account_id"],
                "accountNo": r["account_no"],
                "balance": r["balance"],
                "arrearsAmount": r["arrears_amount"],
                "status": r["account_status"],
            },
        }
        for r in rows
    ]
    return {"list": items, "total": total, "pageNo": page_no, "pageSize": page_size}


# ----------------------------------------------------------------------------- maintain --------
def _require_dept(uow: UnitOfWork, ctx: RequestContext, dept_id: int) -> None:
    if uow.scalar("SELECT 1 FROM system_dept WHERE id = :d AND status = 0", {"d": dept_id}) is None:
        raise AppError(ErrorCode.BAD_REQUEST, f"deptId: 营业所 {dept_id} 不存在或已停用")
    if not dept_visible(ctx, dept_id):
        raise AppError(ErrorCode.FORBIDDEN, f"deptId: 无营业所 {dept_id} 的数据权限")


def _lock_customer(
    uow: UnitOfWork, ctx: RequestContext, cust_id: int, *, allow_stopped: bool = False
) -> dict[str, Any]:
    require_customer_visible(uow, ctx, cust_id)
    cust = uow.one("SELECT * FROM biz_cust WHERE id = :id FOR UPDATE", {"id": cust_id})
    assert cust is not None  # customers are never deleted
    if cust["status"] == "STOPPED" and not allow_stopped:
        raise AppError(
            ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED,
            f"客户 {cust['code']} 已停用",
            data={"custId": cust_id, "status": cust["status"]},
        )
    return cust


def _link_meter(uow: UnitOfWork, cust_id: int, m: MeterLink) -> int:
    meter = uow.one("SELECT id FROM biz_meter WHERE meter_no = :no FOR UPDATE", {"no": m.meter_no})
    if meter is None:
        meter_id = uow.scalar(
            "INSERT INTO biz_meter (meter_no, caliber, model, meter_type, max_reading, initial_reading,"
            " install_address, install_date) VALUES (:no, :cal, :model, :type, :max, :init, :addr, :date)"
            " RETURNING id",
            {
                "no": m.meter_no,
                "cal": m.caliber,
                "model": m.model,
                "type": m.meter_type,
                "max": m.max_reading,
                "init": m.initial_reading,
                "addr": m.install_address,
                "date": m.install_date,
            },
        )
    else:
        meter_id = meter["id"]
        holder = uow.scalar(
            "SELECT cust_id FROM biz_cust_meter WHERE meter_id = :m AND status = 'ACTIVE'", {"m": meter_id}
        )
        if holder is not None:
            raise AppError(
                ErrorCode.CONFLICT,
                f"meterList: 水表 {m.meter_no} 已绑定其他客户",
                data={"meterNo": m.meter_no},
            )
    uow.execute(
        "INSERT INTO biz_cust_meter (cust_id, meter_id) VALUES (:c, :m)", {"c": cust_id, "m": meter_id}
    )
    return int(meter_id)


def _write_contacts(uow: UnitOfWork, cust_id: int, contacts: tuple[Contact, ...]) -> None:
    uow.execute("DELETE FROM biz_cust_contact WHERE cust_id = :c", {"c": cust_id})
    keys = crypto.keys(uow.conn) if contacts else None
    for c in contacts:
        assert keys is not None
        uow.execute(
            "INSERT INTO biz_cust_contact (cust_id, name, mobile, mobile_cipher, mobile_index, relation, is_primary)"
            " VALUES (:c, :n, :mobile, :mobile_cipher, :mobile_index, :r, :p)",
            {
                "c": cust_id,
                "n": c.name,
                **crypto.columns("mobile", keys.pii(crypto.MOBILE, c.mobile)),
                "r": c.relation,
                "p": c.is_primary,
            },
        )


def _write_invoice(uow: UnitOfWork, cust_id: int, info: InvoiceInfo) -> None:
    # the bank account as the agreements keep theirs: masked in clear, the number sealed (no index: nothing
    # looks a profile up by it); read whole only where an invoice must print it (crypto.Keys.open)
    number = crypto.normalize_account(info.bank_account) if info.bank_account else None
    params = {
        "c": cust_id,
        "it": info.invoice_type,
        "tt": info.title_type,
        "title": info.invoice_title,
        "tax": info.tax_no,
        "email": info.email,
        **crypto.columns("mobile", crypto.keys(uow.conn).pii(crypto.MOBILE, info.mobile)),
        "bank": info.bank_name,
        "acct": mask_bank_account(number),
        "acct_cipher": None if number is None else crypto.keys(uow.conn).seal(number),
        "ap": info.address_phone,
    }
    uow.execute(
        "INSERT INTO biz_cust_invoice (cust_id, invoice_type, title_type, invoice_title, tax_no, email,"
        " mobile, mobile_cipher, mobile_index, bank_name, bank_account, bank_account_cipher, address_phone)"
        " VALUES (:c, :it, :tt, :title, :tax, :email, :mobile, :mobile_cipher, :mobile_index, :bank, :acct,"
        " :acct_cipher, :ap)"
        " ON CONFLICT (cust_id) DO UPDATE SET invoice_type = :it, title_type = :tt, invoice_title = :title,"
        " tax_no = :tax, email = :email, mobile = :mobile, mobile_cipher = :mobile_cipher,"
        " mobile_index = :mobile_index,"
        " bank_name = :bank, bank_account = :acct, bank_account_cipher = :acct_cipher, address_phone = :ap",
        params,
    )


def _write_bank_rel(
    uow: UnitOfWork, table: str, no_col: str, cust_id: int, rel: BankRelation | None, terminate: bool
) -> None:
    if rel is None and not terminate:
        return
    uow.execute(
        f"UPDATE {table} SET status = 'TERMINATED' WHERE cust_id = :c AND status = 'SIGNED'", {"c": cust_id}
    )
    if rel is not None:
        # the number sealed, its blind index, and only the masked form in clear (waterrev.crypto)
        keys = crypto.keys(uow.conn)
        number = crypto.normalize_account(rel.bank_account)
        uow.execute(
            f"INSERT INTO {table} (cust_id, bank_code, bank_account, bank_account_cipher, bank_account_index,"
            f" account_name, {no_col}) VALUES (:c, :b, :a, :cipher, :index, :n, :no)",
            {
                "c": cust_id,
                "b": rel.bank_code,
                "a": mask_bank_account(number),
                "cipher": keys.seal(number),
                "index": keys.index(number),
                "n": rel.account_name,
                "no": rel.agreement_no,
            },
        )


def create_customer(ctx: RequestContext, cmd: NewCustomer) -> dict[str, Any]:
    try:
        with UnitOfWork() as uow:
            created = create_in(uow, ctx, cmd)
            uow.commit()
    except IntegrityError as exc:
        raise AppError(ErrorCode.CONFLICT, _integrity_detail(exc)) from exc
    return created


def create_in(
    uow: UnitOfWork, ctx: RequestContext, cmd: NewCustomer, *, module: str = "REV-001"
) -> dict[str, Any]:
    """A customer with its account, contacts and meters, written (and audited) in the caller's unit of
    work: IF-REV-002's create, and a completed connection application (报装) in its own transaction."""
    _require_dept(uow, ctx, cmd.dept_id)
    code = cmd.code or f"KH{uow.scalar(_NEXT_CODE):010d}"
    keys = crypto.keys(uow.conn)
    cust_id = uow.scalar(
        "INSERT INTO biz_cust (code, name, cust_type, id_type, id_no, id_no_cipher, id_no_index, mobile,"
        " mobile_cipher, mobile_index, address, dept_id, population, low_income, creator) VALUES (:code, :name,"
        " :type, :idt, :id_no, :id_no_cipher, :id_no_index, :mobile, :mobile_cipher, :mobile_index, :addr,"
        " :dept, :pop, :low, :creator) ON CONFLICT (code) DO NOTHING RETURNING id",
        {
            "code": code,
            "name": cmd.name,
            "type": cmd.cust_type,
            "idt": cmd.id_type,
            **crypto.columns("id_no", keys.pii(crypto.ID_NO, cmd.id_no)),
            **crypto.columns("mobile", keys.pii(crypto.MOBILE, cmd.mobile)),
            "addr": cmd.address,
            "dept": cmd.dept_id,
            "pop": cmd.population,
            "low": cmd.low_income,
            "creator": ctx.principal.user_id,
        },
    )
    if cust_id is None:
        existing = uow.scalar("SELECT id FROM biz_cust WHERE code = :c", {"c": code})
        raise AppError(ErrorCode.CONFLICT, f"code: 客户编号 {code} 已存在", data={"id": existing})
    account_no = cmd.account_no or f"ZH{code}"
    account_id = uow.scalar(
        "INSERT INTO biz_account (cust_id, account_no) VALUES (:c, :no) RETURNING id",
        {"c": cust_id, "no": account_no},
    )
    _write_contacts(uow, cust_id, cmd.contact_list)
    meter_ids = [_link_meter(uow, cust_id, m) for m in cmd.meter_list]
    for meter_id, m in zip(meter_ids, cmd.meter_list, strict=True):
        if m.price_split is not None:
            _write_split(uow, ctx, cust_id, meter_id, m.price_split)
    if cmd.invoice_info is not None:
        _write_invoice(uow, cust_id, cmd.invoice_info)
    _write_bank_rel(uow, "biz_cust_collection_rel", "agreement_no", cust_id, cmd.collection_rel, False)
    _write_bank_rel(uow, "biz_cust_withholding_rel", "sign_no", cust_id, cmd.withholding_rel, False)
    audit.record(
        uow,
        ctx,
        module=module,
        operation="CUSTOMER_CREATE",
        object_type="biz_cust",
        object_id=cust_id,
        after=as_wire(cmd),
    )
    return {
        "id": cust_id,
        "code": code,
        "accountId": account_id,
        "accountNo": account_no,
        "meterIds": meter_ids,
    }


def _integrity_detail(exc: IntegrityError) -> str:
    text = str(exc.orig)
    if "account_no" in text:
        return "accountNo: 账户编号已存在"
    if "meter" in text:
        return "meterList: 水表已被占用"
    return "数据与现有记录冲突"


def update_customer(ctx: RequestContext, cmd: CustomerChanges) -> dict[str, Any]:
    fields = {
        "name": cmd.name,
        "cust_type": cmd.cust_type,
        "mobile": cmd.mobile,
        "address": cmd.address,
        "population": cmd.population,
        "low_income": cmd.low_income,
        "id_type": cmd.id_type,
        "id_no": cmd.id_no,
    }
    changes = {k: v for k, v in fields.items() if v is not None}
    try:
        with UnitOfWork() as uow:
            stored = sealed_changes(uow, changes)
            before = _lock_customer(uow, ctx, cmd.id)
            if cmd.version is not None and cmd.version != before["version"]:
                raise AppError(
                    ErrorCode.CONFLICT,
                    f"version: 客户资料已被修改（当前版本 {before['version']}）",
                    data={"version": before["version"]},
                )
            sets = ", ".join(f"{k} = :{k}" for k in stored)
            uow.execute(
                f"UPDATE biz_cust SET {sets + ', ' if sets else ''}version = version + 1, update_time = now()"
                " WHERE id = :id",
                {**stored, "id": cmd.id},
            )
            if cmd.contact_list is not None:
                _write_contacts(uow, cmd.id, cmd.contact_list)
            for meter_id in cmd.remove_meter_ids:
                removed = uow.execute(
                    "UPDATE biz_cust_meter SET status = 'REMOVED' WHERE cust_id = :c AND meter_id = :m"
                    " AND status = 'ACTIVE'",
                    {"c": cmd.id, "m": meter_id},
                )
                if removed.rowcount == 0:
                    raise AppError(ErrorCode.BAD_REQUEST, f"removeMeterIds: 水表 {meter_id} 未绑定该客户")
            for m in cmd.add_meters:
                added = _link_meter(uow, cmd.id, m)
                if m.price_split is not None:
                    _write_split(uow, ctx, cmd.id, added, m.price_split)
            for change in cmd.price_splits:
                _write_split(uow, ctx, cmd.id, change.meter_id, change.split)
            if cmd.invoice_info is not None:
                _write_invoice(uow, cmd.id, cmd.invoice_info)
            _write_bank_rel(
                uow,
                "biz_cust_collection_rel",
                "agreement_no",
                cmd.id,
                cmd.collection_rel,
                cmd.terminate_collection,
            )
            _write_bank_rel(
                uow,
                "biz_cust_withholding_rel",
                "sign_no",
                cmd.id,
                cmd.withholding_rel,
                cmd.terminate_withholding,
            )
            audit.record(
                uow,
                ctx,
                module=MODULE,
                operation="CUSTOMER_UPDATE",
                object_type="biz_cust",
                object_id=cmd.id,
                before={k: before[k] for k in fields},
                after=as_wire(cmd, exclude_none=True),
            )
            detail = _detail(uow, uow.one(_DETAIL, {"id": cmd.id}) or {}, "all")
            uow.commit()
    except IntegrityError as exc:
        raise AppError(ErrorCode.CONFLICT, _integrity_detail(exc)) from exc
    return detail


def change_status(ctx: RequestContext, cmd: StatusChange) -> dict[str, Any]:
    with UnitOfWork() as uow:
        # A stopped customer can only be reactivated; anything else is blocked (seed: 1_002_001_001).
        cust = _lock_customer(uow, ctx, cmd.id, allow_stopped=cmd.status == "NORMAL")
        result: dict[str, Any] = {"id": cmd.id, "status": cust["status"]}
        if cmd.status is not None and cmd.status != cust["status"]:
            uow.execute(
                "UPDATE biz_cust SET status = :s, version = version + 1, update_time = now() WHERE id = :id",
                {"s": cmd.status, "id": cmd.id},
            )
            audit.record(
                uow,
                ctx,
                module=MODULE,
                operation="CUSTOMER_STATUS",
                object_type="biz_cust",
                object_id=cmd.id,
                before={"status": cust["status"]},
                after={"status": cmd.status},
                remark=cmd.reason,
            )
            result["status"] = cmd.status
        if cmd.account_id is not None:
            account = uow.one(
                "SELECT id, status FROM biz_account WHERE id = :a AND cust_id = :c FOR UPDATE",
                {"a": cmd.account_id, "c": cmd.id},
            )
            if account is None:
                raise AppError(ErrorCode.NOT_FOUND, f"accountId: 账户 {cmd.account_id} 不属于该客户")
            if account["status"] != cmd.account_status:
                uow.execute(
                    "UPDATE biz_account SET status = :s WHERE id = :a",
                    {"s": cmd.account_status, "a": cmd.account_id},
                )
                audit.record(
                    uow,
                    ctx,
                    module=MODULE,
                    operation="ACCOUNT_STATUS",
                    object_type="biz_account",
                    object_id=cmd.account_id,
                    before={"status": account["status"]},
                    after={"status": cmd.account_status},
                    remark=cmd.reason,
                )
            result.update(accountId=cmd.account_id, accountStatus=cmd.account_status)
        uow.commit()
    return result
