-- Statement triggers on biz_invoice (migration 0090): invoices as signed deltas of biz_stat_invoice per
-- application day (Beijing), office, customer type, price family, invoice type and status.
-- The transition tables carry no statistics, and a hash join against biz_cust read the whole customer
-- table for every statement (a bill-run chunk of 5,000 bills: ~40% of the bill run's CPU with these
-- triggers, benchmarks/README.md): index lookups per changed row instead.
CREATE OR REPLACE FUNCTION stat_invoice_changes() RETURNS trigger LANGUAGE plpgsql
    SET enable_hashjoin = off SET enable_mergejoin = off AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO biz_stat_invoice (apply_date, dept_id, cust_type, price_code, invoice_type, invoice_status,
                                  invoice_count, amount)
    SELECT (n.create_time AT TIME ZONE 'Asia/Shanghai')::date, c.dept_id, c.cust_type, COALESCE(c.price_code, ''),
           COALESCE(n.invoice_type, ''), n.invoice_status, count(*), sum(COALESCE(n.amount, 0))
      FROM n JOIN biz_cust c ON c.id = n.cust_id
     GROUP BY 1, 2, 3, 4, 5, 6;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO biz_stat_invoice (apply_date, dept_id, cust_type, price_code, invoice_type, invoice_status,
                                  invoice_count, amount)
    SELECT (o.create_time AT TIME ZONE 'Asia/Shanghai')::date, c.dept_id, c.cust_type, COALESCE(c.price_code, ''),
           COALESCE(o.invoice_type, ''), o.invoice_status, -count(*), -sum(COALESCE(o.amount, 0))
      FROM o JOIN biz_cust c ON c.id = o.cust_id
     GROUP BY 1, 2, 3, 4, 5, 6;
  ELSE
    INSERT INTO biz_stat_invoice (apply_date, dept_id, cust_type, price_code, invoice_type, invoice_status,
                                  invoice_count, amount)
    SELECT d.apply_date, c.dept_id, c.cust_type, COALESCE(c.price_code, ''), d.invoice_type, d.invoice_status,
           sum(d.k), sum(d.amount)
      FROM (SELECT n.cust_id, (n.create_time AT TIME ZONE 'Asia/Shanghai')::date AS apply_date,
                   COALESCE(n.invoice_type, '') AS invoice_type, n.invoice_status, 1 AS k,
                   COALESCE(n.amount, 0) AS amount FROM n
            UNION ALL
            SELECT o.cust_id, (o.create_time AT TIME ZONE 'Asia/Shanghai')::date, COALESCE(o.invoice_type, ''),
                   o.invoice_status, -1, -COALESCE(o.amount, 0) FROM o) d
      JOIN biz_cust c ON c.id = d.cust_id
     GROUP BY 1, 2, 3, 4, 5, 6
    HAVING sum(d.k) <> 0 OR sum(d.amount) <> 0;
  END IF;
  RETURN NULL;
END
$$;
