-- Payments, their refunds and every call to the gateway. The money rules live here, not only in
-- the application:
--
-- * an order has at most one live payment (PENDING, SUCCESS, or refunded): the partial unique
--   index `payments_one_success_per_order`; a FAILED (declined) payment frees the order;
-- * refunds never exceed the charge (`payments_refunded_within_amount`), and the status always
--   agrees with the refunded amount (`payments_status_matches_refunds`);
-- * nothing is ever deleted: every payment, refund and attempt is kept forever (triggers below).

CREATE TABLE payments (
    id                 UUID          PRIMARY KEY,
    order_id           UUID          NOT NULL,
    -- The user who pays. Always a user, never a service: from the token when a user pays, from
    -- the body's `userId` when a service (order-service) charges on a user's behalf. Hence a
    -- UUID that is never NULL; who *sent* the request is `idempotency_caller`.
    user_id            UUID          NOT NULL,
    -- The Idempotency-Key and its scope, the caller's token `sub` (a user id, or a service's
    -- client id): a retry of a charge whose gateway call failed finds its PENDING payment here.
    idempotency_caller TEXT          NOT NULL,
    idempotency_key    TEXT          NOT NULL,
    -- The kit's fingerprint of the whole request (token included, which is not stored): a retry
    -- with the key after a gateway error must be the same request, even when the kit no longer
    -- holds the key (a 5xx releases it).
    request_fingerprint BYTEA        NOT NULL,
    amount             NUMERIC(12,2) NOT NULL CONSTRAINT payments_amount_positive CHECK (amount > 0),
    refunded_amount    NUMERIC(12,2) NOT NULL DEFAULT 0
                       CONSTRAINT payments_refunded_within_amount
                       CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
    currency           TEXT          NOT NULL CONSTRAINT payments_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    method             TEXT          NOT NULL CONSTRAINT payments_method_check CHECK (method IN ('card')),
    status             TEXT          NOT NULL
                       CONSTRAINT payments_status_check
                       CHECK (status IN ('PENDING', 'SUCCESS', 'FAILED', 'PARTIALLY_REFUNDED', 'REFUNDED')),
    -- Which gateway took it (`simulated`, `stripe`), and its id for the charge there.
    gateway            TEXT          NOT NULL,
    gateway_reference  TEXT,
    -- The decline reason of a FAILED payment (`card_declined`, `insufficient_funds`, ...).
    failure_reason     TEXT,
    created_at         TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ   NOT NULL DEFAULT now(),
    CONSTRAINT payments_idempotency_key UNIQUE (idempotency_caller, idempotency_key),
    -- SUCCESS -> PARTIALLY_REFUNDED -> REFUNDED, with the amount to match at every step.
    CONSTRAINT payments_status_matches_refunds CHECK (
        CASE status
            WHEN 'REFUNDED' THEN refunded_amount = amount
            WHEN 'PARTIALLY_REFUNDED' THEN refunded_amount > 0 AND refunded_amount < amount
            ELSE refunded_amount = 0
        END
    ),
    CONSTRAINT payments_failure_reason_iff_failed CHECK ((status = 'FAILED') = (failure_reason IS NOT NULL)),
    -- Money that moved has a gateway reference, or it could not be refunded.
    CONSTRAINT payments_settled_has_reference CHECK (
        status IN ('PENDING', 'FAILED') OR gateway_reference IS NOT NULL
    )
);

-- At most one payment per order that is in progress or took the money. Named: the service maps
-- a violation to 409 `order-already-paid`.
CREATE UNIQUE INDEX payments_one_success_per_order ON payments (order_id)
    WHERE status IN ('PENDING', 'SUCCESS', 'PARTIALLY_REFUNDED', 'REFUNDED');
-- Reads: a payer's payments, an order's payments (failed ones too).
CREATE INDEX payments_user ON payments (user_id, created_at DESC);
CREATE INDEX payments_order ON payments (order_id, created_at DESC);

-- Refunds, in full or in part, each made once at the gateway.
CREATE TABLE refunds (
    id                 UUID          PRIMARY KEY,
    payment_id         UUID          NOT NULL REFERENCES payments (id),
    amount             NUMERIC(12,2) NOT NULL CONSTRAINT refunds_amount_positive CHECK (amount > 0),
    reason             TEXT          NOT NULL,
    gateway_reference  TEXT          NOT NULL,
    -- As for payments: a refund repeated with its key after its stored answer expired is found
    -- here instead of being counted twice.
    idempotency_caller TEXT          NOT NULL,
    idempotency_key    TEXT          NOT NULL,
    created_at         TIMESTAMPTZ   NOT NULL DEFAULT now(),
    CONSTRAINT refunds_idempotency_key UNIQUE (idempotency_caller, idempotency_key)
);
CREATE INDEX refunds_payment ON refunds (payment_id);

-- Every call to the gateway, whatever came of it, for audit and disputes. `request` holds what
-- was asked (method, amount, currency, gateway idempotency key), never the card token.
CREATE TABLE gateway_attempts (
    id                UUID        PRIMARY KEY,
    payment_id        UUID        NOT NULL REFERENCES payments (id),
    operation         TEXT        NOT NULL
                      CONSTRAINT gateway_attempts_operation_check CHECK (operation IN ('charge', 'refund')),
    gateway           TEXT        NOT NULL,
    request           JSONB       NOT NULL,
    outcome           TEXT        NOT NULL
                      CONSTRAINT gateway_attempts_outcome_check CHECK (outcome IN ('succeeded', 'declined', 'error')),
    gateway_reference TEXT,
    error             TEXT,
    latency_ms        BIGINT      NOT NULL CONSTRAINT gateway_attempts_latency_check CHECK (latency_ms >= 0),
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX gateway_attempts_payment ON gateway_attempts (payment_id, created_at);

-- Kept forever: the application has no DELETE, and the database refuses one from anywhere else.
CREATE FUNCTION refuse_to_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is kept forever: rows cannot be deleted', TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER payments_kept_forever BEFORE DELETE OR TRUNCATE ON payments
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_to_forget();
CREATE TRIGGER refunds_kept_forever BEFORE DELETE OR TRUNCATE ON refunds
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_to_forget();
CREATE TRIGGER gateway_attempts_kept_forever BEFORE DELETE OR TRUNCATE ON gateway_attempts
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_to_forget();
