-- Settle a platform result (SUCCESS | FAIL | CLOSED | anything else) on its order, locked. SUCCESS
-- is final: never undone by a late FAIL, and a FAIL followed by SUCCESS ends SUCCESS. A paid amount
-- that differs from the order is not written off but held for review. Money for bills paid
-- elsewhere meanwhile (in full or in part) goes to the balance and is raised as a refund candidate.
-- An order books what it was made for: each bill's principal and its late-payment penalty as of the day
-- the order was made (biz_order_charge.amount / penalty, bk_transaction.penalty_as_of), even when the
-- money arrives a day later. Returns {"writeBackStatus", "callbackOutcome"}.
CREATE OR REPLACE FUNCTION pay_apply_status(p_actor jsonb, p_trade_no text, p_biz_order_no text,
    p_status text, p_success_amount numeric, p_notify_time text, p_operator_id bigint)
    RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  t            bk_transaction%ROWTYPE;
  v_trade_no   text := NULLIF(p_trade_no, '');
  v_paid       numeric;  -- exactly what the platform reported: compared, never rounded
  v_account    bigint;
  v_balance    numeric(14,2);
  v_to_balance numeric(14,2);
  v_ids        bigint[];
  v_open       bigint[];
  v_open_pens  numeric[];
  v_elsewhere  bigint[];
  v_as_of      date;
  v_wo         jsonb;
  v_operator   bigint;
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
  IF t.hold_reason IS NOT NULL THEN  -- a person decides this order; no result changes it meanwhile
    RETURN '{"writeBackStatus": "EXCEPTION", "callbackOutcome": "IGNORED"}';
  END IF;

  IF p_status IN ('FAIL', 'CLOSED') THEN
    IF t.status IN ('INIT', 'PAYING') THEN
      UPDATE bk_transaction SET status = p_status, update_time = now() WHERE id = t.id;
      UPDATE biz_order_charge SET live = false WHERE biz_order_no = t.biz_order_no;
      PERFORM rev_audit(p_actor => p_actor, p_operation => 'ORDER_' || p_status,
          p_object_type => 'bk_transaction', p_object_id => t.id::text,
          p_before => jsonb_build_object('status', t.status), p_after => jsonb_build_object('status', p_status));
    END IF;
    RETURN jsonb_build_object('writeBackStatus', p_status, 'callbackOutcome', 'PROCESSED');
  END IF;
  IF p_status IS DISTINCT FROM 'SUCCESS' THEN
    RETURN jsonb_build_object('writeBackStatus', t.status, 'callbackOutcome', 'IGNORED');
  END IF;

  v_paid := COALESCE(p_success_amount, t.trade_amount);
  IF v_paid <> t.trade_amount THEN  -- money arrived, but not the order's: held for a person
    INSERT INTO bk_transaction_exception (trade_no, biz_order_no, exception_type, detail)
      VALUES (t.trade_no, t.biz_order_no, 'AMOUNT_MISMATCH',
              jsonb_build_object('tradeAmount', t.trade_amount::text, 'successAmount', v_paid::text,
                                 'notifyTime', p_notify_time));
    UPDATE bk_transaction SET last_error = 'AMOUNT_MISMATCH', hold_reason = 'AMOUNT_MISMATCH',
        update_time = now() WHERE id = t.id;
    PERFORM rev_audit(p_actor => p_actor, p_operation => 'ORDER_HOLD', p_object_type => 'bk_transaction',
        p_object_id => t.id::text,
        p_before => jsonb_build_object('status', t.status),
        p_after => jsonb_build_object('holdReason', 'AMOUNT_MISMATCH', 'tradeAmount', t.trade_amount::text,
                           'successAmount', v_paid::text));
    RETURN '{"writeBackStatus": "EXCEPTION", "callbackOutcome": "EXCEPTION"}';
  END IF;
  v_paid := t.trade_amount;  -- equal, and in the order's own two places from here on
  -- a counter QR order's money is the counter's: its operator and counter go on the collection
  v_operator := COALESCE(p_operator_id, CASE WHEN t.scene = 'COUNTER_QR' THEN t.operator_id END);

  -- the same lock order as every payment: the account, then the bills in id order
  SELECT id INTO v_account FROM biz_account WHERE cust_id = t.cust_id ORDER BY id LIMIT 1 FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'custId=% has no account', t.cust_id;
  END IF;
  v_as_of := COALESCE(t.penalty_as_of, (t.create_time AT TIME ZONE 'Asia/Shanghai')::date);
  -- open: something is still owed (principal, or the penalty the order holds); elsewhere: less is owed
  -- than the order holds for the bill
  SELECT array_agg(id ORDER BY id),
         array_agg(id ORDER BY id) FILTER (WHERE (owed > 0 OR pen_due > 0) AND status IN ('UNPAID', 'PARTIAL')),
         array_agg(pen_due ORDER BY id) FILTER (WHERE (owed > 0 OR pen_due > 0) AND status IN ('UNPAID', 'PARTIAL')),
         array_agg(id ORDER BY id) FILTER (WHERE owed < held OR pen_due < pen_held OR status NOT IN ('UNPAID', 'PARTIAL'))
    INTO v_ids, v_open, v_open_pens, v_elsewhere
    FROM (SELECT c.id, c.status, c.total_amount - c.paid_amount AS owed, o.amount AS held, o.penalty AS pen_held,
                 CASE WHEN o.penalty > 0
                      THEN rev_held_penalty_due(p_charge_id => c.id, p_held => o.penalty, p_since => t.create_time)
                      ELSE 0 END AS pen_due
            FROM biz_order_charge o JOIN biz_charge c ON c.id = o.charge_id
           WHERE o.biz_order_no = t.biz_order_no ORDER BY c.id FOR UPDATE OF c) b;

  IF v_open IS NOT NULL THEN
    -- the money pays at least all the order holds, so what it covers first cannot change the result
    v_wo := rev_write_off(p_actor => p_actor, p_cust_id => t.cust_id, p_account_id => v_account,
        p_charge_ids => v_open, p_amount => v_paid, p_channel => t.channel_code, p_source => t.scene,
        p_trade_no => t.trade_no, p_idempotency_key => 'ORDER:' || t.biz_order_no, p_code => t.biz_order_no,
        p_actual_amount => NULL, p_outlet => t.counter_code, p_remark => NULL, p_operator_id => v_operator,
        p_penalties => v_open_pens, p_penalty_first => true, p_as_of => v_as_of);
    v_to_balance := CAST(v_wo ->> 'toBalance' AS numeric);
  ELSE  -- the money did arrive: a collection with nothing written off, all of it to the balance
    v_to_balance := v_paid;
    UPDATE biz_account SET balance = balance + v_paid WHERE id = v_account RETURNING balance INTO v_balance;
    INSERT INTO biz_collection (code, cust_id, account_id, amount, channel, trade_no, status, operator_id,
        outlet_code, remark, pay_time, source, written_off, to_balance, idempotency_key, penalty_as_of)
      VALUES (t.biz_order_no, t.cust_id, v_account, v_paid, t.channel_code, t.trade_no, 'SUCCESS',
        v_operator, t.counter_code, '账单已在别处支付，转入余额', now(), t.scene, 0, v_paid, 'ORDER:' || t.biz_order_no,
        v_as_of);
    INSERT INTO biz_account_flow (account_id, change_amount, balance_after, biz_type, ref_no)
      VALUES (v_account, v_paid, v_balance, 'PAID_ELSEWHERE', t.biz_order_no);
    PERFORM rev_audit(p_actor => p_actor, p_operation => 'PAID_ELSEWHERE', p_object_type => 'bk_transaction',
        p_object_id => t.id::text, p_before => NULL,
        p_after => jsonb_build_object('toBalance', v_paid::text, 'chargeIds', to_jsonb(v_ids)));
  END IF;
  IF v_elsewhere IS NOT NULL THEN
    INSERT INTO bk_transaction_exception (trade_no, biz_order_no, exception_type, detail)
      VALUES (t.trade_no, t.biz_order_no, 'PAID_ELSEWHERE',
              jsonb_build_object('chargeIds', to_jsonb(v_elsewhere), 'tradeAmount', v_paid::text,
                                 'toBalance', v_to_balance::text, 'accountId', v_account,
                                 'action', 'OVERPAYMENT_TO_BALANCE_OR_REFUND'));
  END IF;
  WITH released AS (UPDATE biz_order_charge SET live = false WHERE biz_order_no = t.biz_order_no)
  UPDATE bk_transaction SET status = 'SUCCESS', success_amount = v_paid, paid_time = now(), notify_time = now(),
      update_time = now() WHERE id = t.id;
  PERFORM rev_audit(p_actor => p_actor, p_operation => 'ORDER_SUCCESS', p_object_type => 'bk_transaction',
      p_object_id => t.id::text,
      p_before => jsonb_build_object('status', t.status),
      p_after => jsonb_build_object('status', 'SUCCESS', 'successAmount', v_paid::text,
                         'paidElsewhere', COALESCE(to_jsonb(v_elsewhere), '[]')));
  RETURN '{"writeBackStatus": "SUCCESS", "callbackOutcome": "PROCESSED"}';
END
$$;
