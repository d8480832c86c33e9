-- The audit row (biz_operat_log) of a settlement step; p_actor is
-- {"requestId", "userId", "userType", "userName"} of the request that caused it.
CREATE OR REPLACE FUNCTION rev_audit(p_actor jsonb, p_operation text, p_object_type text,
    p_object_id text, p_before jsonb, p_after jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN  -- PL/pgSQL, not SQL: its statement's plan is kept for the session
  INSERT INTO biz_operat_log (request_id, user_id, user_type, user_name, module, operation, object_type,
      object_id, before_data, after_data)
  VALUES (p_actor ->> 'requestId', CAST(p_actor ->> 'userId' AS bigint), p_actor ->> 'userType',
      p_actor ->> 'userName', 'REV-003', p_operation, p_object_type, p_object_id, p_before, p_after);
END
$$;
