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
  v_out := pay_apply_status(p_actor => p_actor, p_trade_no => p_trade_no, p_biz_order_no => p_biz_order_no,
      p_status => p_status, p_success_amount => p_success_amount, p_notify_time => p_notify_time,
      p_operator_id => NULL);
  IF v_out ->> 'callbackOutcome' <> 'PROCESSED' THEN
    UPDATE bk_transaction_callback SET outcome = v_out ->> 'callbackOutcome' WHERE id = v_id;
  END IF;
  RETURN v_out;
END
$$;
