-- What billing.dues.amount_due reads to compute a customer's amount due, in one round trip with its
-- plans kept for the session: the customer (its dept path, the 低保 flag, whether a withholding
-- agreement is active), the penalty parameters of its scope (every ACTIVE or EXPIRED version of the
-- codes, GLOBAL or a dept on its path) and its bills - every UNPAID / PARTIAL one, or the bills
-- p_charge_ids of the customer whatever their status - with the principal each payment settled and the
-- day it was settled as of (a reversal's negative lines too: the principal is unpaid again after its day), the penalty paid and the penalty waived. Money leaves as text (exact).
-- Returns NULL for a customer that does not exist. The rules are applied in Python (billing.penalty).
CREATE OR REPLACE FUNCTION rev_amount_due_rows(p_cust_id bigint, p_charge_ids bigint[] DEFAULT NULL)
    RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_cust   jsonb;
  v_path   bigint[];
  v_params jsonb;
  v_bills  jsonb;
BEGIN  -- PL/pgSQL, not SQL: its statements' plans are kept for the session
  SELECT jsonb_build_object('lowIncome', c.low_income, 'treePath', d.tree_path,
           'withholding', EXISTS (SELECT 1 FROM biz_cust_withholding_rel w
                                   WHERE w.cust_id = c.id AND w.status = 'SIGNED')),
         CAST(string_to_array(trim(both '/' from d.tree_path), '/') AS bigint[])
    INTO v_cust, v_path
    FROM biz_cust c LEFT JOIN system_dept d ON d.id = c.dept_id WHERE c.id = p_cust_id;
  IF v_cust IS NULL THEN
    RETURN NULL;
  END IF;
  v_params := (SELECT COALESCE(jsonb_agg(jsonb_build_object('code', p.config_code, 'value', p.config_value,
                 'version', p.config_version, 'effective', p.effective_date, 'status', p.effect_status,
                 'dept', p.dept_id)), '[]')
                 FROM biz_parameter_settings p
                WHERE p.config_code IN ('revenue.penalty.rule', 'revenue.penalty.coverage',
                                        'revenue.penalty.exempt-withholding', 'revenue.penalty.exempt-low-income')
                  AND p.effect_status IN ('ACTIVE', 'EXPIRED')
                  AND (p.dept_id IS NULL OR p.dept_id = ANY (v_path)));
  IF p_charge_ids IS NULL THEN
    v_bills := (SELECT COALESCE(jsonb_agg(b.row ORDER BY b.bill_period, b.id), '[]') FROM (
        SELECT c.id, c.bill_period, jsonb_build_object('id', c.id, 'code', c.code, 'period', c.bill_period,
                 'due', c.due_date, 'total', c.total_amount::text, 'paid', c.paid_amount::text, 'status', c.status,
                 'order', (SELECT o.biz_order_no FROM biz_order_charge o WHERE o.charge_id = c.id AND o.live)) AS row
          FROM biz_charge c WHERE c.cust_id = p_cust_id AND c.status IN ('UNPAID', 'PARTIAL')) b);
  ELSE
    v_bills := (SELECT COALESCE(jsonb_agg(b.row ORDER BY b.bill_period, b.id), '[]') FROM (
        SELECT c.id, c.bill_period, jsonb_build_object('id', c.id, 'code', c.code, 'period', c.bill_period,
                 'due', c.due_date, 'total', c.total_amount::text, 'paid', c.paid_amount::text, 'status', c.status,
                 'order', (SELECT o.biz_order_no FROM biz_order_charge o WHERE o.charge_id = c.id AND o.live)) AS row
          FROM biz_charge c WHERE c.cust_id = p_cust_id AND c.id = ANY (p_charge_ids)) b);
  END IF;
  -- what was paid and waived, only for the bills that have any (most overdue bills have none)
  v_bills := (SELECT COALESCE(jsonb_agg(b.row || COALESCE(pay.row, '{}') || COALESCE(w.row, '{}') ORDER BY b.n), '[]')
    FROM jsonb_array_elements(v_bills) WITH ORDINALITY AS b (row, n)
    LEFT JOIN LATERAL (
      SELECT jsonb_build_object(
               'asOfs', jsonb_agg(i.as_of ORDER BY i.as_of) FILTER (WHERE i.item_type = 'PRINCIPAL'),
               'amounts', jsonb_agg(i.amount::text ORDER BY i.as_of) FILTER (WHERE i.item_type = 'PRINCIPAL'),
               'penaltyPaid', (sum(i.amount) FILTER (WHERE i.item_type = 'PENALTY'))::text) AS row
        FROM (SELECT i.item_type, i.amount, k.penalty_as_of AS as_of
                FROM biz_collection_item i JOIN biz_collection k ON k.id = i.collection_id
               WHERE i.charge_id = (b.row ->> 'id')::bigint
              UNION ALL  -- a reversal (IF-REV-007) takes written-off principal and penalty back: negative lines
              SELECT l.line_type, l.amount, l.as_of FROM biz_adjustment_line l
               WHERE l.charge_id = (b.row ->> 'id')::bigint AND l.line_type IN ('PRINCIPAL', 'PENALTY')) i
      HAVING count(*) > 0) pay ON true
    LEFT JOIN LATERAL (
      SELECT jsonb_build_object('waived', sum(w.waived_amount)::text) AS row FROM biz_penalty_waiver w
       WHERE w.charge_id = (b.row ->> 'id')::bigint AND w.status = 'APPROVED' HAVING count(*) > 0) w ON true);
  RETURN jsonb_build_object('customer', v_cust, 'params', v_params, 'bills', v_bills);
END
$$;
