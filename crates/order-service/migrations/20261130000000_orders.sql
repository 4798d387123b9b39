-- Orders, their seats and their tickets: the Buy Tickets saga.
--
-- An order moves through steps that each call another service (reserve seats, charge, allocate,
-- release, refund, return seats). Every step is written down (`step`, with a lease) before it is
-- taken and its outcome in the same statement that moves to the next, so a process killed
-- anywhere leaves a row that says what was under way; the recovery task finishes it. No
-- transaction is ever held across a call to another service.

CREATE TABLE orders (
    id                  UUID          PRIMARY KEY,
    user_id             UUID          NOT NULL,
    -- The buyer's Idempotency-Key of POST /v1/orders: a retry after a crash resumes this order.
    idempotency_key     TEXT          NOT NULL,
    event_id            UUID          NOT NULL,
    -- RESERVING is internal (the seats are being held); the API shows the other six.
    status              TEXT          NOT NULL CONSTRAINT orders_status_check CHECK (status IN (
                            'RESERVING', 'PENDING_PAYMENT', 'CONFIRMED', 'PAYMENT_FAILED',
                            'CANCELLED', 'EXPIRED', 'REFUNDED')),
    -- The step under way, if any, and the lease of whoever drives it (a request, or recovery
    -- once the lease is older than ORDER_STEP_LEASE_SECONDS).
    step                TEXT          CONSTRAINT orders_step_check CHECK (step IN (
                            'reserve', 'charge', 'allocate', 'release', 'refund', 'return')),
    lease               UUID,
    step_started_at     TIMESTAMPTZ,
    -- Where a compensation (release, refund, return) lands, and why it was started.
    outcome             TEXT          CONSTRAINT orders_outcome_check CHECK (outcome IN (
                            'PAYMENT_FAILED', 'CANCELLED', 'EXPIRED', 'REFUNDED')),
    compensation        TEXT,
    requested_seats     UUID[]        NOT NULL,
    hold_id             UUID,
    hold_expires_at     TIMESTAMPTZ,
    currency            TEXT,
    subtotal            NUMERIC(12,2),
    tax                 NUMERIC(12,2),
    total               NUMERIC(12,2),
    payment_id          UUID,
    -- SUCCESS, FAILED or REFUNDED: what payment-service last said; why a charge failed.
    payment_status      TEXT,
    payment_failure     TEXT,
    -- The card token of a charge under way, kept only until the charge is settled, so that a
    -- charge whose outcome is unknown can be repeated as the very same request.
    charge_token        TEXT,
    -- What the buyer's e-mails and the door need, as they were when the order was placed.
    buyer_email         TEXT          NOT NULL,
    buyer_name          TEXT          NOT NULL,
    event_title         TEXT          NOT NULL,
    event_starts_at     TIMESTAMPTZ   NOT NULL,
    venue_name          TEXT          NOT NULL,
    venue_city          TEXT          NOT NULL,
    organizer_id        UUID          NOT NULL,
    created_at          TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ   NOT NULL DEFAULT now(),
    CONSTRAINT orders_idempotency_key UNIQUE (user_id, idempotency_key),
    CONSTRAINT orders_step_leased CHECK ((step IS NULL) = (lease IS NULL)
                                         AND (step IS NULL) = (step_started_at IS NULL)),
    CONSTRAINT orders_held_once_reserved CHECK (
        status = 'RESERVING' OR (hold_id IS NOT NULL AND total IS NOT NULL)),
    CONSTRAINT orders_paid_when_confirmed CHECK (
        status NOT IN ('CONFIRMED', 'REFUNDED') OR payment_id IS NOT NULL),
    CONSTRAINT orders_totals_add_up CHECK (total IS NULL OR total = subtotal + tax)
);
CREATE INDEX orders_user ON orders (user_id, created_at DESC);
CREATE INDEX orders_event ON orders (event_id, status);
-- The expiry sweeper's work list, and the recovery task's.
CREATE INDEX orders_pending_expiry ON orders (hold_expires_at)
    WHERE status = 'PENDING_PAYMENT' AND step IS NULL;
CREATE INDEX orders_stalled ON orders (step_started_at) WHERE step IS NOT NULL;

-- The seats of an order, with seating's prices when they were held.
CREATE TABLE order_items (
    order_id UUID          NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    seat_id  UUID          NOT NULL,
    section  TEXT          NOT NULL,
    row      TEXT          NOT NULL,
    number   INT           NOT NULL,
    price    NUMERIC(12,2) NOT NULL,
    position INT           NOT NULL,
    CONSTRAINT order_items_pkey PRIMARY KEY (order_id, seat_id)
);

-- One ticket per seat of a confirmed order. The code is the bearer's secret (128 random bits);
-- `qr_payload` is the signed form a scanner verifies offline.
CREATE TABLE tickets (
    code        TEXT          PRIMARY KEY,
    order_id    UUID          NOT NULL REFERENCES orders (id),
    event_id    UUID          NOT NULL,
    seat_id     UUID          NOT NULL,
    section     TEXT          NOT NULL,
    row         TEXT          NOT NULL,
    number      INT           NOT NULL,
    price_paid  NUMERIC(12,2) NOT NULL,
    status      TEXT          NOT NULL CONSTRAINT tickets_status_check CHECK (status IN ('VALID', 'USED', 'VOID')),
    qr_payload  TEXT          NOT NULL,
    used_at     TIMESTAMPTZ,
    created_at  TIMESTAMPTZ   NOT NULL DEFAULT now(),
    CONSTRAINT tickets_one_per_seat_of_order UNIQUE (order_id, seat_id),
    CONSTRAINT tickets_used_at_check CHECK (status <> 'USED' OR used_at IS NOT NULL)
);
-- A seat has at most one live ticket: a seat sold again after a refund gets a new one, and the
-- old one is void.
CREATE UNIQUE INDEX tickets_one_live_per_seat ON tickets (event_id, seat_id)
    WHERE status IN ('VALID', 'USED');

-- The key that signs ticket payloads (when TICKET_SIGNING_KEY is not set).
CREATE TABLE ticket_signing_key (
    singleton       BOOLEAN     PRIMARY KEY DEFAULT TRUE CONSTRAINT ticket_signing_key_singleton CHECK (singleton),
    kid             TEXT        NOT NULL,
    private_key_pem TEXT        NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Events cancelled by catalog whose orders are being refunded or cancelled, in batches.
CREATE TABLE event_cancellations (
    event_id    UUID        PRIMARY KEY,
    reason      TEXT        NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ
);
CREATE INDEX event_cancellations_open ON event_cancellations (received_at) WHERE finished_at IS NULL;
