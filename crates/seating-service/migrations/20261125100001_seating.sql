-- Seat availability. The invariant "no seat in two active holds, no seat sold twice" lives here:
--
-- * a seat row names at most one hold (`hold_id`, blocking others until `held_until`) and at most
--   one order (`sold_order_id`): two holds or two sales of one seat cannot even be written down;
-- * a hold claims seats with one conditional UPDATE that only matches seats that are free at that
--   instant (not sold, no unexpired hold), locking them with FOR UPDATE SKIP LOCKED so that a
--   competing claim skips them instead of waiting (see docs/architecture.md);
-- * allocation sells only seats that still point at the hold being allocated.

CREATE TABLE events (
    id            UUID        PRIMARY KEY,
    currency      TEXT        NOT NULL,
    status        TEXT        NOT NULL DEFAULT 'ON_SALE'
                  CONSTRAINT events_status_check CHECK (status IN ('ON_SALE', 'CANCELLED')),
    -- Seats not sold; kept in step by allocate/return under the event row's lock, so that the
    -- last sale (0) and the first return (0 -> 1) are seen by exactly one transaction.
    unsold        INT         NOT NULL DEFAULT 0 CONSTRAINT events_unsold_check CHECK (unsold >= 0),
    sold_out      BOOLEAN     NOT NULL DEFAULT FALSE,
    cancel_reason TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE holds (
    id          UUID        PRIMARY KEY,
    event_id    UUID        NOT NULL REFERENCES events (id),
    holder_id   UUID        NOT NULL,
    status      TEXT        NOT NULL
                CONSTRAINT holds_status_check CHECK (status IN ('ACTIVE', 'RELEASED', 'EXPIRED', 'ALLOCATED')),
    expires_at  TIMESTAMPTZ NOT NULL,
    order_id    UUID,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT holds_order_iff_allocated CHECK ((status = 'ALLOCATED') = (order_id IS NOT NULL))
);
-- The sweeper's work list.
CREATE INDEX holds_active_expiry ON holds (expires_at) WHERE status = 'ACTIVE';
CREATE INDEX holds_event ON holds (event_id);

CREATE TABLE seats (
    id            UUID          PRIMARY KEY,
    event_id      UUID          NOT NULL REFERENCES events (id),
    section       TEXT          NOT NULL,
    row           TEXT          NOT NULL,
    number        INT           NOT NULL,
    price         NUMERIC(12,2) NOT NULL CONSTRAINT seats_price_check CHECK (price >= 0),
    hold_id       UUID          REFERENCES holds (id),
    held_until    TIMESTAMPTZ,
    sold_order_id UUID,
    CONSTRAINT seats_place_key UNIQUE (event_id, section, row, number),
    CONSTRAINT seats_hold_complete CHECK ((hold_id IS NULL) = (held_until IS NULL)),
    CONSTRAINT seats_sold_not_held CHECK (sold_order_id IS NULL OR hold_id IS NULL)
);
CREATE INDEX seats_hold ON seats (hold_id) WHERE hold_id IS NOT NULL;
CREATE INDEX seats_sold_order ON seats (sold_order_id) WHERE sold_order_id IS NOT NULL;

-- The seats of each hold, with the price they had when held (history: kept after release).
CREATE TABLE hold_seats (
    hold_id UUID          NOT NULL REFERENCES holds (id),
    seat_id UUID          NOT NULL REFERENCES seats (id),
    price   NUMERIC(12,2) NOT NULL,
    CONSTRAINT hold_seats_pkey PRIMARY KEY (hold_id, seat_id)
);
