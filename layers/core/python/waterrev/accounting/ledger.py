"""The ledger's invariants on the real data (docs/LEDGER.md), checked nightly by job_ledger_check.

Money (per customer, and so in total):
    collected = written_off + balance + refunded
- collected: every collection of money from outside (biz_collection.amount, channel other than PREPAY);
- written_off: what collections put on bills (biz_collection_item, principal and penalty, every channel)
  plus what reversals took back (biz_adjustment_line PRINCIPAL / PENALTY, negative) plus the credits
  settled into the balance (biz_charge.paid_amount of a negative PRICE_DIFF / ADJUST bill, negative);
- balance: the accounts' balance now;
- refunded: money paid back or being paid back that was in the ledger (biz_refund booked, not FAIL).

Bills (each): a bill's paid amount is what its write-off lines and reversal lines say it is (a credit bill:
its total). A bill with no line at all is history loaded as paid by a migration and is not checked.

A customer whose opening balance was loaded without a collection (a migration) shows as a difference
of exactly that amount: such balances need an opening collection (channel MIGRATION) to be checked.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from waterrev import audit
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.envelope import jsonable

# {mine:<column>}: every customer, or those named - each term reads only their rows (an index scan when named:
# the parameters are bound before planning, so the empty-list test folds away)
_MINE = "(cardinality(CAST(:custs AS bigint[])) = 0 OR {0} = ANY(CAST(:custs AS bigint[])))"

MONEY_SQL = f"""
WITH custs AS (
  SELECT id AS cust_id FROM biz_cust WHERE {_MINE.format("id")}
), collected AS (
  SELECT cust_id, sum(amount) FILTER (WHERE channel <> 'PREPAY') AS v FROM biz_collection
   WHERE {_MINE.format("cust_id")} GROUP BY cust_id
), written AS (
  SELECT k.cust_id, sum(i.amount) AS v FROM biz_collection_item i JOIN biz_collection k ON k.id = i.collection_id
   WHERE {_MINE.format("k.cust_id")} GROUP BY k.cust_id
), reversed AS (
  SELECT cust_id, sum(amount) AS v FROM biz_adjustment_line WHERE line_type IN ('PRINCIPAL', 'PENALTY')
   AND {_MINE.format("cust_id")} GROUP BY cust_id
), credits AS (
  SELECT cust_id, sum(paid_amount) AS v FROM biz_charge WHERE total_amount < 0 AND {_MINE.format("cust_id")}
   GROUP BY cust_id
), balances AS (
  SELECT cust_id, sum(balance) AS v FROM biz_account WHERE {_MINE.format("cust_id")} GROUP BY cust_id
), refunded AS (
  SELECT cust_id, sum(amount) AS v FROM biz_refund WHERE booked AND status <> 'FAIL' AND cust_id IS NOT NULL
   AND {_MINE.format("cust_id")} GROUP BY cust_id
), terms AS (
  SELECT c.cust_id, COALESCE(col.v, 0) AS collected,
         COALESCE(w.v, 0) + COALESCE(r.v, 0) + COALESCE(cr.v, 0) AS written_off,
         COALESCE(b.v, 0) AS balance, COALESCE(f.v, 0) AS refunded
    FROM custs c
    LEFT JOIN collected col ON col.cust_id = c.cust_id LEFT JOIN written w ON w.cust_id = c.cust_id
    LEFT JOIN reversed r ON r.cust_id = c.cust_id LEFT JOIN credits cr ON cr.cust_id = c.cust_id
    LEFT JOIN balances b ON b.cust_id = c.cust_id LEFT JOIN refunded f ON f.cust_id = c.cust_id
)
SELECT count(*) AS customers, COALESCE(sum(collected), 0) AS collected, COALESCE(sum(written_off), 0) AS written_off,
       COALESCE(sum(balance), 0) AS balance, COALESCE(sum(refunded), 0) AS refunded,
       COALESCE(jsonb_agg(jsonb_build_object('custId', cust_id, 'collected', collected::text,
         'writtenOff', written_off::text, 'balance', balance::text, 'refunded', refunded::text,
         'difference', (collected - written_off - balance - refunded)::text) ORDER BY cust_id)
         FILTER (WHERE collected <> written_off + balance + refunded), '[]') AS broken
  FROM terms
"""

_MINE_BILLS = (
    "(cardinality(CAST(:custs AS bigint[])) = 0"
    " OR charge_id IN (SELECT id FROM biz_charge WHERE cust_id = ANY(CAST(:custs AS bigint[]))))"
)

BILLS_SQL = f"""
WITH lines AS (
  SELECT charge_id, amount FROM biz_collection_item WHERE item_type = 'PRINCIPAL' AND {_MINE_BILLS}
  UNION ALL
  SELECT charge_id, amount FROM biz_adjustment_line WHERE line_type = 'PRINCIPAL' AND {_MINE_BILLS}
), paid AS (SELECT charge_id, sum(amount) AS v FROM lines GROUP BY charge_id)
SELECT COALESCE(jsonb_agg(jsonb_build_object('chargeId', c.id, 'custId', c.cust_id, 'paidAmount', c.paid_amount::text,
         'byLines', COALESCE(p.v, 0)::text) ORDER BY c.id), '[]') AS broken
  FROM biz_charge c LEFT JOIN paid p ON p.charge_id = c.id
 WHERE {_MINE.format("c.cust_id")}
   AND (p.charge_id IS NOT NULL OR c.total_amount < 0)  -- no line at all: history loaded as paid (a migration)
   AND c.paid_amount <> CASE WHEN c.total_amount < 0 THEN c.total_amount ELSE COALESCE(p.v, 0) END
"""


def measure(uow: UnitOfWork, cust_ids: list[int] | None = None) -> dict[str, Any]:
    """The invariants' terms and what breaks them (every customer, or those named)."""
    params = {"custs": list(cust_ids or [])}
    money = uow.one(f"SELECT m.*, ({BILLS_SQL}) AS bills FROM ({MONEY_SQL}) m", params)  # one round trip
    assert money is not None
    bills = money["bills"]
    totals = {k: Decimal(money[k]) for k in ("collected", "written_off", "balance", "refunded")}
    return {
        "customers": int(money["customers"]),
        "totals": {
            "collected": totals["collected"],
            "writtenOff": totals["written_off"],
            "balance": totals["balance"],
            "refunded": totals["refunded"],
            "difference": totals["collected"]
            - totals["written_off"]
            - totals["balance"]
            - totals["refunded"],
        },
        "customersBroken": list(money["broken"] or []),
        "billsBroken": list(bills or []),
    }


def check(ctx: RequestContext, cust_ids: list[int] | None = None, *, limit: int = 200) -> dict[str, Any]:
    """Measure, record the run (biz_ledger_check, with at most `limit` offending customers and bills) and
    return it with `violations`: offending customers + offending bills (+1 when the totals differ)."""
    with UnitOfWork() as uow:
        found = measure(uow, cust_ids)
        violations = len(found["customersBroken"]) + len(found["billsBroken"])
        if found["totals"]["difference"] != 0 and not found["customersBroken"]:
            violations += 1
        detail = {"customers": found["customersBroken"][:limit], "bills": found["billsBroken"][:limit]}
        check_id = uow.scalar(
            "INSERT INTO biz_ledger_check (customers, violations, totals, detail) VALUES (:n, :v, CAST(:t AS jsonb),"
            " CAST(:d AS jsonb)) RETURNING id",
            {
                "n": found["customers"],
                "v": violations,
                "t": json.dumps(jsonable(found["totals"])),
                "d": json.dumps(jsonable(detail), ensure_ascii=False),
            },
        )
        audit.record(
            uow,
            ctx,
            module="REV-004",
            operation="LEDGER_CHECK",
            object_type="biz_ledger_check",
            object_id=check_id,
            after={"customers": found["customers"], "violations": violations, "totals": found["totals"]},
        )
        uow.commit()
    return {"checkId": check_id, "violations": violations, **found}
