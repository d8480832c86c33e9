-- AFTER INSERT trigger on biz_collection (migration 0032): every settled payment - counter, online and
-- counter-QR callbacks and their compensation, bank real-time - writes its collection through
-- rev_write_off or pay_apply_status, so this is the one place the payment-result message is queued, in
-- the same transaction (the outbox, biz_message; unique by messageBizNo + templateCode + receiver, so a
-- payment is announced once). WeChat to a bound WeChat user, else SMS to a usable mobile, else nothing
-- (no contact to reach). A collection still PENDING (money on its way) is announced when it settles.
-- The mobile stays sealed (migration 0120): the message gets the customer's masked mobile, its sealed value
-- and blind index as they are; only the delivery opens it, to call SYS-010.
CREATE OR REPLACE FUNCTION msg_payment_result() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_receiver text;
  v_channel  text;
  v_cipher   bytea;
  v_index    text;
BEGIN
  -- a set-based write-off (banking.write_off_set) queues its messages itself, in one statement, the same
  -- way; it says so for its own statement only (set_config(..., true): this transaction, switched back off)
  IF current_setting('waterrev.payment_result_set', true) = 'on' THEN
    RETURN NULL;
  END IF;
  IF NEW.status NOT IN ('SUCCESS', 'PARTIAL') THEN
    RETURN NULL;
  END IF;
  v_receiver := (SELECT b.channel_user_id FROM biz_cust_app_binds b
                  WHERE b.cust_id = NEW.cust_id AND b.channel_type = 'WECHAT' AND b.status = 'BOUND'
                  ORDER BY b.is_default DESC, b.bind_time DESC LIMIT 1);
  IF v_receiver IS NOT NULL THEN
    v_channel := 'WECHAT';
  ELSE
    SELECT u.mobile, u.mobile_cipher, u.mobile_index INTO v_receiver, v_cipher, v_index
      FROM biz_cust u WHERE u.id = NEW.cust_id;
    IF v_cipher IS NULL OR v_receiver !~ '^1[3-9][0-9][*]{4}[0-9]{4}$' THEN
      RETURN NULL;
    END IF;
    v_channel := 'SMS';
  END IF;
  INSERT INTO biz_message (message_biz_no, template_code, receiver, receiver_cipher, receiver_index, channel,
                           cust_id, source, payload)
  VALUES ('PAY:' || NEW.code, 'PAY_RESULT', v_receiver, v_cipher, v_index, v_channel, NEW.cust_id, 'PAYMENT_RESULT',
          jsonb_build_object('collectionCode', NEW.code, 'paymentChannel', NEW.channel,
                             'amount', CAST(NEW.amount AS text), 'writtenOff', CAST(NEW.written_off AS text),
                             'toBalance', CAST(NEW.to_balance AS text), 'writeOffStatus', NEW.status,
                             'payTime', to_char(COALESCE(NEW.pay_time, now()) AT TIME ZONE 'Asia/Shanghai',
                                                'YYYY-MM-DD HH24:MI:SS')))
  ON CONFLICT ON CONSTRAINT biz_message_key DO NOTHING;
  RETURN NULL;
END
$$;
