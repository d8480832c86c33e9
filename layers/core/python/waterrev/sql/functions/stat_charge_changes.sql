-- Statement triggers on biz_charge (migration 0090): the bills a statement inserted, updated or deleted,
-- as signed deltas of biz_stat_receivable, one row per group (bill period, the customer's office, type
-- and price family, bill status, due date), in the same transaction. An update adds the new values and
-- takes the old ones away; groups that net to nothing add no row. IF-REV-010 sums the table.
-- The transition tables carry no statistics, and a hash join against biz_cust read the whole customer
-- table for every statement (a bill-run chunk of 5,000 bills: ~40% of the bill run's CPU with these
-- triggers, benchmarks/README.md): index lookups per changed row instead.
CREATE OR REPLACE FUNCTION stat_charge_changes() RETURNS trigger LANGUAGE plpgsql
    SET enable_hashjoin = off SET enable_mergejoin = off AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO biz_stat_receivable (bill_period, dept_id, cust_type, price_code, status, due_date, bill_count,
                                     receivable, paid, usage_amount)
    SELECT n.bill_period, c.dept_id, c.cust_type, COALESCE(c.price_code, ''), n.status, n.due_date, count(*),
           sum(n.total_amount), sum(n.paid_amount), sum(n.usage_amount)
      FROM n JOIN biz_cust c ON c.id = n.cust_id
     GROUP BY 1, 2, 3, 4, 5, 6;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO biz_stat_receivable (bill_period, dept_id, cust_type, price_code, status, due_date, bill_count,
                                     receivable, paid, usage_amount)
    SELECT o.bill_period, c.dept_id, c.cust_type, COALESCE(c.price_code, ''), o.status, o.due_date, -count(*),
           -sum(o.total_amount), -sum(o.paid_amount), -sum(o.usage_amount)
      FROM o JOIN biz_cust c ON c.id = o.cust_id
     GROUP BY 1, 2, 3, 4, 5, 6;
  ELSE
    INSERT INTO biz_stat_receivable (bill_period, dept_id, cust_type, price_code, status, due_date, bill_count,
                                     receivable, paid, usage_amount)
    SELECT d.bill_period, c.dept_id, c.cust_type, COALESCE(c.price_code, ''), d.status, d.due_date, sum(d.k),
           sum(d.total), sum(d.paid), sum(d.usage)
      FROM (SELECT n.cust_id, n.bill_period, n.status, n.due_date, 1 AS k, n.total_amount AS total,
                   n.paid_amount AS paid, n.usage_amount AS usage FROM n
            UNION ALL
            SELECT o.cust_id, o.bill_period, o.status, o.due_date, -1, -o.total_amount, -o.paid_amount,
                   -o.usage_amount FROM o) d
      JOIN biz_cust c ON c.id = d.cust_id
     GROUP BY 1, 2, 3, 4, 5, 6
    HAVING sum(d.k) <> 0 OR sum(d.total) <> 0 OR sum(d.paid) <> 0 OR sum(d.usage) <> 0;
  END IF;
  RETURN NULL;
END
$$;
