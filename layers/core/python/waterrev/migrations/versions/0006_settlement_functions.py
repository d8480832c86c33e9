"""Write-off and platform settlement as database functions: one round trip, locks held briefly.

`rev_write_off` is the one write-off every payment goes through (counter, bank, online, counter
QR); `pay_apply_status` settles a platform result (callback or compensation query) on its order;
`pay_notify_accept` keeps a verified IF-EXT-005 notification and settles it. Each runs inside the
caller's transaction, so nothing here commits; the caller commits once. Why in the database: see
docs/DECISIONS.md ("Settlement runs in the database").

Amounts in the audit rows are written as text with two places, as the Python audit writes
Decimals. These functions audit codes, ids, amounts, channels and trade numbers - no personal data -
and write them unmasked: a bank serial or platform trade number is kept whole so that an auditor can
trace it, where the Python audit's text masking would starve a digit run that happens to look like a
card, ID or mobile number.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

DDL = r"""
-- The audit row (biz_operat_log) of a settlement step; p_actor is
-- {"requestId", "userId", "userType", "userName"} of the request that caused it.
CREATE OR REPLACE FUNCTION rev_audit(p_actor jsonb, p_operation text, p_object_type text,
    p_object_id text, p_before jsonb, p_after jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN  -- PL/pgSQL, not SQL: its statement's plan is kept for the session
  INSERT INTO biz_operat_log (request_id, user_id, user_type, user_name, module, operation, object_type,
      object_id, before_data, after_data)
  VALUES (p_actor ->> 'requestId', CAST(p_actor ->> 'userId' AS bigint), p_actor ->> 'userType',
      p_actor ->> 'userName', 'REV-003', p_operation, p_object_type, p_object_id, p_before, p_after);
END
$$;

-- Apply p_amount to the bills p_charge_ids, oldest period first (then id); what is left goes to the
-- account's balance. The caller has locked the account and the bills (in id order), checked that
-- they may be paid and that a short amount is allowed. Returns the collection and its lines.
CREATE OR REPLACE FUNCTION rev_write_off(p_actor jsonb, p_cust_id bigint, p_account_id bigint,
    p_charge_ids bigint[], p_amount numeric, p_channel text, p_source text, p_trade_no text,
    p_idempotency_key text, p_code text, p_actual_amount numeric, p_outlet text, p_remark text,
    p_operator_id bigint) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_amount  numeric(14,2) := p_amount;
  v_left    numeric(14,2) := p_amount;
  v_owed    numeric(14,2) := 0;
  v_part    numeric(14,2);
  v_written numeric(14,2);
  v_balance numeric(14,2);
  v_status  text;
  v_id      bigint;
  v_ids     bigint[] := '{}';
  v_parts   numeric[] := '{}';
  v_before  jsonb := '[]';
  v_lines   jsonb := '[]';
  r         record;
BEGIN
  IF p_amount <> round(p_amount, 2) THEN  -- callers pass validated money; never round it silently
    RAISE EXCEPTION 'write-off amount % has more than two decimal places', p_amount;
  END IF;
  FOR r IN SELECT id, bill_period, total_amount, paid_amount, status FROM biz_charge
           WHERE id = ANY (p_charge_ids) ORDER BY bill_period, id LOOP
    v_owed := v_owed + (r.total_amount - r.paid_amount);
    v_part := LEAST(r.total_amount - r.paid_amount, v_left);
    IF v_part > 0 THEN
      v_ids := v_ids || r.id;
      v_parts := v_parts || v_part;
      v_left := v_left - v_part;
      v_before := v_before || jsonb_build_object('chargeId', r.id, 'paidAmount', r.paid_amount::text,
                                                 'status', r.status);
      v_lines := v_lines || jsonb_build_object('chargeId', r.id, 'amount', v_part::text);
    END IF;
  END LOOP;
  v_written := v_amount - v_left;
  v_status := CASE WHEN v_written = v_owed THEN 'SUCCESS' ELSE 'PARTIAL' END;

  INSERT INTO biz_collection (code, cust_id, account_id, amount, channel, trade_no, status, outlet_code,
      operator_id, remark, pay_time, source, actual_amount, change_amount, written_off, to_balance,
      idempotency_key)
  VALUES (p_code, p_cust_id, p_account_id, v_amount, p_channel, p_trade_no, v_status, p_outlet,
      p_operator_id, p_remark, now(), p_source, p_actual_amount, COALESCE(p_actual_amount - v_amount, 0),
      v_written, v_left, p_idempotency_key)
  RETURNING id INTO v_id;

  UPDATE biz_charge c SET paid_amount = c.paid_amount + l.part,
      status = CASE WHEN c.paid_amount + l.part >= c.total_amount THEN 'PAID' ELSE 'PARTIAL' END,
      paid_time = CASE WHEN c.paid_amount + l.part >= c.total_amount THEN now() ELSE c.paid_time END
    FROM unnest(v_ids, v_parts) AS l (id, part) WHERE c.id = l.id;
  INSERT INTO biz_collection_item (collection_id, charge_id, amount)
    SELECT v_id, l.id, l.part FROM unnest(v_ids, v_parts) WITH ORDINALITY AS l (id, part, n) ORDER BY l.n;

  UPDATE biz_account SET arrears_amount = GREATEST(arrears_amount - v_written, 0), balance = balance + v_left
    WHERE id = p_account_id RETURNING balance INTO v_balance;
  IF v_left > 0 THEN
    INSERT INTO biz_account_flow (account_id, change_amount, balance_after, biz_type, ref_no)
      VALUES (p_account_id, v_left, v_balance, 'OVERPAY', p_code);
  END IF;

  PERFORM rev_audit(p_actor, 'WRITE_OFF', 'biz_collection', v_id::text,
      jsonb_build_object('charges', v_before),
      jsonb_build_object('code', p_code, 'channel', p_channel, 'amount', v_amount::text,
                         'writtenOff', v_written::text, 'toBalance', v_left::text, 'tradeNo', p_trade_no,
                         'lines', v_lines));
  RETURN jsonb_build_object('collectionId', v_id, 'code', p_code, 'status', v_status,
      'writtenOff', v_written::text, 'toBalance', v_left::text, 'remain', (v_owed - v_written)::text,
      'lines', v_lines);
END
$$;

-- Settle a platform result (SUCCESS | FAIL | CLOSED | anything else) on its order, locked. SUCCESS
-- is final: never undone by a late FAIL, and a FAIL followed by SUCCESS ends SUCCESS. A paid amount
-- that differs from the order is not written off but raised for review. Money for bills paid
-- elsewhere meanwhile goes to the balance and is raised as a refund candidate.
-- Returns {"writeBackStatus", "callbackOutcome"}.
CREATE OR REPLACE FUNCTION pay_apply_status(p_actor jsonb, p_trade_no text, p_biz_order_no text,
    p_status text, p_success_amount numeric, p_notify_time text, p_operator_id bigint)
    RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  t           bk_transaction%ROWTYPE;
  v_trade_no  text := NULLIF(p_trade_no, '');
  v_paid      numeric;  -- exactly what the platform reported: compared, never rounded
  v_account   bigint;
  v_balance   numeric(14,2);
  v_ids       bigint[];
  v_open      bigint[];
  v_elsewhere bigint[];
BEGIN
  -- the platform's trade number first; the business order number for an order that has none yet
  SELECT * INTO t FROM bk_transaction WHERE trade_no = v_trade_no FOR UPDATE;
  IF NOT FOUND AND p_biz_order_no IS NOT NULL THEN
    SELECT * INTO t FROM bk_transaction WHERE biz_order_no = p_biz_order_no FOR UPDATE;
  END IF;
  IF NOT FOUND THEN
    INSERT INTO bk_transaction_exception (trade_no, biz_order_no, exception_type, detail)
      VALUES (v_trade_no, p_biz_order_no, 'UNKNOWN_TRADE', jsonb_build_object('status', p_status));
    RETURN '{"writeBackStatus": "EXCEPTION", "callbackOutcome": "EXCEPTION"}';
  END IF;
  IF v_trade_no IS NOT NULL AND t.trade_no IS NULL THEN
    UPDATE bk_transaction SET trade_no = v_trade_no WHERE id = t.id;
    t.trade_no := v_trade_no;
  END IF;
  IF t.status = 'SUCCESS' THEN
    RETURN '{"writeBackStatus": "SUCCESS", "callbackOutcome": "IGNORED"}';
  END IF;

  IF p_status IN ('FAIL', 'CLOSED') THEN
    IF t.status IN ('INIT', 'PAYING') THEN
      UPDATE bk_transaction SET status = p_status, update_time = now() WHERE id = t.id;
      UPDATE biz_order_charge SET live = false WHERE biz_order_no = t.biz_order_no;
      PERFORM rev_audit(p_actor, 'ORDER_' || p_status, 'bk_transaction', t.id::text,
          jsonb_build_object('status', t.status), jsonb_build_object('status', p_status));
    END IF;
    RETURN jsonb_build_object('writeBackStatus', p_status, 'callbackOutcome', 'PROCESSED');
  END IF;
  IF p_status IS DISTINCT FROM 'SUCCESS' THEN
    RETURN jsonb_build_object('writeBackStatus', t.status, 'callbackOutcome', 'IGNORED');
  END IF;

  v_paid := COALESCE(p_success_amount, t.trade_amount);
  IF v_paid <> t.trade_amount THEN
    INSERT INTO bk_transaction_exception (trade_no, biz_order_no, exception_type, detail)
      VALUES (t.trade_no, t.biz_order_no, 'AMOUNT_MISMATCH',
              jsonb_build_object('tradeAmount', t.trade_amount::text, 'successAmount', v_paid::text,
                                 'notifyTime', p_notify_time));
    UPDATE bk_transaction SET last_error = 'AMOUNT_MISMATCH', update_time = now() WHERE id = t.id;
    RETURN '{"writeBackStatus": "EXCEPTION", "callbackOutcome": "EXCEPTION"}';
  END IF;
  v_paid := t.trade_amount;  -- equal, and in the order's own two places from here on

  -- the same lock order as every payment: the account, then the bills in id order
  SELECT id INTO v_account FROM biz_account WHERE cust_id = t.cust_id ORDER BY id LIMIT 1 FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'custId=% has no account', t.cust_id;
  END IF;
  SELECT array_agg(id ORDER BY id),
         array_agg(id ORDER BY id) FILTER (WHERE status IN ('UNPAID', 'PARTIAL')),
         array_agg(id ORDER BY id) FILTER (WHERE status NOT IN ('UNPAID', 'PARTIAL'))
    INTO v_ids, v_open, v_elsewhere
    FROM (SELECT c.id, c.status FROM biz_order_charge o JOIN biz_charge c ON c.id = o.charge_id
           WHERE o.biz_order_no = t.biz_order_no ORDER BY c.id FOR UPDATE OF c) b;

  IF v_open IS NOT NULL THEN
    PERFORM rev_write_off(p_actor, t.cust_id, v_account, v_open, v_paid, t.channel_code, t.scene, t.trade_no,
        'ORDER:' || t.biz_order_no, t.biz_order_no, NULL, NULL, NULL, p_operator_id);
  ELSE  -- the money did arrive: a collection with nothing written off, all of it to the balance
    UPDATE biz_account SET balance = balance + v_paid WHERE id = v_account RETURNING balance INTO v_balance;
    INSERT INTO biz_collection (code, cust_id, account_id, amount, channel, trade_no, status, operator_id,
        remark, pay_time, source, written_off, to_balance, idempotency_key)
      VALUES (t.biz_order_no, t.cust_id, v_account, v_paid, t.channel_code, t.trade_no, 'SUCCESS',
        p_operator_id, '账单已在别处支付，转入余额', now(), t.scene, 0, v_paid, 'ORDER:' || t.biz_order_no);
    INSERT INTO biz_account_flow (account_id, change_amount, balance_after, biz_type, ref_no)
      VALUES (v_account, v_paid, v_balance, 'PAID_ELSEWHERE', t.biz_order_no);
    PERFORM rev_audit(p_actor, 'PAID_ELSEWHERE', 'bk_transaction', t.id::text, NULL,
        jsonb_build_object('toBalance', v_paid::text, 'chargeIds', to_jsonb(v_ids)));
  END IF;
  IF v_elsewhere IS NOT NULL THEN
    INSERT INTO bk_transaction_exception (trade_no, biz_order_no, exception_type, detail)
      VALUES (t.trade_no, t.biz_order_no, 'PAID_ELSEWHERE',
              jsonb_build_object('chargeIds', to_jsonb(v_elsewhere), 'amount', v_paid::text,
                                 'action', 'OVERPAYMENT_TO_BALANCE_OR_REFUND'));
  END IF;
  WITH released AS (UPDATE biz_order_charge SET live = false WHERE biz_order_no = t.biz_order_no)
  UPDATE bk_transaction SET status = 'SUCCESS', success_amount = v_paid, paid_time = now(), notify_time = now(),
      update_time = now() WHERE id = t.id;
  PERFORM rev_audit(p_actor, 'ORDER_SUCCESS', 'bk_transaction', t.id::text,
      jsonb_build_object('status', t.status),
      jsonb_build_object('status', 'SUCCESS', 'successAmount', v_paid::text,
                         'paidElsewhere', COALESCE(to_jsonb(v_elsewhere), '[]')));
  RETURN '{"writeBackStatus": "SUCCESS", "callbackOutcome": "PROCESSED"}';
END
$$;

-- A verified IF-EXT-005 notification: kept in bk_transaction_callback, and settled unless it is a
-- copy of one already kept ((tradeNo, tradeStatus, notifyTime) is the key; a concurrent copy waits
-- for the first to commit, then is a DUPLICATE). Returns {"writeBackStatus", "callbackOutcome"}.
CREATE OR REPLACE FUNCTION pay_notify_accept(p_actor jsonb, p_trade_no text, p_status text,
    p_notify_time text, p_notify_id text, p_headers jsonb, p_raw text, p_success_amount numeric,
    p_biz_order_no text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_id  bigint;
  v_out jsonb;
BEGIN
  INSERT INTO bk_transaction_callback (trade_no, trade_status, notify_time, notify_id, verified, is_primary,
      outcome, headers, raw_body)
    VALUES (p_trade_no, p_status, p_notify_time, p_notify_id, true, true, 'PROCESSED', p_headers, p_raw)
    ON CONFLICT (trade_no, trade_status, notify_time) WHERE is_primary DO NOTHING
    RETURNING id INTO v_id;
  IF v_id IS NULL THEN
    INSERT INTO bk_transaction_callback (trade_no, trade_status, notify_time, notify_id, verified, outcome,
        headers, raw_body)
      VALUES (p_trade_no, p_status, p_notify_time, p_notify_id, true, 'DUPLICATE', p_headers, p_raw);
    RETURN '{"writeBackStatus": "DUPLICATE", "callbackOutcome": "DUPLICATE"}';
  END IF;
  v_out := pay_apply_status(p_actor, p_trade_no, p_biz_order_no, p_status, p_success_amount, p_notify_time,
                            NULL);
  IF v_out ->> 'callbackOutcome' <> 'PROCESSED' THEN
    UPDATE bk_transaction_callback SET outcome = v_out ->> 'callbackOutcome' WHERE id = v_id;
  END IF;
  RETURN v_out;
END
$$;
"""

DROP = r"""
DROP FUNCTION IF EXISTS pay_notify_accept(jsonb, text, text, text, text, jsonb, text, numeric, text);
DROP FUNCTION IF EXISTS pay_apply_status(jsonb, text, text, text, numeric, text, bigint);
DROP FUNCTION IF EXISTS rev_write_off(jsonb, bigint, bigint, bigint[], numeric, text, text, text, text, text,
    numeric, text, text, bigint);
DROP FUNCTION IF EXISTS rev_audit(jsonb, text, text, text, jsonb, jsonb);
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute(DROP)
