-- Folds the statistics summaries (migration 0090): every delta row of a group becomes one row, groups
-- that net to nothing disappear. Incremental: it reads and rewrites only the summary tables (their size
-- is the number of groups, not the book), never the business tables. Rows a concurrent transaction is
-- still appending are not visible to the DELETE and stay for the next fold, so sums never change.
-- Called by job_stat_fold (a schedule) and by anyone; one fold at a time (advisory lock).
CREATE OR REPLACE FUNCTION stat_fold() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_rows integer := 0;
  v_n    integer;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('waterrev.stat_fold'));
  WITH gone AS (DELETE FROM biz_stat_receivable RETURNING *)
  INSERT INTO biz_stat_receivable (bill_period, dept_id, cust_type, price_code, status, due_date, bill_count,
                                   receivable, paid, usage_amount)
  SELECT bill_period, dept_id, cust_type, price_code, status, due_date, sum(bill_count), sum(receivable),
         sum(paid), sum(usage_amount)
    FROM gone GROUP BY 1, 2, 3, 4, 5, 6
  HAVING sum(bill_count) <> 0 OR sum(receivable) <> 0 OR sum(paid) <> 0 OR sum(usage_amount) <> 0;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  v_rows := v_rows + v_n;

  WITH gone AS (DELETE FROM biz_stat_collection RETURNING *)
  INSERT INTO biz_stat_collection (pay_date, dept_id, cust_type, price_code, channel, status, tx_count, amount,
                                   written_off, to_balance, reversed, refunded)
  SELECT pay_date, dept_id, cust_type, price_code, channel, status, sum(tx_count), sum(amount), sum(written_off),
         sum(to_balance), sum(reversed), sum(refunded)
    FROM gone GROUP BY 1, 2, 3, 4, 5, 6
  HAVING sum(tx_count) <> 0 OR sum(amount) <> 0 OR sum(written_off) <> 0 OR sum(to_balance) <> 0
      OR sum(reversed) <> 0 OR sum(refunded) <> 0;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  v_rows := v_rows + v_n;

  WITH gone AS (DELETE FROM biz_stat_reading RETURNING *)
  INSERT INTO biz_stat_reading (bill_period, dept_id, cust_type, price_code, task_count, done_count,
                                reading_count, abnormal_count, estimated_count)
  SELECT bill_period, dept_id, cust_type, price_code, sum(task_count), sum(done_count), sum(reading_count),
         sum(abnormal_count), sum(estimated_count)
    FROM gone GROUP BY 1, 2, 3, 4
  HAVING sum(task_count) <> 0 OR sum(done_count) <> 0 OR sum(reading_count) <> 0 OR sum(abnormal_count) <> 0
      OR sum(estimated_count) <> 0;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  v_rows := v_rows + v_n;

  WITH gone AS (DELETE FROM biz_stat_invoice RETURNING *)
  INSERT INTO biz_stat_invoice (apply_date, dept_id, cust_type, price_code, invoice_type, invoice_status,
                                invoice_count, amount)
  SELECT apply_date, dept_id, cust_type, price_code, invoice_type, invoice_status, sum(invoice_count), sum(amount)
    FROM gone GROUP BY 1, 2, 3, 4, 5, 6
  HAVING sum(invoice_count) <> 0 OR sum(amount) <> 0;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  v_rows := v_rows + v_n;

  WITH gone AS (DELETE FROM biz_stat_customer RETURNING *)
  INSERT INTO biz_stat_customer (dept_id, cust_type, price_code, status, cust_count)
  SELECT dept_id, cust_type, price_code, status, sum(cust_count)
    FROM gone GROUP BY 1, 2, 3, 4
  HAVING sum(cust_count) <> 0;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  v_rows := v_rows + v_n;
  RETURN v_rows;
END
$$;
