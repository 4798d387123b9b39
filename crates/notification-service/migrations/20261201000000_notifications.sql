-- Notifications: one e-mail each, written down when the message that asks for it is received
-- (in the inbox's transaction), sent afterwards by the sender task from this row.
--
-- A row is PENDING until the mail server accepts the e-mail (SENT) or refuses it for good
-- (FAILED); both are final. The sender claims due rows with `FOR UPDATE SKIP LOCKED` in a short
-- transaction that also moves `next_attempt_at` past the send's lease, so no transaction is held
-- while the mail server is talked to, and a sender that dies mid-send leaves a row that falls due
-- again.
CREATE TABLE notifications (
    id              UUID        PRIMARY KEY,
    -- The message that asked for it: a message delivered twice makes one notification.
    message_id      UUID        NOT NULL CONSTRAINT notifications_message_id UNIQUE,
    type            TEXT        NOT NULL CONSTRAINT notifications_type_check CHECK (type IN (
                        'order.confirmed', 'order.cancelled', 'order.expired', 'order.refunded')),
    channel         TEXT        NOT NULL DEFAULT 'email' CONSTRAINT notifications_channel_check
                        CHECK (channel = 'email'),
    user_id         UUID        NOT NULL,
    order_id        UUID        NOT NULL,
    -- The buyer's address, and the subject rendered when the message arrived.
    recipient       TEXT        NOT NULL,
    subject         TEXT        NOT NULL,
    -- The message's data as it arrived (the contract's order notice): the body is rendered from
    -- it at send time.
    data            JSONB       NOT NULL,
    status          TEXT        NOT NULL DEFAULT 'PENDING' CONSTRAINT notifications_status_check
                        CHECK (status IN ('PENDING', 'SENT', 'FAILED')),
    -- Attempts begun (counted when claimed, so a send cut short by a crash counts too).
    attempts        INT         NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The last failure: the server's reason of a FAILED notification, or the transient error
    -- a PENDING one is waiting out.
    last_error      TEXT,
    sent_at         TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- One e-mail of each kind per order, even if a producer sent the same notice twice under two
    -- message ids: an order is confirmed, cancelled, expired or refunded at most once.
    CONSTRAINT notifications_one_per_order_and_type UNIQUE (order_id, type),
    CONSTRAINT notifications_sent_at_check CHECK ((status = 'SENT') = (sent_at IS NOT NULL)),
    CONSTRAINT notifications_failed_has_reason CHECK (status <> 'FAILED' OR last_error IS NOT NULL)
);

-- The sender's work list: pending rows by when they fall due.
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'PENDING';
-- The pending gauge's oldest row.
CREATE INDEX notifications_pending_created ON notifications (created_at) WHERE status = 'PENDING';
-- The lists: a user's notifications, an order's.
CREATE INDEX notifications_user ON notifications (user_id, created_at DESC, id DESC);
CREATE INDEX notifications_order ON notifications (order_id, created_at DESC, id DESC);
