-- Statement triggers on biz_cust (migration 0090): customers as signed deltas of biz_stat_customer (office,
-- type, price family, status). A customer whose office, type or price family changed takes its history
-- with it: its bills, collections (with their reversals and refunds, stat_adjust_collection_v), reading
-- tasks, readings and invoices are taken away from the old group and added to the new one in every
-- summary, so a summary always answers as a scan of the live tables joined to the customer would.
-- The transition tables carry no statistics, and a hash join against biz_cust read the whole customer
-- table for every statement (a bill-run chunk of 5,000 bills: ~40% of the bill run's CPU with these
-- triggers, benchmarks/README.md): index lookups per changed row instead.
CREATE OR REPLACE FUNCTION stat_cust_changes() RETURNS trigger LANGUAGE plpgsql
    SET enable_hashjoin = off SET enable_mergejoin = off AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO biz_stat_customer (dept_id, cust_type, price_code, status, cust_count)
    SELECT n.dept_id, n.cust_type, COALESCE(n.price_code, ''), n.status, count(*) FROM n GROUP BY 1, 2, 3, 4;
    RETURN NULL;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO biz_stat_customer (dept_id, cust_type, price_code, status, cust_count)
    SELECT o.dept_id, o.cust_type, COALESCE(o.price_code, ''), o.status, -count(*) FROM o GROUP BY 1, 2, 3, 4;
    RETURN NULL;
  END IF;

  INSERT INTO biz_stat_customer (dept_id, cust_type, price_code, status, cust_count)
  SELECT d.dept_id, d.cust_type, d.price_code, d.status, sum(d.k)
    FROM (SELECT n.dept_id, n.cust_type, COALESCE(n.price_code, '') AS price_code, n.status, 1 AS k FROM n
          UNION ALL
          SELECT o.dept_id, o.cust_type, COALESCE(o.price_code, ''), o.status, -1 FROM o) d
   GROUP BY 1, 2, 3, 4
  HAVING sum(d.k) <> 0;

  IF NOT EXISTS (SELECT 1 FROM o JOIN n ON n.id = o.id
                  WHERE (o.dept_id, o.cust_type, COALESCE(o.price_code, ''))
                        IS DISTINCT FROM (n.dept_id, n.cust_type, COALESCE(n.price_code, ''))) THEN
    RETURN NULL;
  END IF;

  WITH m AS (
    SELECT x.cust_id, x.dept_id, x.cust_type, x.price_code, x.k
      FROM o JOIN n ON n.id = o.id
     CROSS JOIN LATERAL (VALUES (o.id, o.dept_id, o.cust_type, COALESCE(o.price_code, ''), -1),
                                (n.id, n.dept_id, n.cust_type, COALESCE(n.price_code, ''), 1))
           AS x (cust_id, dept_id, cust_type, price_code, k)
     WHERE (o.dept_id, o.cust_type, COALESCE(o.price_code, ''))
           IS DISTINCT FROM (n.dept_id, n.cust_type, COALESCE(n.price_code, '')))
  INSERT INTO biz_stat_receivable (bill_period, dept_id, cust_type, price_code, status, due_date, bill_count,
                                   receivable, paid, usage_amount)
  SELECT ch.bill_period, m.dept_id, m.cust_type, m.price_code, ch.status, ch.due_date, sum(m.k),
         sum(m.k * ch.total_amount), sum(m.k * ch.paid_amount), sum(m.k * ch.usage_amount)
    FROM biz_charge ch JOIN m ON m.cust_id = ch.cust_id
   GROUP BY 1, 2, 3, 4, 5, 6;
  WITH m AS (
    SELECT x.cust_id, x.dept_id, x.cust_type, x.price_code, x.k
      FROM o JOIN n ON n.id = o.id
     CROSS JOIN LATERAL (VALUES (o.id, o.dept_id, o.cust_type, COALESCE(o.price_code, ''), -1),
                                (n.id, n.dept_id, n.cust_type, COALESCE(n.price_code, ''), 1))
           AS x (cust_id, dept_id, cust_type, price_code, k)
     WHERE (o.dept_id, o.cust_type, COALESCE(o.price_code, ''))
           IS DISTINCT FROM (n.dept_id, n.cust_type, COALESCE(n.price_code, '')))
  INSERT INTO biz_stat_collection (pay_date, dept_id, cust_type, price_code, channel, status, tx_count, amount,
                                   written_off, to_balance)
  SELECT (COALESCE(k.pay_time, k.create_time) AT TIME ZONE 'Asia/Shanghai')::date, m.dept_id, m.cust_type,
         m.price_code, k.channel, k.status, sum(m.k), sum(m.k * k.amount), sum(m.k * k.written_off),
         sum(m.k * k.to_balance)
    FROM biz_collection k JOIN m ON m.cust_id = k.cust_id
   GROUP BY 1, 2, 3, 4, 5, 6;
  WITH m AS (
    SELECT x.cust_id, x.dept_id, x.cust_type, x.price_code, x.k
      FROM o JOIN n ON n.id = o.id
     CROSS JOIN LATERAL (VALUES (o.id, o.dept_id, o.cust_type, COALESCE(o.price_code, ''), -1),
                                (n.id, n.dept_id, n.cust_type, COALESCE(n.price_code, ''), 1))
           AS x (cust_id, dept_id, cust_type, price_code, k)
     WHERE (o.dept_id, o.cust_type, COALESCE(o.price_code, ''))
           IS DISTINCT FROM (n.dept_id, n.cust_type, COALESCE(n.price_code, '')))
  INSERT INTO biz_stat_collection (pay_date, dept_id, cust_type, price_code, channel, status, tx_count, amount,
                                   written_off, to_balance, reversed, refunded)
  SELECT v.pay_date, m.dept_id, m.cust_type, m.price_code, v.channel, v.status, 0, sum(m.k * v.amount),
         sum(m.k * v.written_off), sum(m.k * v.to_balance), sum(m.k * v.reversed), sum(m.k * v.refunded)
    FROM stat_adjust_collection_v v JOIN m ON m.cust_id = v.cust_id
   GROUP BY 1, 2, 3, 4, 5, 6;
  WITH m AS (
    SELECT x.cust_id, x.dept_id, x.cust_type, x.price_code, x.k
      FROM o JOIN n ON n.id = o.id
     CROSS JOIN LATERAL (VALUES (o.id, o.dept_id, o.cust_type, COALESCE(o.price_code, ''), -1),
                                (n.id, n.dept_id, n.cust_type, COALESCE(n.price_code, ''), 1))
           AS x (cust_id, dept_id, cust_type, price_code, k)
     WHERE (o.dept_id, o.cust_type, COALESCE(o.price_code, ''))
           IS DISTINCT FROM (n.dept_id, n.cust_type, COALESCE(n.price_code, '')))
  INSERT INTO biz_stat_reading (bill_period, dept_id, cust_type, price_code, task_count, done_count,
                                reading_count, abnormal_count, estimated_count)
  SELECT t.bill_period, m.dept_id, m.cust_type, m.price_code, sum(m.k),
         COALESCE(sum(m.k) FILTER (WHERE t.status <> 'OPEN'), 0), 0, 0, 0
    FROM biz_meter_read t JOIN m ON m.cust_id = t.cust_id
   GROUP BY 1, 2, 3, 4;
  WITH m AS (
    SELECT x.cust_id, x.dept_id, x.cust_type, x.price_code, x.k
      FROM o JOIN n ON n.id = o.id
     CROSS JOIN LATERAL (VALUES (o.id, o.dept_id, o.cust_type, COALESCE(o.price_code, ''), -1),
                                (n.id, n.dept_id, n.cust_type, COALESCE(n.price_code, ''), 1))
           AS x (cust_id, dept_id, cust_type, price_code, k)
     WHERE (o.dept_id, o.cust_type, COALESCE(o.price_code, ''))
           IS DISTINCT FROM (n.dept_id, n.cust_type, COALESCE(n.price_code, '')))
  INSERT INTO biz_stat_reading (bill_period, dept_id, cust_type, price_code, task_count, done_count,
                                reading_count, abnormal_count, estimated_count)
  SELECT r.bill_period, m.dept_id, m.cust_type, m.price_code, 0, 0, sum(m.k),
         COALESCE(sum(m.k) FILTER (WHERE r.abnormal_flag), 0), COALESCE(sum(m.k) FILTER (WHERE r.estimated), 0)
    FROM biz_reading_data r JOIN m ON m.cust_id = r.cust_id
   WHERE r.status NOT IN ('REJECTED', 'SUPERSEDED')
   GROUP BY 1, 2, 3, 4;
  WITH m AS (
    SELECT x.cust_id, x.dept_id, x.cust_type, x.price_code, x.k
      FROM o JOIN n ON n.id = o.id
     CROSS JOIN LATERAL (VALUES (o.id, o.dept_id, o.cust_type, COALESCE(o.price_code, ''), -1),
                                (n.id, n.dept_id, n.cust_type, COALESCE(n.price_code, ''), 1))
           AS x (cust_id, dept_id, cust_type, price_code, k)
     WHERE (o.dept_id, o.cust_type, COALESCE(o.price_code, ''))
           IS DISTINCT FROM (n.dept_id, n.cust_type, COALESCE(n.price_code, '')))
  INSERT INTO biz_stat_invoice (apply_date, dept_id, cust_type, price_code, invoice_type, invoice_status,
                                invoice_count, amount)
  SELECT (i.create_time AT TIME ZONE 'Asia/Shanghai')::date, m.dept_id, m.cust_type, m.price_code,
         COALESCE(i.invoice_type, ''), i.invoice_status, sum(m.k), sum(m.k * COALESCE(i.amount, 0))
    FROM biz_invoice i JOIN m ON m.cust_id = i.cust_id
   GROUP BY 1, 2, 3, 4, 5, 6;
  RETURN NULL;
END
$$;
