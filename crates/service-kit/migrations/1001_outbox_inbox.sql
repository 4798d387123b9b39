-- Messages between services (the contract's "Messages between services").
--
-- The producer writes a message to `outbox` in the same transaction as the change it reports,
-- with one `outbox_deliveries` row per subscriber. A relay delivers each row over HTTP until the
-- subscriber answers 2xx, in order per aggregate and subscriber. A consumer records each message
-- id in `inbox` in the same transaction as its handling, so a repeat is recognised and ignored.
CREATE TABLE outbox (
    -- Delivery order; ids (UUID v7) are only roughly ordered across processes.
    seq          BIGINT      GENERATED ALWAYS AS IDENTITY CONSTRAINT outbox_seq_key UNIQUE,
    id           UUID        PRIMARY KEY,
    type         TEXT        NOT NULL,
    aggregate_id TEXT        NOT NULL,
    -- The whole envelope as it is sent: {id, type, occurredAt, source, data}.
    envelope     JSONB       NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE outbox_deliveries (
    message_id       UUID        NOT NULL REFERENCES outbox (id),
    subscriber       TEXT        NOT NULL,
    attempts         INT         NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    first_attempt_at TIMESTAMPTZ,
    last_error       TEXT,
    delivered_at     TIMESTAMPTZ,
    -- Parked after attempts spanning the dead-letter age; re-queued by the service's
    -- `outbox requeue` command. Never deleted silently.
    dead_at          TIMESTAMPTZ,
    CONSTRAINT outbox_deliveries_pkey PRIMARY KEY (message_id, subscriber)
);
-- The relay's work list: pending deliveries only.
CREATE INDEX outbox_deliveries_pending ON outbox_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND dead_at IS NULL;
CREATE INDEX outbox_deliveries_subscriber_pending ON outbox_deliveries (subscriber)
    WHERE delivered_at IS NULL AND dead_at IS NULL;
CREATE INDEX outbox_aggregate ON outbox (aggregate_id, seq);

CREATE TABLE inbox (
    message_id   UUID        PRIMARY KEY,
    type         TEXT        NOT NULL,
    source       TEXT        NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
