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

  PERFORM rev_audit(p_actor => p_actor, p_operation => 'WRITE_OFF', p_object_type => 'biz_collection',
      p_object_id => v_id::text,
      p_before => jsonb_build_object('charges', v_before),
      p_after => jsonb_build_object('code', p_code, 'channel', p_channel, 'amount', v_amount::text,
                         'writtenOff', v_written::text, 'toBalance', v_left::text, 'tradeNo', p_trade_no,
                         'lines', v_lines));
  RETURN jsonb_build_object('collectionId', v_id, 'code', p_code, 'status', v_status,
      'writtenOff', v_written::text, 'toBalance', v_left::text, 'remain', (v_owed - v_written)::text,
      'lines', v_lines);
END
$$;
