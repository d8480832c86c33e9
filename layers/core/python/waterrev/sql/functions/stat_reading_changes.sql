-- Statement triggers on biz_reading_data (migration 0090): readings as signed deltas of biz_stat_reading
-- (reading_count: not REJECTED or SUPERSEDED; of those, abnormal_count and estimated_count) per bill
-- period, office, customer type and price family.
-- The transition tables carry no statistics, and a hash join against biz_cust read the whole customer
-- table for every statement (a bill-run chunk of 5,000 bills: ~40% of the bill run's CPU with these
-- triggers, benchmarks/README.md): index lookups per changed row instead.
CREATE OR REPLACE FUNCTION stat_reading_changes() RETURNS trigger LANGUAGE plpgsql
    SET enable_hashjoin = off SET enable_mergejoin = off AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO biz_stat_reading (bill_period, dept_id, cust_type, price_code, task_count, done_count,
                                  reading_count, abnormal_count, estimated_count)
    SELECT n.bill_period, c.dept_id, c.cust_type, COALESCE(c.price_code, ''), 0, 0, count(*),
           count(*) FILTER (WHERE n.abnormal_flag), count(*) FILTER (WHERE n.estimated)
      FROM n JOIN biz_cust c ON c.id = n.cust_id
     WHERE n.status NOT IN ('REJECTED', 'SUPERSEDED')
     GROUP BY 1, 2, 3, 4;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO biz_stat_reading (bill_period, dept_id, cust_type, price_code, task_count, done_count,
                                  reading_count, abnormal_count, estimated_count)
    SELECT o.bill_period, c.dept_id, c.cust_type, COALESCE(c.price_code, ''), 0, 0, -count(*),
           -count(*) FILTER (WHERE o.abnormal_flag), -count(*) FILTER (WHERE o.estimated)
      FROM o JOIN biz_cust c ON c.id = o.cust_id
     WHERE o.status NOT IN ('REJECTED', 'SUPERSEDED')
     GROUP BY 1, 2, 3, 4;
  ELSE
    INSERT INTO biz_stat_reading (bill_period, dept_id, cust_type, price_code, task_count, done_count,
                                  reading_count, abnormal_count, estimated_count)
    SELECT d.bill_period, c.dept_id, c.cust_type, COALESCE(c.price_code, ''), 0, 0, sum(d.k), sum(d.ab),
           sum(d.est)
      FROM (SELECT n.cust_id, n.bill_period, 1 AS k, CASE WHEN n.abnormal_flag THEN 1 ELSE 0 END AS ab,
                   CASE WHEN n.estimated THEN 1 ELSE 0 END AS est
              FROM n WHERE n.status NOT IN ('REJECTED', 'SUPERSEDED')
            UNION ALL
            SELECT o.cust_id, o.bill_period, -1, CASE WHEN o.abnormal_flag THEN -1 ELSE 0 END,
                   CASE WHEN o.estimated THEN -1 ELSE 0 END
              FROM o WHERE o.status NOT IN ('REJECTED', 'SUPERSEDED')) d
      JOIN biz_cust c ON c.id = d.cust_id
     GROUP BY 1, 2, 3, 4
    HAVING sum(d.k) <> 0 OR sum(d.ab) <> 0 OR sum(d.est) <> 0;
  END IF;
  RETURN NULL;
END
$$;
