-- The one state rule of invoice results (IF-REV-009 / IF-EXT-007): a writeback (CALLBACK) and a query
-- (MANUAL, AUTO_COMPENSATE, CALLBACK_VERIFY) settle what SYS-008 reported through this function, one
-- result or a batch of them in one call. Each result is {requestNo, sysRequestNo, invoiceStatus,
-- invoiceCode, invoiceNo, fileUrl, fileKey, issueTime, resultMsg, operationType, redFormNo,
-- redFormStatus, redInvoiceCode, redInvoiceNo, redFileUrl, error}; operationType ISSUE (or absent)
-- names the application by requestNo = applicationNo (or sysRequestNo), INVALIDATE / RED_INK names a
-- void or red-ink request by requestNo = its modify_no. The invoice row is locked first, always, so a
-- writeback racing a query ends in one state.
--   * a result equal to the current state changes nothing but what was missing (the file);
--   * a move the lifecycle allows (domain/states.py INVOICE, INVOICE_MODIFY) is applied, the bills'
--     invoice_status moving in the same transaction, and audited;
--   * anything else (a FAIL after SUCCESS, a SUCCESS after FAIL, a result for a terminal state) never
--     changes the state: it is kept as an open biz_invoice_exception for a person (CONFLICT).
-- p_query: the result came from a query: the compensation context (lastQueryTime, tryCount,
-- latestResult, latestError) is refreshed; p_backoff: also plan the next query (1, 2, 4 ... 60 min).
-- Returns [{requestNo, outcome: APPLIED | UNCHANGED | CONFLICT | UNKNOWN, invoiceId, invoiceStatus}].
CREATE OR REPLACE FUNCTION inv_apply_results(p_actor jsonb, p_source text, p_results jsonb,
    p_query boolean DEFAULT false, p_backoff boolean DEFAULT false) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  r         jsonb;
  inv       biz_invoice%ROWTYPE;
  m         biz_process_invoice_modifys%ROWTYPE;
  v_op      text;
  v_rep     text;
  v_cur     text;
  v_outcome text;
  v_msg     text;
  v_error   text;
  v_mstatus text;
  v_out     jsonb := '[]'::jsonb;
BEGIN
  FOR r IN SELECT * FROM jsonb_array_elements(p_results) LOOP
    v_op := COALESCE(NULLIF(r ->> 'operationType', ''), 'ISSUE');
    v_rep := r ->> 'invoiceStatus';
    v_msg := left(r ->> 'resultMsg', 200);
    v_error := left(r ->> 'error', 250);
    v_outcome := 'UNCHANGED';
    m := NULL;
    inv := NULL;
    IF v_op = 'ISSUE' THEN
      IF r ? 'invoiceId' THEN  -- each lookup on its own index (an OR of them would scan more)
        SELECT * INTO inv FROM biz_invoice WHERE id = CAST(r ->> 'invoiceId' AS bigint) FOR UPDATE;
      ELSIF r ? 'requestNo' THEN
        SELECT * INTO inv FROM biz_invoice WHERE application_no = r ->> 'requestNo' FOR UPDATE;
      ELSE
        SELECT * INTO inv FROM biz_invoice WHERE sys_request_no = r ->> 'sysRequestNo' FOR UPDATE;
      END IF;
    ELSE
      SELECT i.* INTO inv FROM biz_invoice i JOIN biz_process_invoice_modifys x ON x.invoice_id = i.id
       WHERE x.modify_no = r ->> 'requestNo' FOR UPDATE OF i;
      IF FOUND THEN
        SELECT * INTO m FROM biz_process_invoice_modifys WHERE modify_no = r ->> 'requestNo' FOR UPDATE;
      END IF;
    END IF;
    IF inv.id IS NULL THEN
      v_out := v_out || jsonb_build_object('requestNo', r ->> 'requestNo', 'outcome', 'UNKNOWN',
          'invoiceId', NULL, 'invoiceStatus', NULL);
      CONTINUE;
    END IF;
    v_cur := inv.invoice_status;
    IF inv.sys_request_no IS NULL AND NULLIF(r ->> 'sysRequestNo', '') IS NOT NULL THEN
      UPDATE biz_invoice SET sys_request_no = r ->> 'sysRequestNo' WHERE id = inv.id;
    END IF;

    IF v_error IS NOT NULL THEN
      v_outcome := 'UNCHANGED';  -- the query itself failed: only the context below changes
    ELSIF v_op = 'ISSUE' AND v_rep = 'PENDING' THEN
      IF v_cur = 'SUBMITTED' THEN
        UPDATE biz_invoice SET invoice_status = 'PENDING', update_time = now() WHERE id = inv.id;
        v_outcome := 'APPLIED';
      END IF;
    ELSIF v_op = 'ISSUE' AND v_rep = v_cur THEN
      IF v_rep = 'SUCCESS' THEN  -- a repeat may bring what was missing (our copy of the file)
        UPDATE biz_invoice SET file_key = COALESCE(file_key, NULLIF(r ->> 'fileKey', '')),
            file_url = COALESCE(file_url, NULLIF(r ->> 'fileUrl', '')), update_time = now()
         WHERE id = inv.id AND ((file_key IS NULL AND NULLIF(r ->> 'fileKey', '') IS NOT NULL)
            OR (file_url IS NULL AND NULLIF(r ->> 'fileUrl', '') IS NOT NULL));
      END IF;
    ELSIF v_op = 'ISSUE' AND v_rep = 'SUCCESS' AND v_cur IN ('SUBMITTED', 'PENDING') THEN
      UPDATE biz_invoice SET invoice_status = 'SUCCESS', invoice_code = NULLIF(r ->> 'invoiceCode', ''),
          invoice_number = NULLIF(r ->> 'invoiceNo', ''), file_url = NULLIF(r ->> 'fileUrl', ''),
          file_key = NULLIF(r ->> 'fileKey', ''),
          issue_time = COALESCE(CAST(NULLIF(r ->> 'issueTime', '') AS timestamptz), now()),
          charge_bind_status = 'BOUND', fail_reason = NULL, update_time = now()
       WHERE id = inv.id;
      UPDATE biz_charge c SET invoice_status = 'SUCCESS' FROM biz_invoice_charge ic
       WHERE ic.invoice_id = inv.id AND c.id = ic.charge_id AND c.invoice_status = 'PENDING';
      PERFORM rev_audit(p_actor => p_actor, p_operation => 'INVOICE_' || v_rep, p_object_type => 'biz_invoice', p_object_id => CAST(inv.id AS text),
          p_before => jsonb_build_object('invoiceStatus', v_cur),
          p_after => jsonb_build_object('invoiceStatus', v_rep, 'invoiceNumber', r ->> 'invoiceNo', 'source', p_source));
      v_outcome := 'APPLIED';
    ELSIF v_op = 'ISSUE' AND ((v_rep = 'FAIL' AND v_cur IN ('SUBMITTED', 'PENDING'))
        OR (v_rep = 'REJECTED' AND v_cur = 'SUBMITTED')) THEN
      UPDATE biz_invoice SET invoice_status = v_rep, fail_reason = COALESCE(v_msg, v_rep),
          update_time = now() WHERE id = inv.id;
      UPDATE biz_charge c SET invoice_status = 'NONE' FROM biz_invoice_charge ic
       WHERE ic.invoice_id = inv.id AND c.id = ic.charge_id AND c.invoice_status = 'PENDING';
      PERFORM rev_audit(p_actor => p_actor, p_operation => 'INVOICE_' || v_rep, p_object_type => 'biz_invoice', p_object_id => CAST(inv.id AS text),
          p_before => jsonb_build_object('invoiceStatus', v_cur),
          p_after => jsonb_build_object('invoiceStatus', v_rep, 'failReason', v_msg, 'source', p_source));
      v_outcome := 'APPLIED';
    ELSIF v_op = 'ISSUE' AND v_rep IN ('INVALID', 'RED_INK') AND v_cur = 'SUCCESS' THEN
      -- the platform's record shows the invoice voided / red-inked: settle our live request for it
      SELECT * FROM biz_process_invoice_modifys
       WHERE invoice_id = inv.id AND status IN ('SUBMITTED', 'PENDING') AND target_status = v_rep INTO m FOR UPDATE;
      IF m.id IS NULL THEN
        v_outcome := 'CONFLICT';
      ELSE
        v_op := m.modify_type;
      END IF;
    ELSIF v_op = 'ISSUE' THEN
      IF (v_rep = 'SUCCESS' AND v_cur IN ('INVALID', 'RED_INK'))
         OR (v_rep IN ('FAIL', 'REJECTED') AND v_cur IN ('FAIL', 'REJECTED')) THEN
        v_outcome := 'UNCHANGED';  -- the platform's older view of an invoice settled since
      ELSE
        v_outcome := 'CONFLICT';  -- e.g. a FAIL after SUCCESS: SUCCESS is never overwritten
      END IF;
    END IF;

    -- a void or red-ink result (reported on its request, or found on the invoice above)
    IF v_error IS NULL AND v_op IN ('INVALIDATE', 'RED_INK') AND m.id IS NOT NULL THEN
      v_mstatus := CASE WHEN v_rep IN ('INVALID', 'RED_INK') THEN 'SUCCESS' WHEN v_rep = 'FAIL' THEN 'FAIL'
                        ELSE 'PENDING' END;
      UPDATE biz_process_invoice_modifys
         SET red_form_no = COALESCE(NULLIF(r ->> 'redFormNo', ''), red_form_no),
             red_form_status = COALESCE(NULLIF(r ->> 'redFormStatus', ''), red_form_status), update_time = now()
       WHERE id = m.id AND status IN ('SUBMITTED', 'PENDING');
      IF v_mstatus = 'PENDING' THEN
        IF m.status = 'SUBMITTED' THEN
          UPDATE biz_process_invoice_modifys SET status = 'PENDING' WHERE id = m.id;
          v_outcome := 'APPLIED';
        ELSE
          v_outcome := 'UNCHANGED';  -- still waiting (the form may have moved), or an older view
        END IF;
      ELSIF v_mstatus = m.status THEN
        v_outcome := 'UNCHANGED';
      ELSIF m.status NOT IN ('SUBMITTED', 'PENDING')
            OR (v_mstatus = 'SUCCESS' AND (v_rep <> m.target_status OR v_cur <> 'SUCCESS')) THEN
        v_outcome := 'CONFLICT';
      ELSIF v_mstatus = 'SUCCESS' THEN
        UPDATE biz_process_invoice_modifys SET status = 'SUCCESS',
            red_invoice_code = NULLIF(r ->> 'redInvoiceCode', ''), red_invoice_number = NULLIF(r ->> 'redInvoiceNo', ''),
            red_file_url = NULLIF(r ->> 'redFileUrl', ''), latest_result = v_msg, update_time = now()
         WHERE id = m.id;
        UPDATE biz_invoice SET invoice_status = v_rep, charge_bind_status = 'UNBOUND', update_time = now()
         WHERE id = inv.id;
        -- the bills may be invoiced again only now, with the invoice's final state
        UPDATE biz_charge c SET invoice_status = 'NONE' FROM biz_invoice_charge ic
         WHERE ic.invoice_id = inv.id AND c.id = ic.charge_id AND c.invoice_status = 'SUCCESS';
        PERFORM rev_audit(p_actor => p_actor, p_operation => 'INVOICE_' || v_rep, p_object_type => 'biz_invoice', p_object_id => CAST(inv.id AS text),
            p_before => jsonb_build_object('invoiceStatus', v_cur),
            p_after => jsonb_build_object('invoiceStatus', v_rep, 'modifyNo', m.modify_no, 'redInvoiceNo',
                r ->> 'redInvoiceNo', 'source', p_source));
        v_outcome := 'APPLIED';
      ELSE  -- FAIL: refused, or the red-letter form voided; the invoice stays SUCCESS
        UPDATE biz_process_invoice_modifys SET status = 'FAIL', fail_reason = COALESCE(v_msg, 'FAIL'),
            latest_result = v_msg, update_time = now() WHERE id = m.id;
        PERFORM rev_audit(p_actor => p_actor, p_operation => m.modify_type || '_FAIL', p_object_type => 'biz_invoice', p_object_id => CAST(inv.id AS text),
            p_before => jsonb_build_object('modifyStatus', m.status),
            p_after => jsonb_build_object('modifyStatus', 'FAIL', 'modifyNo', m.modify_no, 'redFormStatus',
                r ->> 'redFormStatus', 'reason', v_msg, 'source', p_source));
        v_outcome := 'APPLIED';
      END IF;
    END IF;

    IF v_outcome = 'CONFLICT' THEN
      -- 状态冲突: the state stays; a person sees it (one open exception per invoice and reported state)
      INSERT INTO biz_invoice_exception (invoice_id, exception_type, source, current_status,
          reported_status, detail)
      VALUES (inv.id, 'STATE_CONFLICT', p_source, v_cur, v_rep, r)
      ON CONFLICT (invoice_id, reported_status) WHERE status = 'OPEN' DO NOTHING;
      PERFORM rev_audit(p_actor => p_actor, p_operation => 'INVOICE_RESULT_CONFLICT', p_object_type => 'biz_invoice', p_object_id => CAST(inv.id AS text),
          p_before => jsonb_build_object('invoiceStatus', v_cur),
          p_after => jsonb_build_object('reportedStatus', v_rep, 'operationType', v_op, 'source', p_source));
    END IF;

    IF p_query THEN
      UPDATE biz_invoice
         SET last_try_time = now(), try_count = try_count + 1,
             latest_result = CASE WHEN v_error IS NULL THEN left(concat_ws(': ', v_rep, v_msg), 250)
                                  ELSE latest_result END,
             latest_error = v_error,
             next_plan_time = CASE
                 WHEN invoice_status NOT IN ('SUBMITTED', 'PENDING') THEN NULL
                 WHEN p_backoff THEN now() + make_interval(mins => least(60, power(2, least(try_count, 6))::int))
                 ELSE next_plan_time END
       WHERE id = inv.id;
      IF m.id IS NOT NULL THEN
        UPDATE biz_process_invoice_modifys
           SET last_try_time = now(), try_count = try_count + 1,
               latest_result = CASE WHEN v_error IS NULL THEN left(concat_ws(': ', v_rep, v_msg), 250)
                                    ELSE latest_result END,
               latest_error = v_error,
               next_plan_time = CASE WHEN p_backoff
                   THEN now() + make_interval(mins => least(60, power(2, least(try_count, 6))::int))
                   ELSE next_plan_time END
         WHERE id = m.id;
      END IF;
    END IF;
    SELECT invoice_status INTO v_cur FROM biz_invoice WHERE id = inv.id;
    v_out := v_out || jsonb_build_object('requestNo', r ->> 'requestNo', 'outcome', v_outcome,
        'invoiceId', inv.id, 'invoiceStatus', v_cur);
  END LOOP;
  RETURN v_out;
END
$$;
