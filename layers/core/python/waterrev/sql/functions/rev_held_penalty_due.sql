-- The penalty an order (or a held trade) still settles on one bill: what it held for the bill's penalty
-- when it was made (biz_order_charge.penalty, as of bk_transaction.penalty_as_of), less the penalty paid
-- on the bill by collections (net of reversals) and waived by approvals since then (elsewhere, after the order ended). An
-- order books exactly what it asked for, never more than is still owed.
CREATE OR REPLACE FUNCTION rev_held_penalty_due(p_charge_id bigint, p_held numeric, p_since timestamptz)
    RETURNS numeric LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_paid   numeric;
  v_waived numeric;
BEGIN  -- PL/pgSQL, not SQL: its statements' plans are kept for the session
  IF p_held <= 0 THEN
    RETURN 0;
  END IF;
  v_paid := (SELECT COALESCE(sum(i.amount), 0) FROM biz_collection_item i
               JOIN biz_collection k ON k.id = i.collection_id
              WHERE i.charge_id = p_charge_id AND i.item_type = 'PENALTY' AND k.create_time >= p_since)
          -- a reversal (IF-REV-007) since then took penalty paid back: it is owed again
          + (SELECT COALESCE(sum(l.amount), 0) FROM biz_adjustment_line l
              WHERE l.charge_id = p_charge_id AND l.line_type = 'PENALTY' AND l.create_time >= p_since);
  v_waived := (SELECT COALESCE(sum(w.waived_amount), 0) FROM biz_penalty_waiver w
                WHERE w.charge_id = p_charge_id AND w.status = 'APPROVED' AND w.decided_time >= p_since);
  RETURN GREATEST(p_held - v_paid - v_waived, 0);
END
$$;
