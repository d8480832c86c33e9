-- Statement triggers on biz_meter_read (migration 0090): reading tasks as signed deltas of
-- biz_stat_reading (task_count; done_count: a task no longer OPEN) per bill period, office, customer type
-- and price family.
-- The transition tables carry no statistics, and a hash join against biz_cust read the whole customer
-- table for every statement (a bill-run chunk of 5,000 bills: ~40% of the bill run's CPU with these
-- triggers, benchmarks/README.md): index lookups per changed row instead.
CREATE OR REPLACE FUNCTION stat_task_changes() RETURNS trigger LANGUAGE plpgsql
    SET enable_hashjoin = off SET enable_mergejoin = off AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO biz_stat_reading (bill_period, dept_id, cust_type, price_code, task_count, done_count,
                                  reading_count, abnormal_count, estimated_count)
    SELECT n.bill_period, c.dept_id, c.cust_type, COALESCE(c.price_code, ''), count(*),
           count(*) FILTER (WHERE n.status <> 'OPEN'), 0, 0, 0
      FROM n JOIN biz_cust c ON c.id = n.cust_id
     GROUP BY 1, 2, 3, 4;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO biz_stat_reading (bill_period, dept_id, cust_type, price_code, task_count, done_count,
                                  reading_count, abnormal_count, estimated_count)
    SELECT o.bill_period, c.dept_id, c.cust_type, COALESCE(c.price_code, ''), -count(*),
           -count(*) FILTER (WHERE o.status <> 'OPEN'), 0, 0, 0
      FROM o JOIN biz_cust c ON c.id = o.cust_id
     GROUP BY 1, 2, 3, 4;
  ELSE
    INSERT INTO biz_stat_reading (bill_period, dept_id, cust_type, price_code, task_count, done_count,
                                  reading_count, abnormal_count, estimated_count)
    SELECT d.bill_period, c.dept_id, c.cust_type, COALESCE(c.price_code, ''), sum(d.k), sum(d.done), 0, 0, 0
      FROM (SELECT n.cust_id, n.bill_period, 1 AS k, CASE WHEN n.status <> 'OPEN' THEN 1 ELSE 0 END AS done
              FROM n
            UNION ALL
            SELECT o.cust_id, o.bill_period, -1, CASE WHEN o.status <> 'OPEN' THEN -1 ELSE 0 END FROM o) d
      JOIN biz_cust c ON c.id = d.cust_id
     GROUP BY 1, 2, 3, 4
    HAVING sum(d.k) <> 0 OR sum(d.done) <> 0;
  END IF;
  RETURN NULL;
END
$$;
