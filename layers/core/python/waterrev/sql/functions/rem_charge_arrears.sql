-- What a customer is reminded of owing on one bill (催缴金额): the one place reminders read a bill's
-- amount (IF-REV-013 arrearsAmount, the generation's min-arrears threshold). Today the principal still
-- unpaid; when the late-payment penalty and its amount-due function exist, this body becomes a call of
-- that function (p_charge_id, p_on are here for it). An inlinable SQL function: set-based callers pay
-- nothing for it.
CREATE OR REPLACE FUNCTION rem_charge_arrears(p_charge_id bigint, p_total numeric, p_paid numeric, p_on date)
    RETURNS numeric LANGUAGE sql STABLE AS $$
  SELECT p_total - p_paid
$$;
