-- 0006: billing_daily says which rows restate a period that was already over when last seen whole (a change of
-- its month-to-date total after the period ended): FOCUS calls those ChargeClass 'Correction'. `late` alone
-- cannot tell them apart from a first look at a period collected after its end.
--
-- The twin table the loader rebuilds into is dropped so that it is recreated with the new column; models.rs
-- finds billing_daily stale (its models changed) and the next load rebuilds it.

ALTER TABLE billing_daily ADD COLUMN IF NOT EXISTS restates_closed_period Bool DEFAULT false;

DROP TABLE IF EXISTS billing_daily_next;
