-- Statement trigger on biz_adjustment_line inserts (migration 0110): what a reversal (冲正) changes in the
-- collection statistics, as signed deltas of biz_stat_collection on the reversal's day (Beijing), in the
-- reversed collection's channel and status, for the customer's office, type and price family. The
-- reversal's PRINCIPAL / PENALTY lines take its write-offs back; for a non-PREPAY collection its BALANCE
-- line takes back what had gone to the balance and its REFUND line is the money no longer received
-- (`amount` down, `reversed` up); for a PREPAY collection the BALANCE line returns the deduction. A later
-- FAIL of the pay-back adds the opposite lines, which count the opposite way. The same rows as the view
-- stat_adjust_collection_v (docs/STATISTICS.md). Lines of other adjustment types count nowhere here: a
-- refund is counted from biz_refund (stat_refund_changes), a bad debt from its bill (stat_charge_changes).
-- Ledger lines are only ever inserted, so this is the INSERT trigger only.
-- Index lookups per changed row, not hash joins against whole tables (see stat_charge_changes).
CREATE OR REPLACE FUNCTION stat_adjust_line_changes() RETURNS trigger LANGUAGE plpgsql
    SET enable_hashjoin = off SET enable_mergejoin = off AS $$
BEGIN
  INSERT INTO biz_stat_collection (pay_date, dept_id, cust_type, price_code, channel, status, tx_count, amount,
                                   written_off, to_balance, reversed, refunded)
  SELECT d.pay_date, c.dept_id, c.cust_type, COALESCE(c.price_code, ''), d.channel, d.status, 0, sum(d.amount),
         sum(d.written_off), sum(d.to_balance), sum(d.reversed), 0
    FROM (SELECT n.cust_id, (n.create_time AT TIME ZONE 'Asia/Shanghai')::date AS pay_date, k.channel, k.status,
                 CASE WHEN n.line_type = 'REFUND' AND k.channel <> 'PREPAY' THEN -n.amount
                      WHEN n.line_type = 'BALANCE' AND k.channel = 'PREPAY' THEN -n.amount ELSE 0 END AS amount,
                 CASE WHEN n.line_type IN ('PRINCIPAL', 'PENALTY') THEN n.amount ELSE 0 END AS written_off,
                 CASE WHEN n.line_type = 'BALANCE' AND k.channel <> 'PREPAY' THEN n.amount ELSE 0 END AS to_balance,
                 CASE WHEN n.line_type = 'REFUND' AND k.channel <> 'PREPAY' THEN n.amount
                      WHEN n.line_type = 'BALANCE' AND k.channel = 'PREPAY' THEN n.amount ELSE 0 END AS reversed
            FROM n
            JOIN biz_adjustment a ON a.id = n.adjustment_id AND a.adjust_type = 'REVERSE'
            JOIN biz_collection k ON k.id = a.source_collection_id) d
    JOIN biz_cust c ON c.id = d.cust_id
   GROUP BY 1, 2, 3, 4, 5, 6
  HAVING sum(d.amount) <> 0 OR sum(d.written_off) <> 0 OR sum(d.to_balance) <> 0 OR sum(d.reversed) <> 0;
  RETURN NULL;
END
$$;
