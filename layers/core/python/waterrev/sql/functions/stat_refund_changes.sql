-- Statement triggers on biz_refund (migration 0110): money refunded, as signed deltas of
-- biz_stat_collection.refunded on the refund's day (Beijing) and channel (the refunded trade's), for the
-- customer's office, type and price family; status SUCCESS once paid out, PENDING while on its way (as a
-- collection's PENDING is money on its way in). Counted: refunds of money that was in the ledger (booked),
-- not FAIL - a FAIL takes the refund away again (its money went back on the balance) - and not the pay-back
-- of a reversal, whose money the reversal already took out of the money received
-- (stat_adjust_line_changes). The same rows as the view stat_adjust_collection_v (docs/STATISTICS.md).
-- (Each branch names only the transition tables its event has.)
-- Index lookups per changed row, not hash joins against whole tables (see stat_charge_changes).
CREATE OR REPLACE FUNCTION stat_refund_changes() RETURNS trigger LANGUAGE plpgsql
    SET enable_hashjoin = off SET enable_mergejoin = off AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO biz_stat_collection (pay_date, dept_id, cust_type, price_code, channel, status, tx_count, amount,
                                     written_off, to_balance, reversed, refunded)
    SELECT (n.create_time AT TIME ZONE 'Asia/Shanghai')::date, c.dept_id, c.cust_type, COALESCE(c.price_code, ''),
           COALESCE(n.channel_code, ''), CASE WHEN n.status = 'SUCCESS' THEN 'SUCCESS' ELSE 'PENDING' END,
           0, 0, 0, 0, 0, sum(n.amount)
      FROM n JOIN biz_cust c ON c.id = n.cust_id LEFT JOIN biz_adjustment a ON a.id = n.adjustment_id
     WHERE n.booked AND n.status <> 'FAIL' AND a.adjust_type IS DISTINCT FROM 'REVERSE'
     GROUP BY 1, 2, 3, 4, 5, 6;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO biz_stat_collection (pay_date, dept_id, cust_type, price_code, channel, status, tx_count, amount,
                                     written_off, to_balance, reversed, refunded)
    SELECT (o.create_time AT TIME ZONE 'Asia/Shanghai')::date, c.dept_id, c.cust_type, COALESCE(c.price_code, ''),
           COALESCE(o.channel_code, ''), CASE WHEN o.status = 'SUCCESS' THEN 'SUCCESS' ELSE 'PENDING' END,
           0, 0, 0, 0, 0, -sum(o.amount)
      FROM o JOIN biz_cust c ON c.id = o.cust_id LEFT JOIN biz_adjustment a ON a.id = o.adjustment_id
     WHERE o.booked AND o.status <> 'FAIL' AND a.adjust_type IS DISTINCT FROM 'REVERSE'
     GROUP BY 1, 2, 3, 4, 5, 6;
  ELSE
    INSERT INTO biz_stat_collection (pay_date, dept_id, cust_type, price_code, channel, status, tx_count, amount,
                                     written_off, to_balance, reversed, refunded)
    SELECT d.pay_date, c.dept_id, c.cust_type, COALESCE(c.price_code, ''), d.channel, d.status, 0, 0, 0, 0, 0,
           sum(d.refunded)
      FROM (SELECT n.cust_id, n.adjustment_id, (n.create_time AT TIME ZONE 'Asia/Shanghai')::date AS pay_date,
                   COALESCE(n.channel_code, '') AS channel,
                   CASE WHEN n.status = 'SUCCESS' THEN 'SUCCESS' ELSE 'PENDING' END AS status, n.amount AS refunded
              FROM n WHERE n.booked AND n.status <> 'FAIL'
            UNION ALL
            SELECT o.cust_id, o.adjustment_id, (o.create_time AT TIME ZONE 'Asia/Shanghai')::date,
                   COALESCE(o.channel_code, ''), CASE WHEN o.status = 'SUCCESS' THEN 'SUCCESS' ELSE 'PENDING' END,
                   -o.amount
              FROM o WHERE o.booked AND o.status <> 'FAIL') d
      JOIN biz_cust c ON c.id = d.cust_id LEFT JOIN biz_adjustment a ON a.id = d.adjustment_id
     WHERE a.adjust_type IS DISTINCT FROM 'REVERSE'
     GROUP BY 1, 2, 3, 4, 5, 6
    HAVING sum(d.refunded) <> 0;
  END IF;
  RETURN NULL;
END
$$;
