-- Idempotency-Key storage (the contract's "idempotency" rule), shared by every service that
-- honours the header. One row per (caller, key): the first request inserts it "in flight",
-- finishing it stores the answer, which later requests with the same key and body replay.
CREATE TABLE idempotency_keys (
    caller              TEXT        NOT NULL,
    key                 TEXT        NOT NULL,
    -- SHA-256 of method, path and body: the same key with another request is refused.
    request_fingerprint BYTEA       NOT NULL,
    response_status     SMALLINT,
    response_body       BYTEA,
    response_content_type TEXT,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- When the in-flight claim was taken; a claim left by a crashed request can be taken over.
    locked_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at        TIMESTAMPTZ,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (caller, key),
    CONSTRAINT idempotency_keys_complete CHECK (
        (completed_at IS NULL) = (response_status IS NULL)
    )
);

-- For the purge of keys older than their retention.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
