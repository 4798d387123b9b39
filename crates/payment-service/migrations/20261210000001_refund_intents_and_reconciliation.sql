-- No money out of sight.
--
-- * A refund is written down PENDING, with its amount reserved on the payment, before the gateway
--   is called, and settled afterwards in a second short transaction: no lock and no connection is
--   held across the call, and a refund the gateway made but never answered is still on record.
-- * What PENDING refunds have reserved counts against the charge: refunded + reserved never
--   exceeds the amount (`payments_refunds_within_amount`), whatever the concurrency, and the
--   refunds always add up to the payment's amounts (`refunds_add_up`, checked at commit).
-- * The reconciler asks the gateway about every PENDING charge and refund whose last gateway call
--   is older than its window, claiming them with a lease (`checked_at`, `check_lease`) so that
--   several replicas never settle one twice.
-- * The simulated gateway keeps what it did in its own table, so that its memory, like a real
--   gateway's, outlives a restart of payment-service.

ALTER TABLE payments
    -- Held by PENDING refunds: no other refund may take it until they are settled.
    ADD COLUMN refund_reserved NUMERIC(12,2) NOT NULL DEFAULT 0,
    -- When the gateway was last called to charge (set before the call): the reconciler leaves a
    -- payment alone until this is older than its window, so it never races a live attempt.
    ADD COLUMN attempted_at    TIMESTAMPTZ,
    -- The reconciler's lease: when it last claimed the payment, and the claim's token; a live
    -- attempt clears the token, so a reconciler that claimed before it settles nothing.
    ADD COLUMN checked_at      TIMESTAMPTZ,
    ADD COLUMN check_lease     UUID;
UPDATE payments SET attempted_at = updated_at;
ALTER TABLE payments
    ALTER COLUMN attempted_at SET NOT NULL,
    ALTER COLUMN attempted_at SET DEFAULT now(),
    ADD CONSTRAINT payments_refunds_within_amount
        CHECK (refund_reserved >= 0 AND refunded_amount + refund_reserved <= amount),
    ADD CONSTRAINT payments_reserved_only_when_refundable
        CHECK (refund_reserved = 0 OR status IN ('SUCCESS', 'PARTIALLY_REFUNDED'));
-- The reconciler's claim and the age of the oldest PENDING payment read only these rows.
CREATE INDEX payments_pending ON payments (attempted_at) WHERE status = 'PENDING';

-- Refunds were all made (the old code wrote a refund only once the gateway had made it).
ALTER TABLE refunds
    ADD COLUMN status              TEXT NOT NULL DEFAULT 'SUCCESS'
        CONSTRAINT refunds_status_check CHECK (status IN ('PENDING', 'SUCCESS', 'FAILED')),
    -- Why a FAILED refund failed: the gateway's reason, or `not_at_gateway`.
    ADD COLUMN failure_reason      TEXT,
    -- The kit's fingerprint of the refund request: a retry with the key must be the same request
    -- (NULL for refunds written before it was kept).
    ADD COLUMN request_fingerprint BYTEA,
    ADD COLUMN attempted_at        TIMESTAMPTZ,
    ADD COLUMN checked_at          TIMESTAMPTZ,
    ADD COLUMN check_lease         UUID,
    ADD COLUMN updated_at          TIMESTAMPTZ;
UPDATE refunds SET attempted_at = created_at, updated_at = created_at;
ALTER TABLE refunds
    ALTER COLUMN status DROP DEFAULT,
    ALTER COLUMN attempted_at SET NOT NULL,
    ALTER COLUMN attempted_at SET DEFAULT now(),
    ALTER COLUMN updated_at SET NOT NULL,
    ALTER COLUMN updated_at SET DEFAULT now(),
    -- A pending or failed refund has no reference at the gateway (yet).
    ALTER COLUMN gateway_reference DROP NOT NULL,
    ADD CONSTRAINT refunds_made_has_reference
        CHECK (status <> 'SUCCESS' OR gateway_reference IS NOT NULL),
    ADD CONSTRAINT refunds_failure_reason_iff_failed
        CHECK ((status = 'FAILED') = (failure_reason IS NOT NULL));
CREATE INDEX refunds_pending ON refunds (attempted_at) WHERE status = 'PENDING';

-- The refunds of a payment always add up to its amounts: the made ones to `refunded_amount`, the
-- pending ones to `refund_reserved`. Checked at commit (both sides move in one transaction), for
-- the payment of every refund written and every payment whose amounts changed.
CREATE FUNCTION check_refunds_add_up() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    payment     UUID;
    refunded    NUMERIC;
    reserved    NUMERIC;
    made        NUMERIC;
    pending     NUMERIC;
BEGIN
    IF TG_TABLE_NAME = 'refunds' THEN
        payment := NEW.payment_id;
    ELSE
        payment := NEW.id;
    END IF;
    SELECT p.refunded_amount, p.refund_reserved INTO refunded, reserved
    FROM payments p WHERE p.id = payment;
    SELECT COALESCE(sum(r.amount) FILTER (WHERE r.status = 'SUCCESS'), 0),
           COALESCE(sum(r.amount) FILTER (WHERE r.status = 'PENDING'), 0)
    INTO made, pending
    FROM refunds r WHERE r.payment_id = payment;
    IF made <> refunded OR pending <> reserved THEN
        RAISE EXCEPTION 'refunds of payment % do not add up: made % (refunded_amount %), pending % (refund_reserved %)',
            payment, made, refunded, pending, reserved
            USING ERRCODE = 'check_violation', CONSTRAINT = 'refunds_add_up';
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER refunds_add_up AFTER INSERT OR UPDATE ON refunds
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_refunds_add_up();
CREATE CONSTRAINT TRIGGER payments_refunds_add_up
    AFTER UPDATE OF refunded_amount, refund_reserved ON payments
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_refunds_add_up();

-- The audit: a refund's calls name it, and the reconciler's questions are kept too.
ALTER TABLE gateway_attempts
    ADD COLUMN refund_id UUID REFERENCES refunds (id),
    DROP CONSTRAINT gateway_attempts_operation_check,
    ADD CONSTRAINT gateway_attempts_operation_check
        CHECK (operation IN ('charge', 'refund', 'charge_lookup', 'refund_lookup')),
    DROP CONSTRAINT gateway_attempts_outcome_check,
    ADD CONSTRAINT gateway_attempts_outcome_check
        CHECK (outcome IN ('succeeded', 'declined', 'error', 'not_found', 'undecided'));
CREATE INDEX gateway_attempts_refund ON gateway_attempts (refund_id, created_at)
    WHERE refund_id IS NOT NULL;

-- The simulated gateway's own records: the first answer to each gateway idempotency key. It stands
-- for the gateway's side, which outlives payment-service: payment code never reads it. In this
-- database for convenience (and so that replicas share it), never for the service's use.
CREATE TABLE simulated_gateway_ledger (
    key               TEXT          PRIMARY KEY,
    operation         TEXT          NOT NULL
                      CONSTRAINT simulated_gateway_ledger_operation_check CHECK (operation IN ('charge', 'refund')),
    outcome           TEXT          NOT NULL
                      CONSTRAINT simulated_gateway_ledger_outcome_check CHECK (outcome IN ('succeeded', 'declined')),
    reference         TEXT          NOT NULL,
    -- The decline code of a declined charge.
    reason            TEXT,
    amount            NUMERIC(12,2) NOT NULL,
    currency          TEXT          NOT NULL,
    -- A refund's charge.
    charge_reference  TEXT,
    created_at        TIMESTAMPTZ   NOT NULL DEFAULT now()
);
