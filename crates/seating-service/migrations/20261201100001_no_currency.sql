-- An event cancelled before any inventory arrived has no currency: NULL, no longer the
-- placeholder 'XXX' (every currency read is now checked against the ISO 4217 table). Only a
-- cancelled event may lack one.
ALTER TABLE events ALTER COLUMN currency DROP NOT NULL;
UPDATE events SET currency = NULL WHERE currency = 'XXX';
ALTER TABLE events ADD CONSTRAINT events_currency_check CHECK (currency IS NOT NULL OR status = 'CANCELLED');
