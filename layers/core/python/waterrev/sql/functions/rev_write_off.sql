-- Apply p_amount to the bills p_charge_ids: each owes its principal and its late-payment penalty as of
-- p_as_of (p_penalties, in the order of p_charge_ids; none when NULL). With p_penalty_first every
-- chosen bill's penalty is settled (oldest period first, then id) before any principal, otherwise the
-- principals first; what is left goes to the account's balance. A bill whose principal and penalty are
-- both settled is PAID, else PARTIAL. Principal and penalty are separate lines (biz_collection_item
-- PRINCIPAL / PENALTY): a paid penalty is never mixed into the water fee. The caller has locked the
-- account and the bills (in id order), checked that they may be paid and that a short amount is
-- allowed. Returns the collection and its lines (payments.rules.allocate states the same rule).
CREATE OR REPLACE FUNCTION rev_write_off(p_actor jsonb, p_cust_id bigint, p_account_id bigint,
    p_charge_ids bigint[], p_amount numeric, p_channel text, p_source text, p_trade_no text,
    p_idempotency_key text, p_code text, p_actual_amount numeric, p_outlet text, p_remark text,
    p_operator_id bigint, p_penalties numeric[] DEFAULT NULL, p_penalty_first boolean DEFAULT false,
    p_as_of date DEFAULT NULL) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_amount   numeric(14,2) := p_amount;
  v_left     numeric(14,2) := p_amount;
  v_as_of    date := COALESCE(p_as_of, (now() AT TIME ZONE 'Asia/Shanghai')::date);
  v_owed     numeric(14,2) := 0;
  v_written  numeric(14,2);
  v_fee      numeric(14,2) := 0;  -- principal written off: what lowers the arrears
  v_pen_sum  numeric(14,2) := 0;  -- penalty written off
  v_balance  numeric(14,2);
  v_status   text;
  v_id       bigint;
  -- the chosen bills, oldest period first: what each owes, and what this payment puts on it
  b_ids      bigint[] := '{}';
  b_owed     numeric[] := '{}';
  b_pen      numeric[] := '{}';
  b_paid     numeric[] := '{}';
  b_status   text[] := '{}';
  r          record;
  p_part     numeric[];
  p_pen      numeric[];
  v_pass     int;
  v_take     numeric(14,2);
  i          int;
  v_ids      bigint[] := '{}';
  v_parts    numeric[] := '{}';
  v_pens     numeric[] := '{}';
  v_dues     numeric[] := '{}';
  v_before   jsonb := '[]';
  v_lines    jsonb := '[]';
BEGIN
  IF p_amount <> round(p_amount, 2) THEN  -- callers pass validated money; never round it silently
    RAISE EXCEPTION 'write-off amount % has more than two decimal places', p_amount;
  END IF;
  FOR r IN SELECT c.id, c.total_amount - c.paid_amount AS owed, COALESCE(x.pen, 0) AS pen, c.paid_amount,
                  c.status
             FROM biz_charge c
             LEFT JOIN unnest(p_charge_ids, COALESCE(p_penalties, '{}')) AS x (id, pen) ON x.id = c.id
            WHERE c.id = ANY (p_charge_ids) ORDER BY c.bill_period, c.id LOOP
    b_ids := b_ids || r.id;
    b_owed := b_owed || r.owed;
    b_pen := b_pen || r.pen;
    b_paid := b_paid || r.paid_amount;
    b_status := b_status || r.status::text;
  END LOOP;
  p_part := array_fill(0::numeric, ARRAY[cardinality(b_ids)]);
  p_pen := p_part;
  -- two passes: the penalties then the principals (PENALTY_FIRST), or the other way round
  FOR v_pass IN 1..2 LOOP
    FOR i IN 1..cardinality(b_ids) LOOP
      EXIT WHEN v_left <= 0;
      IF (v_pass = 1) = p_penalty_first THEN
        v_take := LEAST(b_pen[i], v_left);
        p_pen[i] := v_take;
      ELSE
        v_take := LEAST(b_owed[i], v_left);
        p_part[i] := v_take;
      END IF;
      v_left := v_left - GREATEST(v_take, 0);
    END LOOP;
  END LOOP;
  FOR i IN 1..cardinality(b_ids) LOOP  -- nothing is written before this loop: a refusal here writes nothing
    IF b_pen[i] < 0 OR b_pen[i] <> round(b_pen[i], 2) THEN
      RAISE EXCEPTION 'penalty % of bill % is not an amount in whole fen', b_pen[i], b_ids[i];
    END IF;
    v_owed := v_owed + b_owed[i] + b_pen[i];
    IF p_part[i] > 0 OR p_pen[i] > 0 THEN
      v_fee := v_fee + p_part[i];
      v_pen_sum := v_pen_sum + p_pen[i];
      v_ids := v_ids || b_ids[i];
      v_parts := v_parts || p_part[i];
      v_pens := v_pens || p_pen[i];
      v_dues := v_dues || b_pen[i];
      v_before := v_before || jsonb_build_object('chargeId', b_ids[i], 'paidAmount', b_paid[i]::text,
                                                 'status', b_status[i]);
      v_lines := v_lines || jsonb_build_object('chargeId', b_ids[i], 'amount', p_part[i]::numeric(14,2)::text,
                                               'penalty', p_pen[i]::numeric(14,2)::text);
    END IF;
  END LOOP;
  v_written := v_amount - v_left;
  v_status := CASE WHEN v_written = v_owed THEN 'SUCCESS' ELSE 'PARTIAL' END;

  INSERT INTO biz_collection (code, cust_id, account_id, amount, channel, trade_no, status, outlet_code,
      operator_id, remark, pay_time, source, actual_amount, change_amount, written_off, to_balance,
      idempotency_key, penalty_as_of)
  VALUES (p_code, p_cust_id, p_account_id, v_amount, p_channel, p_trade_no, v_status, p_outlet,
      p_operator_id, p_remark, now(), p_source, p_actual_amount, COALESCE(p_actual_amount - v_amount, 0),
      v_written, v_left, p_idempotency_key, v_as_of)
  RETURNING id INTO v_id;

  -- PAID once the principal and the penalty owed as of the payment are both settled
  UPDATE biz_charge c SET paid_amount = c.paid_amount + l.part,
      status = CASE WHEN c.paid_amount + l.part >= c.total_amount AND l.pen >= l.due THEN 'PAID' ELSE 'PARTIAL' END,
      paid_time = CASE WHEN c.paid_amount + l.part >= c.total_amount AND l.pen >= l.due THEN now()
                       ELSE c.paid_time END
    FROM unnest(v_ids, v_parts, v_pens, v_dues) AS l (id, part, pen, due) WHERE c.id = l.id;
  INSERT INTO biz_collection_item (collection_id, charge_id, amount, item_type)
    SELECT v_id, l.id, l.part, 'PRINCIPAL' FROM unnest(v_ids, v_parts) WITH ORDINALITY AS l (id, part, n)
     WHERE l.part > 0 ORDER BY l.n;
  IF v_pen_sum > 0 THEN
    INSERT INTO biz_collection_item (collection_id, charge_id, amount, item_type)
      SELECT v_id, l.id, l.pen, 'PENALTY' FROM unnest(v_ids, v_pens) WITH ORDINALITY AS l (id, pen, n)
       WHERE l.pen > 0 ORDER BY l.n;
  END IF;

  -- arrears are the water fee owed: only principal lowers them
  UPDATE biz_account SET arrears_amount = GREATEST(arrears_amount - v_fee, 0), balance = balance + v_left
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
                         'penaltyAsOf', v_as_of, 'penaltyFirst', p_penalty_first, 'lines', v_lines));
  RETURN jsonb_build_object('collectionId', v_id, 'code', p_code, 'status', v_status,
      'writtenOff', v_written::text, 'toBalance', v_left::text, 'remain', (v_owed - v_written)::text,
      'lines', v_lines);
END
$$;
